//! `gate audit`: the watcher's audit, once, now. Useful without a watcher, in CI, and to see
//! what slipped since the last look.

use std::process::ExitCode;

use gate::events::EventLog;
use gate::watch::audit::{self, Baseline};

use crate::project::Project;
use crate::ui::Ui;

/// Judge every commit new on any branch since the last audit by its content (what the watcher
/// does on start and whenever a ref moves): commits on a protected branch that no `gate
/// finish` accounts for, implementation committed before its feature's artifacts were
/// complete in that commit. Each slip is logged as a `violation` event. The first audit of a
/// repository only records where the branches are. Exit 1 when it found slips.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the slips as JSON: [{code, branch, commit, author, paths, message}]
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let state = project.repo.state_dir();
    let mut baseline = Baseline::load(&state);
    let slips = audit::run(
        &project.repo,
        &project.config,
        &mut baseline,
        &EventLog::in_dir(&state),
    );
    if args.json {
        ui.json(&slips)?;
    } else if slips.is_empty() {
        ui.line("audit: nothing slipped")?;
    } else {
        for s in &slips {
            ui.line(format!(
                "{} {} {}",
                ui.fail_mark(),
                ui.code(format!("[{}]", s.code.as_str())),
                s.message
            ))?;
        }
    }
    Ok(if slips.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::REFUSED)
    })
}
