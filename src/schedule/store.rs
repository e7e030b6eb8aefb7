//! `schedule.json` on disk: read without side effects, or changed under an exclusive lock on
//! `schedule.lock` (the data file itself is replaced by rename, so it cannot carry the lock)
//! and written whole through a temp file. A corrupt file is moved aside, never emptied.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::{FILE_NAME, Schedule, VERSION};

const LOCK_NAME: &str = "schedule.lock";

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("cannot {what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} was written by a newer gate (format version {version}); upgrade gate", path.display())]
    Newer { path: PathBuf, version: u32 },
    #[error("{} is not a valid schedule: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
}

/// A corrupt schedule file, moved aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub path: PathBuf,
    pub moved_to: PathBuf,
    pub error: String,
}

impl std::fmt::Display for Quarantined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} was not a valid schedule ({}); it was moved aside to {} and the schedule starts empty",
            self.path.display(),
            self.error,
            self.moved_to.display()
        )
    }
}

/// The schedule file of one repository's state directory.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
    lock: PathBuf,
}

impl Store {
    pub fn in_dir(state_dir: &Path) -> Store {
        Store {
            path: state_dir.join(FILE_NAME),
            lock: state_dir.join(LOCK_NAME),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schedule as it is now, without a lock and without side effects (for `gate status`
    /// and the watcher's wake-ups). Missing means empty; corrupt is [`ScheduleError::Corrupt`].
    pub fn read(&self) -> Result<Schedule, ScheduleError> {
        let bytes = match crate::statefile::read(&self.path) {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(Schedule::empty()),
            Err(e) => return Err(self.io("read", std::io::Error::other(e.to_string()))),
        };
        let schedule = parse(&self.path, &bytes)?;
        if schedule.version > VERSION {
            return Err(ScheduleError::Newer {
                path: self.path.clone(),
                version: schedule.version,
            });
        }
        Ok(schedule)
    }

    /// Reads, changes and saves the schedule under the exclusive lock. `change` returns
    /// whether it changed anything (nothing is written otherwise) and a value for the caller.
    /// A corrupt file is moved aside first and reported in the result.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut Schedule) -> (bool, T),
    ) -> Result<(T, Option<Quarantined>), ScheduleError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.io("create the directory of", e))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.lock)
            .map_err(|e| io("open", &self.lock, e))?;
        if !lock.metadata().is_ok_and(|m| m.is_file()) {
            let why = std::io::Error::other("not a regular file: move it away");
            return Err(io("open", &self.lock, why));
        }
        lock.lock().map_err(|e| io("lock", &self.lock, e))?;
        let (mut schedule, quarantined) = match self.read() {
            Ok(s) => (s, None),
            Err(ScheduleError::Corrupt { message, .. }) => {
                let moved_to = self.quarantine()?;
                let q = Quarantined {
                    path: self.path.clone(),
                    moved_to,
                    error: message,
                };
                (Schedule::empty(), Some(q))
            }
            Err(e) => return Err(e),
        };
        let (changed, value) = change(&mut schedule);
        if changed || quarantined.is_some() {
            self.save(&schedule)?;
        }
        Ok((value, quarantined))
    }

    /// Like [`Store::read`], but a corrupt file is moved aside (under the lock) and reported.
    pub fn load(&self) -> Result<(Schedule, Option<Quarantined>), ScheduleError> {
        match self.read() {
            Err(ScheduleError::Corrupt { .. }) => self.update(|s| (false, s.clone())),
            other => other.map(|s| (s, None)),
        }
    }

    /// Called under the lock only, so the fixed temp name of `replace_file` is safe, and a
    /// SIGKILL mid-write leaves at most that one file, reused next time.
    fn save(&self, schedule: &Schedule) -> Result<(), ScheduleError> {
        let mut bytes = serde_json::to_vec_pretty(schedule).expect("a schedule always serialises");
        bytes.push(b'\n');
        crate::watch::daemon::replace_file(&self.path, &bytes).map_err(|e| self.io("replace", e))
    }

    /// Renames the file to `schedule.json.corrupt-<UTC time>` (a free name).
    fn quarantine(&self) -> Result<PathBuf, ScheduleError> {
        let stamp = Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
        let base = format!("{}.corrupt-{stamp}", self.path.display());
        let target = std::iter::once(PathBuf::from(&base))
            .chain((1..).map(|n| PathBuf::from(format!("{base}-{n}"))))
            .find(|p| p.symlink_metadata().is_err())
            .expect("a free name exists");
        std::fs::rename(&self.path, &target).map_err(|e| self.io("move aside", e))?;
        Ok(target)
    }

    fn io(&self, what: &'static str, source: std::io::Error) -> ScheduleError {
        io(what, &self.path, source)
    }
}

fn io(what: &'static str, path: &Path, source: std::io::Error) -> ScheduleError {
    ScheduleError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Schedule, ScheduleError> {
    serde_json::from_slice(bytes).map_err(|e| ScheduleError::Corrupt {
        path: path.to_owned(),
        message: if e.line() > 0 {
            format!("line {} column {}: {e}", e.line(), e.column())
        } else {
            e.to_string()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::tests::{at, checkin};

    #[test]
    fn concurrent_updates_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = Store::in_dir(dir.path());
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        store
                            .update(|s| (true, s.add(checkin("2025-01-02T04:00:00Z"))))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = Store::in_dir(dir.path()).read().unwrap();
        let mut ids: Vec<u64> = s.checkins.iter().map(|c| c.id).collect();
        ids.sort();
        assert_eq!(ids, (1..=200).collect::<Vec<_>>());
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_not_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::in_dir(dir.path());
        std::fs::write(store.path(), "{\"version\": 1, \"checkins\": [oops").unwrap();
        let err = store.read().unwrap_err().to_string();
        assert!(
            err.contains("schedule.json is not a valid schedule: line 1"),
            "{err}"
        );
        let (s, q) = store.load().unwrap();
        assert!(s.checkins.is_empty());
        let q = q.expect("reported");
        assert!(
            q.moved_to
                .to_string_lossy()
                .contains("schedule.json.corrupt-")
        );
        assert_eq!(
            std::fs::read_to_string(&q.moved_to).unwrap(),
            "{\"version\": 1, \"checkins\": [oops"
        );
        assert!(q.to_string().contains("moved aside to"), "{q}");
        // The replacement is a valid, empty schedule.
        assert_eq!(store.read().unwrap(), Schedule::empty());
    }

    #[test]
    fn the_file_round_trips_and_refuses_newer_versions() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::in_dir(dir.path());
        let mut c = checkin("2025-01-02T04:00:00Z");
        c.every = Some("1h".parse().unwrap());
        c.retry_at = Some(at("2025-01-02T04:01:00Z"));
        store.update(|s| (true, s.add(c.clone()))).unwrap();
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("\"due\": \"2025-01-02T04:00:00Z\""), "{text}");
        assert!(text.contains("\"every\": \"1h\""), "{text}");
        assert!(text.contains("\"state\": \"pending\""), "{text}");
        let back = store.read().unwrap();
        assert_eq!(back.checkins[0].retry_at, c.retry_at);
        std::fs::write(
            store.path(),
            "{\"version\": 9, \"next_id\": 1, \"checkins\": []}",
        )
        .unwrap();
        assert!(matches!(store.read(), Err(ScheduleError::Newer { .. })));
        assert!(matches!(store.load(), Err(ScheduleError::Newer { .. })));
    }
}
