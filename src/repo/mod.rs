//! The one door to git. Every repository read and write gate makes goes through here, so the
//! safety rules (never touch a lock we do not own, never move a branch that moved under us)
//! live in one auditable place.

use std::path::{Path, PathBuf};

pub mod cli;
pub mod commit;
pub mod finish;
pub mod fork;
pub mod history;
pub mod index;
pub mod staged;
pub mod status;
pub mod worktree;

use git2::{Oid, Repository, RepositoryState, Status, StatusOptions};

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{} is not inside a git repository; run `git init` first", path.display())]
    NotARepo { path: PathBuf },
    #[error("{} is a bare repository; gate needs a working tree", path.display())]
    Bare { path: PathBuf },
    /// git reads the repository but libgit2 cannot (an extension it does not know).
    #[error("{} is a git repository gate cannot open: {reason}; {fix}", path.display())]
    Unsupported {
        path: PathBuf,
        reason: String,
        fix: String,
    },
    #[error("git: {what}")]
    Git {
        what: String,
        #[source]
        source: git2::Error,
    },
}

fn git(what: impl Into<String>) -> impl FnOnce(git2::Error) -> RepoError {
    let what = what.into();
    move |source| RepoError::Git { what, source }
}

/// A working tree whose `.git` is a file naming a git directory elsewhere (`git init
/// --separate-git-dir`) is where that file is; libgit2 takes the git directory's parent
/// instead, and gate would then write `.gate.toml` and the specs outside the working tree.
/// Linked worktrees and submodules, whose git directories say where their tree is, are
/// already right and left alone.
fn fix_gitfile_workdir(git: Repository, path: &Path) -> Repository {
    let start = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let Some(top) = start.ancestors().find(|a| a.join(".git").exists()) else {
        return git;
    };
    let is_gitfile = std::fs::symlink_metadata(top.join(".git")).is_ok_and(|m| m.is_file());
    let current = git.workdir().map(|w| w.components().collect::<PathBuf>());
    if is_gitfile && current.as_deref() != Some(top) && !git.is_worktree() {
        let _ = git.set_workdir(top, false);
    }
    git
}

/// Why libgit2 could not open the repository at `path`: not a repository at all, or one git
/// reads and libgit2 does not (reftable ref storage, an unknown `extensions.*`). The second
/// must never look like the first ("run git init" in a working repository misleads).
fn unopenable(path: &Path, error: &git2::Error) -> RepoError {
    let not_a_repo = || RepoError::NotARepo {
        path: path.to_owned(),
    };
    let Ok(out) = cli::git(path, ["rev-parse", "--show-ref-format"], None) else {
        return not_a_repo();
    };
    if !out.status.success() {
        return not_a_repo();
    }
    let format = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !format.is_empty() && format != "files" {
        return RepoError::Unsupported {
            path: path.to_owned(),
            reason: format!(
                "its refs are stored as {format}, which gate's git library cannot read"
            ),
            fix: "convert them with `git refs migrate --ref-format=files` (git 2.46+)".into(),
        };
    }
    RepoError::Unsupported {
        path: path.to_owned(),
        reason: error.message().to_owned(),
        fix: "check `git config --list --show-origin | grep extensions` for a setting gate does not support"
            .into(),
    }
}

/// git's empty tree: the "old" side of a diff against nothing (an unborn branch, a root).
pub const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// Where HEAD points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// On a branch that has commits.
    Branch(String),
    /// On a branch with no commits yet (a fresh `git init`).
    Unborn(String),
    /// Detached at a commit.
    Detached(String),
}

impl Head {
    /// The branch name, when HEAD is on one (born or not).
    pub fn branch(&self) -> Option<&str> {
        match self {
            Head::Branch(b) | Head::Unborn(b) => Some(b),
            Head::Detached(_) => None,
        }
    }
}

/// An operation git has in progress; a good moment for nothing automatic to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    None,
    Merge,
    Rebase,
    CherryPick,
    Revert,
    Bisect,
    ApplyMailbox,
}

impl Operation {
    pub fn in_progress(self) -> bool {
        self != Operation::None
    }

