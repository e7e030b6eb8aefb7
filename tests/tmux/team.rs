//! `gate team`: up (worktrees, windows, marks, one brief per agent), status (alive or dead),
//! down (work preserved, no process left), against a real tmux server, real linked worktrees
//! and fake agents that record every line they receive.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::server::{Server, stderr, stdout, wait_for};

/// A fake agent CLI: says it is ready, records its pid, then appends every line it receives
/// to the file named by its first argument.
const FAKE_AGENT: &str = r#"#!/bin/sh
out="$1"
echo $$ > "$out.pid"
stty -icanon -isig -ixon
printf 'fake agent ready\n'
while IFS= read -r line; do printf '%s\n' "$line" >> "$out"; done
"#;

/// A team in `<temp>/work` (a git repository with one commit on main); stops the watcher
/// `team up` started when the test ends.
struct Team<'s> {
    server: &'s Server,
    root: PathBuf,
}

impl Drop for Team<'_> {
    fn drop(&mut self) {
        let _ = self
            .server
            .gate(&["watch", "--stop"])
            .current_dir(&self.root)
            .output();
    }
}

impl<'s> Team<'s> {
    fn new(server: &'s Server) -> Team<'s> {
        let root = server.dir().join("work").canonicalize().unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["commit", "-q", "--allow-empty", "-m", "initial"]);
        let fake = server.dir().join("fake-agent");
        std::fs::write(&fake, FAKE_AGENT).unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        Team { server, root }
    }

    /// The command line of the fake agent `name`.
    fn agent(&self, name: &str) -> String {
        format!(
            "{} {}",
            self.server.dir().join("fake-agent").display(),
            self.out(name).display()
        )
    }

    fn out(&self, name: &str) -> PathBuf {
        self.server.dir().join(format!("{name}.out"))
    }

    fn received(&self, name: &str) -> String {
        std::fs::read_to_string(self.out(name)).unwrap_or_default()
    }

