//! The audit judges every new commit by its content, with gate's hooks installed as users have
//! them: `--no-verify`, cherry-pick, revert, rebase, fast-forwards and resets onto unfinished
//! work, plumbing commits behind a fabricated remote ref, forged finish markers, and a torn
//! baseline. `gate audit` runs the same audit the watcher runs on every ref move.

use std::process::Output;

use crate::env::{TestEnv, assert_contains, assert_exit, stdout};

/// gate initialised (hooks installed), its setup committed on main, and a first audit so the
/// baseline exists.
fn hooked() -> TestEnv {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    env.commit_all("set up gate");
    assert!(
        audit(&env).is_empty(),
        "the first audit only sets the baseline"
    );
    env
}

/// git with the repository's hooks (gate's shims) active.
#[track_caller]
fn git(env: &TestEnv, args: &[&str]) -> Output {
    git_with(env, args, &[])
}

#[track_caller]
fn git_with(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let out = env.git_hooked(&env.root, args, vars);
    assert_exit(&out, 0);
    out
}

/// `gate audit --json`: the new slips as (code, branch, commit, message).
#[track_caller]
fn audit(env: &TestEnv) -> Vec<(String, String, String, String)> {
    let out = env.gate(&["audit", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("audit --json: {e}\n{}", crate::env::all(&out)));
    let slips: Vec<_> = json
        .as_array()
        .expect("a list of slips")
        .iter()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
            (
                field("code"),
                field("branch"),
                field("commit"),
                field("message"),
            )
        })
        .collect();
    assert_exit(&out, if slips.is_empty() { 0 } else { 1 });
    slips
}

fn rev(env: &TestEnv, name: &str) -> String {
    env.git(&["rev-parse", name])
}

/// A feature branch `feature/001-x` with a committed (incomplete) spec and one docs commit,
/// back on main afterwards.
fn unfinished_feature(env: &TestEnv) {
    assert_exit(&env.gate(&["specify", "X"]), 0);
    env.commit_all("spec started");
    env.write("docs/x.md", "notes\n");
    env.git(&["add", "docs/x.md"]);
    git(env, &["commit", "-q", "-m", "docs for x"]);
    env.git(&["switch", "-q", "main"]);
}

#[test]
fn a_no_verify_commit_on_main_is_reported_with_the_hooks_installed() {
    let env = hooked();
    env.write("hotfix.txt", "x\n");
    env.git(&["add", "hotfix.txt"]);
    git(
        &env,
        &["commit", "-q", "--no-verify", "-m", "sneaky hotfix"],
    );
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");
    assert_eq!(slips[0].0, "feature-branch");
    assert_eq!(slips[0].1, "main");
    assert_eq!(slips[0].2, rev(&env, "HEAD"));
    assert_contains(&slips[0].3, &["sneaky hotfix", "protected branch main"]);
    assert!(audit(&env).is_empty(), "a slip is reported once");
    let log = stdout(&env.gate(&["log", "--json"]));
    assert_contains(&log, &["\"kind\":\"violation\"", "sneaky hotfix"]);
}

#[test]
fn a_no_verify_commit_on_a_feature_branch_before_its_spec_gate_is_reported() {
    let env = hooked();
    assert_exit(&env.gate(&["specify", "X"]), 0);
    env.commit_all("spec started");
    env.write("src/lib.rs", "pub fn f() {}\n");
    env.git(&["add", "src/lib.rs"]);
    let refused = env.git_hooked(&env.root, &["commit", "-q", "-m", "code early"], &[]);
    assert_exit(&refused, 1);
    git(&env, &["commit", "-q", "--no-verify", "-m", "code early"]);
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");
    assert_eq!(slips[0].0, "implementation-gate");
    assert_eq!(slips[0].1, "feature/001-x");
    assert_contains(
        &slips[0].3,
        &["code early", "spec.md of 001-x was incomplete"],
    );

    // Once the artifacts are complete in the commit, code is fine.
    env.complete_feature_on_branch();
    env.commit_all("spec, plan, tasks");
    env.write("src/lib.rs", "pub fn g() {}\n");
    env.git(&["add", "src/lib.rs"]);
    git(&env, &["commit", "-q", "-m", "code in time"]);
    assert!(audit(&env).is_empty());
}

