//! The worker of one worktree: its file events, its pending changes and cadence, its
//! auto-commits and snapshots (through [`crate::snapshot::take`] on a `Repo` opened at its
//! root, so its own HEAD and index are used), its `.gate.toml` (reloaded when it changes; an
//! invalid edit keeps the last good config, loudly), and the inspections that nudge its agents
//! about edited implementation files.
//!
//! git work runs on the blocking pool. A stop request is seen between commits, never during
//! one.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use super::board::Board;
use super::fs::{self, Signal, TreeWatcher};
use super::jobs::{Ctx, Place};
use super::messages::Job;
use super::pending::{Batch, Cadence, Pending};
use super::{Reporter, WatchEvent, autocommit, nudges, stopped};
use crate::config::Config;
use crate::repo::Repo;
use crate::snapshot::Outcome;

/// Edited implementation files are looked at this long after the first edit, in one batch.
const INSPECT_AFTER: Duration = Duration::from_millis(500);
/// Paths kept for one inspection; beyond it the inspection looks at these only.
const MAX_SUSPECTS: usize = 1000;

/// Everything a worktree worker is given.
pub struct Worktree {
    pub place: Arc<Place>,
    /// Whether this is the repository's main checkout (its log lines carry no prefix).
    pub main: bool,
    /// Why its `.gate.toml` could not be read at start: until it is fixed, work there is only
    /// preserved as snapshots (there is no last good config whose rules a commit could obey).
    pub broken: Option<String>,
    pub ctx: Arc<Ctx>,
    pub reporter: Arc<dyn Reporter>,
    pub board: Arc<Board>,
    pub jobs: mpsc::UnboundedSender<Job>,
    /// The watcher's one inotify instance.
    pub hub: fs::Hub,
    /// Bumped whenever a branch moves (refs live in the common directory).
    pub refs: watch::Receiver<u64>,
    /// The roots of every covered worktree, to leave nested ones alone.
    pub roots: watch::Receiver<Arc<Vec<PathBuf>>>,
    /// Asks the supervisor to list the worktrees again (this one's root vanished).
    pub relist: mpsc::UnboundedSender<()>,
    pub stop: watch::Receiver<bool>,
}

/// Mutable state of the worker between events.
struct State {
    config: Arc<Config>,
    /// `spec.implementation` of the current config.
    implementation: globset::GlobSet,
    cadence: Cadence,
    pending: Pending,
    suspects: BTreeSet<String>,
    inspect_at: Option<Instant>,
    inspecting: Option<oneshot::Receiver<()>>,
    polling_since: Option<Instant>,
    /// The last config problem reported, so an unchanged broken file is not reported again.
    config_error: Option<String>,
    /// No good config was ever read: snapshots only, no real commits.
    shadow_only: bool,
    /// Whether ignored-looking paths are tracked, until the index changes.
    tracked: RefCell<HashMap<PathBuf, bool>>,
}

