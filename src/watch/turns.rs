//! Messages at turn boundaries. An agent whose CLI reported (through gate's hooks, see
//! [`crate::agents::state`]) that it is mid-turn or showing a question is not typed into:
//! a nudge or check-in for it waits in the delivery queue ([`crate::agents::queue`]) and goes
//! out when its turn ends, as one line. Claude Code's Stop hook may take the notes first
//! (handback); the queue's claims make sure only one of the two sends them.
//!
//! The worker also tells the agent's PM (or orchestrator) what the agent cannot: a note that
//! waited longer than `delivery.escalate_after`, a question open longer than
//! `delivery.needs_input_after`, a claim lost with a crash. Each is told once.
//!
//! Agents whose program reports nothing have no state file: their messages go out as before,
//! when the screen is quiet.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::jobs::{Ctx, guarded};
use super::messenger::{Messenger, SendFailure, short};
use super::{Reporter, stopped};
use crate::agents::queue::{self, Claim, Enqueued, Note, Queue, kinds};
use crate::agents::state::{Activity, AgentState, States};
use crate::events::Event;
use crate::tmux::{Pane, SendReport};

/// How often the worker looks at the agents' states and the queue: the delay between a
/// turn's end and its notes.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// What became of a message for a pane.
#[derive(Debug)]
pub enum Routed {
    Sent(SendReport),
    /// The agent is mid-turn (or a question is open): queued for its turn's end.
    Queued {
        agent: String,
        activity: Activity,
    },
    /// Queued earlier and still waiting (same id or same topic).
    AlreadyQueued {
        agent: String,
    },
}

impl std::fmt::Display for Routed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Routed::Sent(r) => write!(f, "{}, enters: {}", r.delivery, r.enters),
            Routed::Queued { agent, activity } => write!(
                f,
                "queued for {agent}'s turn end ({} now)",
                activity.as_str()
            ),
            Routed::AlreadyQueued { agent } => {
                write!(f, "already queued for {agent}'s turn end")
            }
        }
    }
}

/// The hook-reported state of the agent in `pane`, if its CLI reports one.
pub fn state_of(ctx: &Ctx, pane: &Pane) -> Option<AgentState> {
    let name = pane.mark.as_deref().unwrap_or(&pane.id);
    States::in_dir(&ctx.state).find(name, &pane.id, &pane.socket_path)
}

/// Sends `text` to `pane` now, or queues it when the agent there is mid-turn. `kind` and
/// `topic` label the note (`nudge` / the rule, `checkin` / the check-in's key).
pub fn deliver_or_queue(
    ctx: &Ctx,
    messenger: &Messenger,
    pane: &Pane,
    kind: &str,
    topic: &str,
    text: &str,
) -> Result<Routed, SendFailure> {
    let Some(state) = state_of(ctx, pane).filter(|s| !s.activity.accepts_input()) else {
        return Ok(Routed::Sent(messenger.deliver(pane, text)?));
    };
    if state.activity == Activity::Gone {
        // The session ended: nobody reads the pane's input; a new session reports again.
        return Ok(Routed::Sent(messenger.deliver(pane, text)?));
    }
    let now = jiff::Timestamp::now().as_second();
    let note = Note {
        id: format!("{kind}-{}-{now}", queue::file_safe(topic)),
        agent: state.agent.clone(),
        kind: kind.to_owned(),
        topic: topic.to_owned(),
        text: text.to_owned(),
        queued: now,
        pane: Some(pane.id.clone()),
        socket: Some(pane.socket_path.clone()),
    };
    let queue = Queue::in_dir(&ctx.state);
    match queue.enqueue(&note) {
        Ok(Enqueued::Added) => {
            let mut e = Event::now(kinds::QUEUED);
            e.detail = format!(
                "{}: {kind} for {} held ({} since {}s): {text}",
                note.id,
                state.agent,
                state.activity.as_str(),
                state.for_secs(now)
            );
            let _ = ctx.log().append(&e);
            Ok(Routed::Queued {
                agent: state.agent,
                activity: state.activity,
            })
        }
        Ok(Enqueued::Duplicate) => Ok(Routed::AlreadyQueued { agent: state.agent }),
        // A queue that cannot be written must not swallow the message: type it.
        Err(_) => Ok(Routed::Sent(messenger.deliver(pane, text)?)),
    }
}

/// The outcome in the words of the watcher's log and events.
pub fn outcome_text(routed: &Result<Routed, SendFailure>) -> String {
    match routed {
        Ok(Routed::Sent(report)) => report.delivery.to_string(),
        Ok(other) => other.to_string(),
        Err(e) => format!("not sent ({e})"),
    }
}

pub async fn worker(ctx: Arc<Ctx>, reporter: Arc<dyn Reporter>, mut stop: watch::Receiver<bool>) {
    loop {
        let job = ctx.clone();
        let lines = tokio::task::spawn_blocking(move || guarded("turn boundaries", || pass(&job)))
            .await
            .unwrap_or_default();
        for line in lines {
            reporter.line(&line);
        }
        tokio::select! {
            _ = tokio::time::sleep(LOOK_EVERY) => {}
            _ = stopped(&mut stop) => break,
        }
    }
}

