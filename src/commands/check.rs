//! `gate check`: may implementation begin? A checklist for people, JSON for tools.

use std::process::ExitCode;

use gate::facts;
use gate::repo::Head;
use gate::rules::{Facts, Question, Rules, Subject, Violation};
use gate::spec::feature::Origin;
use gate::spec::markdown::{Finding, TaskCount};
use gate::spec::{ArtifactKind, Phase};
use serde::Serialize;

use crate::project::Project;
use crate::ui::Ui;

/// May implementation begin? Exit 0 when the branch is a feature branch and its spec, plan and
/// tasks are complete and were written in that order; exit 1 otherwise, with each finding and
/// the command that fixes it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check this feature (NNN-name or NNN) from any branch instead of the current branch's
    #[arg(long)]
    pub feature: Option<String>,
    /// Print the verdict as JSON (schema in the README)
    #[arg(long)]
    pub json: bool,
}

/// The `--json` document. Field names are a public interface: add, never rename.
#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    head: HeadReport<'a>,
    feature: Option<FeatureReport<'a>>,
    artifacts: Vec<ArtifactReport<'a>>,
    violations: &'a [Violation],
}

#[derive(Serialize)]
struct HeadReport<'a> {
    /// "branch", "unborn" or "detached".
    state: &'static str,
    branch: Option<&'a str>,
    commit: Option<&'a str>,
}

#[derive(Serialize)]
struct FeatureReport<'a> {
    name: &'a str,
    number: u32,
    dir: &'a str,
    origin: Option<&'a Origin>,
    phase: Phase,
}

#[derive(Serialize)]
struct ArtifactReport<'a> {
    kind: ArtifactKind,
    path: &'a str,
    exists: bool,
    complete: bool,
    findings: &'a [Finding],
    #[serde(skip_serializing_if = "Option::is_none")]
    tasks: Option<TaskCount>,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let hint = Project::hint(args.feature.as_deref());
    let question = Question::MayImplement {
        branch_matters: args.feature.is_none(),
    };
    let (facts, origin) = facts::gather(&project.repo, &project.config, &hint, question)?;
    let mut violations = Rules::new(&project.config).evaluate(&facts);
    // A stale spec-kit pointer is a finding, never an override (issue 11, facts.rs).
    violations.extend(facts::pointer_finding(
        project.repo.root(),
        &project.config,
        &hint,
        facts.head.branch(),
    ));
    if args.json {
        ui.json(&report(&facts, origin.as_ref(), &violations))?;
    } else {
        print_checklist(
            ui,
            &facts,
            origin.as_ref(),
            &violations,
            args.feature.is_none(),
        )?;
    }
    Ok(if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::REFUSED)
    })
}

fn report<'a>(
    facts: &'a Facts,
    origin: Option<&'a Origin>,
    violations: &'a [Violation],
) -> Report<'a> {
    let head = match &facts.head {
        Head::Branch(b) => HeadReport {
            state: "branch",
            branch: Some(b),
            commit: None,
        },
        Head::Unborn(b) => HeadReport {
            state: "unborn",
            branch: Some(b),
            commit: None,
        },
        Head::Detached(c) => HeadReport {
            state: "detached",
            branch: None,
            commit: Some(c),
        },
    };
    let feature = facts.feature.as_ref().map(|f| FeatureReport {
        name: &f.feature.name,
        number: f.feature.number,
        dir: &f.feature.dir,
        origin,
        phase: f.phase(),
    });
    let artifacts = facts
        .feature
        .iter()
        .flat_map(|f| &f.artifacts)
        .map(|a| ArtifactReport {
            kind: a.kind,
            path: &a.path,
            exists: a.analysis.is_some(),
            complete: a.is_complete(),
            findings: a.analysis.as_ref().map_or(&[][..], |an| &an.findings),
            tasks: (a.kind == ArtifactKind::Tasks)
                .then(|| a.analysis.as_ref().map(|an| an.tasks).unwrap_or_default()),
        })
        .collect();
    Report {
        ok: violations.is_empty(),
        head,
        feature,
        artifacts,
        violations,
    }
}

fn print_checklist(
    ui: &Ui,
    facts: &Facts,
    origin: Option<&Origin>,
    violations: &[Violation],
    branch_matters: bool,
) -> std::io::Result<()> {
    let title = match (&facts.feature, origin) {
        (Some(f), Some(o)) => format!("{} ({o})", f.feature.name),
        _ => "no feature".into(),
    };
    ui.line(format!("{} {}", ui.bold("gate check:"), title))?;

    let on = match &facts.head {
        Head::Branch(b) => b.clone(),
        Head::Unborn(b) => format!("{b} (no commits yet)"),
        Head::Detached(c) => format!("detached at {}", &c[..c.len().min(10)]),
    };
    let branch_ok = if branch_matters {
        on
    } else {
        format!("{on} (not checked: --feature)")
    };
    row(ui, "branch", &branch_ok, violations, |s| {
        s == Subject::Branch
    })?;
    if let Some(feature) = &facts.feature {
        for a in &feature.artifacts {
            let ok = match (a.kind, &a.analysis) {
                (ArtifactKind::Tasks, Some(an)) => format!(
                    "{} complete, {}/{} tasks done",
                    a.path, an.tasks.done, an.tasks.total
                ),
                _ => format!("{} complete", a.path),
            };
            row(ui, a.kind.name(), &ok, violations, |s| {
                s == Subject::Artifact(a.kind)
            })?;
        }
        row(ui, "order", "spec → plan → tasks", violations, |s| {
            s == Subject::Order
        })?;
    } else if violations
        .iter()
        .any(|v| matches!(v.subject, Subject::Artifact(_)))
    {
        row(ui, "spec", "", violations, |s| {
            matches!(s, Subject::Artifact(_))
        })?;
    } else {
        ui.line(format!(
            "  {} {:<6} {}",
            ui.dim("-"),
            "spec",
            ui.dim("no feature to check")
        ))?;
    }

    if violations.is_empty() {
        ui.line(format!("{} implementation may begin", ui.ok_mark()))
    } else {
        let mut codes: Vec<&str> = violations.iter().map(|v| v.code.as_str()).collect();
        codes.dedup();
        ui.line(format!(
            "{} implementation may not begin: {} violation{} ({})",
            ui.fail_mark(),
            violations.len(),
            if violations.len() == 1 { "" } else { "s" },
            codes.join(", ")
        ))
    }
}

/// One checklist line: ✓ with `ok_text`, or ✗ with each matching violation under it.
fn row(
    ui: &Ui,
    name: &str,
    ok_text: &str,
    violations: &[Violation],
    matches: impl Fn(Subject) -> bool,
) -> std::io::Result<()> {
    let mine: Vec<&Violation> = violations.iter().filter(|v| matches(v.subject)).collect();
    if mine.is_empty() {
        return ui.line(format!("  {} {name:<6} {ok_text}", ui.ok_mark()));
    }
    for (i, v) in mine.iter().enumerate() {
        let label = if i == 0 { name } else { "" };
        ui.line(format!(
            "  {} {label:<6} {} {}",
            ui.fail_mark(),
            ui.code(format!("[{}]", v.code.as_str())),
            v.message
        ))?;
        ui.details(v, "           ", 12)?;
    }
    Ok(())
}
