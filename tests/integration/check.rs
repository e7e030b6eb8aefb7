//! `gate check`: the verdict, its JSON, branches, feature resolution and history order.

use proptest::prelude::*;

use crate::env::{TestEnv, all, assert_contains, assert_exit, assert_lacks, code, stderr, stdout};
use serde_json::Value;

fn check_json(env: &TestEnv, args: &[&str]) -> (i32, Value) {
    let mut full = vec!["check", "--json"];
    full.extend_from_slice(args);
    let out = env.gate(&full);
    let doc = serde_json::from_str::<Value>(&stdout(&out))
        .unwrap_or_else(|e| panic!("--json is not JSON ({e}):\n{}", all(&out)));
    (code(&out), doc)
}

/// Ticked task lines (`- [x] T###`) in a tasks file.
fn task_lines(env: &TestEnv, path: &str) -> usize {
    env.read(path)
        .lines()
        .filter_map(|l| l.strip_prefix("- [x] T"))
        .filter(|rest| rest.len() > 3 && rest.as_bytes()[..3].iter().all(u8::is_ascii_digit))
        .count()
}

fn codes(doc: &Value) -> Vec<String> {
    doc["violations"]
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter_map(|v| v["code"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn whole_flow_fails_until_spec_plan_and_tasks_are_complete() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    env.commit_all("gate init");
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    let dir = "specs/001-user-auth";

    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            "gate check: 001-user-auth (branch feature/001-user-auth)",
            "✓ branch feature/001-user-auth",
            "✗ spec   [implementation-gate] specs/001-user-auth/spec.md is incomplete",
            "✗ plan   [implementation-gate] specs/001-user-auth/plan.md is missing",
            "✗ tasks  [implementation-gate] specs/001-user-auth/tasks.md is missing",
            "✓ order",
            "implementation may not begin: 3 violations (implementation-gate)",
        ],
    );
    let (_, doc) = check_json(&env, &[]);
    assert_eq!(doc["feature"]["phase"].as_str(), Some("specify"));

    env.fill(&format!("{dir}/spec.md"));
    env.commit_paths(&[&format!("{dir}/spec.md")], "spec");
    assert_exit(&env.gate(&["plan"]), 0);
    let (rc, doc) = check_json(&env, &[]);
    assert_eq!(rc, 1);
    assert_eq!(doc["feature"]["phase"].as_str(), Some("plan"));

    env.fill(&format!("{dir}/plan.md"));
    env.commit_paths(&[&format!("{dir}/plan.md")], "plan");
    assert_exit(&env.gate(&["tasks"]), 0);
    let (rc, doc) = check_json(&env, &[]);
    assert_eq!(rc, 1);
    assert_eq!(doc["feature"]["phase"].as_str(), Some("tasks"));

    env.fill(&format!("{dir}/tasks.md"));
    let n = task_lines(&env, &format!("{dir}/tasks.md"));
    assert!(n >= 1);
    let out = env.gate(&["check"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &[
            "✓ spec   specs/001-user-auth/spec.md complete",
            "✓ plan   specs/001-user-auth/plan.md complete",
            &format!("✓ tasks  specs/001-user-auth/tasks.md complete, {n}/{n} tasks done"),
            "✓ order  spec → plan → tasks",
            "✓ implementation may begin",
        ],
    );
    assert_lacks(&stdout(&out), &["✗"]);
    env.commit_paths(&[&format!("{dir}/tasks.md")], "tasks");
    assert_exit(&env.gate(&["check"]), 0);
}

#[test]
fn json_report_fields_when_failing() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    let first_blank = env.line_of("specs/001-user-auth/spec.md", "{{In two to four sentences");
    let out = env.gate(&["check", "--json"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).is_empty(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert_contains(
        &text,
        &["\"ok\": false", "\"code\": \"implementation-gate\""],
    );
    let doc = serde_json::from_str::<Value>(&text).expect("JSON");
    assert_eq!(doc["ok"].as_bool(), Some(false));
    assert_eq!(doc["head"]["state"].as_str(), Some("branch"));
    assert_eq!(
        doc["head"]["branch"].as_str(),
        Some("feature/001-user-auth")
    );
    let feature = &doc["feature"];
    assert_eq!(feature["name"].as_str(), Some("001-user-auth"));
    assert_eq!(feature["number"].as_f64(), Some(1.0));
    assert_eq!(feature["dir"].as_str(), Some("specs/001-user-auth"));
    assert_eq!(feature["phase"].as_str(), Some("specify"));
    assert_eq!(feature["origin"]["from"].as_str(), Some("branch"));
    assert_eq!(
        feature["origin"]["value"].as_str(),
        Some("feature/001-user-auth")
    );

    let artifacts = doc["artifacts"].as_array().expect("a JSON array");
    assert_eq!(artifacts.len(), 3);
    let kinds: Vec<&str> = artifacts
        .iter()
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["spec", "plan", "tasks"]);
    let spec = &artifacts[0];
    assert_eq!(spec["path"].as_str(), Some("specs/001-user-auth/spec.md"));
    assert_eq!(spec["exists"].as_bool(), Some(true));
    assert_eq!(spec["complete"].as_bool(), Some(false));
    assert_eq!(
        spec["findings"][0]["line"].as_f64(),
        Some(first_blank as f64)
    );
    assert_contains(
        spec["findings"][0]["message"].as_str().unwrap(),
        &["unresolved placeholder"],
    );
    assert_eq!(artifacts[1]["exists"].as_bool(), Some(false));
    assert_eq!(artifacts[1]["complete"].as_bool(), Some(false));
    assert_eq!(artifacts[2]["tasks"]["total"].as_f64(), Some(0.0));

    let violations = doc["violations"].as_array().expect("a JSON array");
    assert_eq!(violations.len(), 3);
    for v in violations {
        assert_eq!(v["code"].as_str(), Some("implementation-gate"));
        assert!(!v["message"].as_str().unwrap_or_default().is_empty());
        assert!(!v["fix"].as_str().unwrap_or_default().is_empty(), "{v}");
    }
    assert_eq!(violations[0]["subject"]["kind"].as_str(), Some("artifact"));
    assert_eq!(violations[0]["subject"]["artifact"].as_str(), Some("spec"));
    let finding = &violations[0]["findings"][0];
    assert_eq!(
        finding["path"].as_str(),
        Some("specs/001-user-auth/spec.md")
    );
    assert_eq!(finding["line"].as_f64(), Some(first_blank as f64));
    assert_eq!(
        violations[1]["fix"].as_str(),
        Some("complete specs/001-user-auth/spec.md first, then run `gate plan`")
    );
}

#[test]
fn json_report_when_passing() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    env.commit_all("feature docs");
    let n = task_lines(&env, &format!("{dir}/tasks.md")) as f64;
    let (rc, doc) = check_json(&env, &[]);
    assert_eq!(rc, 0);
    assert_eq!(doc["ok"].as_bool(), Some(true));
    assert_eq!(doc["violations"], serde_json::json!([]));
    assert_eq!(doc["feature"]["phase"].as_str(), Some("implement"));
    for a in doc["artifacts"].as_array().expect("a JSON array") {
        assert_eq!(a["exists"].as_bool(), Some(true), "{a}");
        assert_eq!(a["complete"].as_bool(), Some(true), "{a}");
        assert_eq!(a["findings"], serde_json::json!([]));
    }
    let tasks = &doc["artifacts"][2]["tasks"];
    assert_eq!(tasks["done"].as_f64(), Some(n));
    assert_eq!(tasks["total"].as_f64(), Some(n));
}

