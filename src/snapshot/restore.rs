//! `gate restore`: preserved work back into the working tree, without git plumbing.
//!
//! Only the working tree changes (`git restore --worktree`): the index, HEAD and every ref
//! stay as they are. A file with uncommitted changes of its own that differ from the
//! snapshot's is never overwritten unless forced, and then those changes are snapshotted
//! first, so a restore can itself be undone.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;

use git2::Oid;
use serde::Serialize;

use super::refs;
use crate::repo::Repo;
use crate::repo::cli;
use crate::repo::commit::CommitError;
use crate::repo::status::{self, nul_joined};

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(
        "no snapshot named {0:?}: give a branch that has snapshots, a snapshot id from `gate snapshots`, or nothing for this branch's latest"
    )]
    Unknown(String),
    #[error("this branch has no snapshots (see `gate snapshots`)")]
    NoneHere,
    #[error("{0} is in no snapshot of this restore (see `gate snapshots` for what each holds)")]
    NotInSnapshot(String),
    #[error("refusing to write through a symbolic link out of the repository: {0}")]
    Outside(String),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error(transparent)]
    Cli(#[from] cli::CliError),
}

/// The commit to restore from and what it holds beyond its base.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: Oid,
    pub label: String,
    /// Paths it changed against its base (added, modified or deleted there).
    pub paths: Vec<Vec<u8>>,
}

/// Finds the snapshot `name` means: nothing (this branch's latest), a branch with snapshots,
/// a snapshot ref, or a commit id (a snapshot or the staged versions one kept).
pub fn resolve(repo: &Repo, name: Option<&str>) -> Result<Source, RestoreError> {
    let id = match name {
        None => {
            let head = repo.head().map_err(CommitError::from)?;
            let refname = refs::ref_for(repo, &head);
            repo.git()
                .refname_to_id(&refname)
                .map_err(|_| RestoreError::NoneHere)?
        }
        Some(n) => lookup(repo, n).ok_or_else(|| RestoreError::Unknown(n.to_owned()))?,
    };
    let commit = repo
        .git()
        .find_commit(id)
        .map_err(|_| RestoreError::Unknown(name.unwrap_or_default().to_owned()))?;
    let message = commit.message().unwrap_or_default().to_owned();
    let base = if message.contains("\nGate-Snapshot: ") {
        refs::read(repo, id).and_then(|s| s.trailers.base)
    } else if message.starts_with("Staged: ") {
        commit.parent_id(0).ok()
    } else {
        return Err(RestoreError::Unknown(name.unwrap_or_default().to_owned()));
    };
    let base_tree = base.map(|b| repo.tree_of(b)).transpose()?;
    let paths = status::tree_paths_changed(repo.root(), base_tree, commit.tree_id())?;
    Ok(Source {
        id,
        label: name.map_or_else(|| "this branch's latest snapshot".to_owned(), str::to_owned),
        paths,
    })
}

/// Whether `name` names a snapshot (so a command line can tell it from a path).
pub fn names_a_snapshot(repo: &Repo, name: &str) -> bool {
    lookup(repo, name).is_some()
}

fn lookup(repo: &Repo, name: &str) -> Option<Oid> {
    let git = repo.git();
    for refname in [
        format!("{}{}", refs::BRANCHES, refs::encode(name)),
        format!("{}{name}", refs::BRANCHES),
        name.to_owned(),
    ] {
        if refname.starts_with("refs/gate/")
            && let Ok(id) = git.refname_to_id(&refname)
        {
            return Some(id);
        }
    }
    // A commit id (or a prefix of one) of a commit gate wrote.
    if name.len() >= 4 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        let c = git.revparse_single(name).ok()?.peel_to_commit().ok()?;
        let m = c.message().unwrap_or_default();
        if m.contains("\nGate-Snapshot: ") || m.starts_with("Staged: ") {
            return Some(c.id());
        }
    }
    None
}

/// What a restore did (or would refuse to do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Restored {
    pub from: String,
    pub restored: Vec<String>,
    /// Files with uncommitted changes unlike the snapshot's: not overwritten (without force).
    pub conflicts: Vec<String>,
    /// With force: the snapshot that preserved the overwritten changes first.
    pub preserved: Option<String>,
}

