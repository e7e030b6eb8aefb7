//! `gate snapshot`: the auto-commit path under hostile conditions. Every test checks that
//! nothing is lost and nothing is written where it must not be.

use std::path::Path;

use crate::env::{TestEnv, all, assert_contains, assert_exit, code, stdout};

/// HEAD, the index file's bytes and `git status`: what a shadow snapshot must never change.
fn untouched_state(env: &TestEnv) -> (String, Vec<u8>, String) {
    let index = std::fs::read(env.root.join(".git/index")).unwrap_or_default();
    let head = env.git(&["rev-parse", "HEAD"]);
    let status = env.git(&["status", "--porcelain=v1", "--untracked-files=all"]);
    (head, index, status)
}

/// A repository on a feature branch whose spec gate has passed (all committed).
fn on_complete_feature() -> TestEnv {
    let env = TestEnv::new();
    env.complete_feature("User auth");
    env.commit_all("spec, plan, tasks");
    env
}

fn snapshot(env: &TestEnv) -> std::process::Output {
    env.gate(&["snapshot"])
}

#[test]
fn on_a_protected_branch_work_is_shadowed_and_nothing_else_moves() {
    let env = TestEnv::new();
    env.write("notes.md", "draft\n");
    env.write("README.md", "changed\n");
    let before = untouched_state(&env);
    let out = snapshot(&env);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &["preserved", "refs/gate/snapshots/main", "main is protected"],
    );
    assert_eq!(untouched_state(&env), before);
    let files = env.git(&["ls-tree", "-r", "--name-only", "refs/gate/snapshots/main"]);
    assert_contains(&files, &["notes.md"]);
    assert_eq!(
        env.git(&["show", "refs/gate/snapshots/main:notes.md"]),
        "draft"
    );
    assert_contains(
        &stdout(&env.gate(&["log"])),
        &["snapshot", "restore: gate restore"],
    );
}

#[test]
fn snapshots_chain_and_skip_when_nothing_changed() {
    let env = TestEnv::new();
    env.write("a.md", "1\n");
    assert_exit(&snapshot(&env), 0);
    let first = env.git(&["rev-parse", "refs/gate/snapshots/main"]);
    assert_contains(
        &stdout(&snapshot(&env)),
        &["nothing to do", "already preserved"],
    );
    env.write("a.md", "2\n");
    assert_exit(&snapshot(&env), 0);
    let parents = env.git(&["log", "-1", "--format=%P", "refs/gate/snapshots/main"]);
    assert!(
        parents.contains(&first),
        "earlier snapshot not kept reachable: {parents}"
    );
}

#[test]
fn on_a_feature_branch_it_commits_and_the_index_stays_in_step() {
    let env = on_complete_feature();
    env.write("src/a.rs", "auto\n");
    let out = snapshot(&env);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &[
            "committed",
            "on feature/001-user-auth",
            "1 added (src/a.rs)",
        ],
    );
    let msg = env.git(&["log", "-1", "--format=%B"]);
    assert_contains(
        &msg,
        &["Progress: 1 added (src/a.rs)", "Gate-Auto-Commit: true"],
    );
    assert_eq!(
        env.git(&["log", "-1", "--format=%an <%ae>"]),
        "Test Author <author@example.com>"
    );
    // The agent's own next commit must keep the auto-committed file.
    env.write("other.md", "x\n");
    env.git(&["add", "other.md"]);
    env.git(&["commit", "-q", "-m", "agent commit"]);
    assert_eq!(env.git(&["show", "HEAD:src/a.rs"]), "auto");
    assert_eq!(env.git(&["status", "--porcelain"]), "");
}

#[test]
fn deletions_and_renames_are_committed() {
    let env = on_complete_feature();
    env.write("src/old.rs", "old\n");
    env.write("src/keep.rs", "keep\n");
    env.commit_all("base");
    std::fs::rename(env.path("src/old.rs"), env.path("src/new.rs")).unwrap();
    std::fs::remove_file(env.path("src/keep.rs")).unwrap();
    assert_exit(&snapshot(&env), 0);
    let files = env.git(&["ls-tree", "-r", "--name-only", "HEAD", "src"]);
    assert_eq!(files, "src/new.rs");
    assert_eq!(env.git(&["status", "--porcelain"]), "");
}

