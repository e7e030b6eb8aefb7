//! Never lose work: one test per way the snapshot engine lost or blocked work before
//! (issue 10), each against a real repository in the state a user or agent puts it in.

use std::process::Output;

use crate::env::{TestEnv, all, assert_contains, assert_exit, stdout};

const SNAP: &str = "refs/gate/snapshots/main";

fn snapshot(env: &TestEnv, args: &[&str]) -> Output {
    let mut full = vec!["snapshot"];
    full.extend_from_slice(args);
    env.gate(&full)
}

/// Every blob reachable from any ref (branches, tags, `refs/gate/*`, the stash).
fn reachable_blobs(env: &TestEnv) -> String {
    env.git(&["rev-list", "--objects", "--all"])
}

fn blob_of(env: &TestEnv, text: &str) -> String {
    let path = env.base_dir().join("blob-probe");
    std::fs::write(&path, text).unwrap();
    env.git(&["hash-object", "--no-filters", path.to_str().unwrap()])
}

#[track_caller]
fn assert_reachable(env: &TestEnv, text: &str) {
    let id = blob_of(env, text);
    assert!(
        reachable_blobs(env).lines().any(|l| l.starts_with(&id)),
        "the version {text:?} ({id}) is on no ref"
    );
}

fn index_bytes(env: &TestEnv, rel_index: &str) -> Vec<u8> {
    std::fs::read(env.root.join(rel_index)).unwrap_or_default()
}

/// On a feature branch whose spec gate passed, everything committed.
fn on_complete_feature() -> TestEnv {
    let env = TestEnv::new();
    env.complete_feature("Preserve");
    env.commit_all("spec, plan, tasks");
    env
}

#[test]
fn a_later_snapshot_keeps_everything_earlier_snapshots_preserved() {
    let env = TestEnv::new();
    env.write("README.md", "edited once\n");
    env.write("c.txt", "a new file\n");
    assert_exit(&snapshot(&env, &[]), 0);
    // The new file goes away again; a second, path-limited snapshot (as the watcher takes
    // them) names only b.txt.
    std::fs::remove_file(env.path("c.txt")).unwrap();
    env.write("b.txt", "second\n");
    assert_exit(&snapshot(&env, &["--only", "b.txt"]), 0);
    assert_eq!(
        env.git(&["show", &format!("{SNAP}:README.md")]),
        "edited once"
    );
    assert_eq!(env.git(&["show", &format!("{SNAP}:b.txt")]), "second");
    assert_eq!(env.git(&["show", &format!("{SNAP}:c.txt")]), "a new file");
    // And restoring the latest snapshot brings README.md's edit back, not the old text.
    env.git(&["checkout", "--", "README.md"]);
    let out = env.gate(&["restore", "README.md"]);
    assert_exit(&out, 0);
    assert_eq!(env.read("README.md"), "edited once\n");
}

#[test]
fn a_deliberately_staged_version_is_never_replaced() {
    let env = on_complete_feature();
    env.write("src/a.rs", "version A\n");
    env.git(&["add", "src/a.rs"]);
    env.write("src/a.rs", "version B\n");
    env.write("src/other.rs", "other\n");
    let before = index_bytes(&env, ".git/index");
    let head = env.git(&["rev-parse", "HEAD"]);
    // The watcher's way: the edit after the staging is an event for src/a.rs ...
    let out = snapshot(&env, &["--only", "src/a.rs"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["partial staging", "preserved"]);
    assert_eq!(
        index_bytes(&env, ".git/index"),
        before,
        "the user's index changed"
    );
    // ... and a later batch that names only another file still leaves the staging alone.
    let out = snapshot(&env, &["--only", "src/other.rs"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["partial staging", "preserved"]);
    assert_eq!(
        index_bytes(&env, ".git/index"),
        before,
        "the user's index changed"
    );
    assert_eq!(
        env.git(&["rev-parse", "HEAD"]),
        head,
        "a commit was made over the staging"
    );
    assert_eq!(env.git(&["show", ":src/a.rs"]), "version A");
    assert_reachable(&env, "version A\n");
    assert_reachable(&env, "version B\n");
    let listed = stdout(&env.gate(&["snapshots"]));
    assert_contains(&listed, &["staged versions are kept", "partial staging"]);
    // A full snapshot makes the same choice.
    let out = snapshot(&env, &[]);
    assert_exit(&out, 0);
    assert_eq!(index_bytes(&env, ".git/index"), before);
}

#[test]
fn work_shadowed_before_the_spec_gate_reaches_the_branch_once_it_passes() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["specify", "Late gate"]), 0);
    env.commit_all("spec template");
    env.write("src/early.rs", "written before the spec was done\n");
    let out = snapshot(&env, &["--only", "src/early.rs"]);
    assert_contains(&stdout(&out), &["preserved"]);
    env.complete_feature_on_branch();
    env.commit_all("spec, plan, tasks done");
    // The next event names some other file; the shadowed one still comes along.
    env.write("notes.md", "n\n");
    let out = snapshot(&env, &["--only", "notes.md"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["committed"]);
    assert_eq!(
        env.git(&["show", "HEAD:src/early.rs"]),
        "written before the spec was done"
    );
}

