//! `gate team up` with the real agent CLIs (Claude Code, Codex; see `real_cli`) as an
//! engineer's program, against [`MockModel`] on loopback: team up's own preparation (the
//! worktree, gate's hooks in it, the CLI's trust of that folder in the CLI's own settings) is
//! all the CLI gets, and its brief must reach the model as the first user message.
//!
//! The team file's `command` is a wrapper named after the CLI (so gate knows it by its name,
//! as it knows `claude` on a person's PATH) that runs the real one under `env -i`: a temp
//! HOME, the mock's URL and a fake key, `gate` (this build) first on PATH (tmux 3.3 gives a
//! new pane its client's PATH, so the wrapper sets it), and nothing of the developer's
//! environment. `gate team up` itself runs with the same CLAUDE_CONFIG_DIR / CODEX_HOME, so
//! the trust it records lands where the CLI reads it.
//!
//! While `team up` runs, every distinct screen of the agent's pane is recorded, so a test can
//! say which first-run dialogs the CLI showed, if any.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::mock_model::MockModel;
use crate::project::wait;
use crate::real_cli::{self, TURN, newest_user_text};
use crate::server::{Server, stderr, stdout};

/// The team's session and its engineer.
const SESSION: &str = "shop";
const ENGINEER: &str = "ann";
/// The header of ann's brief (`gate::team::brief::header`).
const HEADER: &str = "You are ann, the engineer of team shop.";
/// The brief's last line but the optional extra (every brief has it).
const LAST_LINE: &str = "Check in on a schedule: gate schedule 30m";
const CLAUDE_KEY: &str = "sk-ant-gate-test-0123456789abcdefghij";

/// Set in the CLI's environment only (by the wrapper): a process that has it is the CLI or
/// one of its children, never this test, gate or its watcher.
const MARKER: &str = "GATE_TEST_REAL_TEAM";

/// A team in `<temp>/work` whose engineer `ann` (feature "User auth") runs a real CLI.
struct RealTeam<'s> {
    server: &'s Server,
    /// The main checkout, canonical.
    root: PathBuf,
    mock: MockModel,
}

impl Drop for RealTeam<'_> {
    fn drop(&mut self) {
        let _ = self.gate(&["team", "down"]);
        let _ = self.gate(&["watch", "--stop"]);
    }
}

impl<'s> RealTeam<'s> {
    /// A repository on main with one commit and `team.toml` naming `wrapper` as ann's command.
    fn new(server: &'s Server, mock: MockModel, wrapper: &Path) -> RealTeam<'s> {
        let root = server.dir().join("work").canonicalize().unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["commit", "-q", "--allow-empty", "-m", "initial"]);
        let text = format!(
            "session = \"{SESSION}\"\nready_timeout = 40\n\n\
             [[agent]]\nname = \"{ENGINEER}\"\nrole = \"engineer\"\ncommand = {}\n\
             feature = \"User auth\"\n",
            json!(wrapper.to_string_lossy())
        );
        std::fs::write(root.join("team.toml"), text).unwrap();
        RealTeam { server, root, mock }
    }

    /// `gate ARGS` in the main checkout, with the CLIs' settings in the temp home.
    fn gate(&self, args: &[&str]) -> Output {
        self.server
            .gate(args)
            .current_dir(&self.root)
            .env("CLAUDE_CONFIG_DIR", claude_config(self.server))
            .env("CODEX_HOME", codex_home(self.server))
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> (Option<i32>, Value) {
        let out = self.gate(args);
        let v = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}\n{}", stdout(&out), stderr(&out)));
        (out.status.code(), v)
    }

