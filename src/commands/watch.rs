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

/// Watch this repository: auto-commit work on feature branches every commit.interval once
/// files are quiet, preserve it as a snapshot where a commit is not allowed, and audit what
/// slipped past the hooks. Runs in the foreground unless --daemon.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Start detached (one per repository); logs to <git dir>/gate/watch.log
    #[arg(long, conflicts_with_all = ["stop", "status"])]
    pub daemon: bool,
    /// Stop the running watcher gracefully (a commit in flight is finished first)
    #[arg(long, conflicts_with = "status")]
    pub stop: bool,
    /// Is a watcher running? pid, since when, last decision
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
        return status(ui, &paths, args.json);
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
        let pid = daemon::read_status(paths)
            .map(|s| s.pid.to_string())
            .unwrap_or_else(|| "?".into());
        ui.line(format!(
            "{} a watcher is already running (pid {pid})",
            ui.ok_mark()
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
    let mut child = std::process::Command::new(exe)
        .arg("watch")
        .current_dir(repo.root())
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
        if daemon::is_running(paths)
            && daemon::read_status(paths).is_some_and(|s| s.pid == child.id())
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

#[derive(Serialize)]
struct StatusReport {
    running: bool,
    #[serde(flatten)]
    status: Option<daemon::Status>,
}

fn status(ui: &Ui, paths: &daemon::Paths, json: bool) -> anyhow::Result<ExitCode> {
    let running = daemon::is_running(paths);
    let status = daemon::read_status(paths).filter(|_| running);
    if json {
        ui.json(&StatusReport { running, status })?;
    } else if let Some(s) = &status {
        ui.line(format!(
            "{} watcher running (pid {}) since {}, {} mode, {} watches",
            ui.ok_mark(),
            s.pid,
            s.since,
            s.mode,
            s.watches
        ))?;
        if let Some(d) = &s.last_decision {
            ui.line(format!(
                "  last decision at {}: {d}",
                s.last_decision_at.as_deref().unwrap_or("?")
            ))?;
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
