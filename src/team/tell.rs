//! An engineer's news for its team: when `gate finish` lands (or tags) a feature in an agent's
//! worktree, whoever it reports to hears of it, and the orchestrator too when that is someone
//! else. The news is queued ([`crate::agents::queue`], kind `finished`) rather than typed: the
//! watcher types it when the recipient is at its prompt (at once for a program that reports no
//! turns), so it never lands in the middle of a PM's turn.
//!
//! Who the engineer is: the agent mark of the pane gate runs in (`@gate-agent`), else the team
//! agent whose worktree this is (the main checkout's `team.toml`). Whom it tells: the team file's
//! `pm` (or the default it resolves to), else the pane's `@gate-reports-to`; the orchestrator is
//! the team's, else the pane marked with that role.

use std::path::Path;

use serde::Serialize;

use crate::agents::queue::{Enqueued, Note, Queue, file_safe};
use crate::config::Config;
use crate::repo::{Repo, worktree};
use crate::tmux::{Pane, Tmux};

use super::{FILE_NAME, Role, Team, place};

/// One recipient and what became of the news for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Told {
    pub to: String,
    /// `queued`, `already` (told before: the same finish), or why not.
    pub outcome: String,
}

/// Queues `news` ("finished 001-user-auth: ...") from the agent working in `repo` for whom it
/// reports to and the orchestrator; `key` makes it once per event (a tag name). Empty when this
/// is no team agent's checkout, or nobody is above it.
pub fn news(repo: &Repo, tmux: &Tmux, key: &str, news: &str) -> Vec<Told> {
    let team = team_of(repo);
    // Neither a team file nor a tmux pane: no team to tell, and no tmux to ask.
    if team.is_none() && std::env::var_os("TMUX_PANE").is_none() {
        return Vec::new();
    }
    let panes = tmux.panes().unwrap_or_default();
    let Some(me) = who_am_i(repo.root(), team.as_ref(), &panes) else {
        return Vec::new();
    };
    let queue = Queue::in_dir(&repo.state_dir());
    let now = jiff::Timestamp::now().as_second();
    recipients(&me, team.as_ref(), &panes)
        .into_iter()
        .map(|to| {
            let outcome = match pane_of(&to, &panes) {
                None => format!("no window is marked as {to}; not told"),
                Some(pane) => {
                    let note = Note {
                        id: format!("finished-{}-{}", file_safe(&me), file_safe(key)),
                        agent: to.clone(),
                        kind: "finished".into(),
                        topic: format!("finished-{me}-{key}"),
                        text: format!("[gate] {me} {news}"),
                        queued: now,
                        pane: Some(pane.id.clone()),
                        socket: Some(pane.socket_path.clone()),
                    };
                    match queue.enqueue(&note) {
                        Ok(Enqueued::Added) => "queued".into(),
                        Ok(Enqueued::Duplicate) => "already".into(),
                        Err(e) => e.to_string(),
                    }
                }
            };
            Told { to, outcome }
        })
        .collect()
}

/// The team file of the repository's main checkout, if it has a valid one.
fn team_of(repo: &Repo) -> Option<Team> {
    let list = worktree::list(repo.root()).unwrap_or_default();
    let main = place::main_checkout(&list, repo.root());
    let file = main.join(FILE_NAME);
    file.is_file()
        .then(|| Team::load(&file, &main).ok())
        .flatten()
}

/// The agent working at `root`: the mark of the pane gate runs in, else the team agent whose
/// place this is.
fn who_am_i(root: &Path, team: Option<&Team>, panes: &[Pane]) -> Option<String> {
    let socket = panes.first().map(|p| p.socket_path.clone());
    let own = socket
        .as_deref()
        .and_then(crate::tmux::own_pane_from_env)
        .and_then(|id| panes.iter().find(|p| p.id == id))
        .and_then(|p| p.mark.clone());
    if own.is_some() {
        return own;
    }
    let team = team?;
    let here = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    let mut lists = std::collections::BTreeMap::new();
    team.agents
        .iter()
        .filter(|a| a.feature.is_some())
        .find(|a| {
            let (list, config) = lists.entry(a.repo.clone()).or_insert_with(|| {
                let list = worktree::list(&a.repo).unwrap_or_default();
                let config =
                    Config::load(&place::main_checkout(&list, &a.repo)).unwrap_or_default();
                (list, config)
            });
            place::locate(a, list, config)
                .is_some_and(|p| std::fs::canonicalize(&p.root).unwrap_or(p.root) == here)
        })
        .map(|a| a.name.clone())
}

