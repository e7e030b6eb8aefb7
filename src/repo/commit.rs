//! Commit objects and compare-and-swap ref moves: the two writes every auto-commit and
//! snapshot ends with. Staging happens before, in a private copy of the index
//! ([`super::index::Scratch`]); a ref moves only if it still points where gate read it, so
//! a commit the agent made meanwhile is never overwritten (the attempt is retried later).

use std::path::PathBuf;

use git2::{Oid, Signature};

use super::cli::{self, CliError};
use super::{Repo, RepoError};

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Someone else holds `index.lock`: back off, never delete it.
    #[error("the index is locked by another git process ({0}); will retry")]
    Locked(String),
    /// A file vanished between the status and the staging: nothing was written; try again.
    #[error("a file vanished while it was being staged ({0}); will retry")]
    Vanished(String),
    /// Not done, for the reason given (nothing was written).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Cli(#[from] CliError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("git: {what}")]
    Git {
        what: String,
        #[source]
        source: git2::Error,
    },
    #[error("cannot prepare the snapshot index {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn git(what: &str) -> impl FnOnce(git2::Error) -> CommitError + '_ {
    move |source| CommitError::Git {
        what: what.to_owned(),
        source,
    }
}

/// What a commit changed against its first parent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeChanges {
    pub added: usize,
    pub modified: usize,
    pub deleted: usize,
    /// The first few paths, for the message.
    pub sample: Vec<String>,
}

impl TreeChanges {
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (n, word) in [
            (self.modified, "modified"),
            (self.added, "added"),
            (self.deleted, "deleted"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        let total = self.added + self.modified + self.deleted;
        if total == 0 {
            return "no file changes beyond the last commit".into();
        }
        let mut paths = self.sample.join(", ");
        if total > self.sample.len() {
            paths.push_str(", ...");
        }
        format!("{} ({paths})", parts.join(", "))
    }
}

impl Repo {
    /// The identity commits are made with: `GIT_AUTHOR_*`, else git config `user.*`, else a
    /// recognisable stand-in so that preserving work never fails for want of a name.
    pub fn identity(&self) -> Signature<'static> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let config = self.git.config().ok();
        let get = |k: &str| config.as_ref().and_then(|c| c.get_string(k).ok());
        let name = env("GIT_AUTHOR_NAME")
            .or_else(|| get("user.name"))
            .unwrap_or_else(|| "gate".into());
        let email = env("GIT_AUTHOR_EMAIL")
            .or_else(|| get("user.email"))
            .unwrap_or_else(|| "gate@localhost".into());
        Signature::now(&name, &email)
            .or_else(|_| Signature::now("gate", "gate@localhost"))
            .expect("a plain ASCII signature is valid")
    }

    /// Writes a commit object of `tree` with `parents` (no ref moves).
    pub fn write_commit(
        &self,
        tree: Oid,
        parents: &[Oid],
        message: &str,
    ) -> Result<Oid, CommitError> {
        let repo = &self.git;
        let tree = repo.find_tree(tree).map_err(git("read the new tree"))?;
        let parents: Vec<git2::Commit> = parents
            .iter()
            .map(|id| repo.find_commit(*id))
            .collect::<Result<_, _>>()
            .map_err(git("read a parent commit"))?;
        let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
        let sig = self.identity();
        repo.commit(None, &sig, &sig, message, &tree, &parent_refs)
            .map_err(git("create the commit"))
    }

    /// The tree of `commit`.
    pub fn tree_of(&self, commit: Oid) -> Result<Oid, CommitError> {
        self.git
            .find_commit(commit)
            .map(|c| c.tree_id())
            .map_err(git("read a commit"))
    }

    /// `git update-ref -m reflog refname new expected`: false when the ref no longer points at
    /// `expected` (or is locked by someone else's update in flight).
    ///
    /// The ref moves in a git process of its own: a gate killed at any moment (SIGKILL, OOM)
    /// never leaves the ref's lock file behind, which would block every later commit on the
    /// branch; the git child finishes or fails on its own.
    pub fn move_ref(
        &self,
        refname: &str,
        new: Oid,
        expected: Option<Oid>,
        reflog: &str,
    ) -> Result<bool, CommitError> {
        let new = new.to_string();
        // The null id (as long as the new one) means "must not exist yet".
        let old = expected.map_or_else(|| "0".repeat(new.len()), |o| o.to_string());
        // No hook runs (update-ref would run a reference-transaction hook), as with libgit2.
        let args = ["-c", "core.hooksPath=/dev/null", "update-ref", "-m", reflog];
        let out = cli::git(
            &self.root,
            args.iter().copied().chain([refname, &new, &old]),
            None,
        )?;
        if out.status.success() {
            return Ok(true);
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        // Raced: the ref is no longer at `expected` ("is at X but expected Y", "reference
        // already exists"), or another update holds its lock. A name that collides with an
        // existing ref as file and directory is not a race: retrying would loop forever.
        let raced = stderr.contains("but expected")
            || stderr.contains("already exists")
            || stderr.contains("File exists")
            || stderr.contains("unable to resolve reference");
        if stderr.contains("cannot lock ref") && raced && !stderr.contains("cannot create") {
            return Ok(false);
        }
        Err(CliError::Failed {
            args: format!("update-ref {refname}"),
            stderr,
        }
        .into())
    }

    /// What `new` changes against `old` (`None`: the empty tree), counted for a message.
    pub fn tree_changes(&self, old: Option<Oid>, new: Oid) -> Result<TreeChanges, CommitError> {
        let mut changes = TreeChanges::default();
        for (status, path) in self.tree_changed_paths(old, new)? {
            match status {
                b'A' => changes.added += 1,
                b'D' => changes.deleted += 1,
                _ => changes.modified += 1,
            }
            if changes.sample.len() < 3 {
                changes
                    .sample
                    .push(String::from_utf8_lossy(&path).into_owned());
            }
        }
        Ok(changes)
    }

    /// Each path `new` changes against `old` (`None`: the empty tree) with git's status
    /// letter (`A`, `M`, `D`, `T`). git's diff-tree skips identical subtrees; libgit2's tree
    /// diff reads every tree (10k directories: ~100 ms).
    pub fn tree_changed_paths(
        &self,
        old: Option<Oid>,
        new: Oid,
    ) -> Result<Vec<(u8, Vec<u8>)>, CommitError> {
        let old = old.map_or_else(|| crate::repo::EMPTY_TREE.to_owned(), |o| o.to_string());
        let new = new.to_string();
        let args = [
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            "--name-status",
            &old,
            &new,
        ];
        let out = cli::git_ok(&self.root, args, None)?;
        let mut paths = Vec::new();
        let mut fields = out.stdout.split(|&b| b == 0).filter(|f| !f.is_empty());
        while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
            paths.push((status.first().copied().unwrap_or(b'M'), path.to_vec()));
        }
        Ok(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_read_like_the_issue_asks() {
        let c = TreeChanges {
            added: 1,
            modified: 3,
            deleted: 1,
            sample: vec!["src/a.rs".into(), "src/b.rs".into(), "x".into()],
        };
        assert_eq!(
            c.summary(),
            "3 modified, 1 added, 1 deleted (src/a.rs, src/b.rs, x, ...)"
        );
    }
}