#[test]
fn ignored_oversized_and_nested_repositories_are_not_committed() {
    let env = on_complete_feature();
    env.write(".gate.toml", "[commit]\nmax_file_size = \"1KB\"\n");
    env.write(".gitignore", "target/\n*.log\n");
    env.commit_all("config");
    env.write("target/debug/big.bin", "x");
    env.write("run.log", "log\n");
    env.write("huge.dat", &"x".repeat(5000));
    env.write("small.md", "ok\n");
    std::fs::create_dir_all(env.path("vendor/lib")).unwrap();
    env.git_in(&env.path("vendor/lib"), &["init", "-q"]);
    env.write("vendor/lib/file.txt", "nested\n");
    let out = snapshot(&env);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &[
            "skipped huge.dat",
            "over commit.max_file_size",
            "skipped vendor/lib",
            "nested git repository",
        ],
    );
    let files = env.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(files.contains("small.md"), "{files}");
    for absent in ["huge.dat", "run.log", "target/", "vendor/"] {
        assert!(!files.contains(absent), "{absent} was committed:\n{files}");
    }
    assert!(env.path("huge.dat").exists(), "a skipped file was touched");
}

#[test]
fn non_utf8_file_names_are_committed_byte_exact() {
    use std::os::unix::ffi::OsStrExt;
    let env = on_complete_feature();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff.md");
    std::fs::write(env.root.join(name), "bytes\n").unwrap();
    assert_exit(&snapshot(&env), 0);
    let out = std::process::Command::new("git")
        .current_dir(&env.root)
        .args(["ls-tree", "-z", "--name-only", "HEAD"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.stdout
            .split(|&b| b == 0)
            .any(|n| n == b"caf\xe9-\xff.md"),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn implementation_before_the_spec_gate_is_shadowed_not_committed() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    env.commit_all("spec started");
    env.write("src/lib.rs", "early\n");
    let before = untouched_state(&env);
    let out = snapshot(&env);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &[
            "refs/gate/snapshots/feature%2F001-user-auth",
            "[implementation-gate]",
        ],
    );
    assert_eq!(untouched_state(&env), before);
}

/// main and other both change f.txt; returns the env on main with `f.txt` at "main".
fn diverged() -> TestEnv {
    let env = on_complete_feature();
    env.write("f.txt", "base\n");
    env.commit_all("base");
    env.git(&["switch", "-q", "-c", "other"]);
    env.write("f.txt", "other\n");
    env.commit_all("other");
    env.git(&["switch", "-q", "feature/001-user-auth"]);
    env.write("f.txt", "mine\n");
    env.commit_all("mine");
    env
}

fn assert_shadowed_in_place(env: &TestEnv, state_file: &str) {
    env.write("work.md", "unsaved work\n");
    let before = untouched_state(env);
    let out = snapshot(env);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["preserved", "not committed on the branch"]);
    assert_eq!(
        untouched_state(env),
        before,
        "HEAD, index or status changed"
    );
    assert!(
        env.root.join(".git").join(state_file).exists(),
        "{state_file} vanished"
    );
}

#[test]
fn a_merge_in_progress_gets_no_commit() {
    let env = diverged();
    assert!(!env.git_output(&["merge", "other"]).status.success());
    assert_shadowed_in_place(&env, "MERGE_HEAD");
}

#[test]
fn a_cherry_pick_conflict_gets_no_commit() {
    let env = diverged();
    assert!(!env.git_output(&["cherry-pick", "other"]).status.success());
    assert_shadowed_in_place(&env, "CHERRY_PICK_HEAD");
}

#[test]
fn a_stopped_interactive_rebase_gets_no_commit() {
    let env = diverged();
    let out = env.git_output(&[
        "-c",
        "sequence.editor=sed -i s/^pick/edit/",
        "rebase",
        "-i",
        "HEAD~1",
    ]);
    assert!(out.status.success(), "{}", all(&out));
    assert_shadowed_in_place(&env, "rebase-merge");
}

