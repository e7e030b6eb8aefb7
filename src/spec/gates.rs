//! What a checklist gates. spec-kit puts checklists in three places: a section of an artifact
//! under an italic `*GATE: ...*` line, a section of a known kind whose GATE line the author
//! deleted ("Review & Acceptance Checklist"), and whole files under `checklists/`, which
//! spec-kit's implement step refuses to start without. Each one holds back one step of the
//! workflow (planning, tasks, implementation or completion), and only that step: a checklist
//! "*GATE: Checked before marking complete*" lists things that can only hold once the code
//! exists, so it must not keep the code from starting.
//!
//! [`distribute`] moves every finding to the artifact that must be complete before the step
//! it holds back: spec.md before planning, plan.md before tasks, tasks.md before
//! implementation; findings that hold back completion only are kept aside, not blocking.

use serde::Serialize;

use super::ArtifactKind;
use super::markdown::{Analysis, Finding};

/// A step of the workflow a checklist must be complete before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Plan,
    Tasks,
    Implement,
    Complete,
}

impl Step {
    /// The step an artifact's own completeness holds back.
    pub fn after(kind: ArtifactKind) -> Step {
        match kind {
            ArtifactKind::Spec => Step::Plan,
            ArtifactKind::Plan => Step::Tasks,
            ArtifactKind::Tasks => Step::Implement,
        }
    }

    /// The artifact that must be complete before this step, `None` for completion.
    pub fn holder(self) -> Option<ArtifactKind> {
        match self {
            Step::Plan => Some(ArtifactKind::Spec),
            Step::Tasks => Some(ArtifactKind::Plan),
            Step::Implement => Some(ArtifactKind::Tasks),
            Step::Complete => None,
        }
    }
}

/// The step a gate line or purpose line names ("before marking complete", "before
/// proceeding to planning", "antes da implementação"); `None` when it names none
/// ("Checked by main() before returning"), which means the artifact's own next step.
pub fn classify(text: &str) -> Option<Step> {
    let lower = text.to_lowercase();
    let rest = ["before ", "prior to ", "antes d", "antes de ", "after "]
        .iter()
        .filter_map(|w| lower.find(w).map(|i| (i, &lower[i..])))
        .min_by_key(|&(i, _)| i)
        .map(|(_, rest)| rest)?;
    let after = rest.starts_with("after ");
    const WORDS: [(&[&str], Step); 4] = [
        (
            &[
                "complet",
                "conclu",
                "merg",
                "release",
                "done",
                "ship",
                "deploy",
                "closing",
                "finish",
                "pull request",
                "review of the code",
                "entrega",
            ],
            Step::Complete,
        ),
        (
            &["implement", "coding", "code", "build", "desenvolv"],
            Step::Implement,
        ),
        (&["task", "tarefa", "phase 2"], Step::Tasks),
        (&["plan", "phase 0", "design"], Step::Plan),
    ];
    // "before opening the PR": a pull request is opened once the work is done.
    if rest
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w == "pr")
    {
        return Some(Step::Complete);
    }
    if after {
        // "Checked after implementation" can only hold once the code exists.
        return (WORDS[1].0.iter().any(|w| rest.contains(w))
            || WORDS[0].0.iter().any(|w| rest.contains(w)))
        .then_some(Step::Complete);
    }
    // The first step word after "before" decides: "before `gate plan` writes plan.md".
    WORDS
        .iter()
        .flat_map(|(words, step)| {
            words
                .iter()
                .filter_map(|w| rest.find(w).map(|i| (i, *step)))
        })
        .min_by_key(|&(i, _)| i)
        .map(|(_, step)| step)
}

/// Headings of the checklists spec-kit's and gate's templates ship: they gate the artifact
/// even when the author deleted the italic GATE line under them.
pub fn is_known_checklist(title: &str) -> bool {
    // "✅ Review Checklist" is one; "Code Review Checklist" (for the pull request) is not.
    let t = title
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    [
        "review & acceptance checklist",
        "review and acceptance checklist",
        "review checklist",
        "validation checklist",
        "acceptance checklist",
        "specification quality checklist",
        "requirements checklist",
        "checklist de revisão",
        "lista de verificação de revisão",
        "checklist de validação",
        "checklist de aceitação",
    ]
    .iter()
    .any(|k| t.starts_with(k))
}

