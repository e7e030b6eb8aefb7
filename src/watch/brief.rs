//! The project's state as the watcher tells it to agents ([`crate::project_state`], the one
//! gatherer `gate status` uses too), rendered as one line for check-ins,
//! e.g. `branch feature/001-x, phase plan, tasks 3/10, last commit 12m ago, violations:
//! implementation-gate`.

use std::time::Duration;

use crate::repo::Head;
use crate::schedule::human;
use crate::spec::Phase;

pub use crate::project_state::{ProjectState, gather};

/// The state as one line; `now` in Unix seconds.
pub fn line(state: &ProjectState, now: i64) -> String {
    let mut parts = vec![match &state.head {
        Head::Branch(b) => format!("branch {b}"),
        Head::Unborn(b) => format!("branch {b}"),
        Head::Detached(id) => format!("detached HEAD at {}", &id[..id.len().min(10)]),
    }];
    if state.operation.in_progress() {
        parts.push(format!("{} in progress", state.operation.name()));
    }
    parts.push(match state.phase {
        Some(phase) => format!("phase {}", phase_name(phase)),
        None => "no feature".into(),
    });
    if let Some(t) = state.tasks {
        parts.push(format!("tasks {}/{}", t.done, t.total));
    }
    parts.push(match &state.last_commit {
        Some((_, time)) => {
            let age = Duration::from_secs(u64::try_from(now - time).unwrap_or(0));
            format!("last commit {} ago", human(age))
        }
        None => "no commits yet".into(),
    });
    let mut codes: Vec<&str> = Vec::new();
    for v in &state.violations {
        if !codes.contains(&v.code.as_str()) {
            codes.push(v.code.as_str());
        }
    }
    parts.push(match codes.is_empty() {
        true => "violations: none".into(),
        false => format!("violations: {}", codes.join(", ")),
    });
    parts.join(", ")
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Specify => "specify",
        Phase::Plan => "plan",
        Phase::Tasks => "tasks",
        Phase::Implement => "implement",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::Operation;
    use crate::rules::{Code, Subject, Violation};
    use crate::spec::markdown::TaskCount;

    fn violation(code: Code, fix: &str) -> Violation {
        Violation {
            code,
            subject: Subject::Branch,
            message: "m".into(),
            fix: fix.into(),
            paths: vec![],
            findings: vec![],
        }
    }

    #[test]
    fn one_line_with_every_part() {
        let state = ProjectState {
            feature: None,
            head: Head::Branch("feature/001-x".into()),
            operation: Operation::None,
            phase: Some(Phase::Plan),
            tasks: Some(TaskCount { done: 3, total: 10 }),
            last_commit: Some(("abc".into(), 1000)),
            violations: vec![
                violation(Code::ImplementationGate, "run `gate plan`"),
                violation(Code::ImplementationGate, "run `gate tasks`"),
                violation(Code::SpecOrder, "x"),
            ],
        };
        assert_eq!(
            line(&state, 1000 + 12 * 60),
            "branch feature/001-x, phase plan, tasks 3/10, last commit 12m ago, \
             violations: implementation-gate, spec-order"
        );
        assert_eq!(
            state.fix_for("implementation-gate"),
            Some("run `gate plan`")
        );
        assert_eq!(state.fix_for("commit-cadence"), Some("run `gate plan`"));
    }

    #[test]
    fn no_feature_no_commits_and_operations() {
        let state = ProjectState {
            feature: None,
            head: Head::Unborn("main".into()),
            operation: Operation::Rebase,
            phase: None,
            tasks: None,
            last_commit: None,
            violations: vec![],
        };
        assert_eq!(
            line(&state, 0),
            "branch main, rebase in progress, no feature, no commits yet, violations: none"
        );
        assert_eq!(state.fix_for("feature-branch"), None);
    }
}
