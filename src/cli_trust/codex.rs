//! Codex's trust record: `$CODEX_HOME/config.toml` (default `~/.codex/config.toml`), where
//! Codex's own "Do you trust the contents of this directory?" screen writes
//! `[projects."<absolute folder>"] trust_level = "trusted"`. Codex looks the folder up first
//! under its own path, so each worktree gets its own entry. The file is edited with
//! `toml_edit`: the person's comments, order and formatting stay as they were.
//!
//! A folder the person marked `trust_level = "untrusted"` is left so (said in a note): that is
//! their decision, and a `trust = false` in the team file is how they say it to gate.
//!
//! Codex's second first-run screen, "Hooks need review", keeps each project hook's trust
//! against a hash Codex computes (`[hooks.state]` in this file); [`super::codex_hooks`] asks
//! Codex's app-server for it rather than computing it.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, value};

use super::{Outcome, TrustError};

/// What gate tells the person when it could not have Codex trust gate's hooks, or when the
/// project has hooks of others.
pub const HOOK_REVIEW: &str = "Codex asks to trust the project's hooks (\"Hooks need review\") at \
     its start whenever one is new or changed: trust gate's hooks there (or review them with \
     /hooks); until then Codex skips them and runs with no guard";

/// `$CODEX_HOME/config.toml`, else `~/.codex/config.toml`.
pub fn config_file() -> Option<PathBuf> {
    match super::env_dir("CODEX_HOME") {
        Some(dir) => Some(dir.join("config.toml")),
        None => dirs::home_dir().map(|h| h.join(".codex").join("config.toml")),
    }
}

/// Marks `folder` trusted in the Codex config at `file` (created if missing).
pub fn trust(file: &Path, folder: &Path) -> Result<Outcome, TrustError> {
    let (mut doc, _) = parse(file)?;
    let key = folder.to_string_lossy().into_owned();
    let mut outcome = Outcome::default();
    let shape = |what: String| TrustError::Shape {
        path: file.to_owned(),
        what,
    };
    let projects = doc
        .entry("projects")
        .or_insert_with(|| {
            // `[projects."/a"]` headers alone, no empty `[projects]` above them.
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        })
        .as_table_like_mut()
        .ok_or_else(|| shape("`projects` is not a table".into()))?;
    let project = projects
        .entry(&key)
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .ok_or_else(|| shape(format!("projects.{key:?} is not a table")))?;
    match project.get("trust_level").and_then(Item::as_str) {
        Some("trusted") => {}
        Some("untrusted") => outcome.notes.push(format!(
            "Codex keeps {key} untrusted (trust_level = \"untrusted\" in {}), as the file says: it \
             will not load the project's hooks there, so the agent runs with no guard; set it to \
             \"trusted\" to change that, or put trust = false in the team file to silence this",
            file.display()
        )),
        _ => {
            project.insert("trust_level", value("trusted"));
            outcome.changed.push(format!(
                "Codex trusts {key} ([projects.{key:?}] trust_level = \"trusted\" in {})",
                file.display()
            ));
        }
    }
    if !outcome.changed.is_empty() {
        super::write_atomically(file, &doc.to_string())?;
    }
    Ok(outcome)
}

/// The `trust_level` recorded for `folder` in the config at `file`, if any.
pub fn trust_level(file: &Path, folder: &Path) -> Result<Option<String>, TrustError> {
    let (doc, _) = parse(file)?;
    let key = folder.to_string_lossy();
    Ok(doc
        .get("projects")
        .and_then(Item::as_table_like)
        .and_then(|p| p.get(&key))
        .and_then(Item::as_table_like)
        .and_then(|p| p.get("trust_level"))
        .and_then(Item::as_str)
        .map(str::to_owned))
}

