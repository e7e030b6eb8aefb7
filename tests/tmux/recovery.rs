//! Recovery: an agent whose program dies has its work preserved, its PM told, and (when its
//! team asked for it) is started again in the same pane with a note saying what happened;
//! bounded, so a program that dies at once is not restarted forever.

use std::time::Duration;

use crate::project::{FAST, Project, wait};
use crate::server::{Agent, Server, stderr};
use crate::tui::{self, Fake};

const LONG: Duration = Duration::from_secs(20);

/// A fake CLI ([`tui`]) that records `started` each time it starts, then every line it
/// receives; exits on `exit`.
const MORTAL: &str = r#"
record(b"started")
def on_line(line):
    record(line)
    if line == b"exit":
        sys.exit(0)
serve(on_line)
"#;

/// The mortal agent in window `eng` of session `team`, in `project`, kept when it exits,
/// marked `eng-1` reporting to `pm-1`, with `restart` as `gate team up` records it.
fn mortal(server: &Server, project: &Project, restart: bool) -> Fake {
    let fake = tui::start(
        server,
        "eng",
        &project.root,
        MORTAL,
        &[],
        &[("remain-on-exit", "on")],
    );
    let pane = &fake.pane;
    let marked = server
        .gate(&[
            "agents", "mark", pane, "--name", "eng-1", "--role", "engineer",
        ])
        .output()
        .unwrap();
    assert!(marked.status.success(), "{}", stderr(&marked));
    server.tmux(&["set-option", "-p", "-t", pane, "@gate-reports-to", "pm-1"]);
    if restart {
        server.tmux(&["set-option", "-p", "-t", pane, "@gate-restart", "on"]);
    }
    fake
}

fn pm(server: &Server) -> crate::server::Pane {
    let pm = server.window("team", "pm", Agent::Lines, None);
    let marked = server
        .gate(&["agents", "mark", &pm.id, "--name", "pm-1", "--role", "pm"])
        .output()
        .unwrap();
    assert!(marked.status.success(), "{}", stderr(&marked));
    pm
}

/// Types `exit`: the agent records it and exits. Its pane dies with the text still on screen,
/// so `gate send` cannot confirm the submission (exit 1) and must not type it again.
fn send_exit(server: &Server, agent: &Fake) {
    let before = agent.lines().iter().filter(|l| *l == "exit").count();
    let out = server.send(&[&agent.pane, "exit"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let after = agent.lines().iter().filter(|l| *l == "exit").count();
    assert_eq!(after, before + 1, "exactly one exit typed");
}

#[test]
fn a_dead_agent_is_preserved_reported_and_restarted_with_a_note() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    server.session("team", Agent::Lines);
    let pm = pm(&server);
    let agent = mortal(&server, &project, true);
    project.write("src/lib.rs", "pub fn unsaved() {}\n");
    let _w = project.watch();

    send_exit(&server, &agent);
    let told = pm.lines(1);
    assert!(
        told[0].starts_with("[gate] eng-1's program exited in team:"),
        "{told:?}"
    );
    assert!(
        told[0].contains("its work was kept as snapshot"),
        "{told:?}"
    );
    assert!(
        told[0].contains("restarting it (restart 1 of 3)"),
        "{told:?}"
    );
    // The snapshot holds the file the agent left uncommitted (main is protected).
    let snapshots = project.run(&["snapshots", "--json"]);
    assert!(
        String::from_utf8_lossy(&snapshots.stdout).contains("src/lib.rs"),
        "{}",
        String::from_utf8_lossy(&snapshots.stdout)
    );

    wait("the restart note", LONG, || agent.lines().len() >= 4);
    let lines = agent.lines();
    assert_eq!(lines[..3], ["started", "exit", "started"], "{lines:?}");
    assert!(
        lines[3].starts_with("[gate] You are eng-1. Your previous session ended unexpectedly"),
        "{lines:?}"
    );
    assert_eq!(project.events("agent-restarted").len(), 1);
}

#[test]
fn without_restart_the_pm_is_told_once_and_the_pane_stays_dead() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    server.session("team", Agent::Lines);
    let pm = pm(&server);
    let agent = mortal(&server, &project, false);
    let _w = project.watch();

    send_exit(&server, &agent);
    let told = pm.lines(1);
    assert!(told[0].contains("it left no uncommitted work"), "{told:?}");
    assert!(
        told[0].contains("set restart = true in the team file"),
        "{told:?}"
    );
    crate::project::stays(&pm.out, 1, Duration::from_millis(2000));
    assert_eq!(agent.lines(), ["started", "exit"]);
    let dead = server.tmux(&["display-message", "-p", "-t", &agent.pane, "#{pane_dead}"]);
    assert_eq!(dead.trim(), "1");
}

#[test]
fn restarts_are_bounded() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    server.session("team", Agent::Lines);
    let pm = pm(&server);
    let agent = mortal(&server, &project, true);
    let _w = project.watch();
    for n in 1..=4 {
        wait("the agent to be up", LONG, || {
            agent.lines().iter().filter(|l| *l == "started").count() >= n
        });
        // Wait for the restart note (after the first start there is none).
        if n > 1 {
            wait("the restart note", LONG, || {
                agent
                    .lines()
                    .last()
                    .is_some_and(|l| l.starts_with("[gate] You are eng-1"))
            });
        }
        send_exit(&server, &agent);
    }
    let told = pm.lines(4);
    assert!(
        told[3].contains("not restarted: it was restarted 3 times already"),
        "{told:?}"
    );
    crate::project::stays(&agent.out, agent.lines().len(), Duration::from_millis(2000));
    assert_eq!(project.events("agent-restarted").len(), 3);
}