#[test]
fn cherry_pick_revert_and_rebase_onto_main_are_reported() {
    let env = hooked();
    unfinished_feature(&env);
    let docs = rev(&env, "feature/001-x");
    assert!(audit(&env).is_empty());

    git(&env, &["cherry-pick", &docs]);
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");
    assert_contains(&slips[0].3, &["docs for x", "protected branch main"]);

    git(&env, &["revert", "--no-edit", "HEAD"]);
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");
    assert_contains(&slips[0].3, &["Revert"]);

    git_with(
        &env,
        &["rebase", "-q", "-i", "--no-ff", "HEAD~1"],
        &[
            ("GIT_SEQUENCE_EDITOR", "true"),
            ("GIT_COMMITTER_DATE", "2025-02-03T04:05:06+0000"),
        ],
    );
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "the rewritten commit: {slips:?}");
    assert_eq!(slips[0].2, rev(&env, "HEAD"));
}

#[test]
fn main_moved_onto_unfinished_feature_commits_is_reported() {
    let env = hooked();
    unfinished_feature(&env);
    assert!(audit(&env).is_empty());

    git(&env, &["merge", "-q", "--ff-only", "feature/001-x"]);
    let slips = audit(&env);
    assert_eq!(slips.len(), 2, "spec and docs commits: {slips:?}");
    assert!(
        slips
            .iter()
            .all(|s| s.0 == "feature-branch" && s.1 == "main")
    );

    let next = |what: &str| {
        env.git(&["switch", "-q", "feature/001-x"]);
        env.write(&format!("docs/{what}.md"), "more\n");
        env.git(&["add", "-A"]);
        git(&env, &["commit", "-q", "-m", what]);
        env.git(&["switch", "-q", "main"]);
    };
    next("after-ff");
    git(&env, &["reset", "-q", "--hard", "feature/001-x"]);
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");
    assert_contains(&slips[0].3, &["after-ff"]);

    next("after-reset");
    env.git(&["update-ref", "refs/heads/main", "feature/001-x"]);
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");
    assert_contains(&slips[0].3, &["after-reset"]);
}

#[test]
fn a_fabricated_remote_ref_does_not_hide_a_plumbing_commit() {
    let env = hooked();
    let tree = env.git(&["rev-parse", "HEAD^{tree}"]);
    let commit = env.git(&["commit-tree", &tree, "-p", "HEAD", "-m", "plumbing"]);
    env.git(&["update-ref", "refs/remotes/origin/main", &commit]);
    env.git(&["update-ref", "refs/heads/main", &commit]);
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");
    assert_eq!(slips[0].2, commit);
}

#[test]
fn gate_finish_landings_are_not_slips() {
    let env = hooked();
    for name in ["One", "Two", "Three"] {
        env.git(&["switch", "-q", "main"]);
        env.complete_feature(name);
        env.write(
            &format!("src/{}.rs", name.to_lowercase()),
            "pub fn f() {}\n",
        );
        env.commit_all(&format!("feature {name}"));
    }
    // One and Two fast-forward in turn; Three needs a merge commit.
    for branch in ["feature/001-one", "feature/002-two", "feature/003-three"] {
        env.git(&["switch", "-q", branch]);
        assert_exit(&env.gate(&["finish"]), 0);
    }
    assert_eq!(env.git(&["rev-list", "--count", "--merges", "main"]), "2");
    let slips = audit(&env);
    assert!(slips.is_empty(), "{slips:?}");
}

