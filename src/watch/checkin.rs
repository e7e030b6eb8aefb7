//! One check-in delivery attempt, run as a job on the blocking pool (the loop's side is
//! [`super::agenda`]).
//!
//! An attempt, so that nothing is delivered twice and nothing silently dropped:
//! 1. under the schedule's lock, mark the entry `delivering` and count the attempt (an entry
//!    already `delivering`, left by a crash, is settled without sending if the event log
//!    records it delivered or escalated);
//! 2. type the note and one line of project state into the pane (late ones say how late);
//! 3. record `checkin-delivered`, then remove the entry (or advance a recurring one).
//!
//! A note typed but never seen in the pane's input (no Enter pressed: a menu or dialog had the
//! pane) is a failed attempt; one seen but still in the input after Enter is escalated at once,
//! since typing it again would double it there.
//!
//! A failed attempt records `checkin-failed` and is retried with backoff
//! (`agent.checkin_retry`, doubling); after `agent.escalate_after` attempts the orchestrator
//! is told and `checkin-escalated` records what became of it.

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;

use super::jobs::Ctx;
use super::messenger::SendFailure;
use super::turns::Routed;
use super::{WatchEvent, brief};
use crate::events::Event;
use crate::nudge::one_line;
use crate::repo::Repo;
use crate::schedule::{self, Checkin, State, backoff, human, lateness, settled_in};
use crate::tmux::{Delivery, Pane, SendReport};

enum Begin {
    Go(Box<Checkin>),
    /// Cancelled, not due after all, or settled by an earlier run: nothing to do.
    Nothing(Option<String>),
}

/// One delivery attempt of check-in `id`; returns lines for the watcher's log.
pub fn attempt(ctx: &Ctx, id: u64) -> Vec<String> {
    let now = Timestamp::now();
    let store = ctx.store();
    let log = ctx.log();
    let begun = store.update(|s| {
        let Some(c) = s.get_mut(id) else {
            return (false, Begin::Nothing(None));
        };
        if c.next_attempt() > now {
            return (false, Begin::Nothing(None));
        }
        if c.state == State::Delivering {
            let (events, _) = log.read().unwrap_or_default();
            if settled_in(&events, c) {
                let key = c.key();
                s.settle(id, now);
                let line = format!("{key}: already delivered before a restart; not sent again");
                return (true, Begin::Nothing(Some(line)));
            }
        }
        c.state = State::Delivering;
        c.attempts += 1;
        (true, Begin::Go(Box::new(c.clone())))
    });
    let c = match begun {
        Ok((Begin::Go(c), _)) => *c,
        Ok((Begin::Nothing(line), _)) => return line.into_iter().collect(),
        Err(e) => return vec![format!("check-in {id}: {e}")],
    };
    let messenger = ctx.messenger.on(c.socket.as_deref());
    let sent = messenger
        .checkin_pane(&c)
        .map_err(SendFailure::from)
        .and_then(|pane| {
            let text = checkin_text(&c, lateness(c.due, now), &state_line(ctx, &pane, now));
            // Mid-turn agents get it at their turn's end (see `turns`).
            let routed =
                super::turns::deliver_or_queue(ctx, &messenger, &pane, "checkin", &c.key(), &text)?;
            Ok((routed, pane))
        });
    match sent {
        Ok((Routed::Sent(report), pane)) => match report.delivery {
            Delivery::Delivered | Delivery::Typed => delivered(ctx, &c, &pane, report, now),
            // No Enter was pressed (a menu or dialog had the pane): a failed attempt, tried
            // again with backoff, then escalated.
            Delivery::NotSeen => failed(ctx, &c, &not_delivered(&pane, &report), now),
            // It sits in the agent's input: typing it again would double it there.
            Delivery::Unconfirmed => escalate(ctx, &c, &not_delivered(&pane, &report), now),
        },
        Ok((routed, pane)) => queued(ctx, &c, &pane, &routed, now),
        Err(SendFailure::Stopped) => {
            // Nothing was typed: back to pending, to be attempted by the next watcher.
            let _ = store.update(|s| match s.get_mut(id) {
                Some(e) => {
                    e.state = State::Pending;
                    (true, ())
                }
                None => (false, ()),
            });
            vec![format!(
                "{}: interrupted by shutdown before sending",
                c.key()
            )]
        }
        Err(e) => failed(ctx, &c, &e.to_string(), now),
    }
}

