//! `gate finish`: refusals that change nothing, the fast-forward, merge-commit and unborn-main
//! paths, a conflict that leaves every byte as it was, same-day tag suffixes, `--no-merge`,
//! and a finished main that gate's own pre-push hook lets through.

use std::path::Path;

use crate::env::{TestEnv, all, assert_contains, assert_exit, assert_lacks, code, stderr, stdout};

const BRANCH: &str = "feature/001-user-auth";

/// Today as gate names it (the tests run gate with `TZ=UTC`).
fn today() -> String {
    jiff::Timestamp::now().strftime("%Y%m%d").to_string()
}

/// `stable-001-user-auth-<today>` plus `suffix`, allowing for a run across midnight.
#[track_caller]
fn assert_tags(env: &TestEnv, before: &str, suffixes: &[&str]) {
    let tags = env.git(&["tag", "-l"]);
    let want = |date: &str| {
        suffixes
            .iter()
            .map(|s| format!("stable-001-user-auth-{date}{s}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        tags == want(before) || tags == want(&today()),
        "unexpected tags:\n{tags}"
    );
}

/// A repository whose feature `001-user-auth` is complete and committed on its branch.
fn finished(env: TestEnv) -> TestEnv {
    env.complete_feature("User auth");
    env.commit_all("spec, plan and tasks for user auth");
    env
}

/// What `gate finish` must not change when it refuses: refs, HEAD, status, index bytes, tags.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    refs: String,
    head: String,
    status: String,
    index: Vec<u8>,
    tags: String,
}

fn snapshot(env: &TestEnv) -> Snapshot {
    // git status may refresh the index, so it runs before the index is read.
    let status = env.git(&["status", "--porcelain", "--ignored"]);
    Snapshot {
        refs: env.git(&["for-each-ref", "--format=%(refname) %(objectname)"]),
        head: env.git(&["symbolic-ref", "HEAD"]),
        status,
        index: std::fs::read(env.path(".git/index")).expect("read .git/index"),
        tags: env.git(&["tag", "-l"]),
    }
}

fn rev(env: &TestEnv, name: &str) -> String {
    env.git(&["rev-parse", name])
}

fn bare_remote(env: &TestEnv) {
    let remote = env.base_dir().join("remote.git");
    let remote = remote.to_str().expect("utf-8 temp path");
    env.git(&["init", "-q", "--bare", remote]);
    env.git(&["remote", "add", "origin", remote]);
}

/// A repository with gate initialised (hooks installed), its setup committed on main.
fn hooked() -> TestEnv {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    env.commit_all("set up gate");
    env
}

fn push(env: &TestEnv, root: &Path) -> std::process::Output {
    env.git_hooked(
        root,
        &["push", "-q", "origin", "main", "--follow-tags"],
        &[],
    )
}

#[test]
fn refused_when_check_fails_showing_the_violations() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    env.fill("specs/001-user-auth/spec.md");
    env.commit_all("spec only");
    let before = snapshot(&env);
    let out = env.gate(&["finish"]);
    assert_exit(&out, 1);
    assert_contains(
        &stderr(&out),
        &[
            "gate finish: refused",
            "nothing was changed",
            "[implementation-gate] specs/001-user-auth/plan.md is missing",
            "fix: run `gate plan`",
        ],
    );
    assert_eq!(snapshot(&env), before);
}

#[test]
fn refused_on_main_where_there_is_no_feature() {
    let env = TestEnv::new();
    let out = env.gate(&["finish"]);
    assert_exit(&out, 1);
    assert_contains(&stderr(&out), &["[feature-branch] main is protected"]);
    assert_eq!(env.git(&["tag", "-l"]), "");
}

