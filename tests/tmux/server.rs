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

/// What runs in a fake agent's pane. Each but `EchoLines` draws like a TUI: typed text in an
/// input line near the bottom (a hint row below it), cleared on Enter, submitted messages
/// above it; and records what it received, one submitted line per line of its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    /// Records every line submitted (an Enter on an empty input records an empty line, so a
    /// stray Enter shows); no line-length limit.
    Lines,
    /// Like `Lines`, after asking the terminal for bracketed paste (as TUIs do); records the
    /// bytes of a line as received, paste brackets included.
    BracketedLines,
    /// Shows what it gets and never submits: Enter changes nothing; records every byte.
    Stuck,
    /// Like `Lines`, but ignores the first Enter (as a TUI that missed it).
    SwallowsFirstEnter,
    /// Like `Lines`, but takes 60 ms to submit and clear the input after Enter.
    SlowToRedraw,
    /// Like `Lines`, run as a program named `claude` (a known agent CLI, found by its name).
    Claude,
    /// Like Claude Code: the input stays as it is for 330 ms after Enter, then clears, and a
    /// permission dialog opens, which takes the next Enter as its answer (`DIALOG: 1. Yes`).
    SlowClearThenDialog,
    /// Like Codex at start: a "Hooks need review" menu, no input box, typed keys go nowhere
    /// visible; Enter picks the highlighted item (`MENU: 1. Review hooks`), then it reads lines
    /// like `Lines`.
    HooksMenu,
    /// Like Claude Code with a multi-line paste: shows `[Pasted text #N +M lines]` instead of
    /// the text, misses the first Enter after each paste, records the pasted text.
    PastePlaceholder,
    /// On Enter, keeps the text in its input and opens a question above it (records `ASKED`),
    /// which takes the next Enter as its answer (`DIALOG: 1. Yes`).
    AsksOnEnter,
    /// A plain line reader: a shell `read` loop with the terminal's own echo (no TUI): typed
    /// text shows where the cursor is, Enter moves the cursor to the next line.
    EchoLines,
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

/// The shell command line of a fake agent. The shell one's terminal is non-canonical so a line
/// may be longer than the 4 kB canonical-mode limit.
fn script(agent: Agent, out: &Path, ready: &Path) -> String {
    let mode = match agent {
        Agent::Lines | Agent::Claude => "lines",
        Agent::BracketedLines => "bracketed",
        Agent::Stuck => "stuck",
        Agent::SwallowsFirstEnter => "swallow",
        Agent::SlowToRedraw => "slow",
        Agent::SlowClearThenDialog => "claude",
        Agent::HooksMenu => "hooks",
        Agent::PastePlaceholder => "placeholder",
        Agent::AsksOnEnter => "asks",
        Agent::EchoLines => {
            let (out, ready) = (out.display(), ready.display());
            return format!(
                "stty -icanon -isig -ixon; : > {ready}; \
                 while IFS= read -r line; do printf '%s\\n' \"$line\" >> {out}; done"
            );
        }
    };
    // Claude's is a program named claude (the process's command line names it, as an agent
    // CLI started through its interpreter).
    let program = if agent == Agent::Claude {
        let bin = out.with_extension("bin");
        std::fs::create_dir_all(&bin).expect("create a bin dir");
        bin.join("claude")
    } else {
        out.with_extension("py")
    };
    std::fs::write(&program, FAKE_TUI).expect("write the fake agent");
    format!(
        "exec python3 {} {} {} {mode}",
        program.display(),
        out.display(),
        ready.display()
    )
}

/// The TUI-like fake agents (see [`Agent`]): `argv` = out file, ready file, mode. The whole
/// screen is drawn again after each read; the terminal is raw, except that CR arrives as LF
/// (as through a line discipline) in every mode but `stuck`, which records raw bytes.
const FAKE_TUI: &str = r#"
import os, sys, time, tty, termios, unicodedata
out, ready, mode = sys.argv[1], sys.argv[2], sys.argv[3]
tty.setraw(0)
if mode != "stuck":
    attrs = termios.tcgetattr(0)
    attrs[0] |= termios.ICRNL
    termios.tcsetattr(0, termios.TCSANOW, attrs)
