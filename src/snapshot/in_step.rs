//! Keeping the user's index in step with a branch gate moved: finishing an index swap a
//! killed (or locked-out) run left, bringing untouched paths in step when the user's index
//! changed meanwhile, and the one commit that is built from the tip's tree instead of the
//! index (`gate init --commit`, `gate learn`).

use std::collections::HashSet;

use git2::Oid;

use super::refs;
use crate::repo::Repo;
use crate::repo::cli;
use crate::repo::commit::CommitError;
use crate::repo::index::{Install, Scratch, Unfinished};

/// A run killed after moving the branch and before swapping in its index left the index one
/// commit behind: finish the swap if the index is still the file it copied, else bring the
/// paths of that commit the user did not touch in step (a `git status` in between rewrites
/// the index with the same entries, which is not the user's staging).
pub fn finish_killed_commit(repo: &Repo) -> Result<bool, CommitError> {
    let Some(unfinished) = Unfinished::read(
        &repo.state_dir(),
        &refs::worktree_id(repo),
        &repo.index_path(),
    ) else {
        return Ok(true);
    };
    let tip = repo.git().head().ok().and_then(|h| h.target());
    if tip != Some(unfinished.commit) {
        // The branch moved on (the user committed, or reset): the index is theirs now.
        unfinished.done();
        return Ok(true);
    }
    if unfinished.install()? == Install::Replaced {
        unfinished.done();
        return Ok(true);
    }
    let parent = repo
        .git()
        .find_commit(unfinished.commit)
        .ok()
        .and_then(|c| c.parent_id(0).ok());
    let parent_tree = parent.map(|p| repo.tree_of(p)).transpose()?;
    let paths = crate::repo::status::tree_paths_changed(
        repo.root(),
        parent_tree,
        repo.tree_of(unfinished.commit)?,
    )?;
    match bring_index_in_step(repo, parent, &paths) {
        Ok(()) => {
            unfinished.done();
            Ok(true)
        }
        // Someone's git holds the index: the journal stays for the next run.
        Err(_) if index_locked(repo) => Ok(false),
        Err(e) => Err(e),
    }
}

pub(super) fn index_locked(repo: &Repo) -> bool {
    let mut lock = repo.index_path().into_os_string();
    lock.push(".lock");
    std::path::Path::new(&lock).exists()
}

/// A commit of exactly `paths` (as they are in the working tree) on top of the branch's tip,
/// whatever else the user staged: the commit is built from the tip's tree, not the index, and
/// the user's index only gains the committed entries. For `gate init --commit`, which puts
/// gate's own set-up on the trunk without a bypass agents could copy. `None`: nothing to
/// commit (the files are already as committed).
pub fn commit_only(
    repo: &Repo,
    branch: &str,
    paths: &[Vec<u8>],
    message: &str,
) -> Result<Option<Oid>, CommitError> {
    if index_locked(repo) {
        return Err(CommitError::Refused(
            "index.lock is held by another git process: try again in a moment".into(),
        ));
    }
    let head = repo.git().head().ok().and_then(|h| h.target());
    let head_tree = head.map(|h| repo.tree_of(h)).transpose()?;
    let scratch = Scratch::of_tree(repo.root(), &repo.state_dir(), "setup", head_tree)?;
    let refused = scratch.stage(paths)?;
    if let Some(r) = refused.first() {
        return Err(CommitError::Refused(format!(
            "git refuses to stage {}: {}",
            display(&r.path),
            r.reason
        )));
    }
    let Some(tree) = scratch.write_tree()? else {
        return Ok(None);
    };
    if head_tree == Some(tree) {
        return Ok(None);
    }
    let parents: Vec<Oid> = head.into_iter().collect();
    let id = repo.write_commit(tree, &parents, message)?;
    let reflog = format!("commit: {}", message.lines().next().unwrap_or_default());
    if !repo.move_ref(&format!("refs/heads/{branch}"), id, head, &reflog)? {
        return Err(CommitError::Refused(format!(
            "{branch} moved meanwhile: run it again"
        )));
    }
    bring_index_in_step(repo, head, paths)?;
    Ok(Some(id))
}

/// The branch moved to a commit made from a copy of the index, but the real index changed
/// meanwhile (the user staged something) or stayed locked. The user's index is kept; only
/// the committed paths whose entry the user did not touch (still as in the old tip) are set
/// to the new commit's, so that the next `git commit` does not quietly undo the auto-commit.
pub(super) fn bring_index_in_step(
    repo: &Repo,
    old_head: Option<Oid>,
    paths: &[Vec<u8>],
) -> Result<(), CommitError> {
    // No old tip (the first commit): the index had nothing of it to keep in step with.
    let list = crate::repo::status::nul_joined(paths);
    let old = old_head.map_or_else(|| crate::repo::EMPTY_TREE.to_owned(), |o| o.to_string());
    let changed = cli::git(
        repo.root(),
        [
            "--literal-pathspecs",
            "diff-index",
            "--cached",
            "--name-only",
            "-z",
            &old,
            "--pathspec-from-file=-",
            "--pathspec-file-nul",
        ],
        Some(&list),
    )?;
    let touched: HashSet<&[u8]> = changed
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .collect();
    let untouched: Vec<Vec<u8>> = paths
        .iter()
        .filter(|p| !touched.contains(p.as_slice()))
        .cloned()
        .collect();
    if untouched.is_empty() {
        return Ok(());
    }
    cli::git_ok(
        repo.root(),
        [
            "--literal-pathspecs",
            "reset",
            "-q",
            "--pathspec-from-file=-",
            "--pathspec-file-nul",
        ],
        Some(&crate::repo::status::nul_joined(&untouched)),
    )?;
    Ok(())
}

fn display(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}