#[test]
fn json_head_states() {
    let env = TestEnv::unborn();
    let (rc, doc) = check_json(&env, &[]);
    assert_eq!(rc, 1);
    assert_eq!(doc["head"]["state"].as_str(), Some("unborn"));
    assert_eq!(doc["head"]["branch"].as_str(), Some("main"));
    assert!(doc["feature"].is_null());
    assert_eq!(doc["artifacts"], serde_json::json!([]));
    assert_eq!(codes(&doc), ["feature-branch"]);

    env.write("README.md", "x\n");
    env.commit_all("first");
    let head = env.git(&["rev-parse", "HEAD"]);
    env.git(&["checkout", "-q", "--detach"]);
    let (rc, doc) = check_json(&env, &[]);
    assert_eq!(rc, 1);
    assert_eq!(doc["head"]["state"].as_str(), Some("detached"));
    assert!(doc["head"]["branch"].is_null());
    assert_eq!(doc["head"]["commit"].as_str(), Some(head.as_str()));
}

#[test]
fn main_is_not_a_feature_branch() {
    let env = TestEnv::new();
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            "gate check: no feature",
            "[feature-branch] main is protected",
            "fix: gate specify \"<name>\"",
        ],
    );
    // An unborn main is just as protected.
    let env = TestEnv::unborn();
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(&stdout(&out), &["[feature-branch] main is protected"]);
}

