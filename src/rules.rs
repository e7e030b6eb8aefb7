//! The rules, as one pure function from gathered facts to violations.
//!
//! The hook, `gate check`, the watcher and `gate status` all call [`Rules::evaluate`], so they
//! can never disagree. Nothing here touches the disk, the clock or tmux: tests build `Facts`
//! from plain values.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Serialize;

use crate::config::Config;
use crate::repo::{Head, Operation};
use crate::spec::feature::Feature;
use crate::spec::markdown::{Analysis, Finding, FindingKind};
use crate::spec::{ArtifactKind, Phase};

/// A rule's stable name, as it appears in messages, JSON and the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    FeatureBranch,
    SpecOrder,
    ImplementationGate,
    /// Uncommitted work older than `commit.interval` (judged by `gate status`; the watcher
    /// enforces it by committing).
    CommitCadence,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::FeatureBranch => "feature-branch",
            Code::SpecOrder => "spec-order",
            Code::ImplementationGate => "implementation-gate",
            Code::CommitCadence => "commit-cadence",
        }
    }
}

/// What a violation is about, so a report can attach it to the right line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "artifact")]
pub enum Subject {
    Branch,
    Artifact(ArtifactKind),
    Order,
    Paths,
}

/// A finding inside a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    pub path: String,
    pub line: usize,
    pub message: String,
    /// What kind of problem it is (orders and groups findings in reports).
    pub kind: FindingKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub code: Code,
    pub subject: Subject,
    /// One line: what is wrong.
    pub message: String,
    /// The exact command or step that fixes it.
    pub fix: String,
    /// Offending paths, when the rule is about paths.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Located>,
}

/// One artifact as found: `None` analysis means the file does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFacts {
    pub kind: ArtifactKind,
    pub path: String,
    pub analysis: Option<Analysis>,
    /// Oldest commit on the branch's first-parent line containing the file: (walk position,
    /// 0 = tip and larger = older, commit id). `None`: never committed.
    pub first_commit: Option<(usize, String)>,
}

impl ArtifactFacts {
    pub fn is_complete(&self) -> bool {
        self.analysis.as_ref().is_some_and(Analysis::is_complete)
    }
}

/// The feature being worked on and its artifacts, in order spec, plan, tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureFacts {
    pub feature: Feature,
    pub artifacts: Vec<ArtifactFacts>,
}

impl FeatureFacts {
    /// The first artifact that is missing or incomplete.
    pub fn first_incomplete(&self) -> Option<&ArtifactFacts> {
        self.artifacts.iter().find(|a| !a.is_complete())
    }

    pub fn phase(&self) -> Phase {
        Phase::of_first_incomplete(self.first_incomplete().map(|a| a.kind))
    }

    pub fn artifact(&self, kind: ArtifactKind) -> &ArtifactFacts {
        &self.artifacts[kind as usize]
    }
}

/// What is being decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// `gate check`: may implementation begin? `branch_matters` is false when the feature was
    /// named explicitly (checking a feature from any branch).
    MayImplement { branch_matters: bool },
    /// The pre-commit hook: may these staged paths be committed?
    MayCommit { staged: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub head: Head,
    pub operation: Operation,
    /// `None` when no feature could be found for the branch.
    pub feature: Option<FeatureFacts>,
    pub question: Question,
}

/// The config's rules, compiled once per decision.
pub struct Rules<'c> {
    config: &'c Config,
    implementation: GlobSet,
}

