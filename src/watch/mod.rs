//! The per-repository watcher: one process (one lock in the common git directory) covers the
//! main checkout and every linked worktree, each with its own branch, rules, pending changes,
//! cadence and snapshots.
//!
//! It is a set of uniform workers on one current-thread tokio runtime (the machine has two
//! cores and an idle watcher should cost nothing), each an `async fn` in a `JoinSet` that
//! sleeps until it has something to do, with git and tmux work on the blocking pool:
//! - [`repository`]: the worktree list and the common refs; it runs one
//!   [`worktree`] worker per worktree (file events, cadence and commits, config reload);
//! - [`auditor`]: what slipped past the hooks, on start and when a ref moves;
//! - [`checkins`]: check-ins from `schedule.json`;
//! - [`messages`]: nudges and inspections, to the agents of the worktree concerned;
//! - [`board`]: `watch.json`, rewritten only when it changes.
//!
//! A stop request (SIGTERM, SIGINT, the repository deleted) is seen by every worker: a commit
//! in flight finishes, a message being typed finishes, nothing new starts, and the lock is
//! released only after all of that.

pub mod agenda;
pub mod audit;
pub mod auditor;
pub mod autocommit;
pub mod board;
pub mod brief;
pub mod checkin;
pub mod checkins;
pub mod daemon;
pub mod fs;
pub mod hub;
pub mod jobs;
pub mod messages;
pub mod messenger;
pub mod nudges;
pub mod pending;
pub mod recovery;
pub mod repository;
pub mod turns;
pub mod worktree;

use std::path::Path;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::events::EventLog;
use crate::repo::Repo;
use crate::snapshot::{self, Report};

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Daemon(#[from] daemon::DaemonError),
    #[error(transparent)]
    Repo(#[from] crate::repo::RepoError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot watch files: {0}")]
    Notify(#[from] notify::Error),
    #[error("cannot start the watcher's runtime")]
    Runtime(#[source] std::io::Error),
}

/// Where the watcher's human-readable log lines go (stderr, or the daemon's log file).
pub trait Reporter: Send + Sync {
    fn line(&self, text: &str);
    /// Called with every auto-commit and snapshot.
    fn decided(&self, _report: &Report) {}
    fn slipped(&self, _slip: &audit::Slip) {}
}

/// The kinds of events the watcher itself records (snapshots have theirs in
/// [`crate::snapshot::events`], slips in [`audit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEvent {
    /// A worktree's `.gate.toml` changed and was applied.
    ConfigReloaded,
    /// A worktree's `.gate.toml` became invalid; the last good config stays in force.
    ConfigInvalid,
    WorktreeAdded,
    WorktreeRemoved,
    /// A nudge to an agent (delivered or not: the detail says).
    Nudge,
    /// An ignored streak told to the orchestrator.
    NudgeEscalated,
    CheckinDelivered,
    CheckinFailed,
    CheckinEscalated,
    /// `schedule.json` was unreadable and moved aside.
    ScheduleCorrupt,
}

impl WatchEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEvent::ConfigReloaded => "config-reloaded",
            WatchEvent::ConfigInvalid => "config-invalid",
            WatchEvent::WorktreeAdded => "worktree-added",
            WatchEvent::WorktreeRemoved => "worktree-removed",
            WatchEvent::Nudge => "nudge",
            WatchEvent::NudgeEscalated => "nudge-escalated",
            WatchEvent::CheckinDelivered => "checkin-delivered",
            WatchEvent::CheckinFailed => "checkin-failed",
            WatchEvent::CheckinEscalated => "checkin-escalated",
            WatchEvent::ScheduleCorrupt => "schedule-corrupt",
        }
    }
}

/// Runs the watcher for the repository containing `dir` (any of its worktrees) until SIGTERM
/// or SIGINT.
pub fn run(dir: &Path, reporter: Arc<dyn Reporter>) -> Result<(), WatchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(WatchError::Runtime)?;
    runtime.block_on(watch(dir, reporter))
}