/// Why a typed check-in did not go in, with the pane's last rows, in one line.
fn not_delivered(pane: &Pane, report: &SendReport) -> String {
    let why = report
        .why
        .map_or_else(|| report.delivery.to_string(), |w| w.to_string());
    let rows = report.screen.iter().rev().take(3).rev().map(|r| r.trim());
    let shown: Vec<&str> = rows.collect();
    format!(
        "not delivered to {} ({}): {why}; the pane shows: {}",
        pane.target(),
        pane.id,
        shown.join(" | ")
    )
}

/// `[gate check-in] (late by 2h 3m) <note> — <state>`, one line.
pub fn checkin_text(c: &Checkin, late: Option<Duration>, state: &str) -> String {
    let late = late
        .map(|d| format!("(late by {}) ", human(d)))
        .unwrap_or_default();
    one_line(&format!("[gate check-in] {late}{} — {state}", c.note))
}

/// The state of the worktree the pane works in (the main one when it works in none).
fn state_line(ctx: &Ctx, pane: &Pane, now: Timestamp) -> String {
    let roots = ctx.roots();
    let place = crate::agents::worktree_of(&pane.path, &roots)
        .and_then(|root| ctx.place(root))
        .or_else(|| ctx.main());
    let Some(place) = place else {
        return "project state unavailable: no worktree is watched".into();
    };
    let state = Repo::discover(&place.root)
        .map_err(|e| e.to_string())
        .and_then(|repo| brief::gather(&repo, &place.config()).map_err(|e| e.to_string()));
    match state {
        Ok(s) => brief::line(&s, now.as_second()),
        Err(e) => format!("project state unavailable: {e}"),
    }
}

fn delivered(
    ctx: &Ctx,
    c: &Checkin,
    pane: &Pane,
    report: SendReport,
    now: Timestamp,
) -> Vec<String> {
    let late = lateness(c.due, now)
        .map(|d| format!(", late by {}", human(d)))
        .unwrap_or_default();
    let detail = format!(
        "{}: {} to {} ({}), attempt {}{late}",
        c.key(),
        report.delivery,
        pane.target(),
        pane.id,
        c.attempts
    );
    settle(ctx, c, detail, "delivered", now)
}

/// Handed to the delivery queue: recorded as delivered (so no restart sends it again), and
/// settled; the queue types it when the agent's turn ends.
fn queued(ctx: &Ctx, c: &Checkin, pane: &Pane, routed: &Routed, now: Timestamp) -> Vec<String> {
    let detail = format!(
        "{}: {routed} ({} {}), attempt {}",
        c.key(),
        pane.target(),
        pane.id,
        c.attempts
    );
    settle(ctx, c, detail, "queued", now)
}

/// Records `checkin-delivered` with `detail`, then settles the entry. The event comes first:
/// after a crash in between, the log says it went out (or into the queue), and it is not sent
/// again.
fn settle(ctx: &Ctx, c: &Checkin, detail: String, what: &str, now: Timestamp) -> Vec<String> {
    let mut lines = Vec::new();
    let mut e = Event::now(WatchEvent::CheckinDelivered.as_str());
    e.detail = detail.clone();
    if let Err(err) = ctx.log().append(&e) {
        lines.push(format!("{err}"));
    }
    if let Err(err) = ctx.store().update(|s| {
        s.settle(c.id, now);
        (true, ())
    }) {
        lines.push(format!("{}: {what}, but {err}", c.key()));
    }
    lines.push(detail);
    lines
}

