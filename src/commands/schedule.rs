//! `gate schedule`: check-ins the watcher types into an agent's pane later; list, cancel.

use std::process::ExitCode;

use gate::events::{Event, EventLog};
use gate::schedule::{self, Checkin, Quarantined, State, Store};
use gate::tmux::{Pane, Socket, Tmux, TmuxError};
use gate::units::HumanDuration;
use gate::watch::daemon;
use jiff::Timestamp;
use serde::Serialize;

use crate::exit::{Refused, USAGE};
use crate::project::Project;
use crate::ui::Ui;

/// Schedule a check-in: a note typed into an agent's pane later, with the project's state
///
/// After WHEN, the watcher types NOTE plus one line of project state (branch, phase, tasks,
/// last commit, open violations) into a tmux pane and presses Enter. The pane is the one this runs in ($TMUX_PANE), else --target. Check-ins live in
/// <git common dir>/gate/schedule.json and survive restarts: one found overdue is delivered
/// once, marked late. An undeliverable one is retried (agent.checkin_retry, doubling), then
/// reported to agent.orchestrator. Starts the watcher if none is running
/// (GATE_NO_AUTOSTART=1 turns that off).
///
/// Examples: `gate schedule 30 "Check PM progress"`, `gate schedule 15m "Review tests"
/// --target pm:1 --every 1h`, `gate schedule list`, `gate schedule cancel 3`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// Minutes (30) or a duration (90s, 15m, 2h)
    #[arg(required = true, value_name = "WHEN")]
    pub when: Option<String>,
    /// What to tell the agent (several words are joined with spaces)
    #[arg(required = true, value_name = "NOTE", num_args = 1..)]
    pub note: Vec<String>,
    /// Deliver to this pane instead: session:window[.pane], a session or window name, or %N
    #[arg(long, value_name = "TARGET")]
    pub target: Option<String>,
    /// Deliver again every DURATION (e.g. 1h) until cancelled
    #[arg(long, value_name = "DURATION")]
    pub every: Option<HumanDuration>,
    /// Print the new check-in as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// The scheduled check-ins: id, due, target, note, origin, every, attempts
    List {
        /// Print them as JSON
        #[arg(long)]
        json: bool,
    },
    /// Cancel a scheduled check-in
    Cancel {
        /// Its id (`gate schedule list` shows them)
        id: u64,
    },
}

/// Set to `1` to keep `gate schedule` from starting a watcher (tests start their own).
const NO_AUTOSTART: &str = "GATE_NO_AUTOSTART";

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let store = Store::in_dir(&project.repo.state_dir());
    let log = EventLog::in_dir(&project.repo.state_dir());
    match &args.action {
        Some(Action::List { json }) => list(ui, &store, &log, *json),
        Some(Action::Cancel { id }) => cancel(ui, &store, &log, *id),
        None => add(args, ui, &project, &store, &log),
    }
}

fn add(
    args: &Args,
    ui: &Ui,
    project: &Project,
    store: &Store,
    log: &EventLog,
) -> anyhow::Result<ExitCode> {
    let when = args.when.as_deref().unwrap_or_default();
    let after = match schedule::parse_when(when) {
        Ok(d) => d,
        Err(e) => return usage(ui, e),
    };
    let note = gate::nudge::one_line(&args.note.join(" "));
    if gate::tmux::Message::new(&note).is_none() {
        return usage(ui, "the note is empty");
    }
    let (pane, target, origin) = match destination(args.target.as_deref()) {
        Ok(d) => d,
        Err(e) => return usage(ui, e),
    };
    let now = Timestamp::now();
    let checkin = Checkin {
        id: 0,
        due: schedule::due_in(now, after),
        target,
        pane: Some(pane.id.clone()),
        pane_pid: Some(pane.pid),
        socket: Some(pane.socket_path.clone()),
        note,
        origin,
        created: Timestamp::from_second(now.as_second()).unwrap_or(now),
        every: args.every.clone(),
        attempts: 0,
        state: State::Pending,
        retry_at: None,
        last_error: None,
    };
    let (id, quarantined) = store.update(|s| (true, s.add(checkin.clone())))?;
    report_quarantine(ui, log, quarantined);
    let checkin = Checkin { id, ..checkin };
    let mut event = Event::now("checkin-scheduled");
    event.detail = format!(
        "{}: to {} ({}){}: {}",
        checkin.key(),
        checkin.target,
        pane.id,
        every_text(&checkin),
        checkin.note
    );
    let _ = log.append(&event);
    if args.json {
        ui.json(&Listed::of(&checkin))?;
    } else {
        ui.line(format!(
            "{} check-in {id} for {} ({}) due {} (in {}){}",
            ui.ok_mark(),
            checkin.target,
            pane.id,
            local(checkin.due),
            schedule::human(after),
            every_text(&checkin)
        ))?;
    }
    // Progress lines go to stderr when stdout is JSON.
    let progress = if args.json { ui.on_stderr() } else { *ui };
    ensure_watcher(&progress, project);
    Ok(ExitCode::SUCCESS)
}

