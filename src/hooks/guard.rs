//! The agent-side guard: a PreToolUse hook for Claude Code (`.claude/settings.json`) and Codex
//! (`.codex/hooks.json`) that refuses shell commands which would slip past gate's git hooks.
//! `--no-verify` cannot be seen by a git hook; it can be seen here, before it runs.
//!
//! The command is read the way the shell and git read it, not by substring: it is cut into
//! simple commands at `;`, `&&`, `||`, `|`, `&`, newlines and command substitutions (quotes
//! respected), each split into words like sh does, wrappers (`env`, `sudo`, `command`, `sh -c`,
//! `eval`, ...) looked through, git's global options (`-C`, `-c key=value`, `--config-env`)
//! parsed, aliases (from git config and from `-c alias.x=...`) expanded, and then the options
//! of the git subcommand read as git parses them: a unique prefix of `--no-verify`
//! (`--no-veri`), `n` inside a cluster of short flags (`-anm msg`). Removing or disarming the
//! hook files (`rm`, `mv`, `chmod`, `cp`, `ln`, `truncate`, a redirection into them) is refused
//! too. What it cannot see is listed in the README (scripts, variables, other interpreters).

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};

/// `alias.<name>` values from git config, keyed by name.
#[derive(Debug, Clone, Default)]
pub struct Aliases(pub HashMap<String, String>);

impl Aliases {
    /// The aliases git would use in `dir` (repository, global and system config).
    pub fn load(dir: &Path) -> Aliases {
        let config = git2::Repository::discover(dir)
            .and_then(|r| r.config())
            .or_else(|_| git2::Config::open_default());
        let mut map = HashMap::new();
        if let Ok(config) = config
            && let Ok(mut entries) = config.entries(Some("alias\\..*"))
        {
            while let Some(Ok(entry)) = entries.next() {
                if let (Ok(name), Ok(value)) = (entry.name(), entry.value()) {
                    let name = name.split_once('.').map_or(name, |(_, n)| n);
                    map.insert(name.to_lowercase(), value.to_owned());
                }
            }
        }
        Aliases(map)
    }
}

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

/// How deep `sh -c`, `eval` and aliases may nest before the command is refused as opaque.
const MAX_DEPTH: usize = 8;

fn reason(command: &str, aliases: &Aliases, depth: usize) -> Option<&'static str> {
    if depth > MAX_DEPTH {
        return Some("the command nests shells or aliases too deeply to be checked");
    }
    if command.contains("GATE_SKIP") {
        return Some("GATE_SKIP bypasses gate's rules; it is for people, not agents");
    }
    if command.to_lowercase().contains("core.hookspath") {
        return Some("changing core.hooksPath disconnects gate's git hooks");
    }
    segments(command)
        .iter()
        .find_map(|seg| simple_command(&words(seg), aliases, depth))
}

/// Cuts a command line into simple commands at unquoted `;`, `&`, `|`, newlines and parens,
/// and at command substitutions (`$(`, backticks), which run even inside double quotes.
fn segments(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut single, mut double) = (false, false);
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if !single => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '\'' if !double => {
                single = !single;
                cur.push(c);
            }
            '"' if !single => {
                double = !double;
                cur.push(c);
            }
            '$' if !single && chars.peek() == Some(&'(') => {
                chars.next();
                out.push(std::mem::take(&mut cur));
            }
            '`' if !single => out.push(std::mem::take(&mut cur)),
            ';' | '&' | '|' | '\n' | '(' | ')' if !single && !double => {
                out.push(std::mem::take(&mut cur));
            }
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.retain(|s| !s.trim().is_empty());
    out
}

/// Splits like sh (quotes, backslashes); unbalanced quotes fall back to whitespace.
fn words(segment: &str) -> Vec<String> {
    shlex::split(segment).unwrap_or_else(|| {
        segment
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '"' || c == '\'').to_owned())
            .collect()
    })
}

