//! `gate agents`: the panes gate treats as this project's agents, and why.

use std::path::Path;
use std::process::ExitCode;

use gate::tmux::{Pane, Tmux, TmuxError, agents_in, own_pane};
use serde::Serialize;

use crate::project::Project;
use crate::ui::Ui;

/// List the tmux panes gate treats as this project's agents (where nudges go), and why
///
/// With agent.target set in .gate.toml, that pane; with "auto" (the default), every pane whose
/// current directory is inside this repository, except the pane gate itself runs in.
/// GATE_TMUX_SOCKET names another tmux server (a socket name, or a path).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the list as JSON: root, mode, agents (pane, target, window, command, path, pid, why)
    #[arg(long)]
    pub json: bool,
}

/// The `--json` document. Field names are a public interface: add, never rename.
#[derive(Serialize)]
struct Report<'a> {
    root: &'a Path,
    /// `configured` (agent.target) or `auto`.
    mode: &'static str,
    agents: Vec<Agent<'a>>,
    /// Why the list is empty when tmux could not be asked (no server, target missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Serialize)]
struct Agent<'a> {
    pane: &'a str,
    target: String,
    window: &'a str,
    command: &'a str,
    path: &'a Path,
    pid: u32,
    /// `configured` or `cwd-inside-repo`.
    why: &'static str,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let root = std::fs::canonicalize(project.repo.root())
        .unwrap_or_else(|_| project.repo.root().to_owned());
    let target = project.config.agent.target.trim();
    let configured = !target.eq_ignore_ascii_case("auto");
    let tmux = Tmux::from_env();
    let (panes, why, note) = if configured {
        match tmux.resolve(target) {
            Ok(pane) => (vec![pane], "configured", None),
            Err(e) => {
                let note = format!("agent.target {target:?} in .gate.toml: {}", unavailable(e)?);
                (vec![], "configured", Some(note))
            }
        }
    } else {
        match tmux.panes() {
            Ok(panes) => (auto(&panes, &root), "cwd-inside-repo", None),
            Err(e) => (vec![], "cwd-inside-repo", Some(unavailable(e)?)),
        }
    };
    let agents: Vec<Agent> = panes
        .iter()
        .map(|p| Agent {
            pane: &p.id,
            target: p.target(),
            window: &p.window_name,
            command: &p.command,
            path: &p.path,
            pid: p.pid,
            why,
        })
        .collect();
    if args.json {
        ui.json(&Report {
            root: &root,
            mode: if configured { "configured" } else { "auto" },
            agents,
            note,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(note) = &note {
        ui.warn(note);
    }
    if agents.is_empty() && note.is_none() {
        ui.line(ui.dim(format!(
            "no agent panes: no tmux pane works inside {} (or set agent.target in .gate.toml)",
            root.display()
        )))?;
    }
    let reason = match configured {
        true => format!("configured (agent.target = {target:?})"),
        false => "cwd inside repo".to_owned(),
    };
    for a in &agents {
        ui.line(format!(
            "{:<5} {:<20} {:<12} {}  {}",
            a.pane,
            format!("{} ({})", a.target, a.window),
            a.command,
            ui.dim(a.path.display()),
            reason
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The panes inside `root`, minus the one this process runs in.
fn auto(panes: &[Pane], root: &Path) -> Vec<Pane> {
    let own = panes.first().and_then(|p| {
        own_pane(
            std::env::var("TMUX").ok().as_deref(),
            std::env::var("TMUX_PANE").ok().as_deref(),
            &p.socket_path,
        )
    });
    agents_in(panes, root, own.as_deref())
        .into_iter()
        .cloned()
        .collect()
}

/// A tmux answer that means "no agents" (said in a note), or a failure worth an error.
fn unavailable(error: TmuxError) -> anyhow::Result<String> {
    match error {
        TmuxError::NoServer { .. } | TmuxError::NoTarget { .. } | TmuxError::Ambiguous { .. } => {
            Ok(error.to_string())
        }
        other => Err(other.into()),
    }
}
