//! The per-project watcher: file events in, auto-commits, snapshots and audit events out.
//!
//! One current-thread tokio runtime (the machine has two cores and an idle watcher should cost
//! nothing): the loop sleeps until the next thing is due, so an idle watcher never wakes up.
//! git work runs on the blocking pool, and a stop request waits for a commit in flight.
//!
//! Messages to agents (check-ins from `schedule.json`, nudges about slips) are jobs on the
//! blocking pool ([`jobs`]): the loop only decides when, and a tmux failure is a log line. A
//! stop request lets a message being typed finish, and types nothing new.

pub mod agenda;
pub mod audit;
pub mod brief;
pub mod checkin;
pub mod daemon;
pub mod fs;
pub mod jobs;
pub mod messenger;
pub mod nudges;
pub mod pending;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::events::EventLog;
use crate::repo::Repo;
use crate::rules::Rules;
use crate::snapshot::{self, Options, Outcome, Report};
use pending::{Batch, Pending};

/// Edited implementation files are looked at this long after the first edit, in one batch.
const INSPECT_AFTER: Duration = Duration::from_millis(500);
/// With check-ins pending, the loop looks at the wall clock at least this often (a suspended
/// machine's monotonic clock stands still, so a sleep alone would deliver late).
const CLOCK_CHECK: Duration = Duration::from_secs(60);
/// Without file events for `schedule.json`, the loop looks at the file this often.
const SCHEDULE_POLL: Duration = Duration::from_secs(2);
/// Paths kept for one inspection; beyond it the inspection looks at these only.
const MAX_SUSPECTS: usize = 1000;

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
    /// Called with every auto-commit, snapshot and audit slip; the tmux nudges hook in here.
    fn decided(&self, _report: &Report) {}
    fn slipped(&self, _slip: &audit::Slip) {}
}

/// Runs the watcher for the repository at `root` until SIGTERM or SIGINT.
pub fn run(root: &Path, reporter: Arc<dyn Reporter>) -> Result<(), WatchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(WatchError::Runtime)?;
    runtime.block_on(watch(root.to_owned(), reporter))
}

fn now_text() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

