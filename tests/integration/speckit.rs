//! spec-kit compatibility: a feature written in spec-kit's own template style, on spec-kit's
//! bare `NNN-slug` branch, passes; a marker left in it fails at its line.

use crate::env::{TestEnv, assert_contains, assert_exit, assert_lacks, stdout};

const DIR: &str = "specs/001-photo-albums";
const SPEC: &str = "specs/001-photo-albums/spec.md";
const PLAN: &str = "specs/001-photo-albums/plan.md";
const TASKS: &str = "specs/001-photo-albums/tasks.md";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/speckit/001-photo-albums/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// A repository on branch `001-photo-albums` holding the fixture, committed in one commit.
fn photo_albums() -> TestEnv {
    let env = TestEnv::new();
    env.git(&["switch", "-q", "-c", "001-photo-albums"]);
    for name in ["spec.md", "plan.md", "tasks.md"] {
        env.write(&format!("{DIR}/{name}"), &fixture(name));
    }
    env.commit_all("spec-kit feature");
    env
}

#[test]
fn spec_kit_feature_on_a_bare_branch_passes() {
    let env = photo_albums();
    let out = env.gate(&["check"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &[
            "gate check: 001-photo-albums (branch 001-photo-albums)",
            "✓ branch 001-photo-albums",
            "specs/001-photo-albums/tasks.md complete, 0/22 tasks done",
            "implementation may begin",
        ],
    );
}

#[test]
fn spec_kit_feature_committed_in_order_passes_and_out_of_order_fails() {
    let env = TestEnv::new();
    env.git(&["switch", "-q", "-c", "001-photo-albums"]);
    for name in ["spec.md", "plan.md", "tasks.md"] {
        let path = format!("{DIR}/{name}");
        env.write(&path, &fixture(name));
        env.commit_paths(&[&path], &format!("add {name}"));
    }
    assert_exit(&env.gate(&["check"]), 0);

    let env = TestEnv::new();
    env.git(&["switch", "-q", "-c", "001-photo-albums"]);
    for name in ["plan.md", "spec.md", "tasks.md"] {
        let path = format!("{DIR}/{name}");
        env.write(&path, &fixture(name));
        env.commit_paths(&[&path], &format!("add {name}"));
    }
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(&stdout(&out), &["[spec-order] plan.md was first committed"]);
}

#[test]
fn needs_clarification_in_the_spec_fails_at_that_line() {
    let env = photo_albums();
    assert_eq!(env.line_of(SPEC, "- **FR-002**"), 77);
    env.insert_line(
        SPEC,
        77,
        "- **FR-009**: System MUST order albums by [NEEDS CLARIFICATION: which sort order?]",
    );
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            "specs/001-photo-albums/spec.md:77: open question [NEEDS CLARIFICATION: which sort order?]",
            "specs/001-photo-albums/spec.md is incomplete (1 finding)",
        ],
    );
    assert_eq!(
        text.matches("specs/001-photo-albums/spec.md:").count(),
        1,
        "{text}"
    );
}

#[test]
fn needs_clarification_inside_a_long_paragraph_fails_at_that_line() {
    let env = photo_albums();
    // Line 17 is the body of User Story 1; replace its last sentence.
    let line = env.line_of(SPEC, "The main page lists the albums, newest first.");
    assert_eq!(line, 17);
    let old = env.read(SPEC).lines().nth(16).unwrap().to_owned();
    env.replace_line(
        SPEC,
        17,
        &old.replace(
            "newest first.",
            "sorted [NEEDS CLARIFICATION: which sort order?].",
        ),
    );
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &["specs/001-photo-albums/spec.md:17: open question"],
    );
}

#[test]
fn needs_clarification_in_the_plan_fails_at_that_line() {
    let env = photo_albums();
    // Lines 16-24 are one paragraph joined by hard and soft line breaks.
    assert_eq!(env.line_of(PLAN, "**Performance Goals**"), 22);
    env.replace_line(
        PLAN,
        22,
        "**Performance Goals**: [NEEDS CLARIFICATION: which sort order?]  ",
    );
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            "✓ spec",
            "specs/001-photo-albums/plan.md:22: open question [NEEDS CLARIFICATION: which sort order?]",
            "specs/001-photo-albums/plan.md is incomplete (1 finding)",
        ],
    );
}

