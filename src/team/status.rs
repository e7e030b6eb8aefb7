//! `team status`: each agent's role, where it works (repository, worktree, branch), how far its
//! feature is (phase, tasks), its last commit, whether its program is alive, and when its
//! window last showed output. One `list-panes` for the session, one `git worktree list` per
//! repository and one project gather per worktree.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::Config;
use crate::repo::worktree;
use crate::spec::Phase;
use crate::spec::markdown::TaskCount;
use crate::tmux::Tmux;

use super::panes;
use super::place;
use super::{Team, TeamError};

#[derive(Debug, Clone, Serialize)]
pub struct AgentStatus {
    pub name: String,
    pub role: &'static str,
    pub reports_to: Option<String>,
    pub repo: PathBuf,
    /// Its worktree; `None` for an engineer whose feature has no worktree yet.
    pub worktree: Option<PathBuf>,
    pub branch: Option<String>,
    pub feature: Option<String>,
    pub phase: Option<Phase>,
    pub tasks: Option<TaskCount>,
    /// Seconds since the commit HEAD points at in its worktree.
    pub last_commit_age: Option<i64>,
    /// `alive`, `dead` (its program exited), `shell` (it exited to a shell), `missing` (no
    /// window).
    pub state: &'static str,
    pub alive: bool,
    pub pane: Option<String>,
    /// Seconds since its window last showed output.
    pub last_activity_age: Option<i64>,
    /// What its CLI last reported through gate's hooks (`working`, `idle`, `needs-input`,
    /// `failed`, `gone`); `None` for programs that report nothing.
    pub activity: Option<&'static str>,
    /// Seconds in that activity.
    pub activity_age: Option<i64>,
    /// The CLI's words with it (a question, an error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_detail: Option<String>,
    /// Notes waiting for its turn to end.
    pub queued: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamStatus {
    pub session: String,
    /// Whether the tmux session exists.
    pub running: bool,
    pub agents: Vec<AgentStatus>,
}

/// The status of every agent of `team`, at Unix time `now`.
pub fn gather(team: &Team, tmux: &Tmux, now: i64) -> Result<TeamStatus, TeamError> {
    let panes = panes::list(tmux, &team.session)?;
    let mut lists: BTreeMap<PathBuf, (Vec<worktree::Worktree>, Config)> = BTreeMap::new();
    let mut projects: BTreeMap<PathBuf, crate::status::ProjectStatus> = BTreeMap::new();
    let mut state_dirs: BTreeMap<PathBuf, Option<PathBuf>> = BTreeMap::new();
    let mut agents = Vec::new();
    for agent in &team.agents {
        let state_dir = state_dirs
            .entry(agent.repo.clone())
            .or_insert_with(|| {
                crate::repo::Repo::discover(&agent.repo)
                    .ok()
                    .map(|r| r.state_dir())
            })
            .clone();
        let reported = state_dir
            .as_deref()
            .and_then(|d| crate::agents::state::States::in_dir(d).read(&agent.name));
        let queued = state_dir.as_deref().map_or(0, |d| {
            crate::agents::queue::Queue::in_dir(d)
                .pending(&agent.name)
                .map_or(0, |p| p.len())
        });
        if !lists.contains_key(&agent.repo) {
            let list = worktree::list(&agent.repo).unwrap_or_default();
            let config =
                Config::load(&place::main_checkout(&list, &agent.repo)).unwrap_or_default();
            lists.insert(agent.repo.clone(), (list, config));
        }
        let (list, config) = &lists[&agent.repo];
        let place = place::locate(agent, list, config);
        let project = place.as_ref().map(|p| {
            projects
                .entry(p.root.clone())
                .or_insert_with(|| crate::status::gather(&p.root, now, false))
                .clone()
        });
        let pane = panes.iter().find(|p| p.is(&agent.name));
        let state = match pane {
            None => "missing",
            Some(p) if p.dead => "dead",
            // A shell with no child: the agent's program is gone and left a shell (a shell
            // running the agent, as `sh -c` does, has the agent as its child).
            Some(p)
                if panes::process_name(p.pid)
                    .is_some_and(|n| panes::exited_to_shell(&n, &agent.command))
                    && !panes::has_children(p.pid) =>
            {
                "shell"
            }
            Some(_) => "alive",
        };
        agents.push(AgentStatus {
            name: agent.name.clone(),
            role: agent.role.as_str(),
            reports_to: agent.reports_to.clone(),
            repo: place
                .as_ref()
                .map_or_else(|| agent.repo.clone(), |p| p.main.clone()),
            worktree: place.as_ref().map(|p| p.root.clone()),
            branch: project.as_ref().and_then(|s| s.branch.clone()),
            feature: project.as_ref().and_then(|s| s.feature.clone()),
            phase: project.as_ref().and_then(|s| s.phase),
            tasks: project.as_ref().and_then(|s| s.tasks),
            last_commit_age: project.as_ref().and_then(|s| s.last_commit_age),
            state,
            alive: state == "alive",
            pane: pane.map(|p| p.id.clone()),
            last_activity_age: pane.and_then(|p| p.activity).map(|t| (now - t).max(0)),
            activity: reported.as_ref().map(|r| r.activity.as_str()),
            activity_age: reported.as_ref().map(|r| r.for_secs(now)),
            activity_detail: reported.and_then(|r| r.detail),
            queued,
        });
    }
    Ok(TeamStatus {
        session: team.session.clone(),
        running: !panes.is_empty(),
        agents,
    })
}
