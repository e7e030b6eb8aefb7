//! `gate restore`: preserved work back into the working tree.

use std::process::ExitCode;

use gate::events::{Event, EventLog};
use gate::snapshot::restore::{self, RestoreError};
use gate::snapshot::{self, Options, Outcome};

use crate::project::Project;
use crate::ui::Ui;

/// Bring preserved work back into the working tree: the files of a snapshot (default: this
/// branch's latest, which holds everything preserved since the last real commit), or only
/// the PATHs given. Only the working tree changes: the index, HEAD and refs stay as they are.
/// A file with uncommitted changes unlike the snapshot's is not overwritten (exit 1) unless
/// --force, which first snapshots those changes so nothing is lost.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// [SNAPSHOT] [PATH...]: SNAPSHOT is a branch with snapshots, a snapshot id from `gate
    /// snapshots` (or the id of the staged versions one kept); PATHs are files or directories,
    /// relative to the current directory
    #[arg(value_name = "SNAPSHOT|PATH")]
    pub items: Vec<std::path::PathBuf>,
    /// Overwrite files with uncommitted changes, after snapshotting them
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let repo = &project.repo;
    let mut items = args.items.clone();
    let name = match items.first().and_then(|p| p.to_str()) {
        Some(first) if restore::names_a_snapshot(repo, first) => {
            let n = first.to_owned();
            items.remove(0);
            Some(n)
        }
        _ => None,
    };
    let source = restore::resolve(repo, name.as_deref())?;
    let cwd = std::env::current_dir()?;
    let wanted = items
        .iter()
        .map(|p| super::snapshot::repo_relative(repo.root(), &cwd, p))
        .collect::<Result<Vec<_>, _>>()?;
    let preserve = |paths: &[Vec<u8>]| -> Result<Option<String>, RestoreError> {
        let opts = Options {
            message: Some("Snapshot before gate restore --force".into()),
            shadow: true,
            paths: Some(paths.to_vec()),
        };
        let report = snapshot::take(repo, &project.config, &opts)
            .map_err(|e| RestoreError::Unknown(format!("cannot snapshot first: {e}")))?;
        super::snapshot::record(&EventLog::in_dir(&repo.state_dir()), &report, ui);
        Ok(match report.outcome {
            Outcome::Shadowed { commit, .. } => Some(commit),
            _ => None,
        })
    };
    let done = restore::restore(repo, &source, &wanted, args.force, preserve)?;
    if !done.restored.is_empty() {
        let mut e = Event::now("restore");
        e.commit = Some(done.from.clone());
        e.paths = done.restored.clone();
        e.detail = format!(
            "{} file(s) restored from {}",
            done.restored.len(),
            source.label
        );
        let _ = EventLog::in_dir(&repo.state_dir()).append(&e);
    }
    if args.json {
        ui.json(&done)?;
    } else if !done.conflicts.is_empty() {
        ui.line(format!(
            "{} not restored: {} file(s) have uncommitted changes unlike the snapshot's:",
            ui.fail_mark(),
            done.conflicts.len()
        ))?;
        for c in &done.conflicts {
            ui.line(format!("  {c}"))?;
        }
        ui.line("  commit them, or run again with --force (which snapshots them first)")?;
    } else {
        if let Some(p) = &done.preserved {
            ui.line(format!(
                "{} your changes were snapshotted first as {}",
                ui.ok_mark(),
                &p[..10]
            ))?;
        }
        match done.restored.len() {
            0 => ui.line(format!(
                "{} nothing to restore: the working tree already matches",
                ui.ok_mark()
            ))?,
            n => {
                ui.line(format!(
                    "{} restored {n} file(s) from {}",
                    ui.ok_mark(),
                    &done.from[..10]
                ))?;
                for r in &done.restored {
                    ui.line(format!("  {r}"))?;
                }
            }
        }
    }
    Ok(if done.conflicts.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::REFUSED)
    })
}
