//! `gate snapshots`: what gate preserved that is not in a real commit, and (explicitly)
//! pruning of old snapshots.

use std::process::ExitCode;

use gate::events::{Event, EventLog};
use gate::snapshot::list;
use gate::status::human_age;

use crate::project::Project;
use crate::ui::Ui;

/// List the work gate preserved on refs/gate/ (snapshots taken where a real commit was not
/// allowed: protected branch, spec gate not passed, partial staging, an operation in
/// progress, detached HEAD): per branch, newest first, when, why, and the files each holds.
/// Bring any of it back with `gate restore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Every snapshot of every chain (default: the latest 5 of each)
    #[arg(long)]
    pub all: bool,
    /// Remove the chains whose latest snapshot is older than snapshot.keep (default 14
    /// days) and whose work is in a real commit since; each removal is logged
    #[arg(long)]
    pub prune: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let repo = &project.repo;
    if args.prune {
        let keep = project.config.snapshot.keep.as_secs() as i64;
        let pruned = list::prune(repo, jiff::Timestamp::now().as_second(), keep)?;
        let log = EventLog::in_dir(&repo.state_dir());
        for p in &pruned {
            let mut e = Event::now("snapshot-pruned");
            e.commit = Some(p.id.clone());
            e.detail = format!(
                "{} removed (latest snapshot older than snapshot.keep = {})",
                p.refname, project.config.snapshot.keep
            );
            let _ = log.append(&e);
        }
        if args.json {
            ui.json(&pruned)?;
        } else if pruned.is_empty() {
            ui.line(format!(
                "{} nothing to prune (snapshot.keep = {})",
                ui.ok_mark(),
                project.config.snapshot.keep
            ))?;
        } else {
            for p in &pruned {
                ui.line(format!(
                    "{} removed {} ({})",
                    ui.ok_mark(),
                    p.refname,
                    &p.id[..10]
                ))?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let chains = list::chains(repo, (!args.all).then_some(5))?;
    if args.json {
        ui.json(&chains)?;
        return Ok(ExitCode::SUCCESS);
    }
    if chains.is_empty() {
        ui.line(format!(
            "{} no snapshots: all work gate saw is in real commits",
            ui.ok_mark()
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = jiff::Timestamp::now().as_second();
    for chain in &chains {
        let state = if chain.pending {
            "not in a real commit yet"
        } else {
            "the branch has moved on since"
        };
        ui.line(format!(
            "{} ({}): {} snapshot(s), {state}",
            ui.bold(&chain.label),
            chain.refname,
            chain.total
        ))?;
        for s in &chain.snapshots {
            ui.line(format!(
                "  {}  {} ago  {}",
                &s.id[..10],
                human_age(now - s.time),
                s.reason
            ))?;
            let shown: Vec<&str> = s.files.iter().take(8).map(String::as_str).collect();
            let more = s.files.len().saturating_sub(shown.len());
            let tail = if more > 0 {
                format!(", ... {more} more")
            } else {
                String::new()
            };
            ui.line(format!("      {}{tail}", shown.join(", ")))?;
            if let Some(staged) = &s.staged {
                ui.line(format!(
                    "      your staged versions are kept too: gate restore {}",
                    &staged[..10]
                ))?;
            }
        }
        if chain.total > chain.snapshots.len() {
            ui.line(format!(
                "  ... {} older (gate snapshots --all)",
                chain.total - chain.snapshots.len()
            ))?;
        }
    }
    ui.line(ui.dim("bring work back: gate restore [SNAPSHOT] [PATH...]"))?;
    Ok(ExitCode::SUCCESS)
}