/// Restores `wanted` (all the snapshot holds when empty; a directory means the files under
/// it) from `source` into the working tree. `preserve` is called with the files about to be
/// overwritten when forced, and returns the snapshot commit that keeps them.
pub fn restore(
    repo: &Repo,
    source: &Source,
    wanted: &[Vec<u8>],
    force: bool,
    preserve: impl FnOnce(&[Vec<u8>]) -> Result<Option<String>, RestoreError>,
) -> Result<Restored, RestoreError> {
    let paths = select(&source.paths, wanted)?;
    let mut out = Restored {
        from: source.id.to_string(),
        ..Restored::default()
    };
    if paths.is_empty() {
        return Ok(out);
    }
    let head = repo.git().head().ok().and_then(|h| h.target());
    let in_snapshot = blobs_in(repo, source.id, &paths)?;
    let in_head = match head {
        Some(h) => blobs_in(repo, h, &paths)?,
        None => Default::default(),
    };
    let mut todo = Vec::new();
    let mut at_risk = Vec::new();
    for p in &paths {
        let disk = on_disk(repo, p)?;
        let wanted = in_snapshot.get(p);
        if disk.as_ref() == wanted.map(|w| Disk::Blob(w.clone())).as_ref() {
            continue;
        }
        todo.push(p.clone());
        // What is there now would be lost unless it is the committed version (or nothing).
        // Judged by content, not by `git status`, which does not see assume-unchanged,
        // skip-worktree or ignored files.
        let committed = in_head.get(p).map(|h| Disk::Blob(h.clone()));
        if disk.is_some() && disk != committed {
            at_risk.push(p.clone());
        }
    }
    if !at_risk.is_empty() {
        if !force {
            out.conflicts = at_risk.iter().map(|p| display(p)).collect();
            return Ok(out);
        }
        let preserved = preserve(&at_risk)?;
        // Only what the snapshot really holds may be overwritten.
        let kept = match &preserved {
            Some(id) => blobs_in(
                repo,
                Oid::from_str(id).map_err(|e| CommitError::Git {
                    what: "read the preserving snapshot".into(),
                    source: e,
                })?,
                &at_risk,
            )?,
            None => Default::default(),
        };
        let lost: Vec<Vec<u8>> = at_risk
            .iter()
            .filter(|p| match on_disk(repo, p) {
                Ok(Some(Disk::Blob(b))) => kept.get(*p) != Some(&b),
                Ok(Some(Disk::Dir)) => preserved.is_none(),
                _ => false,
            })
            .cloned()
            .collect();
        if !lost.is_empty() {
            out.conflicts = lost.iter().map(|p| display(p)).collect();
            out.preserved = preserved;
            return Ok(out);
        }
        out.preserved = preserved;
    }
    for p in &todo {
        crate::confine::check_inside(
            repo.root(),
            &repo.root().join(std::ffi::OsStr::from_bytes(p)),
        )
        .map_err(|e| RestoreError::Outside(e.to_string()))?;
    }
    write_worktree(repo, source.id, &todo)?;
    out.restored = todo.iter().map(|p| display(p)).collect();
    Ok(out)
}

/// What is at a path in the working tree, as git would store it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Disk {
    Blob(String),
    /// A directory where a file is wanted (what is under it is at stake).
    Dir,
}

fn on_disk(repo: &Repo, p: &[u8]) -> Result<Option<Disk>, RestoreError> {
    let file = repo.root().join(std::ffi::OsStr::from_bytes(p));
    let Ok(meta) = std::fs::symlink_metadata(&file) else {
        return Ok(None);
    };
    if meta.is_dir() {
        let empty = std::fs::read_dir(&file)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        return Ok((!empty).then_some(Disk::Dir));
    }
    // A symlink is stored as its target text; hash-object on the path would follow it.
    let out = if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&file).map_err(|source| CommitError::Io {
            path: file.clone(),
            source,
        })?;
        cli::git(
            repo.root(),
            ["hash-object", "--no-filters", "--stdin"],
            Some(target.as_os_str().as_bytes()),
        )?
    } else {
        cli::git(
            repo.root(),
            [
                std::ffi::OsStr::new("hash-object"),
                std::ffi::OsStr::new("--"),
                file.as_os_str(),
            ],
            None,
        )?
    };
    Ok(out
        .status
        .success()
        .then(|| Disk::Blob(String::from_utf8_lossy(&out.stdout).trim().to_owned())))
}

