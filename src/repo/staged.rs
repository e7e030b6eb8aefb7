//! A few paths looked up in git's index file, for the pre-commit hook.
//!
//! The hook needs the staged blobs of three artifacts. libgit2 reads an index whole: every
//! entry into a hash map and a SHA-1 (collision-detecting, slow) over the file, half of the
//! hook's time on a 10,000-file repository. This reader scans the entries in place, comparing
//! paths only, and stops at the first path past the last wanted one (entries are sorted).
//! It reads index versions 2 to 4 and nothing it does not understand: a split or sparse index,
//! an unknown version, a truncated file, or a path not found while the file says more entries
//! live elsewhere all answer `None`, and the caller asks git itself (`git ls-files --stage`). The checksum is not
//! verified: git itself does not when `index.skipHash` is set, and a torn index fails the
//! commit in git first.

use std::path::Path;

use git2::Oid;

/// What the index holds at one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Missing,
    Blob(Oid),
    /// Unmerged (stages 1 to 3).
    Conflicted,
}

/// Looks up `paths` (repo-relative, `/`-separated) in the index file at `index`; `None` when
/// this reader cannot answer for the file.
pub fn lookup(index: &Path, paths: &[&str]) -> Option<Vec<Entry>> {
    let file = std::fs::File::open(index).ok()?;
    let map = Mapped::new(&file)?;
    scan(map.bytes(), paths)
}

