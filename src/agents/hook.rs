//! One hook event from an agent CLI (`gate agent-hook <cli> <event>`): who sent it, what it
//! means ([`super::state::observe`]), recorded; then what the event's turn boundary allows:
//! at Claude Code's Stop, waiting notes are handed back ([`super::queue::handback`]); at a
//! usage-limit stop, a check-in to resume is scheduled once.
//!
//! A hook must never get in the agent's way: every failure here is reported on stderr by the
//! caller and the hook still exits 0, and nothing waits on anything slower than one tmux call,
//! itself bounded ([`TMUX_TIMEOUT`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::queue::{Queue, handback, kinds};
use super::state::{Activity, Cli, Observation, Recorded, States, Whereabouts};
use crate::config::Config;
use crate::events::{Event, EventLog};
use crate::tmux::{Socket, Tmux};

/// The environment a hook runs in, read once (tests pass their own).
#[derive(Debug, Clone, Default)]
pub struct HookEnv {
    /// `GATE_AGENT`: the agent's name, when whoever started it said so.
    pub agent: Option<String>,
    /// `TMUX` (`socket,pid,session`) and `TMUX_PANE`, inherited from the agent's pane.
    pub tmux: Option<String>,
    pub pane: Option<String>,
}

impl HookEnv {
    pub fn from_env() -> HookEnv {
        let var = |k| {
            std::env::var(k)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        HookEnv {
            agent: var("GATE_AGENT"),
            tmux: var("TMUX"),
            pane: var("TMUX_PANE"),
        }
    }

    /// The tmux server's socket from `TMUX`.
    fn socket(&self) -> Option<PathBuf> {
        let mut parts = self.tmux.as_deref()?.rsplitn(3, ',');
        let (_session, _pid, socket) = (parts.next()?, parts.next()?, parts.next()?);
        Some(PathBuf::from(socket))
    }
}

/// The bound on each tmux call a hook makes. A healthy server answers in milliseconds; one
/// that is wedged (stopped, or its socket held by something that never answers) would
/// otherwise hold every turn of the agent for tmux's default 10 s.
const TMUX_TIMEOUT: Duration = Duration::from_millis(1000);

/// What the hook prints on stdout, if anything (the CLI reads it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookAnswer {
    pub stdout: Option<String>,
    /// The state recorded, `None` when the event says nothing about activity or the directory
    /// is not in a git repository.
    pub recorded: Option<Recorded>,
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(transparent)]
    State(#[from] super::state::StateError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// Handles one event of `cli`, named `event` when installed, with the CLI's `payload`, for
/// the agent working in `cwd`.
pub fn handle(
    cli: Cli,
    event: &str,
    payload: &Value,
    cwd: &Path,
    env: &HookEnv,
) -> Result<HookAnswer, HookError> {
    let quiet = HookAnswer {
        stdout: protocol_silence(cli),
        recorded: None,
    };
    let Some(seen) = super::state::observe(cli, event, payload) else {
        return Ok(quiet);
    };
    let dir = seen
        .cwd
        .clone()
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| cwd.to_owned());
    let Ok(repo) = crate::repo::Repo::discover(&dir) else {
        return Ok(quiet);
    };
    let state_dir = repo.state_dir();
    let config = Config::load(repo.root())?;
    let at = whereabouts(cli, env);
    let now = jiff::Timestamp::now().as_second();
    let mut seen = seen;
    let mut stdout = protocol_silence(cli);
    // Handed back before the turn's end is recorded: a watcher that saw "idle" first would
    // type the same notes into the pane (the claims keep it to one of the two, but the
    // agent should get them the quiet way).
    if cli == Cli::Claude && event.eq_ignore_ascii_case("stop") {
        let max = config.delivery.handbacks;
        if let Some(block) = handback::handback(&state_dir, &at.agent, payload, max) {
            // The turn goes on with the notes: the agent is working, not waiting.
            seen.activity = Activity::Working;
            seen.event = "Stop (notes handed back)".into();
            stdout = Some(block);
        }
    }
    let states = States::in_dir(&state_dir);
    let recorded = states.record(cli, &at, &seen, now)?;
    if recorded.changed() {
        log_change(&EventLog::in_dir(&state_dir), &recorded, &seen);
    }
    if seen.limited {
        schedule_resume(&state_dir, &config, &recorded, &at, env);
    }
    Ok(HookAnswer {
        stdout,
        recorded: Some(recorded),
    })
}

