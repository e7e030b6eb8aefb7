//! `gate log`: the event log, newest last.

use std::process::ExitCode;

use gate::events::EventLog;

use crate::project::Project;
use crate::ui::Ui;

/// Show the event log: refused and skipped commits, branch switches, commits, merges
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only the last N events
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    /// One JSON object per line (the log's own format)
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let log = EventLog::in_dir(&project.repo.state_dir());
    let (events, bad) = log.read()?;
    for b in &bad {
        ui.warn(format!(
            "{}:{}: skipped an unreadable line ({})",
            log.path().display(),
            b.line,
            b.error
        ));
    }
    let skip = args.limit.map_or(0, |n| events.len().saturating_sub(n));
    for e in &events[skip..] {
        if args.json {
            ui.line(serde_json::to_string(e)?)?;
            continue;
        }
        let mut text = format!("{}  {:<9}", e.time, e.kind);
        for part in [&e.code, &e.branch].into_iter().flatten() {
            text.push_str(&format!("  {part}"));
        }
        if let Some(c) = &e.commit {
            text.push_str(&format!("  {}", &c[..c.len().min(10)]));
        }
        if !e.detail.is_empty() {
            text.push_str(&format!("  {}", e.detail));
        }
        if !e.paths.is_empty() {
            text.push_str(&format!("  [{}]", e.paths.join(", ")));
        }
        ui.line(text)?;
    }
    Ok(ExitCode::SUCCESS)
}
