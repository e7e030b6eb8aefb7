//! The front door (issue 16): a new user's first hour on the repository they already have.

use crate::env::{TestEnv, all, assert_contains, assert_exit, stdout};

#[test]
fn init_on_a_python_package_enforces_the_package_not_an_empty_src() {
    let env = TestEnv::new();
    env.write("pyproject.toml", "[project]\nname = \"shop\"\n");
    env.write("shop/__init__.py", "");
    env.write("shop/cart.py", "def total(): return 0\n");
    env.write("tests/test_cart.py", "def test(): pass\n");
    env.commit_all("a python project");
    let out = env.gate(&["init", "--no-hooks"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &["implementation paths: shop/**", "Python package `shop`"],
    );
    let config = env.read(".gate.toml");
    assert_contains(
        &config,
        &["# Chosen by `gate init`", "implementation = [\"shop/**\"]"],
    );
    // And it is enforced: the package is implementation before the spec gate.
    assert_exit(&env.gate(&["specify", "Discounts"]), 0);
    env.write("shop/discount.py", "x = 1\n");
    env.git(&["add", "shop/discount.py"]);
    let check = env.gate(&["hook", "pre-commit"]);
    assert_exit(&check, 1);
    assert_contains(&all(&check), &["implementation-gate", "shop/discount.py"]);
}

#[test]
fn init_and_doctor_warn_when_the_globs_match_no_code() {
    let env = TestEnv::new();
    env.write(".gate.toml", "[spec]\nimplementation = [\"src/**\"]\n");
    env.write("app/main.go", "package main\n");
    env.commit_all("go code outside src");
    let out = env.gate(&["init", "--no-hooks"]);
    assert_exit(&out, 0);
    assert_contains(&all(&out), &["matches none of the", "enforces nothing"]);
    let doctor = env.gate(&["doctor"]);
    assert_contains(&stdout(&doctor), &["✗ implementation", "enforces nothing"]);
}

#[test]
fn gate_specify_records_the_branch_switch_in_the_log() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["specify", "Logged switch"]), 0);
    let log = stdout(&env.gate(&["log"]));
    assert_contains(
        &log,
        &[
            "checkout",
            "feature/001-logged-switch",
            "gate specify: new branch from main",
        ],
    );
}

#[test]
fn init_commit_puts_only_gates_files_on_the_trunk_and_keeps_the_users_staging() {
    let env = TestEnv::new();
    env.write("notes.txt", "the user's own staged work\n");
    env.git(&["add", "notes.txt"]);
    let head = env.git(&["rev-parse", "HEAD"]);
    let out = env.gate(&["init", "--commit"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["committed gate's set-up", "nothing else"]);
    assert_eq!(env.branch(), "main");
    let files = env.git(&["diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD"]);
    assert_eq!(
        files,
        ".gate.toml\nspec-kit/templates/plan-template.md\nspec-kit/templates/spec-template.md\nspec-kit/templates/tasks-template.md"
    );
    assert_eq!(env.git(&["rev-parse", "HEAD~1"]), head);
    // The user's staging is exactly as it was; gate's files are in step with HEAD.
    assert_eq!(env.git(&["diff", "--cached", "--name-only"]), "notes.txt");
    assert_eq!(
        env.git(&["status", "--porcelain", "--", ".gate.toml", "spec-kit"]),
        ""
    );
    assert_contains(&stdout(&env.gate(&["log"])), &["gate init --commit"]);
    // Again: nothing new to commit.
    assert_contains(
        &stdout(&env.gate(&["init", "--commit"])),
        &["already committed"],
    );
}

#[test]
fn a_lesson_on_a_feature_branch_is_committed_and_never_blocks_finish() {
    let env = TestEnv::new();
    env.complete_feature("Lessons");
    env.commit_all("spec, plan, tasks");
    env.write("notes.txt", "staged, not part of the lesson\n");
    env.git(&["add", "notes.txt"]);
    let out = env.gate(&["learn", "Auth tests need a running Redis"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["committed LEARNINGS.md"]);
    assert_eq!(
        env.git(&["diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD"]),
        "LEARNINGS.md"
    );
    // What the user staged is still theirs, and only theirs.
    assert_eq!(env.git(&["diff", "--cached", "--name-only"]), "notes.txt");
    env.git(&["commit", "-qm", "notes"]);
    let finish = env.gate(&["finish"]);
    assert_exit(&finish, 0);
}

#[test]
fn gate_finish_records_its_switch_to_the_trunk() {
    let env = TestEnv::new();
    env.complete_feature("Switch logged");
    env.commit_all("feature done");
    assert_exit(&env.gate(&["finish"]), 0);
    assert_eq!(env.branch(), "main");
    let log = stdout(&env.gate(&["log"]));
    assert_contains(
        &log,
        &["checkout", "gate finish: from feature/001-switch-logged"],
    );
}

#[test]
fn committed_agent_settings_hold_no_machine_specific_path() {
    let env = TestEnv::new();
    let out = env.gate(&["init", "--agent-hooks"]);
    assert_exit(&out, 0);
    for file in [".claude/settings.json", ".codex/hooks.json"] {
        let text = env.read(file);
        assert_contains(&text, &["\"gate guard\""]);
        assert!(
            !text.contains("/target/") && !text.contains("/home/"),
            "{file}: {text}"
        );
    }
    // The stale Codex advice is gone; the trust step it really needs is named.
    let text = all(&out);
    assert!(!text.contains("codex_hooks"), "{text}");
    assert_contains(&text, &["trust"]);
}

fn guard(env: &TestEnv, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = env
        .gate_command(&env.root)
        .arg("guard")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_guard_refuses_edits_of_code_before_the_spec_gate_and_allows_specs() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init", "--agent-hooks"]), 0);
    assert_contains(
        &env.read(".claude/settings.json"),
        &["Write|Edit|MultiEdit"],
    );
    assert_exit(&env.gate(&["specify", "Edits"]), 0);
    let code = format!(
        r#"{{"tool_name":"Write","tool_input":{{"file_path":"{}/src/lib.rs","content":"x"}}}}"#,
        env.root.display()
    );
    let out = guard(&env, &code);
    assert_exit(&out, 2);
    assert_contains(
        &all(&out),
        &["refuses this edit of src/lib.rs", "implementation-gate"],
    );
    let spec = r#"{"tool_name":"Edit","tool_input":{"file_path":"specs/001-edits/spec.md"}}"#;
    assert_exit(&guard(&env, spec), 0);
    let patch = r#"{"tool_name":"apply_patch","tool_input":{"input":"*** Begin Patch\n*** Add File: src/new.rs\n+x\n*** End Patch"}}"#;
    assert_exit(&guard(&env, patch), 2);
    // Once spec, plan and tasks are complete, code may be written.
    env.complete_feature_on_branch();
    assert_exit(&guard(&env, &code), 0);
}

#[test]
fn doctor_says_when_the_agents_guard_cannot_run_on_this_machine() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init", "--agent-hooks"]), 0);
    // A PATH without `gate` on it: the committed `gate guard` cannot run here.
    let path: Vec<std::path::PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .filter(|d| !d.join("gate").exists())
            .collect();
    let path = std::env::join_paths(path).unwrap();
    let doctor = stdout(&env.gate_with(&["doctor"], &[("PATH", path.to_str().unwrap())]));
    assert_contains(&doctor, &["✗ agent-guards", "gate is not on PATH"]);
}