/// The hook switches in the config at `file`: `[features] hooks` (on by default) and its
/// deprecated alias `[features] codex_hooks`, each `None` when absent (or not a boolean).
pub fn hook_features(file: &Path) -> Result<HookFeatures, TrustError> {
    let (doc, _) = parse(file)?;
    let get = |key: &str| {
        doc.get("features")
            .and_then(Item::as_table_like)
            .and_then(|f| f.get(key))
            .and_then(Item::as_bool)
    };
    Ok(HookFeatures {
        hooks: get("hooks"),
        codex_hooks: get("codex_hooks"),
    })
}

/// `[features] hooks` and `[features] codex_hooks` as a Codex config sets them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HookFeatures {
    pub hooks: Option<bool>,
    pub codex_hooks: Option<bool>,
}

/// The file as a TOML document (empty when missing), and whether it existed.
fn parse(file: &Path) -> Result<(DocumentMut, bool), TrustError> {
    let Some(bytes) = super::read(file)? else {
        return Ok((DocumentMut::new(), false));
    };
    let invalid = |offset: usize, message: String| {
        let (line, column) = crate::config::line_column(&bytes, offset);
        TrustError::Invalid {
            path: file.to_owned(),
            format: "TOML",
            cli: "Codex",
            message: format!("line {line}, column {column}: {message}"),
        }
    };
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| invalid(e.valid_up_to(), "not UTF-8 text".into()))?;
    let doc = text.parse::<DocumentMut>().map_err(|e| {
        invalid(
            e.span().map_or(0, |s| s.start),
            e.message().trim().to_owned(),
        )
    })?;
    Ok((doc, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "# my settings\nmodel = \"o4\"  # the fast one\n\n[features]\ncodex_hooks = true\n\n[projects.\"/other\"]\ntrust_level = \"trusted\"\n";

    #[test]
    fn trust_is_added_and_comments_and_formatting_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, USER).unwrap();
        let out = trust(&file, Path::new("/w/eng")).unwrap();
        assert_eq!(out.changed.len(), 1, "{out:?}");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with(USER), "{text}");
        assert!(
            text.ends_with("[projects.\"/w/eng\"]\ntrust_level = \"trusted\"\n"),
            "{text}"
        );
        assert_eq!(
            trust_level(&file, Path::new("/w/eng")).unwrap().as_deref(),
            Some("trusted")
        );
        let features = hook_features(&file).unwrap();
        assert_eq!((features.codex_hooks, features.hooks), (Some(true), None));
        assert!(
            trust(&file, Path::new("/w/eng"))
                .unwrap()
                .changed
                .is_empty()
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    }

    #[test]
    fn a_missing_file_gets_only_the_project_table() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("home/config.toml");
        trust(&file, Path::new("/w/a")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "[projects.\"/w/a\"]\ntrust_level = \"trusted\"\n"
        );
        assert_eq!(hook_features(&file).unwrap(), HookFeatures::default());
    }

    #[test]
    fn an_untrusted_folder_stays_untrusted_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        let text = "projects = { \"/w/a\" = { trust_level = \"untrusted\" } }\n";
        std::fs::write(&file, text).unwrap();
        let out = trust(&file, Path::new("/w/a")).unwrap();
        assert!(out.changed.is_empty() && out.notes.len() == 1, "{out:?}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        // An inline table is edited in place.
        let out = trust(&file, Path::new("/w/b")).unwrap();
        assert_eq!(out.changed.len(), 1);
        assert_eq!(
            trust_level(&file, Path::new("/w/b")).unwrap().as_deref(),
            Some("trusted")
        );
    }

    #[test]
    fn invalid_toml_is_named_with_its_line_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "model = \"o4\"\n[projects\n").unwrap();
        let e = trust(&file, Path::new("/w/a")).unwrap_err().to_string();
        assert!(
            e.contains(&*file.to_string_lossy()) && e.contains("line 2"),
            "{e}"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "model = \"o4\"\n[projects\n"
        );
        std::fs::write(&file, "projects = 3\n").unwrap();
        let e = trust(&file, Path::new("/w/a")).unwrap_err().to_string();
        assert!(e.contains("`projects` is not a table"), "{e}");
    }
}
