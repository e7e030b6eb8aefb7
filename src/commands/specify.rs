//! `gate specify`: a new feature's branch and its spec.md from the template.

use std::process::ExitCode;

use gate::facts;
use gate::repo::Head;
use gate::scaffold::{self, Written};
use gate::spec::feature::{self, Feature};
use gate::spec::{ArtifactKind, templates};

use crate::exit::Refused;
use crate::project::{Project, today};
use crate::ui::Ui;

/// Start a feature: create and switch to branch <prefix>NNN-name, write specs/NNN-name/spec.md.
///
/// Without NAME, writes the spec for the feature branch you are on (when it has none yet).
/// The switch keeps your index and working tree exactly as they are.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The feature in a few words, e.g. "User auth"
    pub name: Option<String>,
    /// Replace an existing spec.md, keeping the old one as spec.md.bak
    #[arg(long)]
    pub force: bool,
}

/// What to create: the feature, its branch, and whether the branch is new.
struct Plan {
    feature: Feature,
    branch: String,
    title: String,
    new_branch: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let repo = &project.repo;
    let operation = repo.operation();
    if operation.in_progress() {
        return Err(Refused(format!(
            "a {} is in progress; finish it or abort it (e.g. `git {} --abort`) before starting a feature",
            operation.name(),
            operation.name().split(' ').next().unwrap_or("merge")
        ))
        .into());
    }
    let plan = match &args.name {
        Some(name) => new_feature(&project, name)?,
        None => current_feature(&project)?,
    };

    // Everything that can fail on bad input happens before the branch moves.
    let path = format!("{}/{}", plan.feature.dir, ArtifactKind::Spec.file_name());
    let template = templates::load(
        repo.root(),
        &project.config.spec.templates,
        ArtifactKind::Spec,
    )?;
    let number = format!("{:03}", plan.feature.number);
    let text = templates::render(
        &template.text,
        &templates::Vars {
            feature: &plan.title,
            branch: &plan.branch,
            date: &today(),
            number: &number,
        },
    );
    gate::confine::check_inside(repo.root(), &repo.root().join(&path))?;
    if plan.new_branch {
        repo.create_and_switch(&plan.branch)?;
        ui.line(format!(
            "{} switched to new branch {}",
            ui.ok_mark(),
            ui.bold(&plan.branch)
        ))?;
    }
    let written = scaffold::create(&repo.root().join(&path), &text, args.force)?;
    if let Written::Replaced { backup } = &written {
        ui.line(format!(
            "{} kept the old spec as {}",
            ui.ok_mark(),
            backup.display()
        ))?;
    }
    ui.line(format!("{} wrote {path}", ui.ok_mark()))?;
    // spec-kit's pointer, when the project has one, follows the new feature (issue 11).
    match gate::facts::update_pointer(repo.root(), &plan.feature.dir) {
        Ok(true) => ui.line(format!(
            "{} pointed .specify/feature.json at {}",
            ui.ok_mark(),
            plan.feature.dir
        ))?,
        Ok(false) => {}
        Err(e) => ui.warn(format!("could not update .specify/feature.json: {e}")),
    }
    if repo.would_ignore(&path) {
        ui.warn(format!(
            "{path} is ignored by git: it will never be committed; fix .gitignore"
        ));
    }
    ui.line(format!(
        "next: fill in {path} (every {{{{...}}}} blank, the review checklist), then {}",
        ui.bold("gate plan")
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn new_feature(project: &Project, name: &str) -> anyhow::Result<Plan> {
    let (repo, config) = (&project.repo, &project.config);
    let prefix = &config.branches.feature_prefix;
    let slug = feature::slugify(name)?;
    let entries = facts::spec_entries(repo, config)?;
    let branch_features: Vec<String> = repo
        .local_branches()?
        .iter()
        .filter_map(|b| feature::of_branch_with(b, prefix).map(str::to_owned))
        .collect();
    let number = feature::next_number(entries.iter().chain(&branch_features).map(String::as_str));
    let dir_name = feature::name_for(number, &slug);
    let branch = format!("{prefix}{dir_name}");
    if repo.branch_exists(&branch) {
        return Err(Refused(format!(
            "branch {branch} already exists; switch to it with `git switch {branch}`"
        ))
        .into());
    }
    if let Some(blocker) = repo.blocking_branch(&branch) {
        return Err(Refused(format!(
            "cannot create {branch}: a branch named {blocker} exists, and git cannot have both \
             (branches are stored as files); rename it: git branch -m {blocker} {blocker}-old"
        ))
        .into());
    }
    Ok(Plan {
        feature: Feature {
            number,
            dir: format!("{}/{dir_name}", config.spec.dir),
            name: dir_name,
            exists: false,
        },
        branch,
        title: name.trim().to_owned(),
        new_branch: true,
    })
}

fn current_feature(project: &Project) -> anyhow::Result<Plan> {
    let (repo, config) = (&project.repo, &project.config);
    let head = repo.head()?;
    let branch = head.branch().unwrap_or_default().to_owned();
    let Some(name) = feature::of_branch_with(&branch, &config.branches.feature_prefix) else {
        return Err(Refused(match head {
            Head::Detached(_) => {
                "HEAD is detached; name the feature: gate specify \"<name>\"".into()
            }
            _ => format!("branch {branch} names no feature; name one: gate specify \"<name>\""),
        })
        .into());
    };
    let entries = facts::spec_entries(repo, config)?;
    let feature = feature::locate(&config.spec.dir, name, &entries)?;
    Ok(Plan {
        title: feature.name.clone(),
        feature,
        branch,
        new_branch: false,
    })
}
