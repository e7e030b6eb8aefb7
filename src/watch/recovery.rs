//! Recovery: an agent whose program died (its pane is dead: the team's windows stay after
//! their program exits) has its worktree's work preserved first, by the usual snapshot rules;
//! then whoever it reports to is told; then, when its team file asked for it (`restart =
//! true`, the `@gate-restart` pane option), it is started again in the same pane (tmux runs
//! the command the pane was created with) with a note saying what happened. At most
//! [`MAX_RESTARTS`] restarts per agent: a program that dies at once would otherwise be
//! restarted forever.
//!
//! Each death is handled once: the episode is keyed by the pane and its dead process's pid.

use std::path::Path;

use super::jobs::Ctx;
use super::turns::tell_boss;
use crate::agents::queue::{self, Note, Queue};
use crate::events::Event;
use crate::snapshot::Outcome;
use crate::tmux::Pane;

/// Restarts per agent before gate stops trying (and says so).
pub const MAX_RESTARTS: u32 = 3;

/// One look at the marked panes working in this repository's worktrees. Blocking.
pub fn pass(ctx: &Ctx, queue: &Queue) -> Vec<String> {
    let Ok(panes) = ctx.messenger.panes() else {
        return Vec::new();
    };
    let roots = ctx.roots();
    let states = crate::agents::state::States::in_dir(&ctx.state);
    let mut lines = Vec::new();
    for pane in panes
        .iter()
        .filter(|p| p.mark.is_some() && died(p, &states))
    {
        let Some(root) = crate::agents::worktree_of(&pane.path, &roots) else {
            continue;
        };
        let agent = pane.mark.clone().unwrap_or_default();
        let episode = format!("died-{}-{}", pane.id, pane.pid);
        if !queue.mark_once(&agent, &episode).unwrap_or(false) {
            continue;
        }
        lines.extend(recover(ctx, queue, pane, &agent, root));
    }
    lines
}

/// The pane is dead, or its CLI reported the session's end (not a `/clear`) and a plain
/// shell is what runs there now.
fn died(pane: &Pane, states: &crate::agents::state::States) -> bool {
    use crate::agents::state::Activity;
    if pane.dead {
        return true;
    }
    let name = pane.mark.as_deref().unwrap_or(&pane.id);
    states
        .find(name, &pane.id, &pane.socket_path)
        .is_some_and(|s| {
            s.activity == Activity::Gone
                && s.detail.as_deref() != Some("clear")
                && SHELLS.contains(&pane.command.as_str())
        })
}

const SHELLS: [&str; 6] = ["sh", "bash", "zsh", "fish", "dash", "ksh"];

fn recover(ctx: &Ctx, queue: &Queue, pane: &Pane, agent: &str, root: &Path) -> Vec<String> {
    let kept = match crate::team::down::preserve(root) {
        Ok(outcome) => describe(&outcome),
        Err(e) => format!("its work could NOT be preserved ({e})"),
    };
    let restarts = restarts(queue, agent);
    let restart = pane.restart && restarts < MAX_RESTARTS;
    let next = match (pane.restart, restart) {
        (true, true) => format!("restarting it (restart {} of {MAX_RESTARTS})", restarts + 1),
        (true, false) => format!("not restarted: it was restarted {MAX_RESTARTS} times already"),
        (false, _) => "restart it if needed (or set restart = true in the team file)".into(),
    };
    let text = format!(
        "[gate] {agent}'s program exited in {} ({}); {kept}; {next}",
        pane.target(),
        root.display()
    );
    log(ctx, "agent-died", &text);
    let mut lines = vec![tell_boss(
        ctx,
        queue,
        agent,
        "died",
        &pane.pid.to_string(),
        &text,
    )];
    if restart {
        lines.push(respawn(ctx, queue, pane, agent, root, restarts + 1, &kept));
    }
    lines
}

fn respawn(
    ctx: &Ctx,
    queue: &Queue,
    pane: &Pane,
    agent: &str,
    root: &Path,
    nth: u32,
    kept: &str,
) -> String {
    let messenger = ctx.messenger.on(Some(&pane.socket_path));
    if let Err(e) = messenger.respawn(pane) {
        return format!("{agent}: restart failed: {}", super::messenger::short(&e));
    }
    set_restarts(queue, agent, nth);
    let now = jiff::Timestamp::now().as_second();
    let note = Note {
        id: format!("restart-{}-{now}", queue::file_safe(agent)),
        agent: agent.to_owned(),
        kind: "restart".into(),
        topic: format!("restart-{nth}"),
        text: format!(
            "[gate] You are {agent}. Your previous session ended unexpectedly and gate restarted \
             you (restart {nth} of {MAX_RESTARTS}); {kept}. Run `gate status` in {} to see where \
             the work stands, then continue your task.",
            root.display()
        ),
        queued: now,
        pane: Some(pane.id.clone()),
        socket: Some(pane.socket_path.clone()),
    };
    let _ = queue.enqueue(&note);
    let line = format!(
        "{agent}: restarted in {} (restart {nth} of {MAX_RESTARTS})",
        pane.id
    );
    log(ctx, "agent-restarted", &line);
    line
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Committed { commit, branch, .. } => {
            format!("its work was committed on {branch} ({})", short(commit))
        }
        Outcome::Shadowed {
            commit, refname, ..
        } => format!(
            "its work was kept as snapshot {} ({refname})",
            short(commit)
        ),
        Outcome::Unchanged { .. } => "it left no uncommitted work".into(),
        Outcome::Retry { reason } => format!("its work could not be preserved yet ({reason})"),
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

/// The file counting an agent's restarts, beside its queue.
fn restarts_path(queue: &Queue, agent: &str) -> std::path::PathBuf {
    queue.agent_dir(agent).join("restarts")
}

fn restarts(queue: &Queue, agent: &str) -> u32 {
    std::fs::read_to_string(restarts_path(queue, agent))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

fn set_restarts(queue: &Queue, agent: &str, n: u32) {
    let path = restarts_path(queue, agent);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = super::daemon::replace_file(&path, format!("{n}\n").as_bytes());
}

fn log(ctx: &Ctx, kind: &str, detail: &str) {
    let mut e = Event::now(kind);
    e.detail = detail.to_owned();
    let _ = ctx.log().append(&e);
}
