//! Codex itself (the npm package, pinned by `.ci/test-clis`) in a tmux pane, with the hooks
//! `gate init --agent-hooks` wrote in `.codex/hooks.json`, against the mock Responses API.
//!
//! Codex loads project hooks only in a trusted project (`[projects."<dir>"] trust_level`)
//! and runs each only once its definition is trusted: its "Hooks need review" screen writes
//! `[hooks.state."<file>:<event>:<i>:<j>"] trusted_hash = "sha256:..."` to config.toml. The
//! hash is Codex's own; the test asks Codex for it through its app-server API (`hooks/list`,
//! each hook's `key` and `currentHash`) and records it as that screen would. Without that the
//! screen opens at start, and the last test shows what `gate send` makes of it.
//!
//! `[features] daemon_auto_start = false`: otherwise Codex 0.171 starts a detached app-server
//! daemon (copied under CODEX_HOME) that outlives the pane and the test.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::mock_model::{MockModel, Reply};
use crate::real_cli::{self, RealAgent, TURN, home, hooked_project};
use crate::server::{Server, stderr, stdout};

/// `$CODEX_HOME/config.toml`: the mock as the model provider, the project trusted, no
/// daemon, no update check, no analytics.
fn write_config(codex_home: &Path, root: &Path, mock: &MockModel) {
    std::fs::create_dir_all(codex_home).unwrap();
    let config = format!(
        r#"model = "gpt-5.1-codex"
model_provider = "mock"
check_for_update_on_startup = false

[features]
daemon_auto_start = false

[analytics]
enabled = false

[model_providers.mock]
name = "mock"
base_url = "{}/v1"
wire_api = "responses"
env_key = "OPENAI_API_KEY"

[projects.{}]
trust_level = "trusted"
"#,
        mock.url(),
        json!(root.to_string_lossy())
    );
    std::fs::write(codex_home.join("config.toml"), config).unwrap();
}

/// Asks `codex app-server` (JSON-RPC over stdio: initialize, initialized, hooks/list) for
/// the project's hooks, and records each as trusted with Codex's own hash, as its review
/// screen does (those not trusted yet). Returns every listed hook's key.
pub fn trust_hooks(program: &Path, codex_home: &Path, home: &Path, root: &Path) -> Vec<String> {
    let mut child = Command::new(program)
        .arg("app-server")
        .env_clear()
        .env("HOME", home)
        .env("CODEX_HOME", codex_home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start codex app-server");
    let mut input = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let output = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let mut send = |v: Value| writeln!(input, "{v}").expect("write to codex app-server");
    let answer = |id: u64| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("codex app-server did not answer request {id}"));
            if v["id"] == id {
                return v;
            }
        }
    };
    send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"clientInfo": {"name": "gate-tests", "version": "1"}}}));
    answer(1);
    send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "hooks/list",
        "params": {"cwds": [root]}}));
    let listed = answer(2);
    let _ = child.kill();
    let _ = child.wait();
    let hooks: Vec<Value> = listed["result"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["hooks"].as_array().cloned().unwrap_or_default())
        .collect();
    let mut config = std::fs::read_to_string(codex_home.join("config.toml")).unwrap();
    let mut keys = Vec::new();
    for hook in &hooks {
        let (Some(key), Some(hash)) = (hook["key"].as_str(), hook["currentHash"].as_str()) else {
            continue;
        };
        keys.push(key.to_owned());
        // One already trusted (gate's, by team up) has its table: a second is a TOML error.
        if hook["trustStatus"] == "trusted" {
            continue;
        }
        config.push_str(&format!(
            "\n[hooks.state.{}]\ntrusted_hash = {}\n",
            json!(key),
            json!(hash)
        ));
    }
    std::fs::write(codex_home.join("config.toml"), config).unwrap();
    keys
}

/// Codex started in a fresh hooked repository of `server`, its hooks trusted or not;
/// `None` when skipped.
fn codex(server: &Server, trusted_hooks: bool) -> Option<RealAgent<'_>> {
    let program = real_cli::program("codex")?;
    let project = hooked_project(server);
    let mock = MockModel::start();
    let codex_home = home(server).join(".codex");
    write_config(&codex_home, &project.root, &mock);
    if trusted_hooks {
        let keys = trust_hooks(&program, &codex_home, &home(server), &project.root);
        // gate's: the guard twice (Bash, file edits), the turn's start and end at least.
        for event in [
            "pre_tool_use:0",
            "pre_tool_use:1",
            "user_prompt_submit",
            "stop",
        ] {
            let key = format!(".codex/hooks.json:{event}:0");
            assert!(keys.iter().any(|k| k.contains(&key)), "{event}: {keys:?}");
        }
    }
    let vars = [
        ("CODEX_HOME", codex_home.to_string_lossy().into_owned()),
        ("OPENAI_API_KEY", "sk-gate-test".to_owned()),
    ];
    let ready = move |screen: &str| {
        if trusted_hooks {
            screen.contains("? for shortcuts") && !screen.contains("Hooks need review")
        } else {
            screen.contains("Hooks need review")
        }
    };
    Some(RealAgent::start(
        project,
        mock,
        "codex-1",
        &program,
        &[],
        &vars,
        ready,
    ))
}

