//! The one door to tmux: every tmux call gate makes goes through [`Tmux`], which picks the
//! server (socket), bounds each call with a timeout and turns tmux's complaints into typed
//! errors.
//!
//! Invariants: a target is resolved once and exactly (tmux's own `-t name` prefix-matches
//! session names and has sent keys to the wrong session in other tools) to a pane id `%N`, and
//! every later call names only that id; a message is typed literally, never interpreted by a
//! shell or by tmux's key-name parser; two gate processes never type into one pane at once.

mod agents;
mod confirm;
mod lock;
mod pane;
mod send;
mod text;

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

pub use agents::{
    MARK_OPTION, REPORTS_TO_OPTION, RESTART_OPTION, ROLE_OPTION, own_pane, own_pane_from_env,
};
pub use confirm::{Screen, in_input, last_rows};
pub use lock::{PaneLock, lock_dir};
pub use pane::{Pane, available_targets, find};
pub use send::{Delivery, SendOptions, SendReport, Why};
pub use text::Message;

/// Names the tmux server gate talks to: a path (contains `/`) is passed as `-S`, anything else
/// as a socket name `-L`; unset or empty means tmux's default (which honours `$TMUX` and
/// `$TMUX_TMPDIR`).
pub const SOCKET_ENV: &str = "GATE_TMUX_SOCKET";

/// How long one tmux call may take before it is killed and reported.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which tmux server to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socket {
    /// tmux's own choice: the server of `$TMUX`, else `default` under `$TMUX_TMPDIR`.
    Default,
    /// `-L name`.
    Name(String),
    /// `-S path`.
    Path(PathBuf),
}

impl Socket {
    /// Reads a [`SOCKET_ENV`] value: a path if it contains `/`, else a socket name.
    pub fn from_value(value: Option<&OsStr>) -> Socket {
        match value {
            None => Socket::Default,
            Some(v) if v.is_empty() => Socket::Default,
            Some(v) if v.as_encoded_bytes().contains(&b'/') => Socket::Path(PathBuf::from(v)),
            Some(v) => Socket::Name(v.to_string_lossy().into_owned()),
        }
    }

