//! Fake agent CLIs in Python, shaped like a TUI: a raw terminal, typed text echoed after a
//! `> ` prompt, Enter clears the input and hands the line to the fake's `on_line`. Each fake
//! is [`PRELUDE`] plus its own `on_line`, ending with `serve(on_line)`; it starts with
//! `argv[1]` = the file it records to and `argv[2]` = the file it creates once ready, then
//! its own arguments.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::project::wait;
use crate::server::Server;

pub const PRELUDE: &str = r#"
import json, os, subprocess, sys, time, tty
out, ready = sys.argv[1:3]
args = sys.argv[3:]
def record(line):
    with open(out, "ab") as f:
        f.write(line + b"\n")
def serve(on_line):
    tty.setraw(0)
    open(ready, "w").close()
    os.write(1, b"> ")
    buf = b""
    while True:
        b = os.read(0, 1)
        if b == b"\r":
            if not buf:
                continue
            line, buf = buf, b""
            os.write(1, b"\r\x1b[2K")
            on_line(line)
            os.write(1, b"\r\x1b[2K> ")
            continue
        buf += b
        os.write(1, b)
"#;

/// A fake running in a pane: where it records, and its pane.
pub struct Fake {
    pub pane: String,
    pub out: PathBuf,
}

impl Fake {
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Starts `body` (Python after [`PRELUDE`]) in a new window `window` of session `team`, in
/// `cwd`, with `gate` (this build) first on PATH and `args` after its two files; `options`
/// are window options set in the same tmux command (e.g. `remain-on-exit`). Waits until it
/// is ready.
pub fn start(
    server: &Server,
    window: &str,
    cwd: &Path,
    body: &str,
    args: &[&str],
    options: &[(&str, &str)],
) -> Fake {
    let dir = server.dir().join(format!("fake-{window}"));
    std::fs::create_dir_all(&dir).unwrap();
    let (out, ready) = (dir.join("out"), dir.join("ready"));
    let script = format!("{PRELUDE}{body}").replace('\'', "\"");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    // In the command line: tmux replaces a new pane's PATH (`-e PATH=...` included) with its
    // client's.
    let command = format!(
        "PATH={}:{} exec python3 -c '{script}' {} {} {}",
        gate_on_path(server).display(),
        std::env::var("PATH").unwrap_or_default(),
        out.display(),
        ready.display(),
        quoted.join(" ")
    );
    let cwd = cwd.to_string_lossy().into_owned();
    let target = format!("team:{window}");
    let mut tmux: Vec<&str> = vec![
        "new-window",
        "-d",
        "-t",
        "team:",
        "-n",
        window,
        "-c",
        &cwd,
        "-P",
        "-F",
        "#{pane_id}",
        &command,
    ];
    for (option, value) in options {
        tmux.extend([";", "set-option", "-w", "-t", &target, option, value]);
    }
    let pane = server.tmux(&tmux).trim().to_owned();
    wait("the fake agent to start", Duration::from_secs(15), || {
        ready.exists()
    });
    Fake { pane, out }
}

/// A directory holding `gate` (this build), for the panes' PATH.
pub fn gate_on_path(server: &Server) -> PathBuf {
    let bin = server.dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("gate");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_gate"), &link).unwrap();
    }
    bin
}