#[test]
fn master_and_configured_protected_branches() {
    let env = TestEnv::new();
    env.git(&["switch", "-q", "-c", "master"]);
    assert_contains(
        &stdout(&env.gate(&["check"])),
        &["[feature-branch] master is protected"],
    );
    env.write(".gate.toml", "[branches]\nprotected = [\"trunk\"]\n");
    env.git(&["switch", "-q", "-c", "trunk"]);
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(&stdout(&out), &["[feature-branch] trunk is protected"]);
}

#[test]
fn detached_head_fails_and_says_so() {
    let env = TestEnv::new();
    env.complete_feature("User auth");
    env.commit_all("docs");
    env.git(&["checkout", "-q", "--detach"]);
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &["detached", "[feature-branch]", "git switch"],
    );
    // Naming the feature checks it regardless of HEAD.
    assert_exit(&env.gate(&["check", "--feature", "001-user-auth"]), 0);
}

#[test]
fn branch_that_names_no_feature() {
    let env = TestEnv::new();
    env.git(&["switch", "-q", "-c", "experiment"]);
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            "[feature-branch] branch experiment names no feature (expected feature/NNN-name)",
            "gate specify",
        ],
    );
}

#[test]
fn feature_argument_checks_a_merged_feature_from_main() {
    let env = TestEnv::new();
    env.complete_feature("User auth");
    env.commit_all("docs");
    env.git(&["switch", "-q", "main"]);
    env.git(&["merge", "-q", "--ff-only", "feature/001-user-auth"]);
    let out = env.gate(&["check", "--feature", "001-user-auth"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &[
            "gate check: 001-user-auth (--feature 001-user-auth)",
            "main (not checked: --feature)",
            "implementation may begin",
        ],
    );
    // Just the number works too.
    assert_exit(&env.gate(&["check", "--feature", "001"]), 0);
}

#[test]
fn feature_argument_reads_a_feature_that_only_exists_on_its_branch() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    env.commit_all("docs");
    env.git(&["switch", "-q", "main"]);
    assert!(
        !env.exists(&dir),
        "specs/ should be absent from main's working tree"
    );
    let out = env.gate(&["check", "--feature", "001-user-auth"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["specs/001-user-auth/tasks.md complete"]);

    // ...and an incomplete one on its branch fails with the line from the branch's copy.
    env.git(&["switch", "-q", "feature/001-user-auth"]);
    let spec = format!("{dir}/spec.md");
    let line = env.line_of(&spec, "## Summary") + 2;
    env.replace_line(
        &spec,
        line,
        "Login [NEEDS CLARIFICATION: which identity provider?] for staff.",
    );
    env.commit_all("open question");
    env.git(&["switch", "-q", "main"]);
    let out = env.gate(&["check", "--feature", "001-user-auth"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[&format!(
            "{spec}:{line}: open question [NEEDS CLARIFICATION: which identity provider?]"
        )],
    );
}

#[test]
fn feature_argument_that_matches_nothing_is_a_usage_error() {
    let env = TestEnv::new();
    env.complete_feature("User auth");
    let out = env.gate(&["check", "--feature", "042"]);
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), &["no feature \"042\"", "001-user-auth"]);
    let out = env.gate(&["check", "--feature", "auth"]);
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), &["names no feature"]);
}

