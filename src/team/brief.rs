//! The one message each agent gets when its team starts it: who it is, who it reports to and
//! how to reach them, where it works, the workflow gate holds it to, and the check-in habit.

use super::place::Place;
use super::{Agent, Role, Team};

/// The first line of every brief (tests and people look for it).
pub fn header(team: &Team, agent: &Agent) -> String {
    format!(
        "You are {}, the {} of team {}.",
        agent.name,
        role_words(agent.role),
        team.session
    )
}

fn role_words(role: Role) -> &'static str {
    match role {
        Role::Orchestrator => "orchestrator",
        Role::Pm => "project manager",
        Role::Engineer => "engineer",
    }
}

/// The brief of `agent`, working at `place`.
pub fn text(team: &Team, agent: &Agent, place: &Place) -> String {
    let mut lines = vec![header(team, agent)];
    lines.push(format!(
        "Your tmux window is {}:{}.",
        team.session, agent.name
    ));
    match &agent.reports_to {
        Some(boss) => {
            let role = team.agent(boss).map_or("lead", |b| role_words(b.role));
            lines.push(format!(
                "You report to {boss} (the {role}); reach them with: gate send {}:{boss} \"<message>\"",
                team.session
            ));
        }
        None => lines.push("You report to the person who started the team.".into()),
    }
    let reports: Vec<&Agent> = team
        .agents
        .iter()
        .filter(|a| a.reports_to.as_deref() == Some(agent.name.as_str()))
        .collect();
    if !reports.is_empty() {
        let names: Vec<String> = reports
            .iter()
            .map(|a| match &a.feature {
                Some(f) => format!("{} ({}, feature {f:?})", a.name, role_words(a.role)),
                None => format!("{} ({})", a.name, role_words(a.role)),
            })
            .collect();
        lines.push(format!(
            "Reporting to you: {}; reach one with: gate send {}:<name> \"<message>\"",
            names.join(", "),
            team.session
        ));
    }
    lines.push(format!("You work in {}.", place.root.display()));
    if let (Some(feature), Some(branch)) = (&agent.feature, &place.branch) {
        lines.push(format!(
            "Your feature: {feature} on branch {branch}, in this worktree of your own (never switch branches in it)."
        ));
    }
    if let Some(spec) = place.spec_path() {
        lines.push(format!("Its spec: {}", spec.display()));
    }
    lines.push(match agent.role {
        Role::Engineer => "Workflow, through gate: complete the spec (every blank, the review checklist), then gate plan, gate tasks; \
             run gate check before you write code; implement task by task, ticking tasks.md; \
             gate verify when done; gate finish to land it. Your PM hears from you at each step."
            .into(),
        _ => "Workflow your engineers follow, through gate: gate specify, gate plan, gate tasks, \
             gate check before code, gate verify, gate finish. Hold them to it; gate team status shows where each one is."
            .into(),
    });
    lines.push(
        "Check in on a schedule: gate schedule 30m \"<what to check>\" reminds you; commit at least every 30 minutes (the watcher auto-commits what you leave)."
            .into(),
    );
    if let Some(extra) = &agent.brief {
        lines.push(extra.trim().to_owned());
    }
    lines.join("\n")
}
