//! What killed runs leave behind, and the lock that keeps two runs of one worktree apart.

use std::path::{Path, PathBuf};

use super::{LOCK_MARK, MARKER_PREFIX, PREFIX, lock_path};
use crate::repo::commit::CommitError;

/// Removes what killed gate processes left: scratch indexes (and their locks) named after a
/// pid that no longer exists, and an `index.lock` that gate itself held when it died. A
/// scratch lock younger than a minute is left, in case a git child of the dead run still
/// writes it; git's own `index.lock` is never touched.
pub fn remove_leftovers(state: &Path, real_index: &Path) {
    remove_own_stale_lock(real_index);
    // A journal's scratch is the one an interrupted swap still needs.
    let journaled: Vec<PathBuf> = std::fs::read_dir(state)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("install-"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("scratch "))
                .map(PathBuf::from)
        })
        .collect();
    let Ok(entries) = std::fs::read_dir(state) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(scratch_suffix) else {
            continue;
        };
        let (pid, is_lock) = match rest.strip_suffix(".lock") {
            Some(pid) => (pid, true),
            None => (rest, false),
        };
        let Some(pid) = pid.parse::<i32>().ok().filter(|&p| p > 0) else {
            continue;
        };
        let young = || {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < std::time::Duration::from_secs(60))
        };
        if pid as u32 == std::process::id()
            || alive(pid)
            || (is_lock && young())
            || journaled.contains(&e.path())
        {
            continue;
        }
        let _ = std::fs::remove_file(e.path());
    }
}

/// Removes an `index.lock` that gate itself held when it was killed (its marker names a dead
/// pid); git's own lock is never touched.
pub fn remove_own_stale_lock(real_index: &Path) {
    let lock = lock_path(real_index);
    if let Ok(bytes) = std::fs::read(&lock)
        && let Some(pid) = bytes
            .strip_prefix(LOCK_MARK)
            .and_then(|rest| std::str::from_utf8(rest).ok())
            .and_then(|rest| rest.trim().parse::<i32>().ok())
        && !alive(pid)
    {
        let _ = std::fs::remove_file(&lock);
    }
    // A marker a killed run did not get to remove (it is never the lock itself).
    let Some(dir) = lock.parent() else {
        return;
    };
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(MARKER_PREFIX))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid as u32 != std::process::id() && !alive(pid) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Holds one worktree's snapshots to one at a time (the watcher, an agent's `gate snapshot`,
/// `gate restore --force`): two runs would race for the same index swap. `None` when another
/// run still holds it after `wait`.
pub fn lock_worktree(
    state: &Path,
    worktree: &str,
    wait: std::time::Duration,
) -> Result<Option<std::fs::File>, CommitError> {
    let path = state.join(format!("snapshot-{worktree}.flock"));
    crate::statefile::hold(&path, wait).map_err(|source| CommitError::Io { path, source })
}

/// The `<pid>[.lock]` of a scratch index name (and of the older `snapshot-index-<pid>`).
fn scratch_suffix(name: &str) -> Option<&str> {
    if let Some(rest) = name.strip_prefix("snapshot-index-") {
        return Some(rest);
    }
    let rest = name.strip_prefix(PREFIX)?;
    let base = rest.strip_suffix(".lock").unwrap_or(rest);
    let (_, pid) = base.rsplit_once('-')?;
    Some(&rest[rest.len() - pid.len() - (rest.len() - base.len())..])
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_are_recognised() {
        assert_eq!(scratch_suffix("index-commit-0-123"), Some("123"));
        assert_eq!(scratch_suffix("index-shadow-7-123.lock"), Some("123.lock"));
        assert_eq!(scratch_suffix("snapshot-index-9"), Some("9"));
        assert_eq!(scratch_suffix("events.jsonl"), None);
    }
}
