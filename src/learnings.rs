//! `LEARNINGS.md` at the repository root: the project's dated lessons, one `## ` entry each,
//! oldest first, appended by `gate learn` and read back by `gate learn --list`.
//!
//! Several agents may learn at once, so an entry is appended with a single `write` on an
//! `O_APPEND` descriptor while holding an exclusive lock on the file. The bytes already in the
//! file are never rewritten: at most a newline is added before the new heading so that it
//! starts a line of its own.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub const FILE_NAME: &str = "LEARNINGS.md";

/// What a new file starts with.
pub const HEADER: &str = "# Learnings\n\nLessons recorded with `gate learn`, oldest first.\n\n";

/// The heading's word for an entry recorded outside any feature.
const NO_FEATURE: &str = "no feature";

/// Between the time and the branch in a heading.
const SEPARATOR: &str = " — ";

/// One lesson: `## YYYY-MM-DD HH:MM — <branch> (<feature>)`, then its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Local time when it was recorded, `YYYY-MM-DD HH:MM`.
    pub date: String,
    /// The branch, or `detached at <commit>`.
    pub branch: String,
    /// `None` when no feature applied.
    pub feature: Option<String>,
    pub text: String,
}

impl Entry {
    /// The entry as it is appended: heading, text, blank line. The text is trimmed and its
    /// line endings made `\n`.
    pub fn render(&self) -> String {
        let feature = self.feature.as_deref().unwrap_or(NO_FEATURE);
        format!(
            "## {}{SEPARATOR}{} ({feature})\n{}\n\n",
            self.date,
            self.branch,
            normalise(&self.text)
        )
    }
}

/// `text` with `\r\n` made `\n`, trailing spaces and surrounding blank lines removed.
pub fn normalise(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |i| i + 1);
    lines[start..end].join("\n")
}

#[derive(Debug, thiserror::Error)]
#[error("cannot {what} {}", path.display())]
pub struct LearnError {
    what: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Appends `entry` to the file at `path`, creating it with [`HEADER`] when absent or empty.
pub fn append(path: &Path, entry: &Entry) -> Result<(), LearnError> {
    let err = |what| {
        move |source| LearnError {
            what,
            path: path.to_owned(),
            source,
        }
    };
    let mut file = OpenOptions::new()
        .read(true)
        .create(true)
        .append(true)
        .open(path)
        .map_err(err("open"))?;
    file.lock().map_err(err("lock"))?;
    let len = file.metadata().map_err(err("read"))?.len();
    let mut out = String::new();
    if len == 0 {
        out.push_str(HEADER);
    } else {
        let mut tail = [0u8; 2];
        let n = len.min(2) as usize;
        file.read_exact_at(&mut tail[..n], len - n as u64)
            .map_err(err("read"))?;
        out.push_str(separator_after(&tail[..n]));
    }
    out.push_str(&entry.render());
    file.write_all(out.as_bytes()).map_err(err("append to"))
}

/// What goes between existing content ending in `tail` and a new heading: enough newlines
/// for a blank line before it.
fn separator_after(tail: &[u8]) -> &'static str {
    match tail {
        [.., b'\n', b'\n'] => "",
        [b'\n'] => "",
        [.., b'\n'] => "\n",
        _ => "\n\n",
    }
}

/// The entries of the file at `path`, oldest first; none when it does not exist.
pub fn read(path: &Path) -> Result<Vec<Entry>, LearnError> {
    if let Err(source) = crate::confine::is_regular(path) {
        return Err(LearnError {
            what: "read",
            path: path.to_owned(),
            source,
        });
    }
    match std::fs::read(path) {
        Ok(bytes) => Ok(parse(&String::from_utf8_lossy(&bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(LearnError {
            what: "read",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Parses entries back from their headings. Text before the first heading (the file's own
/// header) is not an entry; a `## ` line that is not an entry heading is part of the text.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut body: Vec<&str> = Vec::new();
    let finish = |entries: &mut Vec<Entry>, body: &mut Vec<&str>| {
        if let Some(last) = entries.last_mut() {
            last.text = normalise(&body.join("\n"));
        }
        body.clear();
    };
    for line in text.lines() {
        if let Some((date, branch, feature)) = parse_heading(line) {
            finish(&mut entries, &mut body);
            entries.push(Entry {
                date,
                branch,
                feature,
                text: String::new(),
            });
        } else if !entries.is_empty() {
            body.push(line);
        }
    }
    finish(&mut entries, &mut body);
    entries
}

/// `## 2025-01-02 03:04 — feature/001-x (001-x)` -> its date, branch and feature.
fn parse_heading(line: &str) -> Option<(String, String, Option<String>)> {
    let rest = line.strip_prefix("## ")?;
    let date = rest.get(..16)?;
    let shape = date.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b' ',
        13 => b == b':',
        _ => b.is_ascii_digit(),
    });
    if !shape {
        return None;
    }
    let rest = rest[16..].strip_prefix(SEPARATOR)?.trim_end();
    let (branch, feature) = rest.strip_suffix(')')?.rsplit_once(" (")?;
    let feature = (feature != NO_FEATURE).then(|| feature.to_owned());
    Some((date.to_owned(), branch.to_owned(), feature))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(feature: Option<&str>, text: &str) -> Entry {
        Entry {
            date: "2025-01-02 03:04".into(),
            branch: "feature/001-auth".into(),
            feature: feature.map(str::to_owned),
            text: text.into(),
        }
    }

    #[test]
    fn render_then_parse_round_trips() {
        let a = entry(Some("001-auth"), "Auth tests need a running Redis");
        let b = Entry {
            branch: "detached at 0123456789".into(),
            ..entry(None, "two\nlines\n## not a heading")
        };
        let text = format!("{HEADER}{}{}", a.render(), b.render());
        assert!(text.contains("## 2025-01-02 03:04 — feature/001-auth (001-auth)\nAuth"));
        assert_eq!(parse(&text), vec![a, b]);
    }

    #[test]
    fn text_is_trimmed_and_crlf_normalised() {
        assert_eq!(normalise("\n\n  a  \r\nb\r\n\n"), "  a\nb");
        assert_eq!(normalise(""), "");
    }

    #[test]
    fn headings_need_the_exact_shape() {
        assert!(parse_heading("## 2025-01-02 03:04 — main (no feature)").is_some());
        for bad in [
            "## 2025-01-02 03:04 - main (x)",
            "## 2025-1-02 03:04 — main (x)",
            "## 2025-01-02 03:04 — main",
            "# 2025-01-02 03:04 — main (x)",
            "## 2025-01-02",
        ] {
            assert!(parse_heading(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn appending_keeps_existing_bytes_and_separates_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "my notes, no newline").unwrap();
        append(&path, &entry(None, "first")).unwrap();
        append(&path, &entry(None, "second")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("my notes, no newline\n\n## "), "{text}");
        assert_eq!(
            parse(&text)
                .iter()
                .map(|e| e.text.as_str())
                .collect::<Vec<_>>(),
            ["first", "second"]
        );
    }

    #[test]
    fn separators() {
        assert_eq!(separator_after(b"\n"), "");
        assert_eq!(separator_after(b"x\n"), "\n");
        assert_eq!(separator_after(b"\n\n"), "");
        assert_eq!(separator_after(b"xx"), "\n\n");
    }
}
