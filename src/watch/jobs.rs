//! The watcher's messaging work (check-ins, nudges, inspections of edited files) as jobs on
//! the blocking pool: tmux and git calls never run on the async thread, a job's failure (or
//! panic) comes back as log lines, and the watcher goes on.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use super::messenger::Messenger;
use super::{checkin, nudges};
use crate::config::Config;
use crate::events::EventLog;
use crate::nudge::{History, Policy};
use crate::schedule::Store;

/// What every job needs; shared by the watcher loop and its jobs.
pub struct Ctx {
    pub root: PathBuf,
    pub state: PathBuf,
    pub config: Config,
    pub messenger: Messenger,
    pub stop: Arc<AtomicBool>,
    /// Nudges sent, escalations and resolutions: the input of [`crate::nudge::decide`].
    pub history: Mutex<History>,
    /// HEAD when last inspected, to see the agent's own commits.
    pub last_head: Mutex<Option<String>>,
}

impl Ctx {
    pub fn new(root: PathBuf, state: PathBuf, config: Config) -> Ctx {
        let stop = Arc::new(AtomicBool::new(false));
        let log = EventLog::in_dir(&state);
        let (events, _) = log.read().unwrap_or_default();
        Ctx {
            messenger: Messenger::new(&config, stop.clone()),
            history: Mutex::new(History::from_events(&events)),
            last_head: Mutex::new(None),
            root,
            state,
            config,
            stop,
        }
    }

    pub fn log(&self) -> EventLog {
        EventLog::in_dir(&self.state)
    }

    pub fn store(&self) -> Store {
        Store::in_dir(&self.state)
    }

    pub fn policy(&self) -> Policy {
        Policy {
            cooldown: self.config.agent.nudge_cooldown.get(),
            escalate_after: self.config.agent.escalate_after,
        }
    }

    pub fn history(&self) -> std::sync::MutexGuard<'_, History> {
        // A job that panicked while holding it left plain data behind: keep using it.
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A finished job.
pub enum Done {
    /// A check-in attempt ended (delivered, failed, escalated, or nothing to do).
    Checkin {
        id: u64,
        lines: Vec<String>,
    },
    /// An inspection of edited files ended.
    Inspected {
        lines: Vec<String>,
    },
    Nudged {
        lines: Vec<String>,
    },
}

pub fn checkin(set: &mut JoinSet<Done>, ctx: &Arc<Ctx>, id: u64) {
    let ctx = ctx.clone();
    set.spawn_blocking(move || Done::Checkin {
        id,
        lines: guarded("check-in", || checkin::attempt(&ctx, id)),
    });
}

pub fn inspect(set: &mut JoinSet<Done>, ctx: &Arc<Ctx>, paths: Vec<String>) {
    let ctx = ctx.clone();
    set.spawn_blocking(move || Done::Inspected {
        lines: guarded("inspection", || nudges::inspect(&ctx, &paths)),
    });
}

/// One job for all of `requests`, sent in order (an audit may find many slips at once).
pub fn nudge(set: &mut JoinSet<Done>, ctx: &Arc<Ctx>, requests: Vec<nudges::Request>) {
    if requests.is_empty() {
        return;
    }
    let ctx = ctx.clone();
    set.spawn_blocking(move || Done::Nudged {
        lines: guarded("nudge", || {
            requests
                .iter()
                .flat_map(|r| nudges::nudge(&ctx, r, None))
                .collect()
        }),
    });
}

/// Runs `job`, turning a panic into a log line.
fn guarded(what: &str, job: impl FnOnce() -> Vec<String>) -> Vec<String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).unwrap_or_else(|panic| {
        let text = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        vec![format!("{what} failed unexpectedly: {text}")]
    })
}
