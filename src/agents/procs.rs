//! What runs in a pane, from Linux's `/proc`: the pane's first process and all its
//! descendants, each by its `comm` name and the program names on its command line. tmux's
//! `pane_current_command` alone misses agent CLIs started through an interpreter (`node
//! .../claude`, `python3 .../aider`) or as a script.

use std::collections::HashMap;
use std::path::Path;

/// Interpreters whose first arguments name the real program.
const INTERPRETERS: &[&str] = &[
    "node", "nodejs", "bun", "deno", "python", "python3", "ruby", "sh", "bash", "zsh", "npx", "uv",
    "uvx", "pipx",
];

/// One look at the process table: parent of every process.
pub struct Table {
    children: HashMap<u32, Vec<u32>>,
}

impl Table {
    /// Reads `/proc` once; an unreadable `/proc` gives an empty table.
    pub fn read() -> Table {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Table { children };
        };
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = parent_of(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
        Table { children }
    }

    /// `pid` and every descendant, breadth first.
    pub fn tree(&self, pid: u32) -> Vec<u32> {
        let mut out = vec![pid];
        let mut i = 0;
        while i < out.len() && out.len() < 500 {
            if let Some(kids) = self.children.get(&out[i]) {
                out.extend(kids);
            }
            i += 1;
        }
        out
    }
}

/// The program names a process goes by: its `comm`, and the basenames of its program and
/// (for an interpreter) of its first arguments, without a script extension.
pub fn names(pid: u32) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        names.push(comm.trim().to_owned());
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .take(3)
        .map(|a| program_name(&String::from_utf8_lossy(a)))
        .collect();
    if let Some(first) = args.first() {
        names.push(first.clone());
        let interpreter = first.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        if INTERPRETERS.contains(&first.as_str()) || INTERPRETERS.contains(&interpreter) {
            names.extend(args[1..].iter().filter(|a| !a.starts_with('-')).cloned());
        }
    }
    names
}

/// `/usr/lib/node_modules/x/cli.js` -> `cli`; `/usr/bin/aider` -> `aider`.
fn program_name(arg: &str) -> String {
    let base = Path::new(arg)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| arg.to_owned());
    for ext in [".js", ".mjs", ".cjs", ".py", ".sh"] {
        if let Some(stem) = base.strip_suffix(ext) {
            return stem.to_owned();
        }
    }
    base
}

/// The parent pid from `/proc/<pid>/stat` (`pid (comm) state ppid ...`; comm may hold spaces
/// and parentheses, so the fields after the last `)` count).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_names_drop_paths_and_script_extensions() {
        assert_eq!(program_name("/usr/local/bin/claude"), "claude");
        assert_eq!(program_name("cli.js"), "cli");
        assert_eq!(program_name("aider"), "aider");
    }

    #[test]
    fn this_process_is_in_its_own_tree() {
        let me = std::process::id();
        let table = Table::read();
        assert_eq!(table.tree(me)[0], me);
        assert!(!names(me).is_empty());
        assert_eq!(parent_of(me), Some(std::os::unix::process::parent_id()));
    }
}
