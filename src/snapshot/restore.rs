//! `gate restore`: preserved work back into the working tree, without git plumbing.
//!
//! Only the working tree changes (`git restore --worktree`): the index, HEAD and every ref
//! stay as they are. A file with uncommitted changes of its own that differ from the
//! snapshot's is never overwritten unless forced, and then those changes are snapshotted
//! first, so a restore can itself be undone.

use std::collections::HashSet;

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
    // Files whose working-tree version differs from the snapshot's ...
    let differ = differing(repo, source.id, &paths)?;
    // ... and carry uncommitted changes (against HEAD, or untracked): those would be lost.
    let dirty: HashSet<Vec<u8>> = status::status(repo.root(), &paths)?
        .into_iter()
        .map(|e| e.path)
        .collect();
    let at_risk: Vec<Vec<u8>> = paths
        .iter()
        .filter(|p| differ.contains(*p) && dirty.contains(*p))
        .cloned()
        .collect();
    if !at_risk.is_empty() {
        if !force {
            out.conflicts = at_risk.iter().map(|p| display(p)).collect();
            return Ok(out);
        }
        out.preserved = preserve(&at_risk)?;
    }
    let todo: Vec<Vec<u8>> = paths.into_iter().filter(|p| differ.contains(p)).collect();
    write_worktree(repo, source.id, &todo)?;
    out.restored = todo.iter().map(|p| display(p)).collect();
    Ok(out)
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

/// The paths whose working-tree version is not the one in `commit` (present on one side
/// only, or with other content as git would store it).
fn differing(
    repo: &Repo,
    commit: Oid,
    paths: &[Vec<u8>],
) -> Result<HashSet<Vec<u8>>, RestoreError> {
    use std::collections::HashMap;
    use std::os::unix::ffi::OsStrExt;
    let mut in_snapshot: HashMap<Vec<u8>, String> = HashMap::new();
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
                in_snapshot.insert(rec[tab + 1..].to_vec(), blob.to_owned());
            }
        }
    }
    let mut differ = HashSet::new();
    for p in paths {
        let file = repo.root().join(std::ffi::OsStr::from_bytes(p));
        let on_disk = match std::fs::symlink_metadata(&file) {
            Ok(_) => {
                let out = cli::git(
                    repo.root(),
                    [
                        std::ffi::OsStr::new("hash-object"),
                        std::ffi::OsStr::new("--"),
                        file.as_os_str(),
                    ],
                    None,
                )?;
                out.status
                    .success()
                    .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            }
            Err(_) => None,
        };
        if on_disk.as_ref() != in_snapshot.get(p)
            || on_disk.is_none() && in_snapshot.contains_key(p)
        {
            differ.insert(p.clone());
        }
    }
    Ok(differ)
}

fn display(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}
