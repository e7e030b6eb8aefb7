//! Opening gate's own state files (`<git dir>/gate/*`) so that a file that is not what gate
//! wrote can never hang or crash a command: a FIFO would block `open` or `read` forever, a
//! directory or a device is not a state file, and a huge file is not one gate wrote.
//!
//! Every state file is opened here: non-blocking (a FIFO opens at once, then is refused),
//! checked to be a regular file, and read up to a limit. The error names the path and the fix.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Above this, a state file is refused rather than read (events.jsonl is read by `tail`ing).
pub const MAX_STATE: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("cannot open {}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is not a regular file (it is {kind}); gate's state files are plain files: move it away (`mv {} {}.bad`) and gate writes a new one",
        path.display(), path.display(), path.display()
    )]
    NotAFile {
        path: std::path::PathBuf,
        kind: &'static str,
    },
    #[error("{} is {size} bytes, more than a gate state file can be ({MAX_STATE}); move it away", path.display())]
    TooLarge { path: std::path::PathBuf, size: u64 },
}

impl StateFileError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, StateFileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Opens `path` for reading (and writing, with `write`), refusing anything but a regular file.
/// `Ok(None)` when it does not exist.
pub fn open(path: &Path, write: bool) -> Result<Option<File>, StateFileError> {
    let io = |source| StateFileError::Io {
        path: path.to_owned(),
        source,
    };
    let file = match OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // A directory opened for writing, a FIFO for writing with no reader (ENXIO).
        Err(e) => match kind_of(path) {
            Some(kind) => {
                return Err(StateFileError::NotAFile {
                    path: path.to_owned(),
                    kind,
                });
            }
            None => return Err(io(e)),
        },
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(StateFileError::NotAFile {
            path: path.to_owned(),
            kind: describe(&meta.file_type()),
        });
    }
    Ok(Some(file))
}

/// Takes the flock on `path` (created if absent, with its directory), waiting at most `wait`
/// for another holder; `Ok(None)` when it is still held then. Dropping the file releases it.
pub fn hold(path: &Path, wait: std::time::Duration) -> std::io::Result<Option<File>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file: move it away"));
    }
    let deadline = std::time::Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// The whole of `path`, or `Ok(None)` when it does not exist.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, StateFileError> {
    let Some(file) = open(path, false)? else {
        return Ok(None);
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > MAX_STATE {
        return Err(StateFileError::TooLarge {
            path: path.to_owned(),
            size,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_STATE)
        .read_to_end(&mut bytes)
        .map_err(|source| StateFileError::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok(Some(bytes))
}

fn kind_of(path: &Path) -> Option<&'static str> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    (!meta.is_file()).then(|| describe(&meta.file_type()))
}

fn describe(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a plain file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_at_once_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("watch.json");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read(&fifo).unwrap_err();
        assert!(err.to_string().contains("a FIFO"), "{err}");
        let err = open(&fifo, true).unwrap_err();
        assert!(err.to_string().contains("a FIFO"), "{err}");
    }

    #[test]
    fn a_directory_is_refused_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read(dir.path())
                .unwrap_err()
                .to_string()
                .contains("a directory")
        );
        assert!(
            open(dir.path(), true)
                .unwrap_err()
                .to_string()
                .contains("a directory")
        );
        assert!(read(&dir.path().join("absent")).unwrap().is_none());
    }
}
