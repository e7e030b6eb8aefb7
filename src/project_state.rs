//! A project's state, gathered once per question by the one gatherer that `gate status`, the
//! watcher's check-ins and nudges, and `gate team status` share: HEAD, the operation in
//! progress, the feature, its phase and tasks, the last commit, and what the rules say (the
//! same facts and rules as `gate check`). Each caller adds only what is its own (the dirt
//! of a status, the line of a check-in).

use crate::config::Config;
use crate::facts::{self, FactsError, FeatureHint};
use crate::repo::{Head, Operation, Repo};
use crate::rules::{Question, Rules, Violation};
use crate::spec::markdown::TaskCount;
use crate::spec::{ArtifactKind, Phase};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectState {
    pub head: Head,
    /// The feature's directory name, when the branch (or a pointer) names one.
    pub feature: Option<String>,
    pub operation: Operation,
    pub phase: Option<Phase>,
    /// Done and total, when the feature has a tasks file.
    pub tasks: Option<TaskCount>,
    /// HEAD's id and commit time (Unix seconds).
    pub last_commit: Option<(String, i64)>,
    /// What `gate check` would report now.
    pub violations: Vec<Violation>,
}

impl ProjectState {
    /// The fix of the first violation of `code`, else of the first violation at all.
    pub fn fix_for(&self, code: &str) -> Option<&str> {
        self.violations
            .iter()
            .find(|v| v.code.as_str() == code)
            .or(self.violations.first())
            .map(|v| v.fix.as_str())
    }

    pub fn violates(&self, code: &str) -> bool {
        self.violations.iter().any(|v| v.code.as_str() == code)
    }

    /// The first violation of `code`.
    pub fn violation(&self, code: &str) -> Option<&Violation> {
        self.violations.iter().find(|v| v.code.as_str() == code)
    }
}

/// Reads HEAD, the feature and its artifacts, and evaluates the rules, as `gate check` does.
pub fn gather(repo: &Repo, config: &Config) -> Result<ProjectState, FactsError> {
    let question = Question::MayImplement {
        branch_matters: true,
    };
    let (facts, _) = facts::gather(repo, config, &FeatureHint::default(), question)?;
    let feature = facts.feature.as_ref();
    let tasks = feature.and_then(|f| {
        f.artifact(ArtifactKind::Tasks)
            .analysis
            .as_ref()
            .map(|a| a.tasks)
    });
    let violations = Rules::new(config).evaluate(&facts);
    Ok(ProjectState {
        head: facts.head.clone(),
        feature: feature.map(|f| f.feature.name.clone()),
        operation: facts.operation,
        phase: feature.map(|f| f.phase()),
        tasks,
        last_commit: repo.last_commit().map(|c| (c.id, c.time)),
        violations,
    })
}
