//! Agent identity: which tmux panes are agents, who they are, and which worktree each works in.
//!
//! A pane is an agent only when gate knows it: a person marked it (`gate agents mark`, kept as
//! a tmux pane option, see [`crate::tmux::MARK_OPTION`]), or a known agent CLI runs in it
//! (`agent.clis`: claude, codex, gemini, aider), or `agent.target` names it. A plain shell is
//! never an agent, whatever its directory: nudges typed into a person's shell would be run as
//! commands. Each agent belongs to the worktree its directory is in (the deepest one, so an
//! agent in a worktree nested inside the main checkout belongs to the nested one).
//!
//! This is the one discovery: the watcher's nudges, `gate agents` and `gate status` all call
//! [`discover`].

pub mod hook;
pub mod procs;
pub mod queue;
pub mod state;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::tmux::{Pane, Tmux, TmuxError, own_pane_from_env};

/// Why gate considers a pane an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum Why {
    /// `agent.target` in `.gate.toml` names it.
    Configured,
    /// Marked with `gate agents mark`.
    Marked,
    /// The named agent CLI runs in it.
    Cli(String),
}

impl Why {
    pub fn describe(&self) -> String {
        match self {
            Why::Configured => "configured (agent.target)".into(),
            Why::Marked => "marked (gate agents mark)".into(),
            Why::Cli(name) => format!("runs {name}"),
        }
    }

    /// One word, for `--json` consumers that only want the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Why::Configured => "configured",
            Why::Marked => "marked",
            Why::Cli(_) => "agent-cli",
        }
    }
}

/// A pane gate treats as an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub pane: Pane,
    /// The mark's name, else the CLI's name, else the pane's target.
    pub name: String,
    pub role: Option<String>,
    /// The worktree it works in (one of the roots given to [`discover`]), if any.
    pub worktree: Option<PathBuf>,
    pub why: Why,
}

/// A pane inside one of the worktrees that is not an agent, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    pub pane: Pane,
    pub worktree: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub agents: Vec<Agent>,
    /// Plain shells and other programs working inside the worktrees: never nudged.
    pub ignored: Vec<Ignored>,
}

impl Discovery {
    /// The agents working in `worktree`.
    pub fn in_worktree<'a>(&'a self, worktree: &'a Path) -> impl Iterator<Item = &'a Agent> {
        self.agents
            .iter()
            .filter(move |a| a.worktree.as_deref() == Some(worktree))
    }
}

/// Every agent on the server of `tmux`, each placed in one of `worktrees` (canonical roots)
/// when it works there. With `agent.target` configured, that pane is the only agent. The pane
/// this process runs in is never an agent (a foreground `gate watch`, a person's `gate agents`).
pub fn discover(
    tmux: &Tmux,
    config: &Config,
    worktrees: &[PathBuf],
) -> Result<Discovery, TmuxError> {
    let target = config.agent.target.trim();
    if !target.eq_ignore_ascii_case("auto") {
        let pane = tmux.resolve(target)?;
        let worktree = worktree_of(&pane.path, worktrees).map(Path::to_owned);
        return Ok(Discovery {
            agents: vec![Agent {
                name: pane.mark.clone().unwrap_or_else(|| pane.target()),
                role: pane.role.clone(),
                worktree,
                why: Why::Configured,
                pane,
            }],
            ignored: Vec::new(),
        });
    }
    let panes = tmux.panes()?;
    let own = panes
        .first()
        .and_then(|p| own_pane_from_env(&p.socket_path));
    // The process table is read only if some pane needs a closer look (not marked, and
    // tmux's current command is not a known CLI).
    let table = std::cell::OnceCell::new();
    Ok(classify(
        panes,
        own.as_deref(),
        worktrees,
        &config.agent.clis,
        |pid| {
            table
                .get_or_init(procs::Table::read)
                .tree(pid)
                .into_iter()
                .flat_map(procs::names)
                .collect()
        },
    ))
}

/// The decision, given what runs in each pane (`programs(pid)`: every name the pane's
/// processes go by). Pure apart from `programs`.
pub fn classify(
    panes: Vec<Pane>,
    own: Option<&str>,
    worktrees: &[PathBuf],
    clis: &[String],
    programs: impl Fn(u32) -> Vec<String>,
) -> Discovery {
    let mut out = Discovery::default();
    for pane in panes {
        if Some(pane.id.as_str()) == own {
            continue;
        }
        let worktree = worktree_of(&pane.path, worktrees).map(Path::to_owned);
        let why = match &pane.mark {
            Some(_) => Some(Why::Marked),
            None => cli_of(&pane, clis, &programs).map(Why::Cli),
        };
        match why {
            Some(why) => out.agents.push(Agent {
                name: match (&pane.mark, &why) {
                    (Some(mark), _) => mark.clone(),
                    (None, Why::Cli(cli)) => format!("{cli} {}", pane.target()),
                    (None, _) => pane.target(),
                },
                role: pane.role.clone(),
                worktree,
                why,
                pane,
            }),
            None => {
                if let Some(worktree) = worktree {
                    out.ignored.push(Ignored {
                        reason: format!(
                            "{} is not an agent CLI; mark the pane if an agent works there: gate agents mark {} --name NAME",
                            pane.command, pane.id
                        ),
                        pane,
                        worktree,
                    });
                }
            }
        }
    }
    out
}