/// The index file mapped read-only: only the pages the scan touches are read (the artifacts
/// sort before `src/`, so most of a large index is never paged in). git replaces the index by
/// renaming a new file over it, so the mapped file never changes under the scan.
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn new(file: &std::fs::File) -> Option<Mapped> {
        use std::os::fd::AsRawFd;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        // SAFETY: a private read-only mapping of a regular file we hold open; unmapped on drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then_some(Mapped { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

fn scan(bytes: &[u8], paths: &[&str]) -> Option<Vec<Entry>> {
    let mut out = vec![Entry::Missing; paths.len()];
    if bytes.len() < 12 + 20 || &bytes[..4] != b"DIRC" {
        return None;
    }
    let version = u32::from_be_bytes(bytes[4..8].try_into().ok()?);
    let count = u32::from_be_bytes(bytes[8..12].try_into().ok()?) as usize;
    if !(2..=4).contains(&version) {
        return None;
    }
    let end = bytes.len() - 20;
    let last = paths.iter().max()?.as_bytes();
    let mut at = 12;
    // Version 4 builds each path from the previous one; the buffer is reused.
    let mut path: Vec<u8> = Vec::new();
    for _ in 0..count {
        let fixed = bytes.get(at..at + 62)?;
        let flags = u16::from_be_bytes([fixed[60], fixed[61]]);
        let mut p = at + 62;
        if flags & 0x4000 != 0 {
            // Extended flags (skip-worktree, intent-to-add): two more bytes, version 3 and up.
            if version < 3 {
                return None;
            }
            p += 2;
        }
        let nul_from = |from: usize| bytes.get(from..end)?.iter().position(|b| *b == 0);
        let name: &[u8] = if version == 4 {
            // Prefix compression: strip N bytes from the previous path, then a NUL-ended suffix.
            let (strip, used) = varint(bytes.get(p..)?)?;
            p += used;
            let nul = nul_from(p)?;
            path.truncate(path.len().checked_sub(strip)?);
            path.extend_from_slice(&bytes[p..p + nul]);
            at = p + nul + 1;
            &path
        } else {
            let nul = nul_from(p)?;
            // Entries are padded with 1 to 8 NULs to a multiple of 8 bytes.
            at += (p + nul - at + 8) & !7;
            &bytes[p..p + nul]
        };
        if name.last() == Some(&b'/') {
            // A sparse index's directory entry: what it holds is not listed here.
            return None;
        }
        if let Some(i) = paths.iter().position(|w| w.as_bytes() == name) {
            let stage = (flags >> 12) & 0x3;
            out[i] = match stage {
                0 => Entry::Blob(Oid::from_bytes(&fixed[40..60]).ok()?),
                _ => Entry::Conflicted,
            };
        }
        // Entries are sorted: past the last wanted path, an entry found in this file is the
        // answer (a split index's own entries override its shared file). Only a path still
        // missing needs the rest, for the extensions.
        if name > last && !out.contains(&Entry::Missing) {
            return Some(out);
        }
        if at > end {
            return None;
        }
    }
    // A split index keeps most entries in a shared file this reader does not open; a sparse
    // index lists directories it has not expanded.
    if has_extension(bytes, at, end, b"link") || has_extension(bytes, at, end, b"sdir") {
        return None;
    }
    Some(out)
}

/// Git's offset varint (version 4 path compression).
fn varint(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = (*bytes.first()? & 0x7f) as usize;
    let mut used = 1;
    let mut byte = bytes[0];
    while byte & 0x80 != 0 {
        byte = *bytes.get(used)?;
        value = ((value + 1) << 7) | (byte & 0x7f) as usize;
        used += 1;
    }
    Some((value, used))
}

/// Whether the extensions after the entries (from `from` to the checksum at `end`) include
/// `signature`.
fn has_extension(bytes: &[u8], from: usize, end: usize, signature: &[u8; 4]) -> bool {
    let mut at = from;
    while at + 8 <= end {
        if &bytes[at..at + 4] == signature {
            return true;
        }
        let Ok(len) = bytes[at + 4..at + 8].try_into().map(u32::from_be_bytes) else {
            return false;
        };
        at += 8 + len as usize;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    fn repo_with(version: &str) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        git(d, &["init", "-q"]);
        git(d, &["config", "index.version", version]);
        for (p, text) in [
            ("a.txt", "a"),
            ("specs/001-x/plan.md", "plan"),
            ("specs/001-x/spec.md", "spec"),
            ("specs/001-xy/spec.md", "other"),
            ("zzz/last.rs", "z"),
        ] {
            let path = d.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        git(d, &["add", "-A"]);
        tmp
    }

    #[test]
    fn finds_what_libgit2_finds_in_every_index_version() {
        for version in ["2", "3", "4"] {
            let tmp = repo_with(version);
            let index = tmp.path().join(".git/index");
            let wanted = [
                "specs/001-x/spec.md",
                "specs/001-x/plan.md",
                "specs/001-x/tasks.md",
            ];
            let found = lookup(&index, &wanted).unwrap_or_else(|| panic!("v{version}"));
            let git = git2::Index::open(&index).unwrap();
            for (w, f) in wanted.iter().zip(&found) {
                let expected = git
                    .get_path(Path::new(w), 0)
                    .map_or(Entry::Missing, |e| Entry::Blob(e.id));
                assert_eq!(*f, expected, "v{version} {w}");
            }
        }
    }

    #[test]
    fn a_split_index_is_read_right_or_left_to_git() {
        let tmp = repo_with("2");
        git(tmp.path(), &["update-index", "--split-index"]);
        std::fs::write(tmp.path().join("specs/001-x/spec.md"), "changed").unwrap();
        git(tmp.path(), &["add", "specs/001-x/spec.md"]);
        let index = tmp.path().join(".git/index");
        let wanted = ["specs/001-x/spec.md", "specs/001-x/plan.md"];
        // libgit2 refuses a split index; git's own listing is the reference.
        let out = Command::new("git")
            .args(["ls-files", "--stage", "--"])
            .args(wanted)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let listing = String::from_utf8(out.stdout).unwrap();
        if let Some(found) = lookup(&index, &wanted) {
            for (w, f) in wanted.iter().zip(found) {
                let Entry::Blob(oid) = f else {
                    panic!("{w}: {f:?}")
                };
                assert!(listing.contains(&format!("{oid} 0\t{w}")), "{w}: {listing}");
            }
        }
    }

    #[test]
    fn what_it_cannot_read_is_left_to_libgit2() {
        assert_eq!(scan(b"not an index at all, not at all, no", &["a"]), None);
        let tmp = repo_with("2");
        let bytes = std::fs::read(tmp.path().join(".git/index")).unwrap();
        assert_eq!(scan(&bytes[..100], &["zzz/last.rs"]), None, "truncated");
    }
}
