//! The watcher's status as `gate watch --status` reads it: every worker updates its part of
//! the board, and one worker writes `watch.json` when (and only when) it changed, so an idle
//! watcher writes nothing.

use std::path::Path;
use std::sync::Mutex;

use tokio::sync::{Notify, watch};

use super::daemon::{self, Status, WorktreeStatus};
use super::jobs::lock;

pub struct Board {
    status: Mutex<Status>,
    changed: Notify,
}

impl Board {
    pub fn new(status: Status) -> Board {
        Board {
            status: Mutex::new(status),
            changed: Notify::new(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut Status)) {
        f(&mut lock(&self.status));
        self.changed.notify_one();
    }

    /// The watcher as a whole: `starting`, then `events` (or `polling`, derived from the
    /// worktrees when written).
    pub fn set_mode(&self, mode: &str) {
        self.update(|s| s.mode = mode.to_owned());
    }

    /// The worktrees covered now, in this order (main first); others are dropped.
    pub fn set_worktrees(&self, roots: &[std::path::PathBuf]) {
        self.update(|s| {
            let mut old = std::mem::take(&mut s.worktrees);
            s.worktrees = roots
                .iter()
                .map(|r| match old.iter().position(|w| &w.root == r) {
                    Some(i) => old.swap_remove(i),
                    None => WorktreeStatus {
                        root: r.clone(),
                        mode: "starting".into(),
                        ..WorktreeStatus::default()
                    },
                })
                .collect();
        });
    }

    /// Changes the entry of the worktree at `root`, if it is still covered.
    pub fn worktree(&self, root: &Path, f: impl FnOnce(&mut WorktreeStatus)) {
        self.update(|s| {
            if let Some(w) = s.worktrees.iter_mut().find(|w| w.root == root) {
                f(w);
            }
        });
    }

    /// A decision about one worktree, also shown as the watcher's latest.
    pub fn decided(&self, root: &Path, text: String, at: String) {
        self.update(|s| {
            if let Some(w) = s.worktrees.iter_mut().find(|w| w.root == root) {
                w.last_decision = Some(text.clone());
                w.last_decision_at = Some(at.clone());
            }
            s.last_decision = Some(text);
            s.last_decision_at = Some(at);
        });
    }

    /// The status to write: totals and mode derived from the worktrees.
    pub fn snapshot(&self) -> Status {
        let mut s = lock(&self.status).clone();
        s.watches = s.worktrees.iter().map(|w| w.watches).sum();
        if s.mode != "starting" {
            let polling = s.worktrees.iter().any(|w| w.mode == "polling");
            s.mode = if polling { "polling" } else { "events" }.into();
        }
        s
    }
}

/// At most one write this often: a burst of events (a checkout, a busy log file) changes the
/// pending counts thousands of times, and every write is synced to disk.
const THROTTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// The status-writing worker: writes a change at once when it has not written for a while,
/// else once the throttle allows, until the watcher stops; never into a repository that is
/// being deleted (`head`, the common `HEAD`, is gone).
pub async fn writer(
    board: std::sync::Arc<Board>,
    paths: daemon::Paths,
    head: std::path::PathBuf,
    mut stop: watch::Receiver<bool>,
) {
    let mut written: Option<Status> = None;
    loop {
        let now = board.snapshot();
        if written.as_ref() != Some(&now) && head.exists() {
            let _ = daemon::write_status(&paths, &now);
            let mode = now.mode.clone();
            written = Some(now);
            // A change of mode (starting -> events) is written at once: `gate watch --daemon`
            // and the tests wait for it.
            let until = tokio::time::Instant::now() + THROTTLE;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => break,
                    _ = board.changed.notified() => {
                        if board.snapshot().mode != mode {
                            break;
                        }
                    }
                    _ = super::stopped(&mut stop) => return,
                }
            }
            continue;
        }
        tokio::select! {
            _ = board.changed.notified() => {}
            _ = super::stopped(&mut stop) => return,
        }
    }
}