#[test]
fn refused_on_a_dirty_tree_naming_the_paths_and_changing_nothing() {
    let env = finished(TestEnv::new());
    env.write("README.md", "# changed\n");
    env.write("notes.txt", "untracked\n");
    env.write("src/lib.rs", "staged\n");
    env.git(&["add", "src/lib.rs"]);
    let before = snapshot(&env);
    let out = env.gate(&["finish"]);
    assert_exit(&out, 1);
    assert_contains(
        &stderr(&out),
        &[
            "uncommitted changes",
            "README.md (modified)",
            "notes.txt (untracked)",
            "src/lib.rs (staged)",
            "git stash -u",
        ],
    );
    assert_eq!(snapshot(&env), before);
}

#[test]
fn refused_while_a_merge_is_in_progress() {
    let env = finished(TestEnv::new());
    env.git(&["switch", "-q", "main"]);
    env.write("README.md", "main's line\n");
    env.commit_all("main edits README");
    env.git(&["switch", "-q", BRANCH]);
    env.write("README.md", "feature's line\n");
    env.commit_all("feature edits README");
    assert_ne!(code(&env.git_output(&["merge", "-q", "main"])), 0);
    let out = env.gate(&["finish"]);
    assert_exit(&out, 1);
    assert_contains(&stderr(&out), &["a merge is in progress"]);
    assert_eq!(env.git(&["tag", "-l"]), "");
}

#[test]
fn fast_forward_tags_merges_and_switches_to_main() {
    let env = TestEnv::new();
    env.write(".gitignore", "*.log\n");
    env.commit_all("ignore logs");
    let env = finished(env);
    // Ignored files are not dirt.
    env.write("debug.log", "noise\n");
    let tip = rev(&env, "HEAD");
    let date = today();
    let out = env.gate(&["finish"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &[
            &format!("tagged {BRANCH} at {}", &tip[..10]),
            "stable-001-user-auth-",
            &format!("fast-forwarded main to {}", &tip[..10]),
            "HEAD is now on main",
            "next: git push origin main --follow-tags",
        ],
    );
    assert_tags(&env, &date, &[""]);
    let tag = env.git(&["tag", "-l"]);
    assert_eq!(env.git(&["cat-file", "-t", &tag]), "tag", "not annotated");
    assert_eq!(rev(&env, &format!("{tag}^{{commit}}")), tip);
    assert_eq!(
        env.git(&[
            "for-each-ref",
            "--format=%(taggername) %(taggeremail)",
            &format!("refs/tags/{tag}")
        ]),
        "Test Committer <committer@example.com>"
    );
    assert_eq!(rev(&env, "main"), tip);
    assert_eq!(env.branch(), "main");
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    assert!(env.exists("debug.log"));
    // The finish, then the switch to main it made.
    let log = stdout(&env.gate(&["log", "-n", "2"]));
    assert_contains(&log, &["finish", BRANCH, &tip[..10], &tag, "fast-forward"]);
    assert_contains(&log, &["checkout", "gate finish: from"]);
}

#[test]
fn merge_commit_when_main_moved_on() {
    let env = finished(TestEnv::new());
    let tip = rev(&env, "HEAD");
    env.git(&["switch", "-q", "main"]);
    env.write("CHANGELOG.md", "meanwhile on main\n");
    env.commit_all("main moved on");
    let old_main = rev(&env, "main");
    env.git(&["switch", "-q", BRANCH]);

    let out = env.gate(&["finish", "--json"]);
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let main = rev(&env, "main");
    assert_eq!(json["merge"], "merge-commit");
    assert_eq!(json["commit"], tip.as_str());
    assert_eq!(json["main"], "main");
    assert_eq!(json["branch"], BRANCH);
    assert_eq!(json["main_commit"], main.as_str());
    assert_eq!(json["head"], "main");
    let tag = json["tag"].as_str().expect("a tag name");
    assert_eq!(rev(&env, &format!("{tag}^{{commit}}")), tip);

    assert_eq!(
        env.git(&["rev-list", "--parents", "-n", "1", "main"]),
        format!("{main} {old_main} {tip}")
    );
    let message = env.git(&["log", "-1", "--format=%B", "main"]);
    assert_contains(
        &message,
        &[
            &format!("Merge {BRANCH} (gate finish)"),
            "Gate-Finish: 001-user-auth",
        ],
    );
    assert_eq!(
        env.git(&["log", "-1", "--format=%an|%cn", "main"]),
        "Test Author|Test Committer"
    );
    assert_eq!(env.branch(), "main");
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    assert!(env.exists("CHANGELOG.md") && env.exists("specs/001-user-auth/tasks.md"));
}

#[test]
fn a_conflict_leaves_every_ref_index_and_file_as_it_was() {
    let env = finished(TestEnv::new());
    env.write("README.md", "# the feature's title\n");
    env.commit_all("feature edits README");
    env.git(&["switch", "-q", "main"]);
    env.write("README.md", "# main's title\n");
    env.commit_all("main edits README");
    env.git(&["switch", "-q", BRANCH]);

    let before = snapshot(&env);
    let heads = env.git(&["rev-parse", "HEAD", "main"]);
    let readme = env.read_bytes("README.md");
    let out = env.gate(&["finish"]);
    assert_exit(&out, 1);
    assert_contains(
        &stderr(&out),
        &[
            &format!("merging {BRANCH} into main conflicts in 1 path"),
            "README.md",
            "nothing was changed: no tag",
            "git merge main",
        ],
    );
    assert_eq!(
        std::fs::read(env.path(".git/index")).unwrap(),
        before.index,
        "the index changed"
    );
    assert_eq!(env.git(&["rev-parse", "HEAD", "main"]), heads);
    assert_eq!(env.read_bytes("README.md"), readme);
    assert_eq!(snapshot(&env), before);
    assert!(!env.exists(".git/MERGE_HEAD"));
}

#[test]
fn a_second_finish_the_same_day_gets_a_suffix_and_never_moves_the_first_tag() {
    let env = finished(TestEnv::new());
    let date = today();
    assert_exit(&env.gate(&["finish"]), 0);
    let first = env.git(&["tag", "-l"]);
    let first_target = rev(&env, &first);
    env.git(&["switch", "-q", BRANCH]);
    env.write("docs/more.md", "a follow-up\n");
    env.commit_all("follow-up");
    let out = env.gate(&["finish", "--json"]);
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["tag"], format!("{first}-2").as_str());
    assert_eq!(json["merge"], "fast-forward");
    assert_tags(&env, &date, &["", "-2"]);
    assert_eq!(rev(&env, &first), first_target, "the first tag moved");
}

