//! The git hooks, through the real `git commit` and `git push`: refusals, passes, the escape
//! hatch, chaining someone else's hook, core.hooksPath, worktrees and concurrent appends.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use crate::env::{TestEnv, all, assert_contains, assert_exit, code, stderr, stdout};

/// A repository with gate initialised (hooks installed) and its setup committed on main.
fn hooked() -> TestEnv {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    env.commit_all("set up gate");
    env
}

fn commit(env: &TestEnv, message: &str) -> Output {
    env.git_hooked(&env.root, &["commit", "-q", "-m", message], &[])
}

fn events(env: &TestEnv) -> String {
    std::fs::read_to_string(env.root.join(".git/gate/events.jsonl")).unwrap_or_default()
}

#[test]
fn install_is_idempotent_and_status_reports_current() {
    let env = hooked();
    let out = env.gate(&["hooks", "install"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["pre-commit", "already current"]);
    let status = env.gate(&["hooks", "status"]);
    assert_exit(&status, 0);
    for hook in ["pre-commit", "pre-push", "post-checkout", "post-merge"] {
        assert_contains(&stdout(&status), &[&format!("{hook:<14} current")]);
    }
    // The audit judges commits by content: no process runs after every commit.
    assert!(!env.exists(".git/hooks/post-commit"));
    let json = stdout(&env.gate(&["hooks", "status", "--json"]));
    assert_contains(&json, &["\"state\": \"current\"", "\"hooks_path\": null"]);
}

#[test]
fn a_commit_on_main_is_refused_with_the_fix_and_logged() {
    let env = hooked();
    let before = env.git(&["rev-parse", "HEAD"]);
    env.write("README.md", "hello\n");
    env.git(&["add", "README.md"]);
    let out = commit(&env, "on main");
    assert_eq!(code(&out), 1, "{}", all(&out));
    assert_contains(
        &stderr(&out),
        &[
            "gate: commit refused",
            "[feature-branch] main is protected",
            "README.md",
            "fix: gate specify \"<name>\"",
        ],
    );
    assert_eq!(
        env.git(&["rev-parse", "HEAD"]),
        before,
        "a refused commit landed"
    );
    assert_contains(
        &events(&env),
        &[
            "\"kind\":\"blocked\"",
            "\"code\":\"feature-branch\"",
            "\"branch\":\"main\"",
        ],
    );
    let log = stdout(&env.gate(&["log", "-n", "1"]));
    assert_contains(&log, &["blocked", "feature-branch", "main"]);
}

#[test]
fn the_root_commit_on_an_unborn_main_is_allowed() {
    let env = TestEnv::unborn();
    assert_exit(&env.gate(&["init"]), 0);
    env.git(&["add", "-A"]);
    let out = commit(&env, "root");
    assert_exit(&out, 0);
}

#[test]
fn implementation_waits_for_the_spec_gate_but_docs_do_not() {
    let env = hooked();
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    env.write("docs/notes.md", "notes\n");
    env.git(&["add", "-A"]);
    assert_exit(&commit(&env, "spec and docs"), 0);

    env.write("src/lib.rs", "pub fn f() {}\n");
    env.git(&["add", "src/lib.rs"]);
    let out = commit(&env, "code too early");
    assert_eq!(code(&out), 1, "{}", all(&out));
    assert_contains(
        &stderr(&out),
        &[
            "[implementation-gate] implementation files staged while spec.md of 001-user-auth is incomplete",
            "src/lib.rs",
            "specs/001-user-auth/spec.md:",
            "fix: resolve the findings in specs/001-user-auth/spec.md",
        ],
    );

    env.git(&["reset", "-q", "src/lib.rs"]);
    let dir = env.complete_feature_on_branch();
    env.git(&["add", &dir]);
    assert_exit(&commit(&env, "spec, plan, tasks"), 0);
    env.git(&["add", "src/lib.rs"]);
    assert_exit(&commit(&env, "code after the gate"), 0);
}

#[test]
fn commit_all_is_judged_on_gits_temporary_index() {
    // `git commit -a` stages into a temporary index (GIT_INDEX_FILE), not .git/index.
    let env = hooked();
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    env.write("src/lib.rs", "v1\n");
    env.git(&["add", "-A"]);
    assert_exit(
        &env.git_hooked(
            &env.root,
            &["commit", "-q", "-m", "x"],
            &[("GATE_SKIP", "1")],
        ),
        0,
    );
    env.write("src/lib.rs", "v2\n");
    let out = env.git_hooked(&env.root, &["commit", "-q", "-a", "-m", "sneaky"], &[]);
    assert_eq!(code(&out), 1, "{}", all(&out));
    assert_contains(&stderr(&out), &["[implementation-gate]", "src/lib.rs"]);
}

#[test]
fn staging_plan_before_the_spec_is_complete_is_out_of_order() {
    let env = hooked();
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    env.write("specs/001-user-auth/plan.md", "# Plan\n\nearly\n");
    env.git(&["add", "-A"]);
    let out = commit(&env, "plan too early");
    assert_eq!(code(&out), 1, "{}", all(&out));
    assert_contains(
        &stderr(&out),
        &["[spec-order] plan.md staged while spec.md is incomplete"],
    );
}

#[test]
fn gate_skip_passes_and_is_recorded_with_the_rule() {
    let env = hooked();
    env.write("README.md", "hello\n");
    env.git(&["add", "README.md"]);
    let out = env.git_hooked(
        &env.root,
        &["commit", "-q", "-m", "skip"],
        &[("GATE_SKIP", "1")],
    );
    assert_exit(&out, 0);
    assert_contains(&stderr(&out), &["GATE_SKIP is set", "feature-branch"]);
    let log = events(&env);
    assert_contains(
        &log,
        &["\"kind\":\"skipped\"", "\"code\":\"feature-branch\""],
    );
}

fn write_hook(path: &Path, body: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn an_existing_hook_that_fails_still_blocks() {
    let env = TestEnv::new();
    write_hook(
        &env.root.join(".git/hooks/pre-commit"),
        "#!/bin/sh\necho 'lint failed' >&2\nexit 1\n",
        0o755,
    );
    assert_exit(&env.gate(&["init"]), 0);
    env.commit_all("setup");
    env.complete_feature("User auth");
    env.commit_all("feature");
    env.write("docs/x.md", "x\n");
    env.git(&["add", "-A"]);
    let out = commit(&env, "blocked by the old hook");
    assert_eq!(code(&out), 1, "{}", all(&out));
    assert_contains(&stderr(&out), &["lint failed"]);
}

#[test]
fn an_existing_hook_that_passes_runs_before_gate() {
    let env = TestEnv::new();
    let marker = env.base_dir().join("ran");
    write_hook(
        &env.root.join(".git/hooks/pre-commit"),
        &format!("#!/bin/sh\necho ran >> '{}'\nexit 0\n", marker.display()),
        0o755,
    );
    assert_exit(&env.gate(&["init"]), 0);
    env.commit_all("setup");
    env.write("README.md", "x\n");
    env.git(&["add", "-A"]);
    let out = commit(&env, "on main");
    assert_eq!(code(&out), 1, "gate still blocks main: {}", all(&out));
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "ran\n",
        "ran exactly once"
    );
}

#[test]
fn uninstall_restores_the_original_hook_byte_for_byte_with_its_mode() {
    let env = TestEnv::new();
    let hook = env.root.join(".git/hooks/pre-commit");
    let original = b"#!/bin/sh\n# mine \xe2\x9c\x93\nexit 0\n";
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(&hook, original).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o741)).unwrap();
    assert_exit(&env.gate(&["hooks", "install"]), 0);
    assert_contains(
        &stdout(&env.gate(&["hooks", "status"])),
        &["runs", "pre-commit.pre-gate first"],
    );
    let out = env.gate(&["hooks", "uninstall"]);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&hook).unwrap(), original);
    assert_eq!(
        std::fs::metadata(&hook).unwrap().permissions().mode() & 0o777,
        0o741
    );
    assert!(!env.root.join(".git/hooks/pre-push").exists());
    assert!(!env.root.join(".git/hooks/pre-commit.pre-gate").exists());
}

