//! Delivering a message to a pane: hold the pane's lock, leave copy mode, type the text (keys,
//! or one bracketed paste), pause, press Enter, then confirm that it was submitted.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::confirm::{Screen, looks_unsubmitted};
use super::{Message, Pane, PaneLock, Tmux, TmuxError};

/// How a message is sent; the defaults are what agents need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOptions {
    /// Press Enter after the text (`false`: type only, for the user to review).
    pub enter: bool,
    /// Between the text and Enter: an Enter that arrives too soon after typed text is taken as
    /// part of it by some TUIs (Codex turns one within ~120 ms into a newline).
    pub pause: Duration,
    /// How long the screen must stay unchanged before a message still showing counts as stuck.
    pub settle: Duration,
    /// At most this many more Enters for a message that still sits unsubmitted.
    pub extra_enters: u8,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            enter: true,
            pause: Duration::from_millis(500),
            settle: Duration::from_millis(200),
            extra_enters: 2,
        }
    }
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Typed and submitted, as far as the screen shows.
    Delivered,
    /// Typed, but after every Enter it still looked unsubmitted.
    Unconfirmed,
    /// Typed without Enter, as asked.
    Typed,
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Delivery::Delivered => "delivered",
            Delivery::Unconfirmed => "unconfirmed",
            Delivery::Typed => "typed",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendReport {
    pub delivery: Delivery,
    /// Enter presses, the first included.
    pub enters: u8,
}

/// Bounds the confirmation to this many settle periods, however busy the pane.
const MAX_SETTLES: u32 = 8;
/// How often (at most) the screen is looked at while waiting for it to change or settle.
const POLL: Duration = Duration::from_millis(20);

impl Tmux {
    /// Types `message` into `pane` and (unless `options.enter` is false) submits it, holding
    /// the pane's lock throughout so no other gate sender interleaves.
    pub fn send(
        &self,
        pane: &Pane,
        message: &Message,
        options: &SendOptions,
    ) -> Result<SendReport, TmuxError> {
        let _lock = PaneLock::acquire(pane)?;
        self.type_text(pane, message)?;
        if !options.enter {
            return Ok(SendReport {
                delivery: Delivery::Typed,
                enters: 0,
            });
        }
        std::thread::sleep(options.pause);
        self.press_enter(pane)?;
        self.confirm(pane, message, options)
    }

    /// The last `lines` lines of the pane's screen and history, wrapped lines joined.
    pub fn capture(&self, pane: &Pane, lines: usize) -> Result<String, TmuxError> {
        let start = format!("-{lines}");
        let out = self.run(&["capture-pane", "-p", "-J", "-t", &pane.id, "-S", &start])?;
        let rows: Vec<&str> = out.trim_end().lines().collect();
        Ok(rows[rows.len().saturating_sub(lines)..].join("\n"))
    }

    /// One tmux command line: leave copy mode if the pane is in it (checked by the server at
    /// that moment, not from an earlier listing), then type or paste.
    fn type_text(&self, pane: &Pane, message: &Message) -> Result<(), TmuxError> {
        let id = pane.id.as_str();
        let leave = format!("send-keys -X -t {id} cancel");
        let leave_mode = ["if-shell", "-F", "-t", id, "#{pane_in_mode}", &leave, ";"];
        if message.is_paste() {
            let buffer = buffer_name();
            self.run_with_input(
                &["load-buffer", "-b", &buffer, "-"],
                message.text().as_bytes(),
            )?;
            let mut args = leave_mode.to_vec();
            args.extend(["paste-buffer", "-p", "-d", "-b", &buffer, "-t", id]);
            let pasted = self.run(&args);
            if pasted.is_err() {
                let _ = self.run(&["delete-buffer", "-b", &buffer]);
            }
            return pasted.map(drop);
        }
        for (i, chunk) in message.key_chunks().iter().enumerate() {
            let mut args = if i == 0 { leave_mode.to_vec() } else { vec![] };
            args.extend(["send-keys", "-l", "-t", id, "--", chunk]);
            self.run(&args)?;
        }
        Ok(())
    }

    fn press_enter(&self, pane: &Pane) -> Result<(), TmuxError> {
        self.run(&["send-keys", "-t", &pane.id, "Enter"]).map(drop)
    }

    /// Watches the screen after Enter: delivered as soon as the message no longer shows at the
    /// bottom; while it does and the screen has not changed for `settle`, Enter again (at most
    /// `extra_enters` times). A screen that keeps changing with the message still showing is
    /// given up on after [`MAX_SETTLES`] settle periods.
    fn confirm(
        &self,
        pane: &Pane,
        message: &Message,
        options: &SendOptions,
    ) -> Result<SendReport, TmuxError> {
        // Fast looks first: a TUI usually redraws within tens of milliseconds of Enter.
        let mut poll = Duration::from_millis(4);
        let deadline = Instant::now() + options.settle.max(POLL) * MAX_SETTLES;
        let mut enters = 1;
        let mut seen = self.screen(pane)?;
        let mut since = Instant::now();
        loop {
            if !looks_unsubmitted(&seen, message.text()) {
                return Ok(SendReport {
                    delivery: Delivery::Delivered,
                    enters,
                });
            }
            let stuck = since.elapsed() >= options.settle;
            // `enters` counts the first Enter, so `>` means every extra one is spent.
            if (stuck && enters > options.extra_enters) || Instant::now() >= deadline {
                return Ok(SendReport {
                    delivery: Delivery::Unconfirmed,
                    enters,
                });
            }
            if stuck {
                self.press_enter(pane)?;
                enters += 1;
            } else {
                std::thread::sleep(poll);
                poll = (poll * 2).min(POLL);
            }
            let now = self.screen(pane)?;
            if stuck || now != seen {
                seen = now;
                since = Instant::now();
            }
        }
    }

    /// The visible screen (no joining, so rows match the cursor's) and the cursor.
    fn screen(&self, pane: &Pane) -> Result<Screen, TmuxError> {
        let id = pane.id.as_str();
        let args = [
            "capture-pane",
            "-p",
            "-t",
            id,
            ";",
            "display-message",
            "-p",
            "-t",
            id,
            "#{cursor_x},#{cursor_y}",
        ];
        let out = self.run(&args)?;
        Screen::parse(&out).ok_or_else(|| TmuxError::Output {
            args: args.iter().map(|a| a.to_string()).collect(),
            line: out.lines().last().unwrap_or_default().to_owned(),
        })
    }
}

/// A paste buffer name no other sender uses: process id and a counter.
fn buffer_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "gate-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
