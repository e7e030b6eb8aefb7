//! The team's tmux side: its session, one window per agent (kept after its program exits, so a
//! dead agent shows as dead rather than vanishing), and what the server knows of each pane.

use std::path::Path;

use crate::tmux::{MARK_OPTION, Tmux, TmuxError};

/// The pane option set once an agent's brief was delivered.
pub const BRIEFED_OPTION: &str = "@gate-team-briefed";

/// What tmux knows of one pane of the team's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamPane {
    pub id: String,
    pub window: String,
    /// `@gate-agent`.
    pub mark: Option<String>,
    pub briefed: bool,
    /// Its program exited (the window stays: `remain-on-exit`).
    pub dead: bool,
    /// `#{pane_current_command}`.
    pub command: String,
    /// The pid of the pane's first process (what tmux started: the agent's program, or the
    /// shell running a compound command line).
    pub pid: u32,
    /// Unix time of the window's last output.
    pub activity: Option<i64>,
}

impl TeamPane {
    /// Whether this pane is `agent`'s: marked so (`up` marks every pane it starts). A window
    /// that only bears the name is someone else's (a person's shell would run the brief).
    pub fn is(&self, agent: &str) -> bool {
        self.mark.as_deref() == Some(agent)
    }

    /// A window named after `agent` that is not its pane: a new window of that name would
    /// make `gate send SESSION:NAME` ambiguous.
    pub fn squats(&self, agent: &str) -> bool {
        self.window == agent && !self.is(agent)
    }
}

const SEP: char = '\x1f';

/// Every pane of `session`; none when the session (or the server) does not exist.
pub fn list(tmux: &Tmux, session: &str) -> Result<Vec<TeamPane>, TmuxError> {
    let fields = [
        "pane_id",
        "window_name",
        MARK_OPTION,
        BRIEFED_OPTION,
        "pane_dead",
        "pane_current_command",
        "window_activity",
        "pane_pid",
    ];
    let format = fields
        .iter()
        .map(|f| format!("#{{{f}}}"))
        .collect::<Vec<_>>()
        .join(&SEP.to_string());
    // `=NAME:` names the session only: a bare `=NAME` that matches no session falls back to
    // a window of that name in another session (whose panes are not the team's), and with no
    // such window fails with "can't find window".
    let target = format!("={session}:");
    let out = match tmux.run(&["list-panes", "-s", "-t", &target, "-F", &format]) {
        Ok(out) => out,
        Err(TmuxError::NoServer { .. }) => return Ok(Vec::new()),
        Err(TmuxError::Failed { stderr, .. }) if stderr.contains("can't find session") => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    Ok(out
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.splitn(fields.len(), SEP).collect();
            let [id, window, mark, briefed, dead, command, activity, pid] = f[..] else {
                return None;
            };
            Some(TeamPane {
                id: id.to_owned(),
                window: window.to_owned(),
                mark: Some(mark.trim().to_owned()).filter(|m| !m.is_empty()),
                briefed: !briefed.trim().is_empty(),
                dead: dead == "1",
                command: command.to_owned(),
                activity: activity.trim().parse().ok(),
                pid: pid.trim().parse().unwrap_or(0),
            })
        })
        .collect())
}

/// A new window `name` in `session` (the session itself when `new_session`) running `command`
/// in `cwd`; returns its pane id. The window stays when the program exits.
pub fn open(
    tmux: &Tmux,
    session: &str,
    new_session: bool,
    name: &str,
    cwd: &Path,
    command: &str,
) -> Result<String, TmuxError> {
    let cwd = cwd.to_string_lossy();
    let target = format!("={session}:");
    let window = format!("={session}:={name}");
    let format = "#{pane_id}";
    let mut args: Vec<&str> = if new_session {
        vec![
            "new-session",
            "-d",
            "-s",
            session,
            "-n",
            name,
            "-x",
            "200",
            "-y",
            "50",
        ]
    } else {
        vec!["new-window", "-d", "-t", &target, "-n", name]
    };
    // tmux ends a command at an argument's trailing `;`; a space keeps it the shell's.
    let command = if command.ends_with(';') {
        format!("{command} ")
    } else {
        command.to_owned()
    };
    // The agent's name in its environment: its hooks (`gate agent-hook`) know whom they speak
    // for without asking tmux, and still do if the mark is lost.
    let identity = format!("GATE_AGENT={name}");
    args.extend(["-e", &identity]);
    args.extend(["-c", &cwd, "-P", "-F", format, &command]);
    // In the same command list, so the server sets it before it can see a quick program exit:
    // the window is kept, and `team status` can say the agent died instead of losing it.
    args.extend([
        ";",
        "set-option",
        "-w",
        "-t",
        &window,
        "remain-on-exit",
        "on",
    ]);
    let id = tmux.run(&args)?.trim().to_owned();
    Ok(id)
}

