//! The working tree's changes as git itself reports them (`git status --porcelain -z`): exact
//! bytes for every path (non-UTF-8 names included), git's own untracked cache and fsmonitor,
//! and no lock taken (`GIT_OPTIONAL_LOCKS=0`, so the agent's git commands never fail on us).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::cli::{self, CliError};

/// How a path differs from HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Modified,
    Added,
    Deleted,
    Untracked,
    /// Both sides touched it in a merge: not resolved yet.
    Conflicted,
    /// An untracked directory holding its own repository.
    NestedRepo,
}

/// One changed path, as raw bytes relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: Vec<u8>,
    pub change: Change,
}

impl Entry {
    pub fn path(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.path))
    }

    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }
}

/// Above this many paths a full status is cheaper than a long command line.
pub const MAX_PATHSPECS: usize = 2000;

/// Above this many bytes of paths, too: the kernel refuses a command line over 2 MB (E2BIG),
/// and long paths reach that well before [`MAX_PATHSPECS`].
pub const MAX_PATHSPEC_BYTES: usize = 256 * 1024;

/// All changes (`paths` empty) or only those under `paths` (`git status` takes no
/// pathspec file, so they go on the command line; callers fall back to a full status above
/// [`MAX_PATHSPECS`] paths or [`MAX_PATHSPEC_BYTES`] bytes).
pub fn status(root: &Path, paths: &[Vec<u8>]) -> Result<Vec<Entry>, CliError> {
    let mut args: Vec<&OsStr> = [
        "status",
        "--porcelain=v1",
        "-z",
        "--no-renames",
        "--untracked-files=all",
        "--ignore-submodules=all",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let bytes: usize = paths.iter().map(|p| p.len() + 1).sum();
    if !paths.is_empty() && paths.len() <= MAX_PATHSPECS && bytes <= MAX_PATHSPEC_BYTES {
        args.push(OsStr::new("--"));
        args.extend(paths.iter().map(|p| OsStr::from_bytes(p)));
    }
    let out = cli::git_ok(root, literal(&args), None)?;
    Ok(parse(&out.stdout, root))
}

/// Paths staged in the index, or in `index_file` (git's `GIT_INDEX_FILE`: `git commit -a`
/// and `git commit <paths>` stage into a temporary index). git's own `diff --cached` skips
/// unchanged subtrees through the index's cache-tree; libgit2 reads every tree object
/// (10k files in 100 directories: 22 ms against 5).
pub fn staged(root: &Path, index_file: Option<&Path>) -> Result<Vec<String>, CliError> {
    let env: Vec<(&str, &OsStr)> = index_file
        .map(|i| ("GIT_INDEX_FILE", i.as_os_str()))
        .into_iter()
        .collect();
    let args = ["diff", "--cached", "--name-only", "-z", "--no-renames"];
    let out = cli::git_env(root, args, None, &env)?;
    if !out.status.success() {
        return Err(CliError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// Paths passed to git are literal: no globbing, no magic.
fn literal<'a>(args: &'a [&'a OsStr]) -> impl Iterator<Item = &'a OsStr> + Clone {
    std::iter::once(OsStr::new("--literal-pathspecs")).chain(args.iter().copied())
}

pub fn nul_joined(paths: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(paths.iter().map(|p| p.len() + 1).sum());
    for p in paths {
        out.extend_from_slice(p);
        out.push(0);
    }
    out
}

fn parse(raw: &[u8], root: &Path) -> Vec<Entry> {
    raw.split(|&b| b == 0)
        .filter(|r| r.len() > 3)
        .map(|record| {
            let (x, y, path) = (record[0], record[1], record[3..].to_vec());
            let change = match (x, y) {
                (b'?', b'?') if path.ends_with(b"/") && is_repo(root, &path) => Change::NestedRepo,
                (b'?', b'?') => Change::Untracked,
                (b'D', b'D') | (b'A', b'A') | (b'U', _) | (_, b'U') => Change::Conflicted,
                (_, b'D') | (b'D', _) => Change::Deleted,
                (b'A', _) => Change::Added,
                _ => Change::Modified,
            };
            let path = if change == Change::NestedRepo {
                path[..path.len() - 1].to_vec()
            } else {
                path
            };
            Entry { path, change }
        })
        .collect()
}

fn is_repo(root: &Path, dir: &[u8]) -> bool {
    root.join(OsStr::from_bytes(dir)).join(".git").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_records_are_classified() {
        let raw = b" M a.rs\0?? new\xff.txt\0 D gone\0UU both\0A  staged\0MD half\0";
        let entries = parse(raw, Path::new("/nonexistent"));
        let got: Vec<(Vec<u8>, Change)> = entries.into_iter().map(|e| (e.path, e.change)).collect();
        assert_eq!(
            got,
            vec![
                (b"a.rs".to_vec(), Change::Modified),
                (b"new\xff.txt".to_vec(), Change::Untracked),
                (b"gone".to_vec(), Change::Deleted),
                (b"both".to_vec(), Change::Conflicted),
                (b"staged".to_vec(), Change::Added),
                (b"half".to_vec(), Change::Deleted),
            ]
        );
    }
}