#[test]
fn a_tracked_file_inside_an_ignored_directory_is_committed_not_refused() {
    let env = on_complete_feature();
    env.write(".gitignore", "build/\n");
    env.write("build/keep.txt", "v1\n");
    env.git(&["add", "-f", ".gitignore", "build/keep.txt"]);
    env.git(&["commit", "-qm", "tracked despite the ignore rule"]);
    env.write("build/keep.txt", "v2\n");
    env.write("src/a.rs", "a\n");
    let out = snapshot(&env, &["--only", "build/keep.txt", "src/a.rs"]);
    assert_exit(&out, 0);
    assert_eq!(env.git(&["show", "HEAD:build/keep.txt"]), "v2");
    assert_eq!(env.git(&["show", "HEAD:src/a.rs"]), "a");
}

#[test]
fn a_file_git_refuses_is_preserved_aside_and_blocks_nothing() {
    let env = on_complete_feature();
    env.git(&["config", "core.autocrlf", "input"]);
    env.git(&["config", "core.safecrlf", "true"]);
    env.write_bytes("mixed.txt", b"one\r\ntwo\n");
    env.write("src/b.rs", "b\n");
    let before_status = env.git(&["status", "--porcelain"]);
    let out = snapshot(&env, &[]);
    assert_exit(&out, 0);
    let text = all(&out);
    assert_contains(
        &text,
        &["committed", "skipped mixed.txt", "git refuses to stage it"],
    );
    assert_eq!(env.git(&["show", "HEAD:src/b.rs"]), "b");
    // Its bytes are kept exactly, on the snapshot ref.
    let refname = "refs/gate/snapshots/feature%2F001-preserve";
    let raw = env.git_output(&["cat-file", "blob", &format!("{refname}:mixed.txt")]);
    assert_eq!(raw.stdout, b"one\r\ntwo\n");
    // Nothing is left half-staged: mixed.txt is as untracked as before.
    let after = env.git(&["status", "--porcelain"]);
    assert!(
        after.contains("?? mixed.txt"),
        "{after}\nbefore:\n{before_status}"
    );
    // And the next attempt does not fail or loop on it.
    let again = snapshot(&env, &[]);
    assert_exit(&again, 0);
}

