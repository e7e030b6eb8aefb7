//! Nudges from a real watcher: the agent (a marked pane working in the repository) hears about
//! a slip with its code and fix, once per cooldown; ignored nudges go to the orchestrator; a
//! plain shell in the repository hears nothing; an agent hears only about its own worktree.

use std::time::Duration;

use crate::project::{FAST, Project, stays, wait};
use crate::server::{Agent, Pane, Server};

/// The panes of a nudge test.
struct Panes {
    /// The orchestrator's session (outside the repository).
    orchestrator: Pane,
    /// A pane outside the repository.
    elsewhere: Pane,
    /// The agent: a marked pane working in the repository's `src`.
    agent: Pane,
    /// A person's plain shell in the repository: must never receive anything.
    shell: Pane,
}

fn panes(server: &Server, project: &Project) -> Panes {
    let orchestrator = server.session("orchestrator", Agent::Lines);
    let elsewhere = server.window("orchestrator", "elsewhere", Agent::Lines, None);
    std::fs::create_dir_all(project.root.join("src")).unwrap();
    let agent = server.window(
        "orchestrator",
        "eng",
        Agent::Lines,
        Some(&project.root.join("src")),
    );
    server.mark(&agent, "eng");
    let shell = server.window("orchestrator", "shell", Agent::Lines, Some(&project.root));
    Panes {
        orchestrator,
        elsewhere,
        agent,
        shell,
    }
}

/// Regression: nudges were typed into every pane inside the repository, a person's shell
/// included, which then tried to run them.
#[track_caller]
fn shell_heard_nothing(shell: &Pane) {
    assert!(
        shell.bytes().is_empty(),
        "the plain shell received: {}",
        String::from_utf8_lossy(&shell.bytes())
    );
}

const EDIT_ON_MAIN: &str = "[gate] feature-branch: src/app.rs edited on main; main is protected: \
                            work happens on a feature branch — fix: gate specify \"<name>\"";

#[test]
fn editing_implementation_files_on_main_nudges_the_agent_pane_once_per_cooldown() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let Panes {
        orchestrator,
        elsewhere,
        agent,
        shell,
    } = panes(&server, &project);
    let w = project.watch();
    project.write("src/app.rs", "fn main() {}\n");
    assert_eq!(agent.lines(1), [EDIT_ON_MAIN]);

    // The same slip again, within the cooldown (10m): not sent.
    project.write("src/app.rs", "fn main() { todo!() }\n");
    let log = w.wait_log("not sent, cooldown", 1);
    assert!(
        log.contains("nudge feature-branch #1 to orchestrator:2.0"),
        "{log}"
    );
    stays(&agent.out, 1, Duration::from_millis(500));
    // Only the pane working in the repository was nudged.
    assert!(elsewhere.bytes().is_empty() && orchestrator.bytes().is_empty());
    let nudges = project.events("nudge");
    assert_eq!(nudges.len(), 1);
    assert_eq!(nudges[0]["code"], "feature-branch");
    assert_eq!(nudges[0]["paths"], serde_json::json!(["src/app.rs"]));
    let detail = nudges[0]["detail"].as_str().unwrap();
    assert_eq!(
        detail,
        format!(
            "to {} (orchestrator:2.0), delivered: {EDIT_ON_MAIN}",
            agent.id
        )
    );
    let (code, log) = w.stop();
    assert_eq!(code, Some(0), "{log}");
    stays(&agent.out, 1, Duration::ZERO);
    shell_heard_nothing(&shell);
}

#[test]
fn a_checkout_that_rewrites_implementation_files_is_no_slip() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let Panes { agent, shell, .. } = panes(&server, &project);
    project.git(&["switch", "-q", "-c", "feature/001-x"]);
    project.write("src/app.rs", "fn main() {}\n");
    project.git(&["add", "-A"]);
    project.git(&["commit", "-q", "-m", "app"]);
    let w = project.watch();
    // git removes src/app.rs, and the tree matches main's HEAD: nobody edited anything.
    project.git(&["switch", "-q", "main"]);
    stays(&agent.out, 0, Duration::from_millis(1500));
    // A real edit on main still is a slip.
    project.write("src/new.rs", "\n");
    let line = agent.lines(1).remove(0);
    assert!(
        line.starts_with("[gate] feature-branch: src/new.rs edited on main;"),
        "{line}"
    );
    wait("the nudge event", Duration::from_secs(5), || {
        project.events("nudge").len() == 1
    });
    shell_heard_nothing(&shell);
    drop(w);
}

