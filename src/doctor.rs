//! `gate doctor`: is everything gate needs in place for this project? Each check is a pure
//! function of facts gathered once ([`Facts`]), so the verdicts are tested with plain values;
//! [`gather`] is the only part that touches the disk, git, tmux and the kernel.
//!
//! Every failed check says what to run to fix it. The names are a public interface (`--json`):
//! add, never rename.

pub mod agent_clis;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{self, Config, ConfigError};
use crate::hooks::install::{self, HookStatus};
use crate::hooks::{self, HooksDir};
use crate::registry::Registry;
use crate::repo::Repo;
use crate::spec::ArtifactKind;
use crate::tmux::{Tmux, TmuxError};
use crate::watch::{daemon, fs::RAISE_LIMIT};

/// One verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    /// The command (or edit) that fixes it; `None` when `ok`.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The `--json` document: `{ok, checks: [{name, ok, detail, fix}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(checks: Vec<Check>) -> Report {
        Report {
            ok: checks.iter().all(|c| c.ok),
            checks,
        }
    }
}

/// Everything the checks look at, gathered once.
pub struct Facts {
    pub root: PathBuf,
    pub config: Result<Config, ConfigError>,
    pub hooks_dir: HooksDir,
    pub hooks: Vec<HookStatus>,
    pub watcher: Option<daemon::Status>,
    pub watcher_running: bool,
    /// Panes on the tmux server gate talks to, or why it cannot be reached.
    pub tmux: Result<usize, TmuxError>,
    /// `fs.inotify.max_user_watches`, where the kernel has it.
    pub watch_limit: Option<u64>,
    /// Directories the watcher would watch (not ignored).
    pub watched_dirs: usize,
    /// Templates directory (repo-relative) and, per template, whether it is there (or why it
    /// cannot be used).
    pub templates_dir: String,
    pub templates: Vec<(ArtifactKind, Result<bool, String>)>,
    pub spec_dir: String,
    pub spec_dir_ignored: bool,
    /// The implementation globs, how many tracked code files ([`crate::layout::code_files`])
    /// they match, and how many there are.
    pub implementation: (Vec<String>, usize, usize),
    pub identity: (Option<String>, Option<String>),
    pub registered: Result<bool, String>,
    /// The agent settings files that run `gate guard`, and whether `gate` is on PATH (the
    /// committed settings name no path, so each machine must have it there).
    pub agent_guards: (Vec<String>, bool),
    /// Codex's config as it concerns this project: trust, hook switches.
    pub codex: agent_clis::CodexFacts,
    /// The hook commands of Claude Code's `.claude/settings.json`, each found here or not.
    pub claude: agent_clis::ClaudeFacts,
}

/// Gathers the facts for the repository at `repo`; `gate` is the running binary (what the
/// hook shims should call).
pub fn gather(repo: &Repo, gate: &Path) -> Facts {
    let root = repo.root().to_owned();
    let config = Config::load(&root);
    let effective = config.as_ref().cloned().unwrap_or_default();
    let hooks_dir = hooks::locate(repo);
    let hooks = install::status(&hooks_dir, gate);
    let paths = daemon::Paths::in_dir(&repo.state_dir());
    let watcher_running = daemon::is_running(&paths);
    let templates_dir = effective.spec.templates.to_string();
    let templates = ArtifactKind::ALL
        .iter()
        .map(|&kind| {
            // The repository's own copy (`Ok(true)`), the built-in fallback, or why not.
            let found = match crate::spec::templates::load(&root, &templates_dir, kind) {
                Ok(t) => Ok(t.path.is_some()),
                Err(e) => Err(e.reason),
            };
            (kind, found)
        })
        .collect();
    let config_handle = repo.git().config().ok();
    let get = |key: &str| {
        config_handle
            .as_ref()
            .and_then(|c| c.get_string(key).ok())
            .filter(|v| !v.trim().is_empty())
    };
    let env = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
    let identity = (
        env("GIT_AUTHOR_NAME").or_else(|| get("user.name")),
        env("GIT_AUTHOR_EMAIL").or_else(|| get("user.email")),
    );
    let registered = Registry::open_default()
        .and_then(|r| r.list())
        .map(|list| list.iter().any(|p| p == &root))
        .map_err(|e| e.to_string());
    let globs: Vec<String> = effective
        .spec
        .implementation
        .iter()
        .map(|g| g.0.clone())
        .collect();
    let tracked = crate::repo::status::tracked(&root).unwrap_or_default();
    let code = crate::layout::code_files(&tracked, &effective.spec.dir.to_string());
    let matched = crate::layout::count_matching(&globs, &code);
    let guards: Vec<String> = [".claude/settings.json", ".codex/hooks.json"]
        .into_iter()
        .filter(|f| {
            crate::statefile::read(&root.join(f))
                .ok()
                .flatten()
                .is_some_and(|b| String::from_utf8_lossy(&b).contains("gate guard"))
        })
        .map(str::to_owned)
        .collect();
    let worktrees = crate::repo::worktree::list(&root).unwrap_or_default();
    let main = crate::team::place::main_checkout(&worktrees, &root);
    Facts {
        codex: agent_clis::gather_codex(&root, &main),
        claude: agent_clis::gather_claude(&root),
        agent_guards: (guards, on_path("gate")),
        implementation: (globs, matched, code.len()),
        watcher: daemon::read_status(&paths).filter(|_| watcher_running),
        watcher_running,
        tmux: Tmux::from_env().panes().map(|p| p.len()),
        watch_limit: inotify_limit(),
        watched_dirs: watched_dirs(&root),
        spec_dir_ignored: repo.would_ignore(&effective.spec.dir),
        spec_dir: effective.spec.dir.to_string(),
        templates_dir,
        templates,
        identity,
        registered,
        hooks_dir,
        hooks,
        config,
        root,
    }
}

