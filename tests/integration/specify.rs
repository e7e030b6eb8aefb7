//! `gate specify`: branch, numbering, slug, spec.md, and everything it must refuse.

use crate::env::{TestEnv, all, assert_contains, assert_exit, code, stderr, stdout};

#[test]
fn specify_creates_the_branch_and_the_spec() {
    let env = TestEnv::new();
    let out = env.gate(&["specify", "User auth"]);
    assert_exit(&out, 0);
    assert_eq!(env.branch(), "feature/001-user-auth");
    assert_contains(
        &stdout(&out),
        &[
            "switched to new branch feature/001-user-auth",
            "wrote specs/001-user-auth/spec.md",
            "gate plan",
        ],
    );
    let spec = env.read("specs/001-user-auth/spec.md");
    assert_contains(
        &spec,
        &[
            "# Feature Specification: User auth",
            "**Feature**: 001",
            "`feature/001-user-auth`",
        ],
    );
    for token in ["{{feature}}", "{{branch}}", "{{number}}", "{{date}}"] {
        assert!(!spec.contains(token), "{token} left in the spec:\n{spec}");
    }
    // The date is today's, YYYY-MM-DD.
    let created = spec.split("**Created**: ").nth(1).expect("a Created field");
    let date: String = created.chars().take(10).collect();
    assert!(
        date.len() == 10
            && date.chars().enumerate().all(|(i, c)| if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }),
        "date {date:?}"
    );
    // The new branch starts at main's commit: nothing was committed.
    assert_eq!(
        env.git(&["rev-parse", "HEAD"]),
        env.git(&["rev-parse", "main"])
    );
    // The spec is a fresh, untracked file.
    assert_eq!(env.git(&["status", "--porcelain"]), "?? specs/");
}

#[test]
fn specify_uses_the_repository_template_when_present() {
    let env = TestEnv::new();
    env.write(
        "spec-kit/templates/spec-template.md",
        "# Team spec: {{feature}} ({{number}}, {{branch}})\n\n## Why *(mandatory)*\n\n{{reason}}\n",
    );
    assert_exit(&env.gate(&["specify", "Dark mode"]), 0);
    assert_eq!(
        env.read("specs/001-dark-mode/spec.md"),
        "# Team spec: Dark mode (001, feature/001-dark-mode)\n\n## Why *(mandatory)*\n\n{{reason}}\n"
    );
}

#[test]
fn specify_works_in_a_repository_without_commits() {
    let env = TestEnv::unborn();
    let out = env.gate(&["specify", "User auth"]);
    assert_exit(&out, 0);
    assert_eq!(
        env.git(&["symbolic-ref", "HEAD"]),
        "refs/heads/feature/001-user-auth"
    );
    assert!(env.exists("specs/001-user-auth/spec.md"));
    let check = env.gate(&["check"]);
    assert_exit(&check, 1);
    assert_contains(
        &stdout(&check),
        &[
            "feature/001-user-auth (no commits yet)",
            "[implementation-gate]",
        ],
    );
    // The first commit lands on the feature branch; main was never born.
    env.commit_all("spec");
    assert_eq!(
        env.git(&["branch", "--format=%(refname:short)"]),
        "feature/001-user-auth"
    );
}

