//! One watcher for every worktree, as a real process on real linked worktrees: worktrees
//! present at start, added, removed and nested while it runs; a worktree with a broken config;
//! two worktrees on one branch.

use std::time::Duration;

use crate::env::{assert_contains, assert_exit, stdout};
use crate::watch::{
    Watcher, fast_repo, roots, settled, status_in, subjects, subjects_in, wait_for,
};

/// Regression: the watcher watched only its own checkout, and `gate watch --daemon` in a linked
/// worktree said "already running" while nothing there was ever committed.
#[test]
fn one_watcher_covers_every_worktree_including_ones_added_while_it_runs() {
    let env = fast_repo("1s", "300ms");
    let out = env.gate(&["specify", "Alpha", "--worktree"]);
    assert_exit(&out, 0);
    let alpha = env.base_dir().join("repo-worktrees/002-alpha");
    assert!(
        alpha.join("specs/002-alpha/spec.md").is_file(),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        env.branch(),
        "feature/001-watched",
        "specify --worktree switched this checkout"
    );
    // Started from the linked worktree, it still covers the main checkout.
    let w = Watcher::start_in(&env, &alpha, &[]);
    let daemon = env.gate_in(&alpha, &["watch", "--daemon"]);
    assert_contains(
        &stdout(&daemon),
        &["already running", "it covers this worktree", "002-alpha"],
    );
    env.write("main-notes.md", "main\n");
    std::fs::write(alpha.join("alpha-notes.md"), "alpha\n").unwrap();
    wait_for("commits in both worktrees", Duration::from_secs(15), || {
        subjects(&env).contains("main-notes.md")
            && subjects_in(&env, &alpha).contains("alpha-notes.md")
    });
    assert_eq!(
        env.git_in(&alpha, &["branch", "--show-current"]),
        "feature/002-alpha"
    );
    assert!(!subjects(&env).contains("alpha-notes.md"));

    // A worktree added while the watcher runs is picked up.
    let late = env.base_dir().join("late");
    env.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "feature/003-late",
        late.to_str().unwrap(),
    ]);
    wait_for(
        "the new worktree in the status",
        Duration::from_secs(10),
        || roots(&status_in(&env, &late)).len() == 3,
    );
    std::fs::write(late.join("late-notes.md"), "late\n").unwrap();
    wait_for(
        "a commit in the new worktree",
        Duration::from_secs(15),
        || subjects_in(&env, &late).contains("late-notes.md"),
    );
    let status = status_in(&env, &late);
    assert_eq!(status["covers_here"], true, "{status:#}");
    let mut listed = roots(&status);
    assert_eq!(
        listed.remove(0),
        env.root.display().to_string(),
        "main first"
    );
    listed.sort();
    assert_eq!(
        listed,
        [late.display().to_string(), alpha.display().to_string()]
    );
    // One inotify instance for all worktrees (plus the common refs and the schedule): the
    // kernel's default is 128 per user, shared with every other program.
    let instances = std::fs::read_dir(format!("/proc/{}/fd", w.child.id()))
        .unwrap()
        .flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy().contains("inotify"))
        })
        .count();
    assert_eq!(instances, 3, "inotify instances for 3 worktrees");
    let text = stdout(&env.gate_in(&late, &["watch", "--status"]));
    assert_contains(
        &text,
        &["3 worktree(s)", "feature/003-late", "feature/002-alpha"],
    );

    // And one removed is dropped.
    env.git(&["worktree", "remove", "--force", late.to_str().unwrap()]);
    wait_for(
        "the removed worktree to leave the status",
        Duration::from_secs(10),
        || roots(&status_in(&env, &env.root)).len() == 2,
    );
    let (code, log) = w.stop();
    assert_eq!(code, Some(0), "{log}");
    assert_contains(&log, &["new worktree", "is gone: no longer watched"]);
}

/// A worktree whose `.gate.toml` is broken when the watcher starts has no last good config to
/// keep: its work is preserved as snapshots, never committed, until the file is fixed.
#[test]
fn a_worktree_with_a_broken_config_at_start_is_only_snapshotted() {
    let env = fast_repo("1s", "300ms");
    let wt = env.base_dir().join("wt");
    env.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "feature/002-wt",
        wt.to_str().unwrap(),
    ]);
    std::fs::write(wt.join(".gate.toml"), "[commit\n").unwrap();
    let w = Watcher::start(&env, &[]);
    std::fs::write(wt.join("notes.md"), "notes\n").unwrap();
    wait_for(
        "a snapshot in the broken worktree",
        Duration::from_secs(15),
        || env.git(&["for-each-ref", "refs/gate/"]).contains("002-wt"),
    );
    assert!(
        !subjects_in(&env, &wt).contains("notes.md"),
        "committed under no config"
    );
    std::fs::write(
        wt.join(".gate.toml"),
        "[commit]\ninterval = \"1s\"\nquiet = \"300ms\"\n",
    )
    .unwrap();
    std::fs::write(wt.join("notes.md"), "notes, again\n").unwrap();
    wait_for(
        "a real commit once the config is fixed",
        Duration::from_secs(15),
        || subjects_in(&env, &wt).contains("notes.md"),
    );
    let (_, log) = w.stop();
    assert_contains(
        &log,
        &["only preserved as snapshots", "reloaded .gate.toml"],
    );
}

