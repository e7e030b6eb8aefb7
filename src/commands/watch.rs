//! `gate watch`: the per-project watcher, in the foreground or as a daemon.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use gate::repo::Repo;
use gate::watch::{self, daemon};
use serde::Serialize;

use crate::exit::Refused;
use crate::ui::Ui;

/// Watch this repository and every linked worktree: auto-commit work on feature branches every
/// commit.interval once files are quiet, preserve it as a snapshot where a commit is not
/// allowed, and audit what slipped past the hooks. One watcher per repository, started from any
/// of its worktrees. Runs in the foreground unless --daemon.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Start detached (one per repository); logs to <git dir>/gate/watch.log
    #[arg(long, conflicts_with_all = ["stop", "status"])]
    pub daemon: bool,
    /// Stop the running watcher gracefully (a commit in flight is finished first)
    #[arg(long, conflicts_with = "status")]
    pub stop: bool,
    /// Is a watcher running? pid, since when, last decision, and the worktrees it covers
    #[arg(long)]
    pub status: bool,
    /// With --status: print JSON
    #[arg(long, requires = "status")]
    pub json: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let repo = Repo::discover(&cwd)?;
    let paths = daemon::Paths::in_dir(&repo.state_dir());
    if args.status {
        return status(ui, &repo, &paths, args.json);
    }
    if args.stop {
        return match daemon::stop(&paths, Duration::from_secs(30))? {
            Some(pid) if !daemon::is_running(&paths) => {
                ui.line(format!("{} stopped the watcher (pid {pid})", ui.ok_mark()))?;
                Ok(ExitCode::SUCCESS)
            }
            Some(pid) => {
                Err(Refused(format!("the watcher (pid {pid}) did not stop within 30 s")).into())
            }
            None => {
                ui.line("no watcher is running")?;
                Ok(ExitCode::SUCCESS)
            }
        };
    }
    if args.daemon {
        return start_daemon(ui, &repo, &paths);
    }
    gate::config::Config::load(repo.root())?;
    watch::run(repo.root(), Arc::new(StderrReporter))?;
    Ok(ExitCode::SUCCESS)
}