/// Words that run the rest of the line as a command.
const WRAPPERS: [&str; 9] = [
    "command", "exec", "builtin", "nohup", "time", "sudo", "doas", "nice", "xargs",
];

fn simple_command(words: &[String], aliases: &Aliases, depth: usize) -> Option<&'static str> {
    let mut i = 0;
    // Assignments before the command (`VAR=value git ...`) and wrappers.
    while let Some(w) = words.get(i) {
        let is_assignment = w.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        let base = program(w);
        if is_assignment || WRAPPERS.contains(&base) {
            i += 1;
        } else if base == "env" || base == "timeout" {
            i += 1;
            // env's and timeout's own options and timeout's duration.
            while words.get(i).is_some_and(|w| w.starts_with('-')) {
                i += 1;
            }
            if base == "timeout" {
                i += 1;
            }
        } else {
            break;
        }
    }
    let rest = &words[i.min(words.len())..];
    let first = rest.first()?;
    match program(first) {
        "sh" | "bash" | "zsh" | "dash" | "ksh" => {
            // `-c`, or a cluster holding it (`-lc`, `-ec`): the next word is the script.
            let script = rest
                .iter()
                .skip_while(|w| !(w.starts_with('-') && !w.starts_with("--") && w.contains('c')))
                .nth(1)?;
            reason(script, aliases, depth + 1)
        }
        "eval" => reason(&rest[1..].join(" "), aliases, depth + 1),
        // `find ... -exec CMD ... ;` runs CMD.
        "find"
            if rest
                .iter()
                .any(|w| w.starts_with("-exec") || w.starts_with("-ok")) =>
        {
            let cmd: Vec<String> = rest
                .iter()
                .skip_while(|w| !(w.starts_with("-exec") || w.starts_with("-ok")))
                .skip(1)
                .take_while(|w| *w != ";" && *w != "+" && *w != "\\;")
                .cloned()
                .collect();
            simple_command(&cmd, aliases, depth + 1).or_else(|| disarms_hooks("find", &rest[1..]))
        }
        "git" => git_command(&rest[1..], aliases, depth),
        "gate"
            if rest.get(1).is_some_and(|w| w == "hooks")
                && rest.get(2).is_some_and(|w| w == "uninstall") =>
        {
            Some("removing gate's hooks is for people, not agents")
        }
        name => disarms_hooks(name, &rest[1..]),
    }
}