    pub fn name(self) -> &'static str {
        match self {
            Operation::None => "nothing",
            Operation::Merge => "merge",
            Operation::Rebase => "rebase",
            Operation::CherryPick => "cherry-pick",
            Operation::Revert => "revert",
            Operation::Bisect => "bisect",
            Operation::ApplyMailbox => "am (patch application)",
        }
    }
}

/// Paths that differ from HEAD, split the way `git status` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Changes {
    pub staged: Vec<String>,
    pub unstaged: Vec<String>,
    pub untracked: Vec<String>,
    pub conflicted: Vec<String>,
}

impl Changes {
    pub fn is_clean(&self) -> bool {
        self.staged.is_empty()
            && self.unstaged.is_empty()
            && self.untracked.is_empty()
            && self.conflicted.is_empty()
    }
}

/// A commit as gate reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub id: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
}

pub struct Repo {
    git: Repository,
    root: PathBuf,
}

impl Repo {
    /// Finds the repository containing `path`, as git does.
    pub fn discover(path: &Path) -> Result<Repo, RepoError> {
        let git = Repository::discover(path).map_err(|e| unopenable(path, &e))?;
        Repo::with_worktree(fix_gitfile_workdir(git, path))
    }

    /// The repository git is running a hook for: honours `GIT_DIR` and `GIT_WORK_TREE`.
    pub fn from_env() -> Result<Repo, RepoError> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let git = Repository::open_from_env().map_err(|e| unopenable(&cwd, &e))?;
        let git = if std::env::var_os("GIT_WORK_TREE").is_some() {
            git
        } else {
            fix_gitfile_workdir(git, &cwd)
        };
        Repo::with_worktree(git)
    }

    /// gate needs a working tree; a bare repository is refused.
    fn with_worktree(git: Repository) -> Result<Repo, RepoError> {
        // libgit2 keeps a trailing slash; components() drops it so paths print cleanly.
        let root = git
            .workdir()
            .ok_or_else(|| RepoError::Bare {
                path: git.path().to_owned(),
            })?
            .components()
            .collect();
        Ok(Repo { git, root })
    }

    /// The working tree's top directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory shared by all worktrees (`git rev-parse --git-common-dir`).
    pub fn common_dir(&self) -> &Path {
        self.git.commondir()
    }

    /// gate's private state for this project: never committed, shared by worktrees.
    pub fn state_dir(&self) -> PathBuf {
        self.common_dir().join("gate")
    }

    /// This worktree's index (`<git dir>/index`; a linked worktree has its own).
    pub fn index_path(&self) -> PathBuf {
        self.git.path().join("index")
    }

    pub fn git(&self) -> &Repository {
        &self.git
    }

    pub fn head(&self) -> Result<Head, RepoError> {
        match self.git.head() {
            Ok(head) if self.git.head_detached().unwrap_or(false) => Ok(Head::Detached(
                head.target().map(|o| o.to_string()).unwrap_or_default(),
            )),
            Ok(head) => Ok(Head::Branch(branch_name(head.name().unwrap_or("HEAD")))),
            Err(e) if e.code() == git2::ErrorCode::UnbornBranch => {
                // HEAD is a symbolic ref to a branch that does not exist yet.
                let target = self
                    .git
                    .find_reference("HEAD")
                    .ok()
                    .and_then(|r| r.symbolic_target().ok().flatten().map(branch_name))
                    .unwrap_or_else(|| "main".into());
                Ok(Head::Unborn(target))
            }
            Err(e) => Err(git("read HEAD")(e)),
        }
    }

    pub fn operation(&self) -> Operation {
        match self.git.state() {
            RepositoryState::Clean => Operation::None,
            RepositoryState::Merge => Operation::Merge,
            RepositoryState::Revert | RepositoryState::RevertSequence => Operation::Revert,
            RepositoryState::CherryPick | RepositoryState::CherryPickSequence => {
                Operation::CherryPick
            }
            RepositoryState::Bisect => Operation::Bisect,
            RepositoryState::ApplyMailbox => Operation::ApplyMailbox,
            RepositoryState::Rebase
            | RepositoryState::RebaseInteractive
            | RepositoryState::RebaseMerge
            | RepositoryState::ApplyMailboxOrRebase => Operation::Rebase,
        }
    }

    /// Staged, unstaged, untracked and conflicted paths, honouring `.gitignore`.
    /// This walks the whole tree: keep it off the hook path.
    pub fn changes(&self) -> Result<Changes, RepoError> {
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .exclude_submodules(true)
            .renames_head_to_index(false);
        let statuses = self
            .git
            .statuses(Some(&mut opts))
            .map_err(git("read the working tree status"))?;
        let mut changes = Changes::default();
        for entry in statuses.iter() {
            let path = String::from_utf8_lossy(entry.path_bytes()).into_owned();
            let s = entry.status();
            if s.contains(Status::CONFLICTED) {
                changes.conflicted.push(path);
                continue;
            }
            if s.intersects(
                Status::INDEX_NEW
                    | Status::INDEX_MODIFIED
                    | Status::INDEX_DELETED
                    | Status::INDEX_RENAMED
                    | Status::INDEX_TYPECHANGE,
            ) {
                changes.staged.push(path.clone());
            }
            if s.intersects(
                Status::WT_MODIFIED
                    | Status::WT_DELETED
                    | Status::WT_RENAMED
                    | Status::WT_TYPECHANGE,
            ) {
                changes.unstaged.push(path.clone());
            }
            if s.contains(Status::WT_NEW) {
                changes.untracked.push(path);
            }
        }
        Ok(changes)
    }

    /// Time of the commit HEAD points at, if any.
    pub fn last_commit(&self) -> Option<CommitInfo> {
        let commit = self.git.head().ok()?.peel_to_commit().ok()?;
        Some(CommitInfo {
            id: commit.id().to_string(),
            time: commit.time().seconds(),
        })
    }

    /// Short names of all local branches.
    pub fn local_branches(&self) -> Result<Vec<String>, RepoError> {
        let refs = self
            .git
            .references_glob("refs/heads/*")
            .map_err(git("list branches"))?;
        Ok(refs
            .flatten()
            .filter_map(|r| r.name().ok().map(branch_name))
            .collect())
    }

    pub fn branch_exists(&self, name: &str) -> bool {
        self.git
            .find_reference(&format!("refs/heads/{name}"))
            .is_ok()
    }

    /// An existing branch that would stop `name` from being created: git stores branches as
    /// files, so `feature` blocks `feature/x` and `feature/x` blocks `feature`.
    pub fn blocking_branch(&self, name: &str) -> Option<String> {
        let mut prefix = String::new();
        for part in name.split('/') {
            if !prefix.is_empty() {
                if self.branch_exists(&prefix) {
                    return Some(prefix);
                }
                prefix.push('/');
            }
            prefix.push_str(part);
        }
        self.local_branches()
            .ok()?
            .into_iter()
            .find(|b| b.starts_with(&format!("{name}/")))
    }

    /// Whether git would ignore a file at `path` (repo-relative), honouring every ignore
    /// source; a directory pattern like `specs/` counts for the files under it.
    pub fn would_ignore(&self, path: &str) -> bool {
        let dir = path.trim_end_matches('/');
        [
            path.to_owned(),
            format!("{dir}/"),
            format!("{dir}/000-probe/spec.md"),
        ]
        .iter()
        .any(|p| self.git.is_path_ignored(p).unwrap_or(false))
    }

    /// Creates `name` at HEAD and points HEAD at it, like `git switch -c`. The new branch is
    /// the same commit, so the index and working tree stay exactly as they are.
    pub fn create_and_switch(&self, name: &str) -> Result<(), RepoError> {
        let refname = format!("refs/heads/{name}");
        if !git2::Reference::is_valid_name(&refname) {
            return Err(RepoError::Git {
                what: format!("{name:?} is not a valid branch name"),
                source: git2::Error::from_str("invalid reference name"),
            });
        }
        if let Ok(head) = self.git.head().and_then(|h| h.peel_to_commit()) {
            self.git
                .branch(name, &head, false)
                .map_err(git(format!("create branch {name}")))?;
        }
        self.git
            .set_head(&refname)
            .map_err(git(format!("switch to {name}")))
    }

    /// Whether `commit` is the target of a tag whose name matches `is_wanted`.
    pub fn is_tagged(&self, commit: &str, is_wanted: impl Fn(&str) -> bool) -> bool {
        let Ok(oid) = Oid::from_str(commit) else {
            return false;
        };
        let Ok(refs) = self.git.references_glob("refs/tags/*") else {
            return false;
        };
        refs.flatten().any(|r| {
            r.name()
                .ok()
                .and_then(|n| n.strip_prefix("refs/tags/"))
                .is_some_and(&is_wanted)
                && r.peel_to_commit().is_ok_and(|c| c.id() == oid)
        })
    }

    /// The full message of `commit`, if it exists here.
    pub fn commit_message(&self, commit: &str) -> Option<String> {
        let oid = Oid::from_str(commit).ok()?;
        let c = self.git.find_commit(oid).ok()?;
        Some(String::from_utf8_lossy(c.message_bytes()).into_owned())
    }

    /// The blob at `path` in the tip of `branch`, for reading a feature from another branch.
    pub fn read_from_branch(&self, branch: &str, path: &str) -> Option<Vec<u8>> {
        let tree = self
            .git
            .find_reference(&format!("refs/heads/{branch}"))
            .ok()?
            .peel_to_tree()
            .ok()?;
        let entry = tree.get_path(Path::new(path)).ok()?;
        let blob = self.git.find_blob(entry.id()).ok()?;
        Some(blob.content().to_vec())
    }

    /// The names of the blobs directly in `dir` in the tip of `branch` (for a feature's
    /// `checklists/` read from its branch); empty when there is no such directory.
    pub fn list_on_branch(&self, branch: &str, dir: &str) -> Vec<String> {
        let names = || -> Option<Vec<String>> {
            let tree = self
                .git
                .find_reference(&format!("refs/heads/{branch}"))
                .ok()?
                .peel_to_tree()
                .ok()?;
            let entry = tree.get_path(Path::new(dir)).ok()?;
            let sub = self.git.find_tree(entry.id()).ok()?;
            Some(
                sub.iter()
                    .filter(|e| e.kind() == Some(git2::ObjectType::Blob))
                    .filter_map(|e| e.name().ok().map(str::to_owned))
                    .collect(),
            )
        };
        names().unwrap_or_default()
    }

    /// For each of `paths` (all inside `dir`), the walk position and id of the oldest commit on
    /// the first-parent line from `tip` (HEAD when `None`) in which it exists: 0 is the tip,
    /// larger is older. `None` means never committed. The walk stops when `dir` disappears,
    /// and after `limit` commits.
    pub fn first_commits(
        &self,
        tip: Option<&str>,
        dir: &str,
        paths: &[&str],
        limit: usize,
    ) -> Result<Vec<Option<(usize, String)>>, RepoError> {
        let mut found = vec![None; paths.len()];
        let start = match tip {
            Some(branch) => self
                .git
                .find_reference(&format!("refs/heads/{branch}"))
                .and_then(|r| r.peel_to_commit()),
            None => self.git.head().and_then(|h| h.peel_to_commit()),
        };
        let Ok(mut commit) = start else {
            return Ok(found);
        };
        let mut last_dir: Option<Oid> = None;
        let mut present = vec![false; paths.len()];
        for position in 0..limit {
            let tree = commit.tree().map_err(git("read a commit's tree"))?;
            let Ok(entry) = tree.get_path(Path::new(dir)) else {
                break;
            };
            // Only look inside the directory when it changed since the newer commit.
            if last_dir != Some(entry.id()) {
                last_dir = Some(entry.id());
                let Ok(dir_tree) = self.git.find_tree(entry.id()) else {
                    break;
                };
                for (flag, path) in present.iter_mut().zip(paths) {
                    *flag = dir_tree.get_name(path).is_some();
                }
            }
            for (slot, flag) in found.iter_mut().zip(&present) {
                if *flag {
                    *slot = Some((position, commit.id().to_string()));
                }
            }
            match commit.parent(0) {
                Ok(parent) => commit = parent,
                Err(_) => break,
            }
        }
        Ok(found)
    }
}

/// A commit id as people read it: the first 10 hex digits.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(10)]
}

/// `refs/heads/feature/x` -> `feature/x`.
fn branch_name(refname: &str) -> String {
    refname
        .strip_prefix("refs/heads/")
        .unwrap_or(refname)
        .to_owned()
}