/// Moves each finding to the artifact that holds back the step it gates (see the module
/// doc). `analyses` are spec, plan and tasks in order (`None`: missing, which blocks anyway);
/// `extra` are findings from files beside them (`checklists/*.md`). Each artifact's
/// findings end up most important first.
pub fn distribute(analyses: &mut [&mut Option<Analysis>], extra: Vec<Finding>) {
    let mut moved: Vec<(Step, Finding)> = Vec::new();
    for (kind, analysis) in ArtifactKind::ALL.into_iter().zip(analyses.iter_mut()) {
        let Some(analysis) = analysis.as_mut() else {
            continue;
        };
        let own = Step::after(kind);
        let (stay, go): (Vec<Finding>, Vec<Finding>) = std::mem::take(&mut analysis.findings)
            .into_iter()
            .partition(|f| f.gates.is_none_or(|s| s <= own));
        analysis.findings = stay;
        moved.extend(go.into_iter().map(|f| (f.gates.unwrap_or(own), f)));
    }
    moved.extend(
        extra
            .into_iter()
            .map(|f| (f.gates.unwrap_or(Step::Implement), f)),
    );
    for (step, finding) in moved {
        let target = match step.holder() {
            Some(kind) => analyses.get_mut(kind as usize).and_then(|a| a.as_mut()),
            None => None,
        };
        match target {
            Some(analysis) => analysis.findings.push(finding),
            None if step == Step::Complete => {
                if let Some(last) = analyses.iter_mut().rev().find_map(|a| a.as_mut()) {
                    last.deferred.push(finding);
                }
            }
            None => {}
        }
    }
    for analysis in analyses.iter_mut().filter_map(|a| a.as_mut()) {
        super::markdown::order(&mut analysis.findings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_lines_name_their_step() {
        let cases = [
            (
                "GATE: Checked before marking complete",
                Some(Step::Complete),
            ),
            (
                "GATE: Must pass before Phase 0 research. Re-check after Phase 1 design.",
                Some(Step::Plan),
            ),
            (
                "GATE: every box ticked before `gate plan` will write plan.md",
                Some(Step::Plan),
            ),
            (
                "GATE: all checked before implementation starts",
                Some(Step::Implement),
            ),
            ("GATE: before /tasks", Some(Step::Tasks)),
            ("GATE: Checked by main() before returning", None),
            ("GATE: Automated checks run during main() execution", None),
            (
                "Validate specification completeness and quality before proceeding to planning",
                Some(Step::Plan),
            ),
            (
                "GATE: verificado antes de marcar como concluído",
                Some(Step::Complete),
            ),
            ("GATE: antes da implementação", Some(Step::Implement)),
            ("GATE: ticked after implementation", Some(Step::Complete)),
            (
                "GATE: all ticked before opening the PR",
                Some(Step::Complete),
            ),
            ("GATE: before production release", Some(Step::Complete)),
        ];
        for (text, step) in cases {
            assert_eq!(classify(text), step, "{text}");
        }
    }

    #[test]
    fn findings_move_to_the_artifact_that_holds_back_their_step() {
        use crate::spec::markdown::FindingKind;
        let gated = |line, step: Option<Step>, path: Option<&str>| {
            let mut f = Finding::new(line, FindingKind::UncheckedGateItem, "x");
            f.gates = step;
            f.path = path.map(str::to_owned);
            f
        };
        let mut spec = Some(Analysis {
            findings: vec![gated(3, Some(Step::Implement), None), gated(4, None, None)],
            ..Analysis::default()
        });
        let mut plan = Some(Analysis::default());
        let mut tasks = Some(Analysis::default());
        let extra = vec![
            gated(5, Some(Step::Plan), Some("c/requirements.md")),
            gated(6, None, Some("c/ux.md")),
            gated(7, Some(Step::Complete), Some("c/release.md")),
        ];
        distribute(&mut [&mut spec, &mut plan, &mut tasks], extra);
        let lines = |a: &Option<Analysis>| {
            a.as_ref()
                .unwrap()
                .findings
                .iter()
                .map(|f| f.line)
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(&spec), [4, 5]);
        assert!(plan.as_ref().unwrap().is_complete());
        assert_eq!(lines(&tasks), [3, 6]);
        assert_eq!(tasks.as_ref().unwrap().deferred[0].line, 7);
        // A checklist gating implementation waits for tasks.md (missing, which blocks on
        // its own); the spec stays complete.
        let mut spec = Some(Analysis::default());
        let (mut plan, mut tasks) = (None, None);
        distribute(
            &mut [&mut spec, &mut plan, &mut tasks],
            vec![gated(6, None, Some("c/ux.md"))],
        );
        assert!(spec.as_ref().unwrap().is_complete());
    }

    #[test]
    fn known_checklists() {
        assert!(is_known_checklist("Review & Acceptance Checklist"));
        assert!(is_known_checklist("Checklist de Revisão e Aceitação"));
        assert!(!is_known_checklist("Execution Status"));
        assert!(!is_known_checklist("Progress Tracking"));
        assert!(is_known_checklist("✅ Review Checklist"));
        assert!(!is_known_checklist("Code Review Checklist"));
    }
}