#[test]
fn core_hooks_path_is_honoured() {
    let env = TestEnv::new();
    env.git(&["config", "core.hooksPath", ".githooks"]);
    assert_exit(&env.gate(&["init"]), 0);
    assert!(env.root.join(".githooks/pre-commit").exists());
    assert!(!env.root.join(".git/hooks/pre-commit").exists());
    env.write("README.md", "x\n");
    env.git(&["add", "README.md"]);
    assert_eq!(code(&commit(&env, "on main")), 1);
}

#[test]
fn a_husky_managed_hooks_path_is_refused_with_the_snippet() {
    let env = TestEnv::new();
    env.git(&["config", "core.hooksPath", ".husky/_"]);
    let out = env.gate(&["hooks", "install"]);
    assert_exit(&out, 1);
    assert_contains(
        &stderr(&out),
        &["husky", "gate hook pre-commit", ".husky/pre-commit"],
    );
    assert!(!env.root.join(".husky").exists());
}

#[test]
fn a_linked_worktree_uses_the_common_hooks_and_log() {
    let env = hooked();
    let wt = env.base_dir().join("wt");
    env.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "feature/002-other",
        wt.to_str().unwrap(),
    ]);
    std::fs::write(wt.join("src.txt"), "x\n").unwrap();
    env.git_in(&wt, &["add", "-A"]);
    let out = env.git_hooked(&wt, &["commit", "-q", "-m", "in worktree"], &[]);
    assert_exit(&out, 0);
    env.git_in(&wt, &["switch", "-q", "-c", "main-copy", "main"]);
    let _ = env.git_hooked(&wt, &["switch", "-q", "feature/002-other"], &[]);
    let log = events(&env);
    assert_contains(
        &log,
        &["\"kind\":\"checkout\"", "\"branch\":\"feature/002-other\""],
    );
    let status = env.gate_in(&wt, &["hooks", "status"]);
    assert_contains(&stdout(&status), &[".git/hooks"]);
}