#[test]
fn no_merge_only_tags_and_stays_on_the_branch() {
    let env = finished(TestEnv::new());
    let (tip, main) = (rev(&env, "HEAD"), rev(&env, "main"));
    let date = today();
    let out = env.gate(&["finish", "--no-merge", "--json"]);
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["merge"], "none");
    assert_eq!(json["head"], BRANCH);
    assert!(json["main_commit"].is_null());
    assert_tags(&env, &date, &[""]);
    assert_eq!(rev(&env, "main"), main);
    assert_eq!(env.branch(), BRANCH);
    assert_eq!(rev(&env, "HEAD"), tip);

    let out = env.gate(&["finish", "--no-merge"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &["main left alone (--no-merge)", "git push origin stable-"],
    );
}

#[test]
fn with_no_trunk_finish_refuses_and_never_creates_one() {
    let env = finished(TestEnv::unborn());
    let out = env.gate(&["finish"]);
    assert_exit(&out, 1);
    assert_contains(
        &stderr(&out),
        &[
            "no trunk to land on",
            "exists, and gate finish never creates one. Create it",
            "<commit>), or only tag",
            "gate finish --no-merge",
        ],
    );
    assert!(
        !env.git_output(&["rev-parse", "--verify", "-q", "main"])
            .status
            .success()
    );
    assert_eq!(env.git(&["tag", "-l"]), "");
    assert_eq!(env.branch(), BRANCH);
}