/// One look: lost claims reported, due notes sent, long waits told. Blocking.
pub fn pass(ctx: &Ctx) -> Vec<String> {
    let queue = Queue::in_dir(&ctx.state);
    let states = States::in_dir(&ctx.state);
    let config = ctx.config();
    let now = jiff::Timestamp::now().as_second();
    let mut lines = Vec::new();
    for lost in queue.sweep(now, queue::alive) {
        let text = format!(
            "[gate] a note for {} may not have reached it (gate process {} died while sending): {}",
            lost.note.agent, lost.pid, lost.note.text
        );
        log(ctx, kinds::LOST, &format!("{}: {text}", lost.note.id));
        lines.push(tell_boss(
            ctx,
            &queue,
            &lost.note.agent,
            "lost",
            &lost.note.id,
            &text,
        ));
    }
    for agent in queue.agents() {
        let Ok(pending) = queue.pending(&agent) else {
            continue;
        };
        if pending.is_empty() {
            continue;
        }
        let state = states.read(&agent);
        match state.as_ref().map(|s| s.activity) {
            Some(Activity::Working | Activity::NeedsInput) => {
                let after = config.delivery.escalate_after.get();
                for note in pending
                    .iter()
                    .filter(|n| queue::overdue(n, now, after) && n.kind != "escalation")
                {
                    if queue.mark_escalated(note).unwrap_or(false) {
                        let text = format!(
                            "[gate] {agent} has been {} for over {}; a {} waits for its turn to end: {}",
                            state.as_ref().map_or("busy", |s| s.activity.as_str()),
                            crate::schedule::human(after),
                            note.kind,
                            note.text
                        );
                        log(ctx, kinds::ESCALATED, &format!("{}: {text}", note.id));
                        lines.push(tell_boss(ctx, &queue, &agent, "waiting", &note.id, &text));
                    }
                }
            }
            _ => lines.extend(send_waiting(ctx, &queue, &agent, state.as_ref())),
        }
    }
    lines.extend(super::recovery::pass(ctx, &queue));
    let after = config.delivery.needs_input_after.get();
    for s in states.all() {
        if s.activity == Activity::NeedsInput
            && s.for_secs(now) >= after.as_secs() as i64
            && queue
                .mark_once(&s.agent, &format!("needs-input-{}", s.since))
                .unwrap_or(false)
        {
            let text = format!(
                "[gate] {} has been waiting for input for over {}{}; answer it in its window",
                s.agent,
                crate::schedule::human(after),
                s.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            );
            log(ctx, kinds::NEEDS_INPUT, &text);
            let key = s.since.to_string();
            lines.push(tell_boss(ctx, &queue, &s.agent, "input", &key, &text));
            // The orchestrator hears of it too, when it is not the one already told.
            let boss = boss_of(ctx, &s.agent).map(|p| p.id);
            if let Some(o) = orchestrator(ctx).filter(|o| Some(&o.id) != boss.as_ref()) {
                lines.push(queue_for(&queue, &o, &s.agent, "input", &key, &text));
            }
        }
    }
    lines
}

/// Claims and types every note waiting for `agent`, as one line, into the pane its CLI last
/// reported from (else the pane the first note was meant for).
fn send_waiting(ctx: &Ctx, queue: &Queue, agent: &str, state: Option<&AgentState>) -> Vec<String> {
    let claims = match queue.claim_all(agent) {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => return Vec::new(),
        Err(e) => return vec![format!("notes for {agent}: {e}")],
    };
    let first = &claims[0].note;
    let pane_id = state
        .and_then(|s| s.pane.clone())
        .or_else(|| first.pane.clone());
    let socket = state
        .and_then(|s| s.socket.clone())
        .or_else(|| first.socket.clone());
    let messenger = ctx.messenger.on(socket.as_deref());
    let notes: Vec<Note> = claims.iter().map(|c| c.note.clone()).collect();
    let text = queue::combined(&notes);
    let sent = match pane_id {
        Some(id) => messenger
            .resolve(&id)
            .map_err(SendFailure::from)
            .and_then(|pane| messenger.deliver(&pane, &text)),
        None => Err(SendFailure::Empty),
    };
    match sent {
        Ok(report) => settle(ctx, queue, agent, claims, report),
        Err(e) => {
            // Nothing was typed: the notes wait again (and escalate if they wait too long).
            for claim in claims {
                let _ = claim.release();
            }
            vec![format!(
                "{} note(s) for {agent} not sent ({}); they wait",
                notes.len(),
                match &e {
                    SendFailure::Tmux(t) => short(t),
                    SendFailure::Empty => "no pane known".into(),
                    other => other.to_string(),
                }
            )]
        }
    }
}

