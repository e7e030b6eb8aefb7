//! `team down`: preserve, then stop. Every worktree the team works in is snapshotted by the
//! usual rules (a commit where one is allowed, the snapshot ref otherwise) before any window is
//! killed; a worktree whose work cannot be preserved stops the whole `down`. Worktrees and
//! branches stay; with `remove_worktrees`, a linked worktree goes only when its branch is
//! merged into the trunk and nothing in it is uncommitted.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::repo::Repo;
use crate::repo::worktree;
use crate::snapshot::{self, Outcome};
use crate::tmux::Tmux;

use super::{Team, TeamError, panes, place};

#[derive(Debug, Clone, Serialize)]
pub struct Preserved {
    pub root: PathBuf,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize)]
pub struct Removal {
    pub root: PathBuf,
    pub removed: bool,
    /// Why it stays (or how removal failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_because: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DownReport {
    pub session: String,
    pub preserved: Vec<Preserved>,
    /// Whether a session was there to stop.
    pub stopped: bool,
    /// The second pass, once the agents' programs have exited: what they wrote on their way
    /// out (a CLI saving its session, an agent's last edit after SIGHUP). Only worktrees where
    /// it preserved something are listed.
    pub preserved_after_stop: Vec<Preserved>,
    pub worktrees: Vec<Removal>,
}

/// Every worktree the team works in (engineers' linked worktrees and the main checkouts).
fn roots(team: &Team) -> Vec<(PathBuf, bool, Option<String>, PathBuf)> {
    let mut out: Vec<(PathBuf, bool, Option<String>, PathBuf)> = Vec::new();
    for agent in &team.agents {
        let list = worktree::list(&agent.repo).unwrap_or_default();
        let main = place::main_checkout(&list, &agent.repo);
        let config = Config::load(&main).unwrap_or_default();
        if let Some(p) = place::locate(agent, &list, &config)
            && !out.iter().any(|(r, ..)| *r == p.root)
        {
            out.push((p.root, p.linked, p.branch, p.main));
        }
    }
    out
}

/// Preserves every worktree's work, kills the team's session, waits for the agents' programs
/// to exit, and preserves again.
pub fn run(team: &Team, tmux: &Tmux, remove_worktrees: bool) -> Result<DownReport, TeamError> {
    let roots = roots(team);
    let mut preserved = Vec::new();
    for (root, ..) in &roots {
        preserved.push(Preserved {
            root: root.clone(),
            outcome: preserve(root)?,
        });
    }
    let pids: Vec<u32> = panes::list(tmux, &team.session)?
        .iter()
        .filter(|p| !p.dead)
        .flat_map(|p| panes::process_tree(p.pid))
        .collect();
    let stopped = panes::kill_session(tmux, &team.session)?;
    wait_exited(&pids, EXIT_WAIT);
    let mut preserved_after_stop = Vec::new();
    for (root, ..) in &roots {
        let outcome = preserve(root)?;
        if !matches!(outcome, Outcome::Unchanged { .. }) {
            preserved_after_stop.push(Preserved {
                root: root.clone(),
                outcome,
            });
        }
    }
    let mut removals = Vec::new();
    if remove_worktrees {
        for (root, linked, branch, main) in &roots {
            if let (true, Some(branch)) = (*linked, branch) {
                removals.push(remove(root, branch, main));
            }
        }
    }
    Ok(DownReport {
        session: team.session.clone(),
        preserved,
        stopped,
        preserved_after_stop,
        worktrees: removals,
    })
}

/// How long `down` waits for the agents' programs to exit after the session is killed.
const EXIT_WAIT: Duration = Duration::from_secs(3);

/// Waits (at most `limit`) until none of `pids` runs: a program that handles SIGHUP, or the
/// end of its terminal, may still be writing into its worktree.
fn wait_exited(pids: &[u32], limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while pids.iter().any(|&p| panes::running(p)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// One snapshot of `root` by the usual rules; retried while another snapshot of it (the
/// watcher's) holds the worktree.
pub fn preserve(root: &std::path::Path) -> Result<Outcome, TeamError> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| TeamError::Preserve {
        root: root.to_owned(),
        source,
    };
    let repo = Repo::discover(root)?;
    let config = Config::load(repo.root()).map_err(|e| fail(Box::new(e)))?;
    let mut last = None;
    for _ in 0..6 {
        let report = snapshot::take(&repo, &config, &snapshot::Options::default())
            .map_err(|e| fail(Box::new(e)))?;
        match report.outcome {
            Outcome::Retry { .. } => {
                last = Some(report.outcome);
                std::thread::sleep(Duration::from_millis(500));
            }
            outcome => return Ok(outcome),
        }
    }
    let reason = match last {
        Some(Outcome::Retry { reason }) => reason,
        _ => "it kept asking for a retry".into(),
    };
    Err(fail(reason.into()))
}

/// Removes the linked worktree at `root` if `branch` is merged into the trunk and the worktree
/// is clean; otherwise says why it stays.
fn remove(root: &std::path::Path, branch: &str, main: &std::path::Path) -> Removal {
    let keep = |why: String| Removal {
        root: root.to_owned(),
        removed: false,
        kept_because: Some(why),
    };
    let trunk = Config::load(main)
        .map(|c| c.main_branch().to_owned())
        .unwrap_or_else(|_| "main".into());
    let merged = crate::repo::cli::git(main, ["merge-base", "--is-ancestor", branch, &trunk], None)
        .is_ok_and(|o| o.status.success());
    if !merged {
        return keep(format!(
            "{branch} is not merged into {trunk} (finish it: gate finish)"
        ));
    }
    match crate::repo::status::status(root, &[]) {
        Ok(entries) if entries.is_empty() => {}
        Ok(entries) => return keep(format!("{} uncommitted change(s) in it", entries.len())),
        Err(e) => return keep(format!("cannot tell whether it is clean: {e}")),
    }
    // git refuses on its own, too, should anything have changed since.
    match crate::repo::cli::git_ok(
        main,
        [
            std::ffi::OsStr::new("worktree"),
            "remove".as_ref(),
            root.as_os_str(),
        ],
        None,
    ) {
        Ok(_) => Removal {
            root: root.to_owned(),
            removed: true,
            kept_because: None,
        },
        Err(e) => keep(e.to_string()),
    }
}
