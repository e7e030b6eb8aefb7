//! The doctor's checks of the agent CLIs as this machine will run them: whether Codex trusts
//! this project (it loads no project hooks, gate's guard included, where it does not) and which
//! hook switches its config sets; whether each hook command in Claude Code's committed
//! `.claude/settings.json` can start here (its program on PATH, or an existing executable).
//! [`gather`] reads the files, PATH and the environment; the checks are pure.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Check;
use crate::cli_trust::codex::{self, HookFeatures};
use crate::cli_trust::codex_hooks::{self, Hook};

/// The Codex side: its config file and what it says about this project.
#[derive(Debug, Clone)]
pub struct CodexFacts {
    /// Whether the project has Codex settings (`.codex/`): without them there is nothing to trust.
    pub used: bool,
    pub file: Option<PathBuf>,
    /// The folders Codex looks trust up under, most specific first: this checkout, then the
    /// main checkout when this one is a linked worktree.
    pub folders: Vec<PathBuf>,
    /// The `trust_level` of the first folder that has one, with that folder; or why the file
    /// could not be read.
    pub trust: Result<Option<(PathBuf, String)>, String>,
    pub features: Result<HookFeatures, String>,
    /// The hooks Codex lists for this checkout, with their trust, asked of `codex app-server`:
    /// `None` without `.codex/` or without `codex` on PATH.
    pub hooks: Option<Result<Vec<Hook>, String>>,
}

/// One hook command of Claude Code's settings and whether its program is found here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookCommand {
    pub command: String,
    /// The program it starts (after variable assignments, `$CLAUDE_PROJECT_DIR` and `~`
    /// expanded), or `None` when it cannot be known without running a shell (`$VAR`).
    pub program: Option<String>,
    pub found: bool,
}

/// The Claude Code side: the hook commands of `.claude/settings.json`, `None` without the file,
/// or why it cannot be read.
pub type ClaudeFacts = Result<Option<Vec<HookCommand>>, String>;

/// The settings file Claude Code reads its project hooks from (committed).
pub const CLAUDE_SETTINGS: &str = ".claude/settings.json";

pub fn gather_codex(root: &Path, main: &Path) -> CodexFacts {
    let used = root.join(".codex").is_dir();
    let file = codex::config_file();
    let mut folders = vec![root.to_owned()];
    if let Ok(canonical) = std::fs::canonicalize(root)
        && canonical != root
    {
        folders.push(canonical);
    }
    if main != root {
        folders.push(main.to_owned());
    }
    let (trust, features) = match &file {
        None => (Ok(None), Ok(HookFeatures::default())),
        Some(file) => {
            let trust = folders
                .iter()
                .map(|f| codex::trust_level(file, f).map(|l| l.map(|l| (f.clone(), l))))
                .find(|r| !matches!(r, Ok(None)))
                .unwrap_or(Ok(None))
                .map_err(|e| e.to_string());
            let features = codex::hook_features(file).map_err(|e| e.to_string());
            (trust, features)
        }
    };
    let hooks = (used && super::on_path("codex"))
        .then(|| codex_hooks::list("codex", root).map_err(|e| e.to_string()));
    CodexFacts {
        used,
        file,
        folders,
        trust,
        features,
        hooks,
    }
}

pub fn gather_claude(root: &Path) -> ClaudeFacts {
    let path = root.join(CLAUDE_SETTINGS);
    let bytes = match crate::statefile::read(&path) {
        Ok(None) => return Ok(None),
        Ok(Some(b)) => b,
        Err(e) => return Err(e.to_string()),
    };
    let settings: Value = serde_json::from_slice(&bytes).map_err(|e| {
        format!("{CLAUDE_SETTINGS} is not valid JSON ({e}): Claude Code cannot read its hooks")
    })?;
    let commands = settings
        .get("hooks")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|events| events.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|entry| entry.get("hooks").and_then(Value::as_array))
        .flatten()
        .filter_map(|h| h.get("command").and_then(Value::as_str))
        .map(|command| resolve(command, root))
        .collect();
    Ok(Some(commands))
}

/// Shell builtins a hook may start with: found wherever there is a shell.
const BUILTINS: &[&str] = &[
    "cd", "echo", "printf", "test", "[", "true", "false", "exit", "export", ".", "source",
    "command", "exec", "eval", ":",
];

