//! The watcher as a real process: auto-commits on a seconds-long cadence, quiet periods,
//! the daemon's lock and graceful stop, the audit, the watch-limit fallback, SIGKILL in the
//! middle of committing, linked worktrees (one watcher for all), and the event model
//! (directories that come back, tracked files that match ignore rules, a busy file, config
//! reload).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::env::{TestEnv, assert_contains, assert_exit, stdout};

/// A feature branch with the spec gate passed and a fast cadence.
pub(crate) fn fast_repo(interval: &str, quiet: &str) -> TestEnv {
    let env = TestEnv::new();
    env.write(
        ".gate.toml",
        &format!("[commit]\ninterval = \"{interval}\"\nquiet = \"{quiet}\"\n"),
    );
    env.commit_all("config");
    env.complete_feature("Watched");
    env.commit_all("spec, plan, tasks");
    env
}

pub(crate) struct Watcher {
    pub(crate) child: Child,
}

impl Watcher {
    pub(crate) fn start(env: &TestEnv, vars: &[(&str, &str)]) -> Watcher {
        Watcher::start_in(env, &env.root, vars)
    }

    /// A watcher started from `dir` (any worktree of the repository).
    pub(crate) fn start_in(env: &TestEnv, dir: &std::path::Path, vars: &[(&str, &str)]) -> Watcher {
        let mut cmd = env.gate_command(dir);
        cmd.arg("watch")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start gate watch");
        let w = Watcher { child };
        wait_for(
            "the watcher to start watching",
            Duration::from_secs(10),
            || {
                let json = stdout(&env.gate(&["watch", "--status", "--json"]));
                json.contains("\"mode\": \"events\"") || json.contains("\"mode\": \"polling\"")
            },
        );
        w
    }

    /// SIGTERM, then the exit status and everything it logged.
    pub(crate) fn stop(mut self) -> (Option<i32>, String) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let out = std::mem::replace(
            &mut self.child,
            std::process::Command::new("true").spawn().unwrap(),
        )
        .wait_with_output()
        .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[track_caller]
pub(crate) fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

pub(crate) fn subjects(env: &TestEnv) -> String {
    env.git(&["log", "--format=%s"])
}

#[test]
fn work_is_auto_committed_after_the_interval_and_stop_is_graceful() {
    let env = fast_repo("2s", "500ms");
    let w = Watcher::start(&env, &[]);
    env.write("src/lib.rs", "pub fn f() {}\n");
    env.write("docs/new/deep/note.md", "note\n");
    wait_for("an auto-commit", Duration::from_secs(15), || {
        subjects(&env).contains("Progress:")
    });
    let subject = env.git(&["log", "-1", "--format=%s"]);
    assert_eq!(
        subject,
        "Progress: 2 added (docs/new/deep/note.md, src/lib.rs)"
    );
    assert_contains(
        &env.git(&["log", "-1", "--format=%B"]),
        &["Gate-Auto-Commit: true"],
    );
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    // The next commit is built from the paths the file events named: an edit, a deletion,
    // and a new directory.
    let first = env.git(&["rev-parse", "HEAD"]);
    env.write("src/lib.rs", "pub fn g() {}\n");
    std::fs::remove_file(env.path("docs/new/deep/note.md")).unwrap();
    env.write("more/a/b.md", "b\n");
    wait_for("a second auto-commit", Duration::from_secs(15), || {
        env.git(&["rev-parse", "HEAD"]) != first
    });
    assert_eq!(
        env.git(&["log", "-1", "--format=%s"]),
        "Progress: 1 modified, 1 added, 1 deleted (docs/new/deep/note.md, more/a/b.md, src/lib.rs)"
    );
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    let (code, log) = w.stop();
    assert_eq!(code, Some(0), "{log}");
    assert_contains(&log, &["committed", "stopping"]);
    assert_contains(
        &stdout(&env.gate(&["watch", "--status"])),
        &["no watcher running"],
    );
    assert_contains(&stdout(&env.gate(&["log"])), &["auto-commit"]);
}

/// A file being edited is committed once it is quiet (or, if it never is, at the bound of
/// twice the interval): here edits stop after 3 s, before the 4 s bound.
#[test]
fn nothing_is_committed_while_files_keep_changing() {
    let env = fast_repo("2s", "1s");
    let w = Watcher::start(&env, &[]);
    let head = env.git(&["rev-parse", "HEAD"]);
    let until = Instant::now() + Duration::from_secs(3);
    let mut n = 0;
    while Instant::now() < until {
        env.write("notes.md", &format!("edit {n}\n"));
        n += 1;
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            env.git(&["rev-parse", "HEAD"]),
            head,
            "committed while files were changing"
        );
    }
    wait_for(
        "the commit after the quiet period",
        Duration::from_secs(10),
        || env.git(&["rev-parse", "HEAD"]) != head,
    );
    assert_eq!(
        env.git(&["show", "HEAD:notes.md"]),
        format!("edit {}", n - 1)
    );
    drop(w);
}