#[test]
fn a_repository_whose_trunk_is_master_lands_on_master() {
    let env = TestEnv::plain();
    env.git(&["init", "-q", "-b", "master"]);
    env.write("README.md", "# on master\n");
    env.commit_all("initial commit");
    let env = finished(env);
    let tip = rev(&env, "HEAD");
    let out = env.gate(&["finish"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &["fast-forwarded master", "HEAD is now on master"],
    );
    assert_eq!(rev(&env, "master"), tip);
    assert!(
        !env.git_output(&["rev-parse", "--verify", "-q", "refs/heads/main"])
            .status
            .success(),
        "gate finish created a main beside master"
    );
}

#[test]
fn a_second_finish_of_a_landed_tip_is_refused_clearly() {
    let env = finished(TestEnv::new());
    assert_exit(&env.gate(&["finish"]), 0);
    let tags = env.git(&["tag", "-l"]);
    let main = rev(&env, "main");
    env.git(&["switch", "-q", BRANCH]);
    let out = env.gate(&["finish"]);
    assert_exit(&out, 1);
    assert_contains(
        &stderr(&out),
        &[
            "already finished",
            &tags,
            "landed on main; nothing to do (commit more work",
        ],
    );
    assert_eq!(env.git(&["tag", "-l"]), tags, "no -2 tag for the same tip");
    assert_eq!(rev(&env, "main"), main);
    assert_eq!(env.branch(), BRANCH);
}

#[test]
fn finishing_a_tip_tagged_with_no_merge_reuses_its_tag() {
    let env = finished(TestEnv::new());
    assert_exit(&env.gate(&["finish", "--no-merge"]), 0);
    let tags = env.git(&["tag", "-l"]);
    assert_exit(&env.gate(&["finish"]), 0);
    assert_eq!(env.git(&["tag", "-l"]), tags);
    assert_eq!(env.branch(), "main");
}

/// `git -C dir ARGS` with the test's identity, for a second worktree.
fn git_in(env: &TestEnv, dir: &std::path::Path, args: &[&str]) -> String {
    let mut full = vec!["-C", dir.to_str().unwrap()];
    full.extend(args);
    env.git(&full)
}

/// Regression (issue 14): an engineer finishing from its own worktree was refused because main
/// is checked out in the main checkout. Now main moves there, by git's fast-forward: that
/// checkout's files follow, its unrelated uncommitted change stays, HEAD here stays.
#[test]
fn lands_on_main_checked_out_in_another_worktree_and_keeps_its_changes() {
    let env = finished(TestEnv::new());
    let wt = env.base_dir().join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "main"]);
    std::fs::write(wt.join("notes.txt"), "a person's unsaved notes\n").unwrap();
    let tip = rev(&env, "HEAD");
    let out = env.gate(&["finish", "--json"]);
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["merge"], "fast-forward", "{report:#}");
    assert_eq!(report["head"], BRANCH, "{report:#}");
    assert_eq!(rev(&env, "main"), tip);
    assert_eq!(
        env.branch(),
        BRANCH,
        "HEAD here stays on the feature branch"
    );
    assert_eq!(
        git_in(&env, &wt, &["symbolic-ref", "HEAD"]),
        "refs/heads/main"
    );
    assert!(
        wt.join("specs/001-user-auth/spec.md").exists(),
        "its files follow"
    );
    assert_eq!(
        git_in(&env, &wt, &["status", "--porcelain"]),
        "?? notes.txt",
        "index in step, the untracked file kept"
    );
    assert_tags(&env, &today(), &[""]);
}

#[test]
fn lands_with_a_merge_commit_where_main_moved_on_in_its_own_checkout() {
    let env = finished(TestEnv::new());
    let wt = env.base_dir().join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "main"]);
    std::fs::write(wt.join("CHANGELOG.md"), "main moved on\n").unwrap();
    git_in(&env, &wt, &["add", "CHANGELOG.md"]);
    git_in(
        &env,
        &wt,
        &[
            "-c",
            "core.hooksPath=/dev/null",
            "commit",
            "-q",
            "-m",
            "changelog",
        ],
    );
    let out = env.gate(&["finish", "--json"]);
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["merge"], "merge-commit", "{report:#}");
    assert_eq!(rev(&env, "main"), report["main_commit"].as_str().unwrap());
    assert!(wt.join("specs/001-user-auth/tasks.md").exists());
    assert!(wt.join("CHANGELOG.md").exists());
    assert_eq!(git_in(&env, &wt, &["status", "--porcelain"]), "");
}

