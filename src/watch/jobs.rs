//! What the watcher's message jobs (check-ins, nudges, inspections of edited files) share, and
//! the jobs themselves on the blocking pool: tmux and git calls never run on the async thread,
//! a job's failure (or panic) comes back as log lines, and the watcher goes on.
//!
//! [`Ctx`] is the repository's (one per watcher); [`Place`] is one worktree's, so a nudge
//! about worktree W is judged by W's rules and goes to W's agents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use super::messenger::Messenger;
use crate::config::Config;
use crate::events::EventLog;
use crate::nudge::{History, Policy};
use crate::schedule::Store;

/// What every job needs; one per watcher.
pub struct Ctx {
    pub state: PathBuf,
    pub messenger: Messenger,
    pub stop: Arc<AtomicBool>,
    /// Nudges sent, escalations and resolutions: the input of [`crate::nudge::decide`]. Keyed
    /// by pane, so one history serves every worktree.
    pub history: Mutex<History>,
    /// The worktrees covered now (canonical root -> place), main first in `order`.
    places: Mutex<BTreeMap<PathBuf, Arc<Place>>>,
    order: Mutex<Vec<PathBuf>>,
}

/// One worktree as the message jobs see it.
pub struct Place {
    /// Canonical root (as tmux reports pane directories).
    pub root: PathBuf,
    config: Mutex<Arc<Config>>,
    /// HEAD when last inspected, to see the agent's own commits.
    pub last_head: Mutex<Option<String>>,
}

impl Place {
    pub fn new(root: PathBuf, config: Config) -> Place {
        Place {
            root,
            config: Mutex::new(Arc::new(config)),
            last_head: Mutex::new(None),
        }
    }

    /// The worktree's config as it stands (reloaded when `.gate.toml` changes).
    pub fn config(&self) -> Arc<Config> {
        lock(&self.config).clone()
    }

    pub fn set_config(&self, config: Config) {
        *lock(&self.config) = Arc::new(config);
    }
}

/// A mutex whose holder panicked left plain data behind: keep using it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ctx {
    pub fn new(state: PathBuf, config: &Config) -> Ctx {
        let stop = Arc::new(AtomicBool::new(false));
        let log = EventLog::in_dir(&state);
        let (events, _) = log.read().unwrap_or_default();
        Ctx {
            messenger: Messenger::new(config, stop.clone()),
            history: Mutex::new(History::from_events(&events)),
            state,
            stop,
            places: Mutex::new(BTreeMap::new()),
            order: Mutex::new(Vec::new()),
        }
    }

    pub fn log(&self) -> EventLog {
        EventLog::in_dir(&self.state)
    }

    pub fn store(&self) -> Store {
        Store::in_dir(&self.state)
    }

    pub fn history(&self) -> MutexGuard<'_, History> {
        lock(&self.history)
    }

    /// Records the worktrees covered now, main first.
    pub fn set_places(&self, places: Vec<Arc<Place>>) {
        *lock(&self.order) = places.iter().map(|p| p.root.clone()).collect();
        *lock(&self.places) = places.into_iter().map(|p| (p.root.clone(), p)).collect();
    }

    /// The canonical roots of the worktrees covered now, main first.
    pub fn roots(&self) -> Vec<PathBuf> {
        lock(&self.order).clone()
    }

    pub fn place(&self, root: &Path) -> Option<Arc<Place>> {
        lock(&self.places).get(root).cloned()
    }

    /// The main worktree (or the first one covered), whose config holds the repository-wide
    /// settings (check-in retries, the orchestrator).
    pub fn main(&self) -> Option<Arc<Place>> {
        let first = lock(&self.order).first().cloned()?;
        self.place(&first)
    }

    /// The repository-wide config: the main worktree's.
    pub fn config(&self) -> Arc<Config> {
        self.main()
            .map_or_else(|| Arc::new(Config::default()), |p| p.config())
    }

    pub fn policy(&self, config: &Config) -> Policy {
        Policy {
            cooldown: config.agent.nudge_cooldown.get(),
            escalate_after: config.agent.escalate_after,
        }
    }
}

/// Runs `job`, turning a panic into a log line.
pub fn guarded(what: &str, job: impl FnOnce() -> Vec<String>) -> Vec<String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).unwrap_or_else(|panic| {
        let text = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        vec![format!("{what} failed unexpectedly: {text}")]
    })
}