fn failed(ctx: &Ctx, c: &Checkin, error: &str, now: Timestamp) -> Vec<String> {
    let config = ctx.config();
    let max = config.agent.escalate_after.max(1);
    let orchestrator = config.agent.orchestrator.trim();
    let retry_at = (c.attempts < max)
        .then(|| schedule::due_in(now, backoff(c.attempts, config.agent.checkin_retry.get())));
    let next = match retry_at {
        Some(at) => format!("next attempt at {at}"),
        None => format!("escalating to {orchestrator}"),
    };
    let detail = format!(
        "{}: attempt {} of {max} to {} failed: {error}; {next}",
        c.key(),
        c.attempts,
        c.target
    );
    let log = ctx.log();
    let mut e = Event::now(WatchEvent::CheckinFailed.as_str());
    e.detail = detail.clone();
    let _ = log.append(&e);
    let mut lines = vec![detail];
    if let Some(at) = retry_at {
        let stored = ctx.store().update(|s| match s.get_mut(c.id) {
            Some(entry) => {
                entry.state = State::Pending;
                entry.retry_at = Some(at);
                entry.last_error = Some(error.to_owned());
                (true, ())
            }
            None => (false, ()),
        });
        if let Err(err) = stored {
            lines.push(format!("{}: {err}", c.key()));
        }
        return lines;
    }
    lines.extend(escalate(ctx, c, error, now));
    lines
}

/// Tells the orchestrator which check-in could not be delivered, records the fate, and
/// settles the entry.
fn escalate(ctx: &Ctx, c: &Checkin, error: &str, now: Timestamp) -> Vec<String> {
    let config = ctx.config();
    let orchestrator = config.agent.orchestrator.trim();
    let text = one_line(&format!(
        "[gate] check-in {} for {} could not be delivered after {} attempts ({error}); its note: {}",
        c.id, c.target, c.attempts, c.note
    ));
    let told = tell(ctx, c.socket.as_deref(), orchestrator, &text);
    let fate = match &told {
        Ok(report) if report.delivery.as_asked() => {
            format!("told the orchestrator {orchestrator} ({})", report.delivery)
        }
        Ok(report) => format!(
            "the orchestrator {orchestrator} could not be told either ({}); given up",
            report.delivery
        ),
        Err(SendFailure::Stopped) => {
            let _ = ctx.store().update(|s| match s.get_mut(c.id) {
                Some(e) => {
                    e.state = State::Pending;
                    (true, ())
                }
                None => (false, ()),
            });
            return vec![format!(
                "{}: escalation interrupted by shutdown; the next watcher tries again",
                c.key()
            )];
        }
        Err(e) => {
            format!("the orchestrator {orchestrator} could not be told either ({e}); given up")
        }
    };
    let detail = format!(
        "{}: undeliverable to {} after {} attempts ({error}); {fate}",
        c.key(),
        c.target,
        c.attempts
    );
    let mut e = Event::now(WatchEvent::CheckinEscalated.as_str());
    e.detail = detail.clone();
    let _ = ctx.log().append(&e);
    let _ = ctx.store().update(|s| {
        s.settle(c.id, now);
        (true, ())
    });
    vec![detail]
}

/// Delivers `text` to `target` on the check-in's server, else on the watcher's own.
fn tell(
    ctx: &Ctx,
    socket: Option<&Path>,
    target: &str,
    text: &str,
) -> Result<SendReport, SendFailure> {
    let first = ctx.messenger.on(socket);
    let attempt = |m: &super::messenger::Messenger| {
        let pane = m.resolve(target)?;
        m.deliver(&pane, text)
    };
    match attempt(&first) {
        Err(SendFailure::Tmux(_))
            if socket.is_some() && first.socket() != ctx.messenger.socket() =>
        {
            attempt(&ctx.messenger)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkin_lines_carry_note_lateness_and_state() {
        let c = Checkin {
            id: 1,
            due: "2025-01-02T04:00:00Z".parse().unwrap(),
            target: "eng:1.0".into(),
            pane: None,
            pane_pid: None,
            socket: None,
            note: "Review the\ntests".into(),
            origin: "outside tmux".into(),
            created: "2025-01-02T03:00:00Z".parse().unwrap(),
            every: None,
            attempts: 1,
            state: State::Delivering,
            retry_at: None,
            last_error: None,
        };
        assert_eq!(
            checkin_text(&c, None, "branch main, violations: none"),
            "[gate check-in] Review the tests — branch main, violations: none"
        );
        assert_eq!(
            checkin_text(&c, Some(Duration::from_secs(7380)), "branch main"),
            "[gate check-in] (late by 2h 3m) Review the tests — branch main"
        );
    }
}