/// Its uncommitted change to a file the feature also changes would be overwritten: git
/// refuses, and gate leaves everything as it was (no tag, main and that checkout unmoved).
#[test]
fn refused_when_the_other_checkout_has_changes_in_the_way() {
    let env = finished(TestEnv::new());
    let wt = env.base_dir().join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "main"]);
    std::fs::create_dir_all(wt.join("specs/001-user-auth")).unwrap();
    std::fs::write(wt.join("specs/001-user-auth/spec.md"), "someone's draft\n").unwrap();
    let main = rev(&env, "main");
    let out = env.gate(&["finish"]);
    assert_eq!(code(&out), 1, "refused: {}", all(&out));
    assert_contains(
        &stderr(&out),
        &["main is checked out in", "nothing landed", "wt"],
    );
    assert_eq!(rev(&env, "main"), main);
    assert_eq!(env.git(&["tag", "-l"]), "", "the tag was removed again");
    assert_eq!(
        std::fs::read_to_string(wt.join("specs/001-user-auth/spec.md")).unwrap(),
        "someone's draft\n"
    );
    assert_eq!(env.branch(), BRANCH);
}

#[test]
fn after_a_fast_forward_finish_pre_push_lets_main_through_but_not_a_plain_commit() {
    let env = finished(hooked());
    bare_remote(&env);
    assert_exit(&env.gate(&["finish"]), 0);
    let out = push(&env, &env.root);
    assert_eq!(code(&out), 0, "{}", all(&out));
    let remote_tags = env.git(&["ls-remote", "--tags", "origin"]);
    assert_contains(&remote_tags, &["refs/tags/stable-001-user-auth-"]);

    env.write("README.md", "straight onto main\n");
    env.commit_all("a plain commit on main");
    let out = push(&env, &env.root);
    assert_eq!(code(&out), 1, "{}", all(&out));
    assert_contains(&stderr(&out), &["push refused", "protected branch main"]);
}