#[test]
fn a_finish_trailer_or_a_hand_made_stable_tag_is_not_a_finish() {
    let env = hooked();
    env.write("hotfix.txt", "x\n");
    env.git(&["add", "hotfix.txt"]);
    git(
        &env,
        &[
            "commit",
            "-q",
            "--no-verify",
            "-m",
            "Merge feature/001-x (gate finish)\n\nGate-Finish: 001-x",
        ],
    );
    env.git(&["tag", "-a", "-m", "stable", "stable-001-x-20250102"]);
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");

    let remote = env.base_dir().join("remote.git");
    env.git(&["init", "-q", "--bare", remote.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    let out = env.git_hooked(&env.root, &["push", "-q", "origin", "main"], &[]);
    assert_exit(&out, 1);
    assert_contains(
        &crate::env::stderr(&out),
        &["protected branch main", "no `gate finish` accounts for"],
    );
}

#[test]
fn a_torn_audit_baseline_is_kept_aside_reported_and_re_audited() {
    let env = hooked();
    env.write("hotfix.txt", "x\n");
    env.git(&["add", "hotfix.txt"]);
    git(
        &env,
        &["commit", "-q", "--no-verify", "-m", "before the tear"],
    );
    let baseline = env.root.join(".git/gate/audit.json");
    std::fs::write(&baseline, "{\"main\": \"0123").unwrap();
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "the slip made before the tear: {slips:?}");
    assert_contains(&slips[0].3, &["before the tear"]);
    let kept: Vec<_> = std::fs::read_dir(env.root.join(".git/gate"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("audit.json.unreadable-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "the torn file is kept aside");
    let log = stdout(&env.gate(&["log", "--json"]));
    assert_contains(&log, &["\"kind\":\"audit-reset\"", "unreadable"]);
    assert!(audit(&env).is_empty(), "the baseline is whole again");

    // A deleted baseline is a reset too, and slips already logged are not repeated.
    std::fs::remove_file(&baseline).unwrap();
    env.write("hotfix.txt", "y\n");
    env.git(&["add", "hotfix.txt"]);
    git(
        &env,
        &["commit", "-q", "--no-verify", "-m", "after the delete"],
    );
    std::fs::remove_file(&baseline).ok();
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");
    assert_contains(&slips[0].3, &["after the delete"]);
}

#[test]
fn a_slip_shows_in_gate_status() {
    let env = hooked();
    env.write("hotfix.txt", "x\n");
    env.git(&["add", "hotfix.txt"]);
    git(
        &env,
        &["commit", "-q", "--no-verify", "-m", "sneaky hotfix"],
    );
    assert_eq!(audit(&env).len(), 1);
    let status = stdout(&env.gate(&["status"]));
    let head = rev(&env, "HEAD");
    assert_contains(
        &status,
        &[&format!("violation feature-branch main {}", &head[..10])],
    );
}

#[test]
fn the_watcher_reports_a_no_verify_commit_made_with_the_hooks_installed() {
    let env = hooked();
    let mut watcher = env
        .gate_command(&env.root)
        .arg("watch")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start gate watch");
    let wait = |what: &str, ok: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while !ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait("the watcher", &|| {
        stdout(&env.gate(&["watch", "--status", "--json"])).contains("\"mode\"")
    });
    env.write("hotfix.txt", "x\n");
    env.git(&["add", "hotfix.txt"]);
    git(
        &env,
        &["commit", "-q", "--no-verify", "-m", "sneaky hotfix"],
    );
    wait("the violation", &|| {
        stdout(&env.gate(&["log", "--json"])).contains("\"kind\":\"violation\"")
    });
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert_contains(
        &stdout(&env.gate(&["log", "--json"])),
        &["\"code\":\"feature-branch\"", "sneaky hotfix"],
    );
}

#[test]
fn a_commit_that_unprotects_main_is_judged_by_the_rules_before_it() {
    let env = hooked();
    env.write(".gate.toml", "[branches]\nprotected = []\n");
    env.git(&["add", ".gate.toml"]);
    git(
        &env,
        &["commit", "-q", "--no-verify", "-m", "unprotect main"],
    );
    env.write("after.txt", "x\n");
    env.git(&["add", "after.txt"]);
    git(
        &env,
        &["commit", "-q", "--no-verify", "-m", "and then anything"],
    );
    let slips = audit(&env);
    assert_eq!(slips.len(), 2, "{slips:?}");
}

#[test]
fn a_gate_finish_never_covers_a_direct_commit_made_just_before_it() {
    let env = hooked();
    env.complete_feature("X");
    env.commit_all("feature x");
    env.git(&["switch", "-q", "main"]);
    env.write("hotfix.txt", "x\n");
    env.git(&["add", "hotfix.txt"]);
    git(
        &env,
        &["commit", "-q", "--no-verify", "-m", "sneaky hotfix"],
    );
    env.git(&["switch", "-q", "feature/001-x"]);
    // No audit ran in between (no watcher): gate finish audits before it lands.
    let out = env.gate(&["finish"]);
    assert_exit(&out, 0);
    assert_contains(&crate::env::stderr(&out), &["sneaky hotfix"]);
    let log = stdout(&env.gate(&["log", "--json"]));
    assert_contains(&log, &["\"kind\":\"violation\"", "sneaky hotfix"]);
    assert!(audit(&env).is_empty(), "the landing itself is not a slip");
}

#[test]
fn adopting_gate_may_reach_main_but_nothing_else_may_ride_along() {
    let env = TestEnv::new();
    assert!(audit(&env).is_empty(), "baseline before gate is set up");
    assert_exit(&env.gate(&["init"]), 0);
    env.git(&["switch", "-q", "-c", "chore/gate"]);
    env.commit_all("Set up gate");
    env.git(&["switch", "-q", "main"]);
    git(&env, &["merge", "-q", "--ff-only", "chore/gate"]);
    assert!(audit(&env).is_empty(), "gate's own setup is not a slip");

    // The same, carrying a change beside the setup, is.
    let env = TestEnv::new();
    assert!(audit(&env).is_empty());
    assert_exit(&env.gate(&["init"]), 0);
    env.write("README.md", "rides along\n");
    env.commit_all("Set up gate, and more");
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");
}

#[test]
fn an_adoption_that_unprotects_main_is_not_an_adoption() {
    let env = TestEnv::new();
    assert!(audit(&env).is_empty());
    env.write(".gate.toml", "[branches]\nprotected = []\n");
    env.commit_all("Set up gate, main unprotected");
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");
}

#[test]
fn fifos_planted_in_gates_state_never_hang_the_audit_or_finish() {
    let env = hooked();
    let state = env.root.join(".git/gate");
    for name in ["audit.lock", "audit.json", "finished.jsonl"] {
        let _ = std::fs::remove_file(state.join(name));
        let ok = std::process::Command::new("mkfifo")
            .arg(state.join(name))
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo {name}");
    }
    // gate runs with a 30 s timeout in tests: a hang fails loudly.
    let out = env.gate(&["audit", "--json"]);
    assert!(out.status.code().is_some(), "gate audit was killed");
    env.complete_feature("X");
    env.commit_all("feature x");
    let out = env.gate(&["finish"]);
    assert_exit(&out, 3);
    assert_contains(
        &crate::env::stderr(&out),
        &["finished.jsonl", "nothing landed"],
    );
    assert_eq!(
        env.git(&["tag", "-l"]),
        "",
        "nothing landed, no tag left behind"
    );
}

#[test]
fn rules_weakened_by_a_slip_do_not_unprotect_main_for_the_commits_after_it() {
    let env = hooked();
    env.complete_feature("X");
    env.commit_all("feature x");
    assert_exit(&env.gate(&["finish"]), 0);
    assert!(audit(&env).is_empty());
    env.write(".gate.toml", "[branches]\nprotected = []\n");
    env.git(&["add", ".gate.toml"]);
    git(
        &env,
        &["commit", "-q", "--no-verify", "-m", "unprotect main"],
    );
    assert_eq!(audit(&env).len(), 1);
    env.write("later.txt", "x\n");
    env.git(&["add", "later.txt"]);
    git(
        &env,
        &[
            "commit",
            "-q",
            "--no-verify",
            "-m",
            "later, on an unprotected main",
        ],
    );
    let slips = audit(&env);
    assert_eq!(slips.len(), 1, "{slips:?}");
    assert_contains(&slips[0].3, &["later, on an unprotected main"]);
}

#[test]
fn an_unborn_repository_audits_cleanly_and_its_empty_baseline_is_not_lost() {
    let env = TestEnv::unborn();
    assert!(audit(&env).is_empty());
    assert!(audit(&env).is_empty());
    let log = stdout(&env.gate(&["log", "--json"]));
    assert!(!log.contains("audit-reset"), "{log}");
    env.write("README.md", "# first\n");
    env.commit_all("root commit");
    assert!(audit(&env).is_empty(), "the root commit creates main");
}
