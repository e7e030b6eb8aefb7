//! Nudges in the watcher: slips (edited implementation files, commits that bypassed the hooks,
//! auto-commits) turned into one-line messages to the responsible agents, through the policy
//! of [`crate::nudge`]. Blocking (tmux, git); run as jobs.
//!
//! The responsible agents are those of the worktree the slip happened in (a commit past the
//! hooks: the worktree that has its branch checked out), or `agent.target` when configured.
//! Plain shells are never agents (see [`crate::agents`]).

use jiff::Timestamp;

use super::brief::{self, ProjectState};
use super::jobs::{Ctx, Place};
use super::messenger::{SendFailure, short};
use super::{WatchEvent, audit};
use crate::config::Config;
use crate::events::Event;
use crate::nudge::{Kind, Slip, Verdict, escalation_text, nudge_detail, nudge_text};
use crate::repo::Repo;
use crate::repo::status;
use crate::rules::{Code, Rules};
use crate::snapshot::{Outcome, Report};
use crate::tmux::SendReport;

/// The fix for a commit that reached a protected branch without gate's hooks.
pub const BYPASS_FIX: &str = "keep new work on a feature branch (gate specify \"<name>\") and \
                              never commit with --no-verify; if the hooks are missing: gate hooks install";

/// A slip to tell the agents about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub rule: Code,
    pub what: String,
    /// `None`: the fix of the rule's current violation (`gate check`'s), else `gate check`.
    pub fix: Option<String>,
    pub paths: Vec<String>,
}

/// Applies the policy for every responsible pane and sends what it says; returns log lines.
pub fn nudge(
    ctx: &Ctx,
    place: &Place,
    request: &Request,
    state: Option<&ProjectState>,
) -> Vec<String> {
    let rule = request.rule.as_str();
    let config = place.config();
    let fix = match &request.fix {
        Some(fix) => fix.clone(),
        None => current_fix(place, rule, state),
    };
    let slip = Slip {
        rule: rule.to_owned(),
        what: request.what.clone(),
        fix,
    };
    let configured = !config.agent.target.trim().eq_ignore_ascii_case("auto");
    let agents: Vec<crate::tmux::Pane> = match ctx.messenger.agents(&config, &ctx.roots()) {
        Ok(found) => found
            .agents
            .into_iter()
            .filter(|a| configured || a.worktree.as_deref() == Some(place.root.as_path()))
            .map(|a| a.pane)
            .collect(),
        Err(e) => return vec![format!("nudge {rule}: {}; not sent", short(&e))],
    };
    if agents.is_empty() {
        return vec![format!(
            "nudge {rule}: no agent works in {} (plain shells are never nudged; see `gate agents`); not sent",
            place.root.display()
        )];
    }
    let now = Timestamp::now();
    let policy = ctx.policy(&config);
    let mut lines = Vec::new();
    for pane in agents {
        let label = format!("{} ({})", pane.target(), pane.id);
        let verdict = {
            let mut history = ctx.history();
            let verdict = history.decide(policy, rule, &pane.id, now);
            match verdict {
                Verdict::Send { .. } => history.record(rule, &pane.id, now, Kind::Nudged),
                Verdict::Escalate { .. } => history.record(rule, &pane.id, now, Kind::Escalated),
                Verdict::Cooldown { .. } => {}
            }
            verdict
        };
        match verdict {
            Verdict::Cooldown { until } => {
                let left =
                    std::time::Duration::try_from(until.duration_since(now)).unwrap_or_default();
                lines.push(format!(
                    "nudge {rule} to {label}: not sent, cooldown ({} left)",
                    crate::schedule::human(left)
                ));
            }
            Verdict::Send { nth } => {
                let text = nudge_text(&slip);
                // Mid-turn agents get it at their turn's end (see `turns`).
                let routed = super::turns::deliver_or_queue(
                    ctx,
                    &ctx.messenger,
                    &pane,
                    "nudge",
                    rule,
                    &text,
                );
                let outcome = super::turns::outcome_text(&routed);
                let detail = nudge_detail(&pane.id, &pane.target(), None, &outcome, &text);
                record(ctx, WatchEvent::Nudge, rule, &request.paths, &detail);
                lines.push(format!("nudge {rule} #{nth} to {label}: {outcome}"));
            }
            Verdict::Escalate { ignored } => {
                let to = config.agent.orchestrator.trim();
                let text = escalation_text(&slip, &label, ignored);
                let sent = ctx
                    .messenger
                    .resolve(to)
                    .map_err(SendFailure::from)
                    .and_then(|p| ctx.messenger.deliver(&p, &text));
                let outcome = outcome(sent);
                let detail = nudge_detail(&pane.id, &pane.target(), Some(to), &outcome, &text);
                record(
                    ctx,
                    WatchEvent::NudgeEscalated,
                    rule,
                    &request.paths,
                    &detail,
                );
                lines.push(format!(
                    "nudge {rule} escalated to {to} after {ignored} ignored nudges to {label}: {outcome}"
                ));
            }
        }
    }
    lines
}

