//! One sender per pane at a time: an exclusive lock on a file named for the server and pane,
//! held for the whole type, pause, Enter, confirm sequence, so two messages never interleave.
//!
//! The lock is the kernel's (`flock`): it goes away with the process that held it, so a
//! crashed sender never leaves a pane locked. Lock files are never deleted (deleting one while
//! another process waits on it would let a third lock a fresh file beside it).

use std::fs::{DirBuilder, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::{Pane, TmuxError};

/// Held while a message is being typed into a pane; dropping it unlocks.
#[derive(Debug)]
pub struct PaneLock {
    _file: File,
    path: PathBuf,
}

impl PaneLock {
    /// Waits until no other gate process is typing into `pane`, then holds the pane.
    pub fn acquire(pane: &Pane) -> Result<PaneLock, TmuxError> {
        PaneLock::acquire_in(&lock_dir(&pane.socket_path), pane)
    }

    /// Like [`PaneLock::acquire`], with the lock file in `dir`.
    pub fn acquire_in(dir: &Path, pane: &Pane) -> Result<PaneLock, TmuxError> {
        let path = dir.join(file_name(pane));
        let err = |source| TmuxError::Lock {
            path: path.clone(),
            source,
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(err)?;
        file.lock().map_err(err)?;
        Ok(PaneLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `$XDG_RUNTIME_DIR/gate/tmux-locks`, else `<temp dir>/gate-<uid>/tmux-locks` where uid owns
/// the tmux socket (the temp dir is shared by all users; the socket is the user's own).
pub fn lock_dir(socket_path: &Path) -> PathBuf {
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty())
        && Path::new(&runtime).is_dir()
    {
        return PathBuf::from(runtime).join("gate").join("tmux-locks");
    }
    let owner = std::fs::metadata(socket_path)
        .map(|m| m.uid().to_string())
        .unwrap_or_else(|_| "shared".into());
    std::env::temp_dir()
        .join(format!("gate-{owner}"))
        .join("tmux-locks")
}

/// `<socket name>-<hash of socket path>-<pane number>.lock`: readable, and unique per server.
fn file_name(pane: &Pane) -> String {
    let socket = pane
        .socket_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let socket: String = socket
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    let number = pane.id.trim_start_matches('%');
    format!(
        "{socket}-{:016x}-{number}.lock",
        fnv1a(pane.socket_path.as_os_str().as_encoded_bytes())
    )
}

/// A stable hash (std's `DefaultHasher` may change between releases; two gate versions must
/// agree on the file).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane(id: &str, socket: &str) -> Pane {
        Pane {
            id: id.into(),
            session: "s".into(),
            window_index: 0,
            window_name: "w".into(),
            pane_index: 0,
            pid: 0,
            command: String::new(),
            path: PathBuf::new(),
            in_mode: false,
            active: true,
            socket_path: socket.into(),
            mark: None,
            role: None,
            dead: false,
            reports_to: None,
            restart: false,
        }
    }

    #[test]
    fn names_differ_per_server_and_pane() {
        let a = file_name(&pane("%3", "/tmp/tmux-0/default"));
        assert!(a.starts_with("default-") && a.ends_with("-3.lock"), "{a}");
        assert_ne!(a, file_name(&pane("%4", "/tmp/tmux-0/default")));
        assert_ne!(a, file_name(&pane("%3", "/tmp/tmux-1/default")));
        assert_eq!(a, file_name(&pane("%3", "/tmp/tmux-0/default")));
    }

    #[test]
    fn the_lock_excludes_a_second_holder() {
        let dir = tempfile::tempdir().unwrap();
        let p = pane("%1", "/tmp/tmux-0/default");
        let held = PaneLock::acquire_in(&dir.path().join("locks"), &p).unwrap();
        let again = File::open(held.path()).unwrap();
        assert!(again.try_lock().is_err());
        drop(held);
        assert!(again.try_lock().is_ok());
    }
}
