//! What the watcher has seen change since the last commit, and when it is time to commit.
//! Pure: time comes in as an argument, so the cadence is tested with plain `Instant`s.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Changes waiting for the next auto-commit.
#[derive(Debug, Default)]
pub struct Pending {
    /// Repo-relative paths that changed (raw bytes).
    paths: BTreeSet<Vec<u8>>,
    /// Events were lost (queue overflow, watch limit): the next commit needs a full status.
    rescan: bool,
    /// The first change not yet committed: uncommitted work is never older than `interval`.
    dirty_since: Option<Instant>,
    /// The latest change: nothing is committed while files keep changing.
    last_change: Option<Instant>,
}

/// What to hand to the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// Exactly these paths changed.
    Paths(Vec<Vec<u8>>),
    /// Unknown: look at the whole tree.
    Everything,
}

impl Pending {
    pub fn touch(&mut self, path: Vec<u8>, now: Instant) {
        self.paths.insert(path);
        self.mark(now);
    }

    /// Something may have changed anywhere (start-up, overflow, polling fallback).
    pub fn rescan(&mut self, now: Instant) {
        self.rescan = true;
        self.mark(now);
    }

    fn mark(&mut self, now: Instant) {
        self.dirty_since.get_or_insert(now);
        self.last_change = Some(now);
    }

    pub fn is_empty(&self) -> bool {
        self.dirty_since.is_none()
    }

    /// Due when the oldest change is `interval` old and the tree has been still for `quiet`.
    pub fn is_due(&self, now: Instant, interval: Duration, quiet: Duration) -> bool {
        match (self.dirty_since, self.last_change) {
            (Some(first), Some(last)) => {
                now.duration_since(first) >= interval && now.duration_since(last) >= quiet
            }
            _ => false,
        }
    }

    /// When to look again: the earliest moment [`Pending::is_due`] could turn true.
    pub fn next_check(&self, interval: Duration, quiet: Duration) -> Option<Instant> {
        let (first, last) = (self.dirty_since?, self.last_change?);
        Some((first + interval).max(last + quiet))
    }

    /// Takes the batch for a commit attempt; the caller puts it back with
    /// [`Pending::restore`] if the attempt must be retried.
    pub fn take(&mut self) -> (Batch, Option<Instant>) {
        let batch = if self.rescan {
            Batch::Everything
        } else {
            Batch::Paths(std::mem::take(&mut self.paths).into_iter().collect())
        };
        let since = self.dirty_since;
        *self = Pending::default();
        (batch, since)
    }

    /// Puts back a batch whose commit did not happen, keeping its original age.
    pub fn restore(&mut self, batch: Batch, since: Option<Instant>, now: Instant) {
        match batch {
            Batch::Everything => self.rescan = true,
            Batch::Paths(p) => self.paths.extend(p),
        }
        self.dirty_since = match (self.dirty_since, since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_change.get_or_insert(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn due_after_the_interval_once_quiet() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        assert!(!p.is_due(t0, 30 * MIN, MIN));
        p.touch(b"a".to_vec(), t0);
        assert!(!p.is_due(t0 + 29 * MIN, 30 * MIN, MIN));
        // Still changing at 29:30: wait for a quiet minute.
        p.touch(b"b".to_vec(), t0 + 29 * MIN + MIN / 2);
        assert!(!p.is_due(t0 + 30 * MIN, 30 * MIN, MIN));
        assert!(p.is_due(t0 + 30 * MIN + MIN / 2, 30 * MIN, MIN));
        assert_eq!(p.next_check(30 * MIN, MIN), Some(t0 + 30 * MIN + MIN / 2));
    }

    #[test]
    fn take_and_restore_keep_the_age_and_paths() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        p.touch(b"a".to_vec(), t0);
        let (batch, since) = p.take();
        assert_eq!(batch, Batch::Paths(vec![b"a".to_vec()]));
        assert!(p.is_empty());
        p.touch(b"b".to_vec(), t0 + MIN);
        p.restore(batch, since, t0 + MIN);
        let (batch, since) = p.take();
        assert_eq!(batch, Batch::Paths(vec![b"a".to_vec(), b"b".to_vec()]));
        assert_eq!(since, Some(t0));
    }

    #[test]
    fn a_rescan_wins_over_paths() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        p.touch(b"a".to_vec(), t0);
        p.rescan(t0);
        assert_eq!(p.take().0, Batch::Everything);
    }
}