#[test]
fn three_ignored_nudges_escalate_to_the_orchestrator() {
    let server = Server::new();
    let config = format!("{FAST}nudge_cooldown = \"1s\"\nescalate_after = 3\n");
    let project = Project::new(&server, &config);
    let Panes {
        orchestrator,
        agent,
        shell,
        ..
    } = panes(&server, &project);
    let w = project.watch();
    for n in 1..=4 {
        project.write("src/app.rs", &format!("// edit {n}\n"));
        if n < 4 {
            assert_eq!(agent.lines(n).len(), n);
        }
        w.wait_log("nudge feature-branch", n);
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert_eq!(agent.lines(3), [EDIT_ON_MAIN; 3]);
    let line = orchestrator.lines(1).remove(0);
    assert_eq!(
        line,
        format!(
            "[gate escalation] feature-branch: the agent in orchestrator:2.0 ({}) ignored 3 nudges \
             in a row; src/app.rs edited on main; main is protected: work happens on a feature \
             branch — fix: gate specify \"<name>\"",
            agent.id
        )
    );
    stays(&agent.out, 3, Duration::ZERO);
    assert_eq!(project.events("nudge").len(), 3);
    wait("the escalation event", Duration::from_secs(5), || {
        project.events("nudge-escalated").len() == 1
    });
    shell_heard_nothing(&shell);
    drop(w);
}

#[test]
fn an_auto_commit_and_a_commit_past_the_hooks_are_nudges() {
    let server = Server::new();
    let config = format!("[commit]\ninterval = \"1s\"\nquiet = \"300ms\"\n{FAST}");
    let project = Project::new(&server, &config);
    let Panes { agent, shell, .. } = panes(&server, &project);
    let w = project.watch();
    // Work on main is preserved as a snapshot, and the agent is told why and what to do.
    project.write("notes.md", "notes\n");
    let line = agent.lines(1).remove(0);
    assert!(
        line.starts_with(
            "[gate] commit-cadence: uncommitted work reached 1s where it cannot be committed ("
        ),
        "{line}"
    );
    assert!(
        line.contains("so gate preserved it as ")
            && line.contains(" on refs/gate/snapshots/main — fix: gate specify \"<name>\""),
        "{line}"
    );
    // A commit made without gate's hooks on main.
    project.git(&["add", "notes.md"]);
    project.git(&["commit", "-q", "-m", "sneaky"]);
    let lines = agent.lines(2);
    assert!(
        lines[1].starts_with("[gate] feature-branch: commit ")
            && lines[1]
                .contains("\"sneaky\" reached protected branch main without passing gate's hooks")
            && lines[1].ends_with("if the hooks are missing: gate hooks install"),
        "{}",
        lines[1]
    );
    shell_heard_nothing(&shell);
    drop(w);
}

#[test]
fn editing_implementation_files_before_the_spec_gate_passes_is_a_nudge() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let out = project.run(&["specify", "Login"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::server::stderr(&out)
    );
    let Panes { agent, shell, .. } = panes(&server, &project);
    let w = project.watch();
    project.write("src/login.rs", "fn login() {}\n");
    let line = agent.lines(1).remove(0);
    assert!(
        line.starts_with(
            "[gate] implementation-gate: src/login.rs edited before the spec gate passed; \
             specs/001-login/spec.md is incomplete ("
        ),
        "{line}"
    );
    assert!(
        line.ends_with(
            "— fix: resolve the findings in specs/001-login/spec.md, then run `gate check`"
        ),
        "{line}"
    );
    shell_heard_nothing(&shell);
    drop(w);
}

/// A watcher started without a UTF-8 locale (a service manager, cron, `LC_ALL=C`) still finds
/// its agents: regression test for tmux printing the `\x1f` field separator of `list-panes -F`
/// as `_` there (fixed by `tmux -u`).
#[test]
fn nudges_reach_the_agent_under_a_c_locale() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let Panes { agent, shell, .. } = panes(&server, &project);
    let w = project.watch_with(&[("LC_ALL", "C"), ("LANG", "C")]);
    project.write("src/app.rs", "fn main() {}\n");
    assert_eq!(agent.lines(1), [EDIT_ON_MAIN]);
    shell_heard_nothing(&shell);
    drop(w);
}

/// Each agent belongs to the worktree it works in: a slip in a linked worktree reaches the
/// agent there (found as a known CLI), and one on main reaches main's agent, never the other.
#[test]
fn a_slip_in_a_worktree_nudges_that_worktrees_agents_only() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let Panes { agent, shell, .. } = panes(&server, &project);
    let linked = server.dir().join("linked");
    project.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "feature/001-w",
        linked.to_str().unwrap(),
    ]);
    let linked = linked.canonicalize().unwrap();
    std::fs::create_dir_all(linked.join("src")).unwrap();
    let linked_agent = server.window(
        "orchestrator",
        "eng-w",
        Agent::Claude,
        Some(&linked.join("src")),
    );
    let w = project.watch();
    std::fs::write(linked.join("src/x.rs"), "fn x() {}\n").unwrap();
    let line = linked_agent.lines(1).remove(0);
    assert!(
        line.starts_with(
            "[gate] implementation-gate: src/x.rs edited before the spec gate passed;"
        ),
        "{line}"
    );
    stays(&agent.out, 0, Duration::from_millis(500));
    project.write("src/app.rs", "fn main() {}\n");
    assert_eq!(agent.lines(1), [EDIT_ON_MAIN]);
    stays(&linked_agent.out, 1, Duration::from_millis(500));
    shell_heard_nothing(&shell);
    drop(w);
}