/// Starts the watcher detached; shared with `gate init --start` and `gate schedule`.
pub fn start_daemon(ui: &Ui, repo: &Repo, paths: &daemon::Paths) -> anyhow::Result<ExitCode> {
    if daemon::is_running(paths) {
        let status = daemon::read_status(paths);
        let pid = status
            .as_ref()
            .map(|s| s.pid.to_string())
            .unwrap_or_else(|| "?".into());
        ui.line(format!(
            "{} a watcher is already running (pid {pid}); {}",
            ui.ok_mark(),
            coverage(repo, status.as_ref())
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    std::fs::create_dir_all(repo.state_dir())?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.log)
        .with_context(|| format!("cannot open {}", paths.log.display()))?;
    let exe = std::env::current_exe().context("cannot find the gate binary")?;
    // It runs in the main checkout: a linked worktree it was started from may be removed
    // while it runs.
    let home = gate::repo::worktree::list(repo.root())
        .ok()
        .and_then(|l| l.into_iter().find(|w| w.is_live()))
        .map_or_else(|| repo.root().to_owned(), |w| w.root);
    let mut child = std::process::Command::new(exe)
        .arg("watch")
        .current_dir(&home)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a Ctrl-C in the starting terminal does not reach it.
        .process_group(0)
        // A detached watcher runs in no pane: the starting pane is an agent like any other.
        .env_remove("TMUX_PANE")
        .spawn()
        .context("cannot start the watcher")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(exit) = child.try_wait()? {
            let tail = std::fs::read_to_string(&paths.log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            anyhow::bail!("the watcher exited at once ({exit}):\n{}", tail.join("\n"));
        }
        // Started once it watches (past "starting"), or at the deadline if it is ours.
        let ours = daemon::read_status(paths).filter(|s| s.pid == child.id());
        let watching = ours.as_ref().is_some_and(|s| s.mode != "starting");
        if daemon::is_running(paths)
            && (watching
                || (ours.is_some() && Instant::now() + Duration::from_millis(50) >= deadline))
        {
            ui.line(format!(
                "{} watcher started (pid {}); log: {}",
                ui.ok_mark(),
                child.id(),
                paths.log.display()
            ))?;
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    anyhow::bail!(
        "the watcher did not report in within 10 s; see {}",
        paths.log.display()
    )
}

/// This worktree's root, canonical (as the watcher lists worktrees).
fn here(repo: &Repo) -> std::path::PathBuf {
    std::fs::canonicalize(repo.root()).unwrap_or_else(|_| repo.root().to_owned())
}

/// Whether the running watcher covers this worktree, in words.
fn coverage(repo: &Repo, status: Option<&daemon::Status>) -> String {
    let here = here(repo);
    match status {
        Some(s) if s.worktrees.iter().any(|w| w.root == here) => format!(
            "it covers this worktree ({}) and {} other(s)",
            here.display(),
            s.worktrees.len() - 1
        ),
        // Added a moment ago: the watcher picks it up from <common dir>/worktrees/.
        Some(_) => format!(
            "it picks up this worktree ({}) within a second",
            here.display()
        ),
        None => "it covers every worktree of this repository".into(),
    }
}

#[derive(Serialize)]
struct StatusReport {
    running: bool,
    /// The worktree this was asked from.
    here: std::path::PathBuf,
    /// Whether the running watcher lists `here` among its worktrees.
    covers_here: bool,
    #[serde(flatten)]
    status: Option<daemon::Status>,
}

fn status(ui: &Ui, repo: &Repo, paths: &daemon::Paths, json: bool) -> anyhow::Result<ExitCode> {
    let running = daemon::is_running(paths);
    let status = daemon::read_status(paths).filter(|_| running);
    let here = here(repo);
    let covers_here = status
        .as_ref()
        .is_some_and(|s| s.worktrees.iter().any(|w| w.root == here));
    if json {
        ui.json(&StatusReport {
            running,
            here,
            covers_here,
            status,
        })?;
    } else if let Some(s) = &status {
        ui.line(format!(
            "{} watcher running (pid {}) since {}, {} mode, {} watches, {} worktree(s)",
            ui.ok_mark(),
            s.pid,
            s.since,
            s.mode,
            s.watches,
            s.worktrees.len()
        ))?;
        if let Some(d) = &s.last_decision {
            ui.line(format!(
                "  last decision at {}: {d}",
                s.last_decision_at.as_deref().unwrap_or("?")
            ))?;
        }
        for w in &s.worktrees {
            let mark = if w.root == here { "*" } else { " " };
            ui.line(format!(
                "{mark} {}  {}  {} mode, {} watches, {} pending",
                w.root.display(),
                w.branch.as_deref().unwrap_or("(detached)"),
                w.mode,
                w.watches,
                w.pending
            ))?;
            if let Some(d) = &w.last_decision {
                ui.line(format!(
                    "      last decision at {}: {d}",
                    w.last_decision_at.as_deref().unwrap_or("?")
                ))?;
            }
            if let Some(e) = &w.config_error {
                ui.warn(format!(
                    "{}: {e} (the last good config is in force)",
                    w.root.display()
                ));
            }
        }
        if !covers_here {
            ui.line(format!("  {}", coverage(repo, Some(s))))?;
        }
    } else {
        ui.line(format!(
            "{} no watcher running; start one: {}",
            ui.fail_mark(),
            ui.bold("gate watch --daemon")
        ))?;
    }
    Ok(if running {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::REFUSED)
    })
}

/// Foreground (and daemon) log lines: a timestamp and the decision.
struct StderrReporter;

impl watch::Reporter for StderrReporter {
    fn line(&self, text: &str) {
        let now = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S");
        let _ = writeln!(std::io::stderr().lock(), "{now} {text}");
    }
}
