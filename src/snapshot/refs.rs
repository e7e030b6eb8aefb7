//! Where snapshots live and what each one says about itself.
//!
//! A branch's snapshots are one chain on `refs/gate/snapshots/<branch>`, the branch name
//! encoded into a single ref component (`/` as `%2F`, `%` as `%25`): branch `a` and a later
//! branch `a/b` can never collide as file and directory, which would make every snapshot of
//! one of them fail. Detached HEADs get `refs/gate/detached/<worktree>`, one per worktree.
//!
//! Each snapshot commit has HEAD at the time as its first parent (its base), the previous
//! snapshot of the chain as another (so every earlier snapshot stays reachable), and, when the
//! user had staged a version unlike the working tree's, a commit of the index as it was. The
//! trailers name which parent is which.

use git2::Oid;

use crate::repo::{Head, Repo};

pub const BRANCHES: &str = "refs/gate/snapshots/";
pub const DETACHED: &str = "refs/gate/detached/";

/// The snapshot ref for `head` in `repo`'s worktree.
pub fn ref_for(repo: &Repo, head: &Head) -> String {
    match head {
        Head::Branch(b) | Head::Unborn(b) => format!("{BRANCHES}{}", encode(b)),
        Head::Detached(_) => format!("{DETACHED}{}", worktree_id(repo)),
    }
}

/// `main-worktree`, or `wt-<id>` for the linked worktree `<common dir>/worktrees/<id>`.
pub fn worktree_id(repo: &Repo) -> String {
    if repo.git().is_worktree()
        && let Some(id) = repo.git().path().components().next_back()
    {
        return format!("wt-{}", id.as_os_str().to_string_lossy());
    }
    "main-worktree".into()
}

pub fn encode(branch: &str) -> String {
    branch.replace('%', "%25").replace('/', "%2F")
}

/// The branch (or worktree label) a snapshot ref is for.
pub fn label(refname: &str) -> String {
    if let Some(rest) = refname.strip_prefix(BRANCHES) {
        return rest.replace("%2F", "/").replace("%25", "%");
    }
    match refname.strip_prefix(DETACHED) {
        Some(wt) => format!("detached HEAD ({wt})"),
        None => refname.to_owned(),
    }
}

/// What a snapshot commit records about itself (its trailers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trailers {
    /// Why it was not a real commit.
    pub reason: String,
    /// HEAD when it was taken (`None`: an unborn branch).
    pub base: Option<Oid>,
    /// The commit of the index, when a staged version differed from the working tree.
    pub staged: Option<Oid>,
}

impl Trailers {
    pub fn parse(message: &str) -> Trailers {
        let mut t = Trailers::default();
        for line in message.lines() {
            if let Some(v) = line.strip_prefix("Gate-Snapshot: ") {
                t.reason = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("Gate-Base: ") {
                t.base = Oid::from_str(v.trim()).ok();
            } else if let Some(v) = line.strip_prefix("Gate-Staged: ") {
                t.staged = Oid::from_str(v.trim()).ok();
            }
        }
        t
    }

    pub fn render(&self) -> String {
        let mut text = format!("Gate-Snapshot: {}\n", self.reason);
        let base = self
            .base
            .map_or_else(|| "none".to_owned(), |b| b.to_string());
        text.push_str(&format!("Gate-Base: {base}\n"));
        if let Some(s) = self.staged {
            text.push_str(&format!("Gate-Staged: {s}\n"));
        }
        text
    }
}

/// One snapshot commit, read back.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: Oid,
    pub trailers: Trailers,
    /// The snapshot before it in the chain.
    pub previous: Option<Oid>,
    pub time: i64,
    pub tree: Oid,
}

pub fn read(repo: &Repo, id: Oid) -> Option<Snapshot> {
    let c = repo.git().find_commit(id).ok()?;
    let trailers = Trailers::parse(c.message().unwrap_or_default());
    // Older snapshots (before the trailers) had HEAD first and the previous snapshot second.
    let base = if c.message().unwrap_or_default().contains("Gate-Base: ") {
        trailers.base
    } else {
        c.parent_id(0).ok()
    };
    let previous = c
        .parent_ids()
        .find(|p| Some(*p) != base && Some(*p) != trailers.staged);
    Some(Snapshot {
        id,
        trailers: Trailers { base, ..trailers },
        previous,
        time: c.time().seconds(),
        tree: c.tree_id(),
    })
}

/// The latest snapshot on `refname`, if there is one.
pub fn latest(repo: &Repo, refname: &str) -> Option<Snapshot> {
    let id = repo.git().refname_to_id(refname).ok()?;
    read(repo, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_become_one_component_and_back() {
        for b in ["main", "feature/001-x", "a/b/c", "100%/x", "%2F"] {
            let r = format!("{BRANCHES}{}", encode(b));
            assert!(!r[BRANCHES.len()..].contains('/'), "{r}");
            assert_eq!(label(&r), b);
        }
        assert_ne!(encode("a/b"), encode("a%2Fb"));
    }

    #[test]
    fn trailers_round_trip() {
        let t = Trailers {
            reason: "main is protected".into(),
            base: Some(Oid::from_str("1234567890123456789012345678901234567890").unwrap()),
            staged: None,
        };
        let msg = format!("Snapshot: x\n\n{}Gate-Auto-Commit: true\n", t.render());
        assert_eq!(Trailers::parse(&msg), t);
    }
}
