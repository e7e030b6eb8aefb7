//! Spec-kit artifacts: what a feature's spec, plan and tasks are, where they live, and when
//! they are complete.

pub mod checklists;
pub mod feature;
pub mod gates;
pub mod markdown;
pub mod placeholders;
pub mod task_ids;
pub mod tasks;
pub mod templates;

use serde::Serialize;

/// The three artifacts of a feature, in the order they must be written and completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    Spec,
    Plan,
    Tasks,
}

impl ArtifactKind {
    pub const ALL: [ArtifactKind; 3] =
        [ArtifactKind::Spec, ArtifactKind::Plan, ArtifactKind::Tasks];

    pub fn file_name(self) -> &'static str {
        match self {
            ArtifactKind::Spec => "spec.md",
            ArtifactKind::Plan => "plan.md",
            ArtifactKind::Tasks => "tasks.md",
        }
    }

    pub fn template_name(self) -> &'static str {
        match self {
            ArtifactKind::Spec => "spec-template.md",
            ArtifactKind::Plan => "plan-template.md",
            ArtifactKind::Tasks => "tasks-template.md",
        }
    }

    /// The artifact that must be complete before this one is written.
    pub fn previous(self) -> Option<ArtifactKind> {
        match self {
            ArtifactKind::Spec => None,
            ArtifactKind::Plan => Some(ArtifactKind::Spec),
            ArtifactKind::Tasks => Some(ArtifactKind::Plan),
        }
    }

    /// The gate command that writes this artifact.
    pub fn command(self) -> &'static str {
        match self {
            ArtifactKind::Spec => "gate specify",
            ArtifactKind::Plan => "gate plan",
            ArtifactKind::Tasks => "gate tasks",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ArtifactKind::Spec => "spec",
            ArtifactKind::Plan => "plan",
            ArtifactKind::Tasks => "tasks",
        }
    }
}

/// Where in the workflow a feature is: the first step not yet done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Specify,
    Plan,
    Tasks,
    Implement,
}

impl Phase {
    pub fn of_first_incomplete(kind: Option<ArtifactKind>) -> Phase {
        match kind {
            Some(ArtifactKind::Spec) => Phase::Specify,
            Some(ArtifactKind::Plan) => Phase::Plan,
            Some(ArtifactKind::Tasks) => Phase::Tasks,
            None => Phase::Implement,
        }
    }
}
