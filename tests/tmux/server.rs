//! `Server`: a private tmux server per test (its own `TMUX_TMPDIR` and socket name, never the
//! user's), fake agents in its panes, and the `gate` binary pointed at it.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Variables that would point tmux or gate at the developer's own session.
const REMOVED: &[&str] = &[
    "TMUX",
    "TMUX_PANE",
    "GATE_TMUX_SOCKET",
    "LC_ALL",
    "XDG_RUNTIME_DIR",
];

/// The pause tests use between text and Enter: short, to keep the suite fast.
pub const PAUSE: &str = "50ms";

pub struct Server {
    name: String,
    dir: TempDir,
    agents: Cell<usize>,
}

/// What runs in a fake agent's pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    /// Appends every line it reads to its file; no echo, no line-length limit.
    Lines,
    /// Like `Lines`, after asking the terminal for bracketed paste (as TUIs do).
    BracketedLines,
    /// Echoes what it gets and never submits: Enter only moves the cursor back.
    Stuck,
    /// A TUI-like input line that ignores the first Enter and submits on the second.
    SwallowsFirstEnter,
    /// A TUI-like input line that takes 60 ms to submit and clear the input after Enter.
    SlowToRedraw,
    /// Like `Lines`, run as a program named `claude` (a known agent CLI, found by its name).
    Claude,
}

/// A fake agent's pane and the file it writes.
pub struct Pane {
    pub id: String,
    pub out: PathBuf,
}

