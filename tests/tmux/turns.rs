//! Agent state from the CLIs' own hooks, and messages at turn boundaries: a fake agent that
//! runs exactly the hook commands `gate init --agent-hooks` installed (from PATH, in its tmux
//! pane, as Claude Code and Codex do), a real watcher, real check-ins.
//!
//! The fake's turn lasts until the test releases it, so "mid-turn" is a state the test holds,
//! not a race it hopes to win.

use std::path::PathBuf;
use std::time::Duration;

use crate::project::{FAST, Project, stays, wait};
use crate::server::{Agent, Server, stderr, stdout};
use crate::tui;

const LONG: Duration = Duration::from_secs(15);

/// A fake agent CLI with hooks ([`tui`]): Enter records the line, runs the submit hook
/// (`args[0]`), then "works" until the release file (`args[2]`) exists, then runs the stop
/// hook (`args[1]`). A Stop answer `{"decision": "block"}` is taken as Claude Code takes it:
/// the reason is recorded as `HANDBACK: <reason>` and the stop hook runs again with
/// `stop_hook_active: true`.
const HOOKED_AGENT: &str = r#"
submit, stop, release = args
def hook(cmd, payload):
    r = subprocess.run(cmd, shell=True, input=json.dumps(payload).encode(), capture_output=True)
    return r.stdout.decode()
def on_line(line):
    record(line)
    os.write(1, b"(working)")
    hook(submit, {"hook_event_name": "UserPromptSubmit", "prompt": line.decode(), "cwd": os.getcwd()})
    while not os.path.exists(release):
        time.sleep(0.02)
    os.remove(release)
    active = False
    while True:
        said = hook(stop, {"hook_event_name": "Stop", "stop_hook_active": active, "cwd": os.getcwd()})
        try:
            answer = json.loads(said)
        except ValueError:
            answer = {}
        if answer.get("decision") != "block":
            break
        record(b"HANDBACK: " + answer["reason"].encode())
        active = True
serve(on_line)
"#;

struct Hooked {
    pane: String,
    out: PathBuf,
    release: PathBuf,
}

impl Hooked {
    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn wait_lines(&self, n: usize) -> Vec<String> {
        wait("the agent's lines", LONG, || self.lines().len() >= n);
        self.lines()
    }

    /// Ends the current turn (the stop hook runs).
    fn end_turn(&self) {
        std::fs::write(&self.release, "").unwrap();
    }
}

/// The hook command installed for `event` in the settings file `file` of `project`.
fn installed(project: &Project, file: &str, event: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.root.join(file)).unwrap()).unwrap();
    v["hooks"][event]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["hooks"].as_array().unwrap())
        .map(|h| h["command"].as_str().unwrap().to_owned())
        .find(|c| c.starts_with("gate agent-hook"))
        .unwrap_or_else(|| panic!("no gate hook for {event} in {file}"))
}

