//! spec-kit compatibility: a feature written in spec-kit's own template style, on spec-kit's
//! bare `NNN-slug` branch, passes; a marker left in it fails at its line.

use crate::env::{TestEnv, all, assert_contains, assert_exit, assert_lacks, code, stdout};
use serde_json::Value;

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
            "spec.md:1: the title is still the template's [FEATURE NAME]",
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

// ---------------------------------------------------------------------------------------------
// Reviewed fixtures: tests/fixtures/reviewed/<case>/ holds specs/ and case.toml, the verdict a
// careful reviewer gives ("may implementation begin?") and, for a failing feature, the first
// real problem as path:line (path:missing for a missing artifact). bench/agreement.py measures
// the same agreement for any gate binary.

/// One reviewed case: what the reviewer said.
#[derive(serde::Deserialize)]
struct Case {
    branch: String,
    verdict: String,
    first_problem: Option<String>,
    tasks: Option<String>,
    #[allow(dead_code)]
    why: String,
}

fn reviewed_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reviewed")
}

/// Every file under `dir`, relative to `base`, sorted.
fn files_under(base: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(base, &path, out);
        } else {
            let rel = path.strip_prefix(base).unwrap();
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    out.sort();
}

/// The workflow step a fixture file is committed in: specs and their checklists, then plans,
/// then tasks, then anything else.
fn step_of(rel: &str) -> usize {
    match rel.rsplit('/').next() {
        Some("spec.md") => 0,
        _ if rel.contains("/checklists/") => 0,
        Some("plan.md") => 1,
        Some("tasks.md") => 2,
        _ => 3,
    }
}

/// A repository on the case's branch holding its specs/, committed in workflow order.
fn reviewed_case(name: &str) -> (TestEnv, Case) {
    let dir = reviewed_dir().join(name);
    let case: Case = toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap())
        .unwrap_or_else(|e| panic!("{name}/case.toml: {e}"));
    let env = TestEnv::new();
    env.git(&["switch", "-q", "-c", &case.branch]);
    let mut files = Vec::new();
    files_under(&dir, &dir.join("specs"), &mut files);
    for step in 0..4 {
        let batch: Vec<&str> = files
            .iter()
            .filter(|f| step_of(f) == step)
            .map(String::as_str)
            .collect();
        for rel in &batch {
            env.write(rel, &std::fs::read_to_string(dir.join(rel)).unwrap());
        }
        if !batch.is_empty() {
            env.commit_paths(&batch, &format!("step {step}"));
        }
    }
    (env, case)
}

/// gate's verdict on a case: pass or fail, and the first finding of the first incomplete
/// artifact as path:line.
fn gate_verdict(env: &TestEnv) -> (String, Option<String>, Value) {
    let out = env.gate(&["check", "--json"]);
    let doc = serde_json::from_str::<Value>(&stdout(&out))
        .unwrap_or_else(|e| panic!("--json is not JSON ({e}):\n{}", all(&out)));
    let verdict = if doc["ok"].as_bool() == Some(true) {
        "pass"
    } else {
        "fail"
    };
    let mut first = None;
    for a in doc["artifacts"].as_array().expect("a JSON array") {
        let path = a["path"].as_str().unwrap_or_default().to_owned();
        if a["exists"].as_bool() == Some(false) {
            first = Some(format!("{path}:missing"));
            break;
        }
        if let Some(f) = a["findings"].as_array().and_then(|v| v.first()) {
            let file = f["path"].as_str().map_or(path, str::to_owned);
            first = Some(format!("{file}:{}", f["line"].as_f64().unwrap_or(0.0)));
            break;
        }
    }
    (verdict.to_owned(), first, doc)
}