#[test]
fn staged_and_unstaged_changes_survive_the_switch() {
    let env = TestEnv::new();
    env.write("a.txt", "a1\n");
    env.write("b.txt", "b1\n");
    env.write("gone.txt", "bye\n");
    env.commit_all("files");
    env.write("a.txt", "a2 staged\n");
    env.git(&["add", "a.txt"]);
    env.write("a.txt", "a3 staged then edited\n");
    env.write("b.txt", "b2 unstaged\n");
    env.git(&["rm", "-q", "--cached", "gone.txt"]);
    env.write("new-staged.txt", "new\n");
    env.git(&["add", "new-staged.txt"]);
    env.write("untracked.txt", "u\n");

    let status = env.git(&["status", "--porcelain", "--untracked-files=all"]);
    let cached = env.git(&["diff", "--cached"]);
    let unstaged = env.git(&["diff"]);

    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    assert_eq!(env.branch(), "feature/001-user-auth");
    let status_after = env.git(&["status", "--porcelain", "--untracked-files=all"]);
    let expected: Vec<&str> = status
        .lines()
        .chain(["?? specs/001-user-auth/spec.md"])
        .collect();
    let mut expected = expected.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    expected.sort();
    let mut got: Vec<String> = status_after.lines().map(str::to_owned).collect();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(env.git(&["diff", "--cached"]), cached);
    assert_eq!(env.git(&["diff"]), unstaged);
    assert_eq!(env.read("a.txt"), "a3 staged then edited\n");
    assert_eq!(env.read("b.txt"), "b2 unstaged\n");
    assert_eq!(env.read("gone.txt"), "bye\n");
    assert_eq!(env.read("untracked.txt"), "u\n");
}

#[test]
fn numbering_counts_local_branches_with_any_prefix() {
    let env = TestEnv::new();
    env.git(&["branch", "alice/004-x"]);
    env.git(&["branch", "002-bare"]);
    env.git(&["branch", "release/v9"]);
    env.write("specs/003-old/spec.md", "# old\n");
    assert_exit(&env.gate(&["specify", "Next thing"]), 0);
    assert_eq!(env.branch(), "feature/005-next-thing");
    assert!(env.exists("specs/005-next-thing/spec.md"));
}

#[test]
fn numbering_counts_spec_directories_and_ignores_files() {
    let env = TestEnv::new();
    env.write("specs/007-y/spec.md", "# y\n");
    env.write("specs/099-notes.md", "a file, not a feature\n");
    env.write("specs/README.md", "index\n");
    env.git(&["branch", "feature/002-z"]);
    assert_exit(&env.gate(&["specify", "Next"]), 0);
    assert_eq!(env.branch(), "feature/008-next");
}

#[test]
fn second_feature_after_the_first_gets_the_next_number() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["specify", "First"]), 0);
    env.commit_all("first spec");
    env.git(&["switch", "-q", "main"]);
    // specs/001-first is not in main's tree; the branch alone keeps the number taken.
    assert!(!env.exists("specs/001-first"));
    assert_exit(&env.gate(&["specify", "Second"]), 0);
    assert_eq!(env.branch(), "feature/002-second");
}

#[test]
fn empty_prefix_gives_spec_kit_bare_branches() {
    let env = TestEnv::new();
    env.write(".gate.toml", "[branches]\nfeature_prefix = \"\"\n");
    env.commit_all("config");
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    assert_eq!(env.branch(), "001-user-auth");
    assert!(env.exists("specs/001-user-auth/spec.md"));
    let check = env.gate(&["check"]);
    assert_contains(
        &stdout(&check),
        &["gate check: 001-user-auth (branch 001-user-auth)"],
    );
}

#[test]
fn other_spec_dir_is_honoured() {
    let env = TestEnv::new();
    env.write(".gate.toml", "[spec]\ndir = \"docs/features\"\n");
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    assert!(env.exists("docs/features/001-user-auth/spec.md"));
    assert!(!env.exists("specs"));
}

