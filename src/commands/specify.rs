//! `gate specify`: a new feature's branch and its spec.md from the template.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gate::facts;
use gate::repo::{Head, worktree};
use gate::scaffold::{self, Written};
use gate::spec::feature::{self, Feature};
use gate::spec::{ArtifactKind, templates};

use crate::exit::Refused;
use crate::project::{Project, today};
use crate::ui::Ui;

/// Start a feature: create and switch to branch <prefix>NNN-name, write specs/NNN-name/spec.md.
///
/// Without NAME, writes the spec for the feature branch you are on (when it has none yet).
/// The switch keeps your index and working tree exactly as they are. With --worktree, the
/// branch goes to a new linked worktree instead and this checkout is left alone.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The feature in a few words, e.g. "User auth"
    pub name: Option<String>,
    /// Replace an existing spec.md, keeping the old one as spec.md.bak
    #[arg(long)]
    pub force: bool,
    /// Create the branch in a new linked worktree at DIR (default:
    /// ../<repo>-worktrees/<NNN-name> beside the main checkout) and leave this checkout alone
    #[arg(long, value_name = "DIR", requires = "name")]
    pub worktree: Option<Option<PathBuf>>,
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
    // Where the spec is written: this checkout, or the new worktree.
    let worktree = match &args.worktree {
        Some(dir) => Some(worktree_dir(repo, dir.as_deref(), &plan)?),
        None => None,
    };
    let root = worktree.clone().unwrap_or_else(|| repo.root().to_owned());

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
    if let Some(dir) = &worktree {
        let unborn = matches!(repo.head()?, Head::Unborn(_));
        worktree::add(repo.root(), dir, &plan.branch, unborn)?;
        ui.line(format!(
            "{} new branch {} in a new worktree {} (this checkout stays on its branch)",
            ui.ok_mark(),
            ui.bold(&plan.branch),
            dir.display()
        ))?;
    } else if plan.new_branch {
        let from = repo
            .head()?
            .branch()
            .unwrap_or("a detached HEAD")
            .to_owned();
        repo.create_and_switch(&plan.branch)?;
        // libgit2 runs no post-checkout hook: the switch is recorded here, as git's would be.
        let mut e = gate::events::Event::now("checkout");
        e.branch = Some(plan.branch.clone());
        e.detail = format!("gate specify: new branch from {from}");
        if let Err(err) = gate::events::EventLog::in_dir(&repo.state_dir()).append(&e) {
            ui.warn(format!("could not record the checkout: {err}"));
        }
        ui.line(format!(
            "{} switched to new branch {}",
            ui.ok_mark(),
            ui.bold(&plan.branch)
        ))?;
    }
    let written = scaffold::create(&root.join(&path), &text, args.force)?;
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
    if let Some(dir) = &worktree {
        if dir.starts_with(repo.root()) {
            ui.warn(format!(
                "{} is inside this working tree: ignore it (add its directory to .gitignore), \
                 or the main checkout sees it as a nested repository",
                dir.display()
            ));
        }
        ui.line(format!("work there: cd {}", dir.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the new worktree goes: `dir` (relative to the current directory), or by default
/// `<repo>-worktrees/<NNN-name>` beside the main checkout, outside every working tree. It must
/// not exist yet (or be an empty directory).
fn worktree_dir(
    repo: &gate::repo::Repo,
    dir: Option<&Path>,
    plan: &Plan,
) -> anyhow::Result<PathBuf> {
    let dir = if let Some(dir) = dir {
        clean(&std::env::current_dir()?.join(dir))
    } else {
        let main = worktree::list(repo.root())?
            .into_iter()
            .find(|w| w.main && !w.bare)
            .map_or_else(|| repo.root().to_owned(), |w| w.root);
        let name = main
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "repo".into());
        let parent = main.parent().unwrap_or(Path::new("/")).to_owned();
        parent
            .join(format!("{name}-worktrees"))
            .join(&plan.feature.name)
    };
    let occupied = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some());
    if occupied || (dir.exists() && !dir.is_dir()) {
        return Err(Refused(format!(
            "{} already exists; name an empty or new directory: gate specify \"{}\" --worktree DIR",
            dir.display(),
            plan.title
        ))
        .into());
    }
    Ok(dir)
}

fn new_feature(project: &Project, name: &str) -> anyhow::Result<Plan> {
    let (repo, config) = (&project.repo, &project.config);
    let prefix = &config.branches.feature_prefix;
    let slug = feature::slugify(name)?;
    let mut entries = facts::spec_entries(repo, config)?;
    // Spec directories in other worktrees count too, committed or not.
    entries.extend(other_worktree_entries(repo, &config.spec.dir));
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

/// `a/b/../c` -> `a/c`, without touching the disk (the directory does not exist yet).
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The feature directories under `spec_dir` in every other live worktree of the repository.
fn other_worktree_entries(repo: &gate::repo::Repo, spec_dir: &str) -> Vec<String> {
    let Ok(list) = worktree::list(repo.root()) else {
        return Vec::new();
    };
    let here = std::fs::canonicalize(repo.root()).unwrap_or_else(|_| repo.root().to_owned());
    list.into_iter()
        .filter(|w| w.is_live())
        .filter(|w| std::fs::canonicalize(&w.root).ok().as_ref() != Some(&here))
        .filter_map(|w| std::fs::read_dir(w.root.join(spec_dir)).ok())
        .flat_map(|d| d.flatten())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| feature::number_of(n).is_some())
        .collect()
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
