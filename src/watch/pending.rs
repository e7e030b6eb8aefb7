//! What one worktree's watcher has seen change since the last commit, and when to commit what.
//! Pure: time comes in as an argument, so the cadence is tested with plain `Instant`s.
//!
//! The cadence, per path: once the oldest uncommitted change is `interval` old, every path
//! that has been still for `quiet` is committed, and the ones still changing wait. One busy
//! file (a log appended every second) therefore never holds back the rest. Nothing waits
//! forever: once the oldest change is `interval + bound` old everything is committed, busy or
//! not (`bound` is the interval again: uncommitted work is never older than twice the interval).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Changes waiting for the next auto-commit.
#[derive(Debug, Default)]
pub struct Pending {
    /// Repo-relative paths (raw bytes) that changed: first and latest change.
    paths: BTreeMap<Vec<u8>, Span>,
    /// Events were lost (start-up, queue overflow, watch limit): the next commit needs a full
    /// status. The span of those "anywhere" changes.
    rescan: Option<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    first: Instant,
    last: Instant,
}

impl Span {
    fn at(now: Instant) -> Span {
        Span {
            first: now,
            last: now,
        }
    }

    fn touch(&mut self, now: Instant) {
        self.first = self.first.min(now);
        self.last = self.last.max(now);
    }
}

/// What to hand to the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// Exactly these paths changed.
    Paths(Vec<Vec<u8>>),
    /// Unknown: look at the whole tree, except these paths, which are still changing.
    Everything { except: Vec<Vec<u8>> },
}

/// The cadence settings of one worktree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub interval: Duration,
    pub quiet: Duration,
}

impl Cadence {
    /// How long past the interval a path that never stops changing may wait.
    pub fn bound(&self) -> Duration {
        self.interval
    }
}

impl Pending {
    pub fn touch(&mut self, path: Vec<u8>, now: Instant) {
        self.paths
            .entry(path)
            .and_modify(|s| s.touch(now))
            .or_insert(Span::at(now));
    }

