//! Nudges: whether the watcher tells an agent about a slip now, waits out the cooldown, or
//! tells the orchestrator instead. Pure: the history and the time come in as values.
//!
//! The policy, per rule and pane:
//! - at most one message (nudge or escalation) per `agent.nudge_cooldown`;
//! - a nudge counts as ignored when the same rule slips again before the watcher has seen it
//!   put right ([`History::resolve`]); once `agent.escalate_after` nudges in a row were
//!   ignored, the next slip goes to `agent.orchestrator` instead, and the count starts over.

use std::time::Duration;

use jiff::Timestamp;

use crate::events::Event;
use crate::watch::WatchEvent;

/// What happened to a rule in a pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nudged,
    Escalated,
    /// The watcher saw the rule no longer violated.
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub rule: String,
    /// Pane id, `%N`.
    pub pane: String,
    pub at: Timestamp,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub cooldown: Duration,
    pub escalate_after: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nudge the agent; this is the `nth` nudge in a row for the rule.
    Send { nth: u32 },
    /// Too soon after the last message about this rule to this pane.
    Cooldown { until: Timestamp },
    /// The agent ignored this many nudges in a row: tell the orchestrator.
    Escalate { ignored: u32 },
}

/// The decision for a slip of `rule` whose responsible agent is `pane`, at `now`.
pub fn decide(
    policy: Policy,
    rule: &str,
    pane: &str,
    now: Timestamp,
    history: &[Record],
) -> Verdict {
    let mine: Vec<&Record> = history
        .iter()
        .filter(|r| r.rule == rule && r.pane == pane)
        .collect();
    let last_sent = mine.iter().rev().find(|r| r.kind != Kind::Resolved);
    if let Some(last) = last_sent {
        let until = last
            .at
            .checked_add(policy.cooldown)
            .unwrap_or(Timestamp::MAX);
        if now < until {
            return Verdict::Cooldown { until };
        }
    }
    let streak_start = mine
        .iter()
        .rposition(|r| r.kind != Kind::Nudged)
        .map_or(0, |i| i + 1);
    let ignored = mine[streak_start..].len() as u32;
    if policy.escalate_after > 0 && ignored >= policy.escalate_after {
        Verdict::Escalate { ignored }
    } else {
        Verdict::Send { nth: ignored + 1 }
    }
}

/// What the watcher has told whom, oldest first; bounded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    records: Vec<Record>,
}

/// More records than this and the oldest are dropped (cooldowns and streaks only look back a
/// few entries per rule and pane).
const KEEP: usize = 2000;

impl History {
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    pub fn decide(&self, policy: Policy, rule: &str, pane: &str, now: Timestamp) -> Verdict {
        decide(policy, rule, pane, now, &self.records)
    }

    pub fn record(&mut self, rule: &str, pane: &str, at: Timestamp, kind: Kind) {
        self.records.push(Record {
            rule: rule.to_owned(),
            pane: pane.to_owned(),
            at,
            kind,
        });
        if self.records.len() > KEEP {
            self.records.drain(..self.records.len() - KEEP);
        }
    }

    /// `rule` is no longer violated: every pane's streak for it ends.
    pub fn resolve(&mut self, rule: &str, at: Timestamp) {
        let mut open: Vec<String> = Vec::new();
        for r in self.records.iter().filter(|r| r.rule == rule) {
            open.retain(|p| *p != r.pane);
            if r.kind == Kind::Nudged {
                open.push(r.pane.clone());
            }
        }
        for pane in open {
            self.record(rule, &pane, at, Kind::Resolved);
        }
    }

    /// The nudges and escalations in the event log (see [`nudge_detail`]), so that a
    /// restarted watcher keeps its cooldowns.
    pub fn from_events(events: &[Event]) -> History {
        let mut history = History::default();
        for e in events {
            let kind = match e.kind.as_str() {
                k if k == WatchEvent::Nudge.as_str() => Kind::Nudged,
                k if k == WatchEvent::NudgeEscalated.as_str() => Kind::Escalated,
                _ => continue,
            };
            let (Some(rule), Ok(at)) = (&e.code, e.time.parse::<Timestamp>()) else {
                continue;
            };
            let Some(pane) = pane_of_detail(&e.detail) else {
                continue;
            };
            history.record(rule, pane, at, kind);
        }
        history
    }
}

/// A slip as the agent is told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slip {
    /// The rule's code (`feature-branch`, `implementation-gate`, `commit-cadence`, ...).
    pub rule: String,
    /// What happened, one line.
    pub what: String,
    /// The exact command or step that fixes it.
    pub fix: String,
}

/// `[gate] <code>: <what happened> — fix: <command>`, on one line.
pub fn nudge_text(slip: &Slip) -> String {
    one_line(&format!(
        "[gate] {}: {} — fix: {}",
        slip.rule, slip.what, slip.fix
    ))
}

/// The orchestrator's line about an agent that ignored `ignored` nudges.
pub fn escalation_text(slip: &Slip, agent: &str, ignored: u32) -> String {
    one_line(&format!(
        "[gate escalation] {}: the agent in {agent} ignored {ignored} nudges in a row; {} — fix: {}",
        slip.rule, slip.what, slip.fix
    ))
}

/// The event detail of a message about `pane`: `to %3 (eng:1.0), delivered: text` for a
/// nudge, `about %3 (eng:1.0) to orchestrator:0, delivered: text` for an escalation.
pub fn nudge_detail(
    pane: &str,
    label: &str,
    to: Option<&str>,
    outcome: &str,
    text: &str,
) -> String {
    match to {
        None => format!("to {pane} ({label}), {outcome}: {text}"),
        Some(to) => format!("about {pane} ({label}) to {to}, {outcome}: {text}"),
    }
}