#[test]
fn after_a_merge_commit_finish_pre_push_accepts_gates_record_of_it() {
    let env = finished(hooked());
    bare_remote(&env);
    // main moves on by another finish, so this one needs a merge commit.
    env.git(&["switch", "-q", "main"]);
    env.complete_feature("Other");
    env.commit_all("feature 2");
    assert_exit(&env.gate(&["finish"]), 0);
    env.git(&["switch", "-q", BRANCH]);
    let out = env.gate(&["finish"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["merge commit", "gate recorded this merge"]);
    let out = push(&env, &env.root);
    assert_eq!(code(&out), 0, "{}", all(&out));
}

#[test]
fn a_direct_commit_under_a_merge_commit_finish_is_still_refused_by_pre_push() {
    let env = finished(hooked());
    bare_remote(&env);
    env.git(&["switch", "-q", "main"]);
    env.write("CHANGELOG.md", "straight onto main\n");
    env.commit_all("main moved on by hand");
    env.git(&["switch", "-q", BRANCH]);
    assert_exit(&env.gate(&["finish"]), 0);
    let out = push(&env, &env.root);
    assert_eq!(code(&out), 1, "{}", all(&out));
    assert_contains(&stderr(&out), &["main moved on by hand"]);
}

#[test]
fn an_ignored_file_in_the_way_keeps_head_on_the_branch_and_says_so() {
    let env = finished(TestEnv::new());
    env.write(".gitignore", "out/\n");
    env.commit_all("ignore out/");
    let tip = rev(&env, "HEAD");
    env.git(&["switch", "-q", "main"]);
    env.write("out/data.txt", "main tracks this\n");
    env.commit_all("main tracks out/data.txt");
    env.git(&["switch", "-q", BRANCH]);
    env.write("out/data.txt", "my ignored local data\n");

    let out = env.gate(&["finish"]);
    assert_exit(&out, 3);
    assert_contains(
        &stderr(&out),
        &[
            "main is merged and tagged",
            &format!("HEAD stays on {BRANCH}"),
            "would overwrite out/data.txt",
            "git switch main",
        ],
    );
    assert_contains(&stdout(&out), &["merge commit"]);
    assert_eq!(env.branch(), BRANCH);
    assert_eq!(rev(&env, "HEAD"), tip);
    assert_eq!(env.read("out/data.txt"), "my ignored local data\n");
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    assert_eq!(rev(&env, "main^2"), tip);
}

/// A commit on main in the worktree `wt` (hooks off), touching `path`.
fn commit_on(env: &TestEnv, wt: &Path, path: &str, text: &str) {
    std::fs::write(wt.join(path), text).unwrap();
    git_in(env, wt, &["add", path]);
    git_in(env, wt, &["commit", "-q", "-m", &format!("{path}: {text}")]);
}

/// Regression: run with GIT_DIR, GIT_WORK_TREE and GIT_INDEX_FILE naming this worktree (as
/// git sets them for a hook that runs gate), `git merge --ff-only` "in" the trunk's checkout
/// merged into this one instead: the feature branch was fast-forwarded to gate's merge commit,
/// then the finish was refused with "nothing landed".
#[test]
fn landing_in_the_trunks_checkout_ignores_git_dir_and_index_from_the_environment() {
    let env = finished(TestEnv::new());
    let wt = env.base_dir().join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "main"]);
    commit_on(&env, &wt, "CHANGELOG.md", "main moved on\n");
    let tip = rev(&env, "HEAD");
    let git_dir = env.path(".git");
    let index = env.path(".git/index");
    let out = env.gate_with(
        &["finish", "--json"],
        &[
            ("GIT_DIR", git_dir.to_str().unwrap()),
            ("GIT_WORK_TREE", env.root.to_str().unwrap()),
            ("GIT_INDEX_FILE", index.to_str().unwrap()),
        ],
    );
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["merge"], "merge-commit", "{report:#}");
    assert_eq!(rev(&env, BRANCH), tip, "the feature branch never moves");
    assert_eq!(env.branch(), BRANCH);
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    assert_eq!(rev(&env, "main"), report["main_commit"].as_str().unwrap());
    assert_eq!(git_in(&env, &wt, &["status", "--porcelain"]), "");
    assert!(wt.join("specs/001-user-auth/tasks.md").exists());
}

/// Regression: main being rebased in its checkout (HEAD detached there meanwhile) counted as
/// checked out nowhere: gate moved main under the rebase and switched this worktree to main,
/// and the rebase could then not finish ("cannot lock ref 'refs/heads/main'").
#[test]
fn refused_while_main_is_being_rebased_in_its_checkout() {
    let env = finished(TestEnv::new());
    let wt = env.base_dir().join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "main"]);
    git_in(&env, &wt, &["branch", "side"]);
    commit_on(&env, &wt, "CHANGELOG.md", "on main\n");
    git_in(&env, &wt, &["switch", "-q", "side"]);
    commit_on(&env, &wt, "CHANGELOG.md", "on side\n");
    git_in(&env, &wt, &["switch", "-q", "main"]);
    let rebase = env.git_output_at(&wt, &["rebase", "side"]);
    assert!(!rebase.status.success(), "the rebase stops on its conflict");
    let (main, before) = (rev(&env, "main"), snapshot(&env));

    let out = env.gate(&["finish"]);
    assert_eq!(code(&out), 1, "refused: {}", all(&out));
    assert_contains(
        &stderr(&out),
        &["a rebase is in progress", "wt", "nothing landed"],
    );
    assert_eq!(rev(&env, "main"), main);
    assert_eq!(
        snapshot(&env),
        before,
        "no tag; HEAD, index and files here as they were"
    );
    // The person's rebase still ends normally.
    std::fs::write(wt.join("CHANGELOG.md"), "resolved\n").unwrap();
    git_in(&env, &wt, &["add", "CHANGELOG.md"]);
    let cont = env.git_output_at(&wt, &["-c", "core.editor=true", "rebase", "--continue"]);
    assert!(
        cont.status.success(),
        "{}",
        String::from_utf8_lossy(&cont.stderr)
    );
    assert_eq!(
        git_in(&env, &wt, &["symbolic-ref", "HEAD"]),
        "refs/heads/main"
    );
}

