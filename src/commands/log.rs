//! `gate log`: the event log, newest last; `--follow` keeps printing as events are appended.

use std::process::ExitCode;
use std::time::Duration;

use gate::events::{Event, EventLog};
use gate::tail::Follower;
use gate::units::HumanDuration;
use jiff::Timestamp;

use crate::project::Project;
use crate::ui::Ui;

/// How often `--follow` looks for new events.
const POLL: Duration = Duration::from_millis(200);

/// Show the event log: refused and skipped commits, branch switches, commits, merges, lessons
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only the last N events (of those already written, with --follow)
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    /// One JSON object per line (the log's own format)
    #[arg(long)]
    pub json: bool,
    /// Keep printing events as they are appended, until interrupted or the reader goes away
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only events newer than this long ago, e.g. 30m, 2h
    #[arg(long, value_name = "DURATION")]
    pub since: Option<HumanDuration>,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let log = EventLog::in_dir(&project.repo.state_dir());
    let cutoff = match &args.since {
        Some(d) => Some(cutoff(Timestamp::now(), d)?),
        None => None,
    };
    if args.follow {
        return follow(args, ui, &log, cutoff);
    }
    let (events, bad) = log.read()?;
    for b in &bad {
        warn_unreadable(ui, &log, b.line, &b.error);
    }
    print_batch(args, ui, &events, cutoff)?;
    Ok(ExitCode::SUCCESS)
}

/// The earliest time `--since` shows.
fn cutoff(now: Timestamp, since: &HumanDuration) -> anyhow::Result<Timestamp> {
    let span = jiff::SignedDuration::try_from(since.get())?;
    Ok(now.checked_sub(span).unwrap_or(Timestamp::MIN))
}

/// Whether `event` is at or after `cutoff`; an event whose time cannot be read is not known to
/// be, so it is left out.
fn is_since(event: &Event, cutoff: Option<Timestamp>) -> bool {
    cutoff.is_none_or(|c| event.time.parse::<Timestamp>().is_ok_and(|t| t >= c))
}

/// The events already written: filtered by `--since`, then the last `--limit` of them.
fn print_batch(
    args: &Args,
    ui: &Ui,
    events: &[Event],
    cutoff: Option<Timestamp>,
) -> anyhow::Result<()> {
    let shown: Vec<&Event> = events.iter().filter(|e| is_since(e, cutoff)).collect();
    let skip = args.limit.map_or(0, |n| shown.len().saturating_sub(n));
    for e in &shown[skip..] {
        print_event(ui, e, args.json)?;
    }
    Ok(())
}

/// Prints what is there, then what is appended, reading one file position onwards so that no
/// event is missed or shown twice between the two. Rotation and truncation are followed.
fn follow(
    args: &Args,
    ui: &Ui,
    log: &EventLog,
    cutoff: Option<Timestamp>,
) -> anyhow::Result<ExitCode> {
    let mut follower = Follower::new(log.path());
    let mut line_no = 0;
    let first = parse(ui, log, follower.poll()?, &mut line_no);
    print_batch(args, ui, &first, cutoff)?;
    loop {
        std::thread::sleep(POLL);
        // Output goes through `Ui`, which treats a closed pipe as success and carries on;
        // a follower must notice that its reader left, or it would poll forever.
        if stdout_closed() {
            return Ok(ExitCode::SUCCESS);
        }
        for e in parse(ui, log, follower.poll()?, &mut line_no) {
            if is_since(&e, cutoff) {
                print_event(ui, &e, args.json)?;
            }
        }
    }
}

fn parse(ui: &Ui, log: &EventLog, lines: Vec<Vec<u8>>, line_no: &mut usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(lines.len());
    for line in lines {
        *line_no += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Event>(&line) {
            Ok(e) => events.push(e),
            Err(err) => warn_unreadable(ui, log, *line_no, &err.to_string()),
        }
    }
    events
}

fn warn_unreadable(ui: &Ui, log: &EventLog, line: usize, error: &str) {
    ui.warn(format!(
        "{}:{line}: skipped an unreadable line ({error})",
        log.path().display()
    ));
}

fn print_event(ui: &Ui, e: &Event, json: bool) -> anyhow::Result<()> {
    if json {
        ui.line(serde_json::to_string(e)?)?;
        return Ok(());
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
    Ok(())
}

/// Whether stdout is a pipe or socket whose reader has gone (`gate log -f | head -3`).
fn stdout_closed() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid, initialised pollfd; a zero timeout never blocks.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    ready > 0 && fd.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(time: &str) -> Event {
        Event {
            time: time.into(),
            ..Event::now("commit")
        }
    }

    #[test]
    fn since_keeps_events_at_or_after_the_cutoff() {
        let now: Timestamp = "2025-01-02T12:00:00Z".parse().unwrap();
        let c = cutoff(now, &"2h".parse().unwrap()).unwrap();
        assert!(is_since(&at("2025-01-02T10:00:00Z"), Some(c)));
        assert!(is_since(&at("2025-01-02T11:59:59Z"), Some(c)));
        assert!(!is_since(&at("2025-01-02T09:59:59Z"), Some(c)));
        assert!(!is_since(&at("yesterday"), Some(c)));
        assert!(is_since(&at("yesterday"), None));
    }
}