/// The known CLI running in `pane`, if any.
fn cli_of(pane: &Pane, clis: &[String], programs: &impl Fn(u32) -> Vec<String>) -> Option<String> {
    let known = |name: &str| clis.iter().find(|c| c.as_str() == name).cloned();
    known(&pane.command).or_else(|| programs(pane.pid).iter().find_map(|n| known(n)))
}

/// The canonical roots of the live worktrees of the repository containing `dir`, main first
/// (what [`discover`] places agents in); just `dir` when git cannot list them.
pub fn worktree_roots(dir: &Path) -> Vec<PathBuf> {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    match crate::repo::worktree::list(dir) {
        Ok(list) => list
            .into_iter()
            .filter(crate::repo::worktree::Worktree::is_live)
            .map(|w| canonical(&w.root))
            .collect(),
        Err(_) => vec![canonical(dir)],
    }
}

/// The deepest of `worktrees` containing `path`.
pub fn worktree_of<'a>(path: &Path, worktrees: &'a [PathBuf]) -> Option<&'a Path> {
    worktrees
        .iter()
        .filter(|w| path.starts_with(w))
        .max_by_key(|w| w.components().count())
        .map(PathBuf::as_path)
}

/// A name or role for a mark: one line of printable text, at most 64 characters.
pub fn valid_label(text: &str) -> Result<&str, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("must not be empty".into());
    }
    if t.chars().any(char::is_control) {
        return Err("must be one line of printable text".into());
    }
    // gate names files after an agent (its state, its queue), escaping every byte outside
    // [A-Za-z0-9_-] as %XX: 64 such bytes stay well within a file name's 255.
    if t.chars().count() > 64 || queue::file_safe(t).len() > 64 * 3 {
        return Err("must be at most 64 characters (fewer outside ASCII: at most 64 bytes)".into());
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane(id: &str, path: &str, command: &str, mark: Option<&str>) -> Pane {
        Pane {
            id: id.into(),
            session: "s".into(),
            window_index: id[1..].parse().unwrap(),
            window_name: "w".into(),
            pane_index: 0,
            pid: id[1..].parse().unwrap(),
            command: command.into(),
            path: PathBuf::from(path),
            in_mode: false,
            active: false,
            socket_path: PathBuf::from("/tmp/tmux-0/default"),
            mark: mark.map(str::to_owned),
            role: None,
            dead: false,
            reports_to: None,
            restart: false,
        }
    }

    fn clis() -> Vec<String> {
        Config::default().agent.clis
    }

    #[test]
    fn plain_shells_are_never_agents_but_marks_and_known_clis_are() {
        let worktrees = [PathBuf::from("/r/main"), PathBuf::from("/r/main/.wt/a")];
        let panes = vec![
            pane("%1", "/r/main/src", "bash", None),
            pane("%2", "/r/main", "claude", None),
            pane("%3", "/r/main/.wt/a/src", "sh", Some("eng-a")),
            pane("%4", "/elsewhere", "codex", None),
            pane("%5", "/r/main", "node", None),
            pane("%6", "/r/main", "claude", None),
        ];
        // %5 runs node with aider's script; %6 is our own pane.
        let found = classify(panes, Some("%6"), &worktrees, &clis(), |pid| match pid {
            5 => vec!["node".into(), "aider".into()],
            _ => vec!["bash".into()],
        });
        let agents: Vec<(&str, &str, Option<&Path>)> = found
            .agents
            .iter()
            .map(|a| (a.pane.id.as_str(), a.why.kind(), a.worktree.as_deref()))
            .collect();
        assert_eq!(
            agents,
            [
                ("%2", "agent-cli", Some(Path::new("/r/main"))),
                ("%3", "marked", Some(Path::new("/r/main/.wt/a"))),
                ("%4", "agent-cli", None),
                ("%5", "agent-cli", Some(Path::new("/r/main"))),
            ]
        );
        assert_eq!(found.agents[1].name, "eng-a");
        assert_eq!(found.agents[0].name, "claude s:2.0");
        assert_eq!(found.ignored.len(), 1);
        assert_eq!(found.ignored[0].pane.id, "%1");
        assert!(found.ignored[0].reason.contains("gate agents mark %1"));
        let in_a: Vec<&str> = found
            .in_worktree(Path::new("/r/main/.wt/a"))
            .map(|a| a.pane.id.as_str())
            .collect();
        assert_eq!(in_a, ["%3"]);
    }

    #[test]
    fn the_deepest_worktree_wins_and_prefixes_are_not_paths() {
        let w = [PathBuf::from("/r/a"), PathBuf::from("/r/a/b")];
        assert_eq!(
            worktree_of(Path::new("/r/a/b/c"), &w),
            Some(Path::new("/r/a/b"))
        );
        assert_eq!(
            worktree_of(Path::new("/r/a/x"), &w),
            Some(Path::new("/r/a"))
        );
        assert_eq!(worktree_of(Path::new("/r/ab"), &w), None);
    }

    #[test]
    fn labels_are_one_printable_line() {
        assert_eq!(valid_label(" eng 1 "), Ok("eng 1"));
        assert!(valid_label("").is_err());
        assert!(valid_label("a\nb").is_err());
        assert!(valid_label(&"x".repeat(65)).is_err());
        assert!(valid_label(&".".repeat(64)).is_ok());
        // Regression: 28 CJK characters escape to 252 bytes: the state file's name was too long,
        // so the agent's hooks never recorded it.
        assert!(valid_label(&"日".repeat(28)).is_err());
        assert!(valid_label(&"日".repeat(21)).is_ok());
    }
}