/// Regression: with main checked out in two other worktrees (`git worktree add -f`), gate
/// moved it in one and left the other's index on the old commit: there the feature showed as
/// reverted and staged, one `git commit` away from undoing it.
#[test]
fn refused_when_main_is_checked_out_in_two_other_worktrees() {
    let env = finished(TestEnv::new());
    let (a, b) = (env.base_dir().join("a"), env.base_dir().join("b"));
    env.git(&["worktree", "add", "-q", a.to_str().unwrap(), "main"]);
    env.git(&["worktree", "add", "-q", "-f", b.to_str().unwrap(), "main"]);
    let (main, before) = (rev(&env, "main"), snapshot(&env));

    let out = env.gate(&["finish"]);
    assert_eq!(code(&out), 1, "refused: {}", all(&out));
    assert_contains(
        &stderr(&out),
        &[
            "main is checked out in 2 worktrees",
            "switch --detach",
            "nothing was changed",
        ],
    );
    assert_eq!(rev(&env, "main"), main);
    assert_eq!(snapshot(&env), before);
    for wt in [&a, &b] {
        assert_eq!(git_in(&env, wt, &["status", "--porcelain"]), "");
    }
}

/// Regression: a tag `<name>/...` (git then cannot make `<name>`) failed the finish with a
/// git error (exit 3); it is taken like an existing tag: the next suffix.
#[test]
fn a_tag_folder_of_the_same_name_gets_the_next_suffix() {
    let env = finished(TestEnv::new());
    let name = format!("stable-001-user-auth-{}", today());
    env.git(&["tag", &format!("{name}/old"), "main"]);
    let out = env.gate(&["finish", "--json"]);
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tag"], format!("{name}-2"), "{report:#}");
}

/// Regression: refused in the trunk's checkout after a `--no-merge` finish, gate said "the tag
/// was removed again" while (rightly) keeping the tag that earlier finish made.
#[test]
fn refused_in_the_trunks_checkout_after_no_merge_says_the_earlier_tag_stays() {
    let env = finished(TestEnv::new());
    assert_exit(&env.gate(&["finish", "--no-merge"]), 0);
    let tags = env.git(&["tag", "-l"]);
    let wt = env.base_dir().join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "main"]);
    std::fs::create_dir_all(wt.join("specs/001-user-auth")).unwrap();
    std::fs::write(wt.join("specs/001-user-auth/spec.md"), "someone's draft\n").unwrap();
    let out = env.gate(&["finish"]);
    assert_eq!(code(&out), 1, "refused: {}", all(&out));
    assert_contains(
        &stderr(&out),
        &[
            &format!("the tag {tags} of an earlier finish stays"),
            "nothing landed",
        ],
    );
    assert_lacks(&stderr(&out), &["removed"]);
    assert_eq!(env.git(&["tag", "-l"]), tags);
}

