//! `gate plan` and `gate tasks`: refused until the artifact before is complete, never
//! overwriting.

use crate::env::{TestEnv, assert_contains, assert_exit, assert_lacks, stderr, stdout};

const SPEC: &str = "specs/001-user-auth/spec.md";
const PLAN: &str = "specs/001-user-auth/plan.md";
const TASKS: &str = "specs/001-user-auth/tasks.md";

fn specified() -> TestEnv {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    env
}

#[test]
fn plan_is_refused_while_the_spec_is_incomplete() {
    let env = specified();
    let first_blank = env.line_of(SPEC, "{{In two to four sentences");
    let out = env.gate(&["plan"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            "refused: plan.md needs a complete specs/001-user-auth/spec.md, and it is incomplete",
            &format!("{SPEC}:{first_blank}: unresolved placeholder {{{{In two to four sentences"),
            "fix: resolve the findings in specs/001-user-auth/spec.md, then run `gate plan`",
        ],
    );
    // Blanks inside the template's HTML comment are not findings.
    let comment_line = env.line_of(SPEC, "Every other {{...}} is a blank");
    assert_lacks(&text, &[&format!("{SPEC}:{comment_line}:")]);
    assert!(!env.exists(PLAN), "plan.md written for an incomplete spec");
}

#[test]
fn plan_refusal_names_the_one_remaining_finding_at_its_line() {
    let env = specified();
    env.fill(SPEC);
    let box_line = env.line_of(SPEC, "- [x] Every requirement is testable");
    env.replace_line(
        SPEC,
        box_line,
        "- [ ] Every requirement is testable and says one thing",
    );
    let out = env.gate(&["plan"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[&format!(
            "{SPEC}:{box_line}: unchecked item in the gate checklist \"Review Checklist\""
        )],
    );
    assert_eq!(
        stdout(&out).matches(&format!("{SPEC}:")).count(),
        1,
        "{}",
        stdout(&out)
    );
    assert!(!env.exists(PLAN));
}

#[test]
fn plan_is_refused_for_an_empty_mandatory_section() {
    let env = specified();
    env.fill(SPEC);
    // Empty the body of "Functional Requirements *(mandatory)*" (up to the next heading).
    let text = env.read(SPEC);
    let start = text.find("## Functional Requirements").unwrap();
    let heading_end = start + text[start..].find('\n').unwrap() + 1;
    let next = heading_end + text[heading_end..].find("\n## ").unwrap() + 1;
    env.write(
        SPEC,
        &format!("{}\n{}", &text[..heading_end], &text[next..]),
    );
    let heading_line = env.line_of(SPEC, "## Functional Requirements");
    let out = env.gate(&["plan"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[&format!(
            "{SPEC}:{heading_line}: the mandatory section \"Functional Requirements\" is empty"
        )],
    );
}

#[test]
fn plan_is_written_once_the_spec_is_complete() {
    let env = specified();
    env.fill(SPEC);
    let out = env.gate(&["plan"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &["wrote specs/001-user-auth/plan.md", "gate tasks"],
    );
    let plan = env.read(PLAN);
    assert_contains(
        &plan,
        &[
            "# Implementation Plan: ",
            "`feature/001-user-auth`",
            "**Feature**: 001",
        ],
    );
    assert_lacks(
        &plan,
        &["{{feature}}", "{{branch}}", "{{date}}", "{{number}}"],
    );
}

#[test]
fn tasks_are_refused_while_the_plan_is_missing_or_incomplete() {
    let env = specified();
    env.fill(SPEC);
    let out = env.gate(&["tasks"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            "refused: tasks.md needs a complete specs/001-user-auth/plan.md, and it is missing",
            "fix: run `gate plan` first",
        ],
    );
    assert!(!env.exists(TASKS));

    assert_exit(&env.gate(&["plan"]), 0);
    let first_blank = env.line_of(PLAN, "{{The main requirement");
    let out = env.gate(&["tasks"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            "and it is incomplete",
            &format!("{PLAN}:{first_blank}: unresolved placeholder"),
            "fix:",
        ],
    );
    assert!(!env.exists(TASKS));

    env.fill(PLAN);
    let out = env.gate(&["tasks"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &["wrote specs/001-user-auth/tasks.md", "gate check"],
    );
    assert_contains(&env.read(TASKS), &["- [ ] T001", "`feature/001-user-auth`"]);
}

#[test]
fn plan_never_overwrites_an_existing_plan() {
    let env = specified();
    env.fill(SPEC);
    assert_exit(&env.gate(&["plan"]), 0);
    env.fill(PLAN);
    let before = env.read_bytes(PLAN);

    let out = env.gate(&["plan"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert_contains(
        &err,
        &["specs/001-user-auth/plan.md already exists", "--force"],
    );
    assert_eq!(env.read_bytes(PLAN), before, "plan.md changed");

    let out = env.gate(&["plan", "--force"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["plan.md.bak"]);
    assert_eq!(env.read_bytes(&format!("{PLAN}.bak")), before);
    assert_contains(&env.read(PLAN), &["{{The main requirement"]);
}

#[test]
fn tasks_never_overwrite_existing_tasks() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    let path = format!("{dir}/tasks.md");
    let before = env.read_bytes(&path);
    let out = env.gate(&["tasks"]);
    assert_exit(&out, 1);
    assert_contains(&stderr(&out), &["tasks.md already exists"]);
    assert_eq!(env.read_bytes(&path), before);
}

#[test]
fn plan_off_a_feature_branch_is_refused_with_how_to_start_one() {
    let env = TestEnv::new();
    let out = env.gate(&["plan"]);
    assert_exit(&out, 1);
    assert_contains(
        &stderr(&out),
        &["no feature here", "gate specify", "--feature"],
    );
}

#[test]
fn plan_with_feature_argument_from_another_branch() {
    let env = specified();
    env.fill(SPEC);
    env.git(&["switch", "-q", "-c", "experiment"]);
    let out = env.gate(&["plan", "--feature", "001"]);
    assert_exit(&out, 0);
    assert!(env.exists(PLAN));
}

#[test]

fn plan_for_a_feature_that_lives_on_another_branch_is_not_split_off_onto_this_one() {
    let env = specified();
    env.fill(SPEC);
    env.commit_all("spec");
    env.git(&["switch", "-q", "main"]);
    assert!(!env.exists("specs"));
    let out = env.gate(&["plan", "--feature", "001-user-auth"]);
    // Either refuse (switch to the feature's branch first) or keep the feature whole: it must
    // never leave a plan.md here without its spec.md.
    if out.status.code() == Some(0) {
        assert!(env.exists(SPEC), "plan.md written on main without spec.md");
    } else {
        assert_exit(&out, 1);
        assert_contains(&crate::env::all(&out), &["feature/001-user-auth"]);
        assert!(!env.exists(PLAN));
    }
    // The feature is still whole: only the plan is unfinished (or absent).
    let check = env.gate(&["check", "--feature", "001-user-auth"]);
    assert_exit(&check, 1);
    assert_contains(&stdout(&check), &["✓ spec"]);
    assert_lacks(&stdout(&check), &["spec.md is missing", "spec-order"]);
}
