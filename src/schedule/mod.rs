//! Scheduled check-ins, `<git common dir>/gate/schedule.json`: what is due, when, and where.
//!
//! Invariants: the file is only ever replaced whole (temp file + rename), and every
//! read-modify-write holds an exclusive lock on `schedule.lock` beside it, so two `gate
//! schedule` calls and the watcher never lose each other's entries. A file that cannot be read
//! as a schedule is moved aside to `schedule.json.corrupt-<time>` and reported, never emptied
//! in place. Ids are never reused (`next_id` only grows).
//!
//! Delivery is at-most-once per occurrence: the watcher marks an entry `delivering` (counting
//! the attempt) before it types anything, and records `checkin-delivered` (or
//! `checkin-escalated`) in the event log before it removes or advances the entry. An entry
//! found `delivering` after a crash is delivered again only if the log has neither event for
//! its occurrence key ([`Checkin::key`]).

mod store;

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::events::Event;
use crate::units::HumanDuration;

pub use store::{Quarantined, ScheduleError, Store};

pub const FILE_NAME: &str = "schedule.json";
/// The format version written; a newer one is refused rather than rewritten by an older gate.
pub const VERSION: u32 = 1;
/// A check-in delivered this much after it was due is marked late (how late, in the message).
pub const LATE_AFTER: Duration = Duration::from_secs(5);

// Unknown fields are ignored rather than refused: a file from a newer gate with an added field
// must not be taken for a corrupt one and moved aside. Incompatible changes bump `version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub version: u32,
    /// The id the next check-in gets.
    pub next_id: u64,
    pub checkins: Vec<Checkin>,
}

/// One scheduled check-in. Field names are a public interface (`gate schedule list --json`
/// shows them): add, never rename.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkin {
    pub id: u64,
    /// When it is due (this occurrence, for a recurring one). RFC 3339, UTC.
    #[serde(with = "rfc3339")]
    pub due: Timestamp,
    /// What delivery resolves (exactly) when the pane below is gone: `session:window.pane` of
    /// the pane it was scheduled from, or `--target` as given.
    pub target: String,
    /// The pane id (`%N`) the target resolved to when scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pane: Option<String>,
    /// The pid of that pane's process: a pane id with another pid is another pane (the tmux
    /// server restarted and reuses ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pane_pid: Option<u32>,
    /// The tmux server's socket, so the watcher delivers on the same server whatever its own
    /// environment says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<PathBuf>,
    pub note: String,
    /// Who scheduled it: the pane `gate schedule` ran in, or `outside tmux`.
    pub origin: String,
    #[serde(with = "rfc3339")]
    pub created: Timestamp,
    /// Recurring: the next occurrence is this long after the previous one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<HumanDuration>,
    /// Delivery attempts made for this occurrence.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub state: State,
    /// After a failed attempt: not before this time.
    #[serde(default, with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Pending,
    /// An attempt started (and may have typed the message) but its outcome was not recorded.
    Delivering,
}

impl Checkin {
    /// When the next attempt may happen.
    pub fn next_attempt(&self) -> Timestamp {
        self.retry_at.map_or(self.due, |r| r.max(self.due))
    }

    /// Names this occurrence in the event log: `checkin 3 due 2025-01-02T03:04:05Z`.
    pub fn key(&self) -> String {
        format!("checkin {} due {}", self.id, self.due)
    }
}

impl Schedule {
    /// No check-ins, at the current format version.
    pub fn empty() -> Schedule {
        Schedule {
            version: VERSION,
            next_id: 1,
            checkins: Vec::new(),
        }
    }

