//! `gate schedule` and the watcher's check-ins: delivered once, with the project's state; late
//! after a restart; never twice after a crash; cancelled; retried, then escalated.

use std::time::Duration;

use crate::project::{FAST, Project, stays, wait};
use crate::server::{Agent, Server, stderr, stdout};

/// A session `team` outside the repository, and an agent window `team:eng` inside it.
fn team(server: &Server, project: &Project) -> crate::server::Pane {
    server.session("team", Agent::Lines);
    server.window("team", "eng", Agent::Lines, Some(&project.root))
}

fn list_json(project: &Project) -> serde_json::Value {
    let out = project.run(&["schedule", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Stops the daemon `gate schedule` started, however the test ends.
struct Daemon<'a>(&'a Project<'a>);

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["watch", "--stop"]);
    }
}

#[test]
fn a_checkin_from_the_current_pane_is_delivered_once_with_the_state_line() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let agent = team(&server, &project);
    // From inside the agent's pane, with the watcher started by `gate schedule` itself.
    let mut cmd = project.gate(&["schedule", "2s", "Review", "the tests"]);
    cmd.env_remove("GATE_NO_AUTOSTART")
        .env("TMUX", format!("{},1,0", server.socket_path().display()))
        .env("TMUX_PANE", &agent.id);
    let out = cmd.output().unwrap();
    let _daemon = Daemon(&project);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("✓ check-in 1 for team:1.0 ({}) due ", agent.id)),
        "{text}"
    );
    assert!(
        text.contains("(in 2s)") && text.contains("watcher started"),
        "{text}"
    );

    let entry = &list_json(&project)["checkins"][0];
    assert_eq!(entry["target"], "team:1.0");
    assert_eq!(entry["origin"], format!("team:1.0 ({})", agent.id));

    let lines = agent.lines(1);
    let line = &lines[0];
    assert!(
        line.starts_with(
            "[gate check-in] Review the tests — branch main, no feature, last commit "
        ),
        "{line}"
    );
    assert!(line.ends_with(" ago, violations: feature-branch"), "{line}");
    stays(&agent.out, 1, Duration::from_millis(1500));
    assert_eq!(list_json(&project)["checkins"], serde_json::json!([]));
    let delivered = project.events("checkin-delivered");
    assert_eq!(delivered.len(), 1);
    let detail = delivered[0]["detail"].as_str().unwrap();
    assert!(detail.starts_with("checkin 1 due "), "{detail}");
    assert!(
        detail.contains(&format!("delivered to team:1.0 ({})", agent.id)),
        "{detail}"
    );
}