#[test]
fn needs_clarification_in_a_plan_code_block_is_not_a_finding() {
    let env = photo_albums();
    let line = env.line_of(PLAN, "│   └── database.js");
    env.insert_line(
        PLAN,
        line,
        "│   └── [NEEDS CLARIFICATION: which sort order?] [DATE] {{x}}",
    );
    assert_exit(&env.gate(&["check"]), 0);
}

#[test]
fn unticked_gate_box_in_the_plan_fails_at_its_line() {
    let env = photo_albums();
    assert_eq!(env.line_of(PLAN, "- [x] I. Simplicity"), 30);
    let line = env
        .read(PLAN)
        .lines()
        .nth(29)
        .unwrap()
        .replace("- [x]", "- [ ]");
    env.replace_line(PLAN, 30, &line);
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            "specs/001-photo-albums/plan.md:30: unchecked item in the gate checklist \"Constitution Check\"",
        ],
    );
}

#[test]
fn unticked_tasks_do_not_block_but_an_unticked_tasks_gate_does() {
    let env = photo_albums();
    env.write(
        TASKS,
        &format!("{}\n## Review\n\n*GATE: every box ticked before implementation starts*\n\n- [x] Covered\n- [ ] Paths named\n", fixture("tasks.md")),
    );
    let line = env.line_of(TASKS, "- [ ] Paths named");
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[&format!(
            "{TASKS}:{line}: unchecked item in the gate checklist \"Review\""
        )],
    );
}

#[test]
fn spec_kit_template_leftovers_are_found() {
    let env = photo_albums();
    env.replace_line(SPEC, 1, "# Feature Specification: [FEATURE NAME]");
    env.replace_line(SPEC, 4, "**Created**: [DATE]  ");
    env.replace_line(SPEC, 6, "**Input**: User description: \"$ARGUMENTS\"");
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            "spec.md:1: unresolved placeholder [FEATURE NAME]",
            "spec.md:4: unresolved placeholder [DATE]",
            "spec.md:6: unresolved placeholder $ARGUMENTS",
            "spec.md is incomplete (3 findings)",
        ],
    );
    env.replace_line(
        PLAN,
        3,
        "**Branch**: `[###-feature-name]` | **Date**: 2025-06-03 | **Spec**: [spec.md](spec.md)",
    );
    assert_contains(
        &stdout(&env.gate(&["check"])),
        &["plan.md:3: unresolved placeholder [###-feature-name]"],
    );
}

#[test]
fn spec_kit_tasks_need_ids_and_unique_ones() {
    let env = photo_albums();
    let t5 = env.line_of(TASKS, "- [ ] T005");
    let text = env.read(TASKS).replace("- [ ] T005 ", "- [ ] T004 ");
    env.write(TASKS, &text);
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[&format!(
            "{TASKS}:{t5}: duplicate task ID T004 (first defined at line {})",
            t5 - 1
        )],
    );

    let no_ids: String = fixture("tasks.md")
        .lines()
        .filter(|l| !l.starts_with("- [ ] T"))
        .map(|l| format!("{l}\n"))
        .collect();
    env.write(TASKS, &no_ids);
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(&stdout(&out), &[&format!("{TASKS}:1: no tasks yet")]);
}

#[test]
fn spec_kit_feature_checked_from_another_branch() {
    let env = photo_albums();
    env.git(&["switch", "-q", "main"]);
    assert!(!env.exists(DIR));
    let out = env.gate(&["check", "--feature", "001-photo-albums"]);
    assert_exit(&out, 0);
    assert_lacks(&stdout(&out), &["✗"]);
}

#[test]

fn spec_kit_feature_checked_by_number_from_another_branch() {
    let env = photo_albums();
    env.git(&["switch", "-q", "main"]);
    let out = env.gate(&["check", "--feature", "001"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["gate check: 001-photo-albums"]);
}
