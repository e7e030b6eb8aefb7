//! The agent CLIs' own records of which folders their user trusts, written the way their users
//! write them, so that an agent gate starts never opens on a first-run dialog ("Do you trust the
//! files in this folder?") that would swallow its brief: Claude Code's `~/.claude.json`
//! ([`claude`]) and Codex's `config.toml` ([`codex`]).
//!
//! Both files belong to the user and to the CLI: every other key, and (for Codex's TOML) every
//! comment and the formatting, is kept; a file gate cannot parse is never overwritten (the
//! error names it and the fix); writes are atomic (a temp file renamed over the real one,
//! through a symlink to where it points), so a crash leaves the old file or the new one.
//!
//! Codex's per-hook trust ("Hooks need review") is recorded against a hash Codex computes
//! itself: gate asks Codex's own app-server for it and trusts only gate's own hooks
//! ([`codex_hooks`]); any other hook is left to the person's review.

pub mod claude;
pub mod codex;
pub mod codex_hooks;

use std::path::{Path, PathBuf};

/// The agent CLIs whose trust records gate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    Claude,
    Codex,
}

impl Known {
    /// The CLI a command line starts (its program's file name), if gate knows its trust record.
    pub fn of_command(command: &str) -> Option<Known> {
        let program = command.split_whitespace().next()?;
        match Path::new(program).file_name()?.to_str()? {
            "claude" => Some(Known::Claude),
            "codex" => Some(Known::Codex),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Known::Claude => "Claude Code",
            Known::Codex => "Codex",
        }
    }

    /// Where this CLI keeps its trust records on this machine (its environment variable
    /// honoured), or `None` without a home directory.
    pub fn config_file(self) -> Option<PathBuf> {
        match self {
            Known::Claude => claude::config_file(),
            Known::Codex => codex::config_file(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "{} is not valid {format} ({message}); gate left it as it was: fix it at that spot \
         (or move it aside and {cli} writes a fresh one), then run the command again",
        path.display()
    )]
    Invalid {
        path: PathBuf,
        format: &'static str,
        cli: &'static str,
        message: String,
    },
    #[error(
        "{} has an unexpected shape ({what}); gate left it as it was: fix that entry, then run \
         the command again",
        path.display()
    )]
    Shape { path: PathBuf, what: String },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: crate::statefile::StateFileError,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What gate did (or found) in one CLI's trust record for one folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// The file, when gate looked at one.
    pub file: Option<PathBuf>,
    /// What gate changed, one sentence each; empty when the record was already right.
    pub changed: Vec<String>,
    /// What gate would not change and the person should know (a folder the user marked
    /// untrusted, a review only the person can do).
    pub notes: Vec<String>,
}

/// Makes `cli` trust `folder` (absolute) in its own record at `file`.
pub fn trust(cli: Known, file: &Path, folder: &Path) -> Result<Outcome, TrustError> {
    let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_owned());
    let mut outcome = match cli {
        Known::Claude => claude::trust(file, &folder)?,
        Known::Codex => codex::trust(file, &folder)?,
    };
    outcome.file = Some(file.to_owned());
    Ok(outcome)
}

/// The file's bytes, `None` when it does not exist. A FIFO or a device is refused, not read.
fn read(path: &Path) -> Result<Option<Vec<u8>>, TrustError> {
    crate::statefile::read(path).map_err(|source| TrustError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Replaces `path` with `text` atomically. A symlink (a dotfiles manager's) is followed, so
/// the link stays and its target is replaced; an existing file's permissions are kept (these
/// files can hold credentials: a new one is private to the user).
fn write_atomically(path: &Path, text: &str) -> Result<(), TrustError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let err = |source| TrustError::Write {
        path: path.to_owned(),
        source,
    };
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path).map_err(err)?,
        _ => path.to_owned(),
    };
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let mode = std::fs::metadata(&target).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(text.as_bytes()).map_err(err)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(&target).map_err(|e| err(e.error))?;
    Ok(())
}

/// `$NAME` when set and not empty (an empty variable means unset to these CLIs).
fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_clis_are_recognised_by_their_program_name() {
        assert_eq!(Known::of_command("claude --model x"), Some(Known::Claude));
        assert_eq!(
            Known::of_command("/usr/local/bin/codex"),
            Some(Known::Codex)
        );
        assert_eq!(Known::of_command("aider"), None);
        assert_eq!(Known::of_command("claudette"), None);
        assert_eq!(Known::of_command(""), None);
    }

    #[test]
    fn a_symlinked_file_stays_a_symlink_and_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        std::fs::write(&real, "{}").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, "{\"a\": 1}").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "{\"a\": 1}");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let fresh = dir.path().join("sub/new.json");
        write_atomically(&fresh, "{}").unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