/// The program's name without its directory (`/usr/bin/git` is git).
fn program(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// `git [global options] <subcommand> [args]`, aliases expanded.
fn git_command(args: &[String], aliases: &Aliases, depth: usize) -> Option<&'static str> {
    let mut local = aliases.clone();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        match a.as_str() {
            "-C" | "--git-dir" | "--work-tree" | "--namespace" | "--exec-path"
            | "--super-prefix" => i += 2,
            "-c" => {
                if let Some((key, value)) = args.get(i + 1).and_then(|kv| kv.split_once('=')) {
                    define_alias(&mut local, key, value);
                }
                i += 2;
            }
            a if a.starts_with("--config-env") => i += if a.contains('=') { 1 } else { 2 },
            a if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let sub = args.get(i)?;
    let rest = &args[i + 1..];
    if let Some(value) = local.0.get(&sub.to_lowercase()).cloned() {
        let mut expanded = local.clone();
        expanded.0.remove(&sub.to_lowercase());
        return match value.strip_prefix('!') {
            Some(shell) => reason(&format!("{shell} {}", rest.join(" ")), &expanded, depth + 1),
            None => {
                let mut line = words(&value);
                line.extend(rest.iter().cloned());
                git_command(&line, &expanded, depth + 1)
            }
        };
    }
    match sub.as_str() {
        "commit" | "push" | "merge" | "rebase" | "am" | "cherry-pick" | "revert" | "pull"
            if skips_verify(sub, rest) =>
        {
            Some("`--no-verify` (or `-n`, or an abbreviation git accepts) skips gate's git hooks")
        }
        "config" => config_command(rest, aliases, depth),
        // `git rebase -x CMD` runs CMD through the shell after each commit.
        "rebase" => rest
            .iter()
            .enumerate()
            .find_map(|(i, a)| match a.as_str() {
                "-x" | "--exec" => rest.get(i + 1).cloned(),
                a => a
                    .strip_prefix("--exec=")
                    .or_else(|| a.strip_prefix("-x").filter(|r| !r.is_empty()))
                    .map(str::to_owned),
            })
            .and_then(|cmd| reason(&cmd, aliases, depth + 1)),
        _ => None,
    }
}

/// Records `alias.<name>=<value>` from `git -c`.
fn define_alias(aliases: &mut Aliases, key: &str, value: &str) {
    if let Some(name) = key.to_lowercase().strip_prefix("alias.") {
        aliases.0.insert(name.to_owned(), value.to_owned());
    }
}

/// `git config alias.x 'commit --no-verify'`: an alias that bypasses is refused when it is
/// defined, not only when it is used.
fn config_command(args: &[String], aliases: &Aliases, depth: usize) -> Option<&'static str> {
    let positional: Vec<&String> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .filter(|a| *a != "set")
        .collect();
    let [key, value, ..] = positional[..] else {
        return None;
    };
    let name = key.to_lowercase();
    let name = name.strip_prefix("alias.")?;
    let mut probe = aliases.clone();
    probe.0.insert(name.to_owned(), value.clone());
    git_command(&[name.to_owned()], &probe, depth + 1)
        .map(|_| "defining a git alias that skips gate's hooks")
}

/// Whether the options of `git <sub>` include `--no-verify` as git parses them: the word itself
/// or any unique prefix git accepts (`--no-veri`), or for commit `n` in a short-flag cluster.
fn skips_verify(sub: &str, args: &[String]) -> bool {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" {
            return false;
        }
        if a.starts_with("--") {
            let name = a.split('=').next().unwrap_or(a);
            if name.len() >= "--no-v".len() && "--no-verify".starts_with(name) {
                return true;
            }
        } else if sub == "commit" && a.starts_with('-') && a.len() > 1 {
            match short_cluster(&a[1..]) {
                Cluster::NoVerify => return true,
                Cluster::TakesNext => i += 1,
                Cluster::Plain => {}
            }
        }
        i += 1;
    }
    false
}

enum Cluster {
    NoVerify,
    /// Ends in an option whose argument is the next word (`-m msg`).
    TakesNext,
    Plain,
}

/// Reads a cluster of git commit's short options (`-anm`): `-m`, `-F`, `-C`, `-c`, `-t` take
/// an argument (the rest of the cluster, else the next word); `-u` and `-S` take an optional
/// attached one.
fn short_cluster(flags: &str) -> Cluster {
    for (at, c) in flags.char_indices() {
        match c {
            'n' => return Cluster::NoVerify,
            'm' | 'F' | 'C' | 'c' | 't' => {
                return if at + 1 == flags.len() {
                    Cluster::TakesNext
                } else {
                    Cluster::Plain
                };
            }
            'u' | 'S' => return Cluster::Plain,
            _ => {}
        }
    }
    Cluster::Plain
}

