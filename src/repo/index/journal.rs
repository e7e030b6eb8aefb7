//! The journal of an index swap: written before a branch moves to a commit built from a
//! scratch index, settled once the scratch is the real index, so that a run killed (or kept
//! from the lock) in between is finished by the next one.

use std::path::{Path, PathBuf};

use git2::Oid;

use super::{Identity, Install, PREFIX, Scratch};
use crate::repo::commit::CommitError;

/// Written before the branch moves to a commit built from a scratch index, removed once the
/// scratch is the real index. A gate killed in between (the branch moved, the index not yet
/// swapped) leaves it and the scratch file; the next run completes the swap if the real index
/// is still the file that was copied, so branch and index are in step again and the next
/// run does not mistake the old index for the user's staging.
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    pub fn begin(
        state: &Path,
        worktree: &str,
        scratch: &Scratch,
        commit: Oid,
    ) -> Result<Journal, CommitError> {
        let path = journal_path(state, worktree);
        let Some(c) = scratch.copied else {
            // No index existed: nothing to compare against on recovery; nothing to journal.
            return Ok(Journal { path });
        };
        let text = format!(
            "commit {commit}\nscratch {}\ncopied {} {} {} {} {} {} {}\n",
            scratch.path.display(),
            c.dev,
            c.ino,
            c.size,
            c.mtime.0,
            c.mtime.1,
            c.ctime.0,
            c.ctime.1
        );
        std::fs::write(&path, text).map_err(|source| CommitError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Journal { path })
    }

    pub fn end(self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// The swap could not be settled now: the journal stays (with its scratch, see
    /// [`Scratch::keep_on_disk`]) for the next run to finish it.
    pub fn keep(self) {}
}

/// A swap a killed run left unfinished (see [`Journal`]).
pub struct Unfinished {
    /// The commit the branch was moved to.
    pub commit: Oid,
    journal: PathBuf,
    /// Kept on disk until [`Unfinished::done`]: a swap that cannot be settled now is tried
    /// again by the next run.
    pending: Scratch,
}

impl Unfinished {
    /// Reads the journal of `worktree`: `None` when there is none (or it is unreadable, in
    /// which case it is removed: there is nothing it could still be used for).
    pub fn read(state: &Path, worktree: &str, real: &Path) -> Option<Unfinished> {
        let path = journal_path(state, worktree);
        let bytes = match crate::statefile::read(&path) {
            Ok(Some(b)) => b,
            Ok(None) => return None,
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                return None;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
                .map(str::to_owned)
        };
        let parsed = (|| {
            let scratch = field("scratch").map(PathBuf::from)?;
            // Only a scratch index of gate's own state directory is ever renamed or removed.
            if !scratch.starts_with(state) || !scratch.file_name()?.to_str()?.starts_with(PREFIX) {
                return None;
            }
            let copied = field("copied").and_then(|c| {
                let n: Vec<i64> = c.split(' ').filter_map(|x| x.parse().ok()).collect();
                (n.len() == 7).then(|| Identity {
                    dev: n[0] as u64,
                    ino: n[1] as u64,
                    size: n[2] as u64,
                    mtime: (n[3], n[4]),
                    ctime: (n[5], n[6]),
                })
            });
            let commit = field("commit").and_then(|c| Oid::from_str(&c).ok())?;
            Some((commit, scratch, copied))
        })();
        let Some((commit, scratch, copied)) = parsed else {
            let _ = std::fs::remove_file(&path);
            return None;
        };
        Some(Unfinished {
            commit,
            journal: path,
            pending: Scratch {
                path: scratch,
                real: real.to_owned(),
                copied,
                root: PathBuf::new(),
                keep: true,
            },
        })
    }

    /// Swaps the scratch in, as the interrupted run would have.
    pub fn install(&self) -> Result<Install, CommitError> {
        if !self.pending.path.is_file() {
            return Ok(Install::Changed);
        }
        self.pending.install()
    }

    /// The swap is settled (done, or no longer wanted): the journal and the scratch go.
    pub fn done(self) {
        let _ = std::fs::remove_file(&self.pending.path);
        let _ = std::fs::remove_file(&self.journal);
    }
}

fn journal_path(state: &Path, worktree: &str) -> PathBuf {
    state.join(format!("install-{worktree}"))
}
