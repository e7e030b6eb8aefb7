//! Reading a shell command the way sh and git read it, for the agent guard
//! ([`super::guard`]): not by substring. The line is cut into simple commands at `;`, `&&`,
//! `||`, `|`, `&`, newlines and command substitutions (quotes respected), each split into words
//! like sh does; wrappers (`env`, `sudo`, `command`, `sh -c`, `eval`, `find -exec`, `git rebase
//! -x`) are looked through; git's global options (`-C`, `-c key=value`, `--config-env`) are
//! parsed, aliases (from git config and from `-c alias.x=...`) expanded, and the options of the
//! git subcommand read as git parses them: a unique prefix of `--no-verify` (`--no-veri`), `n`
//! inside a cluster of short flags (`-anm msg`). Removing or disarming the hook files, or writing
//! into gate's state, is a reason too. What it cannot see is listed in the README.

use std::collections::HashMap;
use std::path::Path;

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

/// How deep `sh -c`, `eval` and aliases may nest before the command is refused as opaque.
const MAX_DEPTH: usize = 8;

/// Why `command` would slip past gate, or `None`.
pub(super) fn reason(command: &str, aliases: &Aliases, depth: usize) -> Option<&'static str> {
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
