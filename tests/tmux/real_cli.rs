//! The real agent CLIs (Claude Code, Codex) in a private tmux server, in a temp git repository
//! with gate's hooks installed (`gate init --agent-hooks`), talking to [`MockModel`] on
//! loopback: what `real_claude` and `real_codex` share.
//!
//! The CLIs come from npm (`bash .ci/test-clis` installs the pinned versions, and CI runs it):
//! `GATE_TEST_CLIS` names the directory holding `node_modules/.bin/{claude,codex}`, else
//! `~/.cache/gate-test-clis` or `/tmp/clis` is used. Without them these tests fail and say
//! how to install them; `GATE_TEST_CLIS=skip` skips them, said on stderr.
//!
//! Each CLI runs with `env -i`: a temp HOME (and CLAUDE_CONFIG_DIR / CODEX_HOME under it), the
//! mock's URL and a fake key, `gate` (this build) first on PATH, and nothing of the
//! developer's environment, so no real account, key or setting is ever used. First-run
//! dialogs are answered by the CLIs' own settings files, written before the start, never by
//! typing into them.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::mock_model::MockModel;
use crate::project::{Project, wait};
use crate::server::{Pane, Server, stderr, stdout};

/// How long a CLI may take to show its input (Claude Code's first start takes ~3 s here).
pub const START: Duration = Duration::from_secs(40);
/// How long a turn against the mock may take.
pub const TURN: Duration = Duration::from_secs(20);

/// The pinned versions `.ci/test-clis` installs (keep the two in step).
const INSTALL: &str = "bash .ci/test-clis (npm install --no-audit --no-fund --prefix \
     ~/.cache/gate-test-clis @anthropic-ai/claude-code@2.1.332 @openai/codex@0.171.0), or set \
     GATE_TEST_CLIS to a directory holding node_modules/.bin/{claude,codex}; \
     GATE_TEST_CLIS=skip skips these tests";

/// The real CLI `name`'s program, `None` when `GATE_TEST_CLIS=skip`; panics with how to
/// install it when it is missing.
pub fn program(name: &str) -> Option<PathBuf> {
    let given = std::env::var_os("GATE_TEST_CLIS").filter(|v| !v.is_empty());
    if given.as_deref() == Some("skip".as_ref()) {
        eprintln!("GATE_TEST_CLIS=skip: the real {name} test is skipped");
        return None;
    }
    let candidates: Vec<PathBuf> = match given {
        Some(dir) => vec![PathBuf::from(dir)],
        None => dirs::home_dir()
            .map(|h| h.join(".cache/gate-test-clis"))
            .into_iter()
            .chain([PathBuf::from("/tmp/clis")])
            .collect(),
    };
    let found = candidates
        .iter()
        .map(|dir| dir.join("node_modules/.bin").join(name))
        .find(|p| p.exists());
    match found {
        Some(p) => Some(p),
        None => panic!(
            "the real agent CLI `{name}` is not installed (looked in {candidates:?}): run {INSTALL}"
        ),
    }
}

/// One real CLI in its pane, in a fresh repository, against its own mock model.
pub struct RealAgent<'s> {
    pub server: &'s Server,
    pub project: Project<'s>,
    pub mock: MockModel,
    pub pane: String,
    /// The agent's name (its pane's mark), and so its state file's.
    pub name: String,
}

/// The temp HOME every CLI of `server` gets.
pub fn home(server: &Server) -> PathBuf {
    server.dir().join("home")
}

