//! `gate hook NAME`: what the installed shims run. Blocking hooks print their refusal on
//! stderr (git shows it) and exit 1; the post- hooks only record events and never fail.

use gate::repo::short_id;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use gate::config::Config;
use gate::events::{Event, EventLog};
use gate::hooks::run;
use gate::repo::Repo;
use gate::rules::Violation;

use crate::project::Project;
use crate::ui::Ui;

/// Run one git hook's check (called by the shims `gate hooks install` writes)
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_enum)]
    pub name: HookName,
    /// The arguments git passed to the hook
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HookName {
    PreCommit,
    PrePush,
    PostCheckout,
    PostCommit,
    PostMerge,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let ui = ui.on_stderr();
    match args.name {
        HookName::PreCommit | HookName::PrePush => blocking(args, &ui),
        _ => {
            // A post- hook cannot undo anything; failing it would only confuse the agent.
            if let Err(e) = record(args) {
                ui.warn(format!(
                    "gate {}: could not record the event: {e:#}",
                    hook_name(args.name)
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open() -> anyhow::Result<(Repo, Config)> {
    let repo = Repo::from_env()?;
    let config = Config::load(repo.root())?;
    Ok((repo, config))
}

fn blocking(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    // The hook reads a handful of objects git itself just wrote or packed; re-hashing each on
    // read (libgit2's default) is a tenth of the hook's time and checks nothing git does not.
    git2::opts::strict_hash_verification(false);
    let (repo, config) = open()?;
    let violations = match args.name {
        HookName::PreCommit => {
            let index = std::env::var_os("GIT_INDEX_FILE").map(PathBuf::from);
            run::pre_commit(&repo, &config, &Project::hint(None), index.as_deref())?
        }
        _ => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input)?;
            let remote = args.args.first().map_or("origin", String::as_str);
            run::pre_push(&repo, &config, remote, &run::parse_push_input(&input))
        }
    };
    if violations.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let branch = repo.head().ok().and_then(|h| h.branch().map(str::to_owned));
    let log = EventLog::in_dir(&repo.state_dir());
    let skip = std::env::var("GATE_SKIP").is_ok_and(|v| !v.is_empty() && v != "0");
    let kind = if skip { "skipped" } else { "blocked" };
    for v in &violations {
        if let Err(e) = log.append(&event(kind, args.name, v, branch.clone())) {
            ui.warn(format!("could not record the event: {e:#}"));
        }
    }
    let what = if args.name == HookName::PreCommit {
        "commit"
    } else {
        "push"
    };
    if skip {
        let codes: Vec<&str> = violations.iter().map(|v| v.code.as_str()).collect();
        ui.warn(format!(
            "GATE_SKIP is set: letting this {what} through despite {}; recorded in {}",
            codes.join(", "),
            log.path().display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    ui.line(format!("{} {what} refused", ui.bold("gate:")))?;
    for v in &violations {
        ui.line(format!(
            "  {} {} {}",
            ui.fail_mark(),
            ui.code(format!("[{}]", v.code.as_str())),
            v.message
        ))?;
        ui.details(v, "      ", 3)?;
    }
    Ok(ExitCode::from(crate::exit::REFUSED))
}

fn event(kind: &str, hook: HookName, v: &Violation, branch: Option<String>) -> Event {
    let mut e = Event::now(kind);
    e.code = Some(v.code.as_str().into());
    e.branch = branch;
    e.paths = v.paths.iter().take(20).cloned().collect();
    e.detail = format!("{}: {}", hook_name(hook), v.message);
    e
}

/// post-checkout, post-commit, post-merge: one event each.
fn record(args: &Args) -> anyhow::Result<()> {
    let repo = Repo::from_env()?;
    let head = repo.head()?;
    let mut e = match args.name {
        HookName::PostCheckout => {
            // Third argument 1: a branch checkout; 0: files checked out from another commit.
            if args.args.get(2).map(String::as_str) != Some("1") {
                return Ok(());
            }
            let mut e = Event::now("checkout");
            e.detail = format!(
                "from {}",
                short_id(args.args.first().map_or("", String::as_str))
            );
            e
        }
        HookName::PostCommit => {
            let mut e = Event::now("commit");
            e.commit = repo.last_commit().map(|c| c.id);
            if std::env::var("GATE_SKIP").is_ok_and(|v| !v.is_empty() && v != "0") {
                e.detail = "made with GATE_SKIP".into();
            }
            e
        }
        _ => {
            let mut e = Event::now("merge");
            e.commit = repo.last_commit().map(|c| c.id);
            if args.args.first().map(String::as_str) == Some("1") {
                e.detail = "squash".into();
            }
            e
        }
    };
    e.branch = head.branch().map(str::to_owned);
    EventLog::in_dir(&repo.state_dir()).append(&e)?;
    Ok(())
}

pub fn hook_name(name: HookName) -> &'static str {
    match name {
        HookName::PreCommit => "pre-commit",
        HookName::PrePush => "pre-push",
        HookName::PostCheckout => "post-checkout",
        HookName::PostCommit => "post-commit",
        HookName::PostMerge => "post-merge",
    }
}