#[test]
fn bisect_and_detached_head_get_no_commit() {
    let env = diverged();
    env.git(&["bisect", "start", "HEAD", "HEAD~2"]);
    assert_shadowed_in_place(&env, "BISECT_LOG");
    env.git(&["bisect", "reset"]);
    env.git(&["switch", "-q", "--detach", "HEAD~1"]);
    env.write("work.md", "more unsaved work\n");
    let out = snapshot(&env);
    assert_contains(
        &stdout(&out),
        &["HEAD is detached", "refs/gate/detached/main-worktree"],
    );
}

#[test]
fn a_held_index_lock_is_left_alone_and_retried() {
    let env = on_complete_feature();
    env.write("src/a.rs", "x\n");
    let lock = env.root.join(".git/index.lock");
    std::fs::write(&lock, "someone else's").unwrap();
    let head = env.git(&["rev-parse", "HEAD"]);
    let out = snapshot(&env);
    assert_eq!(code(&out), 1, "{:?} {}", out.status, all(&out));
    assert_contains(&stdout(&out), &["not now", "index.lock"]);
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), "someone else's");
    assert_eq!(env.git(&["rev-parse", "HEAD"]), head);
    std::fs::remove_file(&lock).unwrap();
    assert_exit(&snapshot(&env), 0);
    assert_eq!(env.git(&["show", "HEAD:src/a.rs"]), "x");
}

#[test]
fn shadow_on_request_leaves_the_branch_alone() {
    let env = on_complete_feature();
    env.write("src/a.rs", "x\n");
    let before = untouched_state(&env);
    let out = env.gate(&["snapshot", "--shadow", "-m", "before a risky refactor"]);
    assert_exit(&out, 0);
    assert_eq!(untouched_state(&env), before);
    let msg = env.git(&[
        "log",
        "-1",
        "--format=%s",
        "refs/gate/snapshots/feature%2F001-user-auth",
    ]);
    assert_eq!(msg, "before a risky refactor");
    let _ = Path::new("");
}

#[test]
fn only_the_named_paths_are_committed() {
    let env = on_complete_feature();
    env.write("src/a.rs", "a\n");
    env.write("src/b.rs", "b\n");
    env.write("dir/x/y.md", "y\n");
    let out = env.gate(&["snapshot", "--only", "src/a.rs", "dir"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["2 added (dir/x/y.md, src/a.rs)"]);
    assert_eq!(env.git(&["status", "--porcelain"]), "?? src/b.rs");
}

#[test]
fn git_exiting_before_reading_its_input_is_never_a_silent_success() {
    // Regression: with index.lock held, `git add` exits before reading the paths gate pipes to
    // it; the broken pipe was taken for a closed stdout and gate exited 0 saying nothing.
    let env = on_complete_feature();
    env.write("src/a.rs", "x\n");
    std::fs::write(env.root.join(".git/index.lock"), "held").unwrap();
    let runs: Vec<_> = (0..12)
        .map(|_| {
            let mut cmd = env.gate_command(&env.root);
            cmd.arg("snapshot")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for child in runs {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", all(&out));
        assert_contains(&stdout(&out), &["index.lock"]);
    }
}

#[test]
fn paths_the_agent_staged_elsewhere_count_before_the_gate_passes() {
    // The watcher only knows the paths its events named; the commit would also carry what the
    // agent staged, so an implementation file staged early still forces a shadow snapshot.
    let env = TestEnv::new();
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    env.commit_all("spec started");
    env.write("src/lib.rs", "early\n");
    env.git(&["add", "src/lib.rs"]);
    env.write("docs/notes.md", "notes\n");
    let head = env.git(&["rev-parse", "HEAD"]);
    let out = env.gate(&["snapshot", "--only", "docs/notes.md"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["preserved", "[implementation-gate]"]);
    assert_eq!(env.git(&["rev-parse", "HEAD"]), head);
}
