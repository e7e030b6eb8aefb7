//! Human units in config and arguments: durations like `90s`, `30m`, `2h` and sizes like `50MB`.
//!
//! Both keep the text the user wrote, so `gate config` shows `30m` rather than `1800s`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A positive duration written for people: `90s`, `30m`, `2h`, `1h 30m`. Two durations are
/// equal when they last as long, however they were written.
#[derive(Debug, Clone)]
pub struct HumanDuration {
    text: String,
    value: Duration,
}

impl HumanDuration {
    pub fn from_secs(secs: u64) -> Self {
        let text = match secs {
            s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
            s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        };
        Self {
            text,
            value: Duration::from_secs(secs),
        }
    }

    pub fn get(&self) -> Duration {
        self.value
    }

    pub fn as_secs(&self) -> u64 {
        self.value.as_secs()
    }
}

impl PartialEq for HumanDuration {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for HumanDuration {}

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid duration {text:?}: write a number with a unit, e.g. \"90s\", \"30m\", \"2h\""
            )
        };
        let parsed: jiff::SignedDuration = text.trim().parse().map_err(|_| bad())?;
        if parsed.is_negative() || parsed.is_zero() {
            return Err(format!("duration {text:?} must be greater than zero"));
        }
        let value = Duration::try_from(parsed).map_err(|_| bad())?;
        Ok(Self {
            text: text.trim().to_owned(),
            value,
        })
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A byte count written for people: `500KB`, `50MB`, `1GiB`, or a bare number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

const SIZE_UNITS: [(&str, u64); 9] = [
    ("b", 1),
    ("kb", 1000),
    ("mb", 1000 * 1000),
    ("gb", 1000 * 1000 * 1000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("k", 1000),
    ("m", 1000 * 1000),
];

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid size {text:?}: write a number with a unit, e.g. \"500KB\", \"50MB\", \"1GiB\""
            )
        };
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let number: u64 = number.parse().map_err(|_| bad())?;
        let unit = unit.trim().to_ascii_lowercase();
        let factor = if unit.is_empty() {
            1
        } else {
            SIZE_UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .map(|(_, f)| *f)
                .ok_or_else(bad)?
        };
        number.checked_mul(factor).map(ByteSize).ok_or_else(bad)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        match n {
            n if n >= 1_000_000_000 && n % 1_000_000_000 == 0 => {
                write!(f, "{}GB", n / 1_000_000_000)
            }
            n if n >= 1_000_000 && n % 1_000_000 == 0 => write!(f, "{}MB", n / 1_000_000),
            n if n >= 1 << 20 && n % (1 << 20) == 0 => write!(f, "{}MiB", n >> 20),
            n if n >= 1000 && n % 1000 == 0 => write!(f, "{}KB", n / 1000),
            n => write!(f, "{n}B"),
        }
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => Ok(ByteSize(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, secs) in [("90s", 90), ("30m", 1800), ("2h", 7200), ("1h 30m", 5400)] {
            assert_eq!(
                text.parse::<HumanDuration>().unwrap().as_secs(),
                secs,
                "{text}"
            );
        }
        for bad in ["", "soon", "-5m", "0s", "30"] {
            assert!(bad.parse::<HumanDuration>().is_err(), "{bad}");
        }
        assert_eq!(HumanDuration::from_secs(1800).to_string(), "30m");
    }

    #[test]
    fn sizes() {
        for (text, n) in [
            ("50MB", 50_000_000),
            ("1MiB", 1 << 20),
            ("512", 512),
            ("2 kb", 2000),
        ] {
            assert_eq!(text.parse::<ByteSize>().unwrap().0, n, "{text}");
        }
        for bad in ["", "MB", "5 parsecs", "99999999999999999999GB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
        assert_eq!(ByteSize(50_000_000).to_string(), "50MB");
    }
}