/// One Codex session: a message sent, the turn seen working then idle through Codex's own
/// hooks, and an `exec_command` of `git commit --no-verify` refused by gate's guard (Codex
/// names its shell tool `Bash` to PreToolUse hooks).
#[test]
fn codex_runs_gates_hooks_and_guard() {
    let server = Server::new();
    let Some(agent) = codex(&server, true) else {
        return;
    };

    // Codex 0.171 runs its SessionStart hook at the first prompt, not at start: until then
    // the agent has no state file (gate judges it by its screen).
    std::thread::sleep(Duration::from_millis(500));
    assert!(agent.state().is_null(), "{}", agent.state());

    agent.mock.hold();
    agent.send_delivered("hello from gate");
    let working = agent.wait_activity("working");
    assert_eq!(working["event"], "UserPromptSubmit", "{working}");
    assert_eq!(working["cli"], "codex");
    agent.mock.wait_turns(1, TURN);
    assert_eq!(
        agent.wait_transitions(2),
        [
            "unknown -> idle (codex SessionStart)",
            "idle -> working (codex UserPromptSubmit)"
        ]
    );
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
            "unknown -> idle (codex SessionStart)",
            "idle -> working (codex UserPromptSubmit)",
            "working -> idle (codex Stop)"
        ]
    );

    agent.project.write("src/sneak.rs", "fn sneak() {}\n");
    agent.project.git(&["add", "src/sneak.rs"]);
    let head = agent.project.git(&["rev-parse", "HEAD"]);
    agent.mock.push(Reply::Tool {
        name: "exec_command".into(),
        input: json!({"cmd": "git commit --no-verify -m sneak"}),
    });
    agent
        .mock
        .push(Reply::Text("I will run gate check instead.".into()));
    let before = agent.mock.turns().len();
    agent.send_delivered("please commit");
    let turns = agent.mock.wait_turns(before + 2, TURN);
    let input = &turns[before + 1].json()["input"];
    let output = input
        .as_array()
        .and_then(|items| items.iter().find(|i| i["type"] == "function_call_output"))
        .unwrap_or_else(|| panic!("no function_call_output in the next request: {input}"))
        .clone();
    assert_eq!(output["call_id"], "call_mock");
    let said = output["output"].to_string();
    assert!(said.contains("blocked by PreToolUse hook"), "{said}");
    assert!(said.contains("gate refuses this command"), "{said}");
    agent.wait_screen("I will run gate check instead.", TURN);
    assert_eq!(agent.project.git(&["rev-parse", "HEAD"]), head, "no commit");
    assert_eq!(agent.wait_activity("idle")["event"], "Stop");
    assert_eq!(agent.mock.unused(), 0, "every scripted reply was used");
}

/// Untrusted hooks: Codex opens on "Hooks need review" (a menu: Enter picks "Review hooks").
/// A message sent then reaches no model, and `gate send` must not report it delivered.
#[test]
fn gate_send_does_not_call_text_typed_into_codex_hook_review_delivered() {
    let server = Server::new();
    let Some(agent) = codex(&server, false) else {
        return;
    };
    let out = agent.send("hello from gate");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        agent.turns_with("hello from gate"),
        0,
        "the model got nothing"
    );
    assert!(
        !out.status.success() && !stdout(&out).contains("delivered"),
        "gate send reported: {}\nscreen:\n{}",
        stdout(&out),
        agent.screen()
    );
    assert!(agent.state().is_null(), "no hook ran: {}", agent.state());
}

/// `gate init --agent-hooks` with Codex on PATH has Codex trust gate's hooks (asked of its
/// app-server) and no other hook; `gate doctor` asks Codex which of gate's hooks it runs: all
/// of them, then, once a hook of gate's is changed by hand, that one named as skipped.
/// Before, init only told the person to answer "Hooks need review", and doctor looked at the
/// folder's trust alone.
#[test]
fn init_has_codex_trust_gates_hooks_and_doctor_asks_codex_which_it_runs() {
    let server = Server::new();
    let Some(program) = real_cli::program("codex") else {
        return;
    };
    let mock = MockModel::start();
    let project = crate::project::Project::new(&server, "");
    let codex_home = home(&server).join(".codex");
    write_config(&codex_home, &project.root, &mock);
    let hooks = project.root.join(".codex/hooks.json");
    std::fs::create_dir_all(hooks.parent().unwrap()).unwrap();
    let other = json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true"}]}]}});
    std::fs::write(&hooks, other.to_string()).unwrap();
    let path = format!(
        "{}:{}",
        program.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let gate = |args: &[&str]| {
        project
            .gate(args)
            .env("PATH", &path)
            .env("CODEX_HOME", &codex_home)
            .output()
            .unwrap()
    };
    let doctor = |name: &str| {
        let out = gate(&["doctor", "--json"]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {report:#}"))
            .clone()
    };

    let init = gate(&["init", "--agent-hooks"]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let said = format!("{}{}", stdout(&init), stderr(&init));
    assert!(said.contains("Codex trusts gate's 5 hook(s)"), "{said}");
    let foreign = format!("{}:stop:0:0", hooks.display());
    assert!(
        said.contains("not gate's") && said.contains(&foreign),
        "{said}"
    );
    let config = std::fs::read_to_string(codex_home.join("config.toml")).unwrap();
    assert!(
        !config.contains(&format!("[hooks.state.{}]", json!(foreign))),
        "the other hook is left for the person: {config}"
    );
    let check = doctor("codex-hooks");
    assert_eq!(check["ok"], true, "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("trusts gate's 5 hooks") && detail.contains("1 other hook(s)"),
        "{check}"
    );

    // A hook of gate's changed by hand: Codex now skips it until it is trusted again.
    let text = std::fs::read_to_string(&hooks).unwrap();
    std::fs::write(&hooks, text.replacen("\"Bash\"", "\"Bash|Shell\"", 1)).unwrap();
    let check = doctor("codex-hooks");
    assert_eq!(check["ok"], false, "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("skips 1 of gate's 5 hooks") && detail.contains("(modified)"),
        "{check}"
    );
    assert!(
        check["fix"]
            .as_str()
            .unwrap()
            .contains("gate init --agent-hooks"),
        "{check}"
    );
    let again = gate(&["init", "--agent-hooks"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(doctor("codex-hooks")["ok"], true);
}
