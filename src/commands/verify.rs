//! `gate verify`: tasks.md against git. Progress, and every task ticked as done whose named
//! file the feature branch never changed: the "checked but never done" lie.

use std::process::ExitCode;

use gate::facts;
use gate::repo::fork::BranchChanges;
use gate::repo::{Head, Repo};
use gate::spec::ArtifactKind;
use gate::spec::feature::{self, Feature, Origin};
use gate::spec::markdown;
use gate::spec::tasks::{self, Lie};
use serde::Serialize;

use crate::exit::Refused;
use crate::project::Project;
use crate::ui::Ui;

/// Check tasks.md against git: how many tasks are done, and every task marked [x] that names
/// a file (src/auth.rs, tests/x.py, docs/) with no change on the feature branch since it
/// forked from the main branch (uncommitted changes count when the branch is checked out).
/// Exit 1 when a task is checked but never done.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Verify this feature (NNN-name or NNN) instead of the current branch's
    #[arg(long)]
    pub feature: Option<String>,
    /// Print {feature, branch, base, done, total, lies: [{line, id, path}]}
    #[arg(long)]
    pub json: bool,
}

/// The `--json` document. Field names are a public interface: add, never rename.
#[derive(Serialize)]
struct Report<'a> {
    feature: &'a str,
    /// The branch (or `HEAD`, when detached) whose changes were compared.
    branch: &'a str,
    /// The fork point the branch was measured from; null without a main branch.
    base: Option<&'a str>,
    done: usize,
    total: usize,
    lies: &'a [Lie],
}

/// Which commit holds the feature's work, and whether the working tree is part of it.
struct Target {
    /// For messages: the branch name, or `HEAD` when detached.
    name: String,
    refname: String,
    worktree: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let repo = &project.repo;
    let head = repo.head()?;
    let hint = Project::hint(args.feature.as_deref());
    let Some((feature, origin)) =
        facts::resolve_feature(repo, &project.config, &hint, head.branch())?
    else {
        return Err(Refused(
            "no feature to verify: switch to a feature branch or pass --feature NNN".into(),
        )
        .into());
    };
    let target = target(&project, &head, &feature, &origin)?;
    let tasks_path = format!("{}/{}", feature.dir, ArtifactKind::Tasks.file_name());
    let bytes = read_tasks(repo, &target, &tasks_path).ok_or_else(|| {
        Refused(format!(
            "{tasks_path} does not exist yet on {}: write it with `gate tasks`",
            target.name
        ))
    })?;
    let count = markdown::analyse(ArtifactKind::Tasks, &bytes).tasks;
    let parsed = tasks::parse(&String::from_utf8_lossy(&bytes));

    let mut mains = vec![project.config.main_branch()];
    mains.extend(project.config.branches.protected.iter().map(String::as_str));
    let changes = repo.branch_changes(&target.refname, &mains, target.worktree)?;
    let exists = |path: &str| {
        [&changes.tip, &changes.base]
            .into_iter()
            .flatten()
            .any(|c| repo.exists_in(c, path))
            || (changes.worktree && repo.root().join(path).exists())
    };
    let lies = tasks::lies(&parsed, &changes.paths, exists);

    if args.json {
        ui.json(&Report {
            feature: &feature.name,
            branch: &target.name,
            base: changes.base.as_deref(),
            done: count.done,
            total: count.total,
            lies: &lies,
        })?;
    } else {
        print(ui, &feature, &target, &tasks_path, &changes, count, &lies)?;
    }
    Ok(if lies.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::REFUSED)
    })
}

/// The branch that carries `feature`: the checked-out one when it names the feature (with its
/// working tree), else the local branch that does; a detached HEAD stands in for a branch that
/// does not exist locally (a CI checkout).
fn target(
    project: &Project,
    head: &Head,
    feature: &Feature,
    origin: &Origin,
) -> anyhow::Result<Target> {
    let prefix = &project.config.branches.feature_prefix;
    // A branch names this feature by its full name, or by its number when no other
    // directory has that exact name (`007-mock-auth` and `007-simple-ui-pages` both exist).
    let entries = facts::spec_entries(&project.repo, &project.config)?;
    let names_it = |branch: &str| {
        feature::of_branch_with(branch, prefix).is_some_and(|f| {
            f == feature.name
                || (feature::key_of(f) == feature::key_of(&feature.name)
                    && !entries.iter().any(|e| e == f))
        })
    };
    let current = head
        .branch()
        .filter(|b| matches!(origin, Origin::Branch(_)) || names_it(b));
    if let Some(branch) = current {
        return Ok(Target {
            name: branch.to_owned(),
            refname: format!("refs/heads/{branch}"),
            worktree: true,
        });
    }
    let branches = project.repo.local_branches()?;
    let exact = branches
        .iter()
        .find(|b| feature::of_branch_with(b, prefix) == Some(feature.name.as_str()));
    if let Some(branch) = exact.or_else(|| branches.iter().find(|b| names_it(b))) {
        return Ok(Target {
            name: branch.clone(),
            refname: format!("refs/heads/{branch}"),
            worktree: false,
        });
    }
    if let Head::Detached(_) = head {
        return Ok(Target {
            name: "HEAD".into(),
            refname: "HEAD".into(),
            worktree: true,
        });
    }
    Err(Refused(format!(
        "no local branch carries feature {}: check out its branch (e.g. {prefix}{}) to verify it",
        feature.name, feature.name
    ))
    .into())
}

/// tasks.md as the target has it: from the working tree when that is the target's, else from
/// the branch (falling back to the working tree for a feature not committed there yet).
fn read_tasks(repo: &Repo, target: &Target, path: &str) -> Option<Vec<u8>> {
    let from_tree = || std::fs::read(repo.root().join(path)).ok();
    if target.worktree {
        return from_tree();
    }
    repo.read_from_branch(&target.name, path).or_else(from_tree)
}

fn print(
    ui: &Ui,
    feature: &Feature,
    target: &Target,
    tasks_path: &str,
    changes: &BranchChanges,
    count: markdown::TaskCount,
    lies: &[Lie],
) -> std::io::Result<()> {
    let since = match (&changes.main, &changes.base) {
        (Some(main), Some(base)) => format!("since it forked from {main} at {}", &base[..10]),
        (Some(main), None) => format!("no history shared with {main}: every file on it counts"),
        (None, _) => "no main branch: every file on it counts".into(),
    };
    ui.line(format!(
        "{} {} on {} ({since})",
        ui.bold("gate verify:"),
        feature.name,
        target.name
    ))?;
    ui.line(format!("  tasks: {}/{} done", count.done, count.total))?;
    if changes.merged {
        ui.line(ui.dim(format!(
            "  {} is already merged; measured from where it forked before the merge",
            target.name
        )))?;
    } else if changes.no_commits() {
        let counted = if changes.worktree {
            "; only its uncommitted changes count"
        } else {
            ""
        };
        ui.line(ui.dim(format!(
            "  {} has no commits of its own yet{counted}",
            target.name
        )))?;
    }
    for lie in lies {
        ui.line(format!(
            "{tasks_path}:{}: {} is checked but {} has no change on {}",
            lie.line, lie.id, lie.path, target.name
        ))?;
    }
    if lies.is_empty() {
        ui.line(format!(
            "{} every checked task that names a file changed it",
            ui.ok_mark()
        ))
    } else {
        ui.line(format!(
            "{} checked but never done: {} file{} unchanged; do the work, or untick the task (`- [ ]`)",
            ui.fail_mark(),
            lies.len(),
            if lies.len() == 1 { "" } else { "s" }
        ))
    }
}