/// The notes were typed: each is done (at most once, whatever the screen showed after). Notes
/// the screen did not show submitted are not typed again, and whoever the agent reports to is
/// told, with the notes.
fn settle(
    ctx: &Ctx,
    queue: &Queue,
    agent: &str,
    claims: Vec<Claim>,
    report: SendReport,
) -> Vec<String> {
    let n = claims.len();
    let delivered = report.delivery.as_asked();
    let why = report
        .why
        .map_or_else(|| report.delivery.to_string(), |w| w.to_string());
    let notes: Vec<Note> = claims.iter().map(|c| c.note.clone()).collect();
    for claim in claims {
        let id = claim.note.id.clone();
        let (kind, tail) = if delivered {
            (kinds::DELIVERED, String::new())
        } else {
            (kinds::ESCALATED, format!(" (not delivered: {why})"))
        };
        log(
            ctx,
            kind,
            &format!(
                "{id}: to {agent} at its turn end: {}, enters: {}{tail}",
                report.delivery, report.enters
            ),
        );
        let _ = claim.delivered();
    }
    let _ = queue.set_handbacks(agent, 0);
    let line = format!(
        "{n} queued note(s) to {agent} at its turn end: {}",
        report.delivery
    );
    if delivered {
        return vec![line];
    }
    // Escalations are not escalated in turn: a boss whose pane takes nothing would loop.
    let notes: Vec<Note> = notes
        .into_iter()
        .filter(|n| n.kind != "escalation")
        .collect();
    if notes.is_empty() {
        return vec![format!("{line} (not typed again)")];
    }
    let text = format!(
        "[gate] {} note(s) for {agent} were typed into its pane but not delivered ({why}); \
         not typed again: {}",
        notes.len(),
        queue::combined(&notes)
    );
    let told = tell_boss(ctx, queue, agent, "undelivered", &notes[0].id, &text);
    vec![format!("{line} (not typed again)"), told]
}

/// Queues `text` for whoever `agent` reports to (its PM, else the orchestrator); says so.
pub fn tell_boss(
    ctx: &Ctx,
    queue: &Queue,
    agent: &str,
    what: &str,
    key: &str,
    text: &str,
) -> String {
    match boss_of(ctx, agent) {
        Some(boss) => queue_for(queue, &boss, agent, what, key, text),
        None => format!("{text} (nobody to tell: no pm or orchestrator agent found)"),
    }
}

/// The pane marked as the orchestrator, if any.
fn orchestrator(ctx: &Ctx) -> Option<Pane> {
    let panes = ctx.messenger.panes().ok()?;
    panes
        .into_iter()
        .find(|p| p.role.as_deref() == Some("orchestrator"))
}

/// Queues `text` (about `agent`'s `what`, episode `key`) for the agent in pane `boss`.
fn queue_for(queue: &Queue, boss: &Pane, agent: &str, what: &str, key: &str, text: &str) -> String {
    let now = jiff::Timestamp::now().as_second();
    let note = Note {
        id: format!(
            "escalation-{}-{what}-{}",
            queue::file_safe(agent),
            queue::file_safe(key)
        ),
        agent: boss.mark.clone().unwrap_or_else(|| boss.id.clone()),
        kind: "escalation".into(),
        topic: format!("escalation-{agent}-{what}-{key}"),
        text: text.to_owned(),
        queued: now,
        pane: Some(boss.id.clone()),
        socket: Some(boss.socket_path.clone()),
    };
    match queue.enqueue(&note) {
        Ok(_) => format!("{text} (told {})", note.agent),
        Err(e) => format!("{text} (could not queue it for {}: {e})", note.agent),
    }
}

/// Who `agent` reports to: the agent marked `pm` (for an engineer) or `orchestrator`, else
/// the configured `agent.orchestrator` pane.
pub fn boss_of(ctx: &Ctx, agent: &str) -> Option<Pane> {
    let config = ctx.config();
    let panes = ctx.messenger.panes().ok()?;
    let own = panes.iter().find(|p| p.mark.as_deref() == Some(agent));
    // Whom `gate team up` said it reports to, when that agent is there.
    if let Some(boss) = own
        .and_then(|p| p.reports_to.as_deref())
        .and_then(|b| panes.iter().find(|p| p.mark.as_deref() == Some(b)))
    {
        return Some(boss.clone());
    }
    let role_of = |name: &str| {
        panes
            .iter()
            .find(|p| p.mark.as_deref() == Some(name))
            .and_then(|p| p.role.clone())
    };
    let wanted: &[&str] = match role_of(agent).as_deref() {
        Some("orchestrator") => &[],
        Some("pm") => &["orchestrator"],
        _ => &["pm", "orchestrator"],
    };
    wanted
        .iter()
        .find_map(|role| {
            panes
                .iter()
                .find(|p| p.role.as_deref() == Some(role) && p.mark.as_deref() != Some(agent))
                .cloned()
        })
        .or_else(|| {
            let target = config.agent.orchestrator.trim();
            ctx.messenger
                .resolve(target)
                .ok()
                .filter(|p| p.mark.as_deref() != Some(agent))
        })
}

fn log(ctx: &Ctx, kind: &str, detail: &str) {
    let mut e = Event::now(kind);
    e.detail = detail.to_owned();
    let _ = ctx.log().append(&e);
}
