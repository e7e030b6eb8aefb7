//! `gate status`: one project in several states, every registered project (including one that
//! was deleted), and the JSON documents.

use crate::env::{TestEnv, assert_contains, assert_exit, stdout};
use serde_json::Value;

#[test]
fn a_fresh_project_on_main_shows_the_branch_rule_failing() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    // A report is a success; --check is the exit code for scripts.
    let out = env.gate(&["status"]);
    assert_exit(&out, 0);
    assert_exit(&env.gate(&["status", "--check"]), 1);
    assert_contains(
        &stdout(&out),
        &[
            "branch     main  (no feature)",
            "✗ feature-branch",
            "[feature-branch] main is protected",
            "fix: gate specify \"<name>\"",
            "watcher    ✗ not running",
            "check-ins  0 pending",
        ],
    );
}

#[test]
fn a_feature_in_progress_shows_phase_tasks_and_dirt() {
    let env = TestEnv::new();
    let dir = env.complete_feature("User auth");
    env.commit_all("feature");
    env.write("src/a.rs", "x\n");
    env.write("notes.md", "x\n");
    // The commits carry the tests' pinned 2025 date, so the uncommitted work is "late".
    let out = env.gate(&["status"]);
    assert_exit(&out, 0);
    assert_exit(&env.gate(&["status", "--check"]), 1);
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            "feature/001-user-auth  (feature 001-user-auth · phase implement · tasks 6/6)",
            "✓ implementation-gate",
            "✗ commit-cadence",
            "[commit-cadence] 2 uncommitted change(s)",
            "fix: gate snapshot",
            "2 changed files",
        ],
    );
    let json = serde_json::from_str::<Value>(&stdout(&env.gate(&["status", "--json"]))).unwrap();
    assert_eq!(json["state"].as_str(), Some("ok"));
    assert_eq!(json["phase"].as_str(), Some("implement"));
    assert_eq!(json["feature"].as_str(), Some("001-user-auth"));
    assert_eq!(json["dirty"].as_f64(), Some(2.0));
    assert_eq!(json["watcher"]["running"].as_bool(), Some(false));
    assert_eq!(json["rules"].as_array().expect("a JSON array").len(), 4);
    let _ = dir;
}

#[test]
fn a_clean_trunk_after_finishing_is_not_a_violation() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    env.commit_all("gate set-up");
    // Where `gate finish` leaves you: on main, nothing uncommitted.
    let out = env.gate(&["status", "--check"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["✓ feature-branch"]);
    env.write("src/x.rs", "work on main\n");
    assert_exit(&env.gate(&["status", "--check"]), 1);
}

#[test]
fn recent_refusals_appear_in_status() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    env.commit_all("setup");
    env.write("README.md", "x\n");
    env.git(&["add", "README.md"]);
    let _ = env.git_hooked(&env.root, &["commit", "-q", "-m", "on main"], &[]);
    let text = stdout(&env.gate(&["status"]));
    assert_contains(&text, &["recent", "blocked feature-branch main"]);
}

#[test]
fn all_lists_every_project_and_shows_missing_ones() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    let other = env.base_dir().join("other");
    let gone = env.base_dir().join("gone");
    for dir in [&other, &gone] {
        std::fs::create_dir_all(dir).unwrap();
        env.git_in(dir, &["init", "-q", "-b", "main"]);
        env.git_in(dir, &["commit", "-q", "--allow-empty", "-m", "init"]);
        assert_exit(&env.gate_in(dir, &["init", "--no-hooks"]), 0);
    }
    env.git_in(&other, &["switch", "-q", "-c", "feature/002-x"]);
    std::fs::remove_dir_all(&gone).unwrap();
    let out = env.gate(&["status", "--all"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("PROJECT"), "{text}");
    assert!(
        lines[1].contains("gone") && lines[1].contains("no longer exists"),
        "missing project first:\n{text}"
    );
    assert_contains(&text, &["feature/002-x", "main"]);
    let json =
        serde_json::from_str::<Value>(&stdout(&env.gate(&["status", "--all", "--json"]))).unwrap();
    let projects = json["projects"].as_array().expect("a JSON array");
    assert_eq!(projects.len(), 3);
    assert_eq!(projects[0]["state"].as_str(), Some("missing"));
}
