//! `team up`: start what is missing of a team. Worktrees first (so every window opens where its
//! agent works), then one window per missing agent, marks, then, in parallel, each new agent's
//! wait for its program to be ready and its brief, typed with gate's own send path.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::tmux::{Delivery, Message, SendOptions, Tmux, TmuxError};

use super::panes::{self, TeamPane};
use super::place::{self, Made, Place};
use super::{Agent, Team, TeamError, brief};

/// What the caller does for `up` that lives above the library: `gate specify NAME --worktree`
/// in a repository, and making sure a watcher covers a repository.
pub struct Host<'a> {
    pub specify: &'a dyn Fn(&std::path::Path, &str) -> Result<(), String>,
    pub ensure_watcher: &'a dyn Fn(&std::path::Path) -> Result<(), String>,
}

/// What `up` did for one agent.
#[derive(Debug, Clone, Serialize)]
pub struct AgentUp {
    pub name: String,
    pub role: &'static str,
    pub root: PathBuf,
    pub branch: Option<String>,
    /// `found`, `worktree` (a new worktree for an existing branch or feature directory),
    /// `specified` (a new feature) or `main` (the main checkout).
    pub place: &'static str,
    /// `started` (new window), `existing` (left alone), `unbriefed` (an existing window whose
    /// brief had never been delivered), `blocked` (a window of its name that is not its).
    pub window: &'static str,
    pub pane: String,
    /// What was changed in its CLI's own settings so that it trusts the agent's folder (or
    /// why not), one sentence each; empty when nothing needed changing.
    pub trust: Vec<String>,
    /// The brief's fate: `delivered`, `unconfirmed`, or `None` when none was sent.
    pub brief: Option<Delivery>,
    /// Why this agent is not running or was not briefed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UpReport {
    pub session: String,
    pub agents: Vec<AgentUp>,
    pub attach: String,
    pub elapsed_ms: u64,
}

/// Options for `up` (send timing is the send path's default unless set).
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub send: SendOptions,
    /// How long the screen must stay unchanged (after showing something) to count as ready.
    pub quiet: Duration,
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions {
            send: SendOptions::default(),
            quiet: Duration::from_millis(300),
        }
    }
}