    fn pid(&self, name: &str) -> u32 {
        let path = self.out(name).with_extension("out.pid");
        std::fs::read_to_string(path)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// A pm and two engineers (features "User auth" and "Search box"), as team.toml.
    fn write_file(&self) {
        let text = format!(
            "session = \"shop\"\n\n\
             [[agent]]\nname = \"pm\"\nrole = \"pm\"\ncommand = \"{}\"\n\n\
             [[agent]]\nname = \"ann\"\nrole = \"engineer\"\ncommand = \"{}\"\nfeature = \"User auth\"\n\n\
             [[agent]]\nname = \"bob\"\nrole = \"engineer\"\ncommand = \"{}\"\nfeature = \"Search box\"\nbrief = \"Keep the box small.\"\n",
            self.agent("pm"),
            self.agent("ann"),
            self.agent("bob")
        );
        std::fs::write(self.root.join("team.toml"), text).unwrap();
    }

    fn gate(&self, args: &[&str]) -> std::process::Output {
        self.gate_in(&self.root, args)
    }

    /// `gate args` run in `dir` (an agent's worktree).
    fn gate_in(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        self.server
            .gate(args)
            .current_dir(dir)
            .env("CLAUDE_CONFIG_DIR", self.claude_config_dir())
            .env("CODEX_HOME", self.codex_home())
            .output()
            .unwrap()
    }

    /// Where `team up` records Claude Code's trust (never the developer's own settings).
    fn claude_config_dir(&self) -> PathBuf {
        self.server.dir().join("claude-config")
    }

    /// Where `team up` records Codex's trust.
    fn codex_home(&self) -> PathBuf {
        self.server.dir().join("codex-home")
    }

    /// The fake agent installed under the name of a CLI gate knows; its command line for `name`.
    fn known_cli(&self, program: &str, name: &str) -> String {
        let bin = self.server.dir().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        if !bin.join(program).exists() {
            std::fs::copy(self.server.dir().join("fake-agent"), bin.join(program)).unwrap();
        }
        format!(
            "{} {}",
            bin.join(program).display(),
            self.out(name).display()
        )
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.gate(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}\n{}",
            stderr(&out),
            stdout(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
    }

    /// `gate team up --json`, with every brief delivered.
    fn up(&self) -> serde_json::Value {
        self.json(&["team", "up", "--json"])
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@e"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    stdout(&out)
}

fn count(text: &str, line: &str) -> usize {
    text.lines().filter(|l| *l == line).count()
}

fn agent<'v>(report: &'v serde_json::Value, name: &str) -> &'v serde_json::Value {
    report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no agent {name} in {report:#}"))
}

#[test]
fn team_up_puts_each_engineer_in_its_own_worktree_and_briefs_each_agent_once() {
    let server = Server::new();
    let team = Team::new(&server);
    team.write_file();
    let report = team.up();
    let worktrees = team.root.parent().unwrap().join("work-worktrees");
    for (name, dir) in [("ann", "001-user-auth"), ("bob", "002-search-box")] {
        let a = agent(&report, name);
        assert_eq!(a["window"], "started", "{report:#}");
        assert_eq!(a["brief"], "delivered", "{report:#}");
        let root = worktrees.join(dir);
        assert_eq!(a["root"], root.to_str().unwrap());
        let branch = format!("feature/{dir}");
        assert_eq!(a["branch"], branch.as_str());
        assert_eq!(git(&root, &["branch", "--show-current"]).trim(), branch);
        assert!(root.join(format!("specs/{dir}/spec.md")).is_file());
    }
    assert_eq!(agent(&report, "pm")["root"], team.root.to_str().unwrap());
    // The main checkout: still on main, nothing in it but the team file.
    assert_eq!(
        git(&team.root, &["branch", "--show-current"]).trim(),
        "main"
    );
    assert_eq!(git(&team.root, &["status", "--short"]), "?? team.toml\n");
    // Each agent heard its brief: name, role, its pm, its feature and spec, the workflow.
    for (name, header) in [
        ("pm", "You are pm, the project manager of team shop."),
        ("ann", "You are ann, the engineer of team shop."),
        ("bob", "You are bob, the engineer of team shop."),
    ] {
        wait_for(|| count(&team.received(name), header) == 1, "the brief");
    }
    let ann = team.received("ann");
    assert!(ann.contains("gate send shop:pm"), "{ann}");
    assert!(ann.contains("specs/001-user-auth/spec.md"), "{ann}");
    assert!(
        ann.contains("gate check") && ann.contains("gate schedule"),
        "{ann}"
    );
    assert!(team.received("bob").contains("Keep the box small."));
    let pm = team.received("pm");
    assert!(pm.contains("ann (engineer, feature \"User auth\")"), "{pm}");
    // Each window is named after its agent, and its pane is marked as that agent.
    let panes = server.tmux(&[
        "list-panes",
        "-s",
        "-t",
        "shop",
        "-F",
        "#{window_name} #{@gate-agent} #{@gate-role}",
    ]);
    assert_eq!(panes, "pm pm pm\nann ann engineer\nbob bob engineer\n");

    // A second up adds nothing and briefs nobody again.
    let again = team.up();
    for name in ["pm", "ann", "bob"] {
        assert_eq!(agent(&again, name)["window"], "existing", "{again:#}");
        assert!(agent(&again, name)["brief"].is_null(), "{again:#}");
    }
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(
        count(
            &team.received("ann"),
            "You are ann, the engineer of team shop."
        ),
        1
    );
    let windows = server.tmux(&["list-windows", "-t", "shop", "-F", "#{window_name}"]);
    assert_eq!(windows.lines().count(), 3, "{windows}");
    let listed = git(&team.root, &["worktree", "list"]);
    assert_eq!(listed.lines().count(), 3, "{listed}");
}

#[test]
fn a_killed_agent_shows_as_dead_and_the_others_alive() {
    let server = Server::new();
    let team = Team::new(&server);
    team.write_file();
    team.up();
    let status = team.json(&["team", "status", "--json"]);
    for name in ["pm", "ann", "bob"] {
        assert_eq!(agent(&status, name)["state"], "alive", "{status:#}");
    }
    let ann = agent(&status, "ann");
    assert_eq!(ann["branch"], "feature/001-user-auth");
    assert_eq!(ann["phase"], "specify");
    assert_eq!(ann["reports_to"], "pm");
    unsafe { libc::kill(team.pid("ann") as i32, libc::SIGKILL) };
    wait_for(
        || agent(&team.json(&["team", "status", "--json"]), "ann")["state"] == "dead",
        "ann to show as dead",
    );
    let status = team.json(&["team", "status", "--json"]);
    assert_eq!(agent(&status, "ann")["alive"], false);
    assert_eq!(agent(&status, "bob")["state"], "alive");
    // A second up leaves the dead agent's window for a person to look at; it is not re-briefed.
    let again = team.up();
    assert_eq!(agent(&again, "ann")["window"], "existing");
}

#[test]
fn team_down_preserves_uncommitted_work_and_leaves_no_process() {
    let server = Server::new();
    let team = Team::new(&server);
    team.write_file();
    team.up();
    let pids: Vec<u32> = ["pm", "ann", "bob"].iter().map(|n| team.pid(n)).collect();
    let bob = team
        .root
        .parent()
        .unwrap()
        .join("work-worktrees/002-search-box");
    std::fs::write(bob.join("notes.txt"), "half done\n").unwrap();
    let out = team.gate(&["team", "down"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The file is in a commit on bob's branch, or in a snapshot: either way, in git.
    let committed = git(&bob, &["log", "--format=%H", "-1", "--", "notes.txt"]);
    let snapshots = git(
        &team.root,
        &["for-each-ref", "--format=%(refname)", "refs/gate/"],
    );
    let in_snapshot = snapshots.lines().any(|r| {
        Command::new("git")
            .args(["cat-file", "-e", &format!("{r}:notes.txt")])
            .current_dir(&bob)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(
        !committed.trim().is_empty() || in_snapshot,
        "notes.txt was not preserved"
    );
    assert_eq!(
        std::fs::read_to_string(bob.join("notes.txt")).unwrap(),
        "half done\n"
    );
    // No session, no agent process; the worktrees and branches stay.
    let has = server.tmux_output(&["has-session", "-t", "=shop"]);
    assert!(!has.status.success(), "the session is still there");
    for pid in pids {
        wait_for(
            || !Path::new(&format!("/proc/{pid}")).exists(),
            "the agent to exit",
        );
    }
    assert!(bob.is_dir());
    assert_eq!(
        git(&team.root, &["branch", "--list", "feature/*"])
            .lines()
            .count(),
        2
    );
}

/// An agent that writes on its way out (SIGHUP, or its terminal's end of file, from `down`),
/// 300 ms later, as a CLI saving its session or finishing an edit would.
const LAST_WORDS_AGENT: &str = r#"#!/bin/sh
last_words() { sleep 0.3; printf 'written after SIGHUP\n' > last-words.txt; exit 0; }
trap last_words HUP
printf 'fake agent ready\n'
while IFS= read -r line; do printf '%s\n' "$line" >> "$1"; done
last_words
"#;

#[test]
fn down_preserves_what_an_agent_writes_as_it_stops() {
    let server = Server::new();
    let team = Team::new(&server);
    let program = server.dir().join("last-words-agent");
    std::fs::write(&program, LAST_WORDS_AGENT).unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(
        team.root.join("team.toml"),
        format!(
            "session = \"shop\"\n\
             [[agent]]\nname = \"pm\"\nrole = \"pm\"\ncommand = \"{}\"\n\
             [[agent]]\nname = \"eve\"\nrole = \"engineer\"\ncommand = \"{} {}\"\nfeature = \"Late\"\n",
            team.agent("pm"),
            program.display(),
            team.out("eve").display()
        ),
    )
    .unwrap();
    team.up();
    let eve = team.root.parent().unwrap().join("work-worktrees/001-late");
    assert!(eve.is_dir());
    let out = team.gate(&["team", "down", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        std::fs::read_to_string(eve.join("last-words.txt")).unwrap(),
        "written after SIGHUP\n"
    );
    // The second pass found it: committed on eve's feature branch.
    let after = report["preserved_after_stop"].as_array().unwrap();
    assert_eq!(after.len(), 1, "{report:#}");
    assert_eq!(
        Path::new(after[0]["root"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        eve.canonicalize().unwrap()
    );
    let committed = git(&eve, &["log", "--format=%H", "-1", "--", "last-words.txt"]);
    assert!(!committed.trim().is_empty(), "{report:#}");
    assert_eq!(git(&eve, &["status", "--porcelain"]).trim(), "");
}

#[test]
fn bad_team_files_name_file_line_and_column() {
    let server = Server::new();
    let team = Team::new(&server);
    for (text, at, says) in [
        (
            "session = \"shop\"\n[[agent]]\nname = \"pm\"\nrole = \"boss\"\ncommand = \"x\"\n",
            "team.toml:4:8:",
            "unknown variant",
        ),
        (
            "session = \"shop\"\n[[agent]]\nname = \"pm\"\nrole = \"pm\"\ncomand = \"x\"\n",
            "team.toml:5:1:",
            "comand",
        ),
        (
            "session = \"a b\"\n[[agent]]\nname = \"pm\"\nrole = \"pm\"\ncommand = \"x\"\n",
            "team.toml:1:11:",
            "tmux name",
        ),
        (
            "session = \"s\"\n[[agent]]\nname = \"e\"\nrole = \"engineer\"\ncommand = \"x\"\npm = \"nobody\"\n",
            "team.toml:6:6:",
            "nobody",
        ),
        (
            "session = \"s\"\n[[agent]]\nname = \"e\"\nrole = \"pm\"\ncommand = \"x\"\nrepo = \"/tmp\"\n",
            "team.toml:6:8:",
            "name a git repository",
        ),
    ] {
        std::fs::write(team.root.join("team.toml"), text).unwrap();
        let out = team.gate(&["team", "up"]);
        assert_eq!(out.status.code(), Some(2), "{text}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{}/{at}", team.root.display())),
            "{err}"
        );
        assert!(err.contains(says), "{err}");
    }
    std::fs::remove_file(team.root.join("team.toml")).unwrap();
    let out = team.gate(&["team", "status"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("team.toml does not exist"),
        "{}",
        stderr(&out)
    );
    // Nothing was started for a bad file.
    assert!(
        !server
            .tmux_output(&["has-session", "-t", "=shop"])
            .status
            .success()
    );
}

#[test]
fn a_window_that_is_gone_is_started_again_by_the_next_up() {
    let server = Server::new();
    let team = Team::new(&server);
    team.write_file();
    team.up();
    let header = "You are ann, the engineer of team shop.";
    wait_for(|| count(&team.received("ann"), header) == 1, "the brief");
    server.tmux(&["kill-window", "-t", "=shop:ann"]);
    let again = team.up();
    assert_eq!(agent(&again, "ann")["window"], "started", "{again:#}");
    assert_eq!(agent(&again, "ann")["brief"], "delivered", "{again:#}");
    assert_eq!(agent(&again, "bob")["window"], "existing", "{again:#}");
    // The new program heard its brief; bob did not hear his twice.
    wait_for(
        || count(&team.received("ann"), header) == 2,
        "the new brief",
    );
    assert_eq!(
        count(
            &team.received("bob"),
            "You are bob, the engineer of team shop."
        ),
        1
    );
}

#[test]
fn an_existing_branch_and_another_repository_get_worktrees_of_their_own() {
    let server = Server::new();
    let team = Team::new(&server);
    git(&team.root, &["branch", "feature/001-cart"]);
    let other = server.dir().join("backend");
    std::fs::create_dir_all(&other).unwrap();
    git(&other, &["init", "-q", "-b", "main"]);
    git(&other, &["commit", "-q", "--allow-empty", "-m", "initial"]);
    let _watcher = Team {
        server: &server,
        root: other.canonicalize().unwrap(),
    };
    let text = format!(
        "session = \"shop\"\n\
         [[agent]]\nname = \"cat\"\nrole = \"engineer\"\ncommand = \"{}\"\nfeature = \"001-cart\"\n\
         [[agent]]\nname = \"dan\"\nrole = \"engineer\"\ncommand = \"{}\"\nfeature = \"Orders API\"\nrepo = \"../backend\"\n",
        team.agent("cat"),
        team.agent("dan")
    );
    std::fs::write(team.root.join("team.toml"), text).unwrap();
    let report = team.up();
    let cat = agent(&report, "cat");
    assert_eq!(cat["place"], "worktree", "{report:#}");
    assert_eq!(cat["branch"], "feature/001-cart");
    let dan = agent(&report, "dan");
    assert_eq!(dan["place"], "specified", "{report:#}");
    let dan_root = server
        .dir()
        .canonicalize()
        .unwrap()
        .join("backend-worktrees/001-orders-api");
    assert_eq!(dan["root"], dan_root.to_str().unwrap());
    assert_eq!(
        git(&team.root, &["branch", "--show-current"]).trim(),
        "main"
    );
    assert_eq!(git(&other, &["branch", "--show-current"]).trim(), "main");
    // A watcher covers each repository.
    for repo in [&team.root, &other] {
        let out = server
            .gate(&["watch", "--status", "--json"])
            .current_dir(repo)
            .output()
            .unwrap();
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(status["running"], true, "{status:#}");
    }
    // The brief tells dan (no pm, no orchestrator) that nobody in the team is above it.
    wait_for(
        || team.received("dan").contains("feature/001-orders-api"),
        "dan's brief",
    );
    assert!(
        team.received("dan")
            .contains("You report to the person who started the team.")
    );
}

#[test]
fn down_removes_only_worktrees_whose_feature_is_merged_and_clean() {
    let server = Server::new();
    let team = Team::new(&server);
    team.write_file();
    team.up();
    let worktrees = team.root.parent().unwrap().join("work-worktrees");
    let ann = worktrees.join("001-user-auth");
    git(&ann, &["add", "-A"]);
    git(&ann, &["commit", "-q", "-m", "spec"]);
    git(
        &team.root,
        &["merge", "-q", "--ff-only", "feature/001-user-auth"],
    );
    let report = team.json(&["team", "down", "--remove-worktrees", "--json"]);
    let removals = report["worktrees"].as_array().unwrap();
    assert_eq!(removals.len(), 2, "{report:#}");
    assert!(
        !ann.exists(),
        "the merged, clean worktree stays: {report:#}"
    );
    let bob = worktrees.join("002-search-box");
    assert!(bob.is_dir(), "an unmerged worktree was removed");
    let kept = removals.iter().find(|r| r["removed"] == false).unwrap();
    assert!(
        kept["kept_because"]
            .as_str()
            .unwrap()
            .contains("not merged"),
        "{report:#}"
    );
    assert!(git(&team.root, &["branch", "--list", "feature/001-user-auth"]).contains("001"));
}

#[test]
fn an_agent_whose_program_exits_is_reported_and_not_briefed() {
    let server = Server::new();
    let team = Team::new(&server);
    std::fs::write(
        team.root.join("team.toml"),
        "session = \"shop\"\nready_timeout = 5\n[[agent]]\nname = \"pm\"\nrole = \"pm\"\ncommand = \"true\"\n",
    )
    .unwrap();
    let out = team.gate(&["team", "up", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pm = agent(&report, "pm");
    assert!(pm["brief"].is_null(), "{report:#}");
    assert!(
        pm["problem"].as_str().unwrap().contains("exited"),
        "{report:#}"
    );
    let status = team.json(&["team", "status", "--json"]);
    assert_eq!(agent(&status, "pm")["state"], "dead", "{status:#}");
}

/// Two `up`s at once: without the team lock both missed the worktrees and both ran `gate
/// specify` for each feature; one failed on the branch the other had just made (and two windows
/// per agent were possible).
#[test]
fn two_ups_at_once_start_the_team_once() {
    let server = Server::new();
    let team = Team::new(&server);
    team.write_file();
    let spawn = || {
        team.server
            .gate(&["team", "up", "--json"])
            .current_dir(&team.root)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let windows = server.tmux(&["list-windows", "-t", "shop", "-F", "#{window_name}"]);
    assert_eq!(windows, "pm\nann\nbob\n");
    let listed = git(&team.root, &["worktree", "list"]);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    for (name, header) in [
        ("ann", "You are ann, the engineer of team shop."),
        ("bob", "You are bob, the engineer of team shop."),
    ] {
        wait_for(|| count(&team.received(name), header) == 1, "the brief");
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        count(
            &team.received("ann"),
            "You are ann, the engineer of team shop."
        ),
        1
    );
}

/// A person's window that happens to bear an agent's name is not typed into: the brief would
/// run as shell commands there.
#[test]
fn a_window_of_an_agents_name_that_is_not_the_agent_is_left_alone() {
    let server = Server::new();
    let team = Team::new(&server);
    team.write_file();
    let theirs = server.session("shop", crate::server::Agent::Lines);
    server.tmux(&["rename-window", "-t", &theirs.id, "pm"]);
    let out = team.gate(&["team", "up", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pm = agent(&report, "pm");
    assert_eq!(pm["window"], "blocked", "{report:#}");
    assert!(
        pm["problem"].as_str().unwrap().contains("gate agents mark"),
        "{report:#}"
    );
    assert_eq!(agent(&report, "ann")["brief"], "delivered", "{report:#}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        theirs.bytes().is_empty(),
        "something was typed into the person's window"
    );
    let windows = server.tmux(&["list-windows", "-t", "shop", "-F", "#{window_name}"]);
    assert_eq!(windows, "pm\nann\nbob\n");
}

#[test]
fn a_deleted_worktree_is_named_with_the_fix() {
    let server = Server::new();
    let team = Team::new(&server);
    team.write_file();
    team.up();
    team.gate(&["team", "down"]);
    let ann = team
        .root
        .parent()
        .unwrap()
        .join("work-worktrees/001-user-auth");
    std::fs::remove_dir_all(&ann).unwrap();
    let out = team.gate(&["team", "up"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("agent ann") && err.contains("git worktree prune"),
        "{err}"
    );
    git(&team.root, &["worktree", "prune"]);
    let report = team.up();
    assert_eq!(agent(&report, "ann")["place"], "worktree", "{report:#}");
    assert!(ann.is_dir());
}

#[test]
fn a_known_agent_cli_gets_gates_guard_in_its_worktree_before_it_starts() {
    let server = Server::new();
    let team = Team::new(&server);
    // The fake agent, installed under the name of a CLI gate knows.
    let bin = server.dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(server.dir().join("fake-agent"), bin.join("claude")).unwrap();
    let command = format!(
        "{} {}",
        bin.join("claude").display(),
        team.out("eve").display()
    );
    std::fs::write(
        team.root.join("team.toml"),
        format!(
            "session = \"shop\"\n[[agent]]\nname = \"eve\"\nrole = \"engineer\"\ncommand = \"{command}\"\nfeature = \"Guarded\"\n"
        ),
    )
    .unwrap();
    let report = team.up();
    let root = PathBuf::from(agent(&report, "eve")["root"].as_str().unwrap());
    let settings = std::fs::read_to_string(root.join(".claude/settings.json")).unwrap();
    assert!(
        settings.contains("\"gate guard\"") && settings.contains("Write|Edit"),
        "{settings}"
    );
    // The main checkout is untouched; an agent of an unknown program gets nothing.
    assert!(!team.root.join(".claude").exists());
    let _ = team.gate(&["team", "down"]);
}

#[test]
fn known_clis_trust_each_agents_worktree_before_it_starts_and_a_second_up_changes_nothing() {
    let server = Server::new();
    let team = Team::new(&server);
    let claude_file = team.claude_config_dir().join(".claude.json");
    std::fs::create_dir_all(team.claude_config_dir()).unwrap();
    std::fs::write(
        &claude_file,
        r#"{"numStartups": 3, "projects": {"/elsewhere": {"allowedTools": ["Bash"]}}}"#,
    )
    .unwrap();
    let codex_file = team.codex_home().join("config.toml");
    std::fs::create_dir_all(team.codex_home()).unwrap();
    let codex_before = "# my Codex settings\nmodel = \"o4\" # fast\n";
    std::fs::write(&codex_file, codex_before).unwrap();
    std::fs::write(
        team.root.join("team.toml"),
        format!(
            "session = \"shop\"\n\
             [[agent]]\nname = \"pm\"\nrole = \"pm\"\ncommand = \"{}\"\n\
             [[agent]]\nname = \"eve\"\nrole = \"engineer\"\ncommand = \"{}\"\nfeature = \"Trusted\"\n\
             [[agent]]\nname = \"cody\"\nrole = \"engineer\"\ncommand = \"{}\"\nfeature = \"Codexed\"\n\
             [[agent]]\nname = \"ned\"\nrole = \"engineer\"\ncommand = \"{}\"\nfeature = \"Asked\"\ntrust = false\n",
            team.agent("pm"),
            team.known_cli("claude", "eve"),
            team.known_cli("codex", "cody"),
            team.known_cli("claude", "ned"),
        ),
    )
    .unwrap();
    let report = team.up();
    let root = |name: &str| {
        PathBuf::from(agent(&report, name)["root"].as_str().unwrap())
            .canonicalize()
            .unwrap()
    };
    let claude: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&claude_file).unwrap()).unwrap();
    let eve = root("eve").to_string_lossy().into_owned();
    assert_eq!(
        claude["projects"][&eve]["hasTrustDialogAccepted"], true,
        "{claude:#}"
    );
    // Everything else is kept; first-run setup is marked done where it was never set.
    assert_eq!(claude["numStartups"], 3);
    assert_eq!(claude["projects"]["/elsewhere"]["allowedTools"][0], "Bash");
    assert_eq!(claude["hasCompletedOnboarding"], true);
    // trust = false: left to Claude Code's own dialog.
    let ned = root("ned").to_string_lossy().into_owned();
    assert!(claude["projects"].get(&ned).is_none(), "{claude:#}");
    assert_eq!(agent(&report, "ned")["trust"], serde_json::json!([]));
    let codex = std::fs::read_to_string(&codex_file).unwrap();
    let cody = root("cody").to_string_lossy().into_owned();
    assert_eq!(
        codex,
        format!("{codex_before}\n[projects.\"{cody}\"]\ntrust_level = \"trusted\"\n")
    );
    let said = agent(&report, "cody")["trust"].to_string();
    assert!(said.contains(&*codex_file.to_string_lossy()), "{said}");
    assert_eq!(agent(&report, "pm")["trust"], serde_json::json!([]));
    // The agents were started after the trust was recorded, and briefed.
    for name in ["eve", "cody", "ned"] {
        assert_eq!(agent(&report, name)["brief"], "delivered", "{report:#}");
    }
    // A second up changes nothing, and says nothing about trust.
    let claude_bytes = std::fs::read(&claude_file).unwrap();
    let again = team.gate(&["team", "up"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(!stdout(&again).contains("trusts"), "{}", stdout(&again));
    assert_eq!(std::fs::read(&claude_file).unwrap(), claude_bytes);
    assert_eq!(std::fs::read_to_string(&codex_file).unwrap(), codex);
    let _ = team.gate(&["team", "down"]);
}

#[test]
fn an_unreadable_cli_settings_file_stops_up_before_any_window_and_is_left_alone() {
    let server = Server::new();
    let team = Team::new(&server);
    let claude_file = team.claude_config_dir().join(".claude.json");
    std::fs::create_dir_all(team.claude_config_dir()).unwrap();
    std::fs::write(&claude_file, "{\"projects\": ").unwrap();
    std::fs::write(
        team.root.join("team.toml"),
        format!(
            "session = \"shop\"\n[[agent]]\nname = \"eve\"\nrole = \"engineer\"\ncommand = \"{}\"\nfeature = \"Broken\"\n",
            team.known_cli("claude", "eve")
        ),
    )
    .unwrap();
    let out = team.gate(&["team", "up"]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains(&*claude_file.to_string_lossy()) && err.contains("not valid JSON"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&claude_file).unwrap(),
        "{\"projects\": "
    );
    let sessions = server.tmux_output(&["has-session", "-t", "shop"]);
    assert!(!sessions.status.success(), "a window was opened");
}

#[test]
fn status_all_shows_the_team_that_is_up_with_each_agents_branch_and_life() {
    let server = Server::new();
    let team = Team::new(&server);
    team.write_file();
    // Registered, as `gate init` does for `status --all`; no team is up yet.
    let init = team.gate(&["init"]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let project = |report: &serde_json::Value| report["projects"][0].clone();
    let before = team.json(&["status", "--all", "--json"]);
    assert!(project(&before).get("team").is_none(), "{before:#}");
    team.up();
    unsafe { libc::kill(team.pid("ann") as i32, libc::SIGKILL) };
    wait_for(
        || agent(&team.json(&["team", "status", "--json"]), "ann")["state"] == "dead",
        "ann to show as dead",
    );
    let all = team.json(&["status", "--all", "--json"]);
    let shown = project(&all)["team"].clone();
    assert_eq!(shown["session"], "shop", "{all:#}");
    assert_eq!(agent(&shown, "pm")["role"], "pm");
    assert_eq!(agent(&shown, "pm")["branch"], "main");
    assert_eq!(agent(&shown, "pm")["alive"], true);
    assert_eq!(agent(&shown, "ann")["branch"], "feature/001-user-auth");
    assert_eq!(agent(&shown, "ann")["alive"], false);
    assert_eq!(agent(&shown, "bob")["state"], "alive");
    // The human form: one line per agent under the project's.
    let out = team.gate(&["status", "--all"]);
    let text = stdout(&out);
    assert!(text.contains("team shop (3 agents"), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no line for {name} in {text}"))
            .to_owned()
    };
    assert!(line("ann").contains("feature/001-user-auth") && line("ann").ends_with("dead"));
    assert!(line("bob").contains("engineer") && line("bob").ends_with("alive"));
    // Down: no team is shown any more.
    let down = team.gate(&["team", "down"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    let after = team.json(&["status", "--all", "--json"]);
    assert!(project(&after).get("team").is_none(), "{after:#}");
}

/// `path` with every `{{...}}` filled in and every `- [ ]` ticked, as a person completes it.
fn fill(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str("filled");
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    std::fs::write(path, out.replace("- [ ]", "- [x]")).unwrap();
}

#[test]
fn an_engineers_finish_in_its_worktree_is_told_to_its_pm_and_the_orchestrator() {
    let server = Server::new();
    let team = Team::new(&server);
    git(&team.root, &["config", "user.name", "Tess"]);
    git(&team.root, &["config", "user.email", "tess@example.com"]);
    std::fs::write(
        team.root.join("team.toml"),
        format!(
            "session = \"shop\"\n\
             [[agent]]\nname = \"boss\"\nrole = \"orchestrator\"\ncommand = \"{}\"\n\
             [[agent]]\nname = \"pm\"\nrole = \"pm\"\ncommand = \"{}\"\n\
             [[agent]]\nname = \"ann\"\nrole = \"engineer\"\ncommand = \"{}\"\nfeature = \"User auth\"\n",
            team.agent("boss"),
            team.agent("pm"),
            team.agent("ann"),
        ),
    )
    .unwrap();
    let report = team.up();
    let ann = PathBuf::from(agent(&report, "ann")["root"].as_str().unwrap());
    // ann completes its feature in its worktree, as its brief says.
    let dir = ann.join("specs/001-user-auth");
    fill(&dir.join("spec.md"));
    for (step, file) in [("plan", "plan.md"), ("tasks", "tasks.md")] {
        let out = team.gate_in(&ann, &[step]);
        assert_eq!(out.status.code(), Some(0), "{step}: {}", stderr(&out));
        fill(&dir.join(file));
    }
    git(&ann, &["add", "-A"]);
    git(
        &ann,
        &["commit", "-q", "-m", "user auth: spec, plan, tasks"],
    );
    // main is checked out in the main checkout: it moves there, and ann stays on its branch.
    let out = team.gate_in(&ann, &["finish", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let finished: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        finished["told"],
        serde_json::json!([{"to": "pm", "outcome": "queued"}, {"to": "boss", "outcome": "queued"}]),
        "{finished:#}"
    );
    let tag = finished["tag"].as_str().unwrap().to_owned();
    let news =
        format!("[gate] ann finished feature 001-user-auth: tagged {tag} and landed on main");
    // The watcher types the queued news into each recipient's window, once.
    for name in ["pm", "boss"] {
        wait_for(
            || team.received(name).contains(&news),
            "the news to reach them",
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(1200));
    for name in ["pm", "boss"] {
        assert_eq!(
            count(&team.received(name), &news),
            1,
            "{}",
            team.received(name)
        );
    }
    assert!(!team.received("ann").contains("[gate] ann finished"));
    let _ = team.gate(&["team", "down"]);
}

#[test]
fn team_up_on_a_server_with_other_sessions_leaves_them_alone() {
    let server = Server::new();
    // The person's own session, with a window that happens to bear the team's session name.
    let own = server.session("mine", crate::server::Agent::Lines);
    let theirs = server.window("mine", "shop", crate::server::Agent::Lines, None);
    let team = Team::new(&server);
    team.write_file();
    let report = team.up();
    for name in ["pm", "ann", "bob"] {
        assert_eq!(agent(&report, name)["window"], "started", "{report:#}");
        assert_eq!(agent(&report, name)["brief"], "delivered", "{report:#}");
    }
    let windows = server.tmux(&["list-windows", "-t", "=shop:", "-F", "#{window_name}"]);
    assert_eq!(windows.lines().collect::<Vec<_>>(), ["pm", "ann", "bob"]);
    let mine = server.tmux(&["list-windows", "-t", "=mine:", "-F", "#{window_name}"]);
    assert_eq!(mine.lines().collect::<Vec<_>>(), ["main", "shop"]);
    assert!(own.bytes().is_empty() && theirs.bytes().is_empty());
    let status = team.json(&["team", "status", "--json"]);
    assert_eq!(status["agents"].as_array().unwrap().len(), 3);
    assert!(
        status["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["state"] == "alive"),
        "{status:#}"
    );
    let _ = team.gate(&["team", "down"]);
    let mine = server.tmux(&["list-windows", "-t", "=mine:", "-F", "#{window_name}"]);
    assert_eq!(
        mine.lines().count(),
        2,
        "down stopped only the team's session"
    );
}

/// Each agent's program runs with `GATE_AGENT` = its name (its hooks know whom they speak
/// for without asking tmux), its state hooks are installed beside the guard, and `up` records
/// on its pane whom it reports to and whether to restart it.
#[test]
fn each_agent_knows_its_name_and_its_pane_whom_it_reports_to() {
    let server = Server::new();
    let team = Team::new(&server);
    let command = team.known_cli("claude", "eve");
    std::fs::write(
        team.root.join("team.toml"),
        format!(
            "session = \"shop\"\n[[agent]]\nname = \"pm\"\nrole = \"pm\"\ncommand = \"{}\"\n\
             [[agent]]\nname = \"eve\"\nrole = \"engineer\"\ncommand = \"{command}\"\nfeature = \"Named\"\nrestart = true\n",
            team.agent("pm")
        ),
    )
    .unwrap();
    let report = team.up();
    for name in ["pm", "eve"] {
        let environ = std::fs::read(format!("/proc/{}/environ", team.pid(name))).unwrap();
        let wanted = format!("GATE_AGENT={name}");
        assert!(
            environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes()),
            "{name}: no {wanted}"
        );
    }
    let pane = agent(&report, "eve")["pane"].as_str().unwrap().to_owned();
    let options = server.tmux(&["show-options", "-p", "-t", &pane]);
    assert!(options.contains("@gate-reports-to pm"), "{options}");
    assert!(options.contains("@gate-restart on"), "{options}");
    let pm_pane = agent(&report, "pm")["pane"].as_str().unwrap().to_owned();
    let pm_options = server.tmux(&["show-options", "-p", "-t", &pm_pane]);
    assert!(!pm_options.contains("@gate-restart"), "{pm_options}");
    let root = PathBuf::from(agent(&report, "eve")["root"].as_str().unwrap());
    let settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join(".claude/settings.json")).unwrap())
            .unwrap();
    assert_eq!(
        settings["hooks"]["Stop"][0]["hooks"][0]["command"],
        "gate agent-hook claude stop"
    );
    let _ = team.gate(&["team", "down"]);
}

/// A fake agent CLI that opens on a first-run dialog: it records whatever is typed while the
/// dialog shows (in OUT.during), and once OUT.answered exists, clears the screen, says it is
/// ready and records every line (in OUT).
const DIALOG_AGENT: &str = r#"#!/bin/bash
out="$1"
stty -icanon -isig -ixon
printf '  Hooks need review\n  2 hooks in .codex/hooks.json\n  1. Trust all and continue\n'
while [ ! -e "$out.answered" ]; do
  if IFS= read -r -t 0.05 line; then printf '%s\n' "$line" >> "$out.during"; fi
done
clear
printf 'fake agent ready\n'
while IFS= read -r line; do printf '%s\n' "$line" >> "$out"; done
"#;

#[test]
fn a_first_run_dialog_on_screen_is_never_typed_into_and_the_next_up_briefs_the_agent() {
    let server = Server::new();
    let team = Team::new(&server);
    let dialog = server.dir().join("dialog-agent");
    std::fs::write(&dialog, DIALOG_AGENT).unwrap();
    std::fs::set_permissions(&dialog, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        team.root.join("team.toml"),
        format!(
            "session = \"shop\"\n\
             [[agent]]\nname = \"pm\"\nrole = \"pm\"\ncommand = \"{}\"\n\
             [[agent]]\nname = \"cody\"\nrole = \"engineer\"\ncommand = \"{} {}\"\nfeature = \"Hooked\"\n",
            team.agent("pm"),
            dialog.display(),
            team.out("cody").display()
        ),
    )
    .unwrap();
    let out = team.gate(&["team", "up", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cody = agent(&report, "cody");
    assert!(cody["brief"].is_null(), "{report:#}");
    let problem = cody["problem"].as_str().unwrap();
    assert!(
        problem.contains("Codex's review of the project's hooks")
            && problem.contains("run gate team up again"),
        "{problem}"
    );
    assert_eq!(agent(&report, "pm")["brief"], "delivered");
    // Nothing was typed into the dialog.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let during = team.out("cody").with_extension("out.during");
    assert!(
        !during.exists(),
        "typed into the dialog: {:?}",
        std::fs::read_to_string(&during)
    );
    // The person answers it; the next up briefs the agent, once.
    std::fs::write(team.out("cody").with_extension("out.answered"), "").unwrap();
    wait_for(
        || {
            server
                .tmux(&["capture-pane", "-p", "-t", "=shop:cody"])
                .contains("fake agent ready")
        },
        "cody's dialog to close",
    );
    let again = team.up();
    assert_eq!(agent(&again, "cody")["window"], "unbriefed", "{again:#}");
    assert_eq!(agent(&again, "cody")["brief"], "delivered", "{again:#}");
    assert_eq!(agent(&again, "pm")["window"], "existing");
    wait_for(
        || {
            team.received("cody")
                .contains("You are cody, the engineer of team shop.")
        },
        "cody's brief",
    );
    assert!(!during.exists());
    let _ = team.gate(&["team", "down"]);
}
