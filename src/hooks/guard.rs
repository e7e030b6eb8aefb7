//! The agent-side guard: a PreToolUse hook for Claude Code (`.claude/settings.json`) and Codex
//! (`.codex/hooks.json`) that refuses shell commands which would slip past gate's git hooks.
//! `--no-verify` cannot be seen by a git hook; it can be seen here, before it runs. How a
//! command is read (as sh and git read it) lives in [`super::command`].

use std::path::Path;

use serde_json::Value;

pub use super::command::Aliases;
use super::command::reason;

/// Why `command` must not run, or `None` when it may (no git aliases known).
pub fn verdict(command: &str) -> Option<String> {
    verdict_with(command, &Aliases::default())
}

/// [`verdict`], expanding git aliases from `aliases`.
pub fn verdict_with(command: &str, aliases: &Aliases) -> Option<String> {
    let reason = reason(command, aliases, 0)?;
    Some(format!(
        "gate refuses this command: {reason}. Fix what the hook reports instead: run `gate check` \
         and follow its fix (for example `gate specify \"<name>\"` for a new feature branch)."
    ))
}

/// The tool's hook input (JSON on stdin) to the shell command it is about to run.
pub fn command_of(input: &str) -> Option<String> {
    let v: Value = serde_json::from_str(input).ok()?;
    v.get("tool_input")?
        .get("command")?
        .as_str()
        .map(str::to_owned)
}

/// The files a tool call is about to write: Claude Code's Write, Edit and MultiEdit
/// (`tool_input.file_path`) and Codex's patch tool (`*** Add File:` / `*** Update File:` lines
/// of its patch). `None` for any other tool.
pub fn edited_paths(input: &str) -> Option<Vec<String>> {
    let v: Value = serde_json::from_str(input).ok()?;
    let tool = v.get("tool_name")?.as_str()?;
    let args = v.get("tool_input")?;
    match tool {
        "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => {
            let path = args
                .get("file_path")
                .or_else(|| args.get("notebook_path"))?
                .as_str()?;
            Some(vec![path.to_owned()])
        }
        "apply_patch" | "ApplyPatch" => {
            let patch = ["input", "patch", "command"]
                .iter()
                .find_map(|k| args.get(*k).and_then(Value::as_str))?;
            Some(
                patch
                    .lines()
                    .filter_map(|l| {
                        l.strip_prefix("*** Add File: ")
                            .or_else(|| l.strip_prefix("*** Update File: "))
                    })
                    .map(|p| p.trim().to_owned())
                    .collect(),
            )
        }
        _ => None,
    }
}

/// The matcher of the file-edit guard in the agents' settings.
pub const EDIT_MATCHER: &str = "Write|Edit|MultiEdit|NotebookEdit|apply_patch";

pub use super::settings::SettingsError;

