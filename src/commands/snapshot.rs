//! `gate snapshot`: one auto-commit now, through the same code path and safety rules as the
//! watcher.

use std::process::ExitCode;

use gate::events::EventLog;
use gate::snapshot::{self, Options, Outcome, Report};

use crate::project::Project;
use crate::ui::Ui;

/// Commit the work now, as the watcher would: a real commit on a feature branch whose rules
/// allow it, otherwise a snapshot on refs/gate/snapshots/<branch> that leaves HEAD, the index
/// and the working tree untouched. Exit 1 when it must be retried (index locked, branch moved).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Commit subject instead of "Progress: ..."
    #[arg(short, long)]
    pub message: Option<String>,
    /// Preserve the work on the snapshot ref without touching the branch
    #[arg(long)]
    pub shadow: bool,
    /// Only these paths (what the watcher does with the paths its file events named)
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub only: Vec<std::path::PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let paths = if args.only.is_empty() {
        None
    } else {
        let cwd = std::env::current_dir()?;
        Some(
            args.only
                .iter()
                .map(|p| repo_relative(project.repo.root(), &cwd, p))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let opts = Options {
        message: args.message.clone(),
        shadow: args.shadow,
        paths,
    };
    let report = snapshot::take(&project.repo, &project.config, &opts)?;
    record(&EventLog::in_dir(&project.repo.state_dir()), &report, ui);
    if args.json {
        ui.json(&report)?;
    } else {
        print(ui, &report)?;
    }
    Ok(match report.outcome {
        Outcome::Retry { .. } => ExitCode::from(crate::exit::REFUSED),
        _ => ExitCode::SUCCESS,
    })
}

/// `path` as git reads a path argument: relative to the current directory, then to the
/// repository root (`gate snapshot --only lib.rs` in `src/` means `src/lib.rs`).
pub fn repo_relative(
    root: &std::path::Path,
    cwd: &std::path::Path,
    path: &std::path::Path,
) -> Result<Vec<u8>, crate::exit::Usage> {
    use std::os::unix::ffi::OsStrExt;
    use std::path::Component;
    // The root is canonical; so must the current directory be (a symlinked checkout).
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_owned());
    let mut full = std::path::PathBuf::new();
    for c in cwd.join(path).components() {
        match c {
            Component::ParentDir => {
                full.pop();
            }
            Component::CurDir => {}
            other => full.push(other),
        }
    }
    match full.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => Ok(rel.as_os_str().as_bytes().to_vec()),
        _ => Err(crate::exit::Usage(format!(
            "{} is not a path inside the repository {}",
            path.display(),
            root.display()
        ))),
    }
}

fn print(ui: &Ui, report: &Report) -> std::io::Result<()> {
    for s in &report.skipped {
        ui.line(format!("{} skipped {}: {}", ui.dim("-"), s.path, s.reason))?;
    }
    print_outcome(ui, &report.outcome)?;
    match &report.aside {
        Some(aside) => print_outcome(ui, aside),
        None => Ok(()),
    }
}

fn print_outcome(ui: &Ui, outcome: &Outcome) -> std::io::Result<()> {
    match outcome {
        Outcome::Committed {
            commit,
            branch,
            summary,
        } => ui.line(format!(
            "{} committed {} on {branch}: {summary}",
            ui.ok_mark(),
            &commit[..10]
        )),
        Outcome::Shadowed {
            commit,
            refname,
            reason,
            summary,
        } => {
            ui.line(format!(
                "{} preserved {summary} as {} on {refname}",
                ui.ok_mark(),
                &commit[..10]
            ))?;
            ui.line(format!("  not committed on the branch: {reason}"))?;
            ui.line("  see it: gate snapshots   bring it back: gate restore [PATH...]")
        }
        Outcome::Unchanged { reason } => {
            ui.line(format!("{} nothing to do: {reason}", ui.ok_mark()))
        }
        Outcome::Retry { reason } => {
            ui.line(format!("{} not now: {reason}; try again", ui.fail_mark()))
        }
    }
}

/// Every decision is an event; the watcher records the same ones.
pub fn record(log: &EventLog, report: &Report, ui: &Ui) {
    for e in snapshot::events(report) {
        if let Err(err) = log.append(&e) {
            ui.warn(format!("could not record the event: {err:#}"));
        }
    }
}
