//! `gate status`: this project, or every registered one, at a glance.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use gate::registry::Registry;
use gate::status::{self, ProjectStatus, human_age};
use gate::team::status::TeamStatus;
use gate::tmux::Tmux;
use serde::Serialize;

use crate::project::Project;
use crate::ui::Ui;

/// Show where this project stands: branch, feature and phase, each rule, last commit, dirty
/// files, the watcher, pending check-ins, recent violations and the agent panes. --all shows
/// one line per registered project, most in need of attention first, and under it the team
/// that is up there (its team.toml's session), one line per agent.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Every project `gate init` registered, one line each
    #[arg(long)]
    pub all: bool,
    /// Also show the last N lines of each agent pane
    #[arg(long, value_name = "N")]
    pub peek: Option<usize>,
    /// Refresh in place every few seconds until Ctrl-C
    #[arg(long, conflicts_with = "json")]
    pub watch: bool,
    /// Seconds between refreshes with --watch
    #[arg(long, default_value_t = 3, requires = "watch")]
    pub every: u64,
    /// Exit 1 when a rule is violated (for scripts); without it, status exits 0 whenever it
    /// could report
    #[arg(long)]
    pub check: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct AgentView {
    pane: String,
    target: String,
    command: String,
    /// Who works there (`gate agents`), and why gate counts the pane as an agent.
    name: String,
    why: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    peek: Option<Vec<String>>,
    /// What its CLI last reported through gate's hooks, and since when (absent when its
    /// program reports nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<gate::agents::state::AgentState>,
}

#[derive(Serialize)]
struct One<'a> {
    #[serde(flatten)]
    status: &'a ProjectStatus,
    agents: Vec<AgentView>,
    /// With --all: the team that is up here (`gate team status --json`'s document).
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<&'a TeamStatus>,
}

#[derive(Serialize)]
struct All<'a> {
    projects: Vec<One<'a>>,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    loop {
        let code = if args.all {
            all(args, ui)?
        } else {
            one(args, ui)?
        };
        if !args.watch {
            return Ok(code);
        }
        std::thread::sleep(Duration::from_secs(args.every.max(1)));
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn clear_if_watching(args: &Args, ui: &Ui) -> std::io::Result<()> {
    if args.watch {
        // Home and clear: the wall-screen view redraws in place.
        ui.line("\x1b[H\x1b[2J\x1b[H")?;
    }
    Ok(())
}

fn one(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let s = status::gather(project.repo.root(), now(), true);
    let agents = agents_of(&project, s.root.as_path(), args.peek);
    if args.json {
        ui.json(&One {
            status: &s,
            agents,
            team: None,
        })?;
    } else {
        clear_if_watching(args, ui)?;
        render_one(ui, &s, &agents)?;
    }
    Ok(if !args.check || s.violations().next().is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::REFUSED)
    })
}