/// Adds the guard as `PreToolUse` hooks running `command` (one for shell commands, one for
/// file edits) to the settings file at `path` (Claude Code and Codex share this shape),
/// keeping everything else. Returns false when identical hooks are already there.
pub fn add_pre_tool_use(path: &Path, command: &str) -> Result<bool, SettingsError> {
    let specs = ["Bash", EDIT_MATCHER].map(|matcher| super::settings::HookSpec {
        event: "PreToolUse",
        matcher: Some(matcher),
        command: command.to_owned(),
    });
    super::settings::add_hooks(path, &specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bypasses_are_refused() {
        for bad in [
            "git commit --no-verify -m x",
            "git push --no-verify",
            "GATE_SKIP=1 git commit -m wip",
            "git commit -n -m x",
            "cd src && git commit -anm 'x'",
            "git -c core.hooksPath=/dev/null commit -m x",
            "gate hooks uninstall",
        ] {
            assert!(verdict(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn git_reads_options_the_way_git_does() {
        for bad in [
            "git commit --no-veri -m x",
            "git commit --no-verif -m x",
            "git push --no-veri origin main",
            "git commit -nm x",
            "git commit -qan -m x",
            "git -C . commit --no-verify -m x",
            "git -c core.HooksPath=/dev/null commit -m x",
            "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hookspath git commit -m x",
            "git -c alias.ci='commit --no-verify' ci -m x",
            "git -c alias.ci='!git commit -n' ci -m x",
            "git config alias.ci 'commit --no-verify'",
            "env -i git commit --no-veri -m x",
            "sh -c 'git commit --no-verify -m x'",
            "bash -lc \"cd src && git commit -n -m x\"",
            "echo $(git commit --no-verify -m x)",
            "true && /usr/bin/git commit --no-verify",
            "rm .git/hooks/pre-commit",
            "rm -rf .git/hooks",
            "chmod -x .git/hooks/pre-commit",
            "chmod a-x ../repo/.git/hooks/pre-push",
            "mv .git/hooks/pre-commit /tmp/x",
            "cp /dev/null .git/hooks/pre-commit",
            "echo 'exit 0' > .git/hooks/pre-commit",
            "printf x >.git/hooks/pre-commit",
            "find .git/hooks -delete",
            "sed -i 1d .git/hooks/pre-commit",
            "echo '{}' >> .git/gate/finished.jsonl",
            "rm .git/gate/audit.json",
            "tee -a .git/gate/finished.jsonl",
            "find . -name x -exec git commit --no-verify -m x \\;",
            "git rebase -x 'git commit --amend --no-verify --no-edit' main",
            "git rebase --exec='git commit -n --amend' main",
        ] {
            assert!(verdict(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn aliases_from_git_config_are_expanded() {
        let mut aliases = Aliases::default();
        aliases.0.insert("ci".into(), "commit --no-verify".into());
        aliases.0.insert("sneak".into(), "!git commit -n".into());
        aliases.0.insert("st".into(), "status".into());
        assert!(verdict_with("git ci -m x", &aliases).is_some());
        assert!(verdict_with("git sneak -m x", &aliases).is_some());
        assert!(verdict_with("git st", &aliases).is_none());
    }

    #[test]
    fn ordinary_commands_pass() {
        for ok in [
            "git commit -m 'no verify needed'",
            "git commit -m -n",
            "git status",
            "cargo test -- --nocapture",
            "grep -n foo src/lib.rs",
            "git commit -am 'fix n+1 query'",
            "git commit -m 'a note about --no-verify'",
            "git commit --verbose -m x",
            "git commit -m x -- notes-n.md",
            "git commit -F msg-n.txt",
            "cat .git/hooks/pre-commit",
            "ls -l .git/hooks",
            "cat .git/gate/events.jsonl",
            "git log --no-walk",
            "rm -rf target",
            "chmod +x scripts/build.sh",
        ] {
            assert_eq!(verdict(ok), None, "{ok}");
        }
    }

    #[test]
    fn reads_the_files_a_tool_call_would_write() {
        let write =
            r#"{"tool_name":"Write","tool_input":{"file_path":"/r/src/a.rs","content":"x"}}"#;
        assert_eq!(edited_paths(write), Some(vec!["/r/src/a.rs".to_owned()]));
        let patch = r#"{"tool_name":"apply_patch","tool_input":{"input":"*** Begin Patch\n*** Update File: src/b.rs\n@@\n*** Add File: specs/001-x/spec.md\n*** End Patch"}}"#;
        assert_eq!(
            edited_paths(patch),
            Some(vec![
                "src/b.rs".to_owned(),
                "specs/001-x/spec.md".to_owned()
            ])
        );
        assert_eq!(
            edited_paths(r#"{"tool_name":"Bash","tool_input":{"command":"ls"}}"#),
            None
        );
    }

    #[test]
    fn reads_the_command_from_hook_input() {
        let input = r#"{"tool_name":"Bash","tool_input":{"command":"git commit --no-verify"}}"#;
        assert_eq!(command_of(input).as_deref(), Some("git commit --no-verify"));
        assert_eq!(command_of("not json"), None);
    }

    #[test]
    fn settings_are_merged_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".claude/settings.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"model":"x","hooks":{"Stop":[]}}"#).unwrap();
        assert!(add_pre_tool_use(&path, "/bin/gate guard").unwrap());
        assert!(!add_pre_tool_use(&path, "/bin/gate guard").unwrap());
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["model"], "x");
        assert!(v["hooks"]["Stop"].is_array());
        assert_eq!(
            v["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
            "/bin/gate guard"
        );
        std::fs::write(&path, "{oops").unwrap();
        assert!(matches!(
            add_pre_tool_use(&path, "g"),
            Err(SettingsError::Invalid { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{oops");
    }
}