/// Regression: `git merge --ff-only` overwrites ignored files by default: an ignored file in
/// the trunk's checkout where the feature adds a tracked one (a person's local data) was
/// silently replaced, and gate said "its uncommitted changes were kept".
#[test]
fn an_ignored_file_in_the_trunks_checkout_is_never_overwritten() {
    let env = finished(TestEnv::new());
    env.write("out/data.txt", "the feature tracks this\n");
    env.git(&["add", "-f", "out/data.txt"]);
    env.git(&["commit", "-q", "-m", "track out/data.txt"]);
    let wt = env.base_dir().join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "main"]);
    commit_on(&env, &wt, ".gitignore", "out/\n");
    std::fs::create_dir_all(wt.join("out")).unwrap();
    std::fs::write(wt.join("out/data.txt"), "my ignored local data\n").unwrap();
    let main = rev(&env, "main");
    let out = env.gate(&["finish"]);
    assert_eq!(code(&out), 1, "refused: {}", all(&out));
    assert_contains(&stderr(&out), &["out/data.txt", "nothing landed"]);
    assert_eq!(
        std::fs::read_to_string(wt.join("out/data.txt")).unwrap(),
        "my ignored local data\n"
    );
    assert_eq!(rev(&env, "main"), main);
    assert_eq!(env.git(&["tag", "-l"]), "");
}

/// Regression: with `merge.autoStash` set, git stashed the trunk checkout's changes in the way,
/// fast-forwarded, and put them back with conflict markers (the change in a stash, the file
/// unmerged) while gate said they were kept. Now they refuse the landing, untouched.
#[test]
fn merge_autostash_never_takes_the_trunk_checkouts_changes() {
    let env = finished(TestEnv::new());
    env.git(&["config", "merge.autoStash", "true"]);
    let wt = env.base_dir().join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "main"]);
    std::fs::write(wt.join("README.md"), "someone's edit\n").unwrap();
    env.write("README.md", "the feature's README\n");
    env.git(&["commit", "-q", "-am", "README"]);
    let main = rev(&env, "main");
    let out = env.gate(&["finish"]);
    assert_eq!(code(&out), 1, "refused: {}", all(&out));
    assert_contains(&stderr(&out), &["README.md", "nothing landed"]);
    assert_eq!(
        std::fs::read_to_string(wt.join("README.md")).unwrap(),
        "someone's edit\n"
    );
    assert_eq!(
        git_in(&env, &wt, &["status", "--porcelain"]),
        " M README.md"
    );
    assert_eq!(git_in(&env, &wt, &["stash", "list"]), "");
    assert_eq!(rev(&env, "main"), main);
}

/// Regression: main moving in its checkout between gate's check and git's fast-forward there
/// (another engineer's finish landing first; two finishes at once hit it on the first try)
/// was reported as git's "Not possible to fast-forward" with "commit or move the changes in
/// the way" as the fix. Now it says main moved and to run gate finish again (exit 1). A `git`
/// first on PATH moves main just before gate's `merge --ff-only` runs.
#[test]
fn main_moving_in_its_checkout_during_the_landing_says_to_finish_again() {
    use std::os::unix::fs::PermissionsExt;
    let env = finished(TestEnv::new());
    let wt = env.base_dir().join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "main"]);
    let path = std::env::var("PATH").unwrap();
    let real = std::env::split_paths(&path)
        .map(|d| d.join("git"))
        .find(|g| g.is_file())
        .expect("git on PATH");
    let bin = env.base_dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("git");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \" $* \" in *\" merge --ff-only \"*) \
             {real} -C {wt} -c core.hooksPath=/dev/null commit -q --allow-empty -m meanwhile ;; esac\n\
             exec {real} \"$@\"\n",
            real = real.display(),
            wt = wt.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tip = rev(&env, "HEAD");
    let out = env.gate_with(
        &["finish"],
        &[("PATH", &format!("{}:{path}", bin.display()))],
    );
    assert_eq!(code(&out), 1, "refused: {}", all(&out));
    assert_contains(
        &stderr(&out),
        &[
            "main moved while gate finish was landing",
            "run `gate finish` again",
        ],
    );
    assert_lacks(&stderr(&out), &["changes in the way"]);
    assert_eq!(
        git_in(&env, &wt, &["log", "-1", "--format=%s", "main"]),
        "meanwhile"
    );
    assert_eq!(env.git(&["tag", "-l"]), "", "the tag was removed again");
    assert_eq!(rev(&env, BRANCH), tip);
    assert_eq!(env.branch(), BRANCH);
}