#[test]
fn plan_committed_before_spec_is_a_history_order_violation() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    let (spec, plan, tasks) = (
        format!("{dir}/spec.md"),
        format!("{dir}/plan.md"),
        format!("{dir}/tasks.md"),
    );
    env.commit_paths(&[&plan], "plan first (wrong)");
    let plan_commit = env.git(&["rev-parse", "HEAD"]);
    env.commit_paths(&[&spec], "spec second");
    env.commit_paths(&[&tasks], "tasks");
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            "✓ spec",
            "✓ plan",
            "✓ tasks",
            "[spec-order]",
            &format!(
                "plan.md was first committed (in {}) before spec.md",
                &plan_commit[..10]
            ),
            "git rebase -i",
            "(spec-order)",
        ],
    );
    let (_, doc) = check_json(&env, &[]);
    assert_eq!(codes(&doc), ["spec-order"]);
    assert_eq!(
        doc["violations"][0]["subject"]["kind"].as_str(),
        Some("order")
    );
}

#[test]
fn tasks_committed_before_plan_is_a_history_order_violation() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    env.commit_paths(&[&format!("{dir}/spec.md")], "spec");
    env.commit_paths(&[&format!("{dir}/tasks.md")], "tasks too early");
    env.commit_paths(&[&format!("{dir}/plan.md")], "plan");
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &["tasks.md was first committed", "before plan.md"],
    );
}

#[test]
fn all_three_in_one_commit_is_in_order() {
    let env = TestEnv::new();
    env.complete_feature("User auth");
    env.commit_all("all docs at once");
    assert_exit(&env.gate(&["check"]), 0);
}

#[test]
fn plan_present_while_spec_incomplete_is_an_order_violation() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    let spec = format!("{dir}/spec.md");
    let line = env.line_of(&spec, "## Summary") + 2;
    env.replace_line(&spec, line, "{{a blank reopened}}");
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            &format!("{spec}:{line}: unresolved placeholder {{{{a blank reopened}}}}"),
            "[spec-order] plan.md exists while spec.md is incomplete",
        ],
    );
}

#[test]
fn needs_clarification_is_reported_at_its_exact_line() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    let spec = format!("{dir}/spec.md");
    let line = env.line_of(&spec, "- **FR-002**") + 1;
    env.insert_line(
        &spec,
        line,
        "- **FR-003**: Users MUST log in with [NEEDS CLARIFICATION: SSO or password?]",
    );
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            &format!(
                "{spec}:{line}: open question [NEEDS CLARIFICATION: SSO or password?]: answer it in the text and remove the marker"
            ),
            "specs/001-user-auth/spec.md is incomplete (1 finding)",
        ],
    );
    assert_eq!(text.matches(&format!("{spec}:")).count(), 1, "{text}");

    // In a code block or an HTML comment it is not a finding.
    env.replace_line(
        &spec,
        line,
        "<!-- [NEEDS CLARIFICATION: SSO or password?] -->",
    );
    assert_exit(&env.gate(&["check"]), 0);
    env.replace_line(
        &spec,
        line,
        "\n```text\n[NEEDS CLARIFICATION: SSO or password?] {{x}} [DATE]\n```\n",
    );
    assert_exit(&env.gate(&["check"]), 0);
}

