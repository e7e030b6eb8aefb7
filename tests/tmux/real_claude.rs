//! Claude Code itself (the npm package, pinned by `.ci/test-clis`) in a tmux pane, with the
//! hooks `gate init --agent-hooks` wrote in `.claude/settings.json`, against the mock
//! Messages API: gate's message reaches the model once, the CLI's own hooks record its turns,
//! gate's guard refuses a real Bash tool call, an API error and the session's end are
//! recorded.
//!
//! First-run dialogs are settled in `$CLAUDE_CONFIG_DIR/.claude.json` before the start, as
//! Claude Code itself records them: onboarding done, the folder trusted, the API key approved
//! (without that, Claude Code 2.1 opens on "Detected a custom API key ... Do you want to use
//! this API key?" with "No (recommended)" selected).

use std::time::Duration;

use serde_json::json;

use crate::mock_model::{MockModel, Reply};
use crate::project::wait;
use crate::real_cli::{self, RealAgent, TURN, home, hooked_project};
use crate::server::Server;

const KEY: &str = "sk-ant-gate-test-0123456789abcdefghij";

/// Claude Code started in a fresh hooked repository of `server`; `None` when skipped.
fn claude(server: &Server) -> Option<RealAgent<'_>> {
    let program = real_cli::program("claude")?;
    let project = hooked_project(server);
    let mock = MockModel::start();
    let config = home(server).join(".claude");
    std::fs::create_dir_all(&config).unwrap();
    let approved = &KEY[KEY.len() - 20..];
    let root = project.root.to_string_lossy().into_owned();
    let record = json!({
        "hasCompletedOnboarding": true,
        "customApiKeyResponses": {"approved": [approved], "rejected": []},
        "projects": {root: {"hasTrustDialogAccepted": true}},
    });
    std::fs::write(config.join(".claude.json"), record.to_string()).unwrap();
    let vars = [
        ("CLAUDE_CONFIG_DIR", config.to_string_lossy().into_owned()),
        ("ANTHROPIC_BASE_URL", mock.url()),
        ("ANTHROPIC_API_KEY", KEY.to_owned()),
        ("DISABLE_TELEMETRY", "1".to_owned()),
        ("DISABLE_ERROR_REPORTING", "1".to_owned()),
        ("DISABLE_AUTOUPDATER", "1".to_owned()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_owned()),
    ];
    let ready = |screen: &str| {
        screen.contains("Claude Code v")
            && screen.lines().any(|l| l.starts_with('❯'))
            && !screen.contains("Do you want")
    };
    Some(RealAgent::start(
        project,
        mock,
        "claude-1",
        &program,
        &[],
        &vars,
        ready,
    ))
}

/// The whole path with one Claude Code session: a message sent, its turn seen working and
/// then idle through Claude's own hooks, a `git commit --no-verify` the model asks for refused
/// by the guard, a rate-limit stop recorded as failed (with a resume check-in), `/exit`
/// recorded as gone.
#[test]
fn claude_code_runs_gates_hooks_and_guard() {
    let server = Server::new();
    let Some(agent) = claude(&server) else {
        return;
    };

    // (a) + (b): held at the model, the turn is running: the state file says so.
    // At start, the CLI's SessionStart hook: idle, ready for a message.
    let started = agent.wait_activity("idle");
    assert_eq!(started["event"], "SessionStart", "{started}");
    assert_eq!(started["detail"], "startup", "{started}");

    agent.mock.hold();
    agent.send_delivered("hello from gate");
    let working = agent.wait_activity("working");
    assert_eq!(working["event"], "UserPromptSubmit", "{working}");
    assert_eq!(working["cli"], "claude");
    assert!(working["session"].as_str().is_some_and(|s| !s.is_empty()));
    agent.mock.wait_turns(1, TURN);
    agent.mock.release();
    let idle = agent.wait_activity("idle");
    assert_eq!(idle["event"], "Stop", "{idle}");
    assert_eq!(
        agent.turns_with("hello from gate"),
        1,
        "the model got it once: {:?}",
        agent.newest_messages()
    );
    assert_eq!(
        agent.wait_transitions(3),
        [
            "unknown -> idle (claude SessionStart)",
            "idle -> working (claude UserPromptSubmit)",
            "working -> idle (claude Stop)"
        ]
    );

    // (c): the model asks for Bash `git commit --no-verify` of a staged change; gate's
    // PreToolUse guard refuses it, and the refusal is what the model reads next.
    agent.project.write("src/sneak.rs", "fn sneak() {}\n");
    agent.project.git(&["add", "src/sneak.rs"]);
    let head = agent.project.git(&["rev-parse", "HEAD"]);
    agent.mock.push(Reply::Tool {
        name: "Bash".into(),
        input: json!({"command": "git commit --no-verify -m sneak", "description": "Commit"}),
    });
    agent
        .mock
        .push(Reply::Text("I will run gate check instead.".into()));
    let before = agent.mock.turns().len();
    agent.send_delivered("please commit");
    let turns = agent.mock.wait_turns(before + 2, TURN);
    let answer = &turns[before + 1].json()["messages"];
    let result = answer
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_array())
        .and_then(|blocks| blocks.iter().find(|b| b["type"] == "tool_result"))
        .unwrap_or_else(|| panic!("no tool_result in the model's next request: {answer}"))
        .clone();
    assert_eq!(result["tool_use_id"], "toolu_mock");
    assert_eq!(result["is_error"], true, "{result}");
    let said = result["content"].to_string();
    assert!(said.contains("gate refuses this command"), "{said}");
    assert!(said.contains("--no-verify"), "{said}");
    agent.wait_screen("I will run gate check instead.", TURN);
    assert_eq!(agent.project.git(&["rev-parse", "HEAD"]), head, "no commit");
    assert_eq!(agent.wait_activity("idle")["event"], "Stop");

    // A rate limit ends the turn with Claude's StopFailure hook: failed, and one check-in to
    // resume is scheduled for the agent's pane.
    agent.mock.push(Reply::Error {
        status: 429,
        kind: "rate_limit_error".into(),
        message: "mock rate limit reached".into(),
    });
    agent.send_delivered("one more thing");
    let failed = agent.wait_activity("failed");
    assert_eq!(failed["event"], "StopFailure", "{failed}");
    assert_eq!(failed["detail"], "rate_limit", "{failed}");
    // The hook records the stop, then schedules the check-in: wait for the second.
    wait("the resume check-in", Duration::from_secs(5), || {
        !agent.project.events("resume-scheduled").is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    let resume = agent.project.events("resume-scheduled");
    assert_eq!(resume.len(), 1, "{resume:?}");

    // `/exit`: SessionEnd, the agent is gone.
    agent.send_delivered("/exit");
    let gone = agent.wait_activity("gone");
    assert_eq!(gone["event"], "SessionEnd", "{gone}");
    assert_eq!(gone["detail"], "prompt_input_exit", "{gone}");
    assert_eq!(agent.mock.unused(), 0, "every scripted reply was used");
}
