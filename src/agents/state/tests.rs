use serde_json::json;

use super::*;

fn seen(cli: Cli, event: &str, payload: Value) -> Option<Observation> {
    observe(cli, event, &payload)
}

#[test]
fn claude_events_map_to_activities() {
    let submit = seen(
        Cli::Claude,
        "user-prompt-submit",
        json!({"hook_event_name": "UserPromptSubmit", "session_id": "s1", "cwd": "/w", "prompt": "hi"}),
    )
    .unwrap();
    assert_eq!(submit.activity, Activity::Working);
    assert_eq!(submit.session.as_deref(), Some("s1"));
    assert_eq!(submit.cwd.as_deref(), Some(Path::new("/w")));
    let stop = seen(
        Cli::Claude,
        "stop",
        json!({"hook_event_name": "Stop", "stop_hook_active": false}),
    )
    .unwrap();
    assert_eq!(stop.activity, Activity::Idle);
    let ask = seen(
        Cli::Claude,
        "notification",
        json!({"hook_event_name": "Notification", "notification_type": "permission_prompt", "message": "Claude needs your permission to use Bash"}),
    )
    .unwrap();
    assert_eq!(ask.activity, Activity::NeedsInput);
    assert_eq!(
        ask.detail.as_deref(),
        Some("Claude needs your permission to use Bash")
    );
    let idle = seen(
        Cli::Claude,
        "notification",
        json!({"notification_type": "idle_prompt", "message": "Claude is waiting for your input"}),
    )
    .unwrap();
    assert_eq!(idle.activity, Activity::Idle);
    let end = seen(
        Cli::Claude,
        "session-end",
        json!({"reason": "prompt_input_exit"}),
    )
    .unwrap();
    assert_eq!(end.activity, Activity::Gone);
    assert_eq!(end.detail.as_deref(), Some("prompt_input_exit"));
    assert!(
        seen(
            Cli::Claude,
            "notification",
            json!({"notification_type": "auth_success"})
        )
        .is_none()
    );
    assert!(seen(Cli::Claude, "pre-tool-use", json!({})).is_none());
}

/// A session that starts (or resumes) waits for its prompt; a compaction (mid-turn, too) says
/// nothing about the turn.
#[test]
fn session_start_is_idle_but_not_after_a_compaction() {
    for source in ["startup", "resume", "clear"] {
        let s = seen(Cli::Claude, "session-start", json!({"source": source})).unwrap();
        assert_eq!(s.activity, Activity::Idle, "{source}");
    }
    assert!(seen(Cli::Claude, "session-start", json!({"source": "compact"})).is_none());
    assert_eq!(
        seen(Cli::Codex, "session-start", json!({}))
            .unwrap()
            .activity,
        Activity::Idle
    );
}

#[test]
fn a_usage_limit_stop_is_a_failure_worth_resuming() {
    let limit = seen(
        Cli::Claude,
        "stop-failure",
        json!({"error": "rate_limit", "error_details": "429"}),
    )
    .unwrap();
    assert_eq!(limit.activity, Activity::Failed);
    assert!(limit.limited);
    let other = seen(
        Cli::Claude,
        "stop-failure",
        json!({"error": "invalid_request"}),
    )
    .unwrap();
    assert!(!other.limited);
}

#[test]
fn codex_notify_and_hooks() {
    let done = seen(
        Cli::Codex,
        "notify",
        json!({"type": "agent-turn-complete", "thread-id": "t1", "turn-id": "u1", "cwd": "/w", "input-messages": ["x"], "last-assistant-message": "Done.\nAll tests pass."}),
    )
    .unwrap();
    assert_eq!(done.activity, Activity::Idle);
    assert_eq!(done.event, "agent-turn-complete");
    assert_eq!(done.detail.as_deref(), Some("Done. All tests pass."));
    assert_eq!(done.session.as_deref(), Some("t1"));
    assert!(seen(Cli::Codex, "notify", json!({"type": "something-else"})).is_none());
    let submit = seen(
        Cli::Codex,
        "user-prompt-submit",
        json!({"hook_event_name": "UserPromptSubmit"}),
    )
    .unwrap();
    assert_eq!(submit.activity, Activity::Working);
    assert_eq!(
        seen(Cli::Codex, "stop", json!({})).unwrap().activity,
        Activity::Idle
    );
}

