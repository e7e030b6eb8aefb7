//! Writing commits without ever losing work.
//!
//! Staging goes through `git add -A` (git's own index lock and `add -A` semantics: new,
//! modified, deleted, honouring every ignore source). The commit is then built from that index
//! with libgit2 and moves the branch only if its tip is still the parent we read: if the agent
//! committed meanwhile, nothing is overwritten and we try again later. Because the commit is
//! made from the real index, index and branch stay in step (the agent's next `git commit`
//! cannot silently revert an auto-commit).
//!
//! A shadow snapshot stages into a private copy of the index and writes a commit on
//! `refs/gate/snapshots/<branch>`, leaving HEAD, the real index and the working tree untouched.

use std::path::{Path, PathBuf};

use git2::{Oid, Signature};

use super::cli::{self, CliError};
use super::status::nul_joined;
use super::{Repo, RepoError};

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Someone else holds `index.lock`: back off, never delete it.
    #[error("the index is locked by another git process ({0}); will retry")]
    Locked(String),
    /// A file vanished between the status and the staging: nothing was written; try again.
    #[error("a file vanished while it was being staged ({0}); will retry")]
    Vanished(String),
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

/// What a commit attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// A new commit; the branch (or snapshot ref) now points at it.
    Created {
        id: String,
        tree_changes: TreeChanges,
    },
    /// Nothing differs from the parent.
    Unchanged,
    /// The branch moved after we read it (the agent committed): nothing written.
    BranchMoved,
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
        let mut paths = self.sample.join(", ");
        if total > self.sample.len() {
            paths.push_str(", ...");
        }
        format!("{} ({paths})", parts.join(", "))
    }
}

/// Stages `paths` with `git add -A` semantics into the real index, or into `index_file`.
///
/// Paths gone from the working tree are removed from the index with `git rm --cached
/// --ignore-unmatch` instead: `git add` refuses the whole batch when one pathspec matches
/// nothing, which is what a deletion already staged (`git rm`) looks like. In a sparse
/// checkout, a new file outside the cone needs `--sparse` (git 2.34+; only asked for then).
pub fn stage(root: &Path, paths: &[Vec<u8>], index_file: Option<&Path>) -> Result<(), CommitError> {
    use std::os::unix::ffi::OsStrExt;
    let (present, missing): (Vec<Vec<u8>>, Vec<Vec<u8>>) = paths.iter().cloned().partition(|p| {
        root.join(std::ffi::OsStr::from_bytes(p))
            .symlink_metadata()
            .is_ok()
    });
    match stage_with(root, &["add", "-A"], &present, index_file) {
        Err(CommitError::Cli(CliError::Failed { stderr, .. }))
            if stderr.contains("outside of your sparse-checkout definition") =>
        {
            stage_with(root, &["add", "-A", "--sparse"], &present, index_file)?
        }
        other => other?,
    }
    stage_with(
        root,
        &["rm", "-q", "--cached", "--ignore-unmatch"],
        &missing,
        index_file,
    )
}

