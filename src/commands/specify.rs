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

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let (repo, config) = (&project.repo, &project.config);
    let operation = repo.operation();
    if operation.in_progress() {
        return Err(Refused(format!(
            "a {operation:?} is in progress; finish or abort it before starting a feature"
        ))
        .into());
    }
    let head = repo.head()?;
    let entries = facts::spec_entries(repo, config)?;
    let spec_dir = config.spec.dir.trim_end_matches('/');

    let (feature, branch, title) = match &args.name {
        Some(name) => {
            let slug = feature::slugify(name)?;
            let branches = repo.local_branches()?;
            let number = feature::next_number(entries.iter().chain(&branches).map(String::as_str));
            let name_dir = feature::name_for(number, &slug);
            let branch = format!("{}{}", config.branches.feature_prefix, name_dir);
            if repo.branch_exists(&branch) {
                return Err(Refused(format!(
                    "branch {branch} already exists; switch to it with `git switch {branch}`"
                ))
                .into());
            }
            repo.create_and_switch(&branch)?;
            ui.line(format!(
                "{} switched to new branch {}",
                ui.ok_mark(),
                ui.bold(&branch)
            ))?;
            let feature = Feature {
                number,
                dir: format!("{spec_dir}/{name_dir}"),
                name: name_dir,
                exists: false,
            };
            (feature, branch, name.trim().to_owned())
        }
        None => {
            let branch = head.branch().unwrap_or_default().to_owned();
            let Some(name) = feature::of_branch(&branch) else {
                return Err(Refused(match head {
                    Head::Detached(_) => {
                        "HEAD is detached; name the feature: gate specify \"<name>\"".into()
                    }
                    _ => format!(
                        "branch {branch} names no feature; name one: gate specify \"<name>\""
                    ),
                })
                .into());
            };
            let feature = feature::locate(spec_dir, name, &entries)?;
            let title = feature.name.clone();
            (feature, branch, title)
        }
    };

    let path = format!("{}/{}", feature.dir, ArtifactKind::Spec.file_name());
    let template = templates::load(repo.root(), &config.spec.templates, ArtifactKind::Spec)?;
    let number = format!("{:03}", feature.number);
    let text = templates::render(
        &template.text,
        &templates::Vars {
            feature: &title,
            branch: &branch,
            date: &today(),
            number: &number,
        },
    );
    let written = scaffold::create(&repo.root().join(&path), &text, args.force)?;
    if let Written::Replaced { backup } = &written {
        ui.line(format!(
            "{} kept the old spec as {}",
            ui.ok_mark(),
            backup.display()
        ))?;
    }
    ui.line(format!("{} wrote {path}", ui.ok_mark()))?;
    if repo.git().is_path_ignored(&path).unwrap_or(false) {
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