pub async fn worker(mut w: Worktree) {
    let root = w.place.root.clone();
    let repo = match Repo::discover(&root) {
        Ok(r) => r,
        Err(e) => {
            w.say(&format!("cannot watch this worktree: {e}"));
            w.board.worktree(&root, |s| s.mode = "failed".into());
            return stopped(&mut w.stop).await;
        }
    };
    let git_dir: PathBuf = repo.git().path().components().collect();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let nested = nested_in(&root, &w.roots.borrow());
    // A private read of the index, dropped at once: the repository's own cached copy would
    // keep every entry in memory for the watcher's lifetime (megabytes per worktree).
    let extra = git2::Index::open(&git_dir.join("index"))
        .map(|i| fs::tracked_dirs(&root, &i, |d| ignored(&repo, d)))
        .unwrap_or_default();
    let mut tree = TreeWatcher::start(&w.hub, &root, &git_dir, nested, &extra, tx);
    let config = w.place.config();
    let mut st = State {
        implementation: implementation(&config),
        cadence: cadence(&config),
        config,
        pending: Pending::default(),
        suspects: BTreeSet::new(),
        // The first inspection (with no paths) only sees which rules hold now.
        inspect_at: Some(Instant::now()),
        inspecting: None,
        polling_since: None,
        config_error: None,
        shadow_only: w.broken.is_some(),
        tracked: RefCell::new(HashMap::new()),
    };
    if let Some(e) = w.broken.take() {
        w.say(&format!(
            "!!! {e}\n!!! until it is fixed, work in {} is only preserved as snapshots, never committed",
            root.display()
        ));
        w.record(
            WatchEvent::ConfigInvalid,
            format!("{e}; snapshots only until it is fixed"),
        );
        w.board
            .worktree(&root, |s| s.config_error = Some(e.clone()));
        st.config_error = Some(e);
    }
    w.say(&format!(
        "watching {} ({} directories), auto-commit after {} of uncommitted work and {} of quiet",
        root.display(),
        tree.watch_count(),
        st.config.commit.interval,
        st.config.commit.quiet
    ));
    // Work left from before the watcher started counts from now.
    st.pending.rescan(Instant::now());
    w.board.worktree(&root, |s| s.branch = branch(&repo));
    // GATE_WATCH_TRACE=1 logs every change as it is seen (for the latency benchmark).
    let trace = std::env::var_os("GATE_WATCH_TRACE").is_some_and(|v| v == "1");
    let (mut refs_open, mut roots_open) = (true, true);
    loop {
        if tree.limited && st.polling_since.is_none() {
            w.say(&format!(
                "the inotify watch limit was reached after {} directories: falling back to a full scan every {} \
                 (raise the limit: {})",
                tree.watch_count(),
                st.config.commit.interval,
                fs::RAISE_LIMIT
            ));
            st.polling_since = Some(Instant::now());
        }
        if st.polling_since.is_some() && st.pending.is_empty() {
            st.pending.rescan(Instant::now());
        }
        let (watches, pending, polling) = (
            tree.watch_count(),
            st.pending.len(),
            st.polling_since.is_some(),
        );
        w.board.worktree(&root, |s| {
            s.watches = watches;
            s.pending = pending;
            s.mode = if polling { "polling" } else { "events" }.into();
        });
        if st.inspecting.is_none() && st.inspect_at.is_some_and(|t| t <= Instant::now()) {
            st.inspect_at = None;
            let (done, wait) = oneshot::channel();
            st.inspecting = Some(wait);
            let paths = std::mem::take(&mut st.suspects).into_iter().collect();
            let _ = w.jobs.send(Job::Inspect {
                place: w.place.clone(),
                paths,
                done,
            });
        }
        let far = Instant::now() + Duration::from_secs(3600);
        let wake = [
            st.pending.next_check(st.cadence),
            st.inspect_at.filter(|_| st.inspecting.is_none()),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(far);
        tokio::select! {
            _ = stopped(&mut w.stop) => break,
            Some(event) = rx.recv() => {
                let now = Instant::now();
                match event {
                    Ok(event) => {
                        let signals = tree.classify(event, |rel| {
                            !ignored(&repo, rel) || tracked(&git_dir, &st.tracked, rel)
                        });
                        for signal in signals {
                            w.signal(&repo, &mut st, signal, now, trace);
                        }
                    }
                    Err(e) if fs::is_limit(&e) => tree.limited = true,
                    Err(e) => {
                        w.say(&format!("file events: {e}; rescanning"));
                        st.pending.rescan(now);
                    }
                }
            }
            changed = w.refs.changed(), if refs_open => match changed {
                // A commit or a switch may have put a rule right.
                Ok(()) => { st.inspect_at.get_or_insert(Instant::now() + INSPECT_AFTER); }
                Err(_) => refs_open = false,
            },
            changed = w.roots.changed(), if roots_open => match changed {
                Ok(()) => {
                    let nested = nested_in(&root, &w.roots.borrow_and_update());
                    tree.set_nested(nested);
                }
                Err(_) => roots_open = false,
            },
            _ = finished(&mut st.inspecting), if st.inspecting.is_some() => st.inspecting = None,
            _ = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                if st.pending.is_due(now, st.cadence) {
                    w.commit(&mut st, now).await;
                }
            }
        }
    }
}

impl Worktree {
    /// A log line, prefixed with the worktree for linked ones.
    fn say(&self, text: &str) {
        if self.main {
            self.reporter.line(text);
        } else {
            let name = self
                .place
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.reporter.line(&format!("[{name}] {text}"));
        }
    }