/// The pane to deliver to, the target to store, and the origin: `--target`, else the pane
/// this runs in (on the server `$TMUX` names).
fn destination(target: Option<&str>) -> Result<(Pane, String, String), String> {
    let own = own_pane()?;
    let origin = own.as_ref().map_or_else(
        || "outside tmux".to_owned(),
        |p| format!("{} ({})", p.target(), p.id),
    );
    match (target, own) {
        (Some(target), _) => {
            let pane = Tmux::from_env().resolve(target).map_err(tmux_error)?;
            Ok((pane, target.to_owned(), origin))
        }
        (None, Some(pane)) => {
            let target = pane.target();
            Ok((pane, target, origin))
        }
        (None, None) => Err(
            "not inside tmux ($TMUX_PANE is not set): say which pane gets the check-in with \
             --target SESSION:WINDOW[.PANE]"
                .into(),
        ),
    }
}

/// The pane `$TMUX_PANE` names on the server of `$TMUX`, if this runs inside tmux.
fn own_pane() -> Result<Option<Pane>, String> {
    let Some(id) = std::env::var("TMUX_PANE")
        .ok()
        .filter(|p| !p.trim().is_empty())
    else {
        return Ok(None);
    };
    let tmux = match std::env::var("TMUX").ok().and_then(|t| socket_of(&t)) {
        Some(path) => Tmux::new(Socket::Path(path.into())),
        None => Tmux::from_env(),
    };
    let panes = tmux.panes().map_err(tmux_error)?;
    match panes.iter().find(|p| p.id == id.trim()) {
        Some(p) => Ok(Some(p.clone())),
        None => Err(format!(
            "$TMUX_PANE is {id}, but {} has no such pane; name the pane with --target",
            tmux.socket().describe()
        )),
    }
}

/// The socket path in `$TMUX` (`socket,pid,session`; the path may hold commas).
fn socket_of(tmux_env: &str) -> Option<String> {
    let mut parts = tmux_env.rsplitn(3, ',');
    let (_session, _pid, socket) = (parts.next()?, parts.next()?, parts.next()?);
    (!socket.is_empty()).then(|| socket.to_owned())
}

fn tmux_error(e: TmuxError) -> String {
    e.to_string()
}

fn usage(ui: &Ui, message: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    ui.error(message);
    Ok(ExitCode::from(USAGE))
}

/// Starts the watcher unless one runs (or `GATE_NO_AUTOSTART=1`); a failure is a warning, the
/// check-in is saved either way.
fn ensure_watcher(ui: &Ui, project: &Project) {
    let paths = daemon::Paths::in_dir(&project.repo.state_dir());
    if daemon::is_running(&paths) {
        return;
    }
    if std::env::var_os(NO_AUTOSTART).is_some_and(|v| v == "1") {
        ui.warn(format!(
            "no watcher is running ({NO_AUTOSTART}=1), so nothing will deliver the check-in \
             until one starts: gate watch --daemon"
        ));
        return;
    }
    if let Err(e) = super::watch::start_daemon(ui, &project.repo, &paths) {
        ui.warn(format!(
            "the check-in is saved, but the watcher did not start ({e:#}); start it: gate watch --daemon"
        ));
    }
}

