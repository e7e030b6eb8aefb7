//! What is preserved: every snapshot chain under `refs/gate/`, read back for `gate snapshots`,
//! and the explicit, logged pruning of the ones older than `snapshot.keep`.

use git2::Oid;
use serde::Serialize;

use super::refs::{self, BRANCHES, DETACHED};
use crate::repo::Repo;
use crate::repo::commit::CommitError;

/// One snapshot commit, for people and scripts.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// Why it was not a real commit.
    pub reason: String,
    /// HEAD when it was taken.
    pub base: Option<String>,
    /// The commit of the user's staged versions, when they differed from the working tree.
    pub staged: Option<String>,
    /// What it holds beyond its base, as `M path` / `A path` / `D path`.
    pub files: Vec<String>,
}

/// A chain of snapshots on one ref, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Chain {
    pub refname: String,
    /// The branch (or detached worktree) it preserves work of.
    pub label: String,
    /// Its latest snapshot was taken on the commit the branch is at now: the work in it is
    /// not in any real commit yet.
    pub pending: bool,
    pub total: usize,
    pub snapshots: Vec<Entry>,
}

/// Every snapshot ref, with at most `limit` snapshots of each (`None`: all).
pub fn chains(repo: &Repo, limit: Option<usize>) -> Result<Vec<Chain>, CommitError> {
    let mut out = Vec::new();
    for refname in snapshot_refs(repo) {
        let Some(latest) = refs::latest(repo, &refname) else {
            continue;
        };
        let tip = branch_tip(repo, &refname);
        let mut snapshots = Vec::new();
        let mut total = 0;
        let mut next = Some(latest.id);
        let mut seen = std::collections::HashSet::new();
        while let Some(id) = next {
            if !seen.insert(id) {
                break;
            }
            let Some(s) = refs::read(repo, id) else {
                break;
            };
            total += 1;
            if limit.is_none_or(|l| snapshots.len() < l) {
                snapshots.push(entry(repo, &s)?);
            }
            next = s.previous.filter(|p| is_snapshot(repo, *p));
        }
        out.push(Chain {
            label: refs::label(&refname),
            pending: tip.is_some() && tip == latest.trailers.base,
            refname,
            total,
            snapshots,
        });
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.snapshots.first().map_or(0, |s| s.time)));
    Ok(out)
}

fn entry(repo: &Repo, s: &refs::Snapshot) -> Result<Entry, CommitError> {
    let base_tree = s.trailers.base.map(|b| repo.tree_of(b)).transpose()?;
    Ok(Entry {
        id: s.id.to_string(),
        time: s.time,
        reason: s.trailers.reason.clone(),
        base: s.trailers.base.map(|b| b.to_string()),
        staged: s.trailers.staged.map(|b| b.to_string()),
        files: changed_files(repo, base_tree, s.tree)?,
    })
}

/// `M path` lines of what `new` changes against `old`.
pub fn changed_files(repo: &Repo, old: Option<Oid>, new: Oid) -> Result<Vec<String>, CommitError> {
    Ok(repo
        .tree_changed_paths(old, new)?
        .into_iter()
        .map(|(status, path)| format!("{} {}", status as char, String::from_utf8_lossy(&path)))
        .collect())
}

/// A commit gate wrote as a snapshot (not the user's own commit, which may also be a parent).
fn is_snapshot(repo: &Repo, id: Oid) -> bool {
    repo.git().find_commit(id).is_ok_and(|c| {
        c.message()
            .unwrap_or_default()
            .contains("\nGate-Snapshot: ")
    })
}

/// Every ref under `refs/gate/snapshots/` and `refs/gate/detached/`.
pub fn snapshot_refs(repo: &Repo) -> Vec<String> {
    let mut names = Vec::new();
    for glob in [format!("{BRANCHES}*"), format!("{DETACHED}*")] {
        if let Ok(refs) = repo.git().references_glob(&glob) {
            names.extend(
                refs.flatten()
                    .filter_map(|r| r.name().ok().map(str::to_owned)),
            );
        }
    }
    names.sort();
    names
}

