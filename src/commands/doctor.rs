//! `gate doctor`: what this project needs from gate, checked in one go, each problem with its
//! fix.

use std::process::ExitCode;

use anyhow::Context;
use gate::doctor;
use gate::repo::Repo;

use crate::ui::Ui;

/// Check what gate needs here: hooks installed and current, the watcher alive, tmux reachable,
/// the OS watch limit, the config valid, templates present, the spec directory not ignored,
/// a git identity, the project registered. Each problem comes with the command that fixes it.
/// Exit 0 when all is well, 1 when something needs fixing.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print {ok, checks: [{name, ok, detail, fix}]}
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    // An invalid .gate.toml is one of the findings, not a reason to stop.
    let repo = Repo::discover(&cwd)?;
    let report = doctor::evaluate(&doctor::gather(&repo, &super::hooks::current_exe()?));
    if args.json {
        ui.json(&report)?;
    } else {
        for c in &report.checks {
            let mark = if c.ok { ui.ok_mark() } else { ui.fail_mark() };
            ui.line(format!("{mark} {:<13} {}", c.name, c.detail))?;
            if let Some(fix) = &c.fix {
                ui.line(format!("  {:<13} fix: {}", "", ui.bold(fix)))?;
            }
        }
        let problems = report.checks.iter().filter(|c| !c.ok).count();
        ui.line(match problems {
            0 => "all good".to_string(),
            1 => "1 problem found".to_string(),
            n => format!("{n} problems found"),
        })?;
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::REFUSED)
    })
}