/// Whom `me` tells: whom it reports to, then the orchestrator when that is someone else.
fn recipients(me: &str, team: Option<&Team>, panes: &[Pane]) -> Vec<String> {
    let (boss, orchestrator) = match team.and_then(|t| t.agent(me).map(|a| (t, a))) {
        Some((team, agent)) => (
            agent.reports_to.clone(),
            team.agents
                .iter()
                .find(|a| a.role == Role::Orchestrator)
                .map(|a| a.name.clone()),
        ),
        None => (
            pane_of(me, panes).and_then(|p| p.reports_to.clone()),
            panes
                .iter()
                .find(|p| p.role.as_deref() == Some("orchestrator"))
                .and_then(|p| p.mark.clone()),
        ),
    };
    let mut out: Vec<String> = boss.into_iter().collect();
    if let Some(o) = orchestrator
        && o != me
        && !out.contains(&o)
    {
        out.push(o);
    }
    out
}

/// The live pane marked as `name` (a dead one only when there is no other).
fn pane_of<'p>(name: &str, panes: &'p [Pane]) -> Option<&'p Pane> {
    let mut marked = panes.iter().filter(|p| p.mark.as_deref() == Some(name));
    let first = marked.clone().next();
    marked.find(|p| !p.dead).or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team() -> Team {
        let text = "session = \"s\"\n\
            [[agent]]\nname = \"boss\"\nrole = \"orchestrator\"\ncommand = \"c\"\n\
            [[agent]]\nname = \"pm\"\nrole = \"pm\"\ncommand = \"c\"\n\
            [[agent]]\nname = \"ann\"\nrole = \"engineer\"\ncommand = \"c\"\nfeature = \"A\"\n\
            [[agent]]\nname = \"solo\"\nrole = \"engineer\"\ncommand = \"c\"\nfeature = \"B\"\npm = \"boss\"\n";
        Team::parse(Path::new("/r/team.toml"), text.as_bytes(), Path::new("/r")).unwrap()
    }

    fn pane(id: &str, mark: &str, role: &str, reports_to: Option<&str>) -> Pane {
        Pane {
            id: id.into(),
            session: "s".into(),
            window_index: 0,
            window_name: mark.into(),
            pane_index: 0,
            pid: 1,
            command: "c".into(),
            path: "/r".into(),
            in_mode: false,
            active: false,
            socket_path: "/tmp/sock".into(),
            mark: Some(mark.into()),
            role: Some(role.into()),
            dead: false,
            reports_to: reports_to.map(str::to_owned),
            restart: false,
        }
    }

    #[test]
    fn the_pm_hears_first_then_the_orchestrator_once() {
        let t = team();
        assert_eq!(recipients("ann", Some(&t), &[]), ["pm", "boss"]);
        assert_eq!(recipients("solo", Some(&t), &[]), ["boss"]);
        assert_eq!(recipients("boss", Some(&t), &[]), Vec::<String>::new());
        // Without a team file, the panes' marks say it.
        let panes = [
            pane("%1", "ann", "engineer", Some("pm")),
            pane("%2", "pm", "pm", None),
            pane("%3", "boss", "orchestrator", None),
        ];
        assert_eq!(recipients("ann", None, &panes), ["pm", "boss"]);
        assert_eq!(pane_of("pm", &panes).unwrap().id, "%2");
        assert!(pane_of("nobody", &panes).is_none());
    }
}