#[test]
fn multi_line_paragraph_markers_are_reported_at_their_own_line() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    let spec = format!("{dir}/spec.md");
    let at = env.line_of(&spec, "## Success Criteria") + 2;
    env.insert_line(
        &spec,
        at,
        "First line of a paragraph,\nsecond line,\nthird line with [DATE] left in,\nfourth.",
    );
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[&format!("{spec}:{}: unresolved placeholder [DATE]", at + 2)],
    );
}

#[test]
fn two_directories_sharing_a_number_are_an_error_only_for_a_name_matching_neither() {
    let env = TestEnv::new();
    env.write("specs/003-a/spec.md", "# a\n");
    env.write("specs/003-b/spec.md", "# b\n");
    env.git(&["switch", "-q", "-c", "feature/003-c"]);
    let out = env.gate(&["check"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert_contains(
        &err,
        &["share the number 003", "003-a", "003-b", "renumber"],
    );
    // Same with a bare number and --json: an error, not a guess.
    assert_exit(&env.gate(&["check", "--feature", "003"]), 2);
    let out = env.gate(&["check", "--json"]);
    assert_exit(&out, 2);
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

/// Regression: specs/007-mock-auth beside specs/007-simple-ui-pages made both uncheckable,
/// even on the branch named exactly like one of them.
#[test]
fn shared_number_resolves_to_the_directory_the_branch_names_exactly() {
    let env = TestEnv::new();
    env.write("specs/007-mock-auth/spec.md", "# a\n");
    env.write("specs/007-simple-ui-pages/spec.md", "# b\n");
    env.git(&["switch", "-q", "-c", "007-simple-ui-pages"]);
    let (code, doc) = check_json(&env, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        doc["feature"]["dir"].as_str(),
        Some("specs/007-simple-ui-pages")
    );
    let (_, doc) = check_json(&env, &["--feature", "007-mock-auth"]);
    assert_eq!(doc["feature"]["dir"].as_str(), Some("specs/007-mock-auth"));
}

#[test]
fn specify_feature_directory_selects_the_feature() {
    let env = TestEnv::new();
    env.complete_feature("User auth");
    env.commit_all("feature 1");
    env.git(&["switch", "-q", "-c", "experiment"]);
    let out = env.gate_with(
        &["check"],
        &[("SPECIFY_FEATURE_DIRECTORY", "specs/001-user-auth")],
    );
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &["001-user-auth (SPECIFY_FEATURE_DIRECTORY=specs/001-user-auth)"],
    );
    let out = env.gate_with(
        &["check", "--json"],
        &[("SPECIFY_FEATURE_DIRECTORY", "specs/001-user-auth/")],
    );
    let doc = serde_json::from_str::<Value>(&stdout(&out)).unwrap();
    assert_eq!(
        doc["feature"]["origin"]["from"].as_str(),
        Some("environment")
    );
    assert_eq!(doc["feature"]["name"].as_str(), Some("001-user-auth"));
    // --feature wins over the environment.
    let out = env.gate_with(
        &["check", "--feature", "009-none"],
        &[("SPECIFY_FEATURE_DIRECTORY", "specs/001-user-auth")],
    );
    // A named feature that exists nowhere is a usage error naming what does exist.
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), &["no feature \"009-none\"", "001-user-auth"]);
}

#[test]
fn a_feature_pointer_never_outranks_the_branch() {
    // Issue 11: after 001 is finished, a stale pointer must not open 002's gate.
    let env = TestEnv::new();
    env.complete_feature("User auth");
    env.commit_all("feature 1");
    env.git(&["switch", "-q", "main"]);
    assert_exit(&env.gate(&["specify", "Other"]), 0);
    assert_eq!(env.branch(), "feature/002-other");
    assert_exit(&env.gate(&["check"]), 1);
    let out = env.gate_with(
        &["check"],
        &[("SPECIFY_FEATURE_DIRECTORY", "specs/001-user-auth")],
    );
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            "002-other (branch feature/002-other)",
            "SPECIFY_FEATURE_DIRECTORY points at specs/001-user-auth",
            "the pointer is stale",
        ],
    );
}

