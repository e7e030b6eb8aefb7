//! What each agent is doing, as its CLI reports it through its own hooks (`gate agent-hook`):
//! one file per agent, `<git common dir>/gate/agents/<name>.json`, shared by every worktree.
//!
//! The mapping from a CLI's hook event to an [`Activity`] is pure ([`observe`]) so that it is
//! tested with the CLIs' documented payloads. The screen is only a fallback for programs that
//! report nothing: an agent without a state file is judged by its pane as before.
//!
//! Files are replaced whole (a unique temp file renamed into place) under a per-agent lock,
//! so two hook events at once (a Notification racing a Stop) cannot interleave, and a reader
//! never sees half a file. `since` is when the activity last changed; `updated` when any event
//! last arrived.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::queue::file_safe;

/// The directory of state files under gate's state directory.
pub const DIR: &str = "agents";

/// The agent CLIs whose hooks gate understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Cli {
    Claude,
    Codex,
    Gemini,
}

impl Cli {
    pub fn as_str(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
            Cli::Gemini => "gemini",
        }
    }

    /// The CLI a command line starts (its program's file name), if gate knows it.
    pub fn of_command(command: &str) -> Option<Cli> {
        let program = command.split_whitespace().next()?;
        match Path::new(program).file_name()?.to_str()? {
            "claude" => Some(Cli::Claude),
            "codex" => Some(Cli::Codex),
            "gemini" => Some(Cli::Gemini),
            _ => None,
        }
    }
}

/// What an agent is doing. Field values are read by `--json` consumers: add, never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activity {
    /// A prompt was submitted; the turn is running. Typing now would interrupt it (Codex drops
    /// the answer it was streaming) or queue behind it.
    Working,
    /// The turn ended: the agent waits for its next instruction. The moment to deliver.
    Idle,
    /// A permission prompt or question is open: typing would answer it.
    NeedsInput,
    /// The turn ended on an API error or a usage limit.
    Failed,
    /// The session ended (the CLI exited or cleared).
    Gone,
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Working => "working",
            Activity::Idle => "idle",
            Activity::NeedsInput => "needs-input",
            Activity::Failed => "failed",
            Activity::Gone => "gone",
        }
    }

    /// May a note be typed into the agent's pane now?
    pub fn accepts_input(self) -> bool {
        matches!(self, Activity::Idle | Activity::Failed)
    }
}

/// One hook event, read: what the agent is doing now and what the CLI said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub activity: Activity,
    /// The event as the CLI names it (`Stop`, `Notification`, `agent-turn-complete`, ...).
    pub event: String,
    /// The CLI's words, when it gave any (a notification's message, an error, an end reason).
    pub detail: Option<String>,
    /// Set when the turn stopped on a usage limit or rate limit: a resume check-in is due.
    pub limited: bool,
    pub session: Option<String>,
    pub cwd: Option<PathBuf>,
}

/// Reads one hook event of `cli` (`event` is the name gate's hook command was installed
/// with, the payload what the CLI passed). `None` for events that say nothing about activity
/// (a SessionStart, an auth notification).
pub fn observe(cli: Cli, event: &str, payload: &Value) -> Option<Observation> {
    let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_owned);
    let named = text("hook_event_name")
        .or_else(|| text("type"))
        .unwrap_or_else(|| event.to_owned());
    let key = event.to_ascii_lowercase().replace(['-', '_'], "");
    let (activity, detail) = match (cli, key.as_str()) {
        (_, "userpromptsubmit" | "beforeagent") => (Activity::Working, None),
        (Cli::Codex, "notify") => match text("type").as_deref() {
            Some("agent-turn-complete") => (Activity::Idle, text("last-assistant-message")),
            _ => return None,
        },
        (_, "stop" | "afteragent") => (Activity::Idle, None),
        (_, "stopfailure") => (
            Activity::Failed,
            text("error")
                .or_else(|| text("error_type"))
                .or_else(|| text("message")),
        ),
        (_, "notification") => {
            let kind = text("notification_type")
                .or_else(|| text("type"))
                .unwrap_or_default();
            let message = text("message");
            match kind.as_str() {
                // Claude: waiting for the person after a finished turn; not a question.
                "idle_prompt" => (Activity::Idle, message),
                "auth_success" => return None,
                _ => (Activity::NeedsInput, message),
            }
        }
        (_, "sessionend") => (Activity::Gone, text("reason").or_else(|| text("trigger"))),
        // A new or resumed session waits for its first prompt. Not after a compaction:
        // Claude compacts in the middle of a turn too.
        (_, "sessionstart") => match text("source").or_else(|| text("trigger")).as_deref() {
            Some("compact") => return None,
            source => (Activity::Idle, source.map(str::to_owned)),
        },
        _ => return None,
    };
    let limited = activity == Activity::Failed && detail.as_deref().is_some_and(is_limit);
    Some(Observation {
        activity,
        event: named,
        detail: detail.map(|d| one_line(&d, 300)),
        limited,
        session: text("session_id")
            .or_else(|| text("thread-id"))
            .or_else(|| text("thread_id")),
        cwd: text("cwd").map(PathBuf::from),
    })
}