/// Commands that remove, replace or disarm a file, aimed at git's hook files.
fn disarms_hooks(program: &str, args: &[String]) -> Option<&'static str> {
    const WRITERS: [&str; 14] = [
        "rm", "unlink", "mv", "chmod", "chown", "cp", "ln", "truncate", "shred", "install",
        "rsync", "tee", "dd", "chattr",
    ];
    let edits_in_place = matches!(program, "sed" | "perl")
        && args
            .iter()
            .any(|a| a.starts_with("-i") || a == "--in-place");
    let deletes = program == "find" && args.iter().any(|a| a == "-delete" || a == "-exec");
    let writes = WRITERS.contains(&program) || edits_in_place || deletes;
    let redirected = |is: fn(&str) -> bool| {
        args.windows(2).any(|w| w[0].ends_with('>') && is(&w[1]))
            || args.iter().any(|a| {
                a.split_once('>')
                    .is_some_and(|(_, target)| is(target.trim_start_matches('>')))
            })
    };
    if (writes && args.iter().any(|a| is_hook_path(a))) || redirected(is_hook_path) {
        return Some("removing, replacing or disarming git's hook files disconnects gate's hooks");
    }
    if (writes && args.iter().any(|a| is_state_path(a))) || redirected(is_state_path) {
        return Some(
            "gate's state (.git/gate: the audit baseline, the record of finished features, the \
             event log) is written by gate only",
        );
    }
    None
}

/// A path into gate's private state directory.
fn is_state_path(word: &str) -> bool {
    word.contains(".git/gate")
}

/// A path into a git hooks directory (`.git/hooks`, a hook by name under any `hooks/`).
fn is_hook_path(word: &str) -> bool {
    let w = word.trim_end_matches('/');
    w.contains(".git/hooks")
        || w.ends_with("/hooks")
        || crate::hooks::HOOKS
            .iter()
            .chain(&crate::hooks::RETIRED)
            .any(|h| w.ends_with(&format!("hooks/{h}")) || w == *h)
}

/// The tool's hook input (JSON on stdin) to the shell command it is about to run.
pub fn command_of(input: &str) -> Option<String> {
    let v: Value = serde_json::from_str(input).ok()?;
    v.get("tool_input")?
        .get("command")?
        .as_str()
        .map(str::to_owned)
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{} is not valid JSON ({source}); fix or move it, then run `gate init --agent-hooks` again", path.display())]
    Invalid {
        path: std::path::PathBuf,
        source: serde_json::Error,
    },
    #[error("{} has an unexpected shape: {what}; add the PreToolUse hook by hand", path.display())]
    Shape {
        path: std::path::PathBuf,
        what: &'static str,
    },
    #[error("cannot write {}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Adds a `PreToolUse` / `Bash` hook running `command` to the settings file at `path`
/// (Claude Code and Codex share this shape), keeping everything else. Returns false when an
/// identical hook is already there.
pub fn add_pre_tool_use(path: &Path, command: &str) -> Result<bool, SettingsError> {
    // A committed symlink to a device would be read forever.
    if let Err(source) = crate::confine::is_regular(path) {
        return Err(SettingsError::Io {
            path: path.into(),
            source,
        });
    }
    let mut root: Value = match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SettingsError::Invalid {
            path: path.into(),
            source,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(source) => {
            return Err(SettingsError::Io {
                path: path.into(),
                source,
            });
        }
    };
    let shape = |what| SettingsError::Shape {
        path: path.into(),
        what,
    };
    let hooks = root
        .as_object_mut()
        .ok_or_else(|| shape("the top level is not an object"))?
        .entry("hooks")
        .or_insert_with(|| json!({}));
    let pre = hooks
        .as_object_mut()
        .ok_or_else(|| shape("\"hooks\" is not an object"))?
        .entry("PreToolUse")
        .or_insert_with(|| json!([]));
    let list = pre
        .as_array_mut()
        .ok_or_else(|| shape("\"PreToolUse\" is not a list"))?;
    let present = list.iter().any(|m| {
        m.get("hooks").and_then(Value::as_array).is_some_and(|hs| {
            hs.iter()
                .any(|h| h.get("command").and_then(Value::as_str) == Some(command))
        })
    });
    if present {
        return Ok(false);
    }
    list.push(json!({
        "matcher": "Bash",
        "hooks": [ { "type": "command", "command": command } ]
    }));
    let mut text = serde_json::to_string_pretty(&root).expect("JSON values serialise");
    text.push('\n');
    write_atomically(path, &text).map_err(|source| SettingsError::Io {
        path: path.into(),
        source,
    })?;
    Ok(true)
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
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