/// Looks at the project after file events or a ref change: ends the streaks of rules no
/// longer violated, and nudges about implementation files among `paths` that now differ from
/// HEAD while the branch or the spec gate forbids them.
pub fn inspect(ctx: &Ctx, place: &Place, paths: &[String]) -> Vec<String> {
    let config = place.config();
    let gathered = Repo::discover(&place.root)
        .map_err(|e| e.to_string())
        .and_then(|repo| {
            brief::gather(&repo, &config)
                .map(|s| (repo, s))
                .map_err(|e| e.to_string())
        });
    let (repo, state) = match gathered {
        Ok(g) => g,
        Err(e) => return vec![format!("inspection: {e}")],
    };
    resolve(ctx, place, &repo, &state, Timestamp::now());
    if paths.is_empty() {
        return Vec::new();
    }
    let rules = Rules::new(&config);
    let wanted: Vec<Vec<u8>> = paths.iter().map(|p| p.as_bytes().to_vec()).collect();
    // Only real edits: a checkout also rewrites files, but leaves them equal to HEAD.
    let edited: Vec<String> = match status::status(&place.root, &wanted) {
        Ok(entries) => entries
            .iter()
            .map(status::Entry::display)
            .filter(|p| rules.is_implementation(p))
            .collect(),
        Err(e) => return vec![format!("inspection: {e}")],
    };
    if edited.is_empty() {
        return Vec::new();
    }
    let mut lines = Vec::new();
    for code in [Code::FeatureBranch, Code::ImplementationGate] {
        let Some(v) = state.violation(code.as_str()) else {
            continue;
        };
        let context = match (code, state.head.branch()) {
            (Code::FeatureBranch, Some(b)) => format!("on {b}"),
            (Code::FeatureBranch, None) => "on a detached HEAD".into(),
            _ => "before the spec gate passed".into(),
        };
        let request = Request {
            rule: code,
            what: format!("{} edited {context}; {}", listing(&edited), v.message),
            fix: Some(v.fix.clone()),
            paths: edited.clone(),
        };
        lines.extend(nudge(ctx, place, &request, Some(&state)));
    }
    lines
}

/// The nudge about a commit that slipped past the hooks.
pub fn slip_request(slip: &audit::Slip) -> Request {
    Request {
        rule: slip.code,
        what: slip.message.clone(),
        fix: (slip.code == Code::FeatureBranch).then(|| BYPASS_FIX.to_owned()),
        paths: slip.paths.clone(),
    }
}

/// The nudge about an auto-commit or snapshot just made: the work had reached the interval.
pub fn commit_request(report: &Report, config: &Config) -> Option<Request> {
    let interval = &config.commit.interval;
    let (what, fix) = match &report.outcome {
        Outcome::Committed {
            commit,
            branch,
            summary,
        } => (
            format!(
                "uncommitted work reached {interval}, so gate auto-committed it as {} on {branch} ({summary})",
                &commit[..commit.len().min(10)]
            ),
            Some(format!(
                "commit your own work at least every {interval} (git commit, or gate snapshot)"
            )),
        ),
        Outcome::Shadowed {
            commit,
            refname,
            reason,
            ..
        } => (
            format!(
                "uncommitted work reached {interval} where it cannot be committed ({reason}), so gate preserved it as {} on {refname}",
                &commit[..commit.len().min(10)]
            ),
            None,
        ),
        Outcome::Unchanged { .. } | Outcome::Retry { .. } => return None,
    };
    Some(Request {
        rule: Code::CommitCadence,
        what,
        fix,
        paths: Vec::new(),
    })
}

/// Ends the streak of every rule the project no longer violates; an agent's own commit (one
/// without gate's trailer) ends the commit-cadence streak.
fn resolve(ctx: &Ctx, place: &Place, repo: &Repo, state: &ProjectState, now: Timestamp) {
    let mut history = ctx.history();
    for code in [
        Code::FeatureBranch,
        Code::ImplementationGate,
        Code::SpecOrder,
    ] {
        if !state.violates(code.as_str()) {
            history.resolve(code.as_str(), now);
        }
    }
    let Some((head, _)) = &state.last_commit else {
        return;
    };
    let mut last = super::jobs::lock(&place.last_head);
    let moved = last.as_ref().is_some_and(|l| l != head);
    if moved
        && !repo
            .commit_message(head)
            .is_some_and(|m| m.contains(crate::snapshot::TRAILER))
    {
        history.resolve(Code::CommitCadence.as_str(), now);
    }
    *last = Some(head.clone());
}

fn current_fix(place: &Place, rule: &str, state: Option<&ProjectState>) -> String {
    let gathered;
    let state = match state {
        Some(s) => Some(s),
        None => {
            gathered = Repo::discover(&place.root)
                .ok()
                .and_then(|repo| brief::gather(&repo, &place.config()).ok());
            gathered.as_ref()
        }
    };
    state
        .and_then(|s| s.fix_for(rule))
        .unwrap_or("gate check")
        .to_owned()
}

fn outcome(sent: Result<SendReport, SendFailure>) -> String {
    match sent {
        Ok(report) => report.delivery.to_string(),
        Err(e) => format!("not sent ({e})"),
    }
}

fn record(ctx: &Ctx, kind: WatchEvent, rule: &str, paths: &[String], detail: &str) {
    let mut e = Event::now(kind.as_str());
    e.code = Some(rule.to_owned());
    e.paths = paths.iter().take(20).cloned().collect();
    e.detail = detail.to_owned();
    let _ = ctx.log().append(&e);
}

/// `a, b, c and 4 more`.
fn listing(paths: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = paths
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        text.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_short() {
        let paths: Vec<String> = (1..=5).map(|i| format!("src/{i}.rs")).collect();
        assert_eq!(listing(&paths[..1]), "src/1.rs");
        assert_eq!(listing(&paths), "src/1.rs, src/2.rs, src/3.rs and 2 more");
    }
}
