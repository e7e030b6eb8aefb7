//! `gate send`: deliver a message to an agent's tmux pane, literally, once, and confirmed.

use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use gate::events::{Event, EventLog};
use gate::repo::Repo;
use gate::tmux::{Delivery, Message, Pane, SendOptions, SendReport, Tmux, TmuxError, Why};
use gate::units::HumanDuration;
use serde::Serialize;

use crate::exit::USAGE;
use crate::ui::Ui;

/// Deliver a message to an agent's tmux pane: typed literally, Enter pressed once the text shows
/// in the pane's input (and the pause has passed), then checked on screen: delivered when it
/// left the input. Enter is pressed again (at most twice) only while the screen stays exactly
/// as it was before Enter.
///
/// TARGET is session:window[.pane] (the session matched exactly, never by prefix), a session
/// or window name, or a pane id %N. GATE_TMUX_SOCKET names another tmux server (a socket name,
/// or a path).
///
/// The text arrives as written: no shell, no key names. Escape sequences and control
/// characters other than newline and tab are removed, with a warning; text with newlines or
/// tabs goes in as one bracketed paste. Concurrent senders to one pane take turns.
///
/// Exit codes: 0 delivered (or typed, with --no-enter); 1 not delivered: the text never
/// appeared in the input (no Enter pressed: a menu or dialog may be up), or it is still there
/// after Enter (the pane's last rows are printed on stderr); 2 no such target, no tmux server,
/// or nothing to send.
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
    /// Print the outcome as JSON: target, pane, delivery, bytes, elapsed_ms, enters, removed,
    /// why, screen
    #[arg(long)]
    pub json: bool,
}

/// Exit code of a message typed but not seen submitted.
const NOT_DELIVERED: u8 = 1;

/// The `--json` document. Field names are a public interface: add, never rename.
#[derive(Serialize)]
struct Report<'a> {
    target: &'a str,
    pane: &'a str,
    /// `session:window.pane` the target resolved to.
    resolved: String,
    /// `delivered`, `unconfirmed`, `typed` or `not_seen`.
    delivery: Delivery,
    bytes: usize,
    elapsed_ms: u64,
    enters: u8,
    /// Control characters and escape sequences removed from the message.
    removed: usize,
    /// Why it was not delivered: `never_appeared`, `still_in_input`, `screen_changed`; null
    /// when it was.
    why: Option<Why>,
    /// The pane's last rows holding text when it was not delivered; empty when it was.
    screen: &'a [String],
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
            why: report.why,
            screen: &report.screen,
        })?;
    } else {
        print(ui, &pane, &report, message.len(), elapsed)?;
    }
    if report.delivery.as_asked() {
        return Ok(ExitCode::SUCCESS);
    }
    explain(ui, &pane, &report);
    Ok(ExitCode::from(NOT_DELIVERED))
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
        Delivery::Unconfirmed | Delivery::NotSeen => Ok(()),
    }
}

/// On stderr, for a message not delivered: why, what the pane showed, and where to look.
fn explain(ui: &Ui, pane: &Pane, report: &SendReport) {
    let why = report
        .why
        .map(|w| w.to_string())
        .unwrap_or_else(|| report.delivery.to_string());
    let enters = match report.enters {
        0 => "no Enter pressed".to_owned(),
        1 => "1 Enter pressed".to_owned(),
        n => format!("{n} Enters pressed"),
    };
    let mut text = format!(
        "not delivered to {} ({}): {why} ({enters})\nthe pane shows (last rows with text):",
        pane.target(),
        pane.id
    );
    if report.screen.is_empty() {
        text.push_str("\n  (nothing)");
    }
    for row in &report.screen {
        text.push_str("\n  | ");
        text.push_str(row);
    }
    text.push_str(&format!(
        "\nlook at the pane: {}",
        ui.code(format!("tmux capture-pane -p -t {}", pane.id))
    ));
    ui.error(text);
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
    let why = report.why.map(|w| format!(": {w}")).unwrap_or_default();
    event.detail = format!(
        "{target} ({} {}): {}, {bytes} bytes, {} enter(s){why}",
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
