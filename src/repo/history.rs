//! Reading history for the audit: which commits are new on a branch, what they changed, and
//! what a file looked like in them.

use std::collections::BTreeSet;
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

/// A path as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staged {
    Missing,
    Blob(Vec<u8>),
    /// Unmerged: stages 1 to 3, no stage 0.
    Conflicted,
}

impl Repo {
    /// Tip of a local branch.
    pub fn tip_of(&self, branch: &str) -> Option<String> {
        self.git
            .refname_to_id(&format!("refs/heads/{branch}"))
            .ok()
            .map(|o| o.to_string())
    }

    /// Commits reachable from `tip` but from none of `hide`, newest first, at most `limit`.
    /// Remote-tracking refs hide nothing: anyone can write one (`git update-ref`).
    pub fn commits_between(
        &self,
        tip: Oid,
        hide: impl IntoIterator<Item = Oid>,
        limit: usize,
    ) -> Result<Vec<Oid>, RepoError> {
        let mut walk = self.git.revwalk().map_err(git("walk history"))?;
        walk.set_sorting(Sort::TOPOLOGICAL)
            .map_err(git("walk history"))?;
        walk.push(tip).map_err(git("walk history"))?;
        for base in hide {
            // A rewritten branch may no longer contain its old tip, or the object may be gone.
            let _ = walk.hide(base);
        }
        let mut out = Vec::new();
        for oid in walk.take(limit) {
            out.push(oid.map_err(git("walk history"))?);
        }
        Ok(out)
    }

    /// The commit's parents, first parent first.
    pub fn parents(&self, commit: Oid) -> Result<Vec<Oid>, RepoError> {
        let c = self.git.find_commit(commit).map_err(git("read a commit"))?;
        Ok(c.parent_ids().collect())
    }

    /// The best common ancestor of `a` and `b`, if any.
    pub fn merge_base(&self, a: Oid, b: Oid) -> Option<Oid> {
        self.git.merge_base(a, b).ok()
    }

    /// Paths whose content differs between the trees of two commits (`None`: the empty tree).
    pub fn changed_between(
        &self,
        from: Option<Oid>,
        to: Oid,
    ) -> Result<BTreeSet<String>, RepoError> {
        let tree = |oid: Oid| {
            self.git
                .find_commit(oid)
                .and_then(|c| c.tree())
                .map_err(git("read a commit's tree"))
        };
        let old = from.map(tree).transpose()?;
        let new = tree(to)?;
        let diff = self
            .git
            .diff_tree_to_tree(old.as_ref(), Some(&new), None)
            .map_err(git("diff two commits"))?;
        Ok(diff_paths(&diff))
    }

    /// Paths where the index at `index_file` (the repository's own when `None`) differs from
    /// the tree of `commit`. Through git itself, which reads every index format (libgit2
    /// refuses a split index).
    pub fn changed_in_index(
        &self,
        commit: Oid,
        index_file: Option<&Path>,
    ) -> Result<BTreeSet<String>, RepoError> {
        let id = commit.to_string();
        let out = self.git_index_command(
            &["diff", "--cached", "--name-only", "-z", "--no-renames", &id],
            index_file,
        )?;
        Ok(out
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect())
    }

    /// `git <args>` against the index at `index_file`; its stdout, or an error with git's message.
    fn git_index_command(
        &self,
        args: &[&str],
        index_file: Option<&Path>,
    ) -> Result<Vec<u8>, RepoError> {
        let path = self.index_file_path(index_file);
        let env = [("GIT_INDEX_FILE", path.as_os_str())];
        let out =
            super::cli::git_env(self.root(), args, None, &env).map_err(|e| RepoError::Git {
                what: format!("run git {}", args.join(" ")),
                source: git2::Error::from_str(&e.to_string()),
            })?;
        if !out.status.success() {
            return Err(RepoError::Git {
                what: format!("run git {}", args.join(" ")),
                source: git2::Error::from_str(String::from_utf8_lossy(&out.stderr).trim()),
            });
        }
        Ok(out.stdout)
    }

