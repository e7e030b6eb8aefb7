//! `gate team`: start, inspect and stop a team of agents described in `team.toml`.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};

use anyhow::Context;
use gate::repo::{Repo, worktree};
use gate::team::{self, Team, TeamError, down, status, up};
use gate::tmux::Tmux;
use gate::watch::daemon;

use crate::exit::Usage;
use crate::ui::Ui;

/// Start, inspect and stop a team: an orchestrator, project managers and engineers, each an
/// agent CLI in its own tmux window, each engineer in its own worktree on its feature branch
///
/// The team file (default: team.toml at the repository root) is described in the README,
/// "Teams". GATE_TMUX_SOCKET names another tmux server.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Start what is missing: worktrees, the session, one window per agent, a watcher per
    /// repository; brief each new agent once it is ready. A second `up` adds only what is missing
    Up {
        /// The team file (default: team.toml at the repository root)
        file: Option<PathBuf>,
        /// Print the outcome as JSON
        #[arg(long)]
        json: bool,
    },
    /// Each agent: role, worktree, branch, feature phase, tasks, last commit, alive or dead
    Status {
        /// The team file (default: team.toml at the repository root)
        #[arg(long)]
        file: Option<PathBuf>,
        /// Print JSON: session, running, agents [{name, role, worktree, branch, phase, tasks,
        /// last_commit_age, state, alive, last_activity_age, activity, activity_age,
        /// queued, ...}]
        #[arg(long)]
        json: bool,
    },
    /// Preserve all uncommitted work in every worktree of the team (commit or snapshot), then
    /// stop the agents and the session. Worktrees and branches stay
    Down {
        /// The team file (default: team.toml at the repository root)
        #[arg(long)]
        file: Option<PathBuf>,
        /// Also remove engineers' worktrees whose branch is merged into the trunk and clean
        #[arg(long)]
        remove_worktrees: bool,
        /// Print the outcome as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    match &args.action {
        Action::Up { file, json } => run_up(ui, file.as_deref(), *json),
        Action::Status { file, json } => run_status(ui, file.as_deref(), *json),
        Action::Down {
            file,
            remove_worktrees,
            json,
        } => run_down(ui, file.as_deref(), *remove_worktrees, *json),
    }
}

/// The team file and the repository agents without `repo` work in (the main checkout of the
/// repository gate runs in).
fn load(file: Option<&Path>) -> anyhow::Result<Team> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let main = match Repo::discover(&cwd) {
        Ok(repo) => {
            let list = worktree::list(repo.root()).unwrap_or_default();
            team::place::main_checkout(&list, repo.root())
        }
        Err(e) if file.is_none() => return Err(e.into()),
        Err(_) => cwd.clone(),
    };
    let path = match file {
        Some(f) => cwd.join(f),
        None => main.join(team::FILE_NAME),
    };
    Team::load(&path, &main).map_err(usage)
}

/// Team-file mistakes exit 2.
fn usage(e: TeamError) -> anyhow::Error {
    if e.is_usage() {
        Usage(e.to_string()).into()
    } else {
        e.into()
    }
}