#[test]
fn outside_tmux_a_target_is_required() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let out = project.run(&["schedule", "30", "note"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--target SESSION:WINDOW[.PANE]"),
        "{}",
        stderr(&out)
    );
    team(&server, &project);
    let out = project.run(&["schedule", "30", "note", "--target", "tea"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("no tmux pane matches \"tea\"") && err.contains("team:1 (eng)"),
        "{err}"
    );
    let out = project.run(&["schedule", "0", "note", "--target", "team:eng"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("greater than zero"),
        "{}",
        stderr(&out)
    );
    assert!(!project.state().join("schedule.json").exists());
}

#[test]
fn list_json_cancel_and_recurring_entries() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let agent = team(&server, &project);
    let out = project.run(&[
        "schedule",
        "15m",
        "Review tests",
        "--target",
        "team:eng",
        "--every",
        "1h",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(", every 1h"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("GATE_NO_AUTOSTART=1"),
        "{}",
        stderr(&out)
    );
    let out = project.run(&["schedule", "--json", "2s", "Soon", "--target", "team:eng"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let added: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added["id"], 2);

    let list = list_json(&project);
    assert!(
        list["path"]
            .as_str()
            .unwrap()
            .ends_with(".git/gate/schedule.json")
    );
    let entries = list["checkins"].as_array().unwrap();
    // Soonest first; every field present, null when unset (keys listed sorted).
    let keys: Vec<&str> = entries[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "attempts",
            "created",
            "due",
            "every",
            "id",
            "last_error",
            "note",
            "origin",
            "pane",
            "retry_at",
            "state",
            "target"
        ]
    );
    assert_eq!(entries[0]["id"], 2);
    assert_eq!(entries[0]["every"], serde_json::Value::Null);
    assert_eq!(entries[1]["every"], "1h");
    assert_eq!(entries[1]["target"], "team:eng");
    assert_eq!(entries[1]["pane"], agent.id.as_str());
    assert_eq!(entries[1]["origin"], "outside tmux");
    assert_eq!(
        (&entries[1]["attempts"], &entries[1]["state"]),
        (&0.into(), &"pending".into())
    );
    let due: jiff::Timestamp = entries[1]["due"].as_str().unwrap().parse().unwrap();
    let created: jiff::Timestamp = entries[1]["created"].as_str().unwrap().parse().unwrap();
    let ahead = due.duration_since(created).as_secs();
    assert!((900..=901).contains(&ahead), "{ahead}");

    let text = stdout(&project.run(&["schedule", "list"]));
    assert!(
        text.contains("team:eng, every 1h  \"Review tests\"  from outside tmux"),
        "{text}"
    );

    let out = project.run(&["schedule", "cancel", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("cancelled check-in 2"),
        "{}",
        stdout(&out)
    );
    let out = project.run(&["schedule", "cancel", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no check-in 2 is scheduled"),
        "{}",
        stderr(&out)
    );
    // The cancelled one is never delivered.
    let w = project.watch();
    stays(&agent.out, 0, Duration::from_secs(3));
    assert_eq!(list_json(&project)["checkins"].as_array().unwrap().len(), 1);
    assert_eq!(project.events("checkin-cancelled").len(), 1);
    drop(w);
}

#[test]
fn after_sigkill_an_overdue_checkin_is_delivered_once_marked_late() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let agent = team(&server, &project);
    let w = project.watch();
    let out = project.run(&[
        "schedule",
        "1h",
        "Check PM progress",
        "--target",
        "team:eng",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    w.kill();
    // The machine was off: it fell due 2h 3m ago.
    let path = project.state().join("schedule.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let past = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(2 * 3600 + 3 * 60 + 10);
    doc["checkins"][0]["due"] = past.strftime("%Y-%m-%dT%H:%M:%SZ").to_string().into();
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();

    let w = project.watch();
    let line = agent.lines(1).remove(0);
    assert!(
        line.starts_with("[gate check-in] (late by 2h 3m) Check PM progress — branch main"),
        "{line}"
    );
    stays(&agent.out, 1, Duration::from_millis(1500));
    // And again after another restart: nothing is left to deliver.
    w.kill();
    let w = project.watch();
    stays(&agent.out, 1, Duration::from_millis(1500));
    assert_eq!(project.events("checkin-delivered").len(), 1);
    drop(w);
}

#[test]
fn a_crash_between_sending_and_settling_never_sends_twice() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let agent = team(&server, &project);
    for note in ["already sent", "never sent"] {
        let out = project.run(&["schedule", "1h", note, "--target", "team:eng"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    // Both were being delivered when the watcher died; the log shows only the first went out.
    let path = project.state().join("schedule.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let due = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for c in doc["checkins"].as_array_mut().unwrap() {
        c["due"] = due.clone().into();
        c["state"] = "delivering".into();
        c["attempts"] = 1.into();
    }
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let event = serde_json::json!({
        "time": due,
        "kind": "checkin-delivered",
        "detail": format!("checkin 1 due {due}: delivered to team:1.0 ({}), attempt 1", agent.id),
    });
    let mut log = std::fs::read_to_string(project.state().join("events.jsonl")).unwrap();
    log.push_str(&format!("{event}\n"));
    std::fs::write(project.state().join("events.jsonl"), log).unwrap();

    let w = project.watch();
    let lines = agent.lines(1);
    assert!(
        lines[0].starts_with("[gate check-in] never sent — "),
        "{lines:?}"
    );
    stays(&agent.out, 1, Duration::from_millis(1500));
    w.wait_log("already delivered before a restart; not sent again", 1);
    assert_eq!(list_json(&project)["checkins"], serde_json::json!([]));
}

#[test]
fn a_missing_target_is_retried_then_escalated_to_the_orchestrator() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    team(&server, &project);
    let orchestrator = server.session("orchestrator", Agent::Lines);
    let doomed = server.window("team", "doomed", Agent::Lines, Some(&project.root));
    let w = project.watch();
    let out = project.run(&["schedule", "1s", "Ship it", "--target", "team:doomed"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    server.tmux(&["kill-window", "-t", "team:doomed"]);

    let line = orchestrator.lines(1).remove(0);
    assert_eq!(
        line,
        "[gate] check-in 1 for team:doomed could not be delivered after 3 attempts \
         (no tmux pane matches \"team:doomed\"); its note: Ship it"
    );
    assert!(doomed.bytes().is_empty());
    let failed = project.events("checkin-failed");
    assert_eq!(failed.len(), 3, "{failed:?}");
    let attempts: Vec<bool> = (1..=3)
        .map(|n| {
            failed[n - 1]["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("attempt {n} of 3"))
        })
        .collect();
    assert_eq!(attempts, [true, true, true]);
    wait("the escalation event", Duration::from_secs(5), || {
        project.events("checkin-escalated").len() == 1
    });
    let fate = project.events("checkin-escalated")[0]["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        fate.contains("told the orchestrator orchestrator:0 (delivered)"),
        "{fate}"
    );
    wait("the entry to go", Duration::from_secs(5), || {
        list_json(&project)["checkins"] == serde_json::json!([])
    });
    drop(w);
}

#[test]
fn a_corrupt_schedule_is_reported_and_kept_aside() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    team(&server, &project);
    std::fs::create_dir_all(project.state()).unwrap();
    let path = project.state().join("schedule.json");
    std::fs::write(&path, "{\"version\": 1, \"checkins\": [{\"id\": ").unwrap();
    let out = project.run(&["schedule", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{} was not a valid schedule", path.display())),
        "{err}"
    );
    assert!(
        err.contains("moved aside to") && err.contains("schedule.json.corrupt-"),
        "{err}"
    );
    let aside: Vec<_> = std::fs::read_dir(project.state())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("schedule.json.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read_to_string(aside[0].path()).unwrap(),
        "{\"version\": 1, \"checkins\": [{\"id\": "
    );
    assert_eq!(project.events("schedule-corrupt").len(), 1);
    // Scheduling goes on in a fresh file.
    let out = project.run(&["schedule", "30", "x", "--target", "team:eng"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The watcher reports (and keeps aside) a file corrupted under it, too.
    let w = project.watch();
    std::fs::write(&path, "not json").unwrap();
    let log = w.wait_log("was not a valid schedule", 1);
    assert!(log.contains("moved aside to"), "{log}");
    assert_eq!(project.events("schedule-corrupt").len(), 2);
}

#[test]
fn a_recurring_checkin_comes_back_until_cancelled() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let agent = team(&server, &project);
    let w = project.watch();
    let out = project.run(&[
        "schedule", "1s", "Stand-up", "--target", "team:eng", "--every", "2s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = agent.lines(2);
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("[gate check-in] Stand-up — branch main")),
        "{lines:?}"
    );
    // Still scheduled, for its next occurrence (which may be being delivered right now).
    let entry = &list_json(&project)["checkins"][0];
    assert_eq!((&entry["id"], &entry["every"]), (&1.into(), &"2s".into()));
    let out = project.run(&["schedule", "cancel", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seen = std::fs::read_to_string(&agent.out).unwrap().lines().count();
    stays(&agent.out, seen, Duration::from_millis(2500));
    drop(w);
}
