//! `gate send`: what the agent receives, byte for byte.

use std::io::Write;
use std::process::Stdio;

use crate::server::{Agent, PAUSE, Server, stderr, stdout, wait_for};

#[test]
fn text_that_looks_like_commands_arrives_literally() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    let messages = [
        r#"$(rm -rf /) ; && | "quotes" 'single' \backslash #{pane_id} `id` ~ *"#,
        "é, 日本, 🎉 and ü",
        "-n starts with a dash",
        "--help",
        "Enter",
        "C-c",
        "Escape",
        "hello;",
        r"escaped\;",
        ";",
        "{",
        "  leading and trailing spaces  ",
    ];
    for m in messages {
        let out = server.send(&["agent", "--", m]);
        assert_eq!(out.status.code(), Some(0), "{m:?}: {}", stderr(&out));
    }
    // Without `--` a dash-led message that is not an option is still the message.
    let out = server.send(&["agent", "-x marks the spot"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut expected: Vec<&str> = messages.to_vec();
    expected.push("-x marks the spot");
    assert_eq!(agent.lines(expected.len()), expected);
}

#[test]
fn a_ten_kilobyte_line_arrives_whole() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    let line: String = (0..10_240)
        .map(|i| ["a", "é", ";", " ", "$"][i % 5])
        .collect::<String>()
        + ";";
    let out = server.send(&["agent", "--", &line]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(agent.lines(1), [line]);
}

#[test]
fn a_multi_line_message_arrives_in_order() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    let text = "first line\nsecond $(line)\n\n\tfourth, indented by a tab\nlast;\n";
    let mut child = server
        .gate(&["send", "--pause", PAUSE, "agent", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A program that did not ask for bracketed paste gets the plain lines (tmux pastes each
    // newline as a carriage return, which the terminal turns back into a newline).
    assert_eq!(
        agent.lines(5),
        [
            "first line",
            "second $(line)",
            "",
            "\tfourth, indented by a tab",
            "last;"
        ]
    );
}

#[test]
fn a_multi_line_message_is_one_bracketed_paste_for_an_app_that_asks() {
    let server = Server::new();
    let agent = server.session("agent", Agent::BracketedLines);
    let out = server.send(&["agent", "one\ntwo\nthree"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    agent.lines(3);
    assert_eq!(
        String::from_utf8(agent.bytes()).unwrap(),
        "\x1b[200~one\ntwo\nthree\x1b[201~\n"
    );
}

#[test]
fn twenty_concurrent_senders_never_interleave() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    let messages: Vec<String> = (0..20)
        .map(|i| {
            let letter = char::from(b'a' + i as u8);
            format!("sender {i:02} {}", letter.to_string().repeat(400))
        })
        .collect();
    let children: Vec<_> = messages
        .iter()
        .map(|m| {
            server
                .gate(&["send", "--pause", "20ms", "agent", m])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let mut got = agent.lines(20);
    got.sort();
    assert_eq!(got, messages);
}

#[test]
fn a_missing_target_lists_the_windows_that_exist() {
    let server = Server::new();
    let agent = server.session("agent-long", Agent::Lines);
    server.window("agent-long", "claude", Agent::Lines, None);
    server.session("pm", Agent::Lines);
    // tmux itself would take `agent` for the session `agent-long`.
    for target in ["agent", "agent-long:7", "nosuch:0", "%99", "claud"] {
        let out = server.send(&[target, "hello"]);
        assert_eq!(out.status.code(), Some(2), "{target}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("no tmux pane matches {target:?}")),
            "{err}"
        );
        assert!(
            err.contains("agent-long:0 (main)\n  agent-long:1 (claude)\n  pm:0 (main)"),
            "{err}"
        );
    }
    let out = server.send(&["agent-long:0", "exact"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(agent.lines(1), ["exact"]);
}

#[test]
fn no_server_is_a_clear_error() {
    let server = Server::new();
    let out = server.send(&["agent", "hello"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("no tmux server is running on tmux socket \"gate-test\" (-L)"),
        "{err}"
    );
}

#[test]
fn a_socket_path_selects_the_server_too() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    let socket = server.socket_path();
    let out = server
        .gate(&["send", "--pause", PAUSE, "agent", "by path"])
        .env("GATE_TMUX_SOCKET", &socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(agent.lines(1), ["by path"]);
}

#[test]
fn copy_mode_is_left_before_typing() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    server.tmux(&["copy-mode", "-t", &agent.id]);
    let in_mode = || server.tmux(&["display-message", "-p", "-t", &agent.id, "#{pane_in_mode}"]);
    assert_eq!(in_mode().trim(), "1");
    let out = server.send(&["agent", "after copy mode"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(agent.lines(1), ["after copy mode"]);
    assert_eq!(in_mode().trim(), "0");
}

#[test]
fn control_characters_are_removed_with_a_warning() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    let out = server.send(&["agent", "a\x1b[31mb\x1b[0m\x03c\x07d\x7f"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("removed 5 control character(s) or escape sequence(s)"),
        "{}",
        stderr(&out)
    );
    let out = server.send(&["agent", "\x1b[0m\n\x03"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("the message is empty"));
    assert_eq!(agent.lines(1), ["abcd"]);
}

#[test]
fn no_enter_types_without_submitting() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    let out = server.send(&["--no-enter", "agent", "draft "]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("typed into agent:0.0"),
        "{}",
        stdout(&out)
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(agent.bytes(), b"");
    let out = server.send(&["agent", "then sent"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(agent.lines(1), ["draft then sent"]);
}

#[test]
fn json_reports_the_delivery() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    let out = server.send(&["--json", &agent.id, "héllo"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["target"], agent.id.as_str());
    assert_eq!(v["pane"], agent.id.as_str());
    assert_eq!(v["resolved"], "agent:0.0");
    assert_eq!(v["delivery"], "delivered");
    assert_eq!(v["bytes"], 6);
    assert_eq!(v["enters"], 1);
    assert_eq!(v["removed"], 0);
    assert!(v["why"].is_null(), "{v:#}");
    assert_eq!(v["screen"], serde_json::json!([]));
    assert!(v["elapsed_ms"].as_u64().unwrap() >= 50);
}

#[test]
fn a_message_that_stays_unsubmitted_is_unconfirmed_after_three_enters() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Stuck);
    let out = server.send(&["--json", "agent", "this input box never submits"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["delivery"], "unconfirmed");
    assert_eq!(v["enters"], 3);
    wait_for(|| agent.bytes().ends_with(b"\r\r\r"), "three Enters");
    assert_eq!(agent.bytes(), b"this input box never submits\r\r\r");
}

#[test]
fn an_enter_the_agent_missed_is_pressed_again() {
    let server = Server::new();
    let agent = server.session("agent", Agent::SwallowsFirstEnter);
    let out = server.send(&["--json", "agent", "please pick this up"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["delivery"], "delivered");
    assert_eq!(v["enters"], 2);
    assert_eq!(agent.lines(1), ["please pick this up"]);
}

#[test]
fn an_agent_slow_to_redraw_gets_one_enter() {
    let server = Server::new();
    let agent = server.session("agent", Agent::SlowToRedraw);
    for m in ["first message", "second message"] {
        let out = server.send(&["--json", "agent", m]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (&v["delivery"], &v["enters"]),
            (&"delivered".into(), &1.into())
        );
    }
    assert_eq!(agent.lines(2), ["first message", "second message"]);
}

#[test]
fn a_send_is_logged_in_the_repository_it_runs_in() {
    let server = Server::new();
    server.session("agent", Agent::Lines);
    let repo = server.dir().join("work");
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&repo)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(git.status.success());
    let out = server.send(&["agent", "logged"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = std::fs::read_to_string(repo.join(".git/gate/events.jsonl")).unwrap();
    assert!(log.contains(r#""kind":"sent""#), "{log}");
    assert!(
        log.contains("agent (agent:0.0 %0): delivered, 6 bytes"),
        "{log}"
    );
}

/// The issue's first finding: Codex opened its "Hooks need review" menu, and six sends into it
/// came back `delivered`: each Enter picked a menu item and the model got nothing. The text
/// never shows in an input there, so no Enter is pressed and the send says so.
#[test]
fn a_menu_that_shows_no_input_gets_no_enter_and_is_reported() {
    let server = Server::new();
    let agent = server.session("agent", Agent::HooksMenu);
    let out = server.send(&["--json", "agent", "please review the auth feature"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["delivery"], "not_seen", "{v:#}");
    assert_eq!(v["enters"], 0);
    assert_eq!(v["why"], "never_appeared");
    let rows: Vec<&str> = v["screen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(rows.first(), Some(&"  Hooks need review"), "{rows:?}");
    let err = stderr(&out);
    assert!(
        err.contains("not delivered to agent:0.0")
            && err.contains("never appeared")
            && err.contains("no Enter pressed")
            && err.contains("  |   Hooks need review"),
        "{err}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(agent.bytes(), b"", "the menu got an Enter");
    // Once a person has answered the menu, messages go through.
    server.tmux(&["send-keys", "-t", &agent.id, "Enter"]);
    wait_for(|| !agent.bytes().is_empty(), "the menu to be answered");
    let out = server.send(&["agent", "now it is an input"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        agent.lines(2),
        ["MENU: 1. Review hooks", "now it is an input"]
    );
}

/// The issue's second finding: Claude Code clears its input ~330 ms after Enter, and gate
/// pressed Enter again after 200 ms of stillness; a dialog opening right after the submit took
/// that Enter as its answer. One Enter, and the dialog is left to the agent.
#[test]
fn a_cli_slow_to_clear_its_input_gets_one_enter() {
    let server = Server::new();
    let agent = server.session("agent", Agent::SlowClearThenDialog);
    let out = server.send(&["--json", "agent", "first message of the session"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["delivery"], &v["enters"]),
        (&"delivered".into(), &1.into()),
        "{v:#}"
    );
    assert_eq!(agent.lines(1), ["first message of the session"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(agent.bytes(), b"first message of the session\n");
}

/// Enter opened a question above the input and the text is still there: another Enter would
/// answer the question, so none is pressed, and the send says the screen changed.
#[test]
fn a_screen_that_changes_after_enter_gets_no_second_enter() {
    let server = Server::new();
    let agent = server.session("agent", Agent::AsksOnEnter);
    let out = server.send(&["--json", "agent", "deploy the staging branch"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["delivery"], "unconfirmed", "{v:#}");
    assert_eq!(v["why"], "screen_changed");
    assert_eq!(v["enters"], 1);
    let err = stderr(&out);
    assert!(
        err.contains("the screen changed") && err.contains("Send this message to the whole team?"),
        "{err}"
    );
    assert_eq!(agent.bytes(), b"ASKED\n");
}

/// Claude Code shows a multi-line paste as `[Pasted text #1 +2 lines]`: that is the message in
/// the input. This one also misses the first Enter after a paste, which the old rule ("the text
/// is not on screen, so it was submitted") reported as delivered.
#[test]
fn a_paste_placeholder_stands_for_the_message() {
    let server = Server::new();
    let agent = server.session("agent", Agent::PastePlaceholder);
    let out = server.send(&["--json", "agent", "one\ntwo\nthree"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["delivery"], &v["enters"]),
        (&"delivered".into(), &2.into()),
        "{v:#}"
    );
    agent.lines(3);
    assert_eq!(agent.bytes(), b"one\ntwo\nthree\n");
}

/// A plain line reader (the terminal echoes, Enter moves the cursor on) gets one Enter, fast.
#[test]
fn a_plain_line_reader_gets_it_at_once() {
    let server = Server::new();
    let agent = server.session("agent", Agent::EchoLines);
    for m in ["hello reader", "and again"] {
        let out = server.send(&["--json", "agent", m]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (&v["delivery"], &v["enters"]),
            (&"delivered".into(), &1.into()),
            "{v:#}"
        );
        // The 50 ms pause and a few looks at the screen.
        assert!(v["elapsed_ms"].as_u64().unwrap() < 400, "{v:#}");
    }
    assert_eq!(agent.lines(2), ["hello reader", "and again"]);
}