START, END = b"\x1b[200~", b"\x1b[201~"
ENTER = b"\r" if mode == "stuck" else b"\n"
brackets = mode in ("bracketed", "claude", "placeholder")
state = {"menu": mode == "hooks", "dialog": False, "enters": 0, "pastes": 0, "shown": None,
         "swallow": mode == "swallow", "thinking": False, "asked": False}
buf, raw, transcript = b"", b"", []

def record(data):
    with open(out, "ab") as f:
        f.write(data)

def width(c):
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1

def wrap(text, w):
    rows = []
    for line in text.split("\n"):
        row, col = "", 0
        for c in line.replace("\t", "    "):
            if col + width(c) > w:
                rows.append(row)
                row, col = "", 0
            row, col = row + c, col + width(c)
        rows.append(row)
    return rows

def draw():
    w, h = os.get_terminal_size(1)
    if state["menu"]:
        rows = ["  Hooks need review", "", "  › 1. Review hooks", "    2. Continue without hooks",
                "", "  Press enter to confirm or esc to go back"]
        screen = "\x1b[H\x1b[2J" + "".join("\x1b[%d;1H%s" % (i + 1, r) for i, r in enumerate(rows))
        os.write(1, screen.encode())
        return
    prompt = "> " if mode in ("claude", "placeholder") else "› "
    if state["dialog"]:
        block = [" Do you want to make this edit to README.md?", " ❯ 1. Yes",
                 "   2. No, and tell Claude what to do differently (esc)"]
        cursor = None
    else:
        text = state["shown"] if state["shown"] is not None else buf.decode("utf-8", "replace")
        block = wrap(prompt + text, w)
        cursor = (len(block) - 1, sum(width(c) for c in block[-1]))
        block += ["─" * w, "  ? for shortcuts"]
    above = ["fake agent ready", ""]
    for t in transcript:
        above += [prompt + t[:60], ""]
    if state["thinking"]:
        above += ["✻ Thinking…", ""]
    if state["asked"]:
        above += [" Send this message to the whole team?", " ❯ 1. Yes", "   2. No"]
    above.append("─" * w)
    rows = (above + block)[-h:]
    top = len(rows) - len(block)
    screen = "\x1b[H\x1b[2J" + "".join("\x1b[%d;1H%s" % (i + 1, r) for i, r in enumerate(rows))
    if cursor is not None:
        screen += "\x1b[%d;%dH" % (top + cursor[0] + 1, min(cursor[1], w - 1) + 1)
    os.write(1, screen.encode())

def submit():
    global buf, raw
    if mode == "claude":
        if not buf:
            return
        time.sleep(0.33)
    if mode == "slow":
        time.sleep(0.06)
    record((raw if mode == "bracketed" else buf) + b"\n")
    transcript.append(buf.decode("utf-8", "replace").split("\n")[0])
    buf, raw, state["shown"] = b"", b"", None
    # A status row below the submitted message, as the real CLIs show (Codex: Working).
    state["thinking"] = True
    if mode == "claude":
        state["dialog"] = True

def enter():
    if state["menu"]:
        record(b"MENU: 1. Review hooks\n")
        state["menu"] = False
    elif state["dialog"] or state["asked"]:
        record(b"DIALOG: 1. Yes\n")
        state["dialog"] = state["asked"] = False
    elif mode == "asks":
        record(b"ASKED\n")
        state["asked"] = True
    elif state["swallow"]:
        state["swallow"] = False
    else:
        submit()

if brackets:
    os.write(1, b"\x1b[?2004h")
draw()
open(ready, "w").close()
pending, pasting = b"", False
while True:
    data = os.read(0, 65536)
    if not data:
        break
    if mode == "stuck":
        record(data)
        buf += data.replace(b"\r", b"")
        draw()
        continue
    pending += data
    while pending:
        if pending.startswith(START):
            pasting, pending = True, pending[len(START):]
            raw += START
        elif pending.startswith(END):
            pasting, pending = False, pending[len(END):]
            raw += END
            if mode == "placeholder":
                state["pastes"] += 1
                state["shown"] = "[Pasted text #%d +%d lines]" % (state["pastes"], buf.count(b"\n"))
                state["swallow"] = True
        elif pending.startswith(b"\x1b") and (START.startswith(pending) or END.startswith(pending)):
            break
        else:
            b, pending = pending[:1], pending[1:]
            if b == ENTER and not pasting:
                enter()
            elif not state["menu"] and not state["dialog"]:
                buf, raw = buf + b, raw + b
    draw()
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
