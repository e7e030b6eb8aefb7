//! Codex's review of project hooks ("Hooks need review"), asked of Codex itself: `codex
//! app-server` (JSON-RPC, one JSON object per line over stdio; its protocol ships with Codex,
//! `codex app-server generate-json-schema`). `hooks/list` says, for a folder, each hook Codex
//! would load, its trust (`trusted`, `untrusted`, `modified`, `managed`) and its current hash;
//! `config/batchWrite` records a hash as trusted under `[hooks.state."<key>"]` in the user's
//! `config.toml`, which is what Codex's review screen writes when the person trusts a hook.
//!
//! gate never computes the hash (it is Codex's, and changes with Codex), and it trusts only its
//! own hooks: a project hook whose command is exactly one gate installs for Codex
//! ([`gates_commands`]). Any other hook stays for the person to review. Measured with Codex
//! 0.171: starting the server and listing takes 0.1-0.3 s.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::agents::state::Cli;

/// How long one request may take (a cold start of the Node wrapper and the binary included).
const ANSWER: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("cannot start `{program} app-server`: {source}")]
    Start {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`codex app-server` did not answer {method} within {} s", within.as_secs_f32())]
    NoAnswer {
        method: &'static str,
        within: Duration,
    },
    #[error("{} is not UTF-8, which Codex's app-server cannot be asked about", path.display())]
    NotUtf8 { path: std::path::PathBuf },
    #[error("`codex app-server` ended before it answered {method}")]
    Ended { method: &'static str },
    #[error("`codex app-server` refused {method}: {message}")]
    Refused {
        method: &'static str,
        message: String,
    },
}

/// One hook as Codex lists it for a folder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hook {
    /// Codex's key for it: `<settings file>:<event>:<group>:<handler>`.
    pub key: String,
    /// The command it runs (`None` for handlers that are not commands).
    pub command: Option<String>,
    /// Where it comes from: `project`, `user`, `plugin`, ...
    pub source: String,
    /// `trusted`, `untrusted`, `modified` (trusted once, changed since) or `managed`.
    pub trust: String,
    /// `false` when the person turned it off in Codex (`enabled = false`): then it never runs.
    pub enabled: bool,
    /// Codex's hash of its definition, as `hooks/list` gives it (`sha256:...`).
    #[serde(skip)]
    pub(crate) hash: String,
}

impl Hook {
    /// Whether Codex runs it.
    pub fn runs(&self) -> bool {
        self.enabled && matches!(self.trust.as_str(), "trusted" | "managed")
    }

    /// Whether it is one of gate's own hooks in the project's settings.
    pub fn is_gates(&self) -> bool {
        self.source == "project"
            && self
                .command
                .as_deref()
                .is_some_and(|c| gates_commands().iter().any(|g| g == c))
    }
}

/// The commands of the hooks gate installs for Codex (guard and state hooks).
pub fn gates_commands() -> Vec<String> {
    let mut specs = crate::hooks::settings::guard_hooks(Cli::Codex);
    specs.extend(crate::hooks::settings::state_hooks(Cli::Codex));
    let mut commands: Vec<String> = specs.into_iter().map(|s| s.command).collect();
    commands.dedup();
    commands
}

/// What [`trust_gates`] did: the keys it recorded as trusted, and every hook as Codex lists it
/// afterwards.
#[derive(Debug, Clone, Default)]
pub struct Review {
    pub trusted_now: Vec<String>,
    pub hooks: Vec<Hook>,
}

impl Review {
    /// gate's hooks that Codex still would not run.
    pub fn gates_untrusted(&self) -> Vec<&Hook> {
        self.hooks
            .iter()
            .filter(|h| h.is_gates() && !h.runs())
            .collect()
    }

    /// Other hooks Codex will ask the person to review.
    pub fn others_untrusted(&self) -> Vec<&Hook> {
        self.hooks
            .iter()
            .filter(|h| !h.is_gates() && !h.runs())
            .collect()
    }

