//! Git hooks: where they live, what gate's shim looks like, and the decisions they make.
//!
//! The shim is a few lines of POSIX sh that runs the hook that was there before (kept beside
//! it as `<hook>.pre-gate`) and then `exec`s `gate hook <name>`. It finds gate at the absolute
//! path recorded at install, then on `PATH`; when gate is missing, the blocking hooks fail
//! loudly (a guard that passes when its binary is gone enforces nothing).

mod command;
pub mod guard;
pub mod install;
pub mod run;
pub mod settings;

use std::path::{Path, PathBuf};

use crate::repo::Repo;

/// The hooks gate installs, in the order `gate hooks status` shows them. None runs after
/// every commit: the audit judges commits by content, so a post-commit record would only cost
/// a process per commit.
pub const HOOKS: [&str; 4] = ["pre-commit", "pre-push", "post-checkout", "post-merge"];

/// Hooks older versions of gate installed: `gate hooks install` takes gate's shim away again
/// (putting back what it had chained), `uninstall` too.
pub const RETIRED: [&str; 1] = ["post-commit"];

/// Bumped whenever the shim text changes, so `status` can call older shims stale.
pub const SHIM_VERSION: u32 = 2;

const MARKER: &str = "# gate-shim: ";
const BINARY: &str = "# gate-binary: ";

/// Whether a hook can stop git: the pre- hooks can, the post- hooks only report.
pub fn blocks(hook: &str) -> bool {
    hook.starts_with("pre-")
}

/// The shim for `hook` calling the gate binary at `gate`.
pub fn shim(hook: &str, gate: &Path) -> String {
    let gate = sh_quote(&gate.to_string_lossy());
    let missing_exit = if blocks(hook) { 1 } else { 0 };
    // pre-push gets the refs on stdin; both the previous hook and gate need them. The other
    // hooks hand the process over to gate (`exec`): one fork less on every commit.
    let (read_stdin, feed, run) = if hook == "pre-push" {
        ("input=$(cat)\n", "printf '%s\\n' \"$input\" | ", "")
    } else {
        ("", "", "exec ")
    };
    format!(
        r#"#!/bin/sh
{MARKER}{SHIM_VERSION}
{BINARY}{gate}
# Installed by `gate hooks install`; `gate hooks uninstall` puts back what was here before.
# The previous hook, if any, is kept beside this file as {hook}.pre-gate and runs first.
hook={hook}
# A chained hook that is itself a gate shim must not run gate twice.
[ "${{GATE_HOOK_RUNNING:-}}" = "$hook" ] && exit 0
{read_stdin}prev="$0.pre-gate"
if [ -x "$prev" ]; then
  {feed}GATE_HOOK_RUNNING=$hook "$prev" "$@" || exit $?
fi
gate={gate}
if [ ! -x "$gate" ]; then
  gate=$(command -v gate 2>/dev/null) || {{
    echo "gate: the $hook hook cannot run: the gate binary is missing (installed from {gate})." >&2
    echo "gate: reinstall gate and run 'gate hooks install', or remove gate's hooks with 'gate hooks uninstall'." >&2
    exit {missing_exit}
  }}
fi
{feed}{run}"$gate" hook "$hook" "$@"
"#
    )
}

/// What a hook file says about itself, if it is gate's shim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimInfo {
    pub version: u32,
    pub binary: String,
}

pub fn parse_shim(text: &str) -> Option<ShimInfo> {
    let mut lines = text.lines().skip(1);
    let version = lines.next()?.strip_prefix(MARKER)?.trim().parse().ok()?;
    let binary = lines.next()?.strip_prefix(BINARY)?.trim();
    Some(ShimInfo {
        version,
        binary: sh_unquote(binary),
    })
}

/// Single-quotes `s` for sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn sh_unquote(s: &str) -> String {
    s.strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .map(|s| s.replace(r"'\''", "'"))
        .unwrap_or_else(|| s.to_owned())
}

/// Where git runs hooks from for this repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HooksDir {
    pub dir: PathBuf,
    /// `core.hooksPath`, when set.
    pub hooks_path: Option<String>,
    /// A hook manager that owns the directory and must call gate itself.
    pub manager: Option<&'static str>,
}

/// `git rev-parse --git-path hooks`: `core.hooksPath` (relative to the working tree root),
/// else the common directory's `hooks/`, shared by all linked worktrees.
pub fn locate(repo: &Repo) -> HooksDir {
    let configured = repo
        .git()
        .config()
        .ok()
        .and_then(|c| c.get_string("core.hooksPath").ok())
        .filter(|s| !s.is_empty());
    match configured {
        Some(value) => {
            let expanded = match value.strip_prefix("~/") {
                Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
                None => PathBuf::from(&value),
            };
            let dir = if expanded.is_absolute() {
                expanded
            } else {
                repo.root().join(expanded)
            };
            let manager = value.contains(".husky").then_some("husky");
            HooksDir {
                dir,
                hooks_path: Some(value),
                manager,
            }
        }
        None => HooksDir {
            dir: repo.common_dir().join("hooks"),
            hooks_path: None,
            manager: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_round_trips_its_marker_and_binary() {
        let text = shim("pre-commit", Path::new("/opt/it's here/gate"));
        let info = parse_shim(&text).unwrap();
        assert_eq!(info.version, SHIM_VERSION);
        assert_eq!(info.binary, "/opt/it's here/gate");
        assert!(text.contains("exit 1"));
        assert!(shim("post-commit", Path::new("/g")).contains("exit 0\n  }"));
        assert!(parse_shim("#!/bin/sh\nexit 0\n").is_none());
    }

    #[test]
    fn pre_push_shim_feeds_stdin_to_both() {
        let text = shim("pre-push", Path::new("/g"));
        assert!(text.contains("input=$(cat)"));
        assert_eq!(text.matches("printf '%s\\n' \"$input\" | ").count(), 2);
    }
}