/// The commit the branch a snapshot ref belongs to is at now.
fn branch_tip(repo: &Repo, refname: &str) -> Option<Oid> {
    if refname.starts_with(DETACHED) {
        return None;
    }
    let branch = refs::label(refname);
    repo.git()
        .refname_to_id(&format!("refs/heads/{branch}"))
        .ok()
}

/// A snapshot ref removed by `gate snapshots --prune`.
#[derive(Debug, Clone, Serialize)]
pub struct Pruned {
    pub refname: String,
    pub id: String,
    pub time: i64,
}

/// Removes the snapshot refs whose latest snapshot is older than `keep_secs` (as of `now`)
/// and whose every preserved file version is in a real commit (reachable from a branch or a
/// tag). "The branch moved on" is not enough: after a `reset --hard` and a new commit the
/// branch has moved, but the work is on no ref but this one. A chain is removed whole or
/// kept whole.
pub fn prune(repo: &Repo, now: i64, keep_secs: i64) -> Result<Vec<Pruned>, CommitError> {
    let mut pruned = Vec::new();
    let mut committed: Option<std::collections::HashSet<String>> = None;
    for chain in chains(repo, Some(1))? {
        let Some(latest) = chain.snapshots.first() else {
            continue;
        };
        if chain.pending || now - latest.time < keep_secs {
            continue;
        }
        let reachable = committed.get_or_insert_with(|| committed_blobs(repo));
        if !chain_blobs(repo, &chain.refname)?
            .iter()
            .all(|b| reachable.contains(b))
        {
            continue;
        }
        let out = crate::repo::cli::git_ok(
            repo.root(),
            ["update-ref", "-d", &chain.refname, &latest.id],
            None,
        );
        if out.is_ok() {
            pruned.push(Pruned {
                refname: chain.refname,
                id: latest.id.clone(),
                time: latest.time,
            });
        }
    }
    Ok(pruned)
}

/// Every blob reachable from a branch or a tag (what "in a real commit" means).
fn committed_blobs(repo: &Repo) -> std::collections::HashSet<String> {
    let Ok(out) = crate::repo::cli::git_ok(
        repo.root(),
        ["rev-list", "--objects", "--branches", "--tags"],
        None,
    ) else {
        return Default::default();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect()
}

/// The blob ids every snapshot of the chain on `refname` preserved beyond its base (the
/// staged versions it kept included).
fn chain_blobs(repo: &Repo, refname: &str) -> Result<Vec<String>, CommitError> {
    let mut blobs = Vec::new();
    let mut next = refs::latest(repo, refname);
    let mut seen = std::collections::HashSet::new();
    while let Some(s) = next {
        if !seen.insert(s.id) {
            break;
        }
        let base = s
            .trailers
            .base
            .map(|b| repo.tree_of(b))
            .transpose()?
            .map_or_else(|| crate::repo::EMPTY_TREE.to_owned(), |t| t.to_string());
        let mut trees = vec![s.tree];
        if let Some(staged) = s.trailers.staged {
            trees.push(repo.tree_of(staged)?);
        }
        for tree in trees {
            let out = crate::repo::cli::git_ok(
                repo.root(),
                ["diff-tree", "-r", "--no-renames", &base, &tree.to_string()],
                None,
            )?;
            // ":<old mode> <new mode> <old id> <new id> <status>\t<path>"
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some(id) = line
                    .split(' ')
                    .nth(3)
                    .filter(|id| id.bytes().any(|b| b != b'0'))
                {
                    blobs.push(id.to_owned());
                }
            }
        }
        next = s
            .previous
            .filter(|p| is_snapshot(repo, *p))
            .and_then(|p| refs::read(repo, p));
    }
    Ok(blobs)
}
