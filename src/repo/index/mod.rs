//! A private copy of the index, where gate stages.
//!
//! gate never stages into the user's index. It copies the index (git replaces `index` by
//! rename, so a plain copy is consistent), stages into the copy with git's plumbing, and
//! builds the tree from the copy. The real index changes only when a real commit landed, and
//! then only by a compare-and-swap: under `index.lock`, the copy replaces the real index if
//! that is still the file that was copied. So a failed, refused or raced auto-commit leaves the
//! user's index byte for byte as it was, and a version the user staged is never replaced.
//!
//! Staging is `git update-index --add --remove --stdin`: paths are taken literally, in one
//! pass (git's pathspec matching is quadratic in the number of pathspecs: 25,000 new files
//! held the real index.lock for 20 s), and ignore rules do not apply (the paths come from
//! `git status`, which lists no untracked ignored file, and a tracked file is work whatever
//! `.gitignore` says). A path git refuses (a `core.safecrlf` failure, an unreadable file) is
//! isolated by halving the batch, so one bad path never blocks the others.

use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use git2::Oid;

use super::cli;
use super::commit::CommitError;
use super::status::nul_joined;

mod journal;
mod sweep;

pub use journal::{Journal, Unfinished};
pub use sweep::{lock_worktree, remove_leftovers, remove_own_stale_lock};

/// What the real index looked like when it was copied: git always writes a new file and
/// renames it into place, so the same inode, size and times mean the same content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    fn of(path: &Path) -> Option<Identity> {
        let m = std::fs::symlink_metadata(path).ok()?;
        Some(Identity {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// A path git would not stage, and git's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub path: Vec<u8>,
    pub reason: String,
}

/// How [`Scratch::install`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    /// The copy is now the real index.
    Replaced,
    /// The real index changed since it was copied (the user staged, or committed): it was
    /// left alone.
    Changed,
    /// Another git process held `index.lock` the whole time: left alone.
    Locked,
}

/// The marker gate writes into an `index.lock` it holds, so a lock left by a killed gate can
/// be told from git's own (git's lock file holds an index, which starts with `DIRC`).
const LOCK_MARK: &[u8] = b"gate-lock ";

pub struct Scratch {
    /// The copy, `<state>/index-<purpose>-<pid>`.
    path: PathBuf,
    /// The worktree's real index.
    real: PathBuf,
    /// The real index when it was copied (`None`: there was none, as in a new repository).
    copied: Option<Identity>,
    root: PathBuf,
    /// Left on disk when dropped: a journal names it for the next run.
    keep: bool,
}