/// Does an error text name a usage or rate limit (a stop worth resuming later)?
pub fn is_limit(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "rate_limit",
        "rate limit",
        "usage limit",
        "usage_limit",
        "quota",
        "overloaded",
        "429",
    ]
    .iter()
    .any(|k| t.contains(k))
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

/// An agent's recorded state. Field names are read by `--json` consumers: add, never rename.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    pub agent: String,
    pub cli: Cli,
    pub activity: Activity,
    /// When `activity` last changed (Unix seconds).
    pub since: i64,
    /// When the last event arrived (Unix seconds).
    pub updated: i64,
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The tmux pane the CLI runs in (`$TMUX_PANE`), and its server's socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pane: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
}

impl AgentState {
    /// Seconds in the current activity at `now`.
    pub fn for_secs(&self, now: i64) -> i64 {
        now.saturating_sub(self.since).max(0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where the hook found itself: which agent, in which pane of which server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whereabouts {
    pub agent: String,
    pub pane: Option<String>,
    pub socket: Option<PathBuf>,
}

/// What [`States::record`] wrote, and the activity it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub state: AgentState,
    pub before: Option<Activity>,
}

impl Recorded {
    /// Did the activity change (or is this the agent's first report)?
    pub fn changed(&self) -> bool {
        self.before != Some(self.state.activity)
    }
}

/// The state files of one repository.
#[derive(Debug, Clone)]
pub struct States {
    dir: PathBuf,
}

impl States {
    /// The states of gate's state directory (`<git common dir>/gate`).
    pub fn in_dir(state: &Path) -> States {
        States {
            dir: state.join(DIR),
        }
    }

    fn path(&self, agent: &str) -> PathBuf {
        self.dir.join(format!("{}.json", file_safe(agent)))
    }

    /// The recorded state of `agent`; `None` when it never reported (or the file is not
    /// gate's: state files are only ever written whole).
    pub fn read(&self, agent: &str) -> Option<AgentState> {
        read_state(&self.path(agent))
    }

    /// Every recorded state, by agent name.
    pub fn all(&self) -> Vec<AgentState> {
        let Ok(read) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut all: Vec<AgentState> = read
            .flatten()
            .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".json")))
            .filter_map(|e| read_state(&e.path()))
            .collect();
        all.sort_by(|a, b| a.agent.cmp(&b.agent));
        all
    }

    /// The state of the agent known by `name`, else the one that last reported from `pane`
    /// on the server at `socket` (an unmarked agent is named by its pane).
    pub fn find(&self, name: &str, pane: &str, socket: &Path) -> Option<AgentState> {
        self.read(name).or_else(|| {
            self.all().into_iter().find(|s| {
                s.pane.as_deref() == Some(pane) && s.socket.as_deref().is_none_or(|p| p == socket)
            })
        })
    }

    /// Records `seen` for the agent at `at`, at `now`; returns the state written and the
    /// activity before it.
    pub fn record(
        &self,
        cli: Cli,
        at: &Whereabouts,
        seen: &Observation,
        now: i64,
    ) -> Result<Recorded, StateError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io("create", &self.dir, e))?;
        let lock = self.dir.join(format!(".{}.lock", file_safe(&at.agent)));
        let _held = crate::statefile::hold(&lock, Duration::from_secs(2))
            .map_err(|e| io("lock", &lock, e))?;
        let path = self.path(&at.agent);
        let before = read_state(&path);
        let since = match &before {
            Some(b) if b.activity == seen.activity => b.since,
            _ => now,
        };
        let state = AgentState {
            agent: at.agent.clone(),
            cli,
            activity: seen.activity,
            since,
            updated: now,
            event: seen.event.clone(),
            detail: seen.detail.clone(),
            pane: at.pane.clone().or_else(|| before.as_ref()?.pane.clone()),
            socket: at
                .socket
                .clone()
                .or_else(|| before.as_ref()?.socket.clone()),
            session: seen
                .session
                .clone()
                .or_else(|| before.as_ref()?.session.clone()),
            cwd: seen.cwd.clone().or_else(|| before.as_ref()?.cwd.clone()),
        };
        let mut bytes = serde_json::to_vec_pretty(&state).expect("a state always serialises");
        bytes.push(b'\n');
        write_whole(&self.dir, &path, &bytes).map_err(|e| io("write", &path, e))?;
        Ok(Recorded {
            before: before.map(|b| b.activity),
            state,
        })
    }
}

fn read_state(path: &Path) -> Option<AgentState> {
    let bytes = crate::statefile::read(path).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// A unique temp file in `dir`, synced, renamed over `path`.
fn write_whole(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = tempfile::Builder::new().prefix(".state").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn io(what: &'static str, path: &Path, source: std::io::Error) -> StateError {
    StateError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests;