    /// How errors name this server.
    pub fn describe(&self) -> String {
        match self {
            Socket::Default => "the default tmux socket".into(),
            Socket::Name(name) => format!("tmux socket {name:?} (-L)"),
            Socket::Path(path) => format!("tmux socket {} (-S)", path.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    #[error("cannot run {binary:?}; is tmux installed?")]
    Spawn {
        binary: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no tmux server is running on {}; start one (tmux new -s NAME) or point {SOCKET_ENV} \
         at the right server",
        socket.describe()
    )]
    NoServer { socket: Socket },
    #[error("no tmux pane matches {target:?}; {}", listing(available))]
    NoTarget {
        target: String,
        /// `session:index (name)` of every window that exists, sorted.
        available: Vec<String>,
    },
    #[error("tmux target {target:?} is ambiguous; it matches {}", matches.join(", "))]
    Ambiguous {
        target: String,
        matches: Vec<String>,
    },
    #[error("`tmux {}` failed: {stderr}", show(args))]
    Failed { args: Vec<String>, stderr: String },
    #[error("`tmux {}` did not finish within {timeout:?}", show(args))]
    Timeout {
        args: Vec<String>,
        timeout: Duration,
    },
    #[error("unexpected output from `tmux {}`: {line:?}", show(args))]
    Output { args: Vec<String>, line: String },
    #[error("cannot lock {} (it keeps two senders from typing into one pane at once)",
        path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn listing(available: &[String]) -> String {
    if available.is_empty() {
        return "the tmux server has no sessions".into();
    }
    format!("existing windows:\n  {}", available.join("\n  "))
}

/// A command line for an error message: long arguments (message text) are shortened.
fn show(args: &[String]) -> String {
    const MAX: usize = 40;
    args.iter()
        .map(|a| match a.char_indices().nth(MAX) {
            Some((cut, _)) => format!("{}...", &a[..cut]),
            None => a.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs tmux: one binary, one server, one timeout, stdin closed unless input is given.
#[derive(Debug, Clone)]
pub struct Tmux {
    binary: OsString,
    socket: Socket,
    timeout: Duration,
}

impl Tmux {
    pub fn new(socket: Socket) -> Tmux {
        Tmux {
            binary: "tmux".into(),
            socket,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The server named by [`SOCKET_ENV`], else tmux's default.
    pub fn from_env() -> Tmux {
        Tmux::new(Socket::from_value(std::env::var_os(SOCKET_ENV).as_deref()))
    }

    pub fn with_binary(mut self, binary: impl Into<OsString>) -> Tmux {
        self.binary = binary.into();
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Tmux {
        self.timeout = timeout;
        self
    }

    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Runs one tmux command line (`;` arguments separate commands) and returns its stdout.
    pub(crate) fn run(&self, args: &[&str]) -> Result<String, TmuxError> {
        self.exec(args, None)
    }

    /// Like [`Tmux::run`], with `input` on tmux's stdin (`load-buffer -`).
    pub(crate) fn run_with_input(&self, args: &[&str], input: &[u8]) -> Result<String, TmuxError> {
        self.exec(args, Some(input))
    }

    fn exec(&self, args: &[&str], input: Option<&[u8]>) -> Result<String, TmuxError> {
        let owned = || args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let mut cmd = Command::new(&self.binary);
        // -u: UTF-8 whatever the locale. Under LC_ALL=C (cron, bare services) tmux would
        // otherwise print the field separator of `list-panes -F` as `_`, and every lookup
        // of a pane failed.
        cmd.arg("-u");
        match &self.socket {
            Socket::Default => {}
            Socket::Name(name) => {
                cmd.arg("-L").arg(name);
            }
            Socket::Path(path) => {
                cmd.arg("-S").arg(path);
            }
        }
        cmd.args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|source| TmuxError::Spawn {
            binary: self.binary.to_string_lossy().into_owned(),
            source,
        })?;
        // The pipes are served on a helper thread so that a hung tmux can be killed on time.
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let input = input.map(<[u8]>::to_vec);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            if let (Some(mut pipe), Some(bytes)) = (stdin, input) {
                // A tmux that refuses early closes its stdin; its stderr says why.
                let _ = pipe.write_all(&bytes);
            }
            let mut out = Vec::new();
            let mut err = Vec::new();
            if let Some(mut s) = stdout {
                let _ = s.read_to_end(&mut out);
            }
            if let Some(mut s) = stderr {
                let _ = s.read_to_end(&mut err);
            }
            let _ = tx.send((out, err));
        });
        let Ok((out, err)) = rx.recv_timeout(self.timeout) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TmuxError::Timeout {
                args: owned(),
                timeout: self.timeout,
            });
        };
        let status = child.wait().map_err(|source| TmuxError::Spawn {
            binary: self.binary.to_string_lossy().into_owned(),
            source,
        })?;
        if status.success() {
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        let stderr = String::from_utf8_lossy(&err).trim().to_owned();
        if stderr.starts_with("no server running on") || stderr.starts_with("error connecting to") {
            return Err(TmuxError::NoServer {
                socket: self.socket.clone(),
            });
        }
        Err(TmuxError::Failed {
            args: owned(),
            stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_from_env_value() {
        assert_eq!(Socket::from_value(None), Socket::Default);
        assert_eq!(Socket::from_value(Some(OsStr::new(""))), Socket::Default);
        assert_eq!(
            Socket::from_value(Some(OsStr::new("agents"))),
            Socket::Name("agents".into())
        );
        assert_eq!(
            Socket::from_value(Some(OsStr::new("/tmp/x/sock"))),
            Socket::Path("/tmp/x/sock".into())
        );
        assert_eq!(
            Socket::from_value(Some(OsStr::new("./sock"))),
            Socket::Path("./sock".into())
        );
    }

    #[test]
    fn error_shortens_long_arguments() {
        let e = TmuxError::Failed {
            args: vec!["send-keys".into(), "x".repeat(100)],
            stderr: "boom".into(),
        };
        let text = e.to_string();
        assert!(text.contains(&format!("{}...", "x".repeat(40))), "{text}");
        assert!(text.len() < 100, "{text}");
    }

    #[test]
    fn missing_target_lists_windows() {
        let e = TmuxError::NoTarget {
            target: "pm".into(),
            available: vec!["eng:0 (main)".into(), "orchestrator:0 (zsh)".into()],
        };
        assert_eq!(
            e.to_string(),
            "no tmux pane matches \"pm\"; existing windows:\n  eng:0 (main)\n  orchestrator:0 (zsh)"
        );
    }

    #[test]
    fn missing_binary_is_a_spawn_error() {
        let tmux = Tmux::new(Socket::Name("x".into())).with_binary("/nonexistent/tmux");
        assert!(matches!(tmux.run(&["-V"]), Err(TmuxError::Spawn { .. })));
    }

    #[test]
    fn hung_call_times_out() {
        // `sh -c 'sleep 5' ...` stands in for a tmux that never answers.
        let tmux = Tmux::new(Socket::Default)
            .with_binary("sh")
            .with_timeout(Duration::from_millis(100));
        let start = std::time::Instant::now();
        let r = tmux.run(&["-c", "sleep 5"]);
        assert!(matches!(r, Err(TmuxError::Timeout { .. })), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
