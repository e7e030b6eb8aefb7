//! `gate verify`: tasks.md against git. A task ticked as done whose named file has no change on
//! the feature branch is reported, at its line, and makes the exit code 1.

use crate::env::{TestEnv, all, assert_contains, assert_exit, assert_lacks, stdout};

const BRANCH: &str = "feature/001-user-auth";
const TASKS: &str = "specs/001-user-auth/tasks.md";

/// On feature/001-user-auth with spec, plan and a tasks.md of our own, all committed, plus a
/// committed src/auth.rs. The tasks name changed, unchanged and prose-only paths.
fn feature_with_tasks() -> TestEnv {
    let env = TestEnv::new();
    env.write("tests/old_test.py", "# on main before the feature\n");
    env.commit_all("a test file on main");
    env.complete_feature("User auth");
    env.write(
        TASKS,
        "# Tasks: User auth\n\n\
         ## Phase 1\n\n\
         - [x] T001 Create the session type in src/auth.rs\n\
         - [x] T002 [P] Login tests in `tests/auth_test.py`\n\
         - [ ] T003 Document it in docs/auth.md\n\
         - [X] T004 Mention it in README.md\n\
         - [x] T005 Use read/write locks, see https://example.com/locks/guide.md\n\
         - [x] T006 Extend tests/old_test.py\n\n\
         ```\n- [x] T099 src/in_code_block.rs\n```\n",
    );
    env.write("src/auth.rs", "pub struct Session;\n");
    env.commit_all("spec, plan, tasks and the session type");
    env
}

fn line(task: &str) -> usize {
    // Lines of the tasks.md above: the heading block takes four.
    match task {
        "T001" => 5,
        "T002" => 6,
        "T004" => 8,
        "T006" => 10,
        other => panic!("no line for {other}"),
    }
}

#[test]
fn verify_reports_checked_tasks_whose_files_never_changed() {
    let env = feature_with_tasks();
    let out = env.gate(&["verify"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            "tasks: 5/6 done",
            &format!(
                "{TASKS}:{}: T002 is checked but tests/auth_test.py has no change on {BRANCH}",
                line("T002")
            ),
            &format!(
                "{TASKS}:{}: T004 is checked but README.md has no change on {BRANCH}",
                line("T004")
            ),
            &format!(
                "{TASKS}:{}: T006 is checked but tests/old_test.py has no change on {BRANCH}",
                line("T006")
            ),
        ],
    );
    // Changed, unchecked, prose, URLs and code blocks are never lies.
    assert_lacks(
        &text,
        &[
            "T001 is",
            "T003",
            "read/write",
            "example.com",
            "T099",
            "T005 is",
        ],
    );
}