/// Writes `paths` as `commit` has them into the working tree: through a private index
/// (`read-tree` + `checkout-index`, git's filters and modes applied), so the real index and
/// its lock are never involved; a path the snapshot does not have is removed.
fn write_worktree(repo: &Repo, commit: Oid, paths: &[Vec<u8>]) -> Result<(), RestoreError> {
    use std::os::unix::ffi::OsStrExt;
    if paths.is_empty() {
        return Ok(());
    }
    let scratch = tempfile::Builder::new()
        .prefix("restore-index-")
        .tempfile_in(repo.state_dir())
        .map_err(|source| CommitError::Io {
            path: repo.state_dir(),
            source,
        })?;
    let env = [("GIT_INDEX_FILE", scratch.path().as_os_str())];
    let id = commit.to_string();
    let read = cli::git_env(repo.root(), ["read-tree", id.as_str()], None, &env)?;
    if !read.status.success() {
        return Err(cli::CliError::Failed {
            args: "read-tree".into(),
            stderr: String::from_utf8_lossy(&read.stderr).trim().to_owned(),
        }
        .into());
    }
    let listed = cli::git_env(repo.root(), ["ls-files", "-z"], None, &env)?;
    let present: HashSet<&[u8]> = listed.stdout.split(|&b| b == 0).collect();
    let (write, remove): (Vec<Vec<u8>>, Vec<Vec<u8>>) = paths
        .iter()
        .cloned()
        .partition(|p| present.contains(p.as_slice()));
    for p in &remove {
        let file = repo.root().join(std::ffi::OsStr::from_bytes(p));
        let _ = std::fs::remove_file(file);
    }
    if !write.is_empty() {
        let out = cli::git_env(
            repo.root(),
            ["checkout-index", "-f", "-z", "--stdin"],
            Some(&nul_joined(&write)),
            &env,
        )?;
        if !out.status.success() {
            return Err(cli::CliError::Failed {
                args: "checkout-index".into(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            }
            .into());
        }
    }
    Ok(())
}

/// The snapshot's paths that `wanted` names (exactly, or as a directory above them).
fn select(all: &[Vec<u8>], wanted: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, RestoreError> {
    if wanted.is_empty() {
        return Ok(all.to_vec());
    }
    let mut picked = Vec::new();
    for w in wanted {
        let mut dir = w.clone();
        dir.push(b'/');
        let matched: Vec<&Vec<u8>> = all
            .iter()
            .filter(|p| *p == w || p.starts_with(&dir))
            .collect();
        if matched.is_empty() {
            return Err(RestoreError::NotInSnapshot(display(w)));
        }
        picked.extend(matched.into_iter().cloned());
    }
    picked.sort();
    picked.dedup();
    Ok(picked)
}

/// The blob id of each of `paths` in `commit` (absent: not there).
fn blobs_in(
    repo: &Repo,
    commit: Oid,
    paths: &[Vec<u8>],
) -> Result<std::collections::HashMap<Vec<u8>, String>, RestoreError> {
    use std::os::unix::ffi::OsStrExt;
    let mut found = std::collections::HashMap::new();
    let id = commit.to_string();
    let head = [
        "--literal-pathspecs",
        "ls-tree",
        "-r",
        "-z",
        "--full-tree",
        &id,
        "--",
    ];
    for chunk in paths.chunks(500) {
        let mut args: Vec<&std::ffi::OsStr> = head.iter().map(std::ffi::OsStr::new).collect();
        args.extend(chunk.iter().map(|p| std::ffi::OsStr::from_bytes(p)));
        let out = cli::git_ok(repo.root(), args, None)?;
        for rec in out.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            // "<mode> <type> <id>\t<path>"
            let Some(tab) = rec.iter().position(|&b| b == b'\t') else {
                continue;
            };
            let meta = String::from_utf8_lossy(&rec[..tab]);
            if let Some(blob) = meta.split(' ').nth(2) {
                found.insert(rec[tab + 1..].to_vec(), blob.to_owned());
            }
        }
    }
    Ok(found)
}

fn display(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}