impl Scratch {
    /// Copies the index at `real` (the worktree's `<git dir>/index`) to a private file.
    pub fn copy(
        root: &Path,
        real: &Path,
        state: &Path,
        purpose: &str,
    ) -> Result<Scratch, CommitError> {
        let path = scratch_name(state, purpose);
        let io = |source| CommitError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state).map_err(io)?;
        // Identity first: if git replaces the index between the two, the copy is the newer
        // file and the install's comparison fails safe (the index looks changed).
        let copied = Identity::of(real);
        match std::fs::copy(real, &path) {
            Ok(_) => keep_timestamp(real, &path).map_err(io)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_file(&path);
            }
            Err(e) => return Err(io(e)),
        }
        Ok(Scratch {
            path,
            real: real.to_owned(),
            copied,
            root: root.to_owned(),
            keep: false,
        })
    }

    /// A private index holding `tree` (`None`: empty), never installed over the real one.
    pub fn of_tree(
        root: &Path,
        state: &Path,
        purpose: &str,
        tree: Option<Oid>,
    ) -> Result<Scratch, CommitError> {
        let path = scratch_name(state, purpose);
        std::fs::create_dir_all(state).map_err(|source| CommitError::Io {
            path: path.clone(),
            source,
        })?;
        let _ = std::fs::remove_file(&path);
        let scratch = Scratch {
            path,
            real: PathBuf::new(),
            copied: None,
            root: root.to_owned(),
            keep: false,
        };
        let tree = tree.map_or_else(|| "--empty".to_owned(), |t| t.to_string());
        let out = scratch.git(&["read-tree", &tree], None)?;
        check(out, "read-tree")?;
        Ok(scratch)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the file when this value is dropped (an unfinished swap's journal names it).
    pub fn keep_on_disk(&mut self) {
        self.keep = true;
    }

    fn git(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<std::process::Output, CommitError> {
        let env = [("GIT_INDEX_FILE", self.path.as_os_str())];
        Ok(cli::git_env(&self.root, args, stdin, &env)?)
    }

    /// Stages the working tree's version of `paths` (a path gone from the working tree is
    /// removed). Paths git refuses are returned; everything else is staged.
    pub fn stage(&self, paths: &[Vec<u8>]) -> Result<Vec<Refused>, CommitError> {
        let mut refused = Vec::new();
        self.stage_isolating(paths, &mut refused)?;
        Ok(refused)
    }

    fn stage_isolating(
        &self,
        paths: &[Vec<u8>],
        refused: &mut Vec<Refused>,
    ) -> Result<(), CommitError> {
        if paths.is_empty() {
            return Ok(());
        }
        let args = [
            "update-index",
            "--add",
            "--remove",
            "--replace",
            "-z",
            "--stdin",
        ];
        let out = self.git(&args, Some(&nul_joined(paths)))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        if stderr.contains(".lock': File exists") {
            return Err(CommitError::Locked(stderr));
        }
        if let [path] = paths {
            refused.push(Refused {
                path: path.clone(),
                reason: first_line(&stderr),
            });
            return Ok(());
        }
        // git stops at the first bad path and writes nothing: halve until it is found.
        let (a, b) = paths.split_at(paths.len() / 2);
        self.stage_isolating(a, refused)?;
        self.stage_isolating(b, refused)
    }

    /// Removes `paths` from the copy whether or not they are on disk: an entry the user
    /// deleted from the index (`git rm --cached`) stays deleted, the file stays untracked.
    pub fn remove(&self, paths: &[Vec<u8>]) -> Result<(), CommitError> {
        if paths.is_empty() {
            return Ok(());
        }
        let args = ["update-index", "--force-remove", "-z", "--stdin"];
        let out = self.git(&args, Some(&nul_joined(paths)))?;
        check(out, "update-index --force-remove")
    }

    /// Stages the bytes of `paths` as they are on disk, with no filter or end-of-line
    /// conversion: the last resort that preserves a file git's filters refuse. Returns the
    /// paths that could not even be read.
    pub fn stage_raw(&self, paths: &[Vec<u8>]) -> Result<Vec<Refused>, CommitError> {
        let mut info = Vec::new();
        let mut unreadable = Vec::new();
        for p in paths {
            let file = self.root.join(OsStr::from_bytes(p));
            let meta = std::fs::symlink_metadata(&file);
            let mode = match &meta {
                Ok(m) if m.file_type().is_symlink() => "120000",
                Ok(m) if m.mode() & 0o111 != 0 => "100755",
                Ok(m) if m.is_file() => "100644",
                _ => {
                    unreadable.push(Refused {
                        path: p.clone(),
                        reason: "neither a file nor a symbolic link".into(),
                    });
                    continue;
                }
            };
            let bytes: std::io::Result<Vec<u8>> = if mode == "120000" {
                std::fs::read_link(&file).map(|t| t.into_os_string().into_vec())
            } else {
                std::fs::read(&file)
            };
            let id = match bytes
                .map_err(|e| e.to_string())
                .and_then(|b| self.hash_raw(&b))
            {
                Ok(id) => id,
                Err(reason) => {
                    unreadable.push(Refused {
                        path: p.clone(),
                        reason,
                    });
                    continue;
                }
            };
            info.extend_from_slice(format!("{mode} {id}\t").as_bytes());
            info.extend_from_slice(p);
            info.push(0);
        }
        self.set_entries(&info)?;
        Ok(unreadable)
    }

    fn hash_raw(&self, bytes: &[u8]) -> Result<String, String> {
        let out = self
            .git(
                &["hash-object", "-w", "--no-filters", "--stdin"],
                Some(bytes),
            )
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(first_line(&String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// `git update-index -z --index-info`: entries as `<mode> <id>\t<path>\0` (mode 0 removes).
    pub fn set_entries(&self, info: &[u8]) -> Result<(), CommitError> {
        if info.is_empty() {
            return Ok(());
        }
        let out = self.git(&["update-index", "-z", "--index-info"], Some(info))?;
        check(out, "update-index --index-info")
    }

    /// Paths with unresolved conflicts (stages 1-3) in the copy.
    pub fn unmerged(&self) -> Result<Vec<Vec<u8>>, CommitError> {
        let out = self.git(&["ls-files", "-u", "-z"], None)?;
        let mut paths: Vec<Vec<u8>> = out
            .stdout
            .split(|&b| b == 0)
            .filter_map(|rec| {
                rec.iter()
                    .position(|&b| b == b'\t')
                    .map(|i| rec[i + 1..].to_vec())
            })
            .collect();
        paths.dedup();
        Ok(paths)
    }

    /// The tree of the copy (`git write-tree`, which reuses the cache-tree and writes only the
    /// trees that changed); `None` while it has unresolved conflicts.
    pub fn write_tree(&self) -> Result<Option<Oid>, CommitError> {
        let out = self.git(&["write-tree"], None)?;
        if out.status.success() {
            let hex = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            return Oid::from_str(&hex)
                .map(Some)
                .map_err(|source| CommitError::Git {
                    what: "read write-tree's output".into(),
                    source,
                });
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("unmerged") {
            return Ok(None);
        }
        Err(cli::CliError::Failed {
            args: "write-tree".into(),
            stderr: stderr.trim().to_owned(),
        }
        .into())
    }

    /// Makes the copy the real index, if the real index is still the file that was copied.
    /// `index.lock` is held only for a comparison and a rename (no child process runs under
    /// it); a lock held by git is waited for briefly, never taken over.
    pub fn install(&self) -> Result<Install, CommitError> {
        let lock = lock_path(&self.real);
        let io = |source| CommitError::Io {
            path: lock.clone(),
            source,
        };
        // The lock is taken by hard-linking a file that already holds gate's marker: a gate
        // killed at any instant leaves either no lock or a marked one (which the next run
        // removes), never an empty lock that would look like git's and block git for good.
        // Beside the lock, so the link never crosses file systems.
        let dir = lock.parent().unwrap_or(Path::new("."));
        let marker = dir.join(format!("{MARKER_PREFIX}{}", std::process::id()));
        let mark = format!(
            "{}{}\n",
            String::from_utf8_lossy(LOCK_MARK),
            std::process::id()
        );
        std::fs::write(&marker, mark).map_err(io)?;
        let mut held = false;
        for _ in 0..100 {
            match std::fs::hard_link(&marker, &lock) {
                Ok(()) => {
                    held = true;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&marker);
                    return Err(io(e));
                }
            }
        }
        let _ = std::fs::remove_file(&marker);
        if !held {
            return Ok(Install::Locked);
        }
        let outcome = if Identity::of(&self.real) == self.copied {
            std::fs::rename(&self.path, &self.real).map(|()| Install::Replaced)
        } else {
            Ok(Install::Changed)
        };
        let _ = std::fs::remove_file(&lock);
        outcome.map_err(io)
    }
}

/// Gives the copy the index's own modification time. git decides which entries are "racily
/// clean" (a file changed in the same second the index was written, same size: its stat data
/// looks unchanged) by comparing them with the index file's mtime; a copy with a newer mtime
/// would make git trust those entries, and an edit made in that second would vanish from
/// `git status` once the copy became the index.
fn keep_timestamp(real: &Path, copy: &Path) -> std::io::Result<()> {
    let mtime = std::fs::metadata(real)?.modified()?;
    std::fs::OpenOptions::new()
        .write(true)
        .open(copy)?
        .set_modified(mtime)
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(lock_path(&self.path));
    }
}

/// The file holding gate's lock marker before it is linked as `index.lock`.
const MARKER_PREFIX: &str = "gate-lockmark-";

/// Every scratch index is named `<state>/index-<purpose>-<pid>`.
const PREFIX: &str = "index-";

fn lock_path(index: &Path) -> PathBuf {
    let mut name = index.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("git refused it")
        .to_owned()
}

fn check(out: std::process::Output, what: &str) -> Result<(), CommitError> {
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if stderr.contains(".lock': File exists") {
        return Err(CommitError::Locked(stderr));
    }
    Err(cli::CliError::Failed {
        args: what.into(),
        stderr,
    }
    .into())
}

/// `<state>/index-<purpose>-<n>-<pid>`: unique in this process too (the watcher snapshots
/// several worktrees, whose scratch files share the common state directory), the pid last so
/// that the leftovers of a dead process can be found.
fn scratch_name(state: &Path, purpose: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    state.join(format!("{PREFIX}{purpose}-{n}-{}", std::process::id()))
}