fn all(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let roots = Registry::open_default()?.list()?;
    let t = now();
    // Two cores: gather the projects in parallel, a thread per project; each with the team
    // that is up there, if any.
    let gather = |root: &Path| {
        (
            status::gather(root, t, false),
            gate::team::running::at(root, &Tmux::from_env(), t),
        )
    };
    let mut statuses: Vec<(ProjectStatus, Option<TeamStatus>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = roots
            .iter()
            .map(|root| scope.spawn(move || gather(root)))
            .collect();
        handles
            .into_iter()
            .zip(&roots)
            .map(|(h, root)| h.join().unwrap_or_else(|_| gather(Path::new(root))))
            .collect()
    });
    statuses.sort_by_key(|(s, _)| std::cmp::Reverse(s.attention()));
    if args.json {
        let projects = statuses
            .iter()
            .map(|(s, team)| One {
                status: s,
                agents: Vec::new(),
                team: team.as_ref(),
            })
            .collect();
        ui.json(&All { projects })?;
        return Ok(ExitCode::SUCCESS);
    }
    clear_if_watching(args, ui)?;
    if statuses.is_empty() {
        ui.line("no projects registered yet: run `gate init` in a repository")?;
        return Ok(ExitCode::SUCCESS);
    }
    ui.line(ui.bold(format!(
        "{:<40} {:<28} {:<10} {:<7} {:<8} {:<8} {}",
        "PROJECT", "BRANCH", "PHASE", "RULES", "COMMIT", "WATCHER", "CHECK-INS"
    )))?;
    for (s, team) in &statuses {
        ui.line(all_line(ui, s))?;
        if let Some(team) = team {
            team_lines(ui, team)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The team that is up in a project, under its line: each agent's name, role, branch and
/// whether its program is alive (`gate team status` has the rest).
fn team_lines(ui: &Ui, team: &TeamStatus) -> std::io::Result<()> {
    ui.line(format!(
        "  team {} ({} agents; gate team status for more)",
        ui.bold(&team.session),
        team.agents.len()
    ))?;
    for a in &team.agents {
        let mark = if a.alive {
            ui.ok_mark()
        } else {
            ui.fail_mark()
        };
        ui.line(format!(
            "    {mark} {:<14} {:<12} {:<28} {}",
            a.name,
            a.role,
            truncate(a.branch.as_deref().unwrap_or("-"), 28),
            a.state
        ))?;
    }
    Ok(())
}

fn all_line(ui: &Ui, s: &ProjectStatus) -> String {
    let root = shorten(&s.root);
    if s.state != "ok" {
        return format!(
            "{root:<40} {} {}",
            ui.fail_mark(),
            s.error.as_deref().unwrap_or(s.state)
        );
    }
    let failing = s.rules.iter().filter(|r| !r.ok).count();
    let rules = if failing == 0 {
        format!("{} ok", ui.ok_mark())
    } else {
        format!("{} {failing}", ui.fail_mark())
    };
    let branch = match (&s.branch, s.detached) {
        (_, true) => "(detached)".to_string(),
        (Some(b), _) => b.clone(),
        (None, _) => "-".into(),
    };
    let phase = s.phase.map(phase_name).unwrap_or("-");
    let commit = s
        .last_commit_age
        .map(human_age)
        .unwrap_or_else(|| "-".into());
    let watcher = if s.watcher.running { "up" } else { "down" };
    format!(
        "{root:<40} {:<28} {phase:<10} {rules:<7} {commit:<8} {watcher:<8} {}",
        truncate(&branch, 28),
        s.checkins
    )
}

fn render_one(ui: &Ui, s: &ProjectStatus, agents: &[AgentView]) -> std::io::Result<()> {
    ui.line(format!("{} {}", ui.bold("gate status"), s.root.display()))?;
    let branch = match (&s.branch, s.detached) {
        (_, true) => "detached HEAD".to_string(),
        (Some(b), _) => b.clone(),
        (None, _) => "-".into(),
    };
    let mut feature = match (&s.feature, s.phase) {
        (Some(f), Some(p)) => format!("feature {f} · phase {}", phase_name(p)),
        _ => "no feature".into(),
    };
    if let Some(t) = s.tasks.filter(|t| t.total > 0) {
        feature.push_str(&format!(" · tasks {}/{}", t.done, t.total));
    }
    ui.line(format!("  {:<10} {branch}  ({feature})", "branch"))?;
    let verdicts: Vec<String> = s
        .rules
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                if r.ok { ui.ok_mark() } else { ui.fail_mark() },
                r.code
            )
        })
        .collect();
    ui.line(format!("  {:<10} {}", "rules", verdicts.join("  ")))?;
    // The first violation of each failing rule: the next thing to fix. `gate check` lists all.
    for rule in s.rules.iter().filter(|r| !r.ok) {
        let v = &rule.violations[0];
        let more = match rule.violations.len() {
            1 => String::new(),
            n => ui.dim(format!(" (+{} more: gate check)", n - 1)),
        };
        ui.line(format!(
            "  {:<10} {} {} {}{more}",
            "",
            ui.fail_mark(),
            ui.code(format!("[{}]", v.code.as_str())),
            v.message
        ))?;
        ui.line(format!("  {:<10}     fix: {}", "", ui.bold(&v.fix)))?;
    }
    let age = s
        .last_commit_age
        .map(|a| format!("last commit {} ago", human_age(a)))
        .unwrap_or_else(|| "no commits yet".into());
    let dirty = s
        .dirty
        .map(|n| format!(" · {n} changed file{}", if n == 1 { "" } else { "s" }))
        .unwrap_or_default();
    ui.line(format!("  {:<10} {age}{dirty}", "commits"))?;
    let watcher = if s.watcher.running {
        let last = s
            .watcher
            .last_decision
            .as_deref()
            .map(|d| format!(" · last: {d}"))
            .unwrap_or_default();
        format!(
            "{} running (pid {}){last}",
            ui.ok_mark(),
            s.watcher.pid.unwrap_or(0)
        )
    } else {
        format!(
            "{} not running · start it: gate watch --daemon",
            ui.fail_mark()
        )
    };
    ui.line(format!("  {:<10} {watcher}", "watcher"))?;
    ui.line(format!("  {:<10} {} pending", "check-ins", s.checkins))?;
    for e in &s.recent_violations {
        let code = e.code.as_deref().unwrap_or("");
        let branch = e.branch.as_deref().unwrap_or("");
        // An audit slip names its commit (issue 11): which one slipped is the next question.
        let commit = e
            .commit
            .as_deref()
            .filter(|_| e.kind == "violation")
            .map(|c| format!(" {}", gate::repo::short_id(c)))
            .unwrap_or_default();
        ui.line(format!(
            "  {:<10} {} {} {code} {branch}{commit}",
            "recent", e.time, e.kind
        ))?;
    }
    if agents.is_empty() {
        ui.line(format!(
            "  {:<10} {}",
            "agents",
            ui.dim("none found (gate agents mark TARGET --name NAME, or run a known agent CLI)")
        ))?;
    }
    let now = jiff::Timestamp::now().as_second();
    for a in agents {
        let state = a.state.as_ref().map_or_else(String::new, |st| {
            format!(
                ": {} for {}",
                st.activity.as_str(),
                gate::status::human_age(st.for_secs(now))
            )
        });
        ui.line(format!(
            "  {:<10} {} {} ({}, {}){state}",
            "agent", a.target, a.pane, a.name, a.command
        ))?;
        for line in a.peek.iter().flatten() {
            ui.line(format!("  {:<10}   {} {line}", "", ui.dim("│")))?;
        }
    }
    Ok(())
}

