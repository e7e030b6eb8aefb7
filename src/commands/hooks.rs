//! `gate hooks install|uninstall|status`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use gate::hooks::install::{self, Action};
use gate::hooks::{self, HooksDir};
use gate::repo::Repo;
use serde::Serialize;

use crate::project::Project;
use crate::ui::Ui;

/// Manage gate's git hooks (pre-commit, pre-push, post-checkout, post-merge)
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: HooksAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum HooksAction {
    /// Install the hooks; an existing hook is kept as <hook>.pre-gate and runs first
    Install {
        /// Replace a foreign hook that sits over an earlier chained one, saving it as <hook>.gate-backup
        #[arg(long)]
        force: bool,
    },
    /// Remove gate's hooks and put back exactly what was there before
    Uninstall,
    /// Which hooks are installed, current or stale, chained to what, and where
    Status {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let dir = hooks::locate(&project.repo);
    match &args.action {
        HooksAction::Install { force } => {
            for (hook, action) in install_into(&project.repo, *force)? {
                ui.line(format!("{} {hook:<14} {}", ui.ok_mark(), describe(&action)))?;
            }
            ui.line(format!("hooks in {}", dir.dir.display()))?;
        }
        HooksAction::Uninstall => {
            for (hook, action) in install::uninstall(&dir)? {
                ui.line(format!("{} {hook:<14} {}", ui.ok_mark(), describe(&action)))?;
            }
        }
        HooksAction::Status { json } => return status(ui, &dir, *json),
    }
    Ok(ExitCode::SUCCESS)
}

/// Installs into the repository's hooks directory; shared with `gate init`.
pub fn install_into(repo: &Repo, force: bool) -> anyhow::Result<Vec<(String, Action)>> {
    let dir = hooks::locate(repo);
    Ok(install::install(&dir, &current_exe()?, force)?)
}

pub fn current_exe() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the gate binary's own path")?;
    Ok(exe.canonicalize().unwrap_or(exe))
}

#[derive(Serialize)]
struct StatusReport<'a> {
    dir: &'a std::path::Path,
    hooks_path: Option<&'a str>,
    manager: Option<&'a str>,
    hooks: Vec<install::HookStatus>,
}

fn status(ui: &Ui, dir: &HooksDir, json: bool) -> anyhow::Result<ExitCode> {
    let hooks = install::status(dir, &current_exe()?);
    let healthy = hooks.iter().all(|h| h.state == "current");
    if json {
        ui.json(&StatusReport {
            dir: &dir.dir,
            hooks_path: dir.hooks_path.as_deref(),
            manager: dir.manager,
            hooks,
        })?;
    } else {
        let via = dir
            .hooks_path
            .as_deref()
            .map(|p| format!(" (core.hooksPath = {p})"))
            .unwrap_or_default();
        ui.line(format!("hooks in {}{via}", dir.dir.display()))?;
        for h in &hooks {
            let mark = if h.state == "current" {
                ui.ok_mark()
            } else {
                ui.fail_mark()
            };
            let mut text = format!("{mark} {:<14} {}", h.hook, h.state);
            if let Some(r) = &h.reason {
                text.push_str(&format!(" ({r})"));
            }
            if let Some(c) = &h.chained {
                text.push_str(&format!(", runs {} first", c.display()));
            }
            ui.line(text)?;
        }
        if !healthy {
            ui.line(format!("fix: {}", ui.bold("gate hooks install")))?;
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::REFUSED)
    })
}

fn describe(action: &Action) -> String {
    match action {
        Action::Installed => "installed".into(),
        Action::Unchanged => "already current".into(),
        Action::Updated => "updated".into(),
        Action::Chained => {
            "installed; the existing hook was kept as .pre-gate and runs first".into()
        }
        Action::Replaced { backup } => format!(
            "installed; the foreign hook was saved as {}",
            backup.display()
        ),
        Action::Removed => "removed".into(),
        Action::Restored => "removed; the earlier hook is back".into(),
        Action::LeftAlone => "not gate's; left alone".into(),
        Action::NothingToDo => "not installed".into(),
    }
}