/// `/proc/sys/fs/inotify/max_user_watches`; `None` where there is no such file (not Linux).
pub fn inotify_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The directories the watcher would put a watch on: the same walk as `watch::fs` (every
/// ignore source honoured, `.git` skipped), plus the git directory and its refs.
pub fn watched_dirs(root: &Path) -> usize {
    let dirs = crate::watch::fs::unignored_dirs(root).count();
    dirs + 3
}

/// All the checks, in the order `gate doctor` prints them.
pub fn evaluate(f: &Facts) -> Report {
    Report::new(vec![
        config(&f.config),
        hooks(&f.hooks_dir, &f.hooks),
        watcher(f.watcher_running, f.watcher.as_ref()),
        tmux(&f.tmux),
        watch_limit(f.watch_limit, f.watched_dirs),
        templates(&f.templates_dir, &f.templates),
        spec_dir(&f.spec_dir, f.spec_dir_ignored),
        implementation(&f.implementation.0, f.implementation.1, f.implementation.2),
        identity(&f.identity.0, &f.identity.1),
        registered(&f.root, &f.registered),
        agent_guards(&f.agent_guards.0, f.agent_guards.1),
        agent_clis::claude_hooks(&f.claude),
        agent_clis::codex_trust(&f.codex),
        agent_clis::codex_hooks(&f.codex),
        agent_clis::codex_features(&f.codex),
    ])
}

pub fn config(result: &Result<Config, ConfigError>) -> Check {
    match result {
        Ok(_) => Check::pass("config", format!("{} is valid", config::FILE_NAME)),
        Err(e) => Check::fail(
            "config",
            e.to_string(),
            format!(
                "edit {} at the line shown (`gate config` prints the effective settings)",
                config::FILE_NAME
            ),
        ),
    }
}

pub fn hooks(dir: &HooksDir, statuses: &[HookStatus]) -> Check {
    let bad: Vec<String> = statuses
        .iter()
        .filter(|h| h.state != "current")
        .map(|h| match &h.reason {
            Some(r) => format!("{} {} ({r})", h.hook, h.state),
            None => format!("{} {}", h.hook, h.state),
        })
        .collect();
    if bad.is_empty() {
        return Check::pass(
            "hooks",
            format!(
                "{} hooks installed and current in {}",
                statuses.len(),
                dir.dir.display()
            ),
        );
    }
    let fix = match dir.manager {
        Some(manager) => format!(
            "{manager} owns {}: add `gate hook pre-commit` to .husky/pre-commit and \
             `gate hook pre-push \"$@\"` to .husky/pre-push",
            dir.dir.display()
        ),
        None => "gate hooks install".into(),
    };
    Check::fail("hooks", bad.join(", "), fix)
}

pub fn watcher(running: bool, status: Option<&daemon::Status>) -> Check {
    match (running, status) {
        (true, Some(s)) => Check::pass(
            "watcher",
            format!("running (pid {}) since {}, {} mode", s.pid, s.since, s.mode),
        ),
        (true, None) => Check::pass("watcher", "running"),
        (false, _) => Check::fail(
            "watcher",
            "no watcher is running: nothing auto-commits or audits this repository",
            "gate watch --daemon (or keep it running with `gate service install`)",
        ),
    }
}

pub fn tmux(result: &Result<usize, TmuxError>) -> Check {
    match result {
        Ok(n) => Check::pass("tmux", format!("server reachable, {n} pane(s)")),
        Err(e @ TmuxError::Spawn { .. }) => Check::fail(
            "tmux",
            e.to_string(),
            "install tmux (e.g. `sudo apt install tmux`); gate sends nudges through it",
        ),
        Err(e @ TmuxError::NoServer { .. }) => Check::fail(
            "tmux",
            e.to_string(),
            "start the agents' tmux server (tmux new -s NAME), or set GATE_TMUX_SOCKET",
        ),
        Err(e) => Check::fail(
            "tmux",
            e.to_string(),
            "check the tmux server (tmux ls); set GATE_TMUX_SOCKET to the agents' server",
        ),
    }
}

/// A tree needing more than this share of the per-user limit leaves too little for the other
/// programs watching files (editors, other watchers share it).
const WATCH_SHARE_PERCENT: u64 = 80;

pub fn watch_limit(limit: Option<u64>, dirs: usize) -> Check {
    let Some(limit) = limit else {
        return Check::pass(
            "watch-limit",
            format!("{dirs} directories to watch; no inotify limit to check on this system"),
        );
    };
    let detail = format!("{dirs} directories to watch, fs.inotify.max_user_watches is {limit}");
    if (dirs as u64) * 100 <= limit * WATCH_SHARE_PERCENT {
        Check::pass("watch-limit", detail)
    } else {
        Check::fail(
            "watch-limit",
            format!("{detail}: the watcher would fall back to a full scan every interval"),
            RAISE_LIMIT,
        )
    }
}

pub fn templates(dir: &str, found: &[(ArtifactKind, Result<bool, String>)]) -> Check {
    let missing: Vec<&str> = found
        .iter()
        .filter(|(_, f)| matches!(f, Ok(false)))
        .map(|(k, _)| k.template_name())
        .collect();
    let broken: Vec<String> = found
        .iter()
        .filter_map(|(k, f)| {
            f.as_ref()
                .err()
                .map(|e| format!("{}: {e}", k.template_name()))
        })
        .collect();
    if !broken.is_empty() {
        return Check::fail(
            "templates",
            format!("unusable in {dir}/: {}", broken.join("; ")),
            format!("fix or delete those files in {dir}/, then `gate init` writes fresh ones"),
        );
    }
    if !missing.is_empty() {
        return Check::fail(
            "templates",
            format!(
                "missing from {dir}/: {} (gate falls back to its built-in copies)",
                missing.join(", ")
            ),
            "gate init (writes the missing templates, keeps the others)",
        );
    }
    Check::pass(
        "templates",
        format!("spec, plan and tasks templates in {dir}/"),
    )
}

pub fn spec_dir(dir: &str, ignored: bool) -> Check {
    if ignored {
        Check::fail(
            "spec-dir",
            format!("{dir}/ is ignored by git: specs written there would never be committed"),
            format!(
                "remove the pattern from .gitignore (`git check-ignore -v {dir}/x/spec.md` shows which)"
            ),
        )
    } else {
        Check::pass("spec-dir", format!("{dir}/ is not ignored by git"))
    }
}

pub fn implementation(globs: &[String], matched: usize, code: usize) -> Check {
    let list = globs.join(", ");
    if code > 0 && matched == 0 {
        Check::fail(
            "implementation",
            format!(
                "spec.implementation ({list}) matches none of the {code} tracked files: the spec gate enforces nothing"
            ),
            "set spec.implementation in .gate.toml to where the code is (`gate init` in a fresh clone suggests globs)",
        )
    } else {
        Check::pass(
            "implementation",
            format!("spec.implementation ({list}) matches {matched} of {code} tracked files"),
        )
    }
}

pub fn agent_guards(files: &[String], gate_on_path: bool) -> Check {
    if files.is_empty() {
        return Check::pass(
            "agent-guards",
            "no agent settings run `gate guard` (gate init --agent-hooks adds them)",
        );
    }
    if gate_on_path {
        Check::pass(
            "agent-guards",
            format!("{} run `gate guard`, and gate is on PATH", files.join(", ")),
        )
    } else {
        Check::fail(
            "agent-guards",
            format!(
                "{} run `gate guard`, but gate is not on PATH: the agents run unguarded",
                files.join(", ")
            ),
            "install gate on PATH (cargo install --path <gate checkout>)",
        )
    }
}

/// Whether an executable named `name` is in a directory of `$PATH`.
pub fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

pub fn identity(name: &Option<String>, email: &Option<String>) -> Check {
    match (name, email) {
        (Some(n), Some(e)) => Check::pass("git-identity", format!("{n} <{e}>")),
        _ => Check::fail(
            "git-identity",
            format!(
                "no git {} set: `gate finish` cannot tag, and auto-commits are signed \"gate\"",
                match (name, email) {
                    (None, None) => "user.name or user.email",
                    (None, _) => "user.name",
                    _ => "user.email",
                }
            ),
            "git config user.name \"Your Name\" && git config user.email you@example.com",
        ),
    }
}

pub fn registered(root: &Path, result: &Result<bool, String>) -> Check {
    match result {
        Ok(true) => Check::pass("registered", "in the project list (`gate status --all`)"),
        Ok(false) => Check::fail(
            "registered",
            format!("{} is not in the project list", root.display()),
            "gate init (registers it; keeps existing files)",
        ),
        Err(e) => Check::fail(
            "registered",
            e.clone(),
            "move the project list aside and run `gate init` again",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(name: &str, state: &'static str) -> HookStatus {
        HookStatus {
            hook: name.into(),
            path: PathBuf::from(format!("/r/.git/hooks/{name}")),
            state,
            reason: None,
            chained: None,
        }
    }

    fn plain_dir() -> HooksDir {
        HooksDir {
            dir: PathBuf::from("/r/.git/hooks"),
            hooks_path: None,
            manager: None,
        }
    }

    #[test]
    fn hooks_name_what_is_wrong_and_the_fix() {
        let ok = hooks(&plain_dir(), &[hook("pre-commit", "current")]);
        assert!(ok.ok && ok.fix.is_none());
        let bad = hooks(
            &plain_dir(),
            &[hook("pre-commit", "missing"), hook("pre-push", "current")],
        );
        assert!(!bad.ok);
        assert_eq!(bad.detail, "pre-commit missing");
        assert_eq!(bad.fix.as_deref(), Some("gate hooks install"));
        let husky = HooksDir {
            manager: Some("husky"),
            ..plain_dir()
        };
        let bad = hooks(&husky, &[hook("pre-commit", "missing")]);
        assert!(bad.fix.unwrap().contains(".husky/pre-commit"));
    }

    #[test]
    fn the_watch_limit_leaves_room_for_others() {
        assert!(watch_limit(Some(8192), 100).ok);
        assert!(watch_limit(Some(8192), 6553).ok);
        let bad = watch_limit(Some(8192), 6554);
        assert!(!bad.ok);
        assert!(bad.fix.unwrap().contains("max_user_watches"));
        assert!(watch_limit(None, 1_000_000).ok);
    }

    #[test]
    fn templates_missing_or_broken() {
        let all = |f: fn(ArtifactKind) -> Result<bool, String>| {
            ArtifactKind::ALL
                .iter()
                .map(|&k| (k, f(k)))
                .collect::<Vec<_>>()
        };
        assert!(templates("t", &all(|_| Ok(true))).ok);
        let missing = templates("t", &all(|k| Ok(k != ArtifactKind::Plan)));
        assert!(
            missing.detail.contains("plan-template.md"),
            "{}",
            missing.detail
        );
        assert_eq!(
            missing.fix.unwrap().split(' ').take(2).collect::<Vec<_>>(),
            ["gate", "init"]
        );
        let broken = templates("t", &all(|_| Err("not valid UTF-8".into())));
        assert!(!broken.ok && broken.detail.contains("not valid UTF-8"));
    }

    #[test]
    fn identity_names_what_is_missing() {
        assert!(identity(&Some("A".into()), &Some("a@x".into())).ok);
        let c = identity(&Some("A".into()), &None);
        assert!(!c.ok && c.detail.contains("user.email") && !c.detail.contains("user.name"));
    }

    #[test]
    fn the_report_is_ok_only_when_every_check_is() {
        let r = Report::new(vec![spec_dir("specs", false), watcher(false, None)]);
        assert!(!r.ok);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["checks"][1]["name"], "watcher");
        assert_eq!(json["checks"][0]["fix"], serde_json::Value::Null);
        assert!(Report::new(vec![spec_dir("specs", false)]).ok);
    }
}