    /// What was done and what is left, one sentence each, for `folder`.
    pub fn outcome(&self, folder: &Path) -> super::Outcome {
        let mut out = super::Outcome::default();
        if !self.trusted_now.is_empty() {
            out.changed.push(format!(
                "Codex trusts gate's {} hook(s) for {} (recorded by Codex's app-server as its \
                 \"Hooks need review\" screen records them)",
                self.trusted_now.len(),
                folder.display()
            ));
        }
        let keys = |hooks: Vec<&Hook>| {
            hooks
                .iter()
                .map(|h| format!("{} ({})", h.key, h.trust))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.hooks.iter().any(Hook::is_gates) {
            out.notes.push(format!(
                "Codex lists none of gate's hooks for {}: it loads project hooks only in a folder \
                 it trusts and from a .codex/hooks.json it can read, so its agents run without \
                 gate's guard; `gate doctor` shows why",
                folder.display()
            ));
        }
        let gates = self.gates_untrusted();
        if !gates.is_empty() {
            out.notes.push(format!(
                "Codex still does not trust gate's hooks {}: {}",
                keys(gates),
                super::codex::HOOK_REVIEW
            ));
        }
        let others = self.others_untrusted();
        if !others.is_empty() {
            out.notes.push(format!(
                "Codex will ask to review hooks that are not gate's (gate trusts only its own): \
                 {}; it opens \"Hooks need review\" at start until you answer it",
                keys(others)
            ));
        }
        out
    }
}

/// The hooks Codex (`program`, with this process's environment: `CODEX_HOME` included) would
/// load in `folder`, with their trust.
pub fn list(program: &str, folder: &Path) -> Result<Vec<Hook>, ReviewError> {
    AppServer::start(program, folder, ANSWER)?.hooks(folder)
}

/// Records each of gate's own hooks that Codex does not trust in `folder` (never seen, or
/// changed since) as trusted, with the hash Codex gives, then lists again to report what Codex
/// now says: a write Codex did not take shows as still untrusted.
pub fn trust_gates(program: &str, folder: &Path) -> Result<Review, ReviewError> {
    let mut server = AppServer::start(program, folder, ANSWER)?;
    let before = server.hooks(folder)?;
    let pending: Vec<&Hook> = before
        .iter()
        .filter(|h| h.is_gates() && !h.runs())
        .collect();
    if pending.is_empty() {
        return Ok(Review {
            trusted_now: Vec::new(),
            hooks: before,
        });
    }
    // One nested value under `hooks.state`: a key holds dots and slashes (the settings
    // file's path), which a dotted key path would split.
    let state: serde_json::Map<String, Value> = pending
        .iter()
        .map(|h| (h.key.clone(), json!({ "trusted_hash": h.hash })))
        .collect();
    let edit = json!({"keyPath": "hooks.state", "mergeStrategy": "upsert", "value": state});
    server.call("config/batchWrite", json!({ "edits": [edit] }))?;
    let after = server.hooks(folder)?;
    let trusted_now = pending
        .iter()
        .filter(|p| after.iter().any(|h| h.key == p.key && h.runs()))
        .map(|p| p.key.clone())
        .collect();
    Ok(Review {
        trusted_now,
        hooks: after,
    })
}

/// A running `codex app-server`, killed when dropped.
struct AppServer {
    child: Child,
    input: ChildStdin,
    lines: Receiver<Value>,
    next: u64,
    answer: Duration,
}

impl AppServer {
    fn start(program: &str, folder: &Path, answer: Duration) -> Result<AppServer, ReviewError> {
        let mut child = Command::new(program)
            .arg("app-server")
            .current_dir(folder)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| ReviewError::Start {
                program: program.to_owned(),
                source,
            })?;
        let input = child.stdin.take().expect("stdin is piped");
        let output = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = std::sync::mpsc::channel();
        // A reader thread, so that a server that stops answering costs a timeout, not a hang.
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        let mut server = AppServer {
            child,
            input,
            lines,
            next: 1,
            answer,
        };
        server.call(
            "initialize",
            json!({"clientInfo": {"name": "gate", "version": env!("CARGO_PKG_VERSION")}}),
        )?;
        server.notify("initialized")?;
        Ok(server)
    }

    fn hooks(&mut self, folder: &Path) -> Result<Vec<Hook>, ReviewError> {
        // A path that is not UTF-8 cannot travel in JSON: said, not a panic.
        let folder = folder.to_str().ok_or_else(|| ReviewError::NotUtf8 {
            path: folder.to_owned(),
        })?;
        let answer = self.call("hooks/list", json!({ "cwds": [folder] }))?;
        Ok(parse_hooks(&answer))
    }

    fn notify(&mut self, method: &'static str) -> Result<(), ReviewError> {
        let message = json!({ "method": method, "params": {} });
        writeln!(self.input, "{message}").map_err(|_| ReviewError::Ended { method })
    }

    /// Sends one request and waits for its answer (notifications in between are skipped).
    fn call(&mut self, method: &'static str, params: Value) -> Result<Value, ReviewError> {
        let id = self.next;
        self.next += 1;
        let message = json!({ "id": id, "method": method, "params": params });
        writeln!(self.input, "{message}").map_err(|_| ReviewError::Ended { method })?;
        let deadline = Instant::now() + self.answer;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.lines.recv_timeout(left).map_err(|e| match e {
                RecvTimeoutError::Timeout => ReviewError::NoAnswer {
                    method,
                    within: self.answer,
                },
                RecvTimeoutError::Disconnected => ReviewError::Ended { method },
            })?;
            if v["id"] != id {
                continue;
            }
            if let Some(error) = v.get("error") {
                let message = error["message"].as_str().unwrap_or("no message").to_owned();
                return Err(ReviewError::Refused { method, message });
            }
            return Ok(v["result"].clone());
        }
    }
}