#[test]
fn verify_json_has_the_documented_schema() {
    let env = feature_with_tasks();
    let out = env.gate(&["verify", "--json"]);
    assert_exit(&out, 1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["feature"], "001-user-auth");
    assert_eq!(v["branch"], BRANCH);
    assert_eq!(v["done"], 5);
    assert_eq!(v["total"], 6);
    assert_eq!(
        v["base"].as_str().unwrap(),
        env.git(&["merge-base", "main", BRANCH])
    );
    let lies: Vec<(u64, &str, &str)> = v["lies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["id"].as_str().unwrap(),
                l["path"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lies,
        vec![
            (line("T002") as u64, "T002", "tests/auth_test.py"),
            (line("T004") as u64, "T004", "README.md"),
            (line("T006") as u64, "T006", "tests/old_test.py"),
        ]
    );
}

#[test]
fn uncommitted_changes_in_the_working_tree_count() {
    let env = feature_with_tasks();
    env.write("tests/auth_test.py", "def test_login(): pass\n");
    env.git(&["add", "tests/auth_test.py"]);
    env.write("README.md", "# test project\n\nNow with auth.\n");
    std::fs::remove_file(env.path("tests/old_test.py")).unwrap();
    let out = env.gate(&["verify"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &[
            "tasks: 5/6 done",
            "every checked task that names a file changed it",
        ],
    );
}

#[test]
fn verify_a_feature_from_main_reads_its_branch_and_ignores_main_s_working_tree() {
    let env = feature_with_tasks();
    env.git(&["checkout", "-q", "main"]);
    // Uncommitted on main: not the feature's work.
    env.write("tests/auth_test.py", "x\n");
    let out = env.gate(&["verify", "--feature", "001"]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            "tasks: 5/6 done",
            &format!("T002 is checked but tests/auth_test.py has no change on {BRANCH}"),
        ],
    );
}

#[test]
fn a_feature_merged_into_main_is_measured_from_where_it_forked() {
    let env = feature_with_tasks();
    env.git(&["checkout", "-q", "main"]);
    env.write("main-only.txt", "main moved on\n");
    env.commit_all("main moves on");
    env.git(&[
        "merge",
        "-q",
        "--no-ff",
        "--no-verify",
        "-m",
        "land it",
        BRANCH,
    ]);
    let out = env.gate(&["verify", "--feature", "001-user-auth", "--json"]);
    assert_exit(&out, 1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v["lies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["T002", "T004", "T006"], "{v}");
}

#[test]
fn all_checked_work_done_exits_zero() {
    let env = TestEnv::new();
    env.complete_feature("User auth");
    env.write(
        TASKS,
        "- [x] T001 Add src/lib.rs\n- [ ] T002 Add src/later.rs\n",
    );
    env.write("src/lib.rs", "\n");
    env.commit_all("work");
    let out = env.gate(&["verify"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["tasks: 1/2 done"]);
    let v: serde_json::Value =
        serde_json::from_slice(&env.gate(&["verify", "--json"]).stdout).unwrap();
    assert_eq!(v["lies"], serde_json::json!([]));
}

#[test]
fn verify_without_a_feature_says_how_to_name_one() {
    let env = TestEnv::new();
    let out = env.gate(&["verify"]);
    assert_exit(&out, 1);
    assert_contains(&all(&out), &["no feature to verify", "--feature"]);
}

/// On feature/001-user-auth with a tasks.md whose checked tasks read paths, name bare files,
/// carry letter suffixes and are mentioned outside the task list.
fn feature_with_reading_tasks() -> TestEnv {
    let env = TestEnv::new();
    env.write(".qa/README.md", "QA notes\n");
    env.write("docs/contract.md", "# Contract\n");
    env.commit_all("qa and docs on main");
    env.complete_feature("User auth");
    env.write(
        TASKS,
        "# Tasks: User auth\n\n\
         - [x] T001 Implement login in src/auth.rs per the contract in specs/001-user-auth/plan.md\n\
         - [x] T002 Check that `.qa/` exists before the release\n\
         - [x] T003 Write the handler following docs/contract.md\n\
         - [x] T003A Add CHANGELOG.md entry\n\
         - [x] T003b Update session.rs for expiry\n\n\
         ## Dependencies\n\n\
         - T003 and T003A can run in parallel\n\
         - **T001** is the core task\n",
    );
    env.write("src/auth.rs", "pub struct Session;\n");
    env.write("src/auth/session.rs", "pub fn expire() {}\n");
    env.commit_all("tasks and the work");
    env
}

/// Regression: "per the contract in specs/.../x.md" and "`.qa/` exists" were reported as
/// never changed; a bare file name that does not exist passed silently; T003A and T003b
/// were skipped and mentions were counted as tasks.
#[test]
fn read_only_paths_pass_bare_names_must_change_and_suffixed_ids_count() {
    let env = feature_with_reading_tasks();
    let out = env.gate(&["verify", "--json"]);
    assert_exit(&out, 1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["done"].as_u64(), v["total"].as_u64()),
        (Some(5), Some(5))
    );
    let lies: Vec<(&str, &str)> = v["lies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["id"].as_str().unwrap(), l["path"].as_str().unwrap()))
        .collect();
    assert_eq!(lies, vec![("T003A", "CHANGELOG.md")], "{}", all(&out));

    env.write("CHANGELOG.md", "- auth\n");
    let out = env.gate(&["verify"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["tasks: 5/5 done"]);
}
