//! The agent CLIs' hook settings: Claude Code's `.claude/settings.json`, Codex's
//! `.codex/hooks.json` and Gemini CLI's `.gemini/settings.json` share one shape,
//! `{"hooks": {"<Event>": [{"matcher": "...", "hooks": [{"type": "command", "command": "..."}]}]}}`.
//! gate adds its entries and keeps everything else, byte for byte where it can (the JSON is
//! re-serialised, so only formatting changes); an identical entry is never added twice.
//!
//! Commands name no machine-specific path (`gate ...`, found on PATH): these files are
//! committed, and an absolute path would not exist on a teammate's machine.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::agents::state::Cli;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{} is not valid JSON ({source}); fix or move it, then run `gate init --agent-hooks` again", path.display())]
    Invalid {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{} has an unexpected shape: {what}; add gate's hooks by hand (see README, \"Agent hooks\")", path.display())]
    Shape { path: PathBuf, what: &'static str },
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One hook entry: run `command` at `event` (for tools matching `matcher`, if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSpec {
    pub event: &'static str,
    pub matcher: Option<&'static str>,
    pub command: String,
}

/// The settings file of `cli`, relative to the project root.
pub fn settings_file(cli: Cli) -> &'static str {
    match cli {
        Cli::Claude => ".claude/settings.json",
        Cli::Codex => ".codex/hooks.json",
        Cli::Gemini => ".gemini/settings.json",
    }
}

/// The state hooks of `cli` (`gate agent-hook <cli> <event>`): turn start, turn end, a
/// question or permission prompt, the session's end, as each CLI names them.
pub fn state_hooks(cli: Cli) -> Vec<HookSpec> {
    let events: &[(&'static str, &str)] = match cli {
        Cli::Claude => &[
            ("SessionStart", "session-start"),
            ("UserPromptSubmit", "user-prompt-submit"),
            ("Stop", "stop"),
            ("StopFailure", "stop-failure"),
            ("Notification", "notification"),
            ("SessionEnd", "session-end"),
        ],
        Cli::Codex => &[
            ("SessionStart", "session-start"),
            ("UserPromptSubmit", "user-prompt-submit"),
            ("Stop", "stop"),
        ],
        Cli::Gemini => &[
            ("BeforeAgent", "before-agent"),
            ("AfterAgent", "after-agent"),
            ("Notification", "notification"),
            ("SessionEnd", "session-end"),
        ],
    };
    events
        .iter()
        .map(|(event, name)| HookSpec {
            event,
            matcher: None,
            command: format!("gate agent-hook {} {name}", cli.as_str()),
        })
        .collect()
}

/// The guard's hooks (`gate guard`), for the CLIs that have a pre-tool hook gate reads.
pub fn guard_hooks(cli: Cli) -> Vec<HookSpec> {
    match cli {
        Cli::Claude | Cli::Codex => ["Bash", super::guard::EDIT_MATCHER]
            .map(|matcher| HookSpec {
                event: "PreToolUse",
                matcher: Some(matcher),
                command: "gate guard".into(),
            })
            .to_vec(),
        Cli::Gemini => Vec::new(),
    }
}

/// Installs the guard and the state hooks of `cli` under `root`; returns the file written
/// (relative) and whether anything was added.
pub fn install(root: &Path, cli: Cli) -> Result<(&'static str, bool), SettingsError> {
    let file = settings_file(cli);
    let mut specs = guard_hooks(cli);
    specs.extend(state_hooks(cli));
    Ok((file, add_hooks(&root.join(file), &specs)?))
}

/// Adds each of `specs` to the settings file at `path` unless an entry with the same event,
/// matcher and command is there; keeps everything else. Returns false when nothing was added
/// (and then the file is not rewritten).
pub fn add_hooks(path: &Path, specs: &[HookSpec]) -> Result<bool, SettingsError> {
    // A committed symlink to a device would be read forever.
    if let Err(source) = crate::confine::is_regular(path) {
        return Err(SettingsError::Io {
            path: path.into(),
            source,
        });
    }
    let mut root: Value = match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => json!({}),
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SettingsError::Invalid {
            path: path.into(),
            source,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(source) => {
            return Err(SettingsError::Io {
                path: path.into(),
                source,
            });
        }
    };
    let shape = |what| SettingsError::Shape {
        path: path.into(),
        what,
    };
    let hooks = root
        .as_object_mut()
        .ok_or_else(|| shape("the top level is not an object"))?
        .entry("hooks")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| shape("\"hooks\" is not an object"))?;
    let mut added = false;
    for spec in specs {
        let list = hooks
            .entry(spec.event)
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .ok_or_else(|| shape("an event's hooks are not a list"))?;
        if list.iter().any(|entry| same(entry, spec)) {
            continue;
        }
        let mut entry = json!({ "hooks": [ { "type": "command", "command": spec.command } ] });
        if let Some(m) = spec.matcher {
            entry["matcher"] = json!(m);
        }
        list.push(entry);
        added = true;
    }
    if !added {
        return Ok(false);
    }
    let mut text = serde_json::to_string_pretty(&root).expect("JSON values serialise");
    text.push('\n');
    write_atomically(path, &text).map_err(|source| SettingsError::Io {
        path: path.into(),
        source,
    })?;
    Ok(true)
}

/// Is `entry` already `spec` (same matcher, one of its hooks runs the same command)?
fn same(entry: &Value, spec: &HookSpec) -> bool {
    let matcher = entry
        .get("matcher")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty());
    matcher == spec.matcher
        && entry
            .get("hooks")
            .and_then(Value::as_array)
            .is_some_and(|hs| {
                hs.iter()
                    .any(|h| h.get("command").and_then(Value::as_str) == Some(&spec.command))
            })
}

/// The commands of every hook in the settings file at `path` (for `gate doctor`).
pub fn commands(path: &Path) -> Vec<String> {
    let Some(root) = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return Vec::new();
    };
    let Some(events) = root.get("hooks").and_then(Value::as_object) else {
        return Vec::new();
    };
    events
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|entry| entry.get("hooks").and_then(Value::as_array))
        .flatten()
        .filter_map(|h| h.get("command").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_hooks_are_added_once_and_the_rest_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".claude/settings.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"model": "opus", "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}}"#,
        )
        .unwrap();
        assert_eq!(
            install(dir.path(), Cli::Claude).unwrap(),
            (".claude/settings.json", true)
        );
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["model"], "opus");
        let stop = v["hooks"]["Stop"].as_array().unwrap();
        assert_eq!(stop.len(), 2, "the user's own Stop hook stays: {stop:?}");
        assert_eq!(
            stop[1]["hooks"][0]["command"],
            "gate agent-hook claude stop"
        );
        assert!(stop[1].get("matcher").is_none());
        assert_eq!(v["hooks"]["PreToolUse"].as_array().unwrap().len(), 2);
        let before = std::fs::read(&path).unwrap();
        assert!(!install(dir.path(), Cli::Claude).unwrap().1);
        assert_eq!(std::fs::read(&path).unwrap(), before, "not rewritten");
        let cmds = commands(&path);
        assert!(cmds.contains(&"say done".to_owned()));
        assert!(cmds.contains(&"gate agent-hook claude session-end".to_owned()));
        assert!(
            cmds.iter().all(|c| !c.starts_with('/')),
            "no machine path: {cmds:?}"
        );
    }

    #[test]
    fn each_cli_gets_its_own_file_and_events() {
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), Cli::Codex).unwrap();
        install(dir.path(), Cli::Gemini).unwrap();
        let codex: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(".codex/hooks.json")).unwrap())
                .unwrap();
        assert_eq!(
            codex["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"],
            "gate agent-hook codex user-prompt-submit"
        );
        let gemini: Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(".gemini/settings.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            gemini["hooks"]["AfterAgent"][0]["hooks"][0]["command"],
            "gate agent-hook gemini after-agent"
        );
        assert!(gemini["hooks"].get("PreToolUse").is_none());
    }

    #[test]
    fn bad_files_are_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".claude/settings.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{ nope").unwrap();
        let e = install(dir.path(), Cli::Claude).unwrap_err().to_string();
        assert!(e.contains("settings.json is not valid JSON"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ nope");
        std::fs::write(&path, r#"{"hooks": []}"#).unwrap();
        let e = install(dir.path(), Cli::Claude).unwrap_err().to_string();
        assert!(e.contains("\"hooks\" is not an object"), "{e}");
    }
}