/// Gemini CLI parses a hook's stdout as JSON: an empty object says "nothing to add".
fn protocol_silence(cli: Cli) -> Option<String> {
    (cli == Cli::Gemini).then(|| "{}".to_owned())
}

/// Who the hook speaks for: `GATE_AGENT`, else the pane's mark (`@gate-agent`), else the pane
/// id, else the CLI's name (an agent outside tmux, the only one of its kind).
pub fn whereabouts(cli: Cli, env: &HookEnv) -> Whereabouts {
    let socket = env.socket();
    let pane = env.pane.clone().filter(|p| p.starts_with('%'));
    let mark = match (&socket, &pane, &env.agent) {
        (Some(s), Some(p), None) => pane_mark(s, p),
        _ => None,
    };
    let agent = env
        .agent
        .clone()
        .or(mark)
        .or_else(|| pane.clone())
        .unwrap_or_else(|| cli.as_str().to_owned());
    Whereabouts {
        agent,
        pane,
        socket,
    }
}

fn pane_mark(socket: &Path, pane: &str) -> Option<String> {
    let tmux = Tmux::new(Socket::Path(socket.to_owned())).with_timeout(TMUX_TIMEOUT);
    let format = format!("#{{{}}}", crate::tmux::MARK_OPTION);
    let out = tmux
        .run(&["display-message", "-p", "-t", pane, &format])
        .ok()?;
    Some(out.trim().to_owned()).filter(|m| !m.is_empty())
}

fn log_change(log: &EventLog, recorded: &Recorded, seen: &Observation) {
    let s = &recorded.state;
    let mut e = Event::now("agent-state");
    let before = recorded.before.map_or("unknown", Activity::as_str);
    e.detail = format!(
        "{}: {before} -> {} ({} {}){}",
        s.agent,
        s.activity.as_str(),
        s.cli.as_str(),
        seen.event,
        s.detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    );
    let _ = log.append(&e);
}

/// After a usage-limit stop: one check-in (per stop) to the agent's pane, `resume_after` from
/// now, saying what happened. Without a pane there is nowhere to deliver it.
fn schedule_resume(
    state_dir: &Path,
    config: &Config,
    recorded: &Recorded,
    at: &Whereabouts,
    env: &HookEnv,
) {
    let (Some(pane), Some(socket)) = (&at.pane, &at.socket) else {
        return;
    };
    let s = &recorded.state;
    let queue = Queue::in_dir(state_dir);
    if !queue
        .mark_once(&s.agent, &format!("resume-{}", s.since))
        .unwrap_or(false)
    {
        return;
    }
    let tmux = Tmux::new(Socket::Path(socket.clone())).with_timeout(TMUX_TIMEOUT);
    let pid = tmux
        .run(&["display-message", "-p", "-t", pane, "#{pane_pid}"])
        .ok()
        .and_then(|o| o.trim().parse().ok());
    let after = config.delivery.resume_after.get();
    let now = jiff::Timestamp::now();
    let note = format!(
        "[gate] Your last turn stopped on a limit ({}). If the limit has passed, resume where \
         you left off: run `gate status`, then continue your current task.",
        s.detail.as_deref().unwrap_or("usage or rate limit")
    );
    let checkin = crate::schedule::Checkin {
        id: 0,
        due: crate::schedule::due_in(now, after),
        target: pane.clone(),
        pane: Some(pane.clone()),
        pane_pid: pid,
        socket: Some(socket.clone()),
        note,
        origin: format!("gate agent-hook ({})", env.pane.as_deref().unwrap_or("?")),
        created: jiff::Timestamp::from_second(now.as_second()).unwrap_or(now),
        every: None,
        attempts: 0,
        state: crate::schedule::State::Pending,
        retry_at: None,
        last_error: None,
    };
    let store = crate::schedule::Store::in_dir(state_dir);
    if let Ok((id, _)) = store.update(|sched| (true, sched.add(checkin))) {
        let mut e = Event::now(kinds::RESUME);
        e.detail = format!(
            "{}: stopped on a limit; check-in {id} in {} to resume",
            s.agent,
            crate::schedule::human(after)
        );
        let _ = EventLog::in_dir(state_dir).append(&e);
    }
}
