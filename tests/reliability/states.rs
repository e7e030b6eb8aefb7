//! Repository states: every in-progress operation git knows, detached and unborn HEADs,
//! shallow clones, submodules, linked worktrees, sparse checkouts, very long and non-UTF-8
//! paths, and files that vanish while a snapshot runs. Each gets the documented behaviour
//! (RELIABILITY.md has the table): a real commit only on a feature branch with nothing in
//! progress, otherwise a shadow snapshot that leaves HEAD, the index, every branch and the
//! operation's own state exactly as they were. Never a wrong commit.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::env::{TestEnv, all, assert_exit, stdout};
use crate::support::{self, Rng, assert_fsck_clean, iterations};

/// What a shadow snapshot must never change: HEAD, the index's bytes, every branch and tag,
/// the working tree's status, and git's in-progress state files.
#[derive(Debug, PartialEq, Eq)]
struct Frozen {
    head: String,
    index: Vec<u8>,
    refs: String,
    status: String,
    state_files: Vec<String>,
}

fn git_in(env: &TestEnv, dir: &Path, args: &[&str]) -> String {
    let out = env.git_hooked(dir, args, &[]);
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

fn git_dir(env: &TestEnv, dir: &Path) -> PathBuf {
    PathBuf::from(git_in(env, dir, &["rev-parse", "--absolute-git-dir"]))
}

fn frozen(env: &TestEnv, dir: &Path) -> Frozen {
    let gd = git_dir(env, dir);
    let mut state_files: Vec<String> = [
        "MERGE_HEAD",
        "CHERRY_PICK_HEAD",
        "REVERT_HEAD",
        "BISECT_LOG",
        "rebase-merge",
        "rebase-apply",
        "sequencer",
    ]
    .iter()
    .filter(|f| gd.join(f).exists())
    .map(|f| f.to_string())
    .collect();
    state_files.sort();
    Frozen {
        head: git_in(env, dir, &["rev-parse", "-q", "--verify", "HEAD"]),
        index: std::fs::read(gd.join("index")).unwrap_or_default(),
        refs: git_in(env, dir, &["for-each-ref", "refs/heads", "refs/tags"]),
        status: git_in(
            env,
            dir,
            &["status", "--porcelain=v1", "--untracked-files=all"],
        ),
        state_files,
    }
}

/// `gate snapshot --json` in `dir` (exit 0 required).
#[track_caller]
fn snapshot_in(env: &TestEnv, dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["snapshot", "--json"];
    args.extend_from_slice(extra);
    let out = env.gate_in(dir, &args);
    assert_exit(&out, 0);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", all(&out)))
}

/// Unsaved work is shadowed with `reason` on `refname`, and nothing else moves.
#[track_caller]
fn assert_shadowed(env: &TestEnv, dir: &Path, reason: &str, refname: &str) {
    std::fs::write(dir.join("unsaved.md"), "unsaved work\n").unwrap();
    let before = frozen(env, dir);
    let report = snapshot_in(env, dir, &[]);
    assert_eq!(report["outcome"], "shadowed", "{report:#}");
    assert!(
        report["reason"].as_str().unwrap_or("").contains(reason),
        "reason {:?}, expected {reason:?}",
        report["reason"]
    );
    assert_eq!(report["refname"], refname);
    assert_eq!(
        frozen(env, dir),
        before,
        "a shadow snapshot changed the repository"
    );
    assert_eq!(
        git_in(env, dir, &["show", &format!("{refname}:unsaved.md")]),
        "unsaved work"
    );
    assert_fsck_clean(env);
}

/// Unsaved work becomes a real commit on `branch`; HEAD's tree then holds it.
#[track_caller]
fn assert_committed(env: &TestEnv, dir: &Path, branch: &str) -> serde_json::Value {
    let report = snapshot_in(env, dir, &[]);
    assert_eq!(report["outcome"], "committed", "{report:#}");
    assert_eq!(report["branch"], branch);
    report
}

/// On a complete feature: f.txt differs between the feature branch and `other`.
fn diverged() -> TestEnv {
    let env = support::feature_repo("30m", "60s");
    env.write("f.txt", "base\n");
    env.commit_all("base");
    env.git(&["switch", "-q", "-c", "other"]);
    env.write("f.txt", "other\n");
    env.commit_all("other");
    env.git(&["switch", "-q", "feature/001-reliable"]);
    env.write("f.txt", "mine\n");
    env.commit_all("mine");
    env
}

#[test]
fn a_conflicted_merge_is_shadowed() {
    let env = diverged();
    assert!(!env.git_output(&["merge", "other"]).status.success());
    assert_shadowed(
        &env,
        &env.root,
        "a merge is in progress",
        "refs/gate/snapshots/feature%2F001-reliable",
    );
}

#[test]
fn a_clean_merge_not_yet_committed_is_shadowed() {
    let env = diverged();
    env.git(&["switch", "-q", "-c", "side", "HEAD~1"]);
    env.write("side.txt", "side\n");
    env.commit_all("side");
    env.git(&["switch", "-q", "feature/001-reliable"]);
    env.git(&["merge", "--no-commit", "--no-ff", "side"]);
    assert_shadowed(
        &env,
        &env.root,
        "a merge is in progress",
        "refs/gate/snapshots/feature%2F001-reliable",
    );
}

#[test]
fn an_interactive_rebase_stopped_for_an_edit_is_shadowed() {
    let env = diverged();
    let out = env.git_output(&[
        "-c",
        "sequence.editor=sed -i s/^pick/edit/",
        "rebase",
        "-i",
        "HEAD~1",
    ]);
    assert!(out.status.success(), "{}", all(&out));
    // Detached while the rebase runs: the snapshot is named after no branch.
    assert_shadowed(
        &env,
        &env.root,
        "HEAD is detached",
        "refs/gate/detached/main-worktree",
    );
}

#[test]
fn an_apply_backend_rebase_stopped_on_a_conflict_is_shadowed() {
    let env = diverged();
    assert!(
        !env.git_output(&["rebase", "--apply", "other"])
            .status
            .success()
    );
    assert!(env.root.join(".git/rebase-apply").exists());
    assert_shadowed(
        &env,
        &env.root,
        "HEAD is detached",
        "refs/gate/detached/main-worktree",
    );
}

#[test]
fn am_stopped_on_a_conflict_is_shadowed() {
    let env = diverged();
    let patch = env.git(&["format-patch", "-1", "other", "--stdout"]);
    let file = env.base_dir().join("other.patch");
    std::fs::write(&file, patch + "\n").unwrap();
    let out = env.git_output(&["am", "--3way", file.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", all(&out));
    assert!(env.root.join(".git/rebase-apply/applying").exists());
    assert_shadowed(
        &env,
        &env.root,
        "am (patch application) is in progress",
        "refs/gate/snapshots/feature%2F001-reliable",
    );
}

#[test]
fn a_conflicted_cherry_pick_is_shadowed() {
    let env = diverged();
    assert!(!env.git_output(&["cherry-pick", "other"]).status.success());
    assert_shadowed(
        &env,
        &env.root,
        "a cherry-pick is in progress",
        "refs/gate/snapshots/feature%2F001-reliable",
    );
}

#[test]
fn a_conflicted_revert_is_shadowed() {
    let env = diverged();
    env.write("f.txt", "mine, again\n");
    env.commit_all("mine again");
    assert!(
        !env.git_output(&["revert", "--no-edit", "HEAD~1"])
            .status
            .success()
    );
    assert!(env.root.join(".git/REVERT_HEAD").exists());
    assert_shadowed(
        &env,
        &env.root,
        "a revert is in progress",
        "refs/gate/snapshots/feature%2F001-reliable",
    );
}

#[test]
fn bisect_is_shadowed() {
    let env = diverged();
    env.git(&["bisect", "start", "HEAD", "HEAD~2"]);
    assert_shadowed(
        &env,
        &env.root,
        "HEAD is detached",
        "refs/gate/detached/main-worktree",
    );
    assert!(env.root.join(".git/BISECT_LOG").exists());
}

#[test]
fn a_detached_head_is_shadowed() {
    let env = diverged();
    env.git(&["switch", "-q", "--detach", "HEAD~1"]);
    assert_shadowed(
        &env,
        &env.root,
        "HEAD is detached",
        "refs/gate/detached/main-worktree",
    );
}

#[test]
fn an_unborn_branch_is_shadowed_and_stays_unborn() {
    let env = TestEnv::unborn();
    env.write("first.md", "the very first file\n");
    assert_shadowed(
        &env,
        &env.root,
        "main has no commits yet",
        "refs/gate/snapshots/main",
    );
    assert!(
        !env.git_output(&["rev-parse", "-q", "--verify", "HEAD"])
            .status
            .success()
    );
    assert!(
        !env.root.join(".git/index").exists(),
        "an index was created"
    );
    assert_eq!(
        env.git(&["show", "refs/gate/snapshots/main:first.md"]),
        "the very first file"
    );
}

#[test]
fn a_shallow_clone_commits_on_its_feature_branch() {
    let origin = support::feature_repo("30m", "60s");
    origin.write("history.md", "one\n");
    origin.commit_all("more history");
    let clone = origin.base_dir().join("clone");
    let url = format!("file://{}", origin.root.display());
    origin.git(&[
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "feature/001-reliable",
        &url,
        clone.to_str().unwrap(),
    ]);
    assert_eq!(
        git_in(&origin, &clone, &["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    std::fs::write(clone.join("notes.md"), "written in a shallow clone\n").unwrap();
    assert_committed(&origin, &clone, "feature/001-reliable");
    assert_eq!(
        git_in(&origin, &clone, &["show", "HEAD:notes.md"]),
        "written in a shallow clone"
    );
    assert_eq!(
        git_in(&origin, &clone, &["rev-list", "--count", "HEAD"]),
        "2"
    );
    let fsck = origin.git_hooked(&clone, &["fsck", "--full", "--no-dangling"], &[]);
    assert!(fsck.status.success(), "{}", all(&fsck));
}

/// A superproject on a complete feature with `lib/` a submodule.
fn with_submodule() -> TestEnv {
    let env = support::feature_repo("30m", "60s");
    let sub = env.base_dir().join("sub-origin");
    std::fs::create_dir_all(&sub).unwrap();
    env.git_in(&sub, &["init", "-q", "-b", "main"]);
    std::fs::write(sub.join("lib.txt"), "library\n").unwrap();
    env.git_in(&sub, &["add", "-A"]);
    env.git_in(&sub, &["commit", "-q", "-m", "library"]);
    let url = format!("file://{}", sub.display());
    env.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        &url,
        "lib",
    ]);
    env.commit_all("add the submodule");
    env
}

#[test]
fn a_submodules_work_is_never_committed_by_the_superproject() {
    let env = with_submodule();
    let gitlink = env.git(&["ls-tree", "HEAD", "lib"]);
    // Dirty inside the submodule, a new commit inside it, and work in the superproject.
    std::fs::write(env.path("lib/lib.txt"), "edited inside the submodule\n").unwrap();
    std::fs::write(env.path("lib/new.txt"), "new inside the submodule\n").unwrap();
    env.write("top.md", "superproject work\n");
    assert_committed(&env, &env.root, "feature/001-reliable");
    assert_eq!(env.git(&["show", "HEAD:top.md"]), "superproject work");
    assert_eq!(
        env.git(&["ls-tree", "HEAD", "lib"]),
        gitlink,
        "the gitlink moved"
    );
    // Inside the submodule (detached at the recorded commit) gate preserves the work in the
    // submodule's own repository, as a shadow snapshot.
    let sub = env.path("lib");
    // Detached at the recorded commit, as `git submodule update` leaves it.
    env.git_in(&sub, &["switch", "-q", "--detach"]);
    let before = frozen(&env, &sub);
    let report = snapshot_in(&env, &sub, &[]);
    assert_eq!(report["outcome"], "shadowed", "{report:#}");
    assert_eq!(report["refname"], "refs/gate/detached/main-worktree");
    assert_eq!(frozen(&env, &sub), before);
    assert_eq!(
        git_in(
            &env,
            &sub,
            &["show", "refs/gate/detached/main-worktree:new.txt"]
        ),
        "new inside the submodule"
    );
    // A new commit inside the submodule is not a reason to move the superproject's gitlink.
    env.git_in(&sub, &["add", "-A"]);
    env.git_in(&sub, &["commit", "-q", "-m", "inside"]);
    let report = snapshot_in(&env, &env.root, &[]);
    assert_eq!(report["outcome"], "unchanged", "{report:#}");
    assert_eq!(env.git(&["ls-tree", "HEAD", "lib"]), gitlink);
}

#[test]
fn a_linked_worktree_commits_on_its_own_branch_only() {
    let env = support::feature_repo("30m", "60s");
    env.git(&["switch", "-q", "main"]);
    let wt = env.base_dir().join("wt");
    env.git(&[
        "worktree",
        "add",
        "-q",
        wt.to_str().unwrap(),
        "feature/001-reliable",
    ]);
    std::fs::write(wt.join("in-worktree.md"), "worktree work\n").unwrap();
    let main_before = frozen(&env, &env.root);
    assert_committed(&env, &wt, "feature/001-reliable");
    assert_eq!(
        env.git(&["show", "feature/001-reliable:in-worktree.md"]),
        "worktree work"
    );
    let main_after = frozen(&env, &env.root);
    assert_eq!(
        (main_after.head, main_after.index, main_after.status),
        (main_before.head, main_before.index, main_before.status),
        "the main worktree changed"
    );
    // The main worktree is on main: its work is shadowed through its own index.
    assert_shadowed(
        &env,
        &env.root,
        "main is protected",
        "refs/gate/snapshots/main",
    );
    // One state directory, shared: both decisions are in the same log.
    let log = std::fs::read_to_string(env.root.join(".git/gate/events.jsonl")).unwrap();
    assert!(
        log.contains("\"auto-commit\"") && log.contains("\"snapshot\""),
        "{log}"
    );
}

#[test]
fn a_sparse_checkout_commits_inside_and_outside_the_cone_and_deletes_nothing() {
    let env = support::feature_repo("30m", "60s");
    env.write("in/a.txt", "in\n");
    env.write("out/b.txt", "out\n");
    env.commit_all("two directories");
    env.git(&["sparse-checkout", "set", "in", "specs"]);
    assert!(!env.exists("out/b.txt"));
    env.write("in/a.txt", "edited in the cone\n");
    env.write("out/new.txt", "created outside the cone\n");
    assert_committed(&env, &env.root, "feature/001-reliable");
    assert_eq!(env.git(&["show", "HEAD:in/a.txt"]), "edited in the cone");
    assert_eq!(
        env.git(&["show", "HEAD:out/new.txt"]),
        "created outside the cone"
    );
    assert_eq!(
        env.git(&["show", "HEAD:out/b.txt"]),
        "out",
        "a file outside the cone was deleted"
    );
}

#[test]
fn very_long_and_deep_paths_are_committed() {
    let env = support::feature_repo("30m", "60s");
    let deep: String = (0..40)
        .map(|i| format!("level-{i:02}-abcdefghij/"))
        .collect();
    let name = format!("{}.md", "n".repeat(240));
    let path = format!("{deep}{name}");
    assert!(path.len() > 1000);
    env.write(&path, "deep\n");
    assert_committed(&env, &env.root, "feature/001-reliable");
    assert_eq!(env.git(&["show", &format!("HEAD:{path}")]), "deep");
}

#[test]
fn many_long_paths_changed_at_once_do_not_overflow_gits_command_line() {
    // The watcher hands the paths its file events named to `git status`; hundreds of long
    // paths together exceed the kernel's limit on a command line (2 MB), and the spawn failed
    // with E2BIG ("cannot run git") on every retry: that work was never committed.
    let env = support::feature_repo("300ms", "100ms");
    let dir: String = (0..12)
        .map(|i| format!("d{i:02}-{}/", "x".repeat(240)))
        .collect();
    env.write(
        &format!("{dir}placeholder.txt"),
        "so the directory is watched\n",
    );
    env.commit_all("a deep directory");
    let log = env.base_dir().join("watch.log");
    let mut watcher = support::spawn_watcher(&env, &log);
    assert!(
        support::eventually(Duration::from_secs(10), || {
            stdout(&env.gate(&["watch", "--status", "--json"])).contains("\"mode\": \"events\"")
        }),
        "the watcher did not start"
    );
    // After its start-up scan (a full status), the watcher works from the paths it is told.
    assert!(
        support::eventually(Duration::from_secs(10), || {
            stdout(&env.gate(&["watch", "--status", "--json"])).contains("\"last_decision\": \"")
        }),
        "the watcher made no first decision"
    );
    let count = 700;
    let mut bytes = 0;
    for i in 0..count {
        let rel = format!("{dir}file-{i:04}-{}.txt", "y".repeat(200));
        bytes += rel.len() + 1;
        std::fs::write(env.path(&rel), format!("{i}\n")).unwrap();
    }
    assert!(bytes > 2 * 1024 * 1024, "{bytes} bytes of paths");
    let committed = || {
        env.git(&["ls-tree", "-r", "--name-only", "HEAD", &dir])
            .lines()
            .count()
    };
    let done = support::eventually(Duration::from_secs(30), || committed() == count + 1);
    support::sigkill(&mut watcher);
    let watch_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        done,
        "{} of {count} files committed; watcher log:\n{}",
        committed() - 1,
        watch_log
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn non_utf8_names_are_preserved_byte_exact_by_commits_and_snapshots() {
    let env = support::feature_repo("30m", "60s");
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff.md");
    std::fs::write(env.root.join(name), "latin-1\n").unwrap();
    let only = std::ffi::OsStr::from_bytes(b"only-\xfe.md");
    std::fs::write(env.root.join(only), "named\n").unwrap();
    let mut cmd = env.gate_command(&env.root);
    cmd.args(["snapshot", "--json", "--only"]).arg(only);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    assert!(tree_names(&env, "HEAD").contains(&b"only-\xfe.md".to_vec()));
    assert!(!tree_names(&env, "HEAD").contains(&b"caf\xe9-\xff.md".to_vec()));
    assert_committed(&env, &env.root, "feature/001-reliable");
    assert!(tree_names(&env, "HEAD").contains(&b"caf\xe9-\xff.md".to_vec()));
    // And shadowed on a protected branch.
    env.git(&["switch", "-q", "main"]);
    std::fs::write(
        env.root.join(std::ffi::OsStr::from_bytes(b"\xc0\xc1.md")),
        "x\n",
    )
    .unwrap();
    let report = snapshot_in(&env, &env.root, &[]);
    assert_eq!(report["outcome"], "shadowed");
    assert!(tree_names(&env, "refs/gate/snapshots/main").contains(&b"\xc0\xc1.md".to_vec()));
}

fn tree_names(env: &TestEnv, rev: &str) -> Vec<Vec<u8>> {
    let out = env.git_output(&["ls-tree", "-r", "-z", "--name-only", rev]);
    out.stdout
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn a_file_deleted_with_git_rm_is_committed_as_a_deletion() {
    // Regression: `git add -A -- <path>` refuses a path that is in neither the index nor the
    // working tree, and gate passed it the deletion `git rm` had already staged: every
    // auto-commit after a `git rm` failed until someone committed by hand.
    let env = support::feature_repo("30m", "60s");
    env.write("old.txt", "old\n");
    env.write("keep.txt", "keep\n");
    env.commit_all("files");
    env.git(&["rm", "-q", "old.txt"]);
    env.write("keep.txt", "kept and edited\n");
    assert_committed(&env, &env.root, "feature/001-reliable");
    assert_eq!(env.git(&["ls-tree", "--name-only", "HEAD", "old.txt"]), "");
    assert_eq!(env.git(&["show", "HEAD:keep.txt"]), "kept and edited");
    // The same on a protected branch, through the shadow index.
    env.git(&["switch", "-q", "main"]);
    env.git(&["rm", "-q", "README.md"]);
    let report = snapshot_in(&env, &env.root, &[]);
    assert_eq!(report["outcome"], "shadowed", "{report:#}");
    assert_eq!(
        env.git(&[
            "ls-tree",
            "--name-only",
            "refs/gate/snapshots/main",
            "README.md"
        ]),
        ""
    );
}

#[test]
fn files_that_vanish_while_a_snapshot_runs_never_make_a_wrong_commit() {
    let env = support::feature_repo("30m", "60s");
    let mut rng = Rng::new("files_that_vanish_while_a_snapshot_runs_never_make_a_wrong_commit");
    let rounds = iterations(12, 80);
    let (mut ok, mut retried) = (0, 0);
    for round in 0..rounds {
        let mut files = Vec::new();
        for i in 0..120 {
            let rel = format!("tmp/r{round}/x{i:03}.txt");
            let text = format!("round {round} file {i}\n");
            env.write(&rel, &text);
            files.push((rel, text));
        }
        // Half tracked (so their deletion is a change too), half new.
        if round % 2 == 0 {
            env.commit_all("tracked");
        }
        let shadow = rng.chance(30);
        let mut cmd = env.gate_command(&env.root);
        cmd.arg("snapshot");
        if shadow {
            cmd.arg("--shadow");
        }
        let child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Delete files while it scans, stages and commits.
        let delay = rng.below(40);
        std::thread::sleep(Duration::from_millis(delay));
        for (rel, _) in &files {
            if rng.chance(60) {
                let _ = std::fs::remove_file(env.path(rel));
            }
        }
        let out = child.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => ok += 1,
            Some(1) if stdout(&out).contains("not now") => retried += 1,
            _ => panic!("round {round}: {:?}\n{}", out.status, all(&out)),
        }
        // Whatever got committed is exactly what was written: never torn, never mixed up.
        let rev = if shadow {
            "refs/gate/snapshots/feature%2F001-reliable"
        } else {
            "HEAD"
        };
        let paths: Vec<&String> = files.iter().map(|(p, _)| p).collect();
        for ((rel, text), got) in files.iter().zip(support::blobs(&env, rev, &paths)) {
            if let Some(bytes) = got {
                assert_eq!(bytes, text.as_bytes(), "{rev}:{rel}");
            }
        }
    }
    // Once things are still, everything that survived is committed and nothing else.
    support::recover(&env);
    assert_eq!(
        env.git(&["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    assert_fsck_clean(&env);
    eprintln!("vanishing files: {rounds} rounds, {ok} snapshots done, {retried} told to retry");
}