impl Server {
    /// A server with no sessions yet (tmux starts it with the first session).
    pub fn new() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("gt")
            .tempdir_in("/tmp")
            .expect("create a temp dir");
        for sub in ["work", "run", "home"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create a temp subdir");
        }
        Server {
            name: "gate-test".into(),
            dir,
            agents: Cell::new(0),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's socket file (as `#{socket_path}` reports it).
    pub fn socket_path(&self) -> PathBuf {
        PathBuf::from(
            self.tmux(&["display-message", "-p", "#{socket_path}"])
                .trim(),
        )
    }

    fn env(&self, cmd: &mut Command) {
        for name in REMOVED {
            cmd.env_remove(name);
        }
        cmd.env("TMUX_TMPDIR", self.dir())
            .env("XDG_RUNTIME_DIR", self.dir().join("run"))
            .env("HOME", self.dir().join("home"))
            .env("SHELL", "/bin/sh")
            .env("LANG", "C.UTF-8")
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1");
    }

    /// Runs `tmux -L <private name> ARGS`, asserting success; returns stdout.
    #[track_caller]
    pub fn tmux(&self, args: &[&str]) -> String {
        let out = self.tmux_output(args);
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 from tmux")
    }

    pub fn tmux_output(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("tmux");
        self.env(&mut cmd);
        cmd.args(["-L", &self.name, "-f", "/dev/null"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    /// A new session `name` whose only window, `main`, runs `agent`.
    pub fn session(&self, name: &str, agent: Agent) -> Pane {
        let args = [
            "new-session",
            "-d",
            "-s",
            name,
            "-n",
            "main",
            "-x",
            "160",
            "-y",
            "40",
        ];
        self.spawn(&args, agent, None)
    }

    /// A new window `window` in `session` running `agent` in `cwd` (default: the temp dir).
    pub fn window(&self, session: &str, window: &str, agent: Agent, cwd: Option<&Path>) -> Pane {
        let target = format!("{session}:");
        self.spawn(
            &["new-window", "-d", "-t", &target, "-n", window],
            agent,
            cwd,
        )
    }

    fn spawn(&self, args: &[&str], agent: Agent, cwd: Option<&Path>) -> Pane {
        let n = self.agents.replace(self.agents.get() + 1);
        let out = self.dir().join(format!("agent-{n}.out"));
        let ready = out.with_extension("ready");
        let script = script(agent, &out, &ready);
        let cwd = cwd.unwrap_or(self.dir()).to_string_lossy().into_owned();
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["-c", &cwd, "-P", "-F", "#{pane_id}", &script]);
        let id = self.tmux(&full).trim().to_owned();
        wait_for(|| ready.exists(), "the fake agent to start");
        Pane { id, out }
    }

    /// The `gate` binary with this server as its tmux (`GATE_TMUX_SOCKET` = the socket name),
    /// run in a directory that is not a git repository.
    pub fn gate(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate"));
        self.env(&mut cmd);
        cmd.env("GATE_TMUX_SOCKET", &self.name)
            .current_dir(self.dir().join("work"))
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// `gate agents mark PANE --name NAME`: the pane becomes a known agent.
    #[track_caller]
    pub fn mark(&self, pane: &Pane, name: &str) {
        let out = self
            .gate(&["agents", "mark", &pane.id, "--name", name])
            .output()
            .expect("run gate");
        assert!(out.status.success(), "mark: {}", stderr(&out));
    }

    /// `gate send --pause 50ms ARGS`, run to the end.
    pub fn send(&self, args: &[&str]) -> Output {
        let mut full = vec!["send", "--pause", PAUSE];
        full.extend(args);
        self.gate(&full).output().expect("run gate")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.tmux_output(&["kill-server"]);
    }
}

impl Pane {
    /// The agent's file once it holds `lines` lines (the agent reads asynchronously).
    #[track_caller]
    pub fn lines(&self, lines: usize) -> Vec<String> {
        let read = || std::fs::read_to_string(&self.out).unwrap_or_default();
        wait_for(|| read().lines().count() >= lines, "the fake agent's lines");
        read().lines().map(str::to_owned).collect()
    }

    /// The agent's file as it is now.
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.out).unwrap_or_default()
    }
}

/// The shell command line of a fake agent. The terminal is non-canonical so a line may be
/// longer than the 4 kB canonical-mode limit, and carriage returns still arrive as newlines.
fn script(agent: Agent, out: &Path, ready: &Path) -> String {
    let path = out;
    let (out, ready) = (out.display(), ready.display());
    let read_loop = format!(r#"while IFS= read -r line; do printf '%s\n' "$line" >> {out}; done"#);
    match agent {
        Agent::Lines => format!("stty -echo -icanon -isig -ixon; : > {ready}; {read_loop}"),
        Agent::BracketedLines => format!(
            r"stty -echo -icanon -isig -ixon; printf '\033[?2004h'; : > {ready}; {read_loop}"
        ),
        Agent::Stuck => {
            format!("stty -icanon -icrnl -echoctl -isig -ixon; : > {ready}; exec cat > {out}")
        }
        Agent::Claude => {
            // A script named claude: the kernel names the process after it (comm), as a
            // real agent CLI is named.
            let bin = path.with_extension("bin");
            std::fs::create_dir_all(&bin).expect("create a bin dir");
            let program = bin.join("claude");
            let body =
                format!("#!/bin/sh\nstty -echo -icanon -isig -ixon; : > {ready}; {read_loop}\n");
            std::fs::write(&program, body).expect("write the fake claude");
            std::fs::set_permissions(
                &program,
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .expect("make it executable");
            format!("exec {}", program.display())
        }
        Agent::SwallowsFirstEnter => input_line(&out, &ready, 1, 0.0),
        Agent::SlowToRedraw => input_line(&out, &ready, 0, 0.06),
    }
}

fn input_line(
    out: &impl std::fmt::Display,
    ready: &impl std::fmt::Display,
    swallow: u8,
    delay: f64,
) -> String {
    let script = INPUT_LINE.replace('\'', "\"");
    format!("exec python3 -c '{script}' {out} {ready} {swallow} {delay}")
}

/// A TUI-like input line: raw terminal, typed text echoed after a prompt; Enter (after
/// `argv[4]` seconds of "work") records the line and clears the input. With `argv[3]` = 1 the
/// first Enter is ignored, as by a TUI that missed it.
const INPUT_LINE: &str = r#"
import os, sys, time, tty
tty.setraw(0)
out, ready, swallow, delay = sys.argv[1], sys.argv[2], sys.argv[3] == "1", float(sys.argv[4])
open(ready, "w").close()
os.write(1, b"> ")
buf, enters = b"", 0
while True:
    b = os.read(0, 1)
    if b == b"\r":
        enters += 1
        if (swallow and enters == 1) or not buf:
            continue
        time.sleep(delay)
        with open(out, "ab") as f:
            f.write(buf + b"\n")
        buf = b""
        os.write(1, b"\r\x1b[2K> ")
        continue
    buf += b
    os.write(1, b)
"#;

/// Polls `done` until it holds, failing the test after 10 s.
#[track_caller]
pub fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
