//! `gate plan` and `gate tasks`: the next artifact, only once the one before is complete.

use std::process::ExitCode;

use gate::facts;
use gate::rules::Question;
use gate::scaffold::{self, Written};
use gate::spec::{ArtifactKind, templates};

use crate::exit::Refused;
use crate::project::{Project, today};
use crate::ui::Ui;

/// Write the feature's next artifact from its template, refused while the one before it is
/// incomplete (plan needs a complete spec.md, tasks a complete plan.md).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The feature (NNN-name or NNN); default: the one the current branch names
    #[arg(long)]
    pub feature: Option<String>,
    /// Replace an existing file, keeping the old one as a .bak backup
    #[arg(long)]
    pub force: bool,
}

pub fn run(kind: ArtifactKind, args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let (repo, config) = (&project.repo, &project.config);
    let hint = Project::hint(args.feature.as_deref());
    let question = Question::MayImplement {
        branch_matters: false,
    };
    let (facts, _) = facts::gather(repo, config, &hint, question)?;
    let Some(feature) = &facts.feature else {
        return Err(Refused(format!(
            "no feature here: the branch names none; start one with `gate specify \"<name>\"` or pass --feature NNN-name (then `{}`)",
            kind.command()
        ))
        .into());
    };
    let on_its_branch = facts
        .head
        .branch()
        .and_then(|b| gate::spec::feature::of_branch_with(b, &config.branches.feature_prefix))
        == Some(feature.feature.name.as_str());
    if !feature.feature.exists && !on_its_branch {
        let branch = format!("{}{}", config.branches.feature_prefix, feature.feature.name);
        return Err(Refused(format!(
            "{} is not in this working tree (it lives on its branch); switch to it first: git switch {branch}",
            feature.feature.dir
        ))
        .into());
    }
    let previous = feature.artifact(
        kind.previous()
            .expect("plan and tasks follow another artifact"),
    );
    if !previous.is_complete() {
        let state = if previous.analysis.is_some() {
            "incomplete"
        } else {
            "missing"
        };
        ui.line(format!(
            "{} refused: {} needs a complete {}, and it is {state}",
            ui.fail_mark(),
            kind.file_name(),
            previous.path
        ))?;
        let findings = previous
            .analysis
            .as_ref()
            .map_or(&[][..], |a| &a.findings[..]);
        for f in findings.iter().take(12) {
            ui.line(format!("    {}:{}: {}", previous.path, f.line, f.message))?;
        }
        if findings.len() > 12 {
            ui.line(format!(
                "    ... and {} more (`gate check` lists them all with --json)",
                findings.len() - 12
            ))?;
        }
        let fix = if previous.analysis.is_some() {
            format!(
                "resolve the findings in {}, then run `{}`",
                previous.path,
                kind.command()
            )
        } else {
            format!("run `{}` first", previous.kind.command())
        };
        ui.line(format!("    fix: {}", ui.bold(fix)))?;
        return Ok(ExitCode::from(crate::exit::REFUSED));
    }

    let path = format!("{}/{}", feature.feature.dir, kind.file_name());
    let template = templates::load(repo.root(), &config.spec.templates, kind)?;
    let number = format!("{:03}", feature.feature.number);
    let spec_path = repo.root().join(&feature.artifact(ArtifactKind::Spec).path);
    let title = std::fs::read_to_string(spec_path)
        .ok()
        .and_then(|s| templates::title_of(&s))
        .unwrap_or_else(|| feature.feature.name.clone());
    let text = templates::render(
        &template.text,
        &templates::Vars {
            feature: &title,
            branch: facts.head.branch().unwrap_or_default(),
            date: &today(),
            number: &number,
        },
    );
    gate::confine::check_inside(repo.root(), &repo.root().join(&path))?;
    let written = scaffold::create(&repo.root().join(&path), &text, args.force)?;
    if let Written::Replaced { backup } = &written {
        ui.line(format!(
            "{} kept the old file as {}",
            ui.ok_mark(),
            backup.display()
        ))?;
    }
    ui.line(format!("{} wrote {path}", ui.ok_mark()))?;
    let next = match kind {
        ArtifactKind::Plan => "gate tasks",
        _ => "gate check",
    };
    ui.line(format!("next: fill in {path}, then {}", ui.bold(next)))?;
    Ok(ExitCode::SUCCESS)
}