async fn watch(root: PathBuf, reporter: Arc<dyn Reporter>) -> Result<(), WatchError> {
    let repo = Repo::discover(&root)?;
    let root = repo.root().to_owned();
    let config = Config::load(&root)?;
    let state = repo.state_dir();
    let paths = daemon::Paths::in_dir(&state);
    let _lock = daemon::Lock::acquire(&paths)?;
    // Say who holds the lock before the (possibly long) walk of the tree.
    let starting = daemon::Status {
        pid: std::process::id(),
        since: now_text(),
        mode: "starting".into(),
        ..Default::default()
    };
    daemon::write_status(&paths, &starting)?;
    let log = EventLog::in_dir(&state);
    let ctx = Arc::new(jobs::Ctx::new(root.clone(), state.clone(), config.clone()));
    let rules = Rules::new(&config);
    let mut jobs: JoinSet<jobs::Done> = JoinSet::new();
    let mut agenda = agenda::Agenda::new(&state);
    let (sched_tx, mut sched_rx) = tokio::sync::mpsc::unbounded_channel();
    let schedule_watch = match agenda::watch_file(&state, sched_tx) {
        Ok(w) => Some(w),
        Err(e) => {
            reporter.line(&format!(
                "cannot watch {} ({e}); looking at it every {}s",
                state.join(crate::schedule::FILE_NAME).display(),
                SCHEDULE_POLL.as_secs()
            ));
            None
        }
    };
    // Implementation paths edited since the last inspection, and when to inspect them. The
    // first inspection (with no paths) only sees which rules hold now.
    let mut suspects: BTreeSet<String> = BTreeSet::new();
    let mut inspect_at: Option<Instant> = Some(Instant::now());
    let mut inspecting = false;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tree = fs::TreeWatcher::start(&root, repo.git().path(), repo.common_dir(), tx)?;
    let mut status = daemon::Status {
        pid: std::process::id(),
        since: now_text(),
        mode: "events".into(),
        watches: tree.watch_count(),
        ..Default::default()
    };
    let interval = config.commit.interval.get();
    let quiet = config.commit.quiet.get();
    reporter.line(&format!(
        "watching {} ({} directories), auto-commit after {} of uncommitted work and {} of quiet",
        root.display(),
        tree.watch_count(),
        config.commit.interval,
        config.commit.quiet
    ));
    let mut pending = Pending::default();
    // Work left from before the watcher started counts from now.
    pending.rescan(Instant::now());
    let mut baseline = audit::Baseline::load(&state);
    let mut audit_at = Some(Instant::now());
    let mut polling_since: Option<Instant> = None;
    // The status file is rewritten only when it changes: an idle watcher writes nothing.
    let mut written: Option<daemon::Status> = None;
    // GATE_WATCH_TRACE=1 logs every change as it is seen (for the latency benchmark).
    let trace = std::env::var_os("GATE_WATCH_TRACE").is_some_and(|v| v == "1");

    let mut term = signal(SignalKind::terminate()).map_err(WatchError::Runtime)?;
    let mut int = signal(SignalKind::interrupt()).map_err(WatchError::Runtime)?;
    loop {
        // A repository deleted or moved away under the watcher: nothing left to watch.
        if !repo.common_dir().join("HEAD").exists() {
            reporter.line("the repository is gone (deleted or moved): stopping");
            break;
        }
        if tree.limited && polling_since.is_none() {
            reporter.line(&format!(
                "the inotify watch limit was reached after {} directories: falling back to a full scan every {} \
                 (raise the limit: {})",
                tree.watch_count(),
                config.commit.interval,
                fs::RAISE_LIMIT
            ));
            status.mode = "polling".into();
            polling_since = Some(Instant::now());
        }
        if polling_since.is_some() && pending.is_empty() {
            pending.rescan(Instant::now());
        }
        status.watches = tree.watch_count();
        if written.as_ref() != Some(&status) {
            let _ = daemon::write_status(&paths, &status);
            written = Some(status.clone());
        }
        for line in agenda.refresh(&log) {
            reporter.line(&line);
        }
        for id in agenda.due(jiff::Timestamp::now()) {
            agenda.inflight.insert(id);
            jobs::checkin(&mut jobs, &ctx, id);
        }
        if !inspecting && inspect_at.is_some_and(|t| t <= Instant::now()) {
            inspect_at = None;
            inspecting = true;
            jobs::inspect(
                &mut jobs,
                &ctx,
                std::mem::take(&mut suspects).into_iter().collect(),
            );
        }

        let mono = Instant::now();
        let far = mono + Duration::from_secs(3600);
        let clock = (!agenda.is_empty()).then(|| mono + CLOCK_CHECK);
        let poll = schedule_watch.is_none().then(|| mono + SCHEDULE_POLL);
        let wake = [
            pending.next_check(interval, quiet),
            audit_at,
            agenda.next_wake(jiff::Timestamp::now(), mono),
            inspect_at.filter(|_| !inspecting),
            clock,
            poll,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(far);
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            Some(()) = sched_rx.recv() => {}
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                finished(&*reporter, done, &mut agenda, &mut inspecting);
            }
            Some(event) = rx.recv() => {
                let now = Instant::now();
                match event {
                    Ok(event) => {
                        for signal in tree.classify(event, |p| repo.git().is_path_ignored(p).unwrap_or(false)) {
                            match signal {
                                fs::Signal::Changed(path) => {
                                    if trace {
                                        let nanos = std::time::SystemTime::now()
                                            .duration_since(std::time::UNIX_EPOCH)
                                            .map_or(0, |d| d.as_nanos());
                                        reporter.line(&format!("saw {} at {nanos}", String::from_utf8_lossy(&path)));
                                    }
                                    let text = String::from_utf8_lossy(&path);
                                    if suspects.len() < MAX_SUSPECTS && nudges::may_hold_implementation(&rules, &text) {
                                        suspects.insert(text.into_owned());
                                        inspect_at.get_or_insert(now + INSPECT_AFTER);
                                    }
                                    pending.touch(path, now);
                                }
                                fs::Signal::Rescan(why) => {
                                    reporter.line(&format!("rescanning: {why}"));
                                    pending.rescan(now);
                                }
                                fs::Signal::RefsChanged => {
                                    audit_at.get_or_insert(now + Duration::from_millis(300));
                                    // A switch or commit may have put a rule right.
                                    inspect_at.get_or_insert(now + INSPECT_AFTER);
                                }
                            }
                        }
                    }
                    Err(e) if fs::is_limit(&e) => tree.limited = true,
                    Err(e) => {
                        reporter.line(&format!("file events: {e}; rescanning"));
                        pending.rescan(now);
                    }
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                if audit_at.is_some_and(|t| t <= now) {
                    audit_at = None;
                    let mut requests = Vec::new();
                    for slip in audit::run(&repo, &config, &mut baseline, &log) {
                        reporter.line(&format!("[{}] {}", slip.code.as_str(), slip.message));
                        reporter.slipped(&slip);
                        requests.push(nudges::slip_request(&slip));
                    }
                    jobs::nudge(&mut jobs, &ctx, requests);
                }
                if pending.is_due(now, interval, quiet) {
                    let (batch, since) = pending.take();
                    let report = commit(&root, &config, batch.clone()).await;
                    match report {
                        Ok(report) => {
                            describe(&*reporter, &report);
                            crate::watch::record(&log, &report);
                            if matches!(report.outcome, Outcome::Retry { .. }) {
                                pending.restore(batch, since, now);
                                // Try again after another quiet period, not in a tight loop.
                                pending.touch(Vec::new(), Instant::now());
                            }
                            status.last_decision = Some(decision_text(&report.outcome));
                            status.last_decision_at = Some(now_text());
                            reporter.decided(&report);
                            let request = nudges::commit_request(&report, &config);
                            jobs::nudge(&mut jobs, &ctx, request.into_iter().collect());
                        }
                        Err(e) => {
                            reporter.line(&format!("auto-commit failed: {e:#}; will retry"));
                            pending.restore(batch, since, now);
                            pending.touch(Vec::new(), Instant::now());
                        }
                    }
                }
            }
        }
    }
    // Messages being typed finish; nothing new is typed. The lock is held until they are
    // done, so a new watcher never sends a check-in this one is still sending.
    ctx.stop.store(true, Ordering::Relaxed);
    if !jobs.is_empty() {
        reporter.line(&format!(
            "stopping: waiting for {} message job(s)",
            jobs.len()
        ));
    }
    while let Some(done) = jobs.join_next().await {
        finished(&*reporter, done, &mut agenda, &mut inspecting);
    }
    reporter.line("stopping: no commit in flight, lock released");
    Ok(())
}