#[test]
fn a_second_daemon_is_refused_and_stop_releases_the_lock() {
    let env = fast_repo("30m", "60s");
    assert_exit(&env.gate(&["watch", "--daemon"]), 0);
    let second = env.gate(&["watch", "--daemon"]);
    assert_contains(&stdout(&second), &["already running"]);
    let fg = env.gate(&["watch"]);
    assert_eq!(
        fg.status.code(),
        Some(3),
        "a foreground watcher started beside the daemon"
    );
    assert_contains(&String::from_utf8_lossy(&fg.stderr), &["already running"]);
    let json = stdout(&env.gate(&["watch", "--status", "--json"]));
    assert_contains(
        &json,
        &["\"running\": true", "\"pid\":", "\"mode\": \"events\""],
    );
    assert_contains(
        &stdout(&env.gate(&["watch", "--stop"])),
        &["stopped the watcher"],
    );
    assert_contains(
        &stdout(&env.gate(&["watch", "--status", "--json"])),
        &["\"running\": false"],
    );
}

#[test]
fn ignored_directories_get_no_watches() {
    let env = fast_repo("30m", "60s");
    env.write(".gitignore", "target/\nnode_modules/\n");
    env.commit_all("ignore");
    for i in 0..40 {
        env.write(&format!("target/debug/d{i}/x"), "x");
        env.write(&format!("node_modules/p{i}/index.js"), "x");
    }
    env.write("src/a/b/c.rs", "x");
    let w = Watcher::start(&env, &[]);
    let json = stdout(&env.gate(&["watch", "--status", "--json"]));
    let watches: usize = json
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"watches\": "))
        .and_then(|v| v.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("watches in status:\n{json}"));
    assert!(
        watches < 20,
        "{watches} watches: ignored directories were watched\n{json}"
    );
    drop(w);
}

#[test]
fn at_the_watch_limit_it_falls_back_to_scanning_and_still_commits() {
    let env = fast_repo("2s", "500ms");
    for i in 0..10 {
        env.write(&format!("docs/d{i}/x.md"), "x\n");
    }
    env.commit_all("dirs");
    let w = Watcher::start(&env, &[("GATE_MAX_WATCHES", "4")]);
    env.write("docs/d9/late.md", "late\n");
    wait_for("a commit in polling mode", Duration::from_secs(20), || {
        subjects(&env).contains("Progress:")
    });
    let (_, log) = w.stop();
    assert_contains(
        &log,
        &[
            "watch limit was reached",
            "fs.inotify.max_user_watches",
            "full scan",
        ],
    );
}

#[test]
fn a_commit_that_bypassed_the_hooks_on_main_is_audited() {
    let env = fast_repo("30m", "60s");
    env.git(&["switch", "-q", "main"]);
    let w = Watcher::start(&env, &[]);
    env.write("hotfix.txt", "x\n");
    env.commit_all("sneaky hotfix");
    wait_for("the audit event", Duration::from_secs(10), || {
        stdout(&env.gate(&["log"])).contains("violation")
    });
    let log = stdout(&env.gate(&["log", "--json"]));
    assert_contains(
        &log,
        &[
            "\"kind\":\"violation\"",
            "\"code\":\"feature-branch\"",
            "sneaky hotfix",
            "without passing gate's hooks",
        ],
    );
    drop(w);
}

#[test]
fn sigkill_mid_commit_never_loses_or_corrupts_work() {
    let env = fast_repo("1s", "200ms");
    for round in 0..8 {
        let w = Watcher::start(&env, &[]);
        for f in 0..5 {
            env.write(
                &format!("data/r{round}-f{f}.txt"),
                &format!("round {round} file {f}\n"),
            );
        }
        // Kill at a different moment each round, before, during or after the commit.
        std::thread::sleep(Duration::from_millis(1000 + round * 110));
        drop(w); // SIGKILL
        let fsck = env.git_output(&["fsck", "--full", "--no-progress"]);
        assert!(
            fsck.status.success(),
            "fsck: {}",
            String::from_utf8_lossy(&fsck.stderr)
        );
        // Every byte is in the working tree, and HEAD's tree is readable.
        for f in 0..5 {
            assert_eq!(
                env.read(&format!("data/r{round}-f{f}.txt")),
                format!("round {round} file {f}\n")
            );
        }
        env.git(&["ls-tree", "-r", "HEAD"]);
        env.git(&["status", "--porcelain"]);
        assert!(
            !env.root.join(".git/index.lock").exists(),
            "a lock was left behind"
        );
    }
}