/// Two worktrees on one branch (`git worktree add --force`): a real commit from one would look
/// like an undo in the other, which its next auto-commit would commit. Both only snapshot.
#[test]
fn two_worktrees_on_one_branch_are_only_snapshotted() {
    let env = fast_repo("1s", "300ms");
    let twin = env.base_dir().join("twin");
    let branch = env.branch();
    env.git(&[
        "worktree",
        "add",
        "-q",
        "--force",
        twin.to_str().unwrap(),
        &branch,
    ]);
    let tip = env.git(&["rev-parse", "HEAD"]);
    let w = Watcher::start(&env, &[]);
    env.write("here.md", "here\n");
    std::fs::write(twin.join("there.md"), "there\n").unwrap();
    wait_for("snapshots in both", Duration::from_secs(15), || {
        let log = std::fs::read_to_string(env.path(".git/gate/events.jsonl")).unwrap_or_default();
        log.matches("\"kind\":\"snapshot\"").count() >= 2
    });
    assert_eq!(
        env.git(&["rev-parse", &branch]),
        tip,
        "the shared branch moved"
    );
    let (_, log) = w.stop();
    assert_contains(
        &log,
        &["is also checked out in", "only preserved as snapshots"],
    );
}

/// A worktree inside the main checkout (not ignored), added while the watcher runs: its edits
/// are its own (committed on its branch), the main checkout's stay the main checkout's.
#[test]
fn a_worktree_nested_in_the_main_checkout_is_watched_as_its_own() {
    let env = fast_repo("1s", "300ms");
    let w = Watcher::start(&env, &[]);
    settled(&env);
    env.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "feature/002-nested",
        ".wt/nested",
    ]);
    let nested = env.path(".wt/nested");
    wait_for(
        "the nested worktree in the status",
        Duration::from_secs(10),
        || roots(&status_in(&env, &env.root)).len() == 2,
    );
    std::fs::write(nested.join("inner.md"), "inner\n").unwrap();
    env.write("outer.md", "outer\n");
    wait_for("both commits", Duration::from_secs(15), || {
        subjects_in(&env, &nested).contains("inner.md") && subjects(&env).contains("outer.md")
    });
    assert_eq!(
        env.git(&["ls-files", ".wt"]),
        "",
        "the main checkout committed the nested worktree"
    );
    std::fs::write(nested.join("inner.md"), "inner, edited\n").unwrap();
    wait_for("the nested edit committed", Duration::from_secs(15), || {
        env.git_in(&nested, &["show", "HEAD:inner.md"]) == "inner, edited"
    });
    drop(w);
}

/// A daemon started from a linked worktree outlives that worktree: it runs in the main
/// checkout, and goes on committing there after the worktree is removed.
#[test]
fn a_daemon_started_in_a_worktree_survives_its_removal() {
    let env = fast_repo("1s", "300ms");
    let linked = env.base_dir().join("linked");
    env.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "feature/002-l",
        linked.to_str().unwrap(),
    ]);
    assert_exit(&env.gate_in(&linked, &["watch", "--daemon"]), 0);
    env.git(&["worktree", "remove", "--force", linked.to_str().unwrap()]);
    wait_for("the removal seen", Duration::from_secs(10), || {
        roots(&status_in(&env, &env.root)).len() == 1
    });
    env.write("after.md", "after\n");
    wait_for(
        "a commit in the main checkout",
        Duration::from_secs(15),
        || subjects(&env).contains("after.md"),
    );
    assert_contains(
        &stdout(&env.gate(&["watch", "--stop"])),
        &["stopped the watcher"],
    );
}

/// SIGKILL while both worktrees commit: nothing lost or corrupted in either, no lock left in
/// the linked worktree's git directory, and its branch holds only its own files.
#[test]
fn sigkill_while_two_worktrees_commit_loses_nothing() {
    let env = fast_repo("1s", "200ms");
    let linked = env.base_dir().join("linked");
    env.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "feature/002-l",
        linked.to_str().unwrap(),
    ]);
    for round in 0..5u64 {
        let w = Watcher::start(&env, &[]);
        for f in 0..4 {
            env.write(
                &format!("main/r{round}-f{f}.txt"),
                &format!("main {round} {f}\n"),
            );
            let p = linked.join(format!("linked/r{round}-f{f}.txt"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, format!("linked {round} {f}\n")).unwrap();
        }
        std::thread::sleep(Duration::from_millis(1000 + round * 150));
        drop(w); // SIGKILL
        let fsck = env.git_output(&["fsck", "--full", "--no-progress"]);
        assert!(
            fsck.status.success(),
            "fsck: {}",
            String::from_utf8_lossy(&fsck.stderr)
        );
        for f in 0..4 {
            assert_eq!(
                env.read(&format!("main/r{round}-f{f}.txt")),
                format!("main {round} {f}\n")
            );
            let p = linked.join(format!("linked/r{round}-f{f}.txt"));
            assert_eq!(
                std::fs::read_to_string(p).unwrap(),
                format!("linked {round} {f}\n")
            );
        }
        assert!(
            !env.path(".git/index.lock").exists(),
            "a lock was left in the main checkout"
        );
        assert!(
            !env.path(".git/worktrees/linked/index.lock").exists(),
            "a lock was left in the linked worktree"
        );
        env.git_in(&linked, &["status", "--porcelain"]);
    }
    let linked_files = env.git_in(&linked, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(
        !linked_files.contains("main/"),
        "the linked branch holds main's files:\n{linked_files}"
    );
    let main_files = env.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(
        !main_files.contains("linked/"),
        "the main branch holds the linked files:\n{main_files}"
    );
}
