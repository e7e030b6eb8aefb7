//! The append-only event log, `<git common dir>/gate/events.jsonl`: one JSON object per line.
//!
//! Hooks in several worktrees and the watcher append at once, so each event is written with a
//! single `write` on an `O_APPEND` descriptor while holding an exclusive lock on the file: no
//! torn or interleaved lines. Readers skip (and report) lines they cannot parse.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "events.jsonl";

/// One thing that happened. Optional fields are omitted when empty; fields are only added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// RFC 3339 time with offset.
    pub time: String,
    /// `blocked`, `skipped`, `commit`, `checkout`, `merge`, `push-blocked`, ...
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl Event {
    /// An event of `kind` stamped with the current time.
    pub fn now(kind: &str) -> Event {
        Event {
            time: jiff::Zoned::now()
                .timestamp()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
            kind: kind.into(),
            code: None,
            branch: None,
            paths: Vec::new(),
            commit: None,
            detail: String::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot {what} {}", path.display())]
pub struct LogError {
    what: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// A line that could not be read as an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub error: String,
}

pub struct EventLog {
    path: PathBuf,
}

impl EventLog {
    /// The log in gate's state directory (created on first append).
    pub fn in_dir(state_dir: &Path) -> EventLog {
        EventLog {
            path: state_dir.join(FILE_NAME),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&self, event: &Event) -> Result<(), LogError> {
        let err = |what, source| LogError {
            what,
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err("create the directory of", e))?;
        }
        let mut line = serde_json::to_vec(event).expect("events always serialise");
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .read(true)
            .create(true)
            .append(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.path)
            .map_err(|e| err("open", e))?;
        if !file.metadata().map_err(|e| err("read", e))?.is_file() {
            let why =
                std::io::Error::other("not a regular file: move it away and gate starts a new log");
            return Err(err("append to", why));
        }
        file.lock().map_err(|e| err("lock", e))?;
        // A log cut short mid-line (a full disk, a copy, a crash elsewhere) must not swallow
        // this event too: it starts on a line of its own, the torn one stays as it was.
        let len = file.metadata().map_err(|e| err("read", e))?.len();
        let mut last = [b'\n'];
        if len > 0 {
            use std::os::unix::fs::FileExt;
            file.read_exact_at(&mut last, len - 1)
                .map_err(|e| err("read", e))?;
        }
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
        file.write_all(&line).map_err(|e| err("append to", e))
    }

    /// Every readable event in order, and the lines that were not events.
    pub fn read(&self) -> Result<(Vec<Event>, Vec<BadLine>), LogError> {
        let file = match crate::statefile::open(&self.path, false) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok((vec![], vec![])),
            Err(e) => {
                return Err(LogError {
                    what: "read",
                    path: self.path.clone(),
                    source: std::io::Error::other(e.to_string()),
                });
            }
        };
        let mut events = Vec::new();
        let mut bad = Vec::new();
        for (i, line) in BufReader::new(file).split(b'\n').enumerate() {
            let line = line.map_err(|source| LogError {
                what: "read",
                path: self.path.clone(),
                source,
            })?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Event>(&line) {
                Ok(e) => events.push(e),
                Err(e) => bad.push(BadLine {
                    line: i + 1,
                    error: e.to_string(),
                }),
            }
        }
        Ok((events, bad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_and_read_back_skipping_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::in_dir(&dir.path().join("gate"));
        let mut e = Event::now("blocked");
        e.code = Some("feature-branch".into());
        e.paths = vec!["src/a.rs".into()];
        log.append(&e).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{\"time\": \"x\", \"ki\n")
            .unwrap();
        log.append(&Event::now("commit")).unwrap();
        let (events, bad) = log.read().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0], e);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 2);
    }

    #[test]
    fn concurrent_appenders_never_tear_lines() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("gate");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let state = state.clone();
                std::thread::spawn(move || {
                    let log = EventLog::in_dir(&state);
                    for i in 0..200 {
                        let mut e = Event::now("commit");
                        e.detail = format!("{t}-{i}-{}", "x".repeat(5000));
                        log.append(&e).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (events, bad) = EventLog::in_dir(&state).read().unwrap();
        assert_eq!((events.len(), bad.len()), (1600, 0));
    }
}
