//! Following a growing file line by line, as `tail -F` does, for `gate log --follow`.
//!
//! Each [`Follower::poll`] returns the complete lines appended since the last one; a line
//! still being written (no newline yet) waits for the next poll. The file is identified by
//! device and inode: when the path comes to name another file (rotated, or deleted and
//! recreated), the rest of the old file is read first and the new one from its start; when the
//! file shrinks (truncated), it is read again from its start. Polling, not inotify: one
//! `stat` per poll is cheap and works on every file system.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub struct Follower {
    path: PathBuf,
    open: Option<Open>,
    /// The start of a line whose newline has not been written yet.
    partial: Vec<u8>,
}

struct Open {
    file: File,
    id: (u64, u64),
    offset: u64,
}

impl Follower {
    /// Follows `path` from its start; the file need not exist yet.
    pub fn new(path: &Path) -> Follower {
        Follower {
            path: path.to_owned(),
            open: None,
            partial: Vec::new(),
        }
    }

    /// The complete lines (without their newline) appended since the last poll.
    pub fn poll(&mut self) -> std::io::Result<Vec<Vec<u8>>> {
        let mut lines = Vec::new();
        let current = match std::fs::metadata(&self.path) {
            Ok(m) => Some(((m.dev(), m.ino()), m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Some(open) = &mut self.open {
            match current {
                Some((id, len)) if id == open.id && len < open.offset => {
                    // Truncated: whatever was pending belonged to the old content.
                    open.offset = 0;
                    self.partial.clear();
                }
                Some((id, _)) if id == open.id => {}
                // Rotated or removed: finish the old file; a new one is opened below.
                _ => {
                    self.read_new(&mut lines)?;
                    self.open = None;
                    self.partial.clear();
                }
            }
        }
        if self.open.is_none()
            && let Some((id, _)) = current
        {
            match crate::statefile::open(&self.path, false) {
                Ok(Some(file)) => {
                    self.open = Some(Open {
                        file,
                        id,
                        offset: 0,
                    })
                }
                // Gone between the stat and the open: try again next poll.
                Ok(None) => return Ok(lines),
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        self.read_new(&mut lines)?;
        Ok(lines)
    }

    fn read_new(&mut self, lines: &mut Vec<Vec<u8>>) -> std::io::Result<()> {
        let Some(open) = &mut self.open else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        open.file.seek(SeekFrom::Start(open.offset))?;
        open.file.read_to_end(&mut bytes)?;
        open.offset += bytes.len() as u64;
        let mut rest = bytes.as_slice();
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(&rest[..end]);
            lines.push(line);
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn append(path: &Path, text: &str) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }

    fn strings(lines: Vec<Vec<u8>>) -> Vec<String> {
        lines
            .into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect()
    }

    #[test]
    fn reads_existing_then_appended_complete_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut f = Follower::new(&path);
        assert!(f.poll().unwrap().is_empty(), "absent file: nothing yet");
        append(&path, "a\nb\npart");
        assert_eq!(strings(f.poll().unwrap()), ["a", "b"]);
        assert!(f.poll().unwrap().is_empty());
        append(&path, "ial\nc\n");
        assert_eq!(strings(f.poll().unwrap()), ["partial", "c"]);
    }

    #[test]
    fn truncation_reads_from_the_start_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        append(&path, "one\ntwo\n");
        let mut f = Follower::new(&path);
        assert_eq!(f.poll().unwrap().len(), 2);
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        append(&path, "x\n");
        assert_eq!(strings(f.poll().unwrap()), ["x"]);
    }

    #[test]
    fn rotation_finishes_the_old_file_then_follows_the_new() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        append(&path, "old1\n");
        let mut f = Follower::new(&path);
        assert_eq!(strings(f.poll().unwrap()), ["old1"]);
        append(&path, "old2\n");
        std::fs::rename(&path, dir.path().join("log.1")).unwrap();
        assert_eq!(
            strings(f.poll().unwrap()),
            ["old2"],
            "the rest of the old file"
        );
        append(&path, "new1\nnew2\n");
        assert_eq!(strings(f.poll().unwrap()), ["new1", "new2"]);
    }
}
