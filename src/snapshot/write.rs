//! The two ways work is written: a real commit on the branch, or a shadow snapshot on the
//! branch's snapshot ref. Both stage into a private copy of the index; only a real commit
//! that landed replaces the user's index, by compare-and-swap ([`Scratch::install`]).

use std::collections::HashSet;

use git2::Oid;

use super::refs::{self, Trailers};
use super::{Options, Outcome, Skipped, TRAILER, commit_message};
use crate::repo::Repo;
use crate::repo::cli;
use crate::repo::commit::CommitError;
use crate::repo::index::{Install, Journal, Refused, Scratch};

use super::in_step::{bring_index_in_step, index_locked};

/// What the snapshot is taken of: the worktree's HEAD and its snapshot ref.
pub struct Target<'a> {
    pub repo: &'a Repo,
    /// HEAD's commit (`None`: an unborn branch).
    pub head: Option<Oid>,
    pub refname: String,
    pub opts: &'a Options,
    /// Paths the user deleted from the index while the file is still on disk (`git rm
    /// --cached`, the file then ignored): kept deleted, never re-added.
    pub untracked_by_user: &'a [Vec<u8>],
    /// The copy of the index the decision was made on: the first write stages into it (a
    /// version the user stages after it was taken is never committed over unseen: the
    /// install then finds the index changed).
    pub view: std::cell::RefCell<Option<Scratch>>,
}

impl Target<'_> {
    /// The decision's copy of the index the first time, a fresh copy after that.
    fn scratch(&self, purpose: &str) -> Result<Scratch, CommitError> {
        if let Some(view) = self.view.borrow_mut().take() {
            return Ok(view);
        }
        let repo = self.repo;
        Scratch::copy(repo.root(), &repo.index_path(), &repo.state_dir(), purpose)
    }
}

/// Stages `paths` into `scratch`: the working tree's version, except the user's own index
/// deletions, which stay deletions.
fn stage(
    target: &Target,
    scratch: &Scratch,
    paths: &[Vec<u8>],
) -> Result<Vec<Refused>, CommitError> {
    if target.untracked_by_user.is_empty() {
        return scratch.stage(paths);
    }
    let removed: HashSet<&[u8]> = target.untracked_by_user.iter().map(Vec::as_slice).collect();
    let rest: Vec<Vec<u8>> = paths
        .iter()
        .filter(|p| !removed.contains(p.as_slice()))
        .cloned()
        .collect();
    let refused = scratch.stage(&rest)?;
    let mine: Vec<Vec<u8>> = paths
        .iter()
        .filter(|p| removed.contains(p.as_slice()))
        .cloned()
        .collect();
    scratch.remove(&mine)?;
    Ok(refused)
}

/// A written outcome, and the paths that could not be included.
pub struct Written {
    pub outcome: Outcome,
    pub skipped: Vec<Skipped>,
    /// After a real commit, the snapshot that preserved the paths git refused to stage.
    pub aside: Option<Outcome>,
}

fn written(outcome: Outcome) -> Written {
    Written {
        outcome,
        skipped: Vec::new(),
        aside: None,
    }
}

fn retry(reason: impl Into<String>) -> Result<Written, CommitError> {
    Ok(written(Outcome::Retry {
        reason: reason.into(),
    }))
}

