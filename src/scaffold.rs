//! Writing the files gate creates: `.gate.toml`, the templates, and a feature's artifacts.
//!
//! Nothing is ever overwritten by accident: a new file is linked into place only if the name
//! is still free (so a concurrent writer is never clobbered), and `--force` keeps a backup.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The `.gate.toml` that `gate init` writes: every key at its default, each explained.
pub const DEFAULT_CONFIG: &str = r#"# gate configuration. Every key is optional; the values shown are the defaults.
# Reference: `gate config` prints the effective configuration.

[branches]
# Nobody commits here directly; the first one is where finished features are merged.
protected = ["main", "master"]
# Prefix of the branches `gate specify` creates. "" gives spec-kit's bare NNN-name style.
feature_prefix = "feature/"

[commit]
# Uncommitted work on a feature branch is auto-committed once it is this old.
interval = "30m"
# ...and only after no file has changed for this long.
quiet = "60s"
# Larger files are never auto-committed.
max_file_size = "50MB"

[tags]
# Tag for a finished feature: {feature} is the feature directory name, {date} is YYYYMMDD.
format = "stable-{feature}-{date}"

[spec]
# Where features live: <dir>/NNN-name/{spec,plan,tasks}.md
dir = "specs"
# The team's editable copies of the spec, plan and tasks templates.
templates = "spec-kit/templates"
# Paths that count as implementation: committed only once spec, plan and tasks are complete.
implementation = ["src/**"]

[agent]
# tmux target that receives nudges, or "auto" for the agents of the worktree concerned: panes
# marked with `gate agents mark`, or running one of the CLIs below (never plain shells).
target = "auto"
# Programs that make a pane an agent.
clis = ["claude", "codex", "gemini", "aider"]
# Where escalations go.
orchestrator = "orchestrator:0"
# Minimum time between two nudges for the same rule and pane.
nudge_cooldown = "10m"
# Ignored nudges for one rule (0: never escalate), or attempts at a check-in, before the
# orchestrator is told.
escalate_after = 3
# Wait before retrying an undeliverable check-in; doubled after each failed attempt.
checkin_retry = "1m"
# How long a nudge or check-in waits for a busy pane (screen still changing) to go quiet.
busy_wait = "30s"
# Pause between a message's text and Enter (some agent TUIs need it).
send_pause = "500ms"

[hooks]
# pre-push refuses pushing a protected branch, unless the pushed commit is a finished
# feature (a stable tag, or a `gate finish` merge).
protect_push = true
"#;

/// The implementation line of [`DEFAULT_CONFIG`], which `gate init` replaces with globs that
/// match the repository's layout.
pub const DEFAULT_IMPLEMENTATION: &str = "implementation = [\"src/**\"]\n";

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("{} already exists; gate never overwrites it (use --force to replace it, keeping a backup)", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What happened to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Created,
    /// It existed and was left alone.
    Kept,
    /// It existed and was replaced; the old content is at `backup`.
    Replaced {
        backup: PathBuf,
    },
}

/// Creates `path` with `contents` unless it exists, in which case it is kept as is.
pub fn create_or_keep(path: &Path, contents: &str) -> Result<Written, ScaffoldError> {
    match create_new(path, contents) {
        Err(ScaffoldError::Exists { .. }) => Ok(Written::Kept),
        other => other,
    }
}

/// Creates `path`; an existing file is refused, or with `force` moved to a backup first.
pub fn create(path: &Path, contents: &str, force: bool) -> Result<Written, ScaffoldError> {
    match create_new(path, contents) {
        Err(ScaffoldError::Exists { .. }) if force => {
            let backup = free_backup_name(path);
            std::fs::rename(path, &backup).map_err(|source| io(path, source))?;
            create_new(path, contents)?;
            Ok(Written::Replaced { backup })
        }
        other => other,
    }
}

/// Writes to a temporary file beside `path`, then links it in only if the name is free.
fn create_new(path: &Path, contents: &str) -> Result<Written, ScaffoldError> {
    if path.symlink_metadata().is_ok() {
        return Err(ScaffoldError::Exists { path: path.into() });
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|source| io(path, source))?;
    tmp.write_all(contents.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|source| io(path, source))?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(Written::Created),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(ScaffoldError::Exists { path: path.into() })
        }
        Err(e) => Err(io(path, e.error)),
    }
}

/// `plan.md.bak`, then `plan.md.bak.1`, ...: never overwrites an older backup.
fn free_backup_name(path: &Path) -> PathBuf {
    let base = format!("{}.bak", path.display());
    std::iter::once(PathBuf::from(&base))
        .chain((1..).map(|n| PathBuf::from(format!("{base}.{n}"))))
        .find(|p| p.symlink_metadata().is_err())
        .expect("an unused backup name exists")
}

fn io(path: &Path, source: std::io::Error) -> ScaffoldError {
    ScaffoldError::Io {
        path: path.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn default_config_text_is_the_defaults() {
        let parsed = Config::parse(Path::new(".gate.toml"), DEFAULT_CONFIG.as_bytes()).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn create_refuses_then_force_keeps_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/plan.md");
        assert_eq!(create(&path, "one", false).unwrap(), Written::Created);
        assert!(matches!(
            create(&path, "two", false),
            Err(ScaffoldError::Exists { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        let Written::Replaced { backup } = create(&path, "two", true).unwrap() else {
            panic!()
        };
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), "one");
        let Written::Replaced { backup: second } = create(&path, "three", true).unwrap() else {
            panic!()
        };
        assert_ne!(backup, second);
        assert_eq!(std::fs::read_to_string(&second).unwrap(), "two");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three");
    }

    #[test]
    fn create_or_keep_leaves_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        std::fs::write(&path, "mine").unwrap();
        assert_eq!(create_or_keep(&path, "theirs").unwrap(), Written::Kept);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
    }
}
