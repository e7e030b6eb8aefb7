//! The git command line, for the few things libgit2 gets wrong or makes slow (ignore rules for
//! paths that do not exist yet, staging with git's own lock and `add -A` semantics).
//!
//! Reads run with `GIT_OPTIONAL_LOCKS=0` so they never take a lock that would make the agent's
//! own git command fail; no call ever runs hooks or touches the network.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot run git (is it installed and on PATH?)")]
    Spawn(#[source] std::io::Error),
    #[error("`git {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
}

/// `git -C root <args>`, with gate's environment; stdin as given.
pub fn git<I, S>(root: &Path, args: I, stdin: Option<&[u8]>) -> Result<Output, CliError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    git_env(root, args, stdin, &[])
}

/// [`git`] with extra environment variables (e.g. `GIT_INDEX_FILE`).
pub fn git_env<I, S>(
    root: &Path,
    args: I,
    stdin: Option<&[u8]>,
    env: &[(&str, &OsStr)],
) -> Result<Output, CliError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    use std::io::Write;
    let mut cmd = command(root, args);
    cmd.envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(CliError::Spawn)?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take())
        && let Err(e) = pipe.write_all(input)
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        // A git that exits before reading its input reports why through its status.
        return Err(CliError::Spawn(e));
    }
    child.wait_with_output().map_err(CliError::Spawn)
}

/// `git -C root <args>` with gate's environment: no optional locks, no prompts, C locale.
fn command<I, S>(root: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(root)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C");
    cmd
}

/// Like [`git`], but a non-zero exit is an error carrying git's message.
pub fn git_ok<I, S>(root: &Path, args: I, stdin: Option<&[u8]>) -> Result<Output, CliError>
where
    I: IntoIterator<Item = S> + Clone,
    S: AsRef<OsStr>,
{
    let out = git(root, args.clone(), stdin)?;
    if out.status.success() {
        return Ok(out);
    }
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    Err(CliError::Failed {
        args: args.join(" "),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

/// Whether git would ignore `path`, even when it does not exist yet (`check-ignore
/// --no-index`); libgit2 misses directory patterns such as `specs/` for absent directories.
pub fn is_ignored(root: &Path, path: &str) -> bool {
    git(root, ["check-ignore", "-q", "--no-index", "--", path], None)
        .is_ok_and(|o| o.status.success())
}

/// What tells git which repository, index and objects to use, besides `-C`: set by git for
/// the hooks it runs (a hook that runs gate passes them on) or by a user's shell.
const LOCATION_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_GRAFT_FILE",
];

/// [`git`] in another worktree (`root`), whatever gate's own environment says: with
/// `GIT_DIR` or `GIT_INDEX_FILE` inherited, `git -C root` would work on the repository and
/// index they name instead (gate finish once fast-forwarded the feature branch that way).
pub fn git_elsewhere<I, S>(root: &Path, args: I) -> Result<Output, CliError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = command(root, args);
    cmd.stdin(Stdio::null());
    for var in LOCATION_VARS {
        cmd.env_remove(var);
    }
    cmd.output().map_err(CliError::Spawn)
}