    /// `gate team up --json` while every distinct screen of ann's pane is recorded; the exit
    /// code, the report, ann's entry and the screens.
    fn up(&self) -> (Option<i32>, Value, Value, Vec<String>) {
        let recorder = Recorder::start(self.server);
        let started = Instant::now();
        let (code, report) = self.json(&["team", "up", "--json"]);
        eprintln!("team up took {} ms", started.elapsed().as_millis());
        let screens = recorder.stop();
        let ann = report["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["name"] == ENGINEER))
            .unwrap_or_else(|| panic!("no {ENGINEER} in {report:#}"))
            .clone();
        (code, report, ann, screens)
    }

    /// ann's worktree.
    fn worktree(&self) -> PathBuf {
        self.root
            .parent()
            .unwrap()
            .join("work-worktrees/001-user-auth")
    }

    /// ann's state file, `Null` while there is none.
    fn state(&self) -> Value {
        let path = self.root.join(format!(".git/gate/agents/{ENGINEER}.json"));
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    }

    #[track_caller]
    fn wait_activity(&self, activity: &str) -> Value {
        let deadline = Instant::now() + TURN;
        while self.state()["activity"] != activity {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {ENGINEER} to be {activity}; state: {}\nscreen:\n{}",
                self.state(),
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.state()
    }

    /// ann's `agent-state` changes, as `before -> after (cli Event)`.
    fn transitions(&self) -> Vec<String> {
        let text =
            std::fs::read_to_string(self.root.join(".git/gate/events.jsonl")).unwrap_or_default();
        let prefix = format!("{ENGINEER}: ");
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["kind"] == "agent-state")
            .filter_map(|e| e["detail"].as_str().map(str::to_owned))
            .filter_map(|d| d.strip_prefix(&prefix).map(str::to_owned))
            .map(|d| d.split(": ").next().unwrap_or(&d).to_owned())
            .collect()
    }

    fn screen(&self) -> String {
        capture(self.server.dir()).unwrap_or_default()
    }

    /// The pane's first process and all its descendants now.
    fn processes(&self, pane: &str) -> Vec<u32> {
        let pid: u32 = self
            .server
            .tmux(&["display-message", "-p", "-t", pane, "#{pane_pid}"])
            .trim()
            .parse()
            .unwrap();
        let mut all = vec![pid];
        let mut i = 0;
        while i < all.len() {
            all.extend(children(all[i]));
            i += 1;
        }
        all
    }

    /// Asserts that within 10 s no process of the CLI is left: none of `pids`, none with the
    /// wrapper's marker in its environment.
    #[track_caller]
    fn assert_no_cli_left(&self, pids: &[u32]) {
        let marker = format!("{MARKER}={}", self.server.dir().display());
        let left = || -> Vec<String> {
            let mut left: Vec<String> = pids
                .iter()
                .filter(|p| alive(**p))
                .map(|p| format!("pid {p} ({})", cmdline(*p)))
                .collect();
            left.extend(
                marked(&marker)
                    .into_iter()
                    .filter(|p| !pids.contains(p))
                    .map(|p| format!("pid {p} ({}), with the marker", cmdline(p))),
            );
            left
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !left().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(
            left(),
            Vec::<String>::new(),
            "processes left after team down"
        );
    }
}

/// Every distinct screen of `=shop:=ann` while it runs (polled every 25 ms), each after a
/// line `@ +<ms since the start>`.
struct Recorder {
    stop: Arc<AtomicBool>,
    screens: Arc<Mutex<Vec<String>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Recorder {
    fn start(server: &Server) -> Recorder {
        let dir = server.dir().to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let screens = Arc::new(Mutex::new(Vec::<String>::new()));
        let (s, v) = (Arc::clone(&stop), Arc::clone(&screens));
        let start = Instant::now();
        let thread = std::thread::spawn(move || {
            let mut last: Option<String> = None;
            loop {
                let stopping = s.load(Ordering::Relaxed);
                if let Some(screen) = capture(&dir)
                    && last.as_ref() != Some(&screen)
                {
                    let ms = start.elapsed().as_millis();
                    v.lock().unwrap().push(format!("@ +{ms} ms\n{screen}"));
                    last = Some(screen);
                }
                if stopping {
                    break;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        });
        Recorder {
            stop,
            screens,
            thread,
        }
    }

    /// The screens seen, the one on show now last.
    fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.screens.lock().unwrap().clone()
    }
}

/// ann's pane's screen on the test's tmux server (see `Server`), if the window exists.
fn capture(dir: &Path) -> Option<String> {
    let out = Command::new("tmux")
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env("TMUX_TMPDIR", dir)
        .args(["-L", "gate-test", "-f", "/dev/null", "capture-pane", "-p"])
        .args(["-t", &format!("={SESSION}:={ENGINEER}")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first-run screens that showed in `screens` (as gate's own list names them), each
/// named once, in order.
fn dialogs(screens: &[String]) -> Vec<&'static str> {
    let mut seen = Vec::new();
    for screen in screens {
        if let Some(d) = gate::team::dialogs::shown(screen)
            && !seen.contains(&d)
        {
            seen.push(d);
        }
    }
    seen
}

/// The screens in short, for failure messages: each one's time and last 4 lines with text.
fn timeline(screens: &[String]) -> String {
    screens
        .iter()
        .map(|s| {
            let mut lines = s.lines();
            let at = lines.next().unwrap_or_default();
            let text: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
            let tail = text[text.len().saturating_sub(4)..].join("\n    ");
            format!("{at}\n    {tail}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `<temp>/home`, the CLIs' HOME.
fn home(server: &Server) -> PathBuf {
    real_cli::home(server)
}

fn claude_config(server: &Server) -> PathBuf {
    home(server).join(".claude")
}

fn codex_home(server: &Server) -> PathBuf {
    home(server).join(".codex")
}

/// `<temp>/clis/<name>`: runs `program` under `env -i` with the basic variables and `vars`,
/// passing on the pane's TERM, TMUX, TMUX_PANE and GATE_AGENT (which team up sets).
fn wrapper(server: &Server, name: &str, program: &Path, vars: &[(&str, String)]) -> PathBuf {
    let bin = server.dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gate = bin.join("gate");
    if !gate.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_gate"), &gate).unwrap();
    }
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        program.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut assigned: Vec<(&str, String)> = vec![
        ("HOME", home(server).to_string_lossy().into_owned()),
        ("PATH", path),
        ("LANG", "C.UTF-8".into()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        (
            "XDG_RUNTIME_DIR",
            server.dir().join("run").to_string_lossy().into_owned(),
        ),
        (MARKER, server.dir().to_string_lossy().into_owned()),
    ];
    assigned.extend(vars.iter().cloned());
    let quote = |s: &str| shlex::try_quote(s).expect("no NUL").into_owned();
    let mut script = String::from(
        "#!/bin/sh\nexec env -i TERM=\"$TERM\" TMUX=\"$TMUX\" TMUX_PANE=\"$TMUX_PANE\" \
         GATE_AGENT=\"$GATE_AGENT\"",
    );
    for (k, v) in &assigned {
        script.push_str(&format!(" {k}={}", quote(v)));
    }
    script.push_str(&format!(" {} \"$@\"\n", quote(&program.to_string_lossy())));
    let dir = server.dir().join("clis");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, script).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    file
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

fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let file = task.path().join("children");
        if let Ok(text) = std::fs::read_to_string(file) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// Running (not a zombie waiting for its parent).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .replace('\0', " ")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

/// Live processes whose environment holds `entry` (`NAME=value`).
fn marked(entry: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == entry.as_bytes()))
        })
        .filter(|p| alive(*p))
        .collect()
}

/// The newest user text of the model's first turn request.
fn first_turn_text(mock: &MockModel) -> String {
    mock.turns()
        .first()
        .map(|r| newest_user_text(&r.json()))
        .unwrap_or_default()
}

fn turns_with(mock: &MockModel, text: &str) -> usize {
    mock.turns()
        .iter()
        .map(|r| newest_user_text(&r.json()).matches(text).count())
        .sum()
}

/// Claude Code as ann's command, against the test's mock: the wrapper, and
/// `$CLAUDE_CONFIG_DIR/.claude.json` holding only what a person with an API key has there
/// when `approved` (the key approved: Claude Code asks once whether to use a key in its
/// environment), else nothing. Trust and onboarding are team up's to record.
fn claude_team<'s>(server: &'s Server, program: &Path, approved: bool) -> RealTeam<'s> {
    let mock = MockModel::start();
    let config = claude_config(server);
    std::fs::create_dir_all(&config).unwrap();
    if approved {
        let tail = &CLAUDE_KEY[CLAUDE_KEY.len() - 20..];
        let record = json!({"customApiKeyResponses": {"approved": [tail], "rejected": []}});
        std::fs::write(config.join(".claude.json"), record.to_string()).unwrap();
    }
    let vars = [
        ("CLAUDE_CONFIG_DIR", config.to_string_lossy().into_owned()),
        ("ANTHROPIC_BASE_URL", mock.url()),
        ("ANTHROPIC_API_KEY", CLAUDE_KEY.to_owned()),
        ("DISABLE_TELEMETRY", "1".to_owned()),
        ("DISABLE_ERROR_REPORTING", "1".to_owned()),
        ("DISABLE_AUTOUPDATER", "1".to_owned()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_owned()),
    ];
    let claude = wrapper(server, "claude", program, &vars);
    RealTeam::new(server, mock, &claude)
}

/// Claude Code as ann: team up trusts the worktree and marks onboarding done in
/// `$CLAUDE_CONFIG_DIR/.claude.json`, and Claude Code opens on no first-run screen. The
/// brief reaches the model as the first user message, Claude's hooks record the turn, status
/// says alive, down leaves no process.
#[test]
fn team_up_briefs_real_claude_code_and_down_stops_it() {
    let server = Server::new();
    let Some(program) = real_cli::program("claude") else {
        return;
    };
    let team = claude_team(&server, &program, true);
    let config = claude_config(&server);

    // The turn the brief starts is held at the model: the state file shows it working.
    team.mock.hold();
    let (code, report, ann, screens) = team.up();
    let shown = dialogs(&screens);
    assert_eq!(
        code,
        Some(0),
        "team up: {report:#}\ndialogs shown: {shown:?}\nscreen:\n{}",
        team.screen()
    );
    assert_eq!(ann["window"], "started", "{report:#}");
    assert_eq!(ann["brief"], "delivered", "{report:#}");
    assert!(ann.get("problem").is_none(), "{report:#}");
    let worktree = team.worktree();
    assert_eq!(ann["root"], worktree.to_str().unwrap());
    // What team up recorded in Claude Code's settings, and that it is what the CLI read.
    let trust = ann["trust"].to_string();
    assert!(trust.contains("Claude Code trusts"), "{trust}");
    assert!(trust.contains("hasCompletedOnboarding"), "{trust}");
    let written: Value =
        serde_json::from_slice(&std::fs::read(config.join(".claude.json")).unwrap()).unwrap();
    assert_eq!(
        written["projects"][worktree.to_str().unwrap()]["hasTrustDialogAccepted"],
        true,
        "{written:#}"
    );
    assert_eq!(shown, Vec::<&str>::new(), "first-run screens shown");

    let working = team.wait_activity("working");
    assert_eq!(working["event"], "UserPromptSubmit", "{working}");
    assert_eq!(working["cli"], "claude", "{working}");
    team.mock.wait_turns(1, TURN);
    let first = first_turn_text(&team.mock);
    assert!(first.contains(HEADER), "the first user message: {first}");
    assert!(first.contains(LAST_LINE), "the whole brief: {first}");
    assert!(
        first.contains(&format!("You work in {}.", worktree.display())),
        "{first}"
    );
    team.mock.release();
    let idle = team.wait_activity("idle");
    assert_eq!(idle["event"], "Stop", "{idle}");
    // The hook writes the state file, then logs the change.
    wait("the Stop to be logged", Duration::from_secs(5), || {
        team.transitions().len() >= 3
    });
    assert_eq!(
        turns_with(&team.mock, HEADER),
        1,
        "the brief reached the model once"
    );
    assert_eq!(
        team.transitions(),
        [
            "unknown -> idle (claude SessionStart)",
            "idle -> working (claude UserPromptSubmit)",
            "working -> idle (claude Stop)"
        ]
    );

    let (code, status) = team.json(&["team", "status", "--json"]);
    assert_eq!(code, Some(0), "{status:#}");
    let entry = &status["agents"][0];
    assert_eq!(entry["name"], ENGINEER, "{status:#}");
    assert_eq!(entry["state"], "alive", "{status:#}");
    assert_eq!(entry["alive"], true, "{status:#}");
    assert_eq!(entry["activity"], "idle", "{status:#}");

    let pane = ann["pane"].as_str().unwrap().to_owned();
    let pids = team.processes(&pane);
    assert!(
        pids.iter().any(|p| cmdline(*p).contains("claude")),
        "the pane runs Claude Code: {:?}",
        pids.iter().map(|p| cmdline(*p)).collect::<Vec<_>>()
    );
    let down = team.gate(&["team", "down"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    team.assert_no_cli_left(&pids);
}

/// Claude Code with an API key in its environment that its user never approved opens on
/// "Detected a custom API key ... Do you want to use this API key?" (Enter picks "No
/// (recommended)"): no setting team up writes answers that, and it must not. team up types
/// nothing into it, reports ann not briefed and names the question; the model gets nothing.
#[test]
fn team_up_leaves_real_claude_codes_api_key_question_to_the_person() {
    let server = Server::new();
    let Some(program) = real_cli::program("claude") else {
        return;
    };
    let team = claude_team(&server, &program, false);
    let (code, report, ann, screens) = team.up();
    assert_eq!(
        dialogs(&screens),
        ["Claude Code's question whether to use the API key in its environment"],
        "{report:#}"
    );
    // An agent not briefed is a failure of up: exit 3 (FAILURE, src/exit.rs).
    assert_eq!(code, Some(3), "{report:#}");
    assert_eq!(ann["window"], "started", "{report:#}");
    assert!(ann["brief"].is_null(), "{report:#}");
    let problem = ann["problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("the API key in its environment")
            && problem.contains("nothing was typed into it"),
        "{report:#}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(team.mock.turns().len(), 0, "the model got nothing");
    let pane = ann["pane"].as_str().unwrap().to_owned();
    let briefed = team.server.tmux(&[
        "show-options",
        "-p",
        "-q",
        "-v",
        "-t",
        &pane,
        "@gate-team-briefed",
    ]);
    assert_eq!(
        briefed.trim(),
        "",
        "not recorded as briefed: the next up briefs it"
    );
    let screen = team.screen();
    assert!(
        screen.contains("Do you want to use this API key?"),
        "{screen}"
    );
    let pids = team.processes(&pane);
    let down = team.gate(&["team", "down"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    team.assert_no_cli_left(&pids);
}

/// `$CODEX_HOME/config.toml` as a person using the mock as their provider would have it (no
/// daemon, no update check, no analytics; see `real_codex`), and no trust of any folder: that
/// is team up's to record.
fn codex_config(server: &Server, mock: &MockModel) {
    let dir = codex_home(server);
    std::fs::create_dir_all(&dir).unwrap();
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
"#,
        mock.url()
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
}

/// Codex as ann: team up records the worktree's trust in `$CODEX_HOME/config.toml` and has
/// Codex trust gate's hooks (asked of Codex's app-server, as its "Hooks need review" screen
/// records them), so Codex opens on its input with its hooks on: the brief is the model's
/// first user message, Codex's hooks record the turn, down leaves no process. Before, Codex
/// opened on "Hooks need review" at every first start and the agent stayed unbriefed.
#[test]
fn team_up_with_real_codex_trusts_gates_hooks_and_briefs_it() {
    let server = Server::new();
    let Some(program) = real_cli::program("codex") else {
        return;
    };
    let mock = MockModel::start();
    codex_config(&server, &mock);
    let codex = codex_wrapper(&server, &program);
    let team = RealTeam::new(&server, mock, &codex);

    team.mock.hold();
    let (code, report, ann, screens) = team.up();
    let shown = dialogs(&screens);
    let worktree = team.worktree();
    let trust = ann["trust"].to_string();
    assert!(trust.contains("Codex trusts gate's 5 hook(s)"), "{trust}");
    // Codex reads a linked worktree's project hooks from the main checkout: team up puts
    // gate's hooks there too, says so, and leaves the file for the person to commit.
    let main_hooks = team.root.join(".codex/hooks.json");
    assert!(
        trust.contains(&*main_hooks.to_string_lossy())
            && trust.contains("commit it")
            && main_hooks.is_file(),
        "{trust}"
    );
    let main_status = git(&team.root, &["status", "--short"]);
    assert!(main_status.contains("?? .codex/"), "{main_status}");
    let file = codex_home(&server).join("config.toml");
    assert_eq!(
        gate::cli_trust::codex::trust_level(&file, &worktree)
            .unwrap()
            .as_deref(),
        Some("trusted")
    );
    let config = std::fs::read_to_string(&file).unwrap();
    let stop_key = format!("[hooks.state.\"{}:stop:0:0\"]", main_hooks.display());
    assert!(config.contains(&stop_key), "{config}");
    assert_eq!(
        code,
        Some(0),
        "team up: {report:#}\ndialogs shown: {shown:?}\nscreen:\n{}",
        team.screen()
    );
    assert_eq!(shown, Vec::<&str>::new(), "first-run screens shown");
    assert_eq!(ann["window"], "started", "{report:#}");
    assert_eq!(ann["brief"], "delivered", "{report:#}");
    let working = team.wait_activity("working");
    assert_eq!(working["event"], "UserPromptSubmit", "{working}");
    assert_eq!(working["cli"], "codex", "{working}");
    team.mock.wait_turns(1, TURN);
    let first = first_turn_text(&team.mock);
    assert!(first.contains(HEADER), "the first user message: {first}");
    assert!(first.contains(LAST_LINE), "the whole brief: {first}");
    team.mock.release();
    let idle = team.wait_activity("idle");
    assert_eq!(idle["event"], "Stop", "{idle}");
    // The hook writes the state file, then logs the change.
    wait("the Stop to be logged", Duration::from_secs(5), || {
        team.transitions().len() >= 3
    });
    assert_eq!(
        turns_with(&team.mock, HEADER),
        1,
        "the brief reached the model once"
    );
    assert_eq!(
        team.transitions(),
        [
            "unknown -> idle (codex SessionStart)",
            "idle -> working (codex UserPromptSubmit)",
            "working -> idle (codex Stop)"
        ]
    );

    let (code, status) = team.json(&["team", "status", "--json"]);
    assert_eq!(code, Some(0), "{status:#}");
    let entry = &status["agents"][0];
    assert_eq!(entry["state"], "alive", "{status:#}");
    assert_eq!(entry["activity"], "idle", "{status:#}");

    let pane = ann["pane"].as_str().unwrap().to_owned();
    let pids = team.processes(&pane);
    assert!(
        pids.iter().any(|p| cmdline(*p).contains("codex")),
        "the pane runs Codex: {:?}",
        pids.iter().map(|p| cmdline(*p)).collect::<Vec<_>>()
    );
    let down = team.gate(&["team", "down"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    team.assert_no_cli_left(&pids);
}

/// A project hook that is not gate's (here a Stop notifier in the main checkout's
/// `.codex/hooks.json`) is never trusted by gate: Codex opens on "Hooks need review" for it,
/// team up types nothing into it (or, if it opened as the brief was typed, presses no Enter),
/// reports the agent not briefed, names the screen and the hook. Once the person trusts it
/// (here: recorded as that screen records it), the next up briefs Codex.
#[test]
fn team_up_with_real_codex_leaves_a_hook_not_gates_to_the_persons_review() {
    let server = Server::new();
    let Some(program) = real_cli::program("codex") else {
        return;
    };
    let mock = MockModel::start();
    codex_config(&server, &mock);
    let codex = codex_wrapper(&server, &program);
    let team = RealTeam::new(&server, mock, &codex);
    let main_hooks = team.root.join(".codex/hooks.json");
    std::fs::create_dir_all(main_hooks.parent().unwrap()).unwrap();
    let notifier =
        json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true"}]}]}});
    std::fs::write(&main_hooks, notifier.to_string()).unwrap();

    let (code, report, ann, screens) = team.up();
    let shown = dialogs(&screens);
    let worktree = team.worktree();
    let trust = ann["trust"].to_string();
    assert!(trust.contains("Codex trusts gate's 5 hook(s)"), "{trust}");
    let foreign = format!("{}:stop:0:0", main_hooks.display());
    assert!(
        trust.contains("not gate's") && trust.contains(&foreign),
        "the hook left for review is named: {trust}"
    );
    assert_eq!(
        shown,
        ["Codex's review of the project's hooks"],
        "first-run screens shown; report: {report:#}"
    );
    // An agent not briefed is a failure of up: exit 3 (FAILURE, src/exit.rs).
    assert_eq!(code, Some(3), "{report:#}");
    assert_eq!(ann["window"], "started", "{report:#}");
    assert!(ann["brief"].is_null(), "{report:#}\n{}", timeline(&screens));
    let problem = ann["problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("Codex's review of the project's hooks")
            && problem.contains("run gate team up again"),
        "{report:#}"
    );
    // gate trusted its own hooks, and not the notifier.
    let config = std::fs::read_to_string(codex_home(&server).join("config.toml")).unwrap();
    assert!(
        !config.contains(&format!("[hooks.state.{}]", json!(foreign))),
        "{config}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(team.mock.turns().len(), 0, "the model got nothing");
    let pane = ann["pane"].as_str().unwrap().to_owned();
    let briefed = team.server.tmux(&[
        "show-options",
        "-p",
        "-q",
        "-v",
        "-t",
        &pane,
        "@gate-team-briefed",
    ]);
    assert_eq!(briefed.trim(), "", "not recorded as briefed");
    assert!(
        team.screen().contains("Hooks need review"),
        "{}",
        team.screen()
    );

    // The person trusts the notifier; down, and up again: Codex starts and gets its brief.
    let pids = team.processes(&pane);
    let down = team.gate(&["team", "down"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    team.assert_no_cli_left(&pids);
    let keys =
        crate::real_codex::trust_hooks(&program, &codex_home(&server), &home(&server), &worktree);
    assert!(keys.contains(&foreign), "{keys:?}");
    let (code, report, ann, screens) = team.up();
    assert_eq!(code, Some(0), "{report:#}\n{}", timeline(&screens));
    assert_eq!(
        dialogs(&screens),
        Vec::<&str>::new(),
        "first-run screens shown"
    );
    assert_eq!(ann["brief"], "delivered", "{report:#}");
    team.mock.wait_turns(1, TURN);
    assert!(first_turn_text(&team.mock).contains(HEADER));
    let pids = team.processes(ann["pane"].as_str().unwrap());
    let down = team.gate(&["team", "down"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    team.assert_no_cli_left(&pids);
}

/// ann's command: the real Codex under the wrapper, with the test's CODEX_HOME and key.
fn codex_wrapper(server: &Server, program: &Path) -> PathBuf {
    let vars = [
        (
            "CODEX_HOME",
            codex_home(server).to_string_lossy().into_owned(),
        ),
        ("OPENAI_API_KEY", "sk-gate-test".to_owned()),
    ];
    wrapper(server, "codex", program, &vars)
}

/// A fake CLI with Codex 0.171's start as measured above: its input first, then, after the
/// screen has been still for longer than team up's wait (300 ms), a "Hooks need review"
/// screen that records what is typed while it shows (`OUT.during`); once `OUT.answered`
/// exists, an input that echoes and records each line (`OUT`). Until the review opens the
/// terminal does not echo, as a TUI that has not drawn its input yet. Like the real TUIs it
/// asks for bracketed paste; an Enter reaches the review as `\r` (no CR-to-NL).
const LATE_REVIEW: &str = r#"#!/bin/bash
out="$1"
stty -icanon -isig -ixon -echo -icrnl
printf '\033[?2004h> Ask Codex to do anything\n  ? for shortcuts\n'
sleep 0.8
clear
printf '  Hooks need review\n> 1. Review hooks\n  2. Trust all and continue\n'
while [ ! -e "$out.answered" ]; do
  if IFS= read -r -t 0.05 -d '' -n 1 c; then printf '%s' "$c" >> "$out.during"; fi
done
clear
stty echo icrnl
printf '\033[?2004lfake agent ready\n'
while IFS= read -r line; do printf '%s\n' "$line" >> "$out"; done
"#;

/// A first-run screen that opens after the CLI looked ready, while the brief is being typed
/// (the race the real Codex showed under load): the keys reach that screen (gate cannot know
/// it is coming), but no Enter is pressed, the agent is reported not briefed with the screen
/// named, and once it is answered the next up briefs it, once. Before, the brief counted as
/// typed (`not_seen`) and the agent as briefed: the next up left it without a brief.
#[test]
fn a_review_that_opens_as_the_brief_is_typed_leaves_the_agent_unbriefed_for_the_next_up() {
    let server = Server::new();
    let fake = server.dir().join("late-review");
    let out = server.dir().join("late.out");
    std::fs::write(
        &fake,
        LATE_REVIEW.replace(
            "out=\"$1\"",
            &format!("out={}", json!(out.to_string_lossy())),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let team = RealTeam::new(&server, MockModel::start(), &fake);
    let (code, report, ann, screens) = team.up();
    assert_eq!(code, Some(3), "{report:#}\n{}", timeline(&screens));
    assert!(ann["brief"].is_null(), "{report:#}");
    let problem = ann["problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("opened Codex's review of the project's hooks while the brief was typed")
            && problem.contains("no Enter was pressed"),
        "{report:#}"
    );
    let during = out.with_extension("out.during");
    wait(
        "the typed brief to reach the review",
        Duration::from_secs(5),
        || std::fs::read_to_string(&during).is_ok_and(|t| t.contains(HEADER)),
    );
    std::thread::sleep(Duration::from_millis(300));
    let typed = std::fs::read_to_string(&during).unwrap();
    // One bracketed paste (its lines end in \r inside it), and no Enter after it.
    assert!(
        typed.starts_with("\x1b[200~") && typed.ends_with("\x1b[201~"),
        "no Enter: {typed:?}"
    );

    std::fs::write(out.with_extension("out.answered"), "").unwrap();
    wait("the review to close", Duration::from_secs(5), || {
        team.screen().contains("fake agent ready")
    });
    let (code, report, ann, _) = team.up();
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(ann["window"], "unbriefed", "{report:#}");
    assert_eq!(ann["brief"], "delivered", "{report:#}");
    wait("the brief", Duration::from_secs(5), || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.contains(HEADER))
    });
    let (_, again, ann, _) = team.up();
    assert_eq!(ann["window"], "existing", "{again:#}");
    std::thread::sleep(Duration::from_millis(300));
    let received = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        received.matches(HEADER).count(),
        1,
        "briefed once: {received}"
    );
}