/// Where `command`'s program is, as `sh -c` would look for it in `root` (Claude Code runs hooks
/// from the project directory).
fn resolve(command: &str, root: &Path) -> HookCommand {
    let words = shlex::split(command)
        .unwrap_or_else(|| command.split_whitespace().map(str::to_owned).collect());
    let first = words
        .iter()
        .find(|w| !is_assignment(w))
        .cloned()
        .unwrap_or_default();
    let root_text = root.to_string_lossy();
    let mut program = first
        .replace("${CLAUDE_PROJECT_DIR}", &root_text)
        .replace("$CLAUDE_PROJECT_DIR", &root_text);
    if let Some(rest) = program.strip_prefix("~/")
        && let Some(home) = dirs::home_dir()
    {
        program = home.join(rest).to_string_lossy().into_owned();
    }
    if program.contains('$') || program.contains('`') || program.is_empty() {
        return HookCommand {
            command: command.to_owned(),
            program: None,
            found: true,
        };
    }
    let found = if BUILTINS.contains(&program.as_str()) {
        true
    } else if program.contains('/') {
        is_executable(&root.join(&program))
    } else {
        super::on_path(&program)
    };
    HookCommand {
        command: command.to_owned(),
        program: Some(program),
        found,
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether Codex trusts this project, so that it loads the project's hooks (gate's guard).
pub fn codex_trust(f: &CodexFacts) -> Check {
    const NAME: &str = "codex-trust";
    if !f.used {
        return Check::pass(NAME, "no .codex/ settings here: nothing for Codex to trust");
    }
    let Some(file) = &f.file else {
        return Check::fail(
            NAME,
            "cannot find Codex's config (HOME is not set)",
            "set HOME (or CODEX_HOME) for the user who runs codex",
        );
    };
    let root = f
        .folders
        .first()
        .map_or_else(String::new, |r| r.display().to_string());
    let add = format!(
        "add `[projects.\"{root}\"]` with `trust_level = \"trusted\"` to {} (or start codex here \
         and answer its trust prompt)",
        file.display()
    );
    match &f.trust {
        Err(e) => Check::fail(
            NAME,
            e.clone(),
            format!("fix {} at the spot named", file.display()),
        ),
        Ok(Some((folder, level))) if level == "trusted" => Check::pass(
            NAME,
            format!(
                "Codex trusts {} ({}), so it loads this project's hooks (codex-hooks says \
                 which of them it runs)",
                folder.display(),
                file.display()
            ),
        ),
        Ok(Some((folder, level))) => Check::fail(
            NAME,
            format!(
                "{} marks {} trust_level = {level:?}: Codex loads none of this project's hooks, so \
                 its agents run without gate's guard",
                file.display(),
                folder.display()
            ),
            format!(
                "set `trust_level = \"trusted\"` under `[projects.\"{}\"]` in {}",
                folder.display(),
                file.display()
            ),
        ),
        Ok(None) => Check::fail(
            NAME,
            format!(
                "Codex does not trust {root} ({} has no trust_level for it): it asks at start, and \
                 until trusted loads none of this project's hooks (.codex/hooks.json), so its \
                 agents run without gate's guard",
                file.display()
            ),
            add,
        ),
    }
}

/// Whether Codex runs gate's hooks here: it skips a hook its user has not trusted (or that
/// changed since), and says nothing.
pub fn codex_hooks(f: &CodexFacts) -> Check {
    const NAME: &str = "codex-hooks";
    const FIX: &str = "gate init --agent-hooks (it asks Codex to trust gate's own hooks), or \
                       trust them in Codex's \"Hooks need review\" screen (/hooks)";
    if !f.used {
        return Check::pass(NAME, "no .codex/ settings here: no Codex hooks to run");
    }
    let hooks = match &f.hooks {
        None => {
            return Check::pass(
                NAME,
                "codex is not on PATH here, so gate cannot ask it which hooks it runs (it asks \
                 you to trust new or changed hooks at its start)",
            );
        }
        Some(Err(e)) => return Check::fail(NAME, format!("cannot ask Codex: {e}"), FIX),
        Some(Ok(hooks)) => hooks,
    };
    let root = f
        .folders
        .first()
        .map_or_else(String::new, |r| r.display().to_string());
    let gates: Vec<&Hook> = hooks.iter().filter(|h| h.is_gates()).collect();
    let others = hooks.iter().filter(|h| !h.is_gates() && !h.runs()).count();
    let others = match others {
        0 => String::new(),
        n => format!("; {n} other hook(s) wait for your review in Codex"),
    };
    if gates.is_empty() {
        return Check::fail(
            NAME,
            format!(
                "Codex lists none of gate's hooks for {root}: its agents run without gate's guard \
                 (Codex loads project hooks only in a folder it trusts: see codex-trust){others}"
            ),
            "gate init --agent-hooks, and trust the folder (codex-trust)",
        );
    }
    let skipped: Vec<String> = gates
        .iter()
        .filter(|h| !h.runs())
        .map(|h| format!("{} ({})", h.key, h.trust))
        .collect();
    if skipped.is_empty() {
        Check::pass(
            NAME,
            format!(
                "Codex trusts gate's {} hooks for {root}, so it runs them{others}",
                gates.len()
            ),
        )
    } else {
        Check::fail(
            NAME,
            format!(
                "Codex skips {} of gate's {} hooks for {root}, untrusted or changed since trusted: \
                 {}{others}",
                skipped.len(),
                gates.len(),
                skipped.join(", ")
            ),
            FIX,
        )
    }
}

/// Whether Codex's config turns hooks off, or uses the deprecated name of the switch.
pub fn codex_features(f: &CodexFacts) -> Check {
    const NAME: &str = "codex-features";
    let file = f.file.as_ref().map_or_else(
        || "~/.codex/config.toml".into(),
        |p| p.display().to_string(),
    );
    match &f.features {
        Err(e) => Check::fail(NAME, e.clone(), format!("fix {file} at the spot named")),
        Ok(HookFeatures {
            hooks: Some(false), ..
        }) => Check::fail(
            NAME,
            format!(
                "{file} sets [features] hooks = false: Codex runs no hooks, gate's guard included"
            ),
            format!("delete `hooks = false` from [features] in {file} (hooks are on by default)"),
        ),
        Ok(HookFeatures {
            codex_hooks: Some(value),
            ..
        }) => Check::fail(
            NAME,
            format!(
                "{file} sets [features] codex_hooks = {value}, the deprecated name of `hooks`{}",
                if *value {
                    " (hooks are on by default)"
                } else {
                    ": Codex runs no hooks, gate's guard included"
                }
            ),
            format!("delete `codex_hooks = {value}` from [features] in {file}"),
        ),
        Ok(_) => Check::pass(
            NAME,
            format!("{file} leaves Codex's hooks on (no deprecated codex_hooks key)"),
        ),
    }
}

/// Whether every hook command of Claude Code's settings can start on this machine.
pub fn claude_hooks(facts: &ClaudeFacts) -> Check {
    const NAME: &str = "claude-hooks";
    let commands = match facts {
        Err(e) => {
            return Check::fail(
                NAME,
                e.clone(),
                format!(
                    "fix {CLAUDE_SETTINGS} at the spot named (gate init --agent-hooks rewrites gate's entries)"
                ),
            );
        }
        Ok(None) => {
            return Check::pass(NAME, format!("no {CLAUDE_SETTINGS} here"));
        }
        Ok(Some(c)) => c,
    };
    let missing: Vec<&HookCommand> = commands.iter().filter(|c| !c.found).collect();
    if missing.is_empty() {
        return Check::pass(
            NAME,
            format!(
                "{} hook command(s) in {CLAUDE_SETTINGS}, each program found on this machine",
                commands.len()
            ),
        );
    }
    let programs: Vec<String> = missing
        .iter()
        .filter_map(|c| c.program.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let detail = missing
        .iter()
        .map(|c| {
            format!(
                "`{}` ({} not found)",
                c.command,
                c.program.as_deref().unwrap_or("?")
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let fix = if programs.iter().all(|p| p == "gate") {
        "install gate on PATH (cargo install --path <gate checkout>)".to_owned()
    } else {
        format!(
            "put {} on PATH (or make the path exist and executable), or change those hooks' \
             \"command\" in {CLAUDE_SETTINGS}",
            programs.join(", ")
        )
    };
    Check::fail(
        NAME,
        format!(
            "{detail} in {CLAUDE_SETTINGS}: Claude Code's hook fails, and a guard that cannot start guards nothing"
        ),
        fix,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codex(trust: Result<Option<(PathBuf, String)>, String>) -> CodexFacts {
        CodexFacts {
            used: true,
            file: Some(PathBuf::from("/h/.codex/config.toml")),
            folders: vec![PathBuf::from("/w/eng"), PathBuf::from("/w/main")],
            trust,
            features: Ok(HookFeatures::default()),
            hooks: None,
        }
    }

    #[test]
    fn codex_trust_names_the_file_and_the_exact_table() {
        let c = codex_trust(&codex(Ok(None)));
        assert!(!c.ok);
        assert_eq!(
            c.fix.as_deref(),
            Some(
                "add `[projects.\"/w/eng\"]` with `trust_level = \"trusted\"` to /h/.codex/config.toml \
                 (or start codex here and answer its trust prompt)"
            )
        );
        let main = codex_trust(&codex(Ok(Some(("/w/main".into(), "trusted".into())))));
        assert!(main.ok && main.detail.contains("/w/main"), "{main:?}");
        let no = codex_trust(&codex(Ok(Some(("/w/eng".into(), "untrusted".into())))));
        assert!(!no.ok && no.fix.unwrap().contains("[projects.\"/w/eng\"]"));
        let unused = CodexFacts {
            used: false,
            ..codex(Ok(None))
        };
        assert!(codex_trust(&unused).ok);
    }

    fn hook(key: &str, command: &str, trust: &str) -> Hook {
        Hook {
            key: format!("/w/main/.codex/hooks.json:{key}"),
            command: Some(command.into()),
            source: "project".into(),
            trust: trust.into(),
            enabled: true,
            hash: "sha256:0".into(),
        }
    }

    #[test]
    fn codex_hooks_says_which_of_gates_hooks_codex_skips() {
        let with = |hooks: Option<Result<Vec<Hook>, String>>| CodexFacts {
            hooks,
            ..codex(Ok(None))
        };
        assert!(codex_hooks(&with(None)).ok, "no codex on PATH");
        let all = codex_hooks(&with(Some(Ok(vec![
            hook("pre_tool_use:0:0", "gate guard", "trusted"),
            hook("stop:0:0", "gate agent-hook codex stop", "trusted"),
            hook("stop:0:1", "my-notifier", "untrusted"),
        ]))));
        assert!(all.ok, "{all:?}");
        assert!(all.detail.contains("gate's 2 hooks"), "{all:?}");
        assert!(all.detail.contains("1 other hook(s)"), "{all:?}");
        let some = codex_hooks(&with(Some(Ok(vec![
            hook("pre_tool_use:0:0", "gate guard", "modified"),
            hook("stop:0:0", "gate agent-hook codex stop", "trusted"),
        ]))));
        assert!(!some.ok, "{some:?}");
        assert!(
            some.detail
                .contains("/w/main/.codex/hooks.json:pre_tool_use:0:0 (modified)"),
            "{some:?}"
        );
        assert!(
            some.fix
                .as_deref()
                .unwrap()
                .contains("gate init --agent-hooks")
        );
        let none = codex_hooks(&with(Some(Ok(vec![hook(
            "stop:0:0",
            "other",
            "untrusted",
        )]))));
        assert!(
            !none.ok && none.detail.contains("none of gate's hooks"),
            "{none:?}"
        );
        let broken = codex_hooks(&with(Some(Err("no answer".into()))));
        assert!(
            !broken.ok && broken.detail.contains("no answer"),
            "{broken:?}"
        );
    }

    #[test]
    fn codex_hooks_off_or_deprecated_are_problems() {
        let with = |hooks, codex_hooks| CodexFacts {
            features: Ok(HookFeatures { hooks, codex_hooks }),
            ..codex(Ok(None))
        };
        assert!(codex_features(&with(None, None)).ok);
        assert!(codex_features(&with(Some(true), None)).ok);
        let old = codex_features(&with(None, Some(true)));
        assert!(!old.ok && old.detail.contains("deprecated"), "{old:?}");
        assert_eq!(
            old.fix.as_deref(),
            Some("delete `codex_hooks = true` from [features] in /h/.codex/config.toml")
        );
        assert!(!codex_features(&with(Some(false), None)).ok);
    }

    #[test]
    fn hook_programs_are_found_as_sh_would_find_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".claude/hooks")).unwrap();
        let script = root.join(".claude/hooks/check.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert!(resolve("sh -c 'exit 0'", root).found);
        assert!(resolve("\"$CLAUDE_PROJECT_DIR\"/.claude/hooks/check.sh --x", root).found);
        assert!(resolve("FOO=1 .claude/hooks/check.sh", root).found);
        assert!(resolve("cd sub && make", root).found);
        let gone = resolve("./.claude/hooks/gone.sh", root);
        assert!(!gone.found);
        let nowhere = resolve("no-such-program-xyz arg", root);
        assert_eq!(nowhere.program.as_deref(), Some("no-such-program-xyz"));
        assert!(!nowhere.found);
        // A program named by a variable cannot be known without a shell: not counted missing.
        assert!(resolve("$MY_HOOK run", root).found);
    }

    #[test]
    fn missing_hook_programs_are_named_with_the_fix() {
        let facts: ClaudeFacts = Ok(Some(vec![
            HookCommand {
                command: "gate guard".into(),
                program: Some("gate".into()),
                found: false,
            },
            HookCommand {
                command: "sh x".into(),
                program: Some("sh".into()),
                found: true,
            },
        ]));
        let c = claude_hooks(&facts);
        assert!(
            !c.ok && c.detail.contains("`gate guard` (gate not found)"),
            "{c:?}"
        );
        assert!(c.fix.unwrap().starts_with("install gate on PATH"));
        assert!(claude_hooks(&Ok(None)).ok);
        assert!(!claude_hooks(&Err("not valid JSON".into())).ok);
    }
}