fn run_up(ui: &Ui, file: Option<&Path>, json: bool) -> anyhow::Result<ExitCode> {
    let team = load(file)?;
    let tmux = Tmux::from_env();
    let specify = |repo: &Path, feature: &str| -> Result<(), String> {
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find the gate binary: {e}"))?;
        let out = std::process::Command::new(exe)
            .args(["specify", feature, "--worktree"])
            .current_dir(repo)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run gate specify: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "gate specify {feature:?} --worktree failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    // The watcher's own messages go to stderr so that --json stays one document.
    let quiet = ui.on_stderr();
    let ensure_watcher = |repo: &Path| -> Result<(), String> {
        let repo = Repo::discover(repo).map_err(|e| e.to_string())?;
        let paths = daemon::Paths::in_dir(&repo.state_dir());
        super::watch::start_daemon(&quiet, &repo, &paths)
            .map(drop)
            .map_err(|e| format!("{e:#}"))
    };
    let host = up::Host {
        specify: &specify,
        ensure_watcher: &ensure_watcher,
    };
    let report = up::run(&team, &tmux, &host, &up::UpOptions::default())?;
    // A brief typed but not seen submitted is a problem too: the agent may not have it.
    let unbriefed = |brief: &Option<gate::tmux::Delivery>| brief.is_some_and(|d| !d.as_asked());
    let problems = report
        .agents
        .iter()
        .filter(|a| a.problem.is_some() || unbriefed(&a.brief))
        .count();
    if json {
        ui.json(&report)?;
    } else {
        for a in &report.agents {
            let mark = if a.problem.is_some() || unbriefed(&a.brief) {
                ui.fail_mark()
            } else {
                ui.ok_mark()
            };
            let brief = match (&a.brief, &a.problem) {
                (_, Some(p)) => format!("not briefed: {p}"),
                (Some(d), None) if unbriefed(&a.brief) => format!(
                    "brief typed but not delivered ({d}); look at the pane: {}",
                    ui.code(format!("tmux capture-pane -p -t {}", a.pane))
                ),
                (Some(d), None) => format!("brief {d}"),
                (None, None) => "left as it was".into(),
            };
            let branch = a
                .branch
                .as_deref()
                .map(|b| format!(" on {b}"))
                .unwrap_or_default();
            ui.line(format!(
                "{mark} {} ({}): window {} ({}), {}{branch}; {brief}",
                ui.bold(&a.name),
                a.role,
                a.window,
                a.pane,
                a.root.display()
            ))?;
            for change in &a.trust {
                ui.line(format!("    {change}"))?;
            }
        }
        ui.line(format!(
            "team {} is up in {} ms; attach: {}",
            report.session,
            report.elapsed_ms,
            ui.code(&report.attach)
        ))?;
    }
    Ok(if problems > 0 {
        ExitCode::from(crate::exit::FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn run_status(ui: &Ui, file: Option<&Path>, json: bool) -> anyhow::Result<ExitCode> {
    let team = load(file)?;
    let report = status::gather(&team, &Tmux::from_env(), now())?;
    if json {
        ui.json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    ui.line(format!(
        "team {}: {}",
        ui.bold(&report.session),
        if report.running {
            "running"
        } else {
            "not running (gate team up starts it)"
        }
    ))?;
    let age = |s: Option<i64>| s.map_or_else(|| "-".into(), gate::status::human_age);
    for a in &report.agents {
        let mark = if a.alive {
            ui.ok_mark()
        } else {
            ui.fail_mark()
        };
        let phase = a
            .phase
            .map(|p| format!("{p:?}").to_lowercase())
            .unwrap_or_else(|| "-".into());
        let tasks = a
            .tasks
            .map_or_else(|| "-".into(), |t| format!("{}/{}", t.done, t.total));
        let reported = match (a.activity, a.activity_age) {
            (Some(what), Some(secs)) => format!("  {what} for {}", gate::status::human_age(secs)),
            _ => String::new(),
        };
        let queued = match a.queued {
            0 => String::new(),
            n => format!("  {n} note(s) queued"),
        };
        ui.line(format!(
            "{mark} {:<14} {:<12} {:<6} {}  branch {}  phase {phase}  tasks {tasks}  last commit {} ago  active {} ago{reported}{queued}",
            a.name,
            a.role,
            a.state,
            a.worktree.as_deref().map_or_else(|| "(no worktree yet)".into(), |w| w.display().to_string()),
            a.branch.as_deref().unwrap_or("-"),
            age(a.last_commit_age),
            age(a.last_activity_age),
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_down(ui: &Ui, file: Option<&Path>, remove: bool, json: bool) -> anyhow::Result<ExitCode> {
    let team = load(file)?;
    let report = down::run(&team, &Tmux::from_env(), remove)?;
    if json {
        ui.json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    for p in &report.preserved {
        let what = preserved(&p.outcome);
        ui.line(format!("{} {}: {what}", ui.ok_mark(), p.root.display()))?;
    }
    ui.line(if report.stopped {
        format!(
            "{} stopped session {} (worktrees and branches stay)",
            ui.ok_mark(),
            report.session
        )
    } else {
        format!("session {} was not running", report.session)
    })?;
    for p in &report.preserved_after_stop {
        let what = preserved(&p.outcome);
        ui.line(format!(
            "{} {}: {what} (written as its agent stopped)",
            ui.ok_mark(),
            p.root.display()
        ))?;
    }
    for r in &report.worktrees {
        match &r.kept_because {
            None => ui.line(format!(
                "{} removed worktree {}",
                ui.ok_mark(),
                r.root.display()
            ))?,
            Some(why) => ui.line(format!("kept worktree {}: {why}", r.root.display()))?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What one preserve pass did in a worktree, in a few words.
fn preserved(outcome: &gate::snapshot::Outcome) -> String {
    match outcome {
        gate::snapshot::Outcome::Committed { commit, branch, .. } => {
            format!("committed {} on {branch}", &commit[..commit.len().min(8)])
        }
        gate::snapshot::Outcome::Shadowed {
            commit, refname, ..
        } => format!("snapshot {} ({refname})", &commit[..commit.len().min(8)]),
        _ => "nothing uncommitted".into(),
    }
}