    /// Where the index file is: `GIT_INDEX_FILE` (relative to the working tree, where git runs
    /// hooks) or this worktree's own `index`.
    pub fn index_file_path(&self, index_file: Option<&Path>) -> std::path::PathBuf {
        match index_file {
            Some(p) if p.is_absolute() => p.to_owned(),
            Some(p) => self.root().join(p),
            None => self.git.path().join("index"),
        }
    }

    /// What the index holds at each of `paths`: read in place when possible
    /// ([`super::staged`]), else through libgit2.
    pub fn staged_blobs(
        &self,
        index_file: Option<&Path>,
        paths: &[&str],
    ) -> Result<Vec<Staged>, RepoError> {
        let blob = |oid| match self.git.find_blob(oid) {
            Ok(b) => Staged::Blob(b.content().to_vec()),
            Err(_) => Staged::Missing,
        };
        if let Some(entries) = super::staged::lookup(&self.index_file_path(index_file), paths) {
            return Ok(entries
                .into_iter()
                .map(|e| match e {
                    super::staged::Entry::Missing => Staged::Missing,
                    super::staged::Entry::Conflicted => Staged::Conflicted,
                    super::staged::Entry::Blob(oid) => blob(oid),
                })
                .collect());
        }
        // A format the reader leaves alone (split, sparse): git itself answers.
        let mut args = vec!["ls-files", "--stage", "-z", "--"];
        args.extend(paths.iter().copied());
        let out = self.git_index_command(&args, index_file)?;
        let mut found = vec![Staged::Missing; paths.len()];
        for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let text = String::from_utf8_lossy(record);
            let Some((meta, path)) = text.split_once('\t') else {
                continue;
            };
            let mut fields = meta.split(' ');
            let (_mode, oid, stage) = (fields.next(), fields.next(), fields.next());
            let Some(i) = paths.iter().position(|p| *p == path) else {
                continue;
            };
            found[i] = match (stage, oid.and_then(|o| Oid::from_str(o).ok())) {
                (Some("0"), Some(oid)) => blob(oid),
                _ => Staged::Conflicted,
            };
        }
        Ok(found)
    }

    /// The commit's summary as the audit reports it.
    pub fn summary_of(&self, oid: Oid) -> Result<CommitSummary, RepoError> {
        self.summarise(oid)
    }

    /// The commits a merge in progress merges (`MERGE_HEAD` of this worktree).
    pub fn merge_heads(&self) -> Vec<Oid> {
        std::fs::read_to_string(self.git.path().join("MERGE_HEAD"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| Oid::from_str(l.trim()).ok())
            .collect()
    }

    /// Whether `refs/tags/<name>` is still the tag object `tag_id` and it points at `tip`:
    /// the tag gate created, not one made (or moved) by hand.
    pub fn is_gate_tag(&self, name: &str, tag_id: Oid, tip: Oid) -> bool {
        self.git
            .find_reference(&format!("refs/tags/{name}"))
            .ok()
            .is_some_and(|r| r.target() == Some(tag_id))
            && self
                .git
                .find_tag(tag_id)
                .is_ok_and(|t| t.target_id() == tip)
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

    /// The bytes of `path` in the tree of `commit`, if present.
    pub fn read_in(&self, commit: Oid, path: &str) -> Option<Vec<u8>> {
        let commit = self.git.find_commit(commit).ok()?;
        let entry = commit.tree().ok()?.get_path(Path::new(path)).ok()?;
        Some(self.git.find_blob(entry.id()).ok()?.content().to_vec())
    }

    /// The bytes of `path` in `commit`, if present.
    pub fn read_at(&self, commit: &str, path: &str) -> Option<Vec<u8>> {
        let commit = self.git.find_commit(Oid::from_str(commit).ok()?).ok()?;
        let entry = commit.tree().ok()?.get_path(Path::new(path)).ok()?;
        Some(self.git.find_blob(entry.id()).ok()?.content().to_vec())
    }
}

fn diff_paths(diff: &git2::Diff) -> BTreeSet<String> {
    diff.deltas()
        .flat_map(|d| [d.new_file().path(), d.old_file().path()])
        .flatten()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}