/// Logs what a job did and lets the loop schedule the next one.
fn finished(
    reporter: &dyn Reporter,
    done: Result<jobs::Done, tokio::task::JoinError>,
    agenda: &mut agenda::Agenda,
    inspecting: &mut bool,
) {
    let lines = match done {
        Ok(jobs::Done::Checkin { id, lines }) => {
            agenda.finished(id);
            lines
        }
        Ok(jobs::Done::Inspected { lines }) => {
            *inspecting = false;
            lines
        }
        Ok(jobs::Done::Nudged { lines }) => lines,
        Err(e) => vec![format!("a message job failed: {e}")],
    };
    for line in lines {
        reporter.line(&line);
    }
}

/// One snapshot on the blocking pool (git CLI and libgit2 block).
async fn commit(root: &Path, config: &Config, batch: Batch) -> Result<Report, String> {
    let root = root.to_owned();
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let repo = Repo::discover(&root).map_err(|e| e.to_string())?;
        let paths = match batch {
            Batch::Everything => None,
            Batch::Paths(p) => Some(p.into_iter().filter(|p| !p.is_empty()).collect()),
        };
        let opts = Options {
            paths,
            ..Options::default()
        };
        snapshot::take(&repo, &config, &opts).map_err(|e| format!("{e:#}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

fn decision_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Committed {
            commit,
            branch,
            summary,
        } => format!("committed {} on {branch}: {summary}", &commit[..10]),
        Outcome::Shadowed {
            commit,
            refname,
            reason,
            ..
        } => format!("snapshot {} on {refname} ({reason})", &commit[..10]),
        Outcome::Unchanged { reason } => format!("nothing to commit ({reason})"),
        Outcome::Retry { reason } => format!("retrying later: {reason}"),
    }
}

fn describe(reporter: &dyn Reporter, report: &Report) {
    for s in &report.skipped {
        reporter.line(&format!("skipped {}: {}", s.path, s.reason));
    }
    reporter.line(&decision_text(&report.outcome));
}

/// Every decision is an event.
pub fn record(log: &EventLog, report: &Report) {
    for e in snapshot::events(report) {
        let _ = log.append(&e);
    }
}