#[test]
fn pre_push_refuses_protected_branches_but_not_features_or_finished_work() {
    let env = hooked();
    let remote = env.base_dir().join("remote.git");
    env.git(&["init", "-q", "--bare", remote.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", remote.to_str().unwrap()]);

    // Adopting gate is fine on main (no rules existed before it); a direct commit after is not.
    env.write("README.md", "straight onto main\n");
    env.commit_all("a direct commit");
    let out = env.git_hooked(&env.root, &["push", "-q", "origin", "main"], &[]);
    assert_eq!(code(&out), 1, "{}", all(&out));
    assert_contains(
        &stderr(&out),
        &[
            "push refused",
            "pushing refs/heads/main directly to protected branch main on origin",
        ],
    );

    env.git(&["switch", "-q", "-c", "feature/001-x"]);
    assert_exit(
        &env.git_hooked(&env.root, &["push", "-q", "origin", "feature/001-x"], &[]),
        0,
    );

    // A hand-made stable tag is not a finish: only gate's own record of one is.
    env.git(&["switch", "-q", "main"]);
    env.git(&["tag", "-a", "-m", "stable", "stable-001-x-20250102"]);
    assert_exit(
        &env.git_hooked(&env.root, &["push", "-q", "origin", "main"], &[]),
        1,
    );
    assert_contains(&events(&env), &["\"kind\":\"blocked\"", "pre-push"]);
}

#[test]
fn pre_push_protection_can_be_turned_off() {
    let env = TestEnv::new();
    env.write(".gate.toml", "[hooks]\nprotect_push = false\n");
    assert_exit(&env.gate(&["init"]), 0);
    env.commit_all("setup");
    let remote = env.base_dir().join("remote.git");
    env.git(&["init", "-q", "--bare", remote.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    assert_exit(
        &env.git_hooked(&env.root, &["push", "-q", "origin", "main"], &[]),
        0,
    );
}

#[test]
fn a_missing_gate_binary_fails_the_commit_loudly() {
    let env = hooked();
    let hook = env.root.join(".git/hooks/pre-commit");
    let text = std::fs::read_to_string(&hook).unwrap();
    let recorded = text
        .lines()
        .nth(2)
        .unwrap()
        .trim_start_matches("# gate-binary: ")
        .trim_matches('\'')
        .to_owned();
    std::fs::write(&hook, text.replace(&recorded, "/nonexistent/gate")).unwrap();
    env.git(&["switch", "-q", "-c", "feature/001-x"]);
    env.write("README.md", "x\n");
    env.git(&["add", "README.md"]);
    let out = env.git_hooked(
        &env.root,
        &["commit", "-q", "-m", "x"],
        &[("PATH", "/usr/bin:/bin:/usr/local/bin")],
    );
    assert_eq!(code(&out), 1, "{}", all(&out));
    assert_contains(
        &stderr(&out),
        &["gate binary is missing", "gate hooks install"],
    );
    let status = stdout(&env.gate(&["hooks", "status"]));
    assert_contains(&status, &["stale", "no longer exists"]);
}

#[test]
fn branch_switches_and_merges_are_events() {
    let env = hooked();
    assert_exit(
        &env.git_hooked(&env.root, &["switch", "-q", "-c", "feature/001-x"], &[]),
        0,
    );
    env.write("docs/a.md", "a\n");
    env.git(&["add", "-A"]);
    assert_exit(&commit(&env, "docs"), 0);
    assert_exit(
        &env.git_hooked(&env.root, &["switch", "-q", "main"], &[]),
        0,
    );
    let merge = env.git_hooked(
        &env.root,
        &["merge", "-q", "--ff-only", "feature/001-x"],
        &[],
    );
    assert_exit(&merge, 0);
    let json = stdout(&env.gate(&["log", "--json"]));
    for kind in ["checkout", "merge"] {
        assert_contains(&json, &[&format!("\"kind\":\"{kind}\"")]);
    }
}

#[test]
fn concurrent_commits_from_two_worktrees_never_tear_the_log() {
    let env = hooked();
    let mut dirs = Vec::new();
    for n in 1..=2 {
        let wt = env.base_dir().join(format!("wt{n}"));
        env.git(&[
            "worktree",
            "add",
            "-q",
            "-b",
            &format!("feature/00{n}-w"),
            wt.to_str().unwrap(),
        ]);
        dirs.push(wt);
    }
    std::thread::scope(|s| {
        for wt in &dirs {
            let env = &env;
            s.spawn(move || {
                // Code before any spec: each attempt is refused and logged.
                for i in 0..15 {
                    std::fs::write(wt.join(format!("src{i}.rs")), format!("{i}\n")).unwrap();
                    std::fs::create_dir_all(wt.join("src")).unwrap();
                    std::fs::write(wt.join(format!("src/f{i}.rs")), format!("{i}\n")).unwrap();
                    env.git_in(wt, &["add", "-A"]);
                    let out = env.git_hooked(wt, &["commit", "-q", "-m", &format!("c{i}")], &[]);
                    assert_exit(&out, 1);
                }
            });
        }
    });
    let log = events(&env);
    let lines: Vec<&str> = log.lines().collect();
    let blocked = lines
        .iter()
        .filter(|l| l.contains("\"kind\":\"blocked\""))
        .count();
    assert_eq!(blocked, 30, "{log}");
    for line in lines {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "torn line: {line}"
        );
    }
}

#[test]
fn agent_hooks_install_a_guard_that_refuses_no_verify() {
    let env = TestEnv::new();
    let out = env.gate(&["init", "--agent-hooks"]);
    assert_exit(&out, 0);
    let settings = env.read(".claude/settings.json");
    assert_contains(
        &settings,
        &["PreToolUse", "\"matcher\": \"Bash\"", " guard"],
    );
    assert_contains(&env.read(".codex/hooks.json"), &["PreToolUse"]);
    assert_exit(&env.gate(&["init", "--agent-hooks"]), 0);
    assert_eq!(
        env.read(".claude/settings.json"),
        settings,
        "second init changed the settings"
    );

    let mut guard = env.gate_command(&env.root);
    guard
        .arg("guard")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = guard.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            br#"{"tool_name":"Bash","tool_input":{"command":"git commit --no-verify -m wip"}}"#,
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_contains(
        &String::from_utf8_lossy(&out.stderr),
        &["--no-verify", "gate check"],
    );
}

/// A feature branch `feature/001-x` whose spec, plan and tasks are complete and committed with
/// some code, back on main afterwards.
fn complete_feature_with_code(env: &TestEnv) {
    env.complete_feature("X");
    env.write("src/x.rs", "pub fn x() {}\n");
    env.commit_all("feature x");
    env.git(&["switch", "-q", "main"]);
}

#[test]
fn a_merge_in_progress_does_not_exempt_main() {
    let env = hooked();
    env.git(&["switch", "-q", "-c", "feature/001-x"]);
    env.write("docs/x.md", "x\n");
    env.commit_all("docs");
    env.git(&["switch", "-q", "main"]);
    env.git(&["merge", "--no-commit", "-s", "ours", "feature/001-x"]);
    env.write(".gate.toml", "[branches]\nprotected = []\n");
    env.write("anything.txt", "arbitrary edit\n");
    env.git(&["add", "-A"]);
    let out = commit(&env, "a no-op merge carrying edits");
    assert_exit(&out, 1);
    assert_contains(
        &stderr(&out),
        &["main is protected", "does not land a finished feature"],
    );
}

#[test]
fn a_staged_rules_edit_does_not_unprotect_main_for_its_own_commit() {
    let env = hooked();
    env.write(".gate.toml", "[branches]\nprotected = []\n");
    env.git(&["add", ".gate.toml"]);
    let out = commit(&env, "unprotect main");
    assert_exit(&out, 1);
    assert_contains(&stderr(&out), &["main is protected"]);
}

#[test]
fn concluding_a_real_merge_of_a_complete_feature_into_main_is_allowed() {
    let env = hooked();
    complete_feature_with_code(&env);
    env.git(&["merge", "-q", "--no-ff", "--no-commit", "feature/001-x"]);
    let out = commit(&env, "Merge feature/001-x");
    assert_exit(&out, 0);
    assert_eq!(env.git(&["rev-list", "--count", "--merges", "main"]), "1");
    // The audit agrees: a clean merge of a complete feature is a landing.
    let audit = env.gate(&["audit", "--json"]);
    assert_exit(&audit, 0);
}

#[test]
fn concluding_a_merge_with_edits_beyond_it_is_refused() {
    let env = hooked();
    complete_feature_with_code(&env);
    env.git(&["merge", "-q", "--no-ff", "--no-commit", "feature/001-x"]);
    env.write("unrelated.txt", "smuggled in\n");
    env.git(&["add", "unrelated.txt"]);
    let out = commit(&env, "Merge feature/001-x");
    assert_exit(&out, 1);
    assert_contains(&stderr(&out), &["unrelated.txt", "beyond what it merges"]);
}

#[test]
fn pre_commit_judges_the_artifacts_as_staged_not_on_disk() {
    let env = hooked();
    assert_exit(&env.gate(&["specify", "X"]), 0);
    env.commit_all("spec started");
    // Complete on disk, never staged: no commit would hold a complete spec.
    env.complete_feature_on_branch();
    env.write("src/lib.rs", "pub fn f() {}\n");
    env.git(&["add", "src/lib.rs"]);
    let out = commit(&env, "code");
    assert_exit(&out, 1);
    assert_contains(&stderr(&out), &["implementation-gate", "spec.md of 001-x"]);
    env.git(&["add", "specs"]);
    assert_exit(&commit(&env, "code with its spec"), 0);
}

#[test]
fn a_stale_feature_pointer_does_not_open_another_features_gate() {
    let env = hooked();
    env.complete_feature("User auth");
    env.commit_all("feature 1");
    env.git(&["switch", "-q", "main"]);
    assert_exit(&env.gate(&["specify", "Other"]), 0);
    env.commit_all("spec 2 started");
    env.write("src/lib.rs", "pub fn f() {}\n");
    env.git(&["add", "src/lib.rs"]);
    let out = env.git_hooked(
        &env.root,
        &["commit", "-q", "-m", "code for 2"],
        &[("SPECIFY_FEATURE_DIRECTORY", "specs/001-user-auth")],
    );
    assert_exit(&out, 1);
    assert_contains(&stderr(&out), &["002-other"]);
}

#[test]
fn gate_specify_keeps_specify_feature_json_in_step() {
    let env = hooked();
    env.write(
        ".specify/feature.json",
        "{\"feature_directory\": \"specs/000-old\", \"other\": 1}\n",
    );
    assert_exit(&env.gate(&["specify", "New thing"]), 0);
    let json: serde_json::Value = serde_json::from_str(&env.read(".specify/feature.json")).unwrap();
    assert_eq!(json["feature_directory"], "specs/001-new-thing");
    assert_eq!(json["other"], 1);
    assert_exit(&env.gate(&["check"]), 1);
    let out = env.gate(&["check"]);
    assert!(!stdout(&out).contains("stale"), "{}", stdout(&out));
}

#[test]
fn the_guard_expands_git_aliases_and_reads_abbreviated_options() {
    let env = TestEnv::new();
    env.git(&["config", "alias.ci", "commit --no-verify"]);
    let guard = |command: &str| {
        let mut cmd = env.gate_command(&env.root);
        cmd.arg("guard")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        let input = serde_json::json!({"tool_name": "Bash", "tool_input": {"command": command}});
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    for bad in [
        "git ci -m x",
        "git commit --no-veri -m x",
        "chmod -x .git/hooks/pre-commit",
    ] {
        let out = guard(bad);
        assert_exit(&out, 2);
        assert_contains(&stderr(&out), &["gate refuses this command"]);
    }
    assert_exit(&guard("git commit -m 'fine'"), 0);
}