/// `<temp>/work` as a repository with gate's git and agent hooks, the hooks' files committed
/// as a team would have them.
pub fn hooked_project(server: &Server) -> Project<'_> {
    let project = Project::new(server, "");
    let out = project.run(&["init", "--agent-hooks"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", stderr(&out));
    project
}

impl<'s> RealAgent<'s> {
    /// Starts `program` in a new session's pane in `project`, with `vars` (besides the basic
    /// ones) and `args`; waits until `ready` holds for its screen, then marks the pane as
    /// agent `name`.
    pub fn start(
        project: Project<'s>,
        mock: MockModel,
        name: &str,
        program: &Path,
        args: &[&str],
        vars: &[(&str, String)],
        ready: impl Fn(&str) -> bool,
    ) -> RealAgent<'s> {
        let server = project.server;
        let go = server.dir().join("go");
        let pane = start_pane(server, &project.root, &go, program, args, vars);
        // Marked before the CLI starts, as `gate team up` does: its first hook (SessionStart)
        // already speaks for the agent, not for a bare pane id.
        server.mark(
            &Pane {
                id: pane.clone(),
                out: server.dir().join("unused"),
            },
            name,
        );
        std::fs::write(&go, "").unwrap();
        let agent = RealAgent {
            server,
            project,
            mock,
            pane,
            name: name.to_owned(),
        };
        wait(&format!("{name} to show its input"), START, || {
            ready(&agent.screen())
        });
        agent
    }

    /// The pane's screen now.
    pub fn screen(&self) -> String {
        let out = self
            .server
            .tmux_output(&["capture-pane", "-p", "-t", &self.pane]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen contains `needle`; returns it.
    #[track_caller]
    pub fn wait_screen(&self, needle: &str, limit: Duration) -> String {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let last = self.screen();
            if last.contains(needle) {
                return last;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {needle:?} on {}'s screen:\n{last}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `gate send PANE TEXT` (the project's settings), run to the end.
    pub fn send(&self, text: &str) -> Output {
        self.project.run(&["send", &self.pane, text])
    }

    /// `gate send`, which must report the text delivered.
    #[track_caller]
    pub fn send_delivered(&self, text: &str) {
        let out = self.send(text);
        assert_eq!(
            out.status.code(),
            Some(0),
            "gate send: {}{}\nscreen:\n{}",
            stdout(&out),
            stderr(&out),
            self.screen()
        );
        assert!(
            stdout(&out).contains("delivered"),
            "gate send said: {}",
            stdout(&out)
        );
    }

    /// The agent's state file (`.git/gate/agents/<name>.json`), `Null` while there is none.
    pub fn state(&self) -> Value {
        let path = self
            .project
            .state()
            .join("agents")
            .join(format!("{}.json", self.name));
        std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    }

    /// Waits until the state file says `activity`; returns it.
    #[track_caller]
    pub fn wait_activity(&self, activity: &str) -> Value {
        let what = format!("{} to be {activity}", self.name);
        let deadline = std::time::Instant::now() + TURN;
        while self.state()["activity"] != activity {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; state: {}\nscreen:\n{}",
                self.state(),
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.state()
    }

    /// The first `count` `agent-state` changes logged for this agent, waited for: the hook
    /// writes the state file first and logs the change after, so a state the test saw may
    /// not be in the log yet.
    pub fn wait_transitions(&self, count: usize) -> Vec<String> {
        let what = format!("{count} state changes of {} to be logged", self.name);
        wait(&what, Duration::from_secs(5), || {
            self.transitions().len() >= count
        });
        self.transitions()
    }

    /// The `agent-state` changes logged for this agent, as `before -> after (cli Event)`.
    pub fn transitions(&self) -> Vec<String> {
        let prefix = format!("{}: ", self.name);
        self.project
            .events("agent-state")
            .iter()
            .filter_map(|e| e["detail"].as_str())
            .filter_map(|d| d.strip_prefix(&prefix))
            .map(|d| d.split(": ").next().unwrap_or(d).to_owned())
            .collect()
    }

    /// How many turn requests carried `text` as the user's newest message (the history the
    /// CLIs resend holds older messages too).
    pub fn turns_with(&self, text: &str) -> usize {
        self.mock
            .turns()
            .iter()
            .map(|r| newest_user_text(&r.json()).matches(text).count())
            .sum()
    }

    /// The newest user text of each turn request (its last 200 characters), for failure
    /// messages.
    pub fn newest_messages(&self) -> Vec<String> {
        self.mock
            .turns()
            .iter()
            .map(|r| {
                let text = newest_user_text(&r.json());
                let skip = text.chars().count().saturating_sub(200);
                text.chars().skip(skip).collect()
            })
            .collect()
    }
}

/// All text of the user's newest messages (those after the model's last answer) in a
/// Messages (`messages`) or Responses (`input`) request: Claude Code puts its context in
/// messages of its own beside the person's (a trailing `system` one since 2.1).
pub fn newest_user_text(request: &Value) -> String {
    let list = request
        .get("messages")
        .or_else(|| request.get("input"))
        .and_then(Value::as_array);
    let role = |m: &Value| m.get("role").and_then(Value::as_str).map(str::to_owned);
    let newest = list
        .into_iter()
        .flatten()
        .rev()
        .take_while(|m| role(m).as_deref() != Some("assistant"))
        .filter(|m| role(m).as_deref() == Some("user"));
    let mut texts: Vec<String> = newest
        .flat_map(|m| match m.get("content") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(blocks)) => blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str).map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    texts.reverse();
    texts.join("\n")
}

/// A new session `agent`'s pane in `root` that waits (at most 20 s) for the file `go`, then
/// runs `program args` under `env -i` with the basic variables and `vars`; returns its id. PATH is set in the command line: tmux replaces
/// a new pane's PATH with its client's.
fn start_pane(
    server: &Server,
    root: &Path,
    go: &Path,
    program: &Path,
    args: &[&str],
    vars: &[(&str, String)],
) -> String {
    let path = format!(
        "{}:{}:{}",
        gate_on_path(server).display(),
        program.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let home = home(server).to_string_lossy().into_owned();
    let mut assigned: Vec<(&str, String)> = vec![
        ("HOME", home),
        ("PATH", path),
        ("LANG", "C.UTF-8".into()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        (
            "XDG_RUNTIME_DIR",
            server.dir().join("run").to_string_lossy().into_owned(),
        ),
    ];
    assigned.extend(vars.iter().cloned());
    let quote = |s: &str| shlex::try_quote(s).expect("no NUL").into_owned();
    // The pane's own TERM and TMUX/TMUX_PANE (the hooks find the pane's mark by them) pass
    // through `env -i`, expanded by the pane's shell.
    let go = quote(&go.to_string_lossy());
    let mut command = format!(
        r#"n=0; while [ ! -e {go} ] && [ $n -lt 400 ]; do sleep 0.05; n=$((n+1)); done; exec env -i TERM="$TERM" TMUX="$TMUX" TMUX_PANE="$TMUX_PANE""#
    );
    for (k, v) in &assigned {
        command.push_str(&format!(" {k}={}", quote(v)));
    }
    command.push_str(&format!(" {}", quote(&program.to_string_lossy())));
    for a in args {
        command.push_str(&format!(" {}", quote(a)));
    }
    let root = root.to_string_lossy().into_owned();
    let pane = server
        .tmux(&[
            "new-session",
            "-d",
            "-s",
            "agent",
            "-x",
            "160",
            "-y",
            "50",
            "-c",
            &root,
            "-P",
            "-F",
            "#{pane_id}",
            &command,
        ])
        .trim()
        .to_owned();
    // A CLI that exits (`/exit`) leaves its pane, and the server, for the test to read.
    server.tmux(&["set-option", "-w", "-t", &pane, "remain-on-exit", "on"]);
    pane
}

/// A directory holding `gate` (this build), first on the CLIs' PATH: their hooks run `gate`.
fn gate_on_path(server: &Server) -> PathBuf {
    let bin = server.dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("gate");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_gate"), &link).unwrap();
    }
    bin
}
