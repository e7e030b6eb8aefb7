//! One watcher per repository: an exclusive lock held for the watcher's lifetime (the kernel
//! releases it when the process dies, so a crash never leaves a stale lock), and a status file
//! replaced atomically after every decision.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("a watcher is already running for this repository{}; it covers every worktree (see gate watch --status)", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Running { pid: Option<u32> },
    #[error("cannot use {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DaemonError + '_ {
    move |source| DaemonError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What `gate watch --status` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    /// RFC 3339.
    pub since: String,
    /// `events` (inotify) or `polling` (the watch limit was hit).
    pub mode: String,
    pub watches: usize,
    #[serde(default)]
    pub last_decision: Option<String>,
    #[serde(default)]
    pub last_decision_at: Option<String>,
    /// Every worktree the watcher covers, main first.
    #[serde(default)]
    pub worktrees: Vec<WorktreeStatus>,
}

/// One worktree in [`Status`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorktreeStatus {
    pub root: PathBuf,
    /// `None` when detached.
    #[serde(default)]
    pub branch: Option<String>,
    /// `starting`, `events`, `polling` or `failed`.
    pub mode: String,
    pub watches: usize,
    /// Changed paths waiting for the next auto-commit.
    #[serde(default)]
    pub pending: usize,
    #[serde(default)]
    pub last_decision: Option<String>,
    #[serde(default)]
    pub last_decision_at: Option<String>,
    /// The `.gate.toml` problem that made the watcher keep the last good config.
    #[serde(default)]
    pub config_error: Option<String>,
}

pub struct Paths {
    pub lock: PathBuf,
    pub status: PathBuf,
    pub log: PathBuf,
}

impl Paths {
    pub fn in_dir(state: &Path) -> Paths {
        Paths {
            lock: state.join("watch.lock"),
            status: state.join("watch.json"),
            log: state.join("watch.log"),
        }
    }
}

/// Held by the running watcher; dropping it (or dying) releases the repository.
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn acquire(paths: &Paths) -> Result<Lock, DaemonError> {
        if let Some(dir) = paths.lock.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&paths.lock)
            .map_err(io(&paths.lock))?;
        if !file.metadata().map_err(io(&paths.lock))?.is_file() {
            let why =
                std::io::Error::other("not a regular file: move it away (`mv` it) and start again");
            return Err(io(&paths.lock)(why));
        }
        // `is_running` probes by taking the lock for an instant; a watcher starting in that
        // instant must not mistake the probe for a running watcher, so it tries a few times.
        for _ in 0..20 {
            match file.try_lock() {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(TryLockError::WouldBlock) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                Err(TryLockError::Error(e)) => return Err(io(&paths.lock)(e)),
            }
        }
        Err(DaemonError::Running {
            pid: read_status(paths).map(|s| s.pid),
        })
    }
}

/// Whether some process holds the lock right now. Probing takes the lock for an instant when
/// it is free (flock has no query); [`Lock::acquire`] allows for that.
pub fn is_running(paths: &Paths) -> bool {
    let Ok(Some(file)) = crate::statefile::open(&paths.lock, true) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}

pub fn read_status(paths: &Paths) -> Option<Status> {
    serde_json::from_slice(&crate::statefile::read(&paths.status).ok()??).ok()
}

pub fn write_status(paths: &Paths, status: &Status) -> Result<(), DaemonError> {
    let mut bytes = serde_json::to_vec_pretty(status).map_err(|e| io(&paths.status)(e.into()))?;
    bytes.push(b'\n');
    replace_file(&paths.status, &bytes).map_err(io(&paths.status))
}

/// Replaces `path` whole: written to `<path>.tmp`, then renamed over it. Only the watcher
/// holding the lock writes its files, so one fixed temp name is safe, and the one a killed
/// watcher leaves behind is reused by the next (random temp names piled up, one per kill).
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// Asks the running watcher to stop (SIGTERM: it finishes a commit in flight first) and waits
/// up to `wait` for it to release the lock. Returns the pid it signalled.
pub fn stop(paths: &Paths, wait: std::time::Duration) -> Result<Option<u32>, DaemonError> {
    if !is_running(paths) {
        return Ok(None);
    }
    let Some(pid) = read_status(paths).map(|s| s.pid) else {
        return Ok(None);
    };
    // SAFETY: kill(2) with a pid read from our own status file and a constant signal.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + wait;
    while is_running(paths) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(Some(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::in_dir(dir.path());
        let lock = Lock::acquire(&paths).unwrap();
        write_status(
            &paths,
            &Status {
                pid: 42,
                ..Status::default()
            },
        )
        .unwrap();
        assert!(is_running(&paths));
        match Lock::acquire(&paths) {
            Err(DaemonError::Running { pid }) => assert_eq!(pid, Some(42)),
            other => panic!("{:?}", other.err()),
        }
        drop(lock);
        assert!(!is_running(&paths));
        assert!(Lock::acquire(&paths).is_ok());
    }
}