/// A real commit of `paths` on `branch`, whose tip must still be `target.head`.
pub fn commit(target: &Target, branch: &str, paths: &[Vec<u8>]) -> Result<Written, CommitError> {
    let repo = target.repo;
    // Someone's git holds the index (an agent's `git commit` running its hooks): its commit
    // is about to move the branch; committing now would only make one of the two fail.
    if index_locked(repo) {
        return retry("index.lock is held by another git process");
    }
    let scratch = target.scratch("commit")?;
    let refused = match stage(target, &scratch, paths) {
        Err(CommitError::Locked(_)) => return retry("the index is locked by another git process"),
        other => other?,
    };
    let Some(tree) = scratch.write_tree()? else {
        drop(scratch);
        return shadow(target, paths, "the index has unresolved conflicts", true);
    };
    let mut scratch = scratch;
    let parent_tree = target.head.map(|h| repo.tree_of(h)).transpose()?;
    let mut out = if parent_tree == Some(tree) {
        written(Outcome::Unchanged {
            reason: "nothing to commit: the working tree matches the last commit".into(),
        })
    } else {
        let changes = repo.tree_changes(parent_tree, tree)?;
        let message = commit_message(target.opts.message.as_deref(), &changes);
        let parents: Vec<Oid> = target.head.into_iter().collect();
        let id = repo.write_commit(tree, &parents, &message)?;
        let reflog = format!("commit: {}", message.lines().next().unwrap_or_default());
        let journal = Journal::begin(&repo.state_dir(), &refs::worktree_id(repo), &scratch, id)?;
        if !repo.move_ref(&format!("refs/heads/{branch}"), id, target.head, &reflog)? {
            journal.end();
            return retry(format!(
                "{branch} moved while committing (someone committed)"
            ));
        }
        let staged: Vec<Vec<u8>> = without(paths, &refused);
        let mut summary = changes.summary();
        let installed = match scratch.install()? {
            Install::Replaced => Ok(()),
            Install::Changed | Install::Locked => bring_index_in_step(repo, target.head, &staged),
        };
        match installed {
            Ok(()) => journal.end(),
            Err(e) => {
                // The commit stands; the user's index was kept as it was, and the next run
                // brings it in step (the journal and the scratch stay for it).
                scratch.keep_on_disk();
                journal.keep();
                summary.push_str(&format!(
                    "; your index is not in step yet ({e}): the next auto-commit finishes it"
                ));
            }
        }
        written(Outcome::Committed {
            commit: id.to_string(),
            branch: branch.into(),
            summary,
        })
    };
    drop(scratch);
    if !refused.is_empty() {
        // The branch moved: the snapshot of the refused paths is taken on the new tip.
        let head = repo.git().head().ok().and_then(|h| h.target());
        let aside = Target {
            repo,
            head,
            refname: target.refname.clone(),
            opts: target.opts,
            untracked_by_user: target.untracked_by_user,
            view: std::cell::RefCell::new(None),
        };
        let bad: Vec<Vec<u8>> = refused.iter().map(|r| r.path.clone()).collect();
        let reason = format!(
            "git refuses to stage {} ({})",
            display(&refused[0].path),
            refused[0].reason
        );
        let preserved = shadow(&aside, &bad, &reason, false)?;
        out.skipped = refused
            .iter()
            .map(|r| Skipped {
                path: display(&r.path),
                reason: format!(
                    "git refuses to stage it: {}; its bytes are preserved on {} (fix the file or the setting git names, then the next auto-commit takes it)",
                    r.reason, target.refname
                ),
            })
            .collect();
        out.skipped.extend(preserved.skipped);
        out.aside = Some(preserved.outcome);
    }
    Ok(out)
}

/// Preserves `paths` on the snapshot ref, cumulatively: the new snapshot holds everything
/// the previous one of the same base held, plus the working tree's version of `paths`; with
/// `keep_staged`, a staged version unlike the working tree's is kept as a parent commit.
pub fn shadow(
    target: &Target,
    paths: &[Vec<u8>],
    reason: &str,
    keep_staged: bool,
) -> Result<Written, CommitError> {
    let repo = target.repo;
    let scratch = target.scratch("shadow")?;
    let previous = refs::latest(repo, &target.refname);
    let base_tree = target.head.map(|h| repo.tree_of(h)).transpose()?;
    let staged = if keep_staged {
        staged_commit(repo, &scratch, target.head, base_tree, previous.as_ref())?
    } else {
        previous.as_ref().and_then(|p| p.trailers.staged)
    };
    if let Some(prev) = previous.as_ref().filter(|p| p.trailers.base == target.head) {
        overlay(repo, &scratch, base_tree, prev.tree)?;
    }
    let refused = match stage(target, &scratch, paths) {
        Err(CommitError::Locked(_)) => return retry("the snapshot index is locked"),
        other => other?,
    };
    let mut unreadable = stage_raw(&scratch, &refused)?;
    // Conflicts left in the copy (paths the batch did not name): keep the working tree's
    // version, conflict markers and all; the stages themselves are on their own commits.
    let left = scratch.unmerged()?;
    if !left.is_empty() {
        let refused = scratch.stage(&left)?;
        unreadable.extend(stage_raw(&scratch, &refused)?);
    }
    let Some(tree) = scratch.write_tree()? else {
        return Err(CommitError::Io {
            path: scratch.path().to_owned(),
            source: std::io::Error::other("unresolved conflicts remain in the snapshot index"),
        });
    };
    drop(scratch);
    let skipped = unreadable
        .iter()
        .map(|r| Skipped {
            path: display(&r.path),
            reason: format!("cannot be read: {}", r.reason),
        })
        .collect();
    let same_as_previous = previous.as_ref().is_some_and(|p| {
        p.tree == tree && p.trailers.staged == staged && p.trailers.base == target.head
    });
    let nothing_new = previous.is_none() && base_tree == Some(tree) && staged.is_none();
    if same_as_previous || nothing_new {
        return Ok(Written {
            outcome: Outcome::Unchanged {
                reason: format!("already preserved in {}", target.refname),
            },
            skipped,
            aside: None,
        });
    }
    let changes = repo.tree_changes(base_tree, tree)?;
    let subject = target
        .opts
        .message
        .clone()
        .unwrap_or_else(|| format!("Snapshot: {}", changes.summary()));
    let trailers = Trailers {
        reason: reason.to_owned(),
        base: target.head,
        staged,
    };
    let message = format!("{subject}\n\n{}{TRAILER}\n", trailers.render());
    let mut parents: Vec<Oid> = target.head.into_iter().collect();
    for extra in [previous.as_ref().map(|p| p.id), staged]
        .into_iter()
        .flatten()
    {
        if !parents.contains(&extra) {
            parents.push(extra);
        }
    }
    let id = repo.write_commit(tree, &parents, &message)?;
    let expected = previous.as_ref().map(|p| p.id);
    if !repo.move_ref(&target.refname, id, expected, "gate snapshot")? {
        return Ok(Written {
            outcome: Outcome::Retry {
                reason: format!("{} moved meanwhile", target.refname),
            },
            skipped,
            aside: None,
        });
    }
    Ok(Written {
        outcome: Outcome::Shadowed {
            commit: id.to_string(),
            refname: target.refname.clone(),
            reason: reason.into(),
            summary: changes.summary(),
        },
        skipped,
        aside: None,
    })
}