impl<'c> Rules<'c> {
    pub fn new(config: &'c Config) -> Rules<'c> {
        let mut set = GlobSetBuilder::new();
        for glob in &config.spec.implementation {
            // Validated when the config was read; a pattern that still fails matches nothing.
            if let Ok(g) = GlobBuilder::new(&glob.0).literal_separator(true).build() {
                set.add(g);
            }
        }
        Rules {
            config,
            implementation: set.build().unwrap_or_else(|_| GlobSet::empty()),
        }
    }

    pub fn is_implementation(&self, path: &str) -> bool {
        self.implementation.is_match(path)
    }

    /// Every rule, over one set of facts. Empty means allowed.
    pub fn evaluate(&self, facts: &Facts) -> Vec<Violation> {
        match &facts.question {
            Question::MayImplement { branch_matters } => self.may_implement(facts, *branch_matters),
            Question::MayCommit { staged } => self.may_commit(facts, staged),
        }
    }

    fn may_implement(&self, facts: &Facts, branch_matters: bool) -> Vec<Violation> {
        let mut out = Vec::new();
        if branch_matters {
            out.extend(self.branch_violation(facts, &[]));
        }
        let Some(feature) = &facts.feature else {
            if out.is_empty() {
                out.push(no_feature(&facts.head, Vec::new()));
            }
            return out;
        };
        for artifact in &feature.artifacts {
            out.extend(artifact_violation(feature, artifact));
        }
        out.extend(order_violations(feature));
        out
    }

    fn may_commit(&self, facts: &Facts, staged: &[String]) -> Vec<Violation> {
        // The root commit creates the repository's history: there is nothing to protect yet,
        // and adopting gate in a new repository must be able to import existing code.
        if matches!(facts.head, Head::Unborn(_)) {
            return Vec::new();
        }
        let mut out = Vec::new();
        // A merge in progress exempts nothing here: whether concluding it lands a finished
        // feature is a question about content (`judge::merge_landing`), which the hook asks.
        out.extend(self.branch_violation(facts, staged));
        let implementation: Vec<String> = staged
            .iter()
            .filter(|p| self.is_implementation(p))
            .cloned()
            .collect();
        match &facts.feature {
            None if !implementation.is_empty() && out.is_empty() => {
                out.push(no_feature(&facts.head, implementation));
            }
            None => {}
            Some(feature) => {
                if !implementation.is_empty()
                    && let Some(missing) = feature.first_incomplete()
                {
                    out.push(Violation {
                        code: Code::ImplementationGate,
                        subject: Subject::Paths,
                        message: format!(
                            "implementation files staged while {} of {} is {}",
                            missing.kind.file_name(),
                            feature.feature.name,
                            state_word(missing)
                        ),
                        fix: fix_for(feature, missing),
                        paths: implementation,
                        findings: located(missing),
                    });
                }
                out.extend(staged_order_violations(feature, staged));
            }
        }
        out
    }

    fn branch_violation(&self, facts: &Facts, staged: &[String]) -> Option<Violation> {
        let specify = "gate specify \"<name>\"".to_string();
        let committing = matches!(facts.question, Question::MayCommit { .. });
        let (message, fix) = match &facts.head {
            Head::Branch(b) | Head::Unborn(b) if self.config.is_protected(b) => (
                format!("{b} is protected: work happens on a feature branch"),
                specify,
            ),
            // Commits during a rebase or on a detached HEAD are history surgery, not new work.
            Head::Detached(_) if matches!(facts.question, Question::MayCommit { .. }) => {
                return None;
            }
            Head::Detached(id) => (
                format!(
                    "HEAD is detached at {}: implementation happens on a feature branch",
                    &id[..id.len().min(10)]
                ),
                "git switch <feature branch>".into(),
            ),
            Head::Branch(b) | Head::Unborn(b) if facts.feature.is_none() => {
                // Not protected but names no feature: only a problem for implementation.
                if committing {
                    return None;
                }
                (
                    format!(
                        "branch {b} names no feature (expected {}NNN-name)",
                        self.config.branches.feature_prefix
                    ),
                    specify,
                )
            }
            _ => return None,
        };
        Some(Violation {
            code: Code::FeatureBranch,
            subject: Subject::Branch,
            message,
            fix,
            paths: staged.iter().take(10).cloned().collect(),
            findings: Vec::new(),
        })
    }
}

fn no_feature(head: &Head, paths: Vec<String>) -> Violation {
    let on = match head.branch() {
        Some(b) => format!("branch {b}"),
        None => "a detached HEAD".into(),
    };
    Violation {
        code: Code::ImplementationGate,
        subject: if paths.is_empty() {
            Subject::Artifact(ArtifactKind::Spec)
        } else {
            Subject::Paths
        },
        message: format!(
            "no feature spec for {on}: implementation needs spec, plan and tasks first"
        ),
        fix: "gate specify \"<name>\"".into(),
        paths,
        findings: Vec::new(),
    }
}

fn state_word(a: &ArtifactFacts) -> &'static str {
    if a.analysis.is_none() {
        "missing"
    } else {
        "incomplete"
    }
}