#[test]
fn init_start_launches_the_watcher() {
    let env = TestEnv::new();
    let out = env.gate(&["init", "--start"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["watcher started"]);
    assert_contains(
        &stdout(&env.gate(&["watch", "--status"])),
        &["✓ watcher running"],
    );
    assert_contains(
        &stdout(&env.gate(&["watch", "--stop"])),
        &["stopped the watcher"],
    );
}

#[test]
fn a_watcher_whose_repository_is_deleted_exits() {
    let env = fast_repo("30m", "60s");
    let mut w = Watcher::start(&env, &[]);
    std::fs::remove_dir_all(&env.root).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = w.child.try_wait() {
            assert!(status.success(), "{status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the watcher outlived its repository");
}

/// Waits until the watcher's first decision (its start-up full scan, which would pick up any
/// change made before it, even one no event reported).
pub(crate) fn settled(env: &TestEnv) {
    wait_for(
        "the watcher's first decision",
        Duration::from_secs(10),
        || status_in(env, &env.root)["last_decision"].is_string(),
    );
}

/// `git log --format=%s` in `dir`.
pub(crate) fn subjects_in(env: &TestEnv, dir: &std::path::Path) -> String {
    env.git_in(dir, &["log", "--format=%s"])
}

/// The status JSON, asked from `dir`.
pub(crate) fn status_in(env: &TestEnv, dir: &std::path::Path) -> serde_json::Value {
    let out = env.gate_in(dir, &["watch", "--status", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

pub(crate) fn roots(status: &serde_json::Value) -> Vec<String> {
    status["worktrees"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|w| w["root"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Regression: a directory that disappeared and came back (a switch to a branch without
/// `src/` and back) was never watched again, so its edits were never committed.
#[test]
fn a_directory_that_comes_back_is_watched_again() {
    let env = fast_repo("1s", "300ms");
    env.write("src/lib.rs", "pub fn f() {}\n");
    env.commit_all("lib");
    env.git(&["switch", "-q", "-c", "feature/002-nosrc"]);
    env.git(&["rm", "-q", "-r", "src"]);
    env.git(&["commit", "-q", "--no-verify", "-m", "no src"]);
    env.git(&["switch", "-q", "feature/001-watched"]);
    let w = Watcher::start(&env, &[]);
    settled(&env);
    env.git(&["switch", "-q", "feature/002-nosrc"]);
    assert!(!env.exists("src"));
    std::thread::sleep(Duration::from_millis(300));
    env.git(&["switch", "-q", "feature/001-watched"]);
    // Past the commit attempt the switch's own events cause (it would look at `src` whole).
    std::thread::sleep(Duration::from_millis(2500));
    env.write("src/lib.rs", "pub fn g() {}\n");
    wait_for(
        "the edit in the re-created src/",
        Duration::from_secs(15),
        || env.git(&["status", "--porcelain"]).is_empty(),
    );
    assert_eq!(env.git(&["show", "HEAD:src/lib.rs"]), "pub fn g() {}");
    drop(w);
}

/// Regression: edits to a tracked file that matches `.gitignore` (`*.log`) were dropped as
/// events and never committed.
#[test]
fn a_tracked_file_that_matches_gitignore_is_still_committed() {
    let env = fast_repo("1s", "300ms");
    env.write(".gitignore", "*.log\nbuild/\n");
    env.write("app.log", "one\n");
    env.write("build/keep.txt", "kept\n");
    env.git(&["add", "-f", ".gitignore", "app.log", "build/keep.txt"]);
    env.git(&[
        "commit",
        "-q",
        "--no-verify",
        "-m",
        "tracked despite ignore rules",
    ]);
    let w = Watcher::start(&env, &[]);
    settled(&env);
    env.write("app.log", "one\ntwo\n");
    env.write("build/keep.txt", "kept, edited\n");
    env.write("noise.log", "never committed\n");
    wait_for(
        "the tracked ignored files committed",
        Duration::from_secs(15),
        || {
            env.git(&["show", "HEAD:app.log"]) == "one\ntwo"
                && env.git(&["show", "HEAD:build/keep.txt"]) == "kept, edited"
        },
    );
    assert_eq!(
        env.git(&["ls-files", "noise.log"]),
        "",
        "an ignored untracked file was committed"
    );
    drop(w);
}

/// Regression: a log appended every 0.4 s kept real work uncommitted for 7x the interval,
/// because the whole tree had to be quiet.
#[test]
fn a_busy_file_does_not_hold_back_the_others() {
    let env = fast_repo("2s", "500ms");
    let w = Watcher::start(&env, &[]);
    let start = Instant::now();
    env.write("src/work.rs", "pub fn work() {}\n");
    let busy = env.path("busy.log");
    let writer = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(9);
        let mut n = 0;
        while Instant::now() < until {
            std::fs::write(&busy, format!("line {n}\n")).unwrap();
            n += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    wait_for("the quiet file's commit", Duration::from_secs(8), || {
        env.git(&["log", "--format=%s", "--", "src/work.rs"])
            .contains("Progress:")
    });
    let took = start.elapsed();
    assert!(
        !writer.is_finished(),
        "the busy file stopped first; nothing was shown"
    );
    assert!(took < Duration::from_secs(6), "committed after {took:?}");
    // The busy file itself waits at most twice the interval.
    wait_for("the busy file's commit", Duration::from_secs(8), || {
        env.git(&["log", "--format=%s", "--", "busy.log"])
            .contains("Progress:")
    });
    writer.join().unwrap();
    drop(w);
}

/// Regression: the watcher kept the `.gate.toml` it started with; after `lib/**` was added to
/// `implementation` it real-committed `lib/x.rs` before the spec gate while the hook refused
/// the same change. An invalid edit keeps the last good config, loudly.
#[test]
fn the_config_is_reloaded_and_an_invalid_edit_keeps_the_last_good_one() {
    let env = TestEnv::new();
    env.write(
        ".gate.toml",
        "[commit]\ninterval = \"1s\"\nquiet = \"300ms\"\n",
    );
    env.commit_all("config");
    assert_exit(&env.gate(&["specify", "Lib"]), 0);
    env.commit_all("spec started");
    let w = Watcher::start(&env, &[]);
    env.write(
        ".gate.toml",
        "[commit]\ninterval = \"1s\"\nquiet = \"300ms\"\n[spec]\nimplementation = [\"src/**\", \"lib/**\"]\n",
    );
    wait_for("the reload event", Duration::from_secs(10), || {
        stdout(&env.gate(&["log"])).contains("config-reloaded")
    });
    env.write("lib/x.rs", "pub fn x() {}\n");
    wait_for("a snapshot of lib/x.rs", Duration::from_secs(15), || {
        stdout(&env.gate(&["log", "--json"])).contains("\"kind\":\"snapshot\"")
    });
    assert_eq!(
        env.git(&["log", "--format=%s", "HEAD", "--", "lib/x.rs"]),
        "",
        "lib/x.rs was committed before the spec gate"
    );

    env.write(".gate.toml", "[commit\ninterval = 1s\n");
    // `gate log` itself refuses the broken config: read the event log directly.
    let events = env.path(".git/gate/events.jsonl");
    wait_for("the invalid-config event", Duration::from_secs(10), || {
        std::fs::read_to_string(&events)
            .unwrap_or_default()
            .contains("\"config-invalid\"")
    });
    // The status says so too (written within a moment of the change).
    wait_for(
        "the config error in the status",
        Duration::from_secs(5),
        || {
            status_in(&env, &env.root)["worktrees"][0]["config_error"]
                .as_str()
                .is_some_and(|e| e.contains(".gate.toml:1:"))
        },
    );
    // The rules stay in force: another lib file is still only snapshotted.
    env.write("lib/y.rs", "pub fn y() {}\n");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        env.git(&["log", "--format=%s", "HEAD", "--", "lib/y.rs"]),
        ""
    );
    let (_, log) = w.stop();
    assert_contains(&log, &["reloaded .gate.toml", "keeps the last good config"]);
}

/// Regression: the watcher's own look at HEAD (an `open`, which inotify reports) counted as a
/// ref change, which made it audit and look again, for ever: an idle watcher never rested.
#[test]
fn an_idle_watcher_never_wakes_itself_up() {
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
    let w = Watcher::start(&env, &[]);
    settled(&env);
    std::thread::sleep(Duration::from_secs(1));
    let audit = env.path(".git/gate/audit.json");
    let stamp = || std::fs::metadata(&audit).and_then(|m| m.modified()).ok();
    let ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", w.child.id())).unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<u64> = rest.split(' ').filter_map(|x| x.parse().ok()).collect();
        // utime and stime are fields 14 and 15 of stat: 11 and 12 after the state field.
        f[10] + f[11]
    };
    let (before, cpu) = (stamp(), ticks());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        stamp(),
        before,
        "the audit ran again with nothing happening"
    );
    let used = ticks() - cpu;
    assert!(used <= 2, "{used} clock ticks of CPU in 3 idle seconds");
    drop(w);
}