fn report_quarantine(ui: &Ui, log: &EventLog, quarantined: Option<Quarantined>) {
    if let Some(q) = quarantined {
        ui.warn(&q);
        let mut e = Event::now("schedule-corrupt");
        e.detail = q.to_string();
        let _ = log.append(&e);
    }
}

/// The `list --json` entry. Field names are a public interface: add, never rename.
#[derive(Serialize)]
struct Listed<'a> {
    id: u64,
    /// RFC 3339, UTC.
    due: String,
    target: &'a str,
    /// The pane id it resolved to when scheduled.
    pane: Option<&'a str>,
    note: &'a str,
    origin: &'a str,
    /// A duration like `1h` for a recurring check-in, else null.
    every: Option<String>,
    attempts: u32,
    /// `pending` or `delivering`.
    state: State,
    created: String,
    retry_at: Option<String>,
    last_error: Option<&'a str>,
}

impl<'a> Listed<'a> {
    fn of(c: &'a Checkin) -> Listed<'a> {
        Listed {
            id: c.id,
            due: c.due.to_string(),
            target: &c.target,
            pane: c.pane.as_deref(),
            note: &c.note,
            origin: &c.origin,
            every: c.every.as_ref().map(ToString::to_string),
            attempts: c.attempts,
            state: c.state,
            created: c.created.to_string(),
            retry_at: c.retry_at.map(|t| t.to_string()),
            last_error: c.last_error.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct ListReport<'a> {
    path: &'a std::path::Path,
    checkins: Vec<Listed<'a>>,
}

fn list(ui: &Ui, store: &Store, log: &EventLog, json: bool) -> anyhow::Result<ExitCode> {
    let (mut schedule, quarantined) = store.load()?;
    report_quarantine(ui, log, quarantined);
    schedule.checkins.sort_by_key(|c| (c.next_attempt(), c.id));
    if json {
        ui.json(&ListReport {
            path: store.path(),
            checkins: schedule.checkins.iter().map(Listed::of).collect(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if schedule.checkins.is_empty() {
        ui.line(ui.dim("no check-ins scheduled"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = Timestamp::now();
    for c in &schedule.checkins {
        let when = match std::time::Duration::try_from(c.next_attempt().duration_since(now)) {
            Ok(d) => format!("in {}", schedule::human(d)),
            Err(_) => "due now".into(),
        };
        ui.line(format!(
            "{:>3}  {} ({when})  {}{}  {}  {}",
            c.id,
            local(c.due),
            c.target,
            every_text(c),
            ui.bold(format!("{:?}", c.note)),
            ui.dim(format!("from {}", c.origin))
        ))?;
        if c.attempts > 0 {
            let error = c.last_error.as_deref().unwrap_or("in progress");
            ui.line(ui.dim(format!("     {} attempt(s): {error}", c.attempts)))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cancel(ui: &Ui, store: &Store, log: &EventLog, id: u64) -> anyhow::Result<ExitCode> {
    let (removed, quarantined) = store.update(|s| {
        let removed = s.remove(id);
        (removed.is_some(), removed)
    })?;
    report_quarantine(ui, log, quarantined);
    let Some(c) = removed else {
        return Err(Refused(format!(
            "no check-in {id} is scheduled; `gate schedule list` shows them"
        ))
        .into());
    };
    let mut event = Event::now("checkin-cancelled");
    event.detail = format!("{}: to {}: {}", c.key(), c.target, c.note);
    let _ = log.append(&event);
    ui.line(format!(
        "{} cancelled check-in {id} for {} (due {}): {:?}",
        ui.ok_mark(),
        c.target,
        local(c.due),
        c.note
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn every_text(c: &Checkin) -> String {
    c.every
        .as_ref()
        .map(|e| format!(", every {e}"))
        .unwrap_or_default()
}

/// A time in the local zone, to the second.
fn local(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_from_tmux_env() {
        assert_eq!(
            socket_of("/tmp/tmux-0/default,123,0").as_deref(),
            Some("/tmp/tmux-0/default")
        );
        assert_eq!(socket_of("/tmp/a,b/s,1,2").as_deref(), Some("/tmp/a,b/s"));
        assert_eq!(socket_of("nonsense"), None);
    }
}
