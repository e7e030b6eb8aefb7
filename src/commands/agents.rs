//! `gate agents`: the agents gate knows (name, role, worktree, and why each is one), and
//! `gate agents mark` / `unmark` to tell gate who works in a pane.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gate::agents::queue::Queue;
use gate::agents::state::{AgentState, States};
use gate::agents::{self, Discovery, Why};
use gate::config::Config;
use gate::tmux::{Tmux, TmuxError};
use serde::Serialize;

use crate::exit::Refused;
use crate::project::Project;
use crate::ui::Ui;

/// List the agents of this repository's worktrees: where nudges go, and why
///
/// A pane is an agent when gate knows it: marked with `gate agents mark`, running a known agent
/// CLI (agent.clis in .gate.toml: claude, codex, gemini, aider), or named by agent.target.
/// A plain shell is never an agent, whatever its directory. Each agent belongs to the worktree
/// it works in, and hears only about that worktree. GATE_TMUX_SOCKET names another tmux server.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// Print JSON: root, mode, worktrees, agents (pane, target, name, role, worktree, why, ...),
    /// ignored (panes in the worktrees that are not agents, and why)
    #[arg(long)]
    pub json: bool,
    /// Every agent on the tmux server, not only this repository's
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Mark a pane as an agent (kept by tmux as the pane option @gate-agent, so it survives
    /// gate restarts and ends with the pane)
    Mark {
        /// The pane: session:window[.pane], a window name, or a pane id like %3
        target: String,
        /// Who works there, e.g. "eng-auth"
        #[arg(long)]
        name: String,
        /// Their role, e.g. engineer, pm, orchestrator
        #[arg(long)]
        role: Option<String>,
    },
    /// Remove the mark from a pane: it is an agent again only if it runs a known agent CLI
    Unmark {
        /// The pane: session:window[.pane], a window name, or a pane id like %3
        target: String,
    },
}

/// The `--json` document. Field names are a public interface: add, never rename.
#[derive(Serialize)]
struct Report<'a> {
    /// This worktree's root, when run inside a repository.
    root: Option<&'a Path>,
    /// `configured` (agent.target) or `auto`.
    mode: &'static str,
    worktrees: &'a [PathBuf],
    agents: Vec<AgentView<'a>>,
    ignored: Vec<IgnoredView<'a>>,
    /// Why the list is empty when tmux could not be asked (no server, target missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Serialize)]
struct AgentView<'a> {
    pane: &'a str,
    target: String,
    name: &'a str,
    role: Option<&'a str>,
    worktree: Option<&'a Path>,
    window: &'a str,
    command: &'a str,
    path: &'a Path,
    pid: u32,
    /// `configured`, `marked` or `agent-cli`.
    why: &'static str,
    /// In words, e.g. "runs claude".
    reason: String,
    /// What its CLI last reported through gate's hooks (`gate agent-hook`); absent for
    /// programs that report nothing (then only the screen tells).
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<AgentState>,
    /// Notes (check-ins, nudges) waiting for its turn to end.
    queued: usize,
}