    fn signal(&self, repo: &Repo, st: &mut State, signal: Signal, now: Instant, trace: bool) {
        match signal {
            Signal::Changed(path) => {
                let text = String::from_utf8_lossy(&path).into_owned();
                if trace {
                    let nanos = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos());
                    self.say(&format!("saw {text} at {nanos}"));
                }
                // A changed path that is, or (a new directory) may contain, an
                // implementation file.
                let may_hold = st.implementation.is_match(&text)
                    || st.implementation.is_match(format!("{text}/x"));
                if st.suspects.len() < MAX_SUSPECTS && may_hold {
                    st.suspects.insert(text);
                    st.inspect_at.get_or_insert(now + INSPECT_AFTER);
                }
                st.pending.touch(path, now);
            }
            Signal::Config => self.reload(st),
            Signal::Rescan(why) => {
                self.say(&format!("rescanning: {why}"));
                st.pending.rescan(now);
            }
            Signal::HeadChanged => {
                st.tracked.borrow_mut().clear();
                st.inspect_at.get_or_insert(now + INSPECT_AFTER);
                let b = branch(repo);
                self.board.worktree(&self.place.root, |s| s.branch = b);
            }
            Signal::RootGone => {
                let _ = self.relist.send(());
            }
        }
    }

    /// Reads `.gate.toml` again. An invalid file keeps the last good config: the rules are
    /// never switched off by a broken edit.
    fn reload(&self, st: &mut State) {
        if !self.place.root.is_dir() {
            // The worktree is going away; its worker is about to stop.
            return;
        }
        match Config::load(&self.place.root) {
            Ok(config) => {
                st.shadow_only = false;
                let was_broken = st.config_error.take().is_some();
                self.board
                    .worktree(&self.place.root, |s| s.config_error = None);
                if config == *st.config && !was_broken {
                    return;
                }
                self.say(&format!(
                    "reloaded {}: auto-commit after {} of uncommitted work and {} of quiet",
                    crate::config::FILE_NAME,
                    config.commit.interval,
                    config.commit.quiet
                ));
                self.record(WatchEvent::ConfigReloaded, String::new());
                st.implementation = implementation(&config);
                st.cadence = cadence(&config);
                self.place.set_config(config);
                st.config = self.place.config();
            }
            Err(e) => {
                let text = e.to_string();
                if st.config_error.as_ref() == Some(&text) {
                    return;
                }
                self.say(&format!(
                    "!!! {text}\n!!! the watcher keeps the last good config until {} is fixed",
                    crate::config::FILE_NAME
                ));
                self.record(
                    WatchEvent::ConfigInvalid,
                    format!("{text}; kept the last good config"),
                );
                self.board
                    .worktree(&self.place.root, |s| s.config_error = Some(text.clone()));
                st.config_error = Some(text);
            }
        }
    }

    fn record(&self, kind: WatchEvent, detail: String) {
        let mut e = crate::events::Event::now(kind.as_str());
        e.paths = vec![self.place.root.display().to_string()];
        e.detail = detail;
        let _ = self.ctx.log().append(&e);
    }

    /// One auto-commit of what is ready, then its report, events and nudge.
    async fn commit(&self, st: &mut State, now: Instant) {
        let (mut batch, since) = st.pending.take(now, st.cadence);
        if st.config_error.is_some() {
            // A broken `.gate.toml` is not committed: it stays in the working tree (never
            // lost) until it is fixed, and the fix is committed as usual.
            let config = crate::config::FILE_NAME.as_bytes().to_vec();
            match &mut batch {
                Batch::Paths(paths) => paths.retain(|p| *p != config),
                Batch::Everything { except } => except.push(config),
            }
        }
        let shadow = st.shadow_only;
        let job = autocommit::take(
            self.place.root.clone(),
            st.config.clone(),
            batch.clone(),
            shadow,
        );
        match job.await {
            Ok((report, shared)) => {
                if let Some(why) = shared {
                    self.say(&why);
                }
                for s in &report.skipped {
                    self.say(&format!("skipped {}: {}", s.path, s.reason));
                }
                let text = autocommit::decision_text(&report.outcome);
                self.say(&text);
                super::record(&self.ctx.log(), &report);
                if matches!(report.outcome, Outcome::Retry { .. }) {
                    // Try again after another quiet period, not in a tight loop.
                    st.pending.restore(batch, since, Instant::now());
                }
                self.board
                    .decided(&self.place.root, text, super::now_text());
                self.reporter.decided(&report);
                if let Some(request) = nudges::commit_request(&report, &st.config) {
                    let _ = self.jobs.send(Job::Nudge {
                        place: self.place.clone(),
                        requests: vec![request],
                    });
                }
            }
            Err(e) => {
                self.say(&format!("auto-commit failed: {e}; will retry"));
                st.pending.restore(batch, since, Instant::now());
            }
        }
    }
}

async fn finished(inspecting: &mut Option<oneshot::Receiver<()>>) {
    match inspecting {
        Some(rx) => {
            let _ = rx.await;
        }
        None => std::future::pending().await,
    }
}

/// The implementation globs, matched as the rules match them.
fn implementation(config: &Config) -> globset::GlobSet {
    let mut set = globset::GlobSetBuilder::new();
    for glob in &config.spec.implementation {
        if let Ok(g) = globset::GlobBuilder::new(&glob.0)
            .literal_separator(true)
            .build()
        {
            set.add(g);
        }
    }
    set.build().unwrap_or_else(|_| globset::GlobSet::empty())
}

fn cadence(config: &Config) -> Cadence {
    Cadence {
        interval: config.commit.interval.get(),
        quiet: config.commit.quiet.get(),
    }
}

fn branch(repo: &Repo) -> Option<String> {
    repo.head().ok().and_then(|h| h.branch().map(str::to_owned))
}

fn ignored(repo: &Repo, rel: &Path) -> bool {
    repo.git().is_path_ignored(rel).unwrap_or(false)
}

/// Whether `rel` is in the index: a tracked file counts even when it matches an ignore rule.
/// Asked only for paths that match one; the answers are kept until the index changes.
fn tracked(git_dir: &Path, cache: &RefCell<HashMap<PathBuf, bool>>, rel: &Path) -> bool {
    if let Some(known) = cache.borrow().get(rel) {
        return *known;
    }
    let found = git2::Index::open(&git_dir.join("index"))
        .is_ok_and(|index| index.get_path(rel, 0).is_some());
    let mut cache = cache.borrow_mut();
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(rel.to_owned(), found);
    found
}

/// The covered worktrees strictly inside `root`.
fn nested_in(root: &Path, roots: &[PathBuf]) -> Vec<PathBuf> {
    roots
        .iter()
        .filter(|r| r.as_path() != root && r.starts_with(root))
        .cloned()
        .collect()
}
