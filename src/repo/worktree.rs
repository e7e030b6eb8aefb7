//! Linked worktrees: which working trees share this repository (`git worktree list
//! --porcelain -z`, which knows about locked, prunable and bare entries better than libgit2),
//! and `git worktree add` for a new feature branch. The watcher covers every entry that has a
//! working tree on disk.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::cli::{self, CliError};

/// One entry of `git worktree list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    /// Its top directory, as git recorded it.
    pub root: PathBuf,
    /// The branch checked out there (short name), `None` when detached or bare.
    pub branch: Option<String>,
    /// The commit HEAD is at (`None` on an unborn branch).
    pub head: Option<String>,
    /// The main worktree (the first entry), as opposed to a linked one.
    pub main: bool,
    /// A bare repository's entry: no working tree.
    pub bare: bool,
    /// git would prune it: its directory is gone.
    pub prunable: bool,
    pub locked: bool,
}

impl Worktree {
    /// Whether the watcher can watch it: a working tree that exists.
    pub fn is_live(&self) -> bool {
        !self.bare && !self.prunable && self.root.is_dir()
    }
}

/// Every worktree of the repository containing `dir`, main first.
pub fn list(dir: &Path) -> Result<Vec<Worktree>, CliError> {
    let out = cli::git_ok(dir, ["worktree", "list", "--porcelain", "-z"], None)?;
    Ok(parse(&out.stdout))
}

/// `git worktree list --porcelain -z`: records of NUL-terminated lines, an empty line between.
pub fn parse(bytes: &[u8]) -> Vec<Worktree> {
    let mut out: Vec<Worktree> = Vec::new();
    let mut current: Option<Worktree> = None;
    for field in bytes.split(|&b| b == 0) {
        if field.is_empty() {
            out.extend(current.take());
            continue;
        }
        let (key, value) = match field.iter().position(|&b| b == b' ') {
            Some(i) => (&field[..i], &field[i + 1..]),
            None => (field, &b""[..]),
        };
        if key == b"worktree" {
            out.extend(current.take());
            current = Some(Worktree {
                root: PathBuf::from(OsStr::from_bytes(value)),
                branch: None,
                head: None,
                main: out.is_empty(),
                bare: false,
                prunable: false,
                locked: false,
            });
            continue;
        }
        let Some(w) = current.as_mut() else {
            continue;
        };
        let text = String::from_utf8_lossy(value);
        match key {
            b"HEAD" => w.head = Some(text.into_owned()).filter(|h| h.bytes().any(|b| b != b'0')),
            b"branch" => {
                w.branch = Some(text.strip_prefix("refs/heads/").unwrap_or(&text).to_owned())
            }
            b"bare" => w.bare = true,
            b"prunable" => w.prunable = true,
            b"locked" => w.locked = true,
            _ => {}
        }
    }
    out.extend(current);
    out
}

/// `git worktree add -b <branch> <dir>` from the current HEAD (or, on an unborn branch,
/// `--orphan`), run in `root`. The current checkout is not touched.
pub fn add(root: &Path, dir: &Path, branch: &str, unborn: bool) -> Result<(), CliError> {
    let mut args: Vec<&OsStr> = vec![OsStr::new("worktree"), OsStr::new("add"), OsStr::new("-q")];
    if unborn {
        args.extend([OsStr::new("--orphan"), OsStr::new("-b")]);
    } else {
        args.push(OsStr::new("-b"));
    }
    args.extend([OsStr::new(branch), OsStr::new("--"), dir.as_os_str()]);
    cli::git_ok(root, args, None).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_records_parse() {
        let text = "worktree /r/m\0HEAD 1111111111111111111111111111111111111111\0branch refs/heads/main\0\0\
                    worktree /r/w 1\0HEAD 2222222222222222222222222222222222222222\0detached\0locked\0\0\
                    worktree /r/gone\0HEAD 3333333333333333333333333333333333333333\0branch refs/heads/feature/001-x\0prunable gitdir file points to non-existent location\0\0";
        let w = parse(text.as_bytes());
        assert_eq!(w.len(), 3);
        assert!(w[0].main && !w[1].main && !w[2].main);
        assert_eq!(w[0].branch.as_deref(), Some("main"));
        assert_eq!(w[1].root, PathBuf::from("/r/w 1"));
        assert_eq!(w[1].branch, None);
        assert!(w[1].locked);
        assert_eq!(w[2].branch.as_deref(), Some("feature/001-x"));
        assert!(w[2].prunable && !w[2].is_live());
    }

    #[test]
    fn a_bare_main_entry_is_not_live() {
        let w = parse(b"worktree /r/bare.git\0bare\0\0worktree /r/w\0HEAD 0000000000000000000000000000000000000000\0branch refs/heads/main\0\0");
        assert!(w[0].bare && w[0].main);
        assert_eq!(w[1].head, None, "an unborn branch has no commit");
    }
}
