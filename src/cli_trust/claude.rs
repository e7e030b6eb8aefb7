//! Claude Code's trust record: `~/.claude.json` (`$CLAUDE_CONFIG_DIR/.claude.json` when that is
//! set), the file Claude Code itself writes when its user answers "Yes, I trust this folder":
//! `projects["<absolute folder>"].hasTrustDialogAccepted = true`. Claude Code 2.x names that
//! key in its own warning ("set projects[...].hasTrustDialogAccepted: true in ~/.claude.json"),
//! and matches the folder exactly when the project has hooks (gate's guard is one), so each
//! worktree gets its own entry.
//!
//! `hasCompletedOnboarding` (top level) is set only where it is absent: Claude Code has then
//! never finished its first-run setup with this file (a fresh machine, CI, a new
//! `CLAUDE_CONFIG_DIR`), and would open on its theme picker and login screens, where a brief
//! typed in would pick options. Setting it is what headless users do. A value already there,
//! true or false, is the user's and is left alone. Login itself is not done here: without a
//! login or an API key the agent says so at its first turn.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{Outcome, TrustError};

/// The per-folder key Claude Code writes when its trust dialog is accepted.
pub const TRUST_KEY: &str = "hasTrustDialogAccepted";
/// The top-level key Claude Code writes when its first-run setup is done.
pub const ONBOARDING_KEY: &str = "hasCompletedOnboarding";

/// `$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json`.
pub fn config_file() -> Option<PathBuf> {
    match super::env_dir("CLAUDE_CONFIG_DIR") {
        Some(dir) => Some(dir.join(".claude.json")),
        None => dirs::home_dir().map(|h| h.join(".claude.json")),
    }
}

/// Marks `folder` trusted in the Claude Code config at `file` (created if missing).
pub fn trust(file: &Path, folder: &Path) -> Result<Outcome, TrustError> {
    let mut root = parse(file)?;
    let shape = |what: String| TrustError::Shape {
        path: file.to_owned(),
        what,
    };
    let top = root
        .as_object_mut()
        .ok_or_else(|| shape("the top level is not an object".into()))?;
    let key = folder.to_string_lossy().into_owned();
    let mut outcome = Outcome::default();
    let project = top
        .entry("projects")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| shape("\"projects\" is not an object".into()))?
        .entry(key.clone())
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| shape(format!("projects[{key:?}] is not an object")))?;
    if project.get(TRUST_KEY) != Some(&Value::Bool(true)) {
        project.insert(TRUST_KEY.into(), Value::Bool(true));
        outcome.changed.push(format!(
            "Claude Code trusts {key} (projects[{key:?}].{TRUST_KEY} = true in {})",
            file.display()
        ));
    }
    if !top.contains_key(ONBOARDING_KEY) {
        top.insert(ONBOARDING_KEY.into(), Value::Bool(true));
        outcome.changed.push(format!(
            "Claude Code's first-run setup (theme, login screens) is marked done ({ONBOARDING_KEY} \
             = true in {}, where it was never set); log in with `claude /login` if this machine \
             has no login or API key",
            file.display()
        ));
    }
    if !outcome.changed.is_empty() {
        let mut text = serde_json::to_string_pretty(&root).expect("a JSON value serialises");
        text.push('\n');
        super::write_atomically(file, &text)?;
    }
    Ok(outcome)
}

/// Whether `folder` is trusted in the config at `file` (`false` when it or the file is absent).
pub fn is_trusted(file: &Path, folder: &Path) -> Result<bool, TrustError> {
    let root = parse(file)?;
    let key = folder.to_string_lossy();
    Ok(root
        .get("projects")
        .and_then(|p| p.get(key.as_ref()))
        .and_then(|p| p.get(TRUST_KEY))
        == Some(&Value::Bool(true)))
}

/// The file as JSON; an empty object when it is missing or blank.
fn parse(file: &Path) -> Result<Value, TrustError> {
    match super::read(file)? {
        None => Ok(Value::Object(Map::new())),
        Some(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Value::Object(Map::new())),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| TrustError::Invalid {
            path: file.to_owned(),
            format: "JSON",
            cli: "Claude Code",
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_is_added_and_every_other_key_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".claude.json");
        std::fs::write(
            &file,
            r#"{"numStartups": 7, "hasCompletedOnboarding": false, "theme": "dark",
               "projects": {"/other": {"allowedTools": ["Bash"], "hasTrustDialogAccepted": true},
                            "/w/eng": {"hasTrustDialogAccepted": false, "history": [1]}}}"#,
        )
        .unwrap();
        let out = trust(&file, Path::new("/w/eng")).unwrap();
        assert_eq!(out.changed.len(), 1, "{out:?}");
        assert!(out.changed[0].contains("/w/eng"), "{out:?}");
        let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(v["numStartups"], 7);
        assert_eq!(v["theme"], "dark");
        // An explicit false is the user's: onboarding is only marked done where never set.
        assert_eq!(v[ONBOARDING_KEY], false);
        assert_eq!(v["projects"]["/other"]["allowedTools"][0], "Bash");
        assert_eq!(v["projects"]["/w/eng"][TRUST_KEY], true);
        assert_eq!(v["projects"]["/w/eng"]["history"][0], 1);
        assert!(is_trusted(&file, Path::new("/w/eng")).unwrap());
        assert!(!is_trusted(&file, Path::new("/w")).unwrap());
        let before = std::fs::read(&file).unwrap();
        assert!(
            trust(&file, Path::new("/w/eng"))
                .unwrap()
                .changed
                .is_empty()
        );
        assert_eq!(std::fs::read(&file).unwrap(), before);
    }

    #[test]
    fn a_missing_file_is_created_with_onboarding_done() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cfg/.claude.json");
        let out = trust(&file, Path::new("/w/a")).unwrap();
        assert_eq!(out.changed.len(), 2, "{out:?}");
        let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(v[ONBOARDING_KEY], true);
        assert_eq!(v["projects"]["/w/a"][TRUST_KEY], true);
    }

    #[test]
    fn invalid_json_is_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".claude.json");
        std::fs::write(&file, "{\"projects\": {").unwrap();
        let e = trust(&file, Path::new("/w/a")).unwrap_err().to_string();
        assert!(e.contains(&*file.to_string_lossy()), "{e}");
        assert!(
            e.contains("not valid JSON") && e.contains("left it as it was"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"projects\": {");
        std::fs::write(&file, "{\"projects\": []}").unwrap();
        let e = trust(&file, Path::new("/w/a")).unwrap_err().to_string();
        assert!(e.contains("\"projects\" is not an object"), "{e}");
    }
}
