//! What a feature branch changed since it forked from the main branch, for `gate verify`: the
//! paths that differ between the fork point and the branch tip, plus the working tree's
//! uncommitted changes when the branch is the one checked out.
//!
//! The fork point is the merge-base with main. A branch already merged into main by a merge
//! commit is measured from where it forked before that merge, so verifying a finished feature
//! still sees its work.

use std::collections::BTreeSet;
use std::path::Path;

use git2::{Commit, Oid, Tree};

use super::{Repo, RepoError, git};

/// How far back main's first-parent line is searched for the merge that landed a branch.
const MERGE_SEARCH_LIMIT: usize = 2_000;

/// The changes of one branch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchChanges {
    /// Repo-relative paths changed on the branch (and in the working tree, when included).
    pub paths: BTreeSet<String>,
    /// The branch tip; `None` when the branch has no commits yet.
    pub tip: Option<String>,
    /// The main branch measured against, when one exists.
    pub main: Option<String>,
    /// The fork point; `None` when there is no main branch (every file of the tip counts).
    pub base: Option<String>,
    /// Whether the branch was found already merged into main.
    pub merged: bool,
    /// Whether uncommitted changes in the working tree were included.
    pub worktree: bool,
}

impl BranchChanges {
    /// The branch has no commits of its own since the fork point.
    pub fn no_commits(&self) -> bool {
        self.tip.is_none() || self.tip == self.base
    }
}

impl Repo {
    /// The changes at `tip` (a full ref such as `refs/heads/feature/001-x`, or `HEAD`) since
    /// it forked from the first of the branches `mains` that exists; with the working tree's
    /// uncommitted changes when `worktree` is set.
    pub fn branch_changes(
        &self,
        tip: &str,
        mains: &[&str],
        worktree: bool,
    ) -> Result<BranchChanges, RepoError> {
        let mut out = BranchChanges {
            worktree,
            ..BranchChanges::default()
        };
        let tip = self.commit_at(tip)?;
        let main = mains.iter().find_map(|m| {
            let commit = self.commit_at(&format!("refs/heads/{m}")).ok()??;
            Some((m.to_string(), commit))
        });
        if let Some(tip) = &tip {
            out.tip = Some(tip.id().to_string());
            let base = match &main {
                Some((name, main_tip)) => {
                    out.main = Some(name.clone());
                    let (base, merged) = self.fork_point(main_tip, tip)?;
                    out.merged = merged;
                    base
                }
                None => None,
            };
            out.base = base.as_ref().map(|b| b.id().to_string());
            let base_tree = base
                .map(|b| b.tree())
                .transpose()
                .map_err(git("read the fork point's tree"))?;
            let tip_tree = tip.tree().map_err(git("read the branch tip's tree"))?;
            self.changed_paths(base_tree.as_ref(), &tip_tree, &mut out.paths)?;
        } else if let Some((name, _)) = &main {
            out.main = Some(name.clone());
        }
        if worktree {
            let changes = self.changes()?;
            out.paths.extend(
                [
                    changes.staged,
                    changes.unstaged,
                    changes.untracked,
                    changes.conflicted,
                ]
                .into_iter()
                .flatten(),
            );
        }
        Ok(out)
    }

    /// Whether `path` (a file or directory) is in the tree of `commit`.
    pub fn exists_in(&self, commit: &str, path: &str) -> bool {
        Oid::from_str(commit)
            .and_then(|oid| self.git.find_commit(oid))
            .and_then(|c| c.tree())
            .is_ok_and(|tree| tree.get_path(Path::new(path)).is_ok())
    }

    /// The commit a reference points at; `None` when it has none (unborn or missing).
    fn commit_at(&self, refname: &str) -> Result<Option<Commit<'_>>, RepoError> {
        let missing = |e: &git2::Error| {
            matches!(
                e.code(),
                git2::ErrorCode::NotFound | git2::ErrorCode::UnbornBranch
            )
        };
        let reference = match self.git.find_reference(refname) {
            Ok(r) => r,
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return Err(git(format!("read {refname}"))(e)),
        };
        match reference.peel_to_commit() {
            Ok(c) => Ok(Some(c)),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(git(format!("read the commit of {refname}"))(e)),
        }
    }

    /// Where `tip` forked from `main_tip` (`None` for unrelated histories), and whether it
    /// was already merged. A tip that main contains was merged; when a merge commit on main's
    /// first-parent line brought it in, the fork point is measured from that merge's first
    /// parent.
    fn fork_point<'r>(
        &'r self,
        main_tip: &Commit<'r>,
        tip: &Commit<'r>,
    ) -> Result<(Option<Commit<'r>>, bool), RepoError> {
        let base_of = |a: Oid, b: Oid| -> Result<Option<Commit<'r>>, RepoError> {
            match self.git.merge_base(a, b) {
                Ok(oid) => self
                    .git
                    .find_commit(oid)
                    .map(Some)
                    .map_err(git("read the fork point")),
                Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
                Err(e) => Err(git("find the fork point")(e)),
            }
        };
        let Some(base) = base_of(main_tip.id(), tip.id())? else {
            return Ok((None, false));
        };
        if base.id() != tip.id() || main_tip.id() == tip.id() {
            return Ok((Some(base), false));
        }
        // Main contains the tip: find the oldest first-parent commit that still contains it.
        let mut landed = main_tip.clone();
        for _ in 0..MERGE_SEARCH_LIMIT {
            let Ok(parent) = landed.parent(0) else { break };
            if parent.id() == tip.id() {
                // On main's own line (fast-forwarded, or never diverged): no fork to measure.
                break;
            }
            let contains = self
                .git
                .graph_descendant_of(parent.id(), tip.id())
                .unwrap_or(false);
            if !contains {
                // `landed` is the merge that brought the branch in.
                return Ok((base_of(parent.id(), tip.id())?, true));
            }
            landed = parent;
        }
        Ok((Some(base), true))
    }

    fn changed_paths(
        &self,
        old: Option<&Tree<'_>>,
        new: &Tree<'_>,
        into: &mut BTreeSet<String>,
    ) -> Result<(), RepoError> {
        let diff = self
            .git
            .diff_tree_to_tree(old, Some(new), None)
            .map_err(git("diff the branch against its fork point"))?;
        for delta in diff.deltas() {
            for file in [delta.old_file(), delta.new_file()] {
                if let Some(p) = file.path() {
                    into.insert(p.to_string_lossy().into_owned());
                }
            }
        }
        Ok(())
    }
}