/// A commit of the index as the user staged it (before gate stages anything into the copy),
/// reused from the previous snapshot when the staging did not change.
fn staged_commit(
    repo: &Repo,
    scratch: &Scratch,
    head: Option<Oid>,
    base_tree: Option<Oid>,
    previous: Option<&refs::Snapshot>,
) -> Result<Option<Oid>, CommitError> {
    let tree = match scratch.write_tree()? {
        Some(tree) => tree,
        None => {
            // Conflicts beside the staging (a stash pop that conflicted): the conflict stages
            // are on the commits being merged (or the kept stash); the staged versions of the
            // other paths must still be kept, so the tree is built without the unmerged paths.
            let copy = Scratch::copy(repo.root(), scratch.path(), &repo.state_dir(), "staged")?;
            let mut info = Vec::new();
            for p in copy.unmerged()? {
                info.extend_from_slice(b"0 0000000000000000000000000000000000000000\t");
                info.extend_from_slice(&p);
                info.push(0);
            }
            copy.set_entries(&info)?;
            match copy.write_tree()? {
                Some(tree) => tree,
                None => return Ok(None),
            }
        }
    };
    if base_tree == Some(tree) {
        return Ok(None);
    }
    if let Some(prev) = previous.and_then(|p| p.trailers.staged)
        && repo.tree_of(prev).ok() == Some(tree)
    {
        return Ok(Some(prev));
    }
    let parents: Vec<Oid> = head.into_iter().collect();
    let message = format!("Staged: the index as the user staged it\n\n{TRAILER}\n");
    repo.write_commit(tree, &parents, &message).map(Some)
}

/// Puts what the previous snapshot held beyond its base into the copy.
fn overlay(
    repo: &Repo,
    scratch: &Scratch,
    base_tree: Option<Oid>,
    prev_tree: Oid,
) -> Result<(), CommitError> {
    let base = base_tree.map_or_else(|| crate::repo::EMPTY_TREE.to_owned(), |t| t.to_string());
    let out = cli::git_ok(
        repo.root(),
        [
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            &base,
            &prev_tree.to_string(),
        ],
        None,
    )?;
    // Records: ":<old mode> <new mode> <old id> <new id> <status>\0<path>\0".
    let mut info = Vec::new();
    let mut fields = out.stdout.split(|&b| b == 0);
    while let (Some(meta), Some(path)) = (fields.next(), fields.next()) {
        let meta = String::from_utf8_lossy(meta);
        let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        let [_, mode, _, id, _] = parts[..] else {
            continue;
        };
        let mode = if mode.trim_start_matches('0').is_empty() {
            "0"
        } else {
            mode
        };
        info.extend_from_slice(format!("{mode} {id}\t").as_bytes());
        info.extend_from_slice(path);
        info.push(0);
    }
    scratch.set_entries(&info)
}

fn stage_raw(scratch: &Scratch, refused: &[Refused]) -> Result<Vec<Refused>, CommitError> {
    if refused.is_empty() {
        return Ok(Vec::new());
    }
    let paths: Vec<Vec<u8>> = refused.iter().map(|r| r.path.clone()).collect();
    scratch.stage_raw(&paths)
}

fn without(paths: &[Vec<u8>], refused: &[Refused]) -> Vec<Vec<u8>> {
    let bad: HashSet<&[u8]> = refused.iter().map(|r| r.path.as_slice()).collect();
    paths
        .iter()
        .filter(|p| !bad.contains(p.as_slice()))
        .cloned()
        .collect()
}

fn display(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}
