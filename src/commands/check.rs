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
    /// Unchecked items of checklists gated before completion: shown, not blocking.
    #[serde(skip_serializing_if = "<[Finding]>::is_empty")]
    deferred: &'a [Finding],
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
            deferred: a.analysis.as_ref().map_or(&[][..], |an| &an.deferred),
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
            if let Some(an) = a.analysis.as_ref().filter(|an| !an.deferred.is_empty()) {
                deferred_note(ui, &a.path, &an.deferred)?;
            }
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
        details(ui, v, "           ")?;
    }
    Ok(())
}

/// Checklist items that can only hold once the code exists: listed so nobody forgets them,
/// never a reason to wait.
fn deferred_note(ui: &Ui, artifact: &str, deferred: &[Finding]) -> std::io::Result<()> {
    let mut by_path: Vec<(&str, Vec<usize>)> = Vec::new();
    for f in deferred {
        let path = f.path.as_deref().unwrap_or(artifact);
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, lines)) => lines.push(f.line),
            None => by_path.push((path, vec![f.line])),
        }
    }
    for (path, lines) in by_path {
        ui.line(ui.dim(format!(
            "           not blocking: {} unchecked item{} gated before completion in {path} (line{} {})",
            lines.len(),
            if lines.len() == 1 { "" } else { "s" },
            if lines.len() == 1 { "" } else { "s" },
            line_ranges(&lines)
        )))?;
    }
    Ok(())
}

/// How many findings of one kind in one file are printed in full before the rest are
/// summarised as a list of lines.
const SHOWN: usize = 3;

/// The violation's paths, every finding, and its fix. Findings keep their order (most
/// important first); a run of more than [`SHOWN`] of one kind in one file prints the first
/// ones in full and then one line with the lines of all the others.
fn details(ui: &Ui, v: &Violation, indent: &str) -> std::io::Result<()> {
    const PATHS: usize = 5;
    for p in v.paths.iter().take(PATHS) {
        ui.line(format!("{indent}{}", ui.dim(p)))?;
    }
    if v.paths.len() > PATHS {
        let more = format!("... and {} more", v.paths.len() - PATHS);
        ui.line(format!("{indent}{}", ui.dim(more)))?;
    }
    let mut rest = &v.findings[..];
    while let Some(first) = rest.first() {
        let run = rest
            .iter()
            .take_while(|f| f.path == first.path && f.kind == first.kind)
            .count();
        let (group, tail) = rest.split_at(run);
        let shown = if group.len() > SHOWN + 1 {
            SHOWN
        } else {
            group.len()
        };
        for f in &group[..shown] {
            ui.line(format!("{indent}{}:{}: {}", f.path, f.line, f.message))?;
        }
        if shown < group.len() {
            let lines: Vec<usize> = group[shown..].iter().map(|f| f.line).collect();
            ui.line(format!(
                "{indent}{}: {} more {} at lines {}",
                first.path,
                lines.len(),
                first.kind.plural(),
                line_ranges(&lines)
            ))?;
        }
        rest = tail;
    }
    ui.line(format!("{indent}fix: {}", ui.bold(&v.fix)))
}

/// `[40, 41, 42, 50]` as `40-42, 50` (sorted first).
fn line_ranges(lines: &[usize]) -> String {
    let mut sorted = lines.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", sorted[i], sorted[j])
        } else {
            sorted[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::line_ranges;

    #[test]
    fn line_ranges_compress_runs() {
        assert_eq!(line_ranges(&[50, 40, 41, 42, 52, 53]), "40-42, 50, 52-53");
        assert_eq!(line_ranges(&[7]), "7");
    }
}