/// Records on the pane what the watcher needs when the agent needs help or dies: whom it
/// reports to (`@gate-reports-to`) and whether to restart it (`@gate-restart`). Pane options,
/// like the mark: they live and end with the pane, whatever gate process reads them.
pub fn set_recovery(
    tmux: &Tmux,
    pane: &str,
    reports_to: Option<&str>,
    restart: bool,
) -> Result<(), TmuxError> {
    use crate::tmux::{REPORTS_TO_OPTION, RESTART_OPTION};
    match reports_to {
        Some(boss) => tmux.run(&["set-option", "-p", "-t", pane, REPORTS_TO_OPTION, boss])?,
        None => tmux.run(&["set-option", "-p", "-u", "-t", pane, REPORTS_TO_OPTION])?,
    };
    match restart {
        true => tmux.run(&["set-option", "-p", "-t", pane, RESTART_OPTION, "on"])?,
        false => tmux.run(&["set-option", "-p", "-u", "-t", pane, RESTART_OPTION])?,
    };
    Ok(())
}

/// Records on the pane that its brief was delivered.
pub fn set_briefed(tmux: &Tmux, pane: &str) -> Result<(), TmuxError> {
    tmux.run(&["set-option", "-p", "-t", pane, BRIEFED_OPTION, "1"])
        .map(drop)
}

/// Whether the pane's program has exited.
pub fn is_dead(tmux: &Tmux, pane: &str) -> Result<bool, TmuxError> {
    Ok(tmux
        .run(&["display-message", "-p", "-t", pane, "#{pane_dead}"])?
        .trim()
        == "1")
}

/// Kills the session; `false` when there was none.
pub fn kill_session(tmux: &Tmux, session: &str) -> Result<bool, TmuxError> {
    let target = format!("={session}");
    match tmux.run(&["kill-session", "-t", &target]) {
        Ok(_) => Ok(true),
        Err(TmuxError::NoServer { .. }) => Ok(false),
        Err(TmuxError::Failed { stderr, .. }) if stderr.contains("can't find session") => Ok(false),
        Err(e) => Err(e),
    }
}

/// The command that attaches a terminal to the team's session on this server.
pub fn attach_command(tmux: &Tmux, session: &str) -> String {
    use crate::tmux::Socket;
    let quote = |s: &str| {
        shlex::try_quote(s)
            .map(|q| q.into_owned())
            .unwrap_or_else(|_| s.to_owned())
    };
    match tmux.socket() {
        Socket::Default => format!("tmux attach -t {}", quote(session)),
        Socket::Name(n) => format!("tmux -L {} attach -t {}", quote(n), quote(session)),
        Socket::Path(p) => format!(
            "tmux -S {} attach -t {}",
            quote(&p.to_string_lossy()),
            quote(session)
        ),
    }
}

/// Shells an agent may have exited to (a command line that ends in a shell).
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "fish", "ksh", "tcsh", "csh"];

/// The kernel's name of process `pid` (`/proc/PID/comm`: a script is named after its file,
/// where tmux's `pane_current_command` would say `sh`).
pub fn process_name(pid: u32) -> Option<String> {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(name.trim_end().to_owned()).filter(|n| !n.is_empty())
}

/// Whether process `pid` still runs: it exists and is not a zombie (where nothing reaps the
/// children of an exited tmux server, as under a container's bare pid 1, they stay zombies).
pub fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised name, which may itself hold ") ".
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_none_or(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => crate::agents::queue::alive(pid) && !std::path::Path::new("/proc/self").exists(),
    }
}

/// `pid` and every process below it (`/proc/PID/task/*/children`, read recursively): a pane's
/// agent often runs as a child of the shell tmux started, and outlives it by a moment.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut tree = vec![pid];
    let mut next = 0;
    while next < tree.len() && tree.len() < 10_000 {
        let parent = tree[next];
        next += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                if !tree.contains(&child) {
                    tree.push(child);
                }
            }
        }
    }
    tree
}

/// Whether process `pid` has child processes (`true` when the kernel does not say: a shell
/// running the agent is never taken for one left behind on a guess).
pub fn has_children(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map_or(true, |c| !c.trim().is_empty())
}

/// Whether the pane's first process is now a plain shell (`process` is its kernel name)
/// although the agent's command is a single program that is not one: the agent exec'd a shell
/// or was replaced by one. A compound command line runs under a shell anyway and is not judged.
pub fn exited_to_shell(process: &str, agent_command: &str) -> bool {
    let pane_command = process;
    let compound = agent_command.contains([';', '&', '|', '\n', '(', '`', '$']);
    let program = shlex::split(agent_command)
        .and_then(|w| w.into_iter().find(|w| !w.contains('=') && w != "exec"))
        .map(|p| {
            Path::new(&p)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or(p)
        })
        .unwrap_or_default();
    !compound && SHELLS.contains(&pane_command) && !SHELLS.contains(&program.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_left_behind_is_told_from_a_shell_agent() {
        assert!(exited_to_shell("bash", "claude --continue"));
        assert!(exited_to_shell("sh", "/usr/local/bin/codex"));
        assert!(!exited_to_shell("claude", "claude"));
        assert!(exited_to_shell("sh", "exec claude"));
        assert!(!exited_to_shell("sh", "sh ./fake-agent.sh"));
        assert!(!exited_to_shell(
            "sh",
            "stty -echo; while read l; do :; done"
        ));
    }
}
