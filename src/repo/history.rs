//! Reading history for the audit: which commits are new on a branch, what they changed, and
//! what a file looked like in them.

use std::path::Path;

use git2::{Oid, Sort};

use super::{Repo, RepoError, git};

/// A commit as the audit sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    pub id: String,
    pub author: String,
    pub subject: String,
    pub message: String,
    /// Paths changed against the first parent (all paths for a root commit).
    pub paths: Vec<String>,
}

impl Repo {
    /// Tip of a local branch.
    pub fn tip_of(&self, branch: &str) -> Option<String> {
        self.git
            .refname_to_id(&format!("refs/heads/{branch}"))
            .ok()
            .map(|o| o.to_string())
    }

    /// Commits reachable from `tip` but not from `since` nor from any remote-tracking branch
    /// (those arrived from elsewhere), newest first, at most `limit`.
    pub fn new_commits(
        &self,
        tip: &str,
        since: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CommitSummary>, RepoError> {
        let mut walk = self.git.revwalk().map_err(git("walk history"))?;
        walk.set_sorting(Sort::TOPOLOGICAL)
            .map_err(git("walk history"))?;
        walk.push(Oid::from_str(tip).map_err(git("read a commit id"))?)
            .map_err(git("walk history"))?;
        if let Some(base) = since.and_then(|s| Oid::from_str(s).ok()) {
            // A rewritten branch may no longer contain its old tip; that is fine.
            let _ = walk.hide(base);
        }
        let _ = walk.hide_glob("refs/remotes/*");
        let mut out = Vec::new();
        for oid in walk.take(limit) {
            let oid = oid.map_err(git("walk history"))?;
            out.push(self.summarise(oid)?);
        }
        Ok(out)
    }

    fn summarise(&self, oid: Oid) -> Result<CommitSummary, RepoError> {
        let commit = self.git.find_commit(oid).map_err(git("read a commit"))?;
        let tree = commit.tree().map_err(git("read a commit's tree"))?;
        let parent_tree = commit.parent(0).ok().and_then(|p| p.tree().ok());
        let diff = self
            .git
            .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), None)
            .map_err(git("diff a commit"))?;
        let paths = diff
            .deltas()
            .filter_map(|d| d.new_file().path().or_else(|| d.old_file().path()))
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let author = commit.author();
        Ok(CommitSummary {
            id: oid.to_string(),
            author: format!(
                "{} <{}>",
                String::from_utf8_lossy(author.name_bytes()),
                String::from_utf8_lossy(author.email_bytes())
            ),
            subject: String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default())
                .into_owned(),
            message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
            paths,
        })
    }

    /// The bytes of `path` in `commit`, if present.
    pub fn read_at(&self, commit: &str, path: &str) -> Option<Vec<u8>> {
        let commit = self.git.find_commit(Oid::from_str(commit).ok()?).ok()?;
        let entry = commit.tree().ok()?.get_path(Path::new(path)).ok()?;
        Some(self.git.find_blob(entry.id()).ok()?.content().to_vec())
    }
}