#[test]
fn conflicts_left_by_a_stash_pop_do_not_hide_new_work() {
    let env = on_complete_feature();
    env.write("f.txt", "base\n");
    env.commit_all("f");
    env.write("f.txt", "stashed\n");
    env.git(&["stash", "push", "-q"]);
    env.write("f.txt", "committed\n");
    env.commit_all("f changed");
    let pop = env.git_output(&["stash", "pop"]);
    assert!(!pop.status.success(), "the pop should conflict");
    env.write("src/new.rs", "new work\n");
    let out = snapshot(&env, &["--only", "src/new.rs"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert_contains(&text, &["preserved", "conflicts"]);
    let refname = "refs/gate/snapshots/feature%2F001-preserve";
    assert_eq!(
        env.git(&["show", &format!("{refname}:src/new.rs")]),
        "new work"
    );
    assert!(
        env.git(&["show", &format!("{refname}:f.txt")])
            .contains("<<<<<<<")
    );
    // The conflict is still the user's to resolve.
    assert!(env.git(&["ls-files", "-u"]).contains("f.txt"));
}

#[test]
fn snapshot_only_resolves_paths_from_the_current_directory_like_git() {
    let env = on_complete_feature();
    env.write("src/lib.rs", "lib\n");
    let out = env.gate_in(&env.path("src"), &["snapshot", "--only", "lib.rs"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["committed"]);
    assert_eq!(env.git(&["show", "HEAD:src/lib.rs"]), "lib");
    let out = env.gate_in(&env.path("src"), &["snapshot", "--only", "../../elsewhere"]);
    assert_exit(&out, 2);
    assert_contains(&all(&out), &["not a path inside the repository"]);
}

#[test]
fn snapshot_refs_never_collide_as_file_and_directory() {
    let env = TestEnv::new();
    env.write(
        ".gate.toml",
        "[branches]\nprotected = [\"main\", \"a\", \"a/b\", \"detached\"]\n",
    );
    env.commit_all("config");
    for branch in ["a", "a/b", "detached"] {
        env.git(&["checkout", "-q", "-B", branch, "main"]);
        if branch == "a" {
            env.write("x.txt", "on a\n");
            assert_exit(&snapshot(&env, &[]), 0);
            env.git(&["checkout", "-q", "main"]);
            env.git(&["branch", "-q", "-D", "a"]);
            env.git(&["checkout", "-q", "-B", "a/b", "main"]);
        }
        env.write("x.txt", &format!("on {branch}\n"));
        let out = snapshot(&env, &[]);
        assert_exit(&out, 0);
        assert_contains(&stdout(&out), &["preserved"]);
    }
    env.git(&["checkout", "-q", "--detach", "main"]);
    env.write("y.txt", "detached\n");
    assert_exit(&snapshot(&env, &[]), 0);
    let refs = env.git(&["for-each-ref", "--format=%(refname)", "refs/gate/"]);
    assert_contains(
        &refs,
        &[
            "refs/gate/snapshots/a\n",
            "refs/gate/snapshots/a%2Fb",
            "refs/gate/snapshots/detached",
            "refs/gate/detached/main-worktree",
        ],
    );
}

#[test]
fn a_file_over_the_size_limit_is_named_with_the_key_to_change() {
    let env = on_complete_feature();
    env.write(
        ".gate.toml",
        "[commit]\nmax_file_size = \"10B\"\ninterval = \"1s\"\n",
    );
    env.commit_all("small limit");
    env.write("big.bin", "more than ten bytes\n");
    let out = snapshot(&env, &[]);
    assert_contains(&all(&out), &["skipped big.bin", "commit.max_file_size"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let status = env.gate(&["status"]);
    let text = all(&status);
    assert_contains(&text, &["big.bin", "commit.max_file_size"]);
    assert!(!text.contains("fix: gate snapshot"), "{text}");
}

#[test]
fn a_reftable_repository_gets_a_clear_refusal() {
    let env = TestEnv::plain();
    let made = env.git_output(&["init", "-q", "--ref-format=reftable", "-b", "main"]);
    if !made.status.success() {
        eprintln!("this git cannot make reftable repositories: skipped");
        return;
    }
    let out = env.gate(&["snapshot"]);
    assert_exit(&out, 2);
    assert_contains(&all(&out), &["reftable", "git refs migrate"]);
}

#[test]
fn unusual_index_formats_commit_correctly() {
    for settings in [
        &[("index.version", "4")][..],
        &[("core.splitIndex", "true")],
        &[("core.untrackedCache", "true")],
        &[("feature.manyFiles", "true")],
        &[("index.skipHash", "true")],
    ] {
        let env = on_complete_feature();
        for (k, v) in settings {
            env.git(&["config", k, v]);
        }
        env.git(&["update-index", "--really-refresh"]);
        env.write("src/a.rs", "a\n");
        env.write("src/b.rs", "b\n");
        let out = snapshot(&env, &["--only", "src/a.rs"]);
        assert_exit(&out, 0);
        let out = snapshot(&env, &[]);
        assert_exit(&out, 0);
        assert_eq!(env.git(&["show", "HEAD:src/a.rs"]), "a", "{settings:?}");
        assert_eq!(env.git(&["show", "HEAD:src/b.rs"]), "b", "{settings:?}");
        assert_eq!(env.git(&["status", "--porcelain"]), "", "{settings:?}");
        env.git(&["fsck", "--full", "--no-progress"]);
    }
}

#[test]
fn a_burst_of_new_files_is_committed_in_one_pass() {
    let env = on_complete_feature();
    let mut names = Vec::new();
    for i in 0..3000 {
        let name = format!("src/gen/f{i:05}.rs");
        env.write(&name, &format!("{i}\n"));
        names.push(name);
    }
    let mut args = vec!["--only"];
    args.extend(names.iter().map(String::as_str));
    let started = std::time::Instant::now();
    let out = snapshot(&env, &args);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["committed", "3000 added"]);
    // Not a benchmark (bench/watch.sh is), only a guard against the quadratic staging that
    // took minutes: 3000 files must not take more than a few seconds even in a debug build.
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert_eq!(env.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_commit_that_loses_the_race_leaves_the_index_alone() {
    let env = on_complete_feature();
    env.write("src/a.rs", "a\n");
    // The branch moves between gate's read and its compare-and-swap: simulated by a ref
    // lock held on the branch, which makes update-ref fail as a race does.
    let lock = env.path(".git/refs/heads/feature/001-preserve.lock");
    std::fs::write(&lock, "").unwrap();
    let before = index_bytes(&env, ".git/index");
    let out = snapshot(&env, &[]);
    std::fs::remove_file(&lock).unwrap();
    assert_exit(&out, 1);
    assert_contains(&stdout(&out), &["not now"]);
    assert_eq!(
        index_bytes(&env, ".git/index"),
        before,
        "the index was staged without a commit"
    );
    let out = snapshot(&env, &[]);
    assert_exit(&out, 0);
    assert_eq!(env.git(&["status", "--porcelain"]), "");
}

#[test]
fn snapshots_lists_and_restore_brings_work_back_without_touching_the_index() {
    let env = TestEnv::new();
    env.write("README.md", "mine\n");
    env.write("new.txt", "fresh\n");
    assert_exit(&snapshot(&env, &[]), 0);
    let json: serde_json::Value =
        serde_json::from_slice(&env.gate(&["snapshots", "--json"]).stdout).unwrap();
    let chain = &json[0];
    assert_eq!(chain["label"], "main");
    assert_eq!(chain["pending"], true);
    let files = chain["snapshots"][0]["files"].to_string();
    assert_contains(&files, &["M README.md", "A new.txt"]);
    // The user throws the work away, then wants it back.
    env.git(&["checkout", "--", "README.md"]);
    std::fs::remove_file(env.path("new.txt")).unwrap();
    let index = index_bytes(&env, ".git/index");
    let out = env.gate(&["restore"]);
    assert_exit(&out, 0);
    assert_eq!(env.read("README.md"), "mine\n");
    assert_eq!(env.read("new.txt"), "fresh\n");
    assert_eq!(
        index_bytes(&env, ".git/index"),
        index,
        "restore staged something"
    );
    // New uncommitted changes are not overwritten ...
    env.write("README.md", "newer\n");
    let out = env.gate(&["restore", "main", "README.md"]);
    assert_exit(&out, 1);
    assert_contains(&stdout(&out), &["not restored", "README.md", "--force"]);
    assert_eq!(env.read("README.md"), "newer\n");
    // ... unless forced, and then they are snapshotted first.
    let out = env.gate(&["restore", "--force", "README.md"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["snapshotted first"]);
    assert_eq!(env.read("README.md"), "mine\n");
    assert_reachable(&env, "newer\n");
    // Unknown names are usage errors.
    assert_exit(&env.gate(&["restore", "no-such-file.txt"]), 2);
}

#[test]
fn pruning_is_explicit_logged_and_keeps_pending_work() {
    let env = TestEnv::new();
    env.write(".gate.toml", "[snapshot]\nkeep = \"1s\"\n");
    env.commit_all("short keep");
    env.write("a.txt", "pending\n");
    assert_exit(&snapshot(&env, &[]), 0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = env.gate(&["snapshots", "--prune"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["nothing to prune"]);
    // Once the work is in a real commit, the old chain may go.
    env.commit_all("a, by hand");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = env.gate(&["snapshots", "--prune"]);
    assert_contains(&stdout(&out), &["removed refs/gate/snapshots/main"]);
    assert_contains(&stdout(&env.gate(&["log"])), &["snapshot-pruned"]);
}

/// Runs `gate args` and fails the test if it has not finished within `secs`.
fn gate_within(env: &TestEnv, args: &[&str], secs: u64) -> Output {
    let mut child = env
        .gate_command(&env.root)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start gate");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("gate {args:?} hung on a state file that is not a plain file");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn state_files_that_are_fifos_directories_or_garbage_never_hang_a_command() {
    for (kind, name) in [
        ("fifo", "watch.json"),
        ("fifo", "watch.lock"),
        ("fifo", "events.jsonl"),
        ("fifo", "schedule.json"),
        ("dir", "watch.json"),
        ("dir", "events.jsonl"),
        ("garbage", "watch.json"),
        ("garbage", "schedule.json"),
    ] {
        let env = TestEnv::new();
        let state = env.root.join(".git/gate");
        std::fs::create_dir_all(&state).unwrap();
        let path = state.join(name);
        match kind {
            "fifo" => {
                let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            }
            "dir" => std::fs::create_dir(&path).unwrap(),
            _ => std::fs::write(&path, b"\x00\xff{{{ not json").unwrap(),
        }
        for args in [
            &["status"][..],
            &["watch", "--status"],
            &["log"],
            &["status", "--json"],
        ] {
            let out = gate_within(&env, args, 10);
            let text = all(&out);
            assert!(!text.contains("panicked"), "{kind} {name} {args:?}: {text}");
            if kind != "garbage" && name == "events.jsonl" && args == ["log"] {
                assert_contains(&text, &["events.jsonl", "not a regular file"]);
            }
        }
    }
}

#[test]
fn restore_handles_odd_names_a_held_lock_and_a_detached_head() {
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::new();
    let odd = env
        .root
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9 menu.txt"));
    std::fs::write(&odd, "latin-1 name\n").unwrap();
    env.write("dir/with space/x.md", "spaced\n");
    assert_exit(&snapshot(&env, &[]), 0);
    std::fs::remove_file(&odd).unwrap();
    std::fs::remove_dir_all(env.path("dir")).unwrap();
    // Someone's git holds the index: restore writes only the working tree, so it goes on.
    let lock = env.path(".git/index.lock");
    std::fs::write(&lock, "held").unwrap();
    let out = env.gate(&["restore"]);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), "held");
    std::fs::remove_file(&lock).unwrap();
    assert_eq!(env.read("dir/with space/x.md"), "spaced\n");
    assert_eq!(std::fs::read_to_string(&odd).unwrap(), "latin-1 name\n");
    // Detached: its own snapshot ref, restorable by name.
    env.git(&["checkout", "-q", "--detach"]);
    env.write("d.txt", "detached work\n");
    assert_exit(&snapshot(&env, &[]), 0);
    std::fs::remove_file(env.path("d.txt")).unwrap();
    assert_exit(
        &env.gate(&["restore", "refs/gate/detached/main-worktree", "d.txt"]),
        0,
    );
    assert_eq!(env.read("d.txt"), "detached work\n");
}

#[test]
fn twenty_snapshots_at_once_leave_the_index_in_step_with_the_branch() {
    let env = on_complete_feature();
    for i in 0..20 {
        env.write(&format!("src/f{i}.rs"), &format!("{i}\n"));
    }
    let children: Vec<_> = (0..20)
        .map(|_| {
            env.gate_command(&env.root)
                .arg("snapshot")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_ne!(
            out.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_exit(&snapshot(&env, &[]), 0);
    // Every file committed, nothing staged against HEAD, nothing left behind.
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    for i in 0..20 {
        assert_eq!(
            env.git(&["show", &format!("HEAD:src/f{i}.rs")]),
            i.to_string()
        );
    }
}

#[test]
fn a_file_the_user_untracked_stays_untracked() {
    let env = on_complete_feature();
    env.write("secrets.env", "TOKEN=1\n");
    env.commit_all("oops, committed a secret");
    env.write(".gitignore", "secrets.env\n");
    env.git(&["rm", "-q", "--cached", "secrets.env"]);
    env.write("src/a.rs", "a\n");
    let out = snapshot(&env, &[]);
    assert_exit(&out, 0);
    let tree = env.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(
        !tree.contains("secrets.env"),
        "the untracked file was re-added:\n{tree}"
    );
    assert!(tree.contains("src/a.rs"));
    assert_eq!(env.read("secrets.env"), "TOKEN=1\n");
}

#[test]
fn restore_never_destroys_what_git_status_does_not_show() {
    let env = TestEnv::new();
    env.write("notes/a.md", "a\n");
    env.write("hidden.md", "v1\n");
    env.commit_all("tracked");
    env.write("notes/a.md", "snapshotted\n");
    env.write("hidden.md", "snapshotted\n");
    env.write("link-target.md", "t\n");
    std::os::unix::fs::symlink("link-target.md", env.path("link")).unwrap();
    assert_exit(&snapshot(&env, &[]), 0);
    // An edit git status does not show (skip-worktree), and untracked files where the
    // snapshot has a file.
    env.git(&["update-index", "--skip-worktree", "hidden.md"]);
    env.write("hidden.md", "my hidden edit\n");
    std::fs::remove_file(env.path("notes/a.md")).unwrap();
    env.write("notes/a.md/inside.txt", "untracked work in the way\n");
    let out = env.gate(&["restore"]);
    assert_exit(&out, 1);
    assert_contains(&stdout(&out), &["hidden.md", "notes/a.md"]);
    assert_eq!(env.read("hidden.md"), "my hidden edit\n");
    assert_eq!(
        env.read("notes/a.md/inside.txt"),
        "untracked work in the way\n"
    );
    // An unchanged symlink is not a conflict.
    let out = env.gate(&["restore", "link"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["already matches"]);
}

#[test]
fn restore_never_writes_through_a_symlink_out_of_the_repository() {
    let env = TestEnv::new();
    env.write("dir/f.txt", "in the repo\n");
    assert_exit(&snapshot(&env, &[]), 0);
    let outside = env.base_dir().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("f.txt"), "outside the repo\n").unwrap();
    std::fs::remove_dir_all(env.path("dir")).unwrap();
    std::os::unix::fs::symlink(&outside, env.path("dir")).unwrap();
    let out = env.gate(&["restore", "--force"]);
    assert_ne!(out.status.code(), Some(0), "{}", all(&out));
    assert_eq!(
        std::fs::read_to_string(outside.join("f.txt")).unwrap(),
        "outside the repo\n"
    );
}

#[test]
fn prune_keeps_work_that_no_commit_has_even_when_the_branch_moved_on() {
    let env = TestEnv::new();
    env.write(".gate.toml", "[snapshot]\nkeep = \"1s\"\n");
    env.commit_all("short keep");
    env.write("lost-unless-kept.txt", "only in the snapshot\n");
    assert_exit(&snapshot(&env, &[]), 0);
    // The user throws the work away and commits something else: the branch moved on.
    std::fs::remove_file(env.path("lost-unless-kept.txt")).unwrap();
    env.write("hotfix.txt", "fix\n");
    env.commit_all("hotfix");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = env.gate(&["snapshots", "--prune"]);
    assert_contains(&stdout(&out), &["nothing to prune"]);
    assert_reachable(&env, "only in the snapshot\n");
}

#[test]
fn a_modify_delete_conflict_keeps_the_working_tree_file_in_the_snapshot() {
    let env = TestEnv::new();
    env.write("f.txt", "base\n");
    env.commit_all("f");
    env.git(&["checkout", "-q", "-b", "other"]);
    env.write("f.txt", "changed on other\n");
    env.commit_all("change f");
    env.git(&["checkout", "-q", "main"]);
    std::fs::remove_file(env.path("f.txt")).unwrap();
    env.commit_all("delete f");
    let merge = env.git_output(&["merge", "-q", "--no-edit", "other"]);
    assert!(!merge.status.success(), "expected a modify/delete conflict");
    // The index says "deleted by us"; the file is in the working tree: it must be preserved.
    let out = snapshot(&env, &[]);
    assert_exit(&out, 0);
    assert_eq!(
        env.git(&["show", &format!("{SNAP}:f.txt")]),
        "changed on other"
    );
}

#[test]
fn a_separate_git_dir_layout_is_worked_on_in_its_own_tree() {
    let env = TestEnv::plain();
    let gitdir = env.base_dir().join("elsewhere.git");
    env.git(&[
        "init",
        "-q",
        "-b",
        "main",
        "--separate-git-dir",
        gitdir.to_str().unwrap(),
    ]);
    env.write("a.txt", "a\n");
    env.commit_all("first");
    assert_exit(&env.gate(&["init", "--no-hooks"]), 0);
    assert!(
        env.exists(".gate.toml"),
        "the config went outside the working tree"
    );
    assert!(!env.base_dir().join(".gate.toml").exists());
    env.write("b.txt", "b\n");
    assert_exit(&snapshot(&env, &[]), 0);
    assert_eq!(env.git(&["show", &format!("{SNAP}:b.txt")]), "b");
}