fn located(a: &ArtifactFacts) -> Vec<Located> {
    a.analysis
        .iter()
        .flat_map(|an| &an.findings)
        .map(|f: &Finding| Located {
            path: f.path.clone().unwrap_or_else(|| a.path.clone()),
            line: f.line,
            message: f.message.clone(),
            kind: f.kind,
        })
        .collect()
}

/// The step that moves a feature past `a`.
fn fix_for(feature: &FeatureFacts, a: &ArtifactFacts) -> String {
    match (&a.analysis, a.kind.previous()) {
        (None, Some(prev)) if !feature.artifact(prev).is_complete() => format!(
            "complete {} first, then run `{}`",
            feature.artifact(prev).path,
            a.kind.command()
        ),
        (None, _) => format!("run `{}`", a.kind.command()),
        (Some(_), _) => format!("resolve the findings in {}, then run `gate check`", a.path),
    }
}

fn artifact_violation(feature: &FeatureFacts, a: &ArtifactFacts) -> Option<Violation> {
    if a.is_complete() {
        return None;
    }
    let message = match &a.analysis {
        None => format!("{} is missing", a.path),
        Some(an) => format!(
            "{} is incomplete ({} finding{})",
            a.path,
            an.findings.len(),
            if an.findings.len() == 1 { "" } else { "s" }
        ),
    };
    Some(Violation {
        code: Code::ImplementationGate,
        subject: Subject::Artifact(a.kind),
        message,
        fix: fix_for(feature, a),
        paths: Vec::new(),
        findings: located(a),
    })
}

/// spec-order, from what exists now and from history.
fn order_violations(feature: &FeatureFacts) -> Vec<Violation> {
    let mut out = Vec::new();
    for later in &feature.artifacts {
        let Some(prev) = later.kind.previous().map(|k| feature.artifact(k)) else {
            continue;
        };
        if later.analysis.is_some() && !prev.is_complete() {
            out.push(Violation {
                code: Code::SpecOrder,
                subject: Subject::Order,
                message: format!(
                    "{} exists while {} is {}",
                    later.kind.file_name(),
                    prev.kind.file_name(),
                    state_word(prev)
                ),
                fix: format!(
                    "complete {} first, then revisit {} against it",
                    prev.path, later.path
                ),
                paths: vec![later.path.clone()],
                findings: Vec::new(),
            });
        }
        if let Some((later_pos, later_id)) = &later.first_commit {
            let earlier_first = match &prev.first_commit {
                None => true,
                Some((prev_pos, _)) => later_pos > prev_pos,
            };
            if earlier_first {
                out.push(Violation {
                    code: Code::SpecOrder,
                    subject: Subject::Order,
                    message: format!(
                        "{} was first committed (in {}) before {}",
                        later.kind.file_name(),
                        &later_id[..later_id.len().min(10)],
                        prev.kind.file_name()
                    ),
                    fix: format!(
                        "rewrite the branch so {} is committed first (git rebase -i), or start over with `gate specify`",
                        prev.path
                    ),
                    paths: vec![later.path.clone()],
                    findings: Vec::new(),
                });
            }
        }
    }
    out
}