    /// Something may have changed anywhere (start-up, overflow, polling fallback).
    pub fn rescan(&mut self, now: Instant) {
        match &mut self.rescan {
            Some(s) => s.touch(now),
            None => self.rescan = Some(Span::at(now)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.rescan.is_none()
    }

    /// How many paths are waiting (a pending full scan counts as one).
    pub fn len(&self) -> usize {
        self.paths.len() + usize::from(self.rescan.is_some())
    }

    fn spans(&self) -> impl Iterator<Item = &Span> {
        self.paths.values().chain(self.rescan.as_ref())
    }

    fn first(&self) -> Option<Instant> {
        self.spans().map(|s| s.first).min()
    }

    /// When to look again: the earliest moment [`Pending::is_due`] turns true.
    pub fn next_check(&self, c: Cadence) -> Option<Instant> {
        let first = self.first()?;
        let earliest_quiet = self.spans().map(|s| s.last + c.quiet).min()?;
        let overdue = first + c.interval + c.bound();
        Some((first + c.interval).max(earliest_quiet).min(overdue))
    }

    /// Due when the oldest change is `interval` old and at least one path has been quiet
    /// (or the bound is reached).
    pub fn is_due(&self, now: Instant, c: Cadence) -> bool {
        self.next_check(c).is_some_and(|t| t <= now)
    }

    /// Takes what is ready at `now`: the quiet paths, or everything once overdue. The caller
    /// puts it back with [`Pending::restore`] if the attempt must be retried. Returns the
    /// batch and the first change it holds.
    pub fn take(&mut self, now: Instant, c: Cadence) -> (Batch, Option<Instant>) {
        let overdue = self
            .first()
            .is_some_and(|f| now >= f + c.interval + c.bound());
        let ready = |s: &Span| overdue || now >= s.last + c.quiet;
        let (taken, kept): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut self.paths)
            .into_iter()
            .partition(|(_, s)| ready(s));
        let mut since = taken.values().map(|s| s.first).min();
        let batch = match self.rescan.filter(|s| ready(s)) {
            Some(rescan) => {
                self.rescan = None;
                since = Some(since.map_or(rescan.first, |t| t.min(rescan.first)));
                Batch::Everything {
                    except: kept.keys().cloned().collect(),
                }
            }
            None => Batch::Paths(taken.into_keys().collect()),
        };
        self.paths = kept;
        (batch, since)
    }

    /// Puts back a batch whose commit did not happen, keeping its original age; its paths
    /// count as changed at `now` (so the retry waits another quiet period).
    pub fn restore(&mut self, batch: Batch, since: Option<Instant>, now: Instant) {
        let first = since.unwrap_or(now);
        let span = Span { first, last: now };
        let mut put = |path: Vec<u8>| {
            self.paths
                .entry(path)
                .and_modify(|s| {
                    s.first = s.first.min(first);
                    s.last = s.last.max(now);
                })
                .or_insert(span);
        };
        match batch {
            Batch::Everything { .. } => match &mut self.rescan {
                Some(s) => {
                    s.first = s.first.min(first);
                    s.last = s.last.max(now);
                }
                None => self.rescan = Some(span),
            },
            Batch::Paths(p) => p.into_iter().for_each(&mut put),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const C: Cadence = Cadence {
        interval: Duration::from_secs(30 * 60),
        quiet: MIN,
    };

    #[test]
    fn due_after_the_interval_once_a_path_is_quiet() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        assert!(!p.is_due(t0, C));
        p.touch(b"a".to_vec(), t0);
        assert!(!p.is_due(t0 + 29 * MIN, C));
        assert_eq!(p.next_check(C), Some(t0 + 30 * MIN));
        // b still changing at 29:30: a is committed at 30:00, b waits for its quiet minute.
        p.touch(b"b".to_vec(), t0 + 29 * MIN + MIN / 2);
        assert!(p.is_due(t0 + 30 * MIN, C));
        let (batch, since) = p.take(t0 + 30 * MIN, C);
        assert_eq!(batch, Batch::Paths(vec![b"a".to_vec()]));
        assert_eq!(since, Some(t0));
        // b's own uncommitted work reaches the interval 30 minutes after its first change.
        assert_eq!(p.next_check(C), Some(t0 + 59 * MIN + MIN / 2));
    }

    /// Regression: one file appended every 0.4 s kept every other change uncommitted for 7×
    /// the interval, because the whole tree had to be quiet.
    #[test]
    fn a_busy_file_does_not_hold_back_the_others() {
        let c = Cadence {
            interval: Duration::from_secs(2),
            quiet: Duration::from_millis(500),
        };
        let t0 = Instant::now();
        let mut p = Pending::default();
        p.touch(b"src/work.rs".to_vec(), t0);
        let mut t = t0;
        while !p.is_due(t, c) {
            t += Duration::from_millis(400);
            p.touch(b"busy.log".to_vec(), t);
            assert!(t < t0 + Duration::from_secs(3), "never due");
        }
        assert_eq!(p.take(t, c).0, Batch::Paths(vec![b"src/work.rs".to_vec()]));
        // The busy file itself waits at most the bound past the interval.
        while !p.is_due(t, c) {
            t += Duration::from_millis(400);
            p.touch(b"busy.log".to_vec(), t);
        }
        assert!(t <= t0 + Duration::from_millis(4400), "{:?}", t - t0);
        assert_eq!(p.take(t, c).0, Batch::Paths(vec![b"busy.log".to_vec()]));
        assert!(p.is_empty());
    }

    #[test]
    fn take_and_restore_keep_the_age_and_paths() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        p.touch(b"a".to_vec(), t0);
        let (batch, since) = p.take(t0 + 31 * MIN, C);
        assert_eq!(batch, Batch::Paths(vec![b"a".to_vec()]));
        assert!(p.is_empty());
        p.touch(b"b".to_vec(), t0 + 31 * MIN);
        p.restore(batch, since, t0 + 31 * MIN);
        let (batch, since) = p.take(t0 + 33 * MIN, C);
        assert_eq!(batch, Batch::Paths(vec![b"a".to_vec(), b"b".to_vec()]));
        assert_eq!(since, Some(t0));
    }

    #[test]
    fn a_rescan_takes_everything_but_the_busy_paths() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        p.rescan(t0);
        p.touch(b"a".to_vec(), t0);
        p.touch(b"busy".to_vec(), t0 + 30 * MIN);
        let (batch, _) = p.take(t0 + 30 * MIN, C);
        assert_eq!(
            batch,
            Batch::Everything {
                except: vec![b"busy".to_vec()]
            }
        );
        assert_eq!(p.len(), 1);
    }
}