impl Drop for AppServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The hooks of a `hooks/list` result (`{data: [{cwd, hooks: [...]}]}`); entries missing a
/// key, a hash or a trust status are left out.
fn parse_hooks(result: &Value) -> Vec<Hook> {
    let text = |v: &Value, k: &str| v[k].as_str().map(str::to_owned);
    result["data"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|entry| entry["hooks"].as_array().cloned().unwrap_or_default())
        .filter_map(|h| {
            Some(Hook {
                key: text(&h, "key")?,
                command: text(&h, "command"),
                source: text(&h, "source").unwrap_or_default(),
                trust: match h["enabled"].as_bool() {
                    Some(false) => "disabled".to_owned(),
                    _ => text(&h, "trustStatus")?,
                },
                enabled: h["enabled"].as_bool().unwrap_or(true),
                hash: text(&h, "currentHash")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(hooks: Value) -> Value {
        json!({"data": [{"cwd": "/w", "errors": [], "warnings": [], "hooks": hooks}]})
    }

    #[test]
    fn only_gates_exact_project_commands_count_as_gates() {
        let hooks = parse_hooks(&listed(json!([
            {"key": "/w/.codex/hooks.json:pre_tool_use:0:0", "command": "gate guard",
             "source": "project", "trustStatus": "untrusted", "currentHash": "sha256:a"},
            {"key": "/w/.codex/hooks.json:stop:0:0", "command": "gate agent-hook codex stop",
             "source": "project", "trustStatus": "modified", "currentHash": "sha256:b"},
            {"key": "/w/.codex/hooks.json:stop:0:1", "command": "gate guard; curl evil",
             "source": "project", "trustStatus": "untrusted", "currentHash": "sha256:c"},
            {"key": "/h/hooks.json:stop:0:0", "command": "gate guard",
             "source": "user", "trustStatus": "untrusted", "currentHash": "sha256:d"},
            {"key": "no-hash", "command": "gate guard", "source": "project",
             "trustStatus": "untrusted"},
        ])));
        assert_eq!(hooks.len(), 4, "the entry without a hash is left out");
        let gates: Vec<bool> = hooks.iter().map(Hook::is_gates).collect();
        assert_eq!(gates, [true, true, false, false]);
        assert!(
            hooks.iter().all(|h| !h.runs()),
            "modified runs as untrusted"
        );
        let review = Review {
            trusted_now: Vec::new(),
            hooks,
        };
        assert_eq!(review.gates_untrusted().len(), 2);
        assert_eq!(review.others_untrusted().len(), 2);
    }

    #[test]
    fn a_disabled_hook_never_runs_and_none_listed_is_said() {
        let hooks = parse_hooks(&listed(json!([
            {"key": "/w/.codex/hooks.json:pre_tool_use:0:0", "command": "gate guard",
             "source": "project", "trustStatus": "trusted", "currentHash": "sha256:a",
             "enabled": false},
        ])));
        assert!(!hooks[0].runs());
        assert_eq!(hooks[0].trust, "disabled");
        let empty = Review::default().outcome(Path::new("/w"));
        assert!(empty.changed.is_empty(), "{empty:?}");
        assert!(
            empty
                .notes
                .iter()
                .any(|n| n.contains("none of gate's hooks")),
            "{empty:?}"
        );
    }

    #[test]
    fn a_path_that_is_not_utf8_is_an_error_not_a_panic() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
        std::fs::create_dir(&odd).unwrap();
        let fake = dir.path().join("codex");
        let answer = r#"{"id":1,"result":{}}"#;
        std::fs::write(
            &fake,
            format!("#!/bin/sh\nread l; echo '{answer}'; read l; sleep 5\n"),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let e = list(&fake.to_string_lossy(), &odd).unwrap_err();
        assert!(matches!(e, ReviewError::NotUtf8 { .. }), "{e}");
    }

    #[test]
    fn gates_commands_are_the_installed_ones() {
        let commands = gates_commands();
        assert!(commands.contains(&"gate guard".to_owned()), "{commands:?}");
        assert!(commands.contains(&"gate agent-hook codex stop".to_owned()));
        assert_eq!(
            commands.iter().filter(|c| *c == "gate guard").count(),
            1,
            "{commands:?}"
        );
    }

    #[test]
    fn a_program_that_is_not_there_is_a_start_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = list("/nonexistent/codex", dir.path()).unwrap_err();
        assert!(matches!(e, ReviewError::Start { .. }), "{e}");
        assert!(
            e.to_string().contains("/nonexistent/codex app-server"),
            "{e}"
        );
    }

    #[test]
    fn a_program_that_never_answers_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("codex");
        std::fs::write(&fake, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let started = Instant::now();
        let short = Duration::from_millis(300);
        let e = AppServer::start(&fake.to_string_lossy(), dir.path(), short)
            .err()
            .expect("no answer");
        assert!(matches!(e, ReviewError::NoAnswer { .. }), "{e}");
        assert!(e.to_string().contains("did not answer initialize"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_program_that_exits_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = list("false", dir.path()).unwrap_err();
        assert!(matches!(e, ReviewError::Ended { .. }), "{e}");
    }
}
