//! `gate send`: deliver a message to an agent's tmux pane, literally, once, and confirmed.

use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use gate::events::{Event, EventLog};
use gate::repo::Repo;
use gate::tmux::{Delivery, Message, Pane, SendOptions, SendReport, Tmux, TmuxError};
use gate::units::HumanDuration;
use serde::Serialize;

use crate::exit::USAGE;
use crate::ui::Ui;

/// Deliver a message to an agent's tmux pane: typed literally, Enter pressed after a pause,
/// then checked on screen (Enter pressed again, at most twice, while it still sits unsent).
///
/// TARGET is session:window[.pane] (the session matched exactly, never by prefix), a session
/// or window name, or a pane id %N. GATE_TMUX_SOCKET names another tmux server (a socket name,
/// or a path).
///
/// The text arrives as written: no shell, no key names. Escape sequences and control
/// characters other than newline and tab are removed, with a warning; text with newlines or
/// tabs goes in as one bracketed paste. Concurrent senders to one pane take turns.
///
/// Exit codes: 0 delivered (or typed, with --no-enter); 1 typed but not confirmed as
/// submitted; 2 no such target, no tmux server, or nothing to send.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// session:window[.pane], a session or window name, or a pane id (%N)
    pub target: String,
    /// The text to send; `-` reads it from stdin
    #[arg(allow_hyphen_values = true)]
    pub message: String,
    /// Type the text but do not press Enter
    #[arg(long)]
    pub no_enter: bool,
    /// Wait this long between the text and Enter (500ms, 1s, 0)
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_pause)]
    pub pause: Duration,
    /// Print the outcome as JSON: target, pane, delivery, bytes, elapsed_ms, enters, removed
    #[arg(long)]
    pub json: bool,
}

/// Exit code of a message typed but not seen submitted.
const UNCONFIRMED: u8 = 1;

/// The `--json` document. Field names are a public interface: add, never rename.
#[derive(Serialize)]
struct Report<'a> {
    target: &'a str,
    pane: &'a str,
    /// `session:window.pane` the target resolved to.
    resolved: String,
    /// `delivered`, `unconfirmed` or `typed`.
    delivery: Delivery,
    bytes: usize,
    elapsed_ms: u64,
    enters: u8,
    /// Control characters and escape sequences removed from the message.
    removed: usize,
}

fn parse_pause(text: &str) -> Result<Duration, String> {
    let number = text
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if number.contains('0') && number.chars().all(|c| c == '0' || c == '.') {
        return Ok(Duration::ZERO);
    }
    text.parse::<HumanDuration>().map(|d| d.get())
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let raw = match args.message.as_str() {
        "-" => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes)?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        text => text.to_owned(),
    };
    let Some(message) = Message::new(&raw) else {
        ui.error("the message is empty (after removing control characters and blank lines)");
        return Ok(ExitCode::from(USAGE));
    };
    if message.removed() > 0 {
        ui.warn(format!(
            "removed {} control character(s) or escape sequence(s) from the message",
            message.removed()
        ));
    }
    let started = Instant::now();
    let tmux = Tmux::from_env();
    let pane = match tmux.resolve(&args.target) {
        Ok(pane) => pane,
        Err(
            e @ (TmuxError::NoTarget { .. }
            | TmuxError::NoServer { .. }
            | TmuxError::Ambiguous { .. }),
        ) => {
            ui.error(e);
            return Ok(ExitCode::from(USAGE));
        }
        Err(e) => return Err(e.into()),
    };
    let options = SendOptions {
        enter: !args.no_enter,
        pause: args.pause,
        ..SendOptions::default()
    };
    let report = tmux.send(&pane, &message, &options)?;
    let elapsed = started.elapsed();
    record(ui, &args.target, &pane, &report, message.len());
    if args.json {
        ui.json(&Report {
            target: &args.target,
            pane: &pane.id,
            resolved: pane.target(),
            delivery: report.delivery,
            bytes: message.len(),
            elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            enters: report.enters,
            removed: message.removed(),
        })?;
    } else {
        print(ui, &pane, &report, message.len(), elapsed)?;
    }
    Ok(match report.delivery {
        Delivery::Unconfirmed => ExitCode::from(UNCONFIRMED),
        Delivery::Delivered | Delivery::Typed => ExitCode::SUCCESS,
    })
}

fn print(
    ui: &Ui,
    pane: &Pane,
    report: &SendReport,
    bytes: usize,
    elapsed: Duration,
) -> std::io::Result<()> {
    let at = format!("{} ({})", pane.target(), pane.id);
    let ms = elapsed.as_millis();
    match report.delivery {
        Delivery::Delivered => ui.line(format!(
            "{} delivered to {at}: {bytes} bytes in {ms} ms",
            ui.ok_mark()
        )),
        Delivery::Typed => ui.line(format!(
            "{} typed into {at} without Enter: {bytes} bytes",
            ui.ok_mark()
        )),
        Delivery::Unconfirmed => ui.line(format!(
            "{} typed into {at}, but it still looks unsubmitted after {} Enter presses; \
             look at the pane: {}",
            ui.fail_mark(),
            report.enters,
            ui.code(format!("tmux capture-pane -p -t {}", pane.id))
        )),
    }
}

/// A `sent` event in the log of the repository gate runs in; outside one, nothing.
fn record(ui: &Ui, target: &str, pane: &Pane, report: &SendReport, bytes: usize) {
    let Ok(cwd) = std::env::current_dir() else {
        return;
    };
    let Ok(repo) = Repo::discover(&cwd) else {
        return;
    };
    let mut event = Event::now("sent");
    event.detail = format!(
        "{target} ({} {}): {}, {bytes} bytes, {} enter(s)",
        pane.target(),
        pane.id,
        report.delivery,
        report.enters
    );
    if let Err(e) = EventLog::in_dir(&repo.state_dir()).append(&event) {
        ui.warn(format!("the message went out, but {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses() {
        assert_eq!(parse_pause("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_pause("1s"), Ok(Duration::from_secs(1)));
        for zero in ["0", "0ms", "0s", "0.0s"] {
            assert_eq!(parse_pause(zero), Ok(Duration::ZERO), "{zero}");
        }
        assert!(parse_pause("soon").is_err());
        assert!(parse_pause("ms").is_err());
        assert!(parse_pause("-5ms").is_err());
    }
}