/// `git <command> --pathspec-from-file=- <paths>`, its failures typed.
fn stage_with(
    root: &Path,
    command: &[&str],
    paths: &[Vec<u8>],
    index_file: Option<&Path>,
) -> Result<(), CommitError> {
    if paths.is_empty() {
        return Ok(());
    }
    let mut args = vec!["--literal-pathspecs"];
    args.extend_from_slice(command);
    args.extend(["--pathspec-from-file=-", "--pathspec-file-nul"]);
    let env: Vec<(&str, &std::ffi::OsStr)> = index_file
        .map(|i| ("GIT_INDEX_FILE", i.as_os_str()))
        .into_iter()
        .collect();
    let out = cli::git_env(root, &args, Some(&nul_joined(paths)), &env)?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if stderr.contains("index.lock") || stderr.contains(".lock': File exists") {
        return Err(CommitError::Locked(stderr));
    }
    // "did not match any files", "unable to stat 'x': No such file or directory",
    // "open("x"): No such file or directory / unable to index file": all a file deleted
    // while git was looking at it.
    if stderr.contains("did not match any files") || stderr.contains("No such file or directory") {
        return Err(CommitError::Vanished(stderr));
    }
    Err(CliError::Failed {
        args: format!("{} --pathspec-from-file=-", command.join(" ")),
        stderr,
    }
    .into())
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

    /// Commits the real index on `branch` if its tip is still `parent` (`None`: unborn).
    pub fn commit_index(
        &self,
        branch: &str,
        parent: Option<Oid>,
        message: impl Fn(&TreeChanges) -> String,
    ) -> Result<Committed, CommitError> {
        // git's write-tree reuses the index's cache-tree and writes only the trees that
        // changed; libgit2 rebuilds and re-checks every tree (10k directories: ~150 ms).
        let tree_id = match cli::git(&self.root, ["write-tree"], None)? {
            out if out.status.success() => {
                let hex = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                Oid::from_str(&hex).map_err(git("read write-tree's output"))?
            }
            out => {
                let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                if stderr.contains("index.lock") {
                    return Err(CommitError::Locked(stderr));
                }
                // Unmerged entries: nothing to commit on the branch.
                return Ok(Committed::Unchanged);
            }
        };
        self.create_commit(
            &format!("refs/heads/{branch}"),
            tree_id,
            parent,
            None,
            message,
            true,
        )
    }

    /// Preserves `paths` on `refs/gate/snapshots/<label>` through a private copy of the index.
    pub fn shadow_snapshot(
        &self,
        label: &str,
        paths: &[Vec<u8>],
        scratch: &Path,
        message: impl Fn(&TreeChanges) -> String,
    ) -> Result<Committed, CommitError> {
        let io = |source| CommitError::Io {
            path: scratch.to_owned(),
            source,
        };
        if let Some(dir) = scratch.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // git replaces .git/index by rename, so a plain copy is a consistent snapshot of it.
        let real = self.git.path().join("index");
        match std::fs::copy(&real, scratch) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_file(scratch);
            }
            Err(e) => return Err(io(e)),
        }
        let result = (|| {
            stage(&self.root, paths, Some(scratch))?;
            let mut index = git2::Index::open(scratch).map_err(git("read the snapshot index"))?;
            let tree_id = index
                .write_tree_to(&self.git)
                .map_err(git("write the snapshot tree"))?;
            let refname = format!("refs/gate/snapshots/{label}");
            let head = self.git.head().ok().and_then(|h| h.target());
            let previous = self.git.refname_to_id(&refname).ok();
            self.create_commit(&refname, tree_id, head, previous, message, false)
        })();
        let _ = std::fs::remove_file(scratch);
        let _ = std::fs::remove_file(scratch.with_extension("lock"));
        result
    }

    /// Writes a commit of `tree_id` and moves `refname` to it, only if `refname` still points
    /// where expected (`parent` for a branch; the previous snapshot for a snapshot ref).
    fn create_commit(
        &self,
        refname: &str,
        tree_id: Oid,
        parent: Option<Oid>,
        previous_snapshot: Option<Oid>,
        message: impl Fn(&TreeChanges) -> String,
        is_branch: bool,
    ) -> Result<Committed, CommitError> {
        let repo = &self.git;
        let tree = repo.find_tree(tree_id).map_err(git("read the new tree"))?;
        let parent_commit = match parent {
            Some(id) => Some(
                repo.find_commit(id)
                    .map_err(git("read the parent commit"))?,
            ),
            None => None,
        };
        let base_tree = match previous_snapshot.filter(|_| !is_branch) {
            Some(prev) => Some(
                repo.find_commit(prev)
                    .and_then(|c| c.tree())
                    .map_err(git("read the last snapshot"))?,
            ),
            None => parent_commit
                .as_ref()
                .map(|c| c.tree())
                .transpose()
                .map_err(git("read the parent tree"))?,
        };
        if base_tree.as_ref().is_some_and(|t| t.id() == tree_id) {
            return Ok(Committed::Unchanged);
        }
        let parent_tree = parent_commit.as_ref().map(|c| c.tree_id());
        let changes = self.tree_changes(parent_tree, tree_id)?;
        let sig = self.identity();
        let mut parents: Vec<git2::Commit> = parent_commit.into_iter().collect();
        if let Some(prev) = previous_snapshot.filter(|p| Some(*p) != parent) {
            // Keep earlier snapshots reachable, so gc never takes them.
            parents.push(
                repo.find_commit(prev)
                    .map_err(git("read the last snapshot"))?,
            );
        }
        let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
        let text = message(&changes);
        let id = repo
            .commit(None, &sig, &sig, &text, &tree, &parent_refs)
            .map_err(git("create the commit"))?;
        // The ref moves by compare-and-swap against what we read (`parent` for a branch, the
        // previous snapshot for a snapshot ref; absent means it must not exist yet). That
        // runs in a git process of its own: a gate killed at any moment (SIGKILL, OOM) never
        // leaves the ref's lock file behind, which would block every later commit on the
        // branch; the git child finishes or fails on its own.
        let expected = if is_branch { parent } else { previous_snapshot };
        let reflog = if is_branch {
            format!("commit: {}", text.lines().next().unwrap_or_default())
        } else {
            "gate snapshot".to_owned()
        };
        if self.update_ref(refname, id, expected, &reflog)? {
            Ok(Committed::Created {
                id: id.to_string(),
                tree_changes: changes,
            })
        } else {
            Ok(Committed::BranchMoved)
        }
    }

    /// `git update-ref -m reflog refname new expected`: false when the ref no longer points at
    /// `expected` (or is locked by someone else's update in flight).
    fn update_ref(
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
        if stderr.contains("cannot lock ref") {
            return Ok(false);
        }
        Err(CliError::Failed {
            args: format!("update-ref {refname}"),
            stderr,
        }
        .into())
    }

    /// What `new` changes against `old` (`None`: the empty tree). git's diff-tree skips
    /// identical subtrees; libgit2's tree diff reads every tree (10k directories: ~100 ms).
    fn tree_changes(&self, old: Option<Oid>, new: Oid) -> Result<TreeChanges, CommitError> {
        const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
        let old = old.map_or_else(|| EMPTY_TREE.to_owned(), |o| o.to_string());
        let out = cli::git_ok(
            &self.root,
            [
                "diff-tree",
                "-r",
                "-z",
                "--no-renames",
                "--name-status",
                &old,
                &new.to_string(),
            ],
            None,
        )?;
        let mut changes = TreeChanges::default();
        let mut fields = out.stdout.split(|&b| b == 0).filter(|f| !f.is_empty());
        while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
            match status.first() {
                Some(b'A') => changes.added += 1,
                Some(b'D') => changes.deleted += 1,
                _ => changes.modified += 1,
            }
            if changes.sample.len() < 3 {
                changes
                    .sample
                    .push(String::from_utf8_lossy(path).into_owned());
            }
        }
        Ok(changes)
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
