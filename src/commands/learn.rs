//! `gate learn`: a dated lesson appended to LEARNINGS.md, and the list of them.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use gate::events::{Event, EventLog};
use gate::facts;
use gate::learnings::{self, Entry};
use gate::repo::Head;

use crate::exit::Refused;
use crate::project::Project;
use crate::ui::Ui;

/// Record a lesson in LEARNINGS.md at the repository root (created if absent): a heading with
/// the local date and time, the branch and the feature, then the text. Agents and people
/// append; nobody rewrites. `gate learn --list` reads the entries back.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The lesson, e.g. "Auth tests need a running Redis"; several words are joined with
    /// spaces; `-` reads it from stdin
    #[arg(
        value_name = "TEXT",
        required_unless_present = "list",
        conflicts_with = "list"
    )]
    pub text: Vec<String>,
    /// List the recorded lessons (date, branch, feature, text), oldest first
    #[arg(long)]
    pub list: bool,
    /// With --list: a JSON array of {date, branch, feature, text}
    #[arg(long, requires = "list")]
    pub json: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let path = project.repo.root().join(learnings::FILE_NAME);
    if args.list {
        return list(ui, &path, args.json);
    }
    let text = if args.text == ["-"] {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the lesson from stdin")?;
        text
    } else {
        args.text.join(" ")
    };
    let text = learnings::normalise(&text);
    if text.is_empty() {
        return Err(Refused("nothing to learn: the text is empty".into()).into());
    }
    let head = project.repo.head()?;
    let branch = match &head {
        Head::Branch(b) | Head::Unborn(b) => b.clone(),
        Head::Detached(c) => format!("detached at {}", &c[..c.len().min(10)]),
    };
    // A lesson is worth keeping even when the spec directory is in a muddle.
    let feature = facts::resolve_feature(
        &project.repo,
        &project.config,
        &Project::hint(None),
        head.branch(),
    )
    .ok()
    .flatten()
    .map(|(f, _)| f.name);
    let entry = Entry {
        date: jiff::Zoned::now().strftime("%Y-%m-%d %H:%M").to_string(),
        branch,
        feature,
        text,
    };
    gate::confine::check_inside(project.repo.root(), &path)?;
    learnings::append(&path, &entry)?;
    record(&project, &head, &entry, ui);
    ui.line(format!(
        "{} learned, in {} under {} — {} ({})",
        ui.ok_mark(),
        learnings::FILE_NAME,
        entry.date,
        entry.branch,
        entry.feature.as_deref().unwrap_or("no feature")
    ))?;
    commit_lesson(&project, &head, &entry, ui)?;
    Ok(ExitCode::SUCCESS)
}

/// On a branch where work is committed, the lesson is committed at once (LEARNINGS.md alone,
/// whatever else is staged), so it never leaves the tree dirty for `gate finish`. On a
/// protected branch it waits for the next feature branch, where the next lesson (or the
/// watcher) commits it.
fn commit_lesson(project: &Project, head: &Head, entry: &Entry, ui: &Ui) -> anyhow::Result<()> {
    let Head::Branch(branch) = head else {
        return Ok(());
    };
    if project.config.is_protected(branch) {
        ui.line(format!(
            "  {} stays uncommitted on {branch} (protected); it is committed with your next lesson on a feature branch",
            learnings::FILE_NAME
        ))?;
        return Ok(());
    }
    let subject: String = entry.text.split_whitespace().collect::<Vec<_>>().join(" ");
    let subject: String = subject.chars().take(60).collect();
    let message = format!("Learn: {subject}\n\nGate-Learning: true\n");
    let paths = [learnings::FILE_NAME.as_bytes().to_vec()];
    match gate::snapshot::commit_only(&project.repo, &paths, &message) {
        Ok(Some(id)) => {
            let mut e = Event::now("commit");
            e.commit = Some(id.to_string());
            e.branch = Some(branch.clone());
            e.paths = vec![learnings::FILE_NAME.into()];
            e.detail = "gate learn: LEARNINGS.md".into();
            let _ = EventLog::in_dir(&project.repo.state_dir()).append(&e);
            ui.line(format!(
                "{} committed {} as {}",
                ui.ok_mark(),
                learnings::FILE_NAME,
                gate::repo::short_id(&id.to_string())
            ))?;
        }
        Ok(None) => {}
        Err(e) => ui.warn(format!(
            "{} is not committed ({e}); commit it yourself before `gate finish`",
            learnings::FILE_NAME
        )),
    }
    Ok(())
}

fn record(project: &Project, head: &Head, entry: &Entry, ui: &Ui) {
    let mut event = Event::now("learning");
    event.branch = head.branch().map(str::to_owned);
    event.paths = vec![learnings::FILE_NAME.into()];
    event.detail = entry.text.split_whitespace().collect::<Vec<_>>().join(" ");
    let log = EventLog::in_dir(&project.repo.state_dir());
    if let Err(err) = log.append(&event) {
        ui.warn(format!("could not record the event: {err:#}"));
    }
}

fn list(ui: &Ui, path: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let entries = learnings::read(path)?;
    if json {
        ui.json(&entries)?;
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        ui.line(
            ui.dim("no lessons yet; record one: gate learn \"Auth tests need a running Redis\""),
        )?;
    }
    for e in &entries {
        let feature = e.feature.as_deref().unwrap_or("no feature");
        ui.line(ui.bold(format!("{} — {} ({feature})", e.date, e.branch)))?;
        for line in e.text.lines() {
            ui.line(format!("  {line}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