fn now_text() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Resolves once `stop` says true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn watch(dir: &Path, reporter: Arc<dyn Reporter>) -> Result<(), WatchError> {
    let repo = Repo::discover(dir)?;
    let common: std::path::PathBuf = repo.common_dir().components().collect();
    let config = Config::load(repo.root())?;
    let start = std::fs::canonicalize(repo.root()).unwrap_or_else(|_| repo.root().to_owned());
    let state = repo.state_dir();
    drop(repo);
    let paths = daemon::Paths::in_dir(&state);
    let _lock = daemon::Lock::acquire(&paths)?;
    // Say who holds the lock before the (possibly long) walk of the trees.
    let board = Arc::new(board::Board::new(daemon::Status {
        pid: std::process::id(),
        since: now_text(),
        mode: "starting".into(),
        ..Default::default()
    }));
    daemon::write_status(&paths, &board.snapshot())?;
    let ctx = Arc::new(jobs::Ctx::new(state.clone(), &config));
    let (stop_tx, stop) = watch::channel(false);
    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
    let (audit_tx, audit_rx) = mpsc::unbounded_channel();
    let (quit_tx, mut quit) = mpsc::unbounded_channel();
    let mut workers: JoinSet<Result<(), WatchError>> = JoinSet::new();
    workers.spawn(repository_worker(repository::Repository {
        common: common.clone(),
        start,
        ctx: ctx.clone(),
        reporter: reporter.clone(),
        board: board.clone(),
        jobs: jobs_tx.clone(),
        audit: audit_tx,
        quit: quit_tx,
        stop: stop.clone(),
    }));
    workers.spawn(done(auditor::worker(
        ctx.clone(),
        reporter.clone(),
        audit_rx,
        jobs_tx,
        stop.clone(),
    )));
    workers.spawn(done(checkins::worker(
        ctx.clone(),
        reporter.clone(),
        stop.clone(),
    )));
    workers.spawn(done(turns::worker(
        ctx.clone(),
        reporter.clone(),
        stop.clone(),
    )));
    workers.spawn(done(messages::worker(
        ctx.clone(),
        reporter.clone(),
        jobs_rx,
        stop.clone(),
    )));
    workers.spawn(done(board::writer(
        board.clone(),
        daemon::Paths::in_dir(&state),
        common.join("HEAD"),
        stop.clone(),
    )));
    // The first worktree workers report in before the board says "events".
    let ready = ready(board.clone());

    let mut term = signal(SignalKind::terminate()).map_err(WatchError::Runtime)?;
    let mut int = signal(SignalKind::interrupt()).map_err(WatchError::Runtime)?;
    let mut failure = None;
    tokio::pin!(ready);
    let mut is_ready = false;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            Some(()) = quit.recv() => break,
            _ = &mut ready, if !is_ready => {
                is_ready = true;
                board.set_mode("events");
            }
            Some(ended) = workers.join_next() => {
                // A worker only ends early on a failure that leaves the watcher blind.
                if let Ok(Err(e)) = ended {
                    reporter.line(&format!("stopping: {e}"));
                    failure = Some(e);
                }
                break;
            }
        }
    }
    let _ = stop_tx.send(true);
    while workers.join_next().await.is_some() {}
    // The final state on disk; the lock goes with `_lock`.
    reporter.line("stopping: no commit in flight, lock released");
    failure.map_or(Ok(()), Err)
}

async fn repository_worker(r: repository::Repository) -> Result<(), WatchError> {
    repository::worker(r).await.map_err(WatchError::from)
}

async fn done(worker: impl std::future::Future<Output = ()>) -> Result<(), WatchError> {
    worker.await;
    Ok(())
}

/// Resolves when the board lists worktrees and none is still starting.
async fn ready(board: Arc<board::Board>) {
    loop {
        let s = board.snapshot();
        if !s.worktrees.is_empty() && s.worktrees.iter().all(|w| w.mode != "starting") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Every decision is an event.
pub fn record(log: &EventLog, report: &Report) {
    for e in snapshot::events(report) {
        let _ = log.append(&e);
    }
}