/// spec-order in a commit: a later artifact staged while an earlier one is incomplete.
fn staged_order_violations(feature: &FeatureFacts, staged: &[String]) -> Vec<Violation> {
    feature
        .artifacts
        .iter()
        .filter(|later| staged.contains(&later.path))
        .filter_map(|later| {
            let prev = feature.artifact(later.kind.previous()?);
            (!prev.is_complete()).then(|| Violation {
                code: Code::SpecOrder,
                subject: Subject::Order,
                message: format!(
                    "{} staged while {} is {}",
                    later.kind.file_name(),
                    prev.kind.file_name(),
                    state_word(prev)
                ),
                fix: format!("complete {} and commit it first", prev.path),
                paths: vec![later.path.clone()],
                findings: located(prev),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::markdown::TaskCount;

    fn complete() -> Option<Analysis> {
        Some(Analysis::default())
    }

    fn incomplete() -> Option<Analysis> {
        Some(Analysis {
            findings: vec![Finding::new(
                7,
                FindingKind::Placeholder,
                "unresolved placeholder {{x}}",
            )],
            tasks: TaskCount::default(),
            deferred: Vec::new(),
        })
    }

    fn feature(states: [Option<Analysis>; 3]) -> FeatureFacts {
        let [spec, plan, tasks] = states;
        let artifact = |kind: ArtifactKind, analysis| ArtifactFacts {
            kind,
            path: format!("specs/001-auth/{}", kind.file_name()),
            analysis,
            first_commit: None,
        };
        FeatureFacts {
            feature: Feature {
                name: "001-auth".into(),
                number: 1,
                dir: "specs/001-auth".into(),
                exists: true,
            },
            artifacts: vec![
                artifact(ArtifactKind::Spec, spec),
                artifact(ArtifactKind::Plan, plan),
                artifact(ArtifactKind::Tasks, tasks),
            ],
        }
    }

    fn facts(head: Head, feature: Option<FeatureFacts>, question: Question) -> Facts {
        Facts {
            head,
            operation: Operation::None,
            feature,
            question,
        }
    }

    fn on_feature() -> Head {
        Head::Branch("feature/001-auth".into())
    }

    const CHECK: Question = Question::MayImplement {
        branch_matters: true,
    };

    fn codes(v: &[Violation]) -> Vec<(Code, Subject)> {
        v.iter().map(|v| (v.code, v.subject)).collect()
    }

    fn eval(f: &Facts) -> Vec<Violation> {
        let config = Config::default();
        Rules::new(&config).evaluate(f)
    }

    #[test]
    fn complete_feature_on_its_branch_passes() {
        let f = facts(
            on_feature(),
            Some(feature([complete(), complete(), complete()])),
            CHECK,
        );
        assert_eq!(eval(&f), vec![]);
    }

    #[test]
    fn protected_branch_is_refused_with_specify_fix() {
        let f = facts(Head::Branch("main".into()), None, CHECK);
        let v = eval(&f);
        assert_eq!(codes(&v), vec![(Code::FeatureBranch, Subject::Branch)]);
        assert_eq!(v[0].fix, "gate specify \"<name>\"");
        let unborn = eval(&facts(Head::Unborn("master".into()), None, CHECK));
        assert_eq!(unborn[0].code, Code::FeatureBranch);
    }

    #[test]
    fn detached_head_and_featureless_branch_fail_check() {
        let v = eval(&facts(
            Head::Detached("abcdef1234567890".into()),
            None,
            CHECK,
        ));
        assert_eq!(codes(&v), vec![(Code::FeatureBranch, Subject::Branch)]);
        assert!(v[0].message.contains("abcdef1234"));
        let v = eval(&facts(Head::Branch("experiment".into()), None, CHECK));
        assert!(v[0].message.contains("names no feature"), "{v:?}");
    }

    #[test]
    fn each_incomplete_artifact_is_a_gate_violation_with_its_fix() {
        let f = facts(
            on_feature(),
            Some(feature([incomplete(), None, None])),
            CHECK,
        );
        let v = eval(&f);
        assert_eq!(
            codes(&v),
            vec![
                (
                    Code::ImplementationGate,
                    Subject::Artifact(ArtifactKind::Spec)
                ),
                (
                    Code::ImplementationGate,
                    Subject::Artifact(ArtifactKind::Plan)
                ),
                (
                    Code::ImplementationGate,
                    Subject::Artifact(ArtifactKind::Tasks)
                ),
            ]
        );
        assert_eq!(v[0].findings[0].line, 7);
        assert!(
            v[0].fix
                .contains("resolve the findings in specs/001-auth/spec.md")
        );
        assert!(
            v[1].fix
                .starts_with("complete specs/001-auth/spec.md first"),
            "{}",
            v[1].fix
        );
        let f = facts(
            on_feature(),
            Some(feature([complete(), complete(), None])),
            CHECK,
        );
        assert_eq!(eval(&f)[0].fix, "run `gate tasks`");
    }

    #[test]
    fn plan_written_before_spec_complete_is_out_of_order() {
        let f = facts(
            on_feature(),
            Some(feature([incomplete(), complete(), None])),
            CHECK,
        );
        let v = eval(&f);
        assert!(v.iter().any(|v| v.code == Code::SpecOrder
            && v.message == "plan.md exists while spec.md is incomplete"));
    }

    #[test]
    fn history_order_is_checked() {
        let mut ff = feature([complete(), complete(), complete()]);
        ff.artifacts[0].first_commit = Some((1, "aaaa".into()));
        ff.artifacts[1].first_commit = Some((2, "bbbb".into()));
        let v = eval(&facts(on_feature(), Some(ff.clone()), CHECK));
        assert_eq!(codes(&v), vec![(Code::SpecOrder, Subject::Order)]);
        assert!(
            v[0].message
                .starts_with("plan.md was first committed (in bbbb) before spec.md")
        );
        // Same commit is fine; tasks committed while plan never was is not.
        ff.artifacts[1].first_commit = Some((1, "aaaa".into()));
        ff.artifacts[2].first_commit = Some((0, "cccc".into()));
        assert_eq!(eval(&facts(on_feature(), Some(ff.clone()), CHECK)), vec![]);
        ff.artifacts[1].first_commit = None;
        assert_eq!(eval(&facts(on_feature(), Some(ff), CHECK)).len(), 1);
    }

    #[test]
    fn explicit_feature_ignores_the_branch() {
        let q = Question::MayImplement {
            branch_matters: false,
        };
        let f = facts(
            Head::Branch("main".into()),
            Some(feature([complete(), complete(), complete()])),
            q,
        );
        assert_eq!(eval(&f), vec![]);
    }

    fn commit(paths: &[&str]) -> Question {
        Question::MayCommit {
            staged: paths.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn commits_on_protected_branches_are_refused_even_during_a_merge() {
        let mut f = facts(Head::Branch("main".into()), None, commit(&["README.md"]));
        assert_eq!(
            codes(&eval(&f)),
            vec![(Code::FeatureBranch, Subject::Branch)]
        );
        f.operation = Operation::Merge;
        assert_eq!(
            codes(&eval(&f)),
            vec![(Code::FeatureBranch, Subject::Branch)],
            "a merge in progress must not exempt main"
        );
        let root = facts(
            Head::Unborn("main".into()),
            None,
            commit(&["README.md", "src/lib.rs"]),
        );
        assert_eq!(
            eval(&root),
            vec![],
            "the root commit creates main, importing code included"
        );
    }

    #[test]
    fn implementation_paths_wait_for_the_gate_but_docs_do_not() {
        let incomplete_feature = Some(feature([complete(), incomplete(), None]));
        let docs = facts(
            on_feature(),
            incomplete_feature.clone(),
            commit(&["README.md", "specs/001-auth/spec.md"]),
        );
        assert_eq!(eval(&docs), vec![]);
        let code = facts(
            on_feature(),
            incomplete_feature,
            commit(&["src/main.rs", "README.md"]),
        );
        let v = eval(&code);
        assert_eq!(codes(&v), vec![(Code::ImplementationGate, Subject::Paths)]);
        assert_eq!(v[0].paths, vec!["src/main.rs"]);
        assert!(v[0].message.contains("plan.md of 001-auth is incomplete"));
        let done = facts(
            on_feature(),
            Some(feature([complete(), complete(), complete()])),
            commit(&["src/main.rs"]),
        );
        assert_eq!(eval(&done), vec![]);
    }

    #[test]
    fn implementation_on_a_featureless_branch_is_refused() {
        let f = facts(
            Head::Branch("experiment".into()),
            None,
            commit(&["src/lib.rs"]),
        );
        let v = eval(&f);
        assert_eq!(codes(&v), vec![(Code::ImplementationGate, Subject::Paths)]);
        let docs = facts(
            Head::Branch("experiment".into()),
            None,
            commit(&["docs/x.md"]),
        );
        assert_eq!(eval(&docs), vec![]);
    }

    #[test]
    fn staging_a_later_artifact_early_is_out_of_order() {
        let f = facts(
            on_feature(),
            Some(feature([incomplete(), complete(), None])),
            commit(&["specs/001-auth/plan.md"]),
        );
        let v = eval(&f);
        assert_eq!(codes(&v), vec![(Code::SpecOrder, Subject::Order)]);
        assert_eq!(v[0].findings[0].line, 7);
    }

    #[test]
    fn detached_commits_during_history_surgery_are_not_branch_violations() {
        let f = facts(Head::Detached("abc".into()), None, commit(&["README.md"]));
        assert_eq!(eval(&f), vec![]);
    }
}