/// A name gives a clean slug (lowercase ASCII words joined by `-`) or a usage error; never a
/// panic, never an I/O failure, never a file outside the feature directory.
#[track_caller]
fn assert_clean_or_usage_error(name: &str) {
    let env = TestEnv::new();
    let out = env.gate(&["specify", "--", name]);
    match code(&out) {
        0 => {
            let branch = env.branch();
            let slug_dir = branch
                .strip_prefix("feature/")
                .unwrap_or_else(|| panic!("{name:?} -> branch {branch:?}"));
            let slug = slug_dir
                .strip_prefix("001-")
                .unwrap_or_else(|| panic!("{name:?} -> branch {branch:?}"));
            assert!(
                !slug.is_empty()
                    && slug.split('-').all(|w| !w.is_empty()
                        && w.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
                "{name:?} gave the unclean slug {slug:?}"
            );
            assert!(
                slug_dir.len() <= 80,
                "{name:?} gave a {}-byte branch component",
                slug_dir.len()
            );
            assert!(env.exists(&format!("specs/{slug_dir}/spec.md")));
            let listing = env.git(&["status", "--porcelain", "--untracked-files=all"]);
            assert_eq!(listing, format!("?? specs/{slug_dir}/spec.md"), "{name:?}");
        }
        2 => {
            assert!(
                stderr(&out).starts_with("error: "),
                "{name:?}: {}",
                stderr(&out)
            );
            assert_eq!(env.branch(), "main", "{name:?} refused but switched branch");
            assert!(!env.exists("specs"), "{name:?} refused but wrote specs/");
        }
        other => panic!("{name:?}: exit {other}\n{}", all(&out)),
    }
    // Nothing escaped the repository.
    let mut outside: Vec<String> = std::fs::read_dir(env.base_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    outside.sort();
    assert_eq!(
        outside,
        ["cache", "config", "data", "home", "repo", "state"],
        "{name:?}"
    );
}

#[test]
fn hostile_and_odd_names_give_clean_slugs_or_usage_errors() {
    for name in [
        "../;$(rm -rf x)",
        "../../etc/passwd",
        "a/b\\c:d*e?f",
        "über café",
        "日本語",
        "",
        "   ",
        "---",
        "-rf",
        "refs/heads/main",
        "x.lock",
        "Add: OAuth2 / SSO login!! v2 now please",
        "emoji 🚀 launch",
        "tab\there\nnewline",
    ] {
        assert_clean_or_usage_error(name);
    }
}

#[test]
fn specific_slugs() {
    let cases = [
        ("../;$(rm -rf x)", "feature/001-rm-rf-x"),
        (
            "Add: OAuth2 / SSO login!! v2 now please",
            "feature/001-add-oauth2-sso-login-v2",
        ),
        ("  User   AUTH  ", "feature/001-user-auth"),
    ];
    for (name, branch) in cases {
        let env = TestEnv::new();
        assert_exit(&env.gate(&["specify", name]), 0);
        assert_eq!(env.branch(), branch, "{name:?}");
    }
}

#[test]
fn names_without_letters_or_digits_are_usage_errors() {
    for name in ["日本語", "", "  ", "!!!"] {
        let env = TestEnv::new();
        let out = env.gate(&["specify", name]);
        assert_exit(&out, 2);
        assert_contains(&stderr(&out), &["no usable branch name"]);
        assert_eq!(env.branch(), "main");
    }
}

#[test]

fn very_long_names_are_shortened_or_refused() {
    assert_clean_or_usage_error(&"x".repeat(300));
    assert_clean_or_usage_error(&"supercalifragilistic".repeat(12));
}

#[test]
fn numbering_skips_numbers_taken_by_branches_with_any_prefix() {
    // Every existing feature branch's number is counted, whatever its prefix, so the branch
    // gate creates never already exists: "feat-001-user-auth" pushes the new one to 002.
    let env = TestEnv::new();
    env.write(".gate.toml", "[branches]\nfeature_prefix = \"feat-\"\n");
    env.commit_all("config");
    env.git(&["branch", "feat-001-user-auth"]);
    let out = env.gate(&["specify", "User auth"]);
    assert_exit(&out, 0);
    assert_eq!(env.branch(), "feat-002-user-auth");
}

#[test]

fn prefix_without_slash_names_a_feature_gate_recognises() {
    let env = TestEnv::new();
    env.write(".gate.toml", "[branches]\nfeature_prefix = \"feat-\"\n");
    env.commit_all("config");
    let config = env.gate(&["config"]);
    if config.status.code() == Some(2) {
        return; // refusing such a prefix up front is also correct
    }
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    assert_eq!(env.branch(), "feat-001-user-auth");
    let check = env.gate(&["check"]);
    assert_contains(&stdout(&check), &["gate check: 001-user-auth"]);
    // ...and the number is taken for the next feature.
    env.commit_all("spec");
    env.git(&["switch", "-q", "main"]);
    assert_exit(&env.gate(&["specify", "Second"]), 0);
    assert_eq!(env.branch(), "feat-002-second");
}

#[test]

fn branch_named_like_the_prefix_is_a_clear_refusal() {
    let env = TestEnv::new();
    env.git(&["branch", "feature"]);
    let out = env.gate(&["specify", "User auth"]);
    assert_exit(&out, 1);
    assert_contains(&stderr(&out), &["feature"]);
    assert_eq!(env.branch(), "main");
}

#[test]
fn specify_is_refused_during_a_merge() {
    let env = TestEnv::new();
    env.write("f.txt", "base\n");
    env.commit_all("base");
    env.git(&["switch", "-q", "-c", "other"]);
    env.write("f.txt", "other\n");
    env.commit_all("other");
    env.git(&["switch", "-q", "main"]);
    env.write("f.txt", "main\n");
    env.commit_all("main");
    let merge = env.git_output(&["merge", "other"]);
    assert!(
        !merge.status.success(),
        "the merge was expected to conflict"
    );
    assert!(env.root.join(".git/MERGE_HEAD").exists());

    let out = env.gate(&["specify", "User auth"]);
    assert_exit(&out, 1);
    let err = stderr(&out).to_lowercase();
    assert_contains(&err, &["merge", "in progress", "abort"]);
    assert_eq!(env.branch(), "main");
    assert!(!env.exists("specs"));
    assert!(
        env.root.join(".git/MERGE_HEAD").exists(),
        "the merge state was disturbed"
    );
}

#[test]
fn specify_is_refused_during_a_cherry_pick() {
    let env = TestEnv::new();
    env.write("f.txt", "base\n");
    env.commit_all("base");
    env.git(&["switch", "-q", "-c", "other"]);
    env.write("f.txt", "other\n");
    env.commit_all("other");
    env.git(&["switch", "-q", "main"]);
    env.write("f.txt", "main\n");
    env.commit_all("main");
    assert!(!env.git_output(&["cherry-pick", "other"]).status.success());
    let out = env.gate(&["specify", "User auth"]);
    assert_exit(&out, 1);
    assert_contains(&stderr(&out).to_lowercase(), &["in progress"]);
    assert_eq!(env.branch(), "main");
}

#[test]
fn specify_without_a_name_writes_the_spec_of_the_current_branch() {
    let env = TestEnv::new();
    env.git(&["switch", "-q", "-c", "feature/007-x"]);
    let out = env.gate(&["specify"]);
    assert_exit(&out, 0);
    assert_eq!(env.branch(), "feature/007-x");
    let spec = env.read("specs/007-x/spec.md");
    assert_contains(&spec, &["`feature/007-x`", "**Feature**: 007"]);
    assert_contains(&stdout(&out), &["wrote specs/007-x/spec.md"]);
}

#[test]
fn specify_without_a_name_on_a_team_prefixed_branch() {
    let env = TestEnv::new();
    env.git(&["switch", "-q", "-c", "alice/012-search"]);
    assert_exit(&env.gate(&["specify"]), 0);
    assert!(env.exists("specs/012-search/spec.md"));
}

#[test]
fn specify_without_a_name_off_a_feature_branch_is_refused() {
    let env = TestEnv::new();
    let out = env.gate(&["specify"]);
    assert_exit(&out, 1);
    assert_contains(
        &stderr(&out),
        &["branch main names no feature", "gate specify \"<name>\""],
    );
    assert!(!env.exists("specs"));

    env.git(&["checkout", "-q", "--detach"]);
    let out = env.gate(&["specify"]);
    assert_exit(&out, 1);
    assert_contains(&stderr(&out), &["detached"]);
}

#[test]
fn existing_spec_is_refused_and_force_keeps_a_backup() {
    let env = TestEnv::new();
    env.git(&["switch", "-q", "-c", "feature/007-x"]);
    let old = "# my precious spec\n\nhand written \u{2014} do not lose\n";
    env.write("specs/007-x/spec.md", old);

    let out = env.gate(&["specify"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert_contains(&err, &["specs/007-x/spec.md already exists", "--force"]);
    assert_eq!(env.read("specs/007-x/spec.md"), old);
    assert!(!env.exists("specs/007-x/spec.md.bak"));

    let out = env.gate(&["specify", "--force"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["spec.md.bak", "wrote specs/007-x/spec.md"]);
    assert_eq!(env.read("specs/007-x/spec.md.bak"), old);
    assert_contains(
        &env.read("specs/007-x/spec.md"),
        &["# Feature Specification: 007-x"],
    );

    // A second --force never overwrites the first backup.
    env.write("specs/007-x/spec.md", "second version\n");
    assert_exit(&env.gate(&["specify", "--force"]), 0);
    assert_eq!(env.read("specs/007-x/spec.md.bak"), old);
    assert_eq!(env.read("specs/007-x/spec.md.bak.1"), "second version\n");
}

#[test]
fn specify_outside_a_repository_is_a_usage_error() {
    let env = TestEnv::outside_any_repo();
    let out = env.gate(&["specify", "User auth"]);
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), &["git init"]);
}

#[test]

fn unreadable_template_fails_before_switching_and_names_the_file() {
    let env = TestEnv::new();
    env.write_bytes(
        "spec-kit/templates/spec-template.md",
        b"# \xff broken {{feature}}\n",
    );
    env.commit_all("broken template");
    let out = env.gate(&["specify", "User auth"]);
    assert_ne!(code(&out), 0);
    assert_contains(&stderr(&out), &["spec-kit/templates/spec-template.md"]);
    assert_eq!(env.branch(), "main", "failed, yet switched branch");
    assert!(
        env.git(&["branch", "--list", "feature/*"]).is_empty(),
        "failed, yet created a branch"
    );
}

#[test]
fn specify_worktree_puts_the_branch_in_a_new_worktree_and_leaves_this_checkout_alone() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init", "--no-hooks"]), 0);
    env.commit_all("init");
    env.write("scratch.txt", "uncommitted\n");
    let out = env.gate(&["specify", "User auth", "--worktree"]);
    assert_exit(&out, 0);
    let wt = env.base_dir().join("repo-worktrees/001-user-auth");
    assert_contains(
        &stdout(&out),
        &[
            "new branch feature/001-user-auth in a new worktree",
            "wrote specs/001-user-auth/spec.md",
            &format!("cd {}", wt.display()),
        ],
    );
    assert_eq!(env.branch(), "main");
    assert_eq!(env.read("scratch.txt"), "uncommitted\n");
    assert!(
        !env.exists("specs/001-user-auth"),
        "the spec went to this checkout"
    );
    assert!(wt.join("specs/001-user-auth/spec.md").is_file());
    assert_eq!(
        env.git_in(&wt, &["branch", "--show-current"]),
        "feature/001-user-auth"
    );

    // Numbering counts the other worktree's uncommitted spec directory and every branch; an
    // explicit directory is relative to where gate runs.
    let out = env.gate_in(&wt, &["specify", "Billing", "--worktree", "../billing"]);
    assert_exit(&out, 0);
    let billing = env.base_dir().join("repo-worktrees/billing");
    assert!(
        billing.join("specs/002-billing/spec.md").is_file(),
        "{}",
        stdout(&out)
    );

    // An occupied directory is refused before anything is created.
    let out = env.gate(&["specify", "Search", "--worktree", "repo-worktrees-x"]);
    assert_exit(&out, 0);
    let out = env.gate(&["specify", "Search again", "--worktree", "repo-worktrees-x"]);
    assert_eq!(code(&out), 1, "{}", all(&out));
    assert_contains(
        &stderr(&out),
        &["already exists; name an empty or new directory"],
    );
    assert!(
        !env.git(&["branch", "--list", "feature/004-search-again"])
            .contains("004")
    );
}