#[test]
fn specify_feature_json_selects_the_feature() {
    let env = TestEnv::new();
    env.complete_feature("User auth");
    env.commit_all("feature 1");
    env.git(&["switch", "-q", "-c", "experiment"]);
    env.write(
        ".specify/feature.json",
        "{\"feature_directory\": \"specs/001-user-auth\"}\n",
    );
    let out = env.gate(&["check"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &["001-user-auth (.specify/feature.json (specs/001-user-auth))"],
    );
    let (_, doc) = check_json(&env, &[]);
    assert_eq!(
        doc["feature"]["origin"]["from"].as_str(),
        Some("specify-json")
    );
    // The environment variable wins over the file.
    let out = env.gate_with(
        &["check"],
        &[("SPECIFY_FEATURE_DIRECTORY", "specs/005-nope")],
    );
    assert_exit(&out, 1);
    assert_contains(&stdout(&out), &["specs/005-nope/spec.md is missing"]);
    // A broken feature.json is ignored: the branch decides again.
    env.write(".specify/feature.json", "{not json");
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(&stdout(&out), &["branch experiment names no feature"]);
}

#[test]
fn check_outside_a_repository_is_a_usage_error() {
    let env = TestEnv::outside_any_repo();
    let out = env.gate(&["check"]);
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), &["git init"]);
    let out = env.gate(&["check", "--json"]);
    assert_exit(&out, 2);
}

#[test]
fn check_in_a_bare_repository_is_a_usage_error() {
    let env = TestEnv::plain();
    env.git(&["init", "-q", "--bare", "-b", "main"]);
    let out = env.gate(&["check"]);
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), &["bare repository", "working tree"]);
}

#[test]
fn check_from_a_subdirectory_uses_the_repository_root() {
    let env = TestEnv::new();
    env.complete_feature("User auth");
    std::fs::create_dir_all(env.path("src/deep")).unwrap();
    assert_exit(&env.gate_in(&env.path("src/deep"), &["check"]), 0);
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["check", "--nope"]), 2);
    assert_exit(&env.gate(&["frobnicate"]), 2);
}

#[test]
fn huge_binary_and_invalid_utf8_artifacts_give_findings() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    let spec = format!("{dir}/spec.md");
    env.write_bytes(&spec, b"# Spec\n\nfine\n\xff\xfe broken\n");
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[&format!("{spec}:4: the file is not valid UTF-8")],
    );

    env.write_bytes(&spec, b"# Spec\0binary");
    assert_contains(
        &stdout(&env.gate(&["check"])),
        &[&format!("{spec}:1: the file is binary")],
    );

    env.write(&spec, "");
    assert_contains(
        &stdout(&env.gate(&["check"])),
        &[&format!("{spec}:1: the spec is empty")],
    );

    env.write(&spec, &"word ".repeat(600_000));
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[&format!("{spec}:1: the file is 3000000 bytes")],
    );
}

#[test]
fn color_is_off_when_no_color_is_set_or_output_is_piped() {
    let env = TestEnv::new();
    let out = env.gate(&["check"]);
    assert!(
        !out.stdout.contains(&0x1b),
        "escape codes with NO_COLOR:\n{}",
        stdout(&out)
    );
    let out = env.gate_with(&["check"], &[("NO_COLOR", "")]);
    assert!(!out.stdout.contains(&0x1b), "escape codes in piped output");
    let out = env.gate(&["check", "--color", "always"]);
    assert!(out.stdout.contains(&0x1b), "--color always gave no colour");
}

fn filled_template(name: &str) -> String {
    let path = format!("{}/spec-kit/templates/{name}", env!("CARGO_MANIFEST_DIR"));
    crate::env::filled(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}")),
    )
}