/// Installs gate's agent hooks in `project` and starts the fake CLI, with `file`'s submit
/// and stop hooks, in window `window`, marked as agent `name`.
fn start(server: &Server, project: &Project, file: &str, window: &str, name: &str) -> Hooked {
    let out = project.run(&["init", "--agent-hooks"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let submit = installed(project, file, "UserPromptSubmit");
    let stop = installed(project, file, "Stop");
    let release = server.dir().join(format!("{window}.release"));
    let release_arg = release.to_string_lossy().into_owned();
    let fake = tui::start(
        server,
        window,
        &project.root,
        HOOKED_AGENT,
        &[&submit, &stop, &release_arg],
        &[],
    );
    let marked = server
        .gate(&[
            "agents", "mark", &fake.pane, "--name", name, "--role", "engineer",
        ])
        .output()
        .unwrap();
    assert!(marked.status.success(), "{}", stderr(&marked));
    Hooked {
        pane: fake.pane,
        out: fake.out,
        release,
    }
}

fn state(project: &Project, name: &str) -> serde_json::Value {
    let path = project.state().join("agents").join(format!("{name}.json"));
    std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn wait_activity(project: &Project, name: &str, activity: &str) -> serde_json::Value {
    wait(&format!("{name} to be {activity}"), LONG, || {
        state(project, name)["activity"] == activity
    });
    state(project, name)
}

fn schedule(project: &Project, pane: &str, note: &str) {
    let out = project.run(&["schedule", "--target", pane, "1s", note]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn session(server: &Server) {
    server.session("team", Agent::Lines);
}

/// The issue's finding: a message typed into a busy Codex is queued by Codex, which drops the
/// answer it was streaming. A check-in due mid-turn now waits, and goes out at the turn's end.
#[test]
fn a_checkin_due_mid_turn_waits_for_the_turn_to_end() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    session(&server);
    let agent = start(&server, &project, ".codex/hooks.json", "eng", "eng-1");
    let _w = project.watch();

    let sent = server.send(&[&agent.pane, "build the parser"]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    assert_eq!(agent.wait_lines(1), ["build the parser"]);
    let s = wait_activity(&project, "eng-1", "working");
    assert_eq!(s["cli"], "codex");
    assert_eq!(s["pane"], agent.pane.as_str());

    schedule(&project, &agent.pane, "Report progress");
    wait("the check-in to be queued", LONG, || {
        !project.events("note-queued").is_empty()
    });
    stays(&agent.out, 1, Duration::from_millis(1500));
    let listed = server
        .gate(&["agents", "--json"])
        .current_dir(&project.root)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let me = &report["agents"][0];
    assert_eq!(me["state"]["activity"], "working", "{report:#}");
    assert_eq!(me["queued"], 1, "{report:#}");

    agent.end_turn();
    let lines = agent.wait_lines(2);
    assert!(
        lines[1].starts_with("[gate check-in] Report progress — branch main"),
        "{lines:?}"
    );
    // The line reaches the fake before gate send returns and the event is logged.
    wait("the note-delivered event", LONG, || {
        !project.events("note-delivered").is_empty()
    });
    assert_eq!(project.events("note-delivered").len(), 1);
    // The check-in was settled when it was queued: never sent twice.
    agent.end_turn();
    stays(&agent.out, 2, Duration::from_millis(1500));
    let listed = project.run(&["schedule", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(v["checkins"], serde_json::json!([]), "{}", stdout(&listed));
}

/// With Claude Code, the Stop hook itself hands the waiting note back as the reason to go on:
/// nothing is typed into the pane, and the handback is not repeated while
/// `stop_hook_active` is set.
#[test]
fn claude_gets_a_waiting_note_from_its_stop_hook_not_its_keyboard() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    session(&server);
    let agent = start(&server, &project, ".claude/settings.json", "eng", "eng-1");
    let _w = project.watch();

    let sent = server.send(&[&agent.pane, "write the spec"]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    agent.wait_lines(1);
    wait_activity(&project, "eng-1", "working");
    schedule(&project, &agent.pane, "Commit what you have");
    wait("the check-in to be queued", LONG, || {
        !project.events("note-queued").is_empty()
    });

    agent.end_turn();
    let lines = agent.wait_lines(2);
    assert!(
        lines[1].starts_with("HANDBACK: [gate check-in] Commit what you have"),
        "{lines:?}"
    );
    wait_activity(&project, "eng-1", "idle");
    stays(&agent.out, 2, Duration::from_millis(1500));
    assert_eq!(project.events("note-handed-back").len(), 1);
    assert!(project.events("note-delivered").is_empty());
}

/// A note that waits longer than `delivery.escalate_after` is told to the PM once, and still
/// reaches the agent when its turn ends.
#[test]
fn a_long_wait_is_told_to_the_pm_once() {
    let server = Server::new();
    let config = format!("{FAST}\n[delivery]\nescalate_after = \"1s\"\nhandbacks = 0\n");
    let project = Project::new(&server, &config);
    session(&server);
    let agent = start(&server, &project, ".claude/settings.json", "eng", "eng-1");
    let pm = server.window("team", "pm", Agent::Lines, None);
    let marked = server
        .gate(&["agents", "mark", &pm.id, "--name", "pm-1", "--role", "pm"])
        .output()
        .unwrap();
    assert!(marked.status.success(), "{}", stderr(&marked));
    let _w = project.watch();

    assert_eq!(server.send(&[&agent.pane, "go"]).status.code(), Some(0));
    agent.wait_lines(1);
    wait_activity(&project, "eng-1", "working");
    schedule(&project, &agent.pane, "Check in");
    let told = pm.lines(1);
    assert!(
        told[0].starts_with("[gate] eng-1 has been working for over 1s; a checkin waits"),
        "{told:?}"
    );
    stays(&pm.out, 1, Duration::from_millis(1500));
    agent.end_turn();
    let lines = agent.wait_lines(2);
    assert!(
        lines[1].starts_with("[gate check-in] Check in"),
        "{lines:?}"
    );
}

/// `gate agent-hook` never fails the agent: outside a repository, with garbage on stdin, or
/// an event it does not know, it exits 0 and prints nothing (Gemini: `{}`).
#[test]
fn the_hook_never_gets_in_the_way() {
    let server = Server::new();
    let dir = server.dir().join("work");
    for (cli, event, input) in [
        ("claude", "stop", "not json"),
        ("claude", "pre-tool-use", "{}"),
        ("codex", "notify", ""),
        ("gemini", "after-agent", "{}"),
    ] {
        let mut cmd = server.gate(&["agent-hook", cli, event]);
        cmd.current_dir(&dir).stdin(std::process::Stdio::piped());
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{cli} {event}: {}",
            stderr(&out)
        );
        let expected = if cli == "gemini" { "{}\n" } else { "" };
        assert_eq!(stdout(&out), expected, "{cli} {event}");
    }
    let bad = server
        .gate(&["agent-hook", "aider", "stop"])
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown CLI is a usage error"
    );
}

/// Regression: a hook whose `TMUX` names a server that takes the connection and never answers
/// (a wedged or stopped tmux) waited out tmux's default 10 s for the pane's mark, at every turn
/// of the agent. Measured before the fix: 10.0 s. Now the lookup gives up within a second and
/// the agent is recorded by its pane id.
#[test]
fn a_hook_under_a_tmux_server_that_never_answers_returns_within_seconds() {
    let server = Server::new();
    let project = Project::new(&server, FAST);
    let socket = server.dir().join("wedged.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        // Every connection is held open, unanswered, until the test ends.
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let mut cmd = project.gate(&["agent-hook", "claude", "user-prompt-submit"]);
    cmd.env("TMUX", format!("{},1,0", socket.display()))
        .env("TMUX_PANE", "%7")
        .env_remove("GATE_AGENT")
        .stdin(std::process::Stdio::null());
    let start = std::time::Instant::now();
    let out = cmd.output().unwrap();
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(took < Duration::from_secs(3), "the hook took {took:?}");
    let state = project.state().join("agents/%257.json");
    let text = std::fs::read_to_string(&state).unwrap_or_default();
    assert!(text.contains("\"working\""), "{}: {text}", state.display());
}

/// Runs `gate agent-hook CLI EVENT` as the CLI would inside `pane` (its `TMUX`, `TMUX_PANE`),
/// with `payload` on stdin; returns its stdout.
fn hook_in_pane(
    server: &Server,
    project: &Project,
    pane: &str,
    cli: &str,
    event: &str,
    payload: &serde_json::Value,
) -> String {
    use std::io::Write;
    let mut cmd = project.gate(&["agent-hook", cli, event]);
    cmd.env("TMUX", format!("{},1,0", server.socket_path().display()))
        .env("TMUX_PANE", pane)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

/// A permission prompt left open longer than `delivery.needs_input_after` is told to the PM,
/// once, with the CLI's own words; the agent is known by its pane's mark.
#[test]
fn an_open_question_is_told_to_the_pm_and_the_orchestrator_once() {
    let server = Server::new();
    let config = format!("{FAST}\n[delivery]\nneeds_input_after = \"1s\"\n");
    let project = Project::new(&server, &config);
    session(&server);
    let eng = server.window("team", "eng", Agent::Lines, Some(&project.root));
    server
        .gate(&[
            "agents", "mark", &eng.id, "--name", "eng-2", "--role", "engineer",
        ])
        .output()
        .unwrap();
    let pm = server.window("team", "pm", Agent::Lines, None);
    server
        .gate(&["agents", "mark", &pm.id, "--name", "pm-1", "--role", "pm"])
        .output()
        .unwrap();
    let boss = server.window("team", "boss", Agent::Lines, None);
    server
        .gate(&[
            "agents",
            "mark",
            &boss.id,
            "--name",
            "boss",
            "--role",
            "orchestrator",
        ])
        .output()
        .unwrap();
    let _w = project.watch();
    let asked = serde_json::json!({
        "hook_event_name": "Notification",
        "notification_type": "permission_prompt",
        "message": "Claude needs your permission to use Bash",
    });
    hook_in_pane(&server, &project, &eng.id, "claude", "notification", &asked);
    let s = state(&project, "eng-2");
    assert_eq!(s["activity"], "needs-input", "{s:#}");
    assert_eq!(s["pane"], eng.id.as_str());
    let told = pm.lines(1);
    assert!(
        told[0].starts_with("[gate] eng-2 has been waiting for input for over 1s (Claude needs your permission to use Bash)"),
        "{told:?}"
    );
    // The orchestrator is told as well (issue 15: it hears of an engineer needing input).
    assert_eq!(boss.lines(1), told, "the same words");
    stays(&pm.out, 1, Duration::from_millis(1500));
    stays(&boss.out, 1, Duration::from_millis(0));
    assert_eq!(
        eng.lines(0),
        Vec::<String>::new(),
        "nothing typed into the open prompt"
    );
}

/// A turn that stopped on a usage limit gets one resume check-in, `delivery.resume_after`
/// ahead, for its own pane; a second report of the same stop schedules no other.
#[test]
fn a_usage_limit_stop_schedules_one_resume_checkin() {
    let server = Server::new();
    let config = format!("{FAST}\n[delivery]\nresume_after = \"20m\"\n");
    let project = Project::new(&server, &config);
    session(&server);
    let eng = server.window("team", "eng", Agent::Lines, Some(&project.root));
    server
        .gate(&["agents", "mark", &eng.id, "--name", "eng-3"])
        .output()
        .unwrap();
    let limited = serde_json::json!({"hook_event_name": "StopFailure", "error": "rate_limit"});
    for _ in 0..2 {
        hook_in_pane(
            &server,
            &project,
            &eng.id,
            "claude",
            "stop-failure",
            &limited,
        );
    }
    assert_eq!(state(&project, "eng-3")["activity"], "failed");
    let listed = project.run(&["schedule", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let checkins = v["checkins"].as_array().unwrap();
    assert_eq!(checkins.len(), 1, "{v:#}");
    assert_eq!(checkins[0]["pane"], eng.id.as_str());
    let note = checkins[0]["note"].as_str().unwrap();
    assert!(note.contains("stopped on a limit (rate_limit)"), "{note}");
    assert_eq!(project.events("resume-scheduled").len(), 1);
}