#[test]
fn every_reviewed_fixture_gets_the_reviewers_verdict_and_first_problem() {
    let mut names: Vec<String> = std::fs::read_dir(reviewed_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 12, "only {} reviewed fixtures", names.len());
    let mut wrong = Vec::new();
    for name in &names {
        let (env, case) = reviewed_case(name);
        let (verdict, first, doc) = gate_verdict(&env);
        let first = if verdict == "pass" { None } else { first };
        if verdict != case.verdict || first != case.first_problem {
            wrong.push(format!(
                "{name}: reviewer {} {:?}, gate {verdict} {first:?}",
                case.verdict, case.first_problem
            ));
        }
        if let Some(tasks) = &case.tasks {
            let counts = doc["artifacts"]
                .as_array()
                .expect("a JSON array")
                .iter()
                .find(|a| a["kind"].as_str() == Some("tasks"))
                .map(|a| {
                    let t = &a["tasks"];
                    format!(
                        "{}/{}",
                        t["done"].as_f64().unwrap_or(-1.0),
                        t["total"].as_f64().unwrap_or(-1.0)
                    )
                });
            if counts.as_deref() != Some(tasks.as_str()) {
                wrong.push(format!("{name}: tasks {tasks} expected, gate {counts:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "disagreements:\n{}", wrong.join("\n"));
}

/// Regression: "- T002 and T003 can run in parallel", "- **T007** is the core task" and the
/// old template's "- T008 blocks T009, T013" were read as duplicate task definitions.
#[test]
fn task_id_mentions_outside_the_task_list_are_not_duplicates() {
    for name in [
        "new-era-checklists",
        "old-era-guidance-kept",
        "pt-br-feature",
    ] {
        let (env, _) = reviewed_case(name);
        let out = env.gate(&["check"]);
        assert_exit(&out, 0);
        assert_lacks(&stdout(&out), &["duplicate task ID"]);
    }
    let (env, _) = reviewed_case("dangling-task-reference");
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &["T015 is referred to here but no task defines it"],
    );
}

/// Regression: the old template's "For AI Generation" example marker was reported as an
/// open question, and came before the real one.
#[test]
fn template_guidance_example_marker_is_not_an_open_question() {
    let (env, _) = reviewed_case("old-era-open-question");
    let text = stdout(&env.gate(&["check"]));
    assert_lacks(&text, &["specific question"]);
    let first_finding = text.lines().find(|l| l.contains("spec.md:")).unwrap();
    assert!(
        first_finding.contains("open question [NEEDS CLARIFICATION: is opening"),
        "{text}"
    );
}

/// Regression: a checklist gated "*GATE: Checked before marking complete*" was demanded
/// before implementation; it is shown as not blocking instead.
#[test]
fn completion_checklist_does_not_block_implementation() {
    let (env, _) = reviewed_case("completion-gate-in-tasks");
    let out = env.gate(&["check"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &["not blocking: 3 unchecked items gated before completion"],
    );
}

/// Regression (false pass): an unticked review checklist passed once its GATE line was
/// deleted; a five-line pointer spec passed.
#[test]
fn review_checklist_without_its_gate_line_and_a_pointer_spec_fail() {
    let (env, case) = reviewed_case("review-gate-line-deleted");
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[&format!(
            "{}: unchecked item in the gate checklist \"Review & Acceptance Checklist\"",
            case.first_problem.unwrap()
        )],
    );
    let (env, _) = reviewed_case("pointer-spec");
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &["spec.md:1: the spec has no \"User Scenarios & Testing\" section"],
    );
}

/// Regression: T048A and T050a were not counted.
#[test]
fn letter_suffixed_task_ids_are_counted() {
    let (env, _) = reviewed_case("letter-suffixed-tasks");
    let out = env.gate(&["check"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["7/14 tasks done"]);
}

/// Regression: checklists/*.md, which spec-kit's implement step gates on, were ignored.
#[test]
fn unticked_checklist_file_blocks_implementation() {
    let (env, case) = reviewed_case("new-era-ux-checklist-open");
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[&format!(
            "{}: unchecked item in the checklist",
            case.first_problem.unwrap()
        )],
    );
}

/// Regression: spec-kit's YYYYMMDD-HHMMSS numbering made two features of one day share a
/// "number" and both uncheckable.
#[test]
fn timestamp_numbered_features_are_their_own_features() {
    let (env, _) = reviewed_case("timestamp-numbered");
    let out = env.gate(&["check"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &["gate check: 20250914-143022-invoice-export (branch 20250914-143022-invoice-export)"],
    );
}

/// The pre-commit hook judges the staged checklists/*.md as `gate check` does: an unticked
/// checklist refuses implementation files; ticked and staged, the commit goes through.
#[test]
fn the_hook_refuses_implementation_while_a_staged_checklist_is_open() {
    let (env, case) = reviewed_case("new-era-ux-checklist-open");
    assert_exit(&env.gate(&["init"]), 0);
    env.write("src/saved_search.py", "class SavedSearch: ...\n");
    env.git(&["add", "-A"]);
    let out = env.git_hooked(&env.root, &["commit", "-q", "-m", "model"], &[]);
    assert_exit(&out, 1);
    let first = case.first_problem.unwrap();
    assert_contains(
        &all(&out),
        &[&format!("{first}: unchecked item in the checklist")],
    );

    let ux = "specs/008-saved-searches/checklists/ux.md";
    env.write(ux, &env.read(ux).replace("- [ ]", "- [x]"));
    env.git(&["add", "-A"]);
    let out = env.git_hooked(&env.root, &["commit", "-q", "-m", "model"], &[]);
    assert_exit(&out, 0);
}

/// A checklist left in conflict in the index is a finding for the hook, not skipped.
#[test]
fn a_conflicted_checklist_in_the_index_is_a_finding_for_the_hook() {
    let (env, _) = reviewed_case("new-era-checklists");
    let ux = "specs/002-saved-searches/checklists/ux.md";
    env.git(&["switch", "-q", "-c", "side"]);
    env.write(ux, &format!("{}\n- [x] CHK006 side\n", env.read(ux)));
    env.commit_paths(&[ux], "side");
    env.git(&["switch", "-q", "002-saved-searches"]);
    env.write(ux, &format!("{}\n- [x] CHK006 main\n", env.read(ux)));
    env.commit_paths(&[ux], "main");
    assert_ne!(code(&env.git_output(&["merge", "-q", "side"])), 0);
    env.write("src/saved_search.py", "x = 1\n");
    env.git(&["add", "src/saved_search.py"]);
    let out = env.gate(&["hook", "pre-commit"]);
    assert_exit(&out, 1);
    assert_contains(&all(&out), &[&format!("{ux}:1: conflicted in the index")]);
}
