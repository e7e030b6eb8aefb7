//! The watcher loop's view of `schedule.json`: re-read when the file changes (its inode,
//! mtime or length; a rename always changes the inode), what is due now, and when to wake up
//! next. Reading never changes the file, except that a corrupt one is moved aside.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use jiff::Timestamp;
use tokio::sync::mpsc::UnboundedSender;

use crate::events::{Event, EventLog};
use crate::schedule::{self, Checkin, Schedule, ScheduleError, Store};

/// After an attempt, a check-in is not attempted again for this long (retries are seconds
/// apart anyway).
const REST: Duration = Duration::from_secs(1);

/// The loop's view of the schedule.
pub struct Agenda {
    store: Store,
    schedule: Schedule,
    /// (inode, mtime, length) of the file when last read: a rename changes the inode.
    stamp: Option<(u64, SystemTime, u64)>,
    /// Check-ins with an attempt running.
    pub inflight: HashSet<u64>,
    /// Not attempted again before this time: an attempt that could not even update the file
    /// must not be repeated in a tight loop.
    rested: HashMap<u64, Timestamp>,
    /// The last problem reported, so it is not repeated on every wake-up.
    reported: Option<String>,
}

impl Agenda {
    pub fn new(state: &Path) -> Agenda {
        Agenda {
            store: Store::in_dir(state),
            schedule: Schedule::default(),
            stamp: None,
            inflight: HashSet::new(),
            rested: HashMap::new(),
            reported: None,
        }
    }

    /// Re-reads the file if it changed; returns lines worth logging. A corrupt file is moved
    /// aside (and the move recorded in the event log).
    pub fn refresh(&mut self, log: &EventLog) -> Vec<String> {
        let stamp = std::fs::metadata(self.store.path()).ok().map(|m| {
            (
                m.ino(),
                m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                m.len(),
            )
        });
        if stamp.is_some() && stamp == self.stamp {
            return Vec::new();
        }
        if stamp.is_none() {
            self.stamp = None;
            self.schedule = Schedule::default();
            return Vec::new();
        }
        let mut lines = Vec::new();
        let loaded = match self.store.read() {
            Err(ScheduleError::Corrupt { .. }) => self.store.load(),
            other => other.map(|s| (s, None)),
        };
        match loaded {
            Ok((schedule, quarantined)) => {
                if let Some(q) = quarantined {
                    let mut e = Event::now(super::WatchEvent::ScheduleCorrupt.as_str());
                    e.detail = q.to_string();
                    let _ = log.append(&e);
                    lines.push(format!("check-ins: {q}"));
                }
                self.schedule = schedule;
                self.reported = None;
                // The stamp from before the read: a change after it is seen next time.
                self.stamp = if lines.is_empty() { stamp } else { None };
            }
            Err(e) => {
                // Nothing is attempted from a schedule that cannot be read.
                self.schedule = Schedule::default();
                let text = format!("check-ins: {e}");
                if self.reported.as_ref() != Some(&text) {
                    lines.push(text.clone());
                    self.reported = Some(text);
                }
                self.stamp = stamp;
            }
        }
        lines
    }

    /// Forget the stamp: the next [`Agenda::refresh`] reads the file again.
    fn invalidate(&mut self) {
        self.stamp = None;
    }

    pub fn is_empty(&self) -> bool {
        self.schedule.checkins.is_empty()
    }

    /// An attempt at `id` ended: it rewrote the file (read it again before deciding what is
    /// due), and `id` rests a moment.
    pub fn finished(&mut self, id: u64) {
        self.inflight.remove(&id);
        let rest = Timestamp::now().checked_add(REST).unwrap_or(Timestamp::MAX);
        self.rested.insert(id, rest);
        self.rested.retain(|_, until| *until > Timestamp::now());
        self.invalidate();
    }

    /// When `c` may be attempted next, as far as the loop is concerned.
    fn next_for(&self, c: &Checkin) -> Timestamp {
        let rest = self.rested.get(&c.id).copied().unwrap_or(Timestamp::MIN);
        c.next_attempt().max(rest)
    }

    /// Check-ins due at `now` with no attempt running.
    pub fn due(&self, now: Timestamp) -> Vec<u64> {
        self.schedule
            .checkins
            .iter()
            .filter(|c| self.next_for(c) <= now && !self.inflight.contains(&c.id))
            .map(|c| c.id)
            .collect()
    }

    /// When the next check-in without a running attempt is due, as a monotonic deadline.
    pub fn next_wake(&self, now: Timestamp, mono: Instant) -> Option<Instant> {
        let next = self
            .schedule
            .checkins
            .iter()
            .filter(|c| !self.inflight.contains(&c.id))
            .map(|c| self.next_for(c))
            .min()?;
        let wait = Duration::try_from(next.duration_since(now)).unwrap_or(Duration::ZERO);
        Some(mono + wait)
    }
}

/// Sends `()` on `tx` whenever `schedule.json` in `state` is replaced or written.
pub fn watch_file(
    state: &Path,
    tx: UnboundedSender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if super::fs::is_access(&res) {
            return;
        }
        let ours = res.map_or(true, |e| {
            e.paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| n == schedule::FILE_NAME))
        });
        if ours {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(state, notify::RecursiveMode::NonRecursive)?;
    Ok(watcher)
}