/// The agents of this worktree (gate's one discovery, `gate::agents`: marked panes, known agent
/// CLIs, or the configured target; never plain shells), with the last `peek` lines of each
/// when asked. No tmux server simply means no agents.
fn agents_of(project: &Project, root: &Path, peek: Option<usize>) -> Vec<AgentView> {
    let tmux = Tmux::from_env();
    let canonical: PathBuf = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    let roots = gate::agents::worktree_roots(root);
    let configured = !project
        .config
        .agent
        .target
        .trim()
        .eq_ignore_ascii_case("auto");
    let Ok(found) = gate::agents::discover(&tmux, &project.config, &roots) else {
        return Vec::new();
    };
    let states = gate::agents::state::States::in_dir(&project.repo.state_dir());
    found
        .agents
        .into_iter()
        .filter(|a| configured || a.worktree.as_deref() == Some(canonical.as_path()))
        .map(|a| (a.name, a.why.kind(), a.pane))
        .map(|(name, why, p)| AgentView {
            state: states.find(&name, &p.id, &p.socket_path),
            name,
            why,
            peek: peek.map(|n| {
                let text = tmux.capture(&p, n.max(1) * 4).unwrap_or_default();
                let lines: Vec<String> = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_owned)
                    .collect();
                let skip = lines.len().saturating_sub(n);
                lines[skip..].to_vec()
            }),
            pane: p.id.clone(),
            target: p.target(),
            command: p.command.clone(),
        })
        .collect()
}

fn phase_name(p: gate::spec::Phase) -> &'static str {
    match p {
        gate::spec::Phase::Specify => "specify",
        gate::spec::Phase::Plan => "plan",
        gate::spec::Phase::Tasks => "tasks",
        gate::spec::Phase::Implement => "implement",
    }
}

/// `/home/me/work/api` -> `~/work/api`.
fn shorten(path: &Path) -> String {
    let text = path.display().to_string();
    match dirs::home_dir().and_then(|h| {
        text.strip_prefix(&h.display().to_string())
            .map(str::to_owned)
    }) {
        Some(rest) if !rest.is_empty() => format!("~{rest}"),
        _ => truncate(&text, 40),
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let keep: String = text
        .chars()
        .rev()
        .take(width - 1)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{keep}")
}