    pub fn get(&self, id: u64) -> Option<&Checkin> {
        self.checkins.iter().find(|c| c.id == id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Checkin> {
        self.checkins.iter_mut().find(|c| c.id == id)
    }

    pub fn remove(&mut self, id: u64) -> Option<Checkin> {
        let at = self.checkins.iter().position(|c| c.id == id)?;
        Some(self.checkins.remove(at))
    }

    /// Adds `checkin` under a fresh id, which is returned.
    pub fn add(&mut self, mut checkin: Checkin) -> u64 {
        let id = self
            .next_id
            .max(self.checkins.iter().map(|c| c.id + 1).max().unwrap_or(1))
            .max(1);
        checkin.id = id;
        self.next_id = id + 1;
        self.checkins.push(checkin);
        id
    }

    /// The earliest next attempt among the entries `skip` does not exclude.
    pub fn next_due(&self, skip: impl Fn(u64) -> bool) -> Option<Timestamp> {
        self.checkins
            .iter()
            .filter(|c| !skip(c.id))
            .map(Checkin::next_attempt)
            .min()
    }

    /// Ends this occurrence of `id`: a recurring check-in moves on to its next occurrence
    /// after `now` (missed ones are not delivered in a burst), any other is removed.
    pub fn settle(&mut self, id: u64, now: Timestamp) {
        let Some(c) = self.get_mut(id) else {
            return;
        };
        match c.every.as_ref().map(HumanDuration::get) {
            Some(every) => {
                c.due = next_occurrence(c.due, every, now);
                c.attempts = 0;
                c.state = State::Pending;
                c.retry_at = None;
                c.last_error = None;
            }
            None => {
                self.remove(id);
            }
        }
    }
}

/// The first `due + k * every` (k ≥ 1) after `now`.
pub fn next_occurrence(due: Timestamp, every: Duration, now: Timestamp) -> Timestamp {
    let step = every.as_secs().max(1) as i64;
    let behind = now.as_second() - due.as_second();
    let k = if behind < 0 { 1 } else { behind / step + 1 };
    Timestamp::from_second(due.as_second().saturating_add(k.saturating_mul(step)))
        .unwrap_or(Timestamp::MAX)
}

/// The wait before attempt `attempts + 1`, after `attempts` failed: `base`, then doubling.
pub fn backoff(attempts: u32, base: Duration) -> Duration {
    base.saturating_mul(1 << attempts.saturating_sub(1).min(16))
}

/// How late a delivery at `now` is, when it counts as late at all ([`LATE_AFTER`]).
pub fn lateness(due: Timestamp, now: Timestamp) -> Option<Duration> {
    let late = Duration::try_from(now.duration_since(due)).ok()?;
    (late >= LATE_AFTER).then_some(late)
}

/// `45s`, `3m 12s`, `2h 3m`, `1d 4h`: two units at most, for people.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 if s.is_multiple_of(60) => format!("{}m", s / 60),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}

/// `WHEN` of `gate schedule`: a bare number of minutes (`30`), or a duration (`90s`, `2h`).
pub fn parse_when(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        let minutes: u64 = text
            .parse()
            .map_err(|_| format!("{text} minutes is too long"))?;
        if minutes == 0 {
            return Err("WHEN must be greater than zero".into());
        }
        return Ok(Duration::from_secs(minutes.saturating_mul(60)));
    }
    text.parse::<HumanDuration>().map(|d| d.get()).map_err(|_| {
        format!("invalid WHEN {text:?}: write minutes (30) or a duration (90s, 15m, 2h)")
    })
}

/// The moment `after` from `now`, rounded up to a whole second (never early).
pub fn due_in(now: Timestamp, after: Duration) -> Timestamp {
    let ms = now.as_millisecond() as i128 + after.as_millis() as i128;
    let secs = (ms + 999).div_euclid(1000);
    Timestamp::from_second(i64::try_from(secs).unwrap_or(i64::MAX)).unwrap_or(Timestamp::MAX)
}

/// Has this occurrence already reached its end (delivered, or escalated) per the event log?
pub fn settled_in(events: &[Event], checkin: &Checkin) -> bool {
    let key = checkin.key();
    events.iter().any(|e| {
        matches!(e.kind.as_str(), "checkin-delivered" | "checkin-escalated")
            && e.detail
                .strip_prefix(&key)
                .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// Timestamps as RFC 3339 text (jiff is built without its serde feature).
mod rfc3339 {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(|e| {
            serde::de::Error::custom(format!("invalid time {text:?} ({e}); expected RFC 3339"))
        })
    }
}

mod rfc3339_opt {
    use jiff::Timestamp;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        super::rfc3339::deserialize(d).map(Some)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    pub(crate) fn checkin(due: &str) -> Checkin {
        Checkin {
            id: 0,
            due: at(due),
            target: "eng:1.0".into(),
            pane: Some("%3".into()),
            pane_pid: Some(42),
            socket: None,
            note: "Review tests".into(),
            origin: "pm:0.0 (%1)".into(),
            created: at("2025-01-02T03:00:00Z"),
            every: None,
            attempts: 0,
            state: State::Pending,
            retry_at: None,
            last_error: None,
        }
    }

    #[test]
    fn when_is_minutes_or_a_duration() {
        assert_eq!(parse_when("30"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_when("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_when("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_when("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["0", "", "soon", "-5", "5 parsecs"] {
            assert!(parse_when(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn due_times_round_up_to_the_second() {
        let now = at("2025-01-02T03:04:05.2Z");
        assert_eq!(
            due_in(now, Duration::from_secs(2)),
            at("2025-01-02T03:04:08Z")
        );
        assert_eq!(
            due_in(at("2025-01-02T03:04:05Z"), Duration::from_secs(60)),
            at("2025-01-02T03:05:05Z")
        );
    }

    #[test]
    fn ids_are_never_reused() {
        let mut s = Schedule::empty();
        assert_eq!(s.add(checkin("2025-01-02T04:00:00Z")), 1);
        assert_eq!(s.add(checkin("2025-01-02T04:00:00Z")), 2);
        s.remove(2);
        assert_eq!(s.add(checkin("2025-01-02T04:00:00Z")), 3);
        // A hand-edited file with a stale next_id still gets a fresh id.
        s.next_id = 1;
        assert_eq!(s.add(checkin("2025-01-02T04:00:00Z")), 4);
    }

    #[test]
    fn settle_removes_or_advances_past_missed_occurrences() {
        let mut s = Schedule::empty();
        let id = s.add(checkin("2025-01-02T04:00:00Z"));
        let mut every = checkin("2025-01-02T04:00:00Z");
        every.every = Some("1h".parse().unwrap());
        every.attempts = 2;
        every.state = State::Delivering;
        let rid = s.add(every);
        let now = at("2025-01-02T06:30:00Z");
        s.settle(id, now);
        s.settle(rid, now);
        assert!(s.get(id).is_none());
        let r = s.get(rid).unwrap();
        assert_eq!(r.due, at("2025-01-02T07:00:00Z"));
        assert_eq!((r.attempts, r.state), (0, State::Pending));
        assert_eq!(
            next_occurrence(
                at("2025-01-02T04:00:00Z"),
                Duration::from_secs(3600),
                at("2025-01-02T03:00:00Z")
            ),
            at("2025-01-02T05:00:00Z")
        );
    }

    #[test]
    fn retries_back_off_and_count_in_next_due() {
        let base = Duration::from_secs(60);
        assert_eq!(backoff(1, base), base);
        assert_eq!(backoff(2, base), base * 2);
        assert_eq!(backoff(3, base), base * 4);
        let mut s = Schedule::empty();
        let a = s.add(checkin("2025-01-02T04:00:00Z"));
        let b = s.add(checkin("2025-01-02T05:00:00Z"));
        s.get_mut(a).unwrap().retry_at = Some(at("2025-01-02T06:00:00Z"));
        assert_eq!(s.next_due(|_| false), Some(at("2025-01-02T05:00:00Z")));
        assert_eq!(s.next_due(|id| id == b), Some(at("2025-01-02T06:00:00Z")));
        assert_eq!(s.next_due(|_| true), None);
    }

    #[test]
    fn lateness_and_human_durations() {
        let due = at("2025-01-02T04:00:00Z");
        assert_eq!(lateness(due, at("2025-01-02T04:00:04Z")), None);
        assert_eq!(lateness(due, at("2025-01-02T03:00:00Z")), None);
        let late = lateness(due, at("2025-01-02T06:03:30Z")).unwrap();
        assert_eq!(human(late), "2h 3m");
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::from_secs(192)), "3m 12s");
        assert_eq!(human(Duration::from_secs(600)), "10m");
        assert_eq!(human(Duration::from_secs(100_000)), "1d 3h");
    }

    #[test]
    fn the_log_settles_an_occurrence_by_its_key() {
        let mut c = checkin("2025-01-02T04:00:00Z");
        c.id = 7;
        let event = |kind: &str, detail: String| {
            let mut e = Event::now(kind);
            e.detail = detail;
            e
        };
        let other = event(
            "checkin-delivered",
            "checkin 77 due 2025-01-02T04:00:00Z: x".into(),
        );
        let failed = event("checkin-failed", format!("{}: target gone", c.key()));
        assert!(!settled_in(&[other.clone(), failed], &c));
        let done = event(
            "checkin-delivered",
            format!("{}: delivered to eng:1.0", c.key()),
        );
        assert!(settled_in(&[other, done], &c));
        // The next occurrence of a recurring check-in is a different key.
        c.due = at("2025-01-02T05:00:00Z");
        let done = event(
            "checkin-escalated",
            "checkin 7 due 2025-01-02T04:00:00Z: x".into(),
        );
        assert!(!settled_in(&[done], &c));
    }
}