/// Arbitrary bytes in spec.md: gate answers 0 or 1 and never panics.
fn arbitrary_spec_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"{{".to_vec()),
        Just(b"}}".to_vec()),
        Just(b"[NEEDS CLARIFICATION: ".to_vec()),
        Just(b"]".to_vec()),
        Just(b"[".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"## Req *(mandatory)*\n".to_vec()),
        Just(b"*GATE: x*\n".to_vec()),
        Just(b"- [ ] ".to_vec()),
        Just(b"- [x] T001 ".to_vec()),
        Just(b"```".to_vec()),
        Just(b"<!--".to_vec()),
        Just(b"-->".to_vec()),
        Just(b"`".to_vec()),
        Just(b"\r\n".to_vec()),
        Just("é✓🚀".as_bytes().to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"---\n".to_vec()),
        Just(b"> ".to_vec()),
        Just(b"| a | b |\n|---|---|\n".to_vec()),
        Just(b"[^1]: ".to_vec()),
        Just(b"$ARGUMENTS".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..12),
        "[ -~]{0,12}".prop_map(String::into_bytes),
    ];
    proptest::collection::vec(fragment, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn check_never_panics_on_arbitrary_spec_bytes(bytes in arbitrary_spec_bytes()) {
        let env = TestEnv::unborn();
        env.write_bytes("specs/001-x/spec.md", &bytes);
        // Complete plan and tasks, so the verdict hangs on spec.md alone.
        env.write("specs/001-x/plan.md", &filled_template("plan-template.md"));
        env.write("specs/001-x/tasks.md", &filled_template("tasks-template.md"));
        let out = env.gate(&["check", "--feature", "001-x"]);
        let rc = code(&out);
        prop_assert!(rc == 0 || rc == 1, "exit {rc}\n{}", all(&out));
        prop_assert!(!stderr(&out).contains("panicked"));
        // Something went wrong for a reason the output names.
        prop_assert!(rc == 0 || stdout(&out).contains("fix:"), "{}", all(&out));
    }
}

#[test]
fn markers_in_crlf_files_tables_headings_and_across_lines_are_found_at_their_line() {
    let env = TestEnv::unborn();
    let spec = "specs/001-x/spec.md";
    env.write(
        spec,
        "# Spec\r\n\r\nline three\r\n\r\nx [NEEDS CLARIFICATION: a]\r\n| a | b |\r\n|---|---|\r\n| 1 | [DATE] |\r\n\r\n\
         ## Head [NEEDS CLARIFICATION: h]\r\n\r\nsome *[NEEDS\r\nCLARIFICATION: split]* here\r\n\r\n\
         ## User Scenarios\r\n\r\nA user.\r\n\r\n## Requirements\r\n\r\n- FR-001: x\r\n",
    );
    let out = env.gate(&["check", "--feature", "001-x"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            &format!("{spec}:5: open question [NEEDS CLARIFICATION: a]"),
            &format!("{spec}:8: unresolved placeholder [DATE]"),
            &format!("{spec}:10: open question [NEEDS CLARIFICATION: h]"),
            &format!("{spec}:12: open question [NEEDS CLARIFICATION: split]"),
            "is incomplete (4 findings)",
        ],
    );
}

#[cfg(unix)]
#[test]

fn closed_stdout_never_turns_a_failed_check_into_a_pass() {
    use std::os::unix::net::UnixStream;
    let env = TestEnv::new(); // on main: the check fails
    for args in [&["check"][..], &["check", "--json"]] {
        // A socket whose other end is already closed: every write fails with EPIPE.
        let (reader, writer) = UnixStream::pair().unwrap();
        drop(reader);
        let status = env
            .gate_command(&env.root)
            .args(args)
            .stdout(std::process::Stdio::from(std::os::fd::OwnedFd::from(
                writer,
            )))
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(1), "gate {args:?} with a closed stdout");
    }
}

#[cfg(unix)]
#[test]