/// Starts what is missing of `team` and briefs each agent that has never been briefed.
pub fn run(
    team: &Team,
    tmux: &Tmux,
    host: &Host<'_>,
    options: &UpOptions,
) -> Result<UpReport, TeamError> {
    let started = Instant::now();
    let _lock = super::lock(team, Duration::from_secs(60))?;
    // Places first: a failure here (a worktree that cannot be made) stops before any window.
    let mut places: Vec<(Place, Made)> = Vec::new();
    for agent in &team.agents {
        places.push(place::ensure(agent, host.specify)?);
    }
    let mut repos: Vec<PathBuf> = places.iter().map(|(p, _)| p.main.clone()).collect();
    repos.sort();
    repos.dedup();
    for repo in &repos {
        (host.ensure_watcher)(repo).map_err(|message| TeamError::Place {
            agent: team.agents[0].name.clone(),
            message: format!("cannot start a watcher for {}: {message}", repo.display()),
        })?;
    }
    // The agent CLIs gate knows get their guard and their state hooks in the worktree they
    // work in, as `gate init --agent-hooks` installs them: before the agent starts, so it is
    // guarded from its first tool call and its first turn is seen.
    let mut hook_notes: Vec<Vec<String>> = Vec::new();
    for (agent, (place, _)) in team.agents.iter().zip(&places) {
        let mut notes = Vec::new();
        if let Some(cli) = crate::agents::state::Cli::of_command(&agent.command) {
            let install = |dir: &std::path::Path| {
                crate::hooks::settings::install(dir, cli).map_err(|e| TeamError::Place {
                    agent: agent.name.clone(),
                    message: format!("cannot install the agent hooks: {e}"),
                })
            };
            install(&place.root)?;
            // Codex (0.171) reads a linked worktree's project hooks from the main checkout's
            // `.codex/hooks.json`, never from the worktree's: without them there, it runs with
            // no guard and reports no turn (tests/tmux/real_team.rs).
            if cli == crate::agents::state::Cli::Codex && place.linked {
                let (file, added) = install(&place.main)?;
                if added {
                    notes.push(format!(
                        "gate's hooks added to {} (Codex reads a worktree's project hooks from \
                         the main checkout, not the worktree); commit it on the trunk: left \
                         untracked, it stops git merging a branch that commits it",
                        place.main.join(file).display()
                    ));
                }
            }
        }
        hook_notes.push(notes);
    }
    // Each known CLI trusts its agent's folder in its own settings, before any window opens:
    // a trust dialog on screen would take the brief as its answer.
    let mut trust = Vec::new();
    for ((agent, (place, _)), notes) in team.agents.iter().zip(&places).zip(hook_notes) {
        let mut said = super::trust::prepare(agent, &place.root)?;
        said.extend(notes);
        trust.push(said);
    }
    let existing = panes::list(tmux, &team.session)?;
    let mut session_exists = !existing.is_empty();
    let mut report = Vec::new();
    for ((agent, (place, made)), trust) in team.agents.iter().zip(&places).zip(trust) {
        let label = match (made, place.linked) {
            (Made::Found, false) => "main",
            (Made::Found, true) => "found",
            (Made::Worktree, _) => "worktree",
            (Made::Specified, _) => "specified",
        };
        let mine: Option<&TeamPane> = existing.iter().find(|p| p.is(&agent.name));
        let squatter = existing.iter().find(|p| p.squats(&agent.name));
        let (pane, window) = match (mine, squatter) {
            (Some(p), _) if p.briefed || p.dead => (p.id.clone(), "existing"),
            (Some(p), _) => (p.id.clone(), "unbriefed"),
            (None, Some(p)) => {
                report.push(AgentUp {
                    name: agent.name.clone(),
                    role: agent.role.as_str(),
                    root: place.root.clone(),
                    branch: place.branch.clone(),
                    place: label,
                    window: "blocked",
                    pane: p.id.clone(),
                    trust,
                    brief: None,
                    problem: Some(format!(
                        "window {}:{} ({}) is not marked as this agent, so it was left alone and \
                         nothing was typed into it; rename it (tmux rename-window) or, if it runs \
                         the agent, mark it: gate agents mark {} --name {} --role {}",
                        team.session,
                        agent.name,
                        p.id,
                        p.id,
                        agent.name,
                        agent.role.as_str()
                    )),
                });
                continue;
            }
            (None, None) => {
                let id = panes::open(
                    tmux,
                    &team.session,
                    !session_exists,
                    &agent.name,
                    &place.root,
                    &agent.command,
                )?;
                session_exists = true;
                (id, "started")
            }
        };
        report.push(AgentUp {
            name: agent.name.clone(),
            role: agent.role.as_str(),
            root: place.root.clone(),
            branch: place.branch.clone(),
            place: label,
            window,
            pane,
            trust,
            brief: None,
            problem: None,
        });
    }
    // Marks: every pane of the team is known by its agent's name and role.
    let all = tmux.panes()?;
    for (agent, up) in team.agents.iter().zip(&report) {
        if up.window == "blocked" {
            continue;
        }
        if let Some(pane) = all.iter().find(|p| p.id == up.pane) {
            tmux.mark(pane, &agent.name, Some(agent.role.as_str()))?;
            panes::set_recovery(tmux, &pane.id, agent.reports_to.as_deref(), agent.restart)?;
        }
    }
    // Briefs, in parallel: each new agent's program starts at its own pace.
    std::thread::scope(|scope| {
        let handles: Vec<_> = team
            .agents
            .iter()
            .zip(&places)
            .zip(report.iter_mut())
            .filter(|(_, up)| up.window == "started" || up.window == "unbriefed")
            .map(|((agent, (place, _)), up)| {
                let pane = all.iter().find(|p| p.id == up.pane).cloned();
                scope.spawn(move || {
                    let outcome = match pane {
                        Some(pane) => deliver(tmux, team, agent, place, &pane, options),
                        None => Err("its pane vanished before it could be briefed".into()),
                    };
                    match outcome {
                        Ok(d) => up.brief = Some(d),
                        Err(problem) => up.problem = Some(problem),
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
    });
    Ok(UpReport {
        session: team.session.clone(),
        agents: report,
        attach: panes::attach_command(tmux, &team.session),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Waits for `pane`'s program to be ready, then types the brief and records it as delivered.
fn deliver(
    tmux: &Tmux,
    team: &Team,
    agent: &Agent,
    place: &Place,
    pane: &crate::tmux::Pane,
    options: &UpOptions,
) -> Result<Delivery, String> {
    wait_ready(tmux, pane, agent, team.ready_timeout, options.quiet)?;
    let text = brief::text(team, agent, place);
    let message = Message::new(&text).ok_or("the brief is empty")?;
    let report = tmux
        .send(pane, &message, &options.send)
        .map_err(|e| e.to_string())?;
    // A first-run screen that opened while the brief was being typed (Codex shows its input,
    // then "Hooks need review" ~0.4 s later) took the keys: the brief never showed in an
    // input and no Enter was pressed, so the agent is left unbriefed for the next up.
    if report.delivery == Delivery::NotSeen
        && let Some(dialog) = tmux
            .capture(pane, 50)
            .ok()
            .as_deref()
            .and_then(super::dialogs::shown)
    {
        return Err(format!(
            "its program opened {dialog} while the brief was typed: the keys went to that \
             screen and no Enter was pressed; answer it in its window ({}), then run gate team \
             up again: it briefs every agent not yet briefed",
            pane.id
        ));
    }
    // Recorded even when unconfirmed: it was typed, and typing it twice is worse.
    panes::set_briefed(tmux, &pane.id).map_err(|e| e.to_string())?;
    Ok(report.delivery)
}

/// How long Codex's screen must stay unchanged to count as ready (without a `ready` text).
const CODEX_QUIET: Duration = Duration::from_millis(1200);

/// Ready: the agent's `ready` text is on screen, or (without one) the screen shows something
/// and has not changed for `quiet`. A program that exits, or is not ready within `timeout`, is
/// not briefed.
fn wait_ready(
    tmux: &Tmux,
    pane: &crate::tmux::Pane,
    agent: &Agent,
    timeout: Duration,
    quiet: Duration,
) -> Result<(), String> {
    // Codex (0.171) draws its input, then "Hooks need review" 0.34-0.40 s after the input's
    // last change (measured under load, tests/tmux/real_team.rs): it is still a while longer.
    let quiet = match crate::cli_trust::Known::of_command(&agent.command) {
        Some(crate::cli_trust::Known::Codex) => quiet.max(CODEX_QUIET),
        _ => quiet,
    };
    let deadline = Instant::now() + timeout;
    let mut last: Option<String> = None;
    let mut since = Instant::now();
    let mut polls = 0u32;
    loop {
        let screen = tmux
            .capture(pane, 50)
            .map_err(|e: TmuxError| e.to_string())?;
        polls += 1;
        // A first-run dialog would take the brief as its answer: it is the person's to answer.
        if let Some(dialog) = super::dialogs::shown(&screen) {
            return Err(format!(
                "its program shows {dialog}, so nothing was typed into it; answer it in its \
                 window ({}), then run gate team up again: it briefs every agent not yet briefed",
                pane.id
            ));
        }
        if polls % 5 == 1 && panes::is_dead(tmux, &pane.id).unwrap_or(false) {
            return Err(format!(
                "its program exited before it was ready; see: tmux capture-pane -p -t {}",
                pane.id
            ));
        }
        match &agent.ready {
            Some(text) if screen.contains(text.as_str()) => return Ok(()),
            Some(_) => {}
            None => {
                if last.as_deref() != Some(screen.as_str()) {
                    last = Some(screen);
                    since = Instant::now();
                } else if !screen.trim().is_empty() && since.elapsed() >= quiet {
                    return Ok(());
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not ready for input within {} s (the screen {}); raise ready_timeout or set `ready` to its prompt text",
                timeout.as_secs(),
                if agent.ready.is_some() {
                    "never showed its `ready` text"
                } else {
                    "never settled on any output"
                }
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The settings files that carry gate's guard for the CLI `command` starts: Claude Code's
/// `.claude/settings.json`, Codex's `.codex/hooks.json`; none for other programs (gate knows
/// no hook format of theirs).
pub fn guard_files(command: &str) -> &'static [&'static str] {
    let program = command.split_whitespace().next().unwrap_or_default();
    match program.rsplit('/').next().unwrap_or_default() {
        "claude" => &[".claude/settings.json"],
        "codex" => &[".codex/hooks.json"],
        _ => &[],
    }
}

#[cfg(test)]
mod guard_tests {
    use super::guard_files;

    #[test]
    fn known_clis_get_their_guard_file() {
        assert_eq!(guard_files("claude --model x"), [".claude/settings.json"]);
        assert_eq!(guard_files("/usr/local/bin/codex"), [".codex/hooks.json"]);
        assert!(guard_files("aider").is_empty());
        assert!(guard_files("").is_empty());
    }
}
