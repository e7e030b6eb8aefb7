//! Delivering a message to a pane: hold the pane's lock, leave copy mode, type the text (keys,
//! or one bracketed paste), wait until it shows in the input, press Enter, then confirm that it
//! left the input.
//!
//! Honest by construction: Enter is pressed only into an input that shows the message (a menu
//! or dialog would take it as a choice), pressed again only into a screen that has not moved
//! since the first one, and `delivered` means the message was seen and then left.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::confirm::{Screen, in_input, last_rows};
use super::{Message, Pane, PaneLock, Tmux, TmuxError};

/// How a message is sent; the defaults are what agents need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOptions {
    /// Press Enter after the text (`false`: type only, for the user to review).
    pub enter: bool,
    /// At least this long between the text and Enter: an Enter that arrives too soon after
    /// typed text is taken as part of it by some TUIs (Codex turns one within ~120 ms into a
    /// newline).
    pub pause: Duration,
    /// How long the typed text may take to show in the input before gate gives up on it and
    /// presses no Enter.
    pub appear: Duration,
    /// How long the screen must stay exactly as it was just before the first Enter before
    /// Enter is pressed again: longer than the known CLIs take to clear their input (Claude
    /// Code ~330 ms), so a slow clear never gets a second Enter.
    pub repress: Duration,
    /// At most this many more Enters for a message that still sits, screen unchanged.
    pub extra_enters: u8,
    /// How long after the last Enter a screen that changed but still shows the message is
    /// watched for the message to leave.
    pub leave: Duration,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            enter: true,
            pause: Duration::from_millis(500),
            appear: Duration::from_secs(2),
            repress: Duration::from_millis(800),
            extra_enters: 2,
            leave: Duration::from_secs(2),
        }
    }
}

/// What became of a message. Names (serialised and shown) are a public interface: add, never
/// rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Seen in the input, then gone from it after Enter: submitted.
    Delivered,
    /// Seen in the input and Enter pressed, but it did not leave (see [`Why`]).
    Unconfirmed,
    /// Typed without Enter, as asked.
    Typed,
    /// Typed, but never seen in the input: no Enter was pressed (a menu or dialog may be up).
    NotSeen,
}

impl Delivery {
    /// Did the message end up where it was asked to: submitted, or typed with `--no-enter`?
    pub fn as_asked(self) -> bool {
        matches!(self, Delivery::Delivered | Delivery::Typed)
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Delivery::Delivered => "delivered",
            Delivery::Unconfirmed => "unconfirmed",
            Delivery::Typed => "typed",
            Delivery::NotSeen => "not_seen",
        })
    }
}

/// Why a message was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The typed text never showed in the input area.
    NeverAppeared,
    /// Still in the input after every Enter, the screen unchanged.
    StillInInput,
    /// Still in the input, but the screen changed after Enter (a dialog, a redraw): Enter was
    /// not pressed again, as it could answer whatever appeared.
    ScreenChanged,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Why::NeverAppeared => {
                "the text never appeared in the pane's input, so Enter was not pressed \
                 (a menu or dialog may have the keys)"
            }
            Why::StillInInput => "the text is still in the input, the screen unchanged",
            Why::ScreenChanged => {
                "the screen changed to something else while the text is still in the input; \
                 Enter was not pressed again"
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    pub delivery: Delivery,
    /// Enter presses, the first included.
    pub enters: u8,
    /// Why it was not delivered (`None` when delivered or typed).
    pub why: Option<Why>,
    /// The pane's last rows holding text, at the last look, when it was not delivered.
    pub screen: Vec<String>,
}

impl SendReport {
    fn done(delivery: Delivery, enters: u8) -> SendReport {
        SendReport {
            delivery,
            enters,
            why: None,
            screen: Vec::new(),
        }
    }

    fn failed(delivery: Delivery, enters: u8, why: Why, screen: &Screen) -> SendReport {
        SendReport {
            delivery,
            enters,
            why: Some(why),
            screen: last_rows(screen, SHOWN_ROWS),
        }
    }
}

/// Rows of the pane a failed report carries.
const SHOWN_ROWS: usize = 15;
/// How often (at most) the screen is looked at while waiting.
const POLL: Duration = Duration::from_millis(20);
/// The first look's delay: a TUI usually redraws within milliseconds.
const FIRST_POLL: Duration = Duration::from_millis(1);

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
            return Ok(SendReport::done(Delivery::Typed, 0));
        }
        match self.wait_until_shown(pane, message, options)? {
            Ok(before) => self.submit(pane, message, options, &before),
            Err(last) => Ok(SendReport::failed(
                Delivery::NotSeen,
                0,
                Why::NeverAppeared,
                &last,
            )),
        }
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

    /// Looks at the screen until the message shows in its input and `pause` has passed since
    /// it was typed: `Ok` with that look, taken just before Enter is due (so a menu that opened
    /// meanwhile is caught); `Err` with the last look once `appear` has passed without it.
    fn wait_until_shown(
        &self,
        pane: &Pane,
        message: &Message,
        options: &SendOptions,
    ) -> Result<Result<Screen, Screen>, TmuxError> {
        let typed = Instant::now();
        let give_up = options.appear.max(options.pause);
        let mut poll = FIRST_POLL;
        loop {
            let screen = self.screen(pane)?;
            let shown = in_input(&screen, message.text());
            let waited = typed.elapsed();
            if shown && waited >= options.pause {
                return Ok(Ok(screen));
            }
            if !shown && waited >= give_up {
                return Ok(Err(screen));
            }
            let nap = if shown {
                options.pause - waited
            } else {
                poll.min(give_up - waited)
            };
            std::thread::sleep(nap);
            poll = (poll * 2).min(POLL);
        }
    }

    /// Presses Enter and watches the message leave the input. While it stays and the screen is
    /// exactly `before` (the look just before the first Enter) for `repress`, Enter again, at
    /// most `extra_enters` times. Once the screen has changed with the message still there, no
    /// more Enters: it is watched until `leave` after the last one.
    fn submit(
        &self,
        pane: &Pane,
        message: &Message,
        options: &SendOptions,
        before: &Screen,
    ) -> Result<SendReport, TmuxError> {
        self.press_enter(pane)?;
        let mut enters = 1;
        let mut pressed = Instant::now();
        let mut changed = false;
        let mut poll = FIRST_POLL;
        loop {
            std::thread::sleep(poll);
            poll = (poll * 2).min(POLL);
            let now = self.screen(pane)?;
            if !in_input(&now, message.text()) {
                return Ok(SendReport::done(Delivery::Delivered, enters));
            }
            changed |= now != *before;
            let waited = pressed.elapsed();
            if changed {
                if waited >= options.leave {
                    let why = Why::ScreenChanged;
                    return Ok(SendReport::failed(Delivery::Unconfirmed, enters, why, &now));
                }
            } else if waited >= options.repress {
                // `enters` counts the first Enter, so `>` means every extra one is spent.
                if enters > options.extra_enters {
                    let why = Why::StillInInput;
                    return Ok(SendReport::failed(Delivery::Unconfirmed, enters, why, &now));
                }
                self.press_enter(pane)?;
                enters += 1;
                pressed = Instant::now();
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