fn pane_of_detail(detail: &str) -> Option<&str> {
    let rest = detail
        .strip_prefix("to ")
        .or_else(|| detail.strip_prefix("about "))?;
    let pane = rest.split(' ').next()?;
    pane.starts_with('%').then_some(pane)
}

/// Line breaks and runs of whitespace become single spaces.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        cooldown: Duration::from_secs(600),
        escalate_after: 3,
    };

    fn t(min: i64) -> Timestamp {
        Timestamp::from_second(1_735_787_045 + min * 60).unwrap()
    }

    /// Runs the policy as the watcher does: decide, then record what was done.
    fn step(h: &mut History, rule: &str, pane: &str, now: Timestamp) -> Verdict {
        let v = h.decide(POLICY, rule, pane, now);
        match v {
            Verdict::Send { .. } => h.record(rule, pane, now, Kind::Nudged),
            Verdict::Escalate { .. } => h.record(rule, pane, now, Kind::Escalated),
            Verdict::Cooldown { .. } => {}
        }
        v
    }

    #[test]
    fn first_slip_is_sent_and_a_second_within_the_cooldown_is_not() {
        let mut h = History::default();
        assert_eq!(
            step(&mut h, "feature-branch", "%1", t(0)),
            Verdict::Send { nth: 1 }
        );
        assert_eq!(
            step(&mut h, "feature-branch", "%1", t(9)),
            Verdict::Cooldown { until: t(10) }
        );
        // Another rule, or another pane, has its own cooldown.
        assert_eq!(
            step(&mut h, "commit-cadence", "%1", t(9)),
            Verdict::Send { nth: 1 }
        );
        assert_eq!(
            step(&mut h, "feature-branch", "%2", t(9)),
            Verdict::Send { nth: 1 }
        );
        assert_eq!(
            step(&mut h, "feature-branch", "%1", t(10)),
            Verdict::Send { nth: 2 }
        );
    }

    #[test]
    fn three_ignored_nudges_escalate_then_the_count_starts_over() {
        let mut h = History::default();
        let verdicts: Vec<Verdict> = (0..6)
            .map(|i| step(&mut h, "implementation-gate", "%1", t(i * 10)))
            .collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Send { nth: 1 },
                Verdict::Send { nth: 2 },
                Verdict::Send { nth: 3 },
                Verdict::Escalate { ignored: 3 },
                Verdict::Send { nth: 1 },
                Verdict::Send { nth: 2 },
            ]
        );
    }

    #[test]
    fn a_resolved_rule_forgives_earlier_nudges_but_keeps_the_cooldown() {
        let mut h = History::default();
        step(&mut h, "feature-branch", "%1", t(0));
        step(&mut h, "feature-branch", "%1", t(10));
        h.resolve("feature-branch", t(11));
        assert_eq!(
            step(&mut h, "feature-branch", "%1", t(15)),
            Verdict::Cooldown { until: t(20) }
        );
        assert_eq!(
            step(&mut h, "feature-branch", "%1", t(20)),
            Verdict::Send { nth: 1 }
        );
        // Resolving an open streak records it once; again, or another rule, adds nothing.
        h.resolve("feature-branch", t(21));
        h.resolve("feature-branch", t(22));
        h.resolve("spec-order", t(22));
        assert_eq!(h.records().len(), 5);
    }

    #[test]
    fn escalation_can_be_switched_off() {
        let policy = Policy {
            cooldown: Duration::ZERO,
            escalate_after: 0,
        };
        let mut h = History::default();
        for i in 0..5 {
            assert!(matches!(
                h.decide(policy, "r", "%1", t(i)),
                Verdict::Send { .. }
            ));
            h.record("r", "%1", t(i), Kind::Nudged);
        }
    }

    #[test]
    fn history_comes_back_from_the_event_log() {
        let event = |kind: &str, code: Option<&str>, min: i64, detail: &str| {
            let mut e = Event::now(kind);
            e.time = t(min).to_string();
            e.code = code.map(str::to_owned);
            e.detail = detail.into();
            e
        };
        let events = [
            event(
                "nudge",
                Some("feature-branch"),
                0,
                &nudge_detail("%3", "eng:1.0", None, "delivered", "x"),
            ),
            event(
                "nudge-escalated",
                Some("feature-branch"),
                1,
                &nudge_detail("%3", "eng:1.0", Some("orchestrator:0"), "failed", "y"),
            ),
            event("nudge", None, 2, "to %3 (eng:1.0): no code"),
            event("commit", Some("feature-branch"), 3, "to %3 x"),
            event("nudge", Some("feature-branch"), 4, "garbled"),
        ];
        let h = History::from_events(&events);
        let kinds: Vec<(Kind, &str)> = h
            .records()
            .iter()
            .map(|r| (r.kind, r.pane.as_str()))
            .collect();
        assert_eq!(kinds, [(Kind::Nudged, "%3"), (Kind::Escalated, "%3")]);
        assert_eq!(
            h.decide(POLICY, "feature-branch", "%3", t(5)),
            Verdict::Cooldown { until: t(11) }
        );
    }

    #[test]
    fn messages_are_one_line_with_code_and_fix() {
        let slip = Slip {
            rule: "feature-branch".into(),
            what: "src/app.rs edited on main;\nmain is protected".into(),
            fix: "gate specify \"<name>\"".into(),
        };
        assert_eq!(
            nudge_text(&slip),
            "[gate] feature-branch: src/app.rs edited on main; main is protected — fix: gate specify \"<name>\""
        );
        assert_eq!(
            escalation_text(&slip, "eng:1.0 (%3)", 3),
            "[gate escalation] feature-branch: the agent in eng:1.0 (%3) ignored 3 nudges in a row; \
             src/app.rs edited on main; main is protected — fix: gate specify \"<name>\""
        );
    }
}