#[derive(Serialize)]
struct IgnoredView<'a> {
    pane: &'a str,
    target: String,
    command: &'a str,
    worktree: &'a Path,
    reason: &'a str,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let tmux = Tmux::from_env();
    match &args.action {
        Some(Action::Mark { target, name, role }) => mark(ui, &tmux, target, name, role.as_deref()),
        Some(Action::Unmark { target }) => {
            let pane = tmux.resolve(target)?;
            tmux.unmark(&pane)?;
            ui.line(format!(
                "{} {} ({}) is no longer marked as an agent",
                ui.ok_mark(),
                pane.target(),
                pane.id
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        None => list(args, ui, &tmux),
    }
}

fn mark(
    ui: &Ui,
    tmux: &Tmux,
    target: &str,
    name: &str,
    role: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let name = agents::valid_label(name).map_err(|e| Refused(format!("--name {e}")))?;
    let role = role
        .map(agents::valid_label)
        .transpose()
        .map_err(|e| Refused(format!("--role {e}")))?;
    let pane = tmux.resolve(target)?;
    tmux.mark(&pane, name, role)?;
    let role_text = role.map(|r| format!(", role {r}")).unwrap_or_default();
    ui.line(format!(
        "{} {} ({}) is the agent {name}{role_text}; it works in {}",
        ui.ok_mark(),
        pane.target(),
        pane.id,
        pane.path.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn list(args: &Args, ui: &Ui, tmux: &Tmux) -> anyhow::Result<ExitCode> {
    // Outside a repository: every agent on the server, none in a worktree.
    let (root, config, worktrees, state_dir) = match Project::open() {
        Ok(p) => {
            let root =
                std::fs::canonicalize(p.repo.root()).unwrap_or_else(|_| p.repo.root().to_owned());
            let worktrees = agents::worktree_roots(p.repo.root());
            (Some(root), p.config, worktrees, Some(p.repo.state_dir()))
        }
        Err(_) => (None, Config::default(), Vec::new(), None),
    };
    let told = Told::of(state_dir.as_deref());
    let configured = !config.agent.target.trim().eq_ignore_ascii_case("auto");
    let (found, note) = match agents::discover(tmux, &config, &worktrees) {
        Ok(found) => (found, None),
        Err(e) => (Discovery::default(), Some(unavailable(e, &config)?)),
    };
    let everyone = args.all || root.is_none();
    let shown: Vec<&agents::Agent> = found
        .agents
        .iter()
        .filter(|a| everyone || configured || a.worktree.is_some())
        .collect();
    if args.json {
        ui.json(&Report {
            root: root.as_deref(),
            mode: if configured { "configured" } else { "auto" },
            worktrees: &worktrees,
            agents: shown.iter().map(|a| view(a, &told)).collect(),
            ignored: found
                .ignored
                .iter()
                .map(|i| IgnoredView {
                    pane: &i.pane.id,
                    target: i.pane.target(),
                    command: &i.pane.command,
                    worktree: &i.worktree,
                    reason: &i.reason,
                })
                .collect(),
            note,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(note) = &note {
        ui.warn(note);
    }
    if shown.is_empty() && note.is_none() {
        ui.line(ui.dim(format!(
            "no agents{}: mark the pane an agent works in (gate agents mark TARGET --name NAME), \
             or run a known agent CLI ({})",
            if everyone {
                ""
            } else {
                " in this repository's worktrees"
            },
            config.agent.clis.join(", ")
        )))?;
    }
    if !shown.is_empty() {
        ui.line(ui.dim(format!(
            "{:<5} {:<20} {:<16} {:<12} {:<18} {}  {}",
            "pane", "target (window)", "name", "role", "state", "worktree", "why"
        )))?;
    }
    for a in &shown {
        let worktree = a
            .worktree
            .as_deref()
            .map_or_else(|| "-".to_owned(), |w| w.display().to_string());
        ui.line(format!(
            "{:<5} {:<20} {:<16} {:<12} {:<18} {}  {}",
            a.pane.id,
            format!("{} ({})", a.pane.target(), a.pane.window_name),
            a.name,
            a.role.as_deref().unwrap_or("-"),
            told.describe(a),
            ui.dim(worktree),
            a.why.describe()
        ))?;
    }
    for i in &found.ignored {
        ui.line(ui.dim(format!(
            "{:<5} {:<20} not an agent: {}",
            i.pane.id,
            format!("{} ({})", i.pane.target(), i.pane.window_name),
            i.reason
        )))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What the agents' hooks and the delivery queue say, for one repository.
struct Told {
    states: Option<States>,
    queue: Option<Queue>,
    now: i64,
}

impl Told {
    fn of(state_dir: Option<&Path>) -> Told {
        Told {
            states: state_dir.map(States::in_dir),
            queue: state_dir.map(Queue::in_dir),
            now: jiff::Timestamp::now().as_second(),
        }
    }

    fn state(&self, a: &agents::Agent) -> Option<AgentState> {
        self.states
            .as_ref()?
            .find(&a.name, &a.pane.id, &a.pane.socket_path)
    }

    fn queued(&self, a: &agents::Agent) -> usize {
        self.queue
            .as_ref()
            .and_then(|q| q.pending(&a.name).ok())
            .map_or(0, |p| p.len())
    }

    /// E.g. `working 3m`, `needs-input 12m +2` (two notes wait), `-` when nothing reported.
    fn describe(&self, a: &agents::Agent) -> String {
        let queued = match self.queued(a) {
            0 => String::new(),
            n => format!(" +{n}"),
        };
        match self.state(a) {
            Some(s) => format!(
                "{} {}{queued}",
                s.activity.as_str(),
                gate::schedule::human(std::time::Duration::from_secs(s.for_secs(self.now) as u64))
            ),
            None => format!("-{queued}"),
        }
    }
}

fn view<'a>(a: &'a agents::Agent, told: &Told) -> AgentView<'a> {
    AgentView {
        pane: &a.pane.id,
        target: a.pane.target(),
        name: &a.name,
        role: a.role.as_deref(),
        worktree: a.worktree.as_deref(),
        window: &a.pane.window_name,
        command: &a.pane.command,
        path: &a.pane.path,
        pid: a.pane.pid,
        why: a.why.kind(),
        reason: match &a.why {
            Why::Configured => format!("configured (agent.target = {:?})", a.pane.target()),
            other => other.describe(),
        },
        state: told.state(a),
        queued: told.queued(a),
    }
}

/// A tmux answer that means "no agents" (said in a note), or a failure worth an error.
fn unavailable(error: TmuxError, config: &Config) -> anyhow::Result<String> {
    let target = config.agent.target.trim();
    match error {
        TmuxError::NoTarget { .. } | TmuxError::Ambiguous { .. } => {
            Ok(format!("agent.target {target:?} in .gate.toml: {error}"))
        }
        TmuxError::NoServer { .. } => Ok(error.to_string()),
        other => Err(other.into()),
    }
}