fn special_file_artifacts_do_not_hang_the_check() {
    let env = TestEnv::unborn();
    std::fs::create_dir_all(env.path("specs/001-x")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(env.path("specs/001-x/spec.md"))
        .status()
        .unwrap();
    assert!(made.success());
    let mut child = env
        .gate_command(&env.root)
        .args(["check", "--feature", "001-x"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(5) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("gate check still running after 5 s on a FIFO spec.md");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(matches!(status.code(), Some(1 | 3)), "{status}");
}

#[test]
fn version_and_help() {
    let env = TestEnv::plain();
    let out = env.gate(&["--version"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["gate "]);
    let out = env.gate(&["--help"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &[
            "init",
            "specify",
            "plan",
            "tasks",
            "check",
            "config",
            "Exit codes",
        ],
    );
    assert_exit(&env.gate(&[]), 2);
}

/// Regression: `gate check` ended with "... and 11 more findings (`gate check` lists them)",
/// which it did not: only --json had them. Every finding is printed, most important first,
/// long runs of one kind in one file in a short form that still names every line.
#[test]
fn check_prints_every_finding_most_important_first() {
    let env = TestEnv::unborn();
    let spec = "specs/001-x/spec.md";
    let mut text = String::from("# Spec\n\n## User Scenarios\n\nA user.\n\n## Requirements\n\n");
    for i in 0..20 {
        text.push_str(&format!("- FR-{i:03}: [TODO {i}]\n"));
    }
    text.push_str("- FR-099: sorted by [NEEDS CLARIFICATION: which order?]\n");
    env.write(spec, &text);
    let out = env.gate(&["check", "--feature", "001-x"]);
    assert_exit(&out, 1);
    let shown = stdout(&out);
    assert_lacks(&shown, &["lists them", "more findings"]);
    let lines: Vec<&str> = shown
        .lines()
        .filter(|l| l.trim_start().starts_with(spec))
        .collect();
    assert!(
        lines[0].contains(&format!("{spec}:29: open question")),
        "{shown}"
    );
    assert_contains(
        &shown,
        &[
            &format!("{spec}:9: unresolved placeholder [TODO 0]"),
            &format!("{spec}:11: unresolved placeholder [TODO 2]"),
            &format!("{spec}: 17 more unresolved placeholders at lines 12-28"),
            "is incomplete (21 findings)",
        ],
    );
}

/// A hostile checklists/ directory: a FIFO (reading it would block), a symlink out of the
/// repository, a directory named like a checklist. Each is a finding; the check ends.
#[cfg(unix)]
#[test]
fn hostile_checklist_files_are_findings_never_hangs_or_reads_outside() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    let checklists = env.path(&format!("{dir}/checklists"));
    std::fs::create_dir_all(checklists.join("dir.md")).unwrap();
    let outside = env.base_dir().join("secret.md");
    std::fs::write(&outside, "- [ ] outside item\n").unwrap();
    std::os::unix::fs::symlink(&outside, checklists.join("link.md")).unwrap();
    let fifo = std::ffi::CString::new(checklists.join("pipe.md").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let out = env.gate(&["check"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            &format!("{dir}/checklists/dir.md:1: not a regular file"),
            &format!("{dir}/checklists/link.md:1: the checklist leads outside the repository"),
            &format!("{dir}/checklists/pipe.md:1: not a regular file"),
        ],
    );
    assert_lacks(&text, &["outside item"]);
}

/// A feature checked from another branch (its directory only on its own branch) has its
/// checklists/*.md judged from that branch too.
#[test]
fn checklists_of_a_feature_on_another_branch_are_read_from_that_branch() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    let ux = format!("{dir}/checklists/ux.md");
    env.write(
        &ux,
        "# UX Checklist\n\n**Purpose**: UX requirements before building\n\n- [x] CHK001 a\n- [ ] CHK002 b\n",
    );
    env.commit_all("feature with a checklist");
    env.git(&["switch", "-q", "main"]);
    let out = env.gate(&["check", "--feature", "001-user-auth"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[&format!("{ux}:6: unchecked item in the checklist")],
    );
}