#[test]
fn gemini_events() {
    assert_eq!(
        seen(Cli::Gemini, "before-agent", json!({}))
            .unwrap()
            .activity,
        Activity::Working
    );
    assert_eq!(
        seen(Cli::Gemini, "after-agent", json!({}))
            .unwrap()
            .activity,
        Activity::Idle
    );
    let n = seen(
        Cli::Gemini,
        "notification",
        json!({"notification_type": "ToolPermission", "message": "Allow run_shell_command?"}),
    )
    .unwrap();
    assert_eq!(n.activity, Activity::NeedsInput);
}

#[test]
fn the_command_names_the_cli() {
    assert_eq!(Cli::of_command("claude --model x"), Some(Cli::Claude));
    assert_eq!(Cli::of_command("/usr/local/bin/codex"), Some(Cli::Codex));
    assert_eq!(Cli::of_command("gemini"), Some(Cli::Gemini));
    assert_eq!(Cli::of_command("aider"), None);
    assert_eq!(Cli::of_command(""), None);
}

fn at(agent: &str, pane: &str) -> Whereabouts {
    Whereabouts {
        agent: agent.into(),
        pane: Some(pane.into()),
        socket: Some("/tmp/sock".into()),
    }
}

#[test]
fn since_moves_only_when_the_activity_changes() {
    let dir = tempfile::tempdir().unwrap();
    let states = States::in_dir(dir.path());
    let working = seen(Cli::Claude, "user-prompt-submit", json!({})).unwrap();
    let idle = seen(Cli::Claude, "stop", json!({})).unwrap();
    let a = states
        .record(Cli::Claude, &at("eng-1", "%3"), &working, 100)
        .unwrap()
        .state;
    assert_eq!((a.since, a.updated), (100, 100));
    let b = states
        .record(Cli::Claude, &at("eng-1", "%3"), &working, 150)
        .unwrap()
        .state;
    assert_eq!((b.since, b.updated), (100, 150));
    let c = states
        .record(Cli::Claude, &at("eng-1", "%3"), &idle, 200)
        .unwrap()
        .state;
    assert_eq!((c.activity, c.since), (Activity::Idle, 200));
    assert_eq!(states.read("eng-1"), Some(c.clone()));
    assert_eq!(states.all(), vec![c.clone()]);
    assert_eq!(states.find("nobody", "%3", Path::new("/tmp/sock")), Some(c));
    assert_eq!(states.find("nobody", "%4", Path::new("/tmp/sock")), None);
}

#[test]
fn names_never_leave_the_directory_and_garbage_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let states = States::in_dir(dir.path());
    let idle = seen(Cli::Claude, "stop", json!({})).unwrap();
    states
        .record(Cli::Claude, &at("../../x y", "%1"), &idle, 1)
        .unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path().join(DIR))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(names, vec!["%2E%2E%2F%2E%2E%2Fx%20y.json".to_owned()]);
    assert_eq!(states.read("../../x y").unwrap().agent, "../../x y");
    std::fs::write(dir.path().join(DIR).join("bad.json"), b"{not json").unwrap();
    assert_eq!(states.all().len(), 1);
    assert_eq!(states.read("bad"), None);
}

#[test]
fn concurrent_events_leave_one_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let states = States::in_dir(dir.path());
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let states = states.clone();
            std::thread::spawn(move || {
                let event = if i % 2 == 0 {
                    "stop"
                } else {
                    "user-prompt-submit"
                };
                let o = observe(Cli::Claude, event, &json!({})).unwrap();
                for n in 0..20 {
                    states.record(Cli::Claude, &at("a", "%1"), &o, n).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = states.read("a").expect("a whole, parseable file");
    assert_eq!(s.agent, "a");
}
