//! How the watcher's messages reach panes: the agents (one discovery, [`crate::agents`]), the
//! pane a check-in belongs to, and delivery that prefers a quiet screen. Blocking (tmux calls); the
//! watcher runs it on the blocking pool, and a failure here is reported, never fatal.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::schedule::Checkin;
use crate::tmux::{Message, Pane, SendOptions, SendReport, Socket, Tmux, TmuxError};

/// Two looks at a pane this far apart that differ mean it is busy.
const LOOK_APART: Duration = Duration::from_millis(300);
/// Rows compared when judging whether a pane is busy.
const LOOK_ROWS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum SendFailure {
    #[error("{}", short(.0))]
    Tmux(#[from] TmuxError),
    #[error("the message is empty")]
    Empty,
    /// The watcher is stopping; nothing was typed.
    #[error("the watcher is stopping")]
    Stopped,
}

/// A tmux error in one line (a missing target's error lists every window).
pub fn short(e: &TmuxError) -> String {
    match e {
        TmuxError::NoTarget { target, .. } => format!("no tmux pane matches {target:?}"),
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

#[derive(Clone)]
pub struct Messenger {
    tmux: Tmux,
    options: SendOptions,
    busy_wait: Duration,
    stop: Arc<AtomicBool>,
}

impl Messenger {
    /// The server of `GATE_TMUX_SOCKET` (or tmux's default), with the config's pause and wait.
    pub fn new(config: &Config, stop: Arc<AtomicBool>) -> Messenger {
        Messenger {
            tmux: Tmux::from_env(),
            options: SendOptions {
                pause: config.agent.send_pause.get(),
                ..SendOptions::default()
            },
            busy_wait: config.agent.busy_wait.get(),
            stop,
        }
    }

    /// The same messenger on the server at `socket` (when known).
    pub fn on(&self, socket: Option<&Path>) -> Messenger {
        let mut m = self.clone();
        if let Some(path) = socket {
            m.tmux = Tmux::new(Socket::Path(path.to_owned()));
        }
        m
    }

    pub fn socket(&self) -> &Socket {
        self.tmux.socket()
    }

    /// Starts the pane's program again (the command it was created with), killing whatever
    /// runs there now.
    pub fn respawn(&self, pane: &Pane) -> Result<(), TmuxError> {
        self.tmux.respawn(pane)
    }

    pub fn panes(&self) -> Result<Vec<Pane>, TmuxError> {
        self.tmux.panes()
    }

    pub fn resolve(&self, target: &str) -> Result<Pane, TmuxError> {
        self.tmux.resolve(target)
    }

    /// Every agent on this server, placed in `worktrees` (see [`crate::agents::discover`]).
    pub fn agents(
        &self,
        config: &Config,
        worktrees: &[PathBuf],
    ) -> Result<crate::agents::Discovery, TmuxError> {
        crate::agents::discover(&self.tmux, config, worktrees)
    }

    /// The pane a check-in goes to: the very pane it was scheduled for (same id and process),
    /// else whatever its target names now (after a tmux restart, ids are reused).
    pub fn checkin_pane(&self, checkin: &Checkin) -> Result<Pane, TmuxError> {
        let panes = self.tmux.panes()?;
        let same = panes.iter().find(|p| {
            checkin.pane.as_deref() == Some(p.id.as_str()) && checkin.pane_pid == Some(p.pid)
        });
        match same {
            Some(p) => Ok(p.clone()),
            None => crate::tmux::find(&panes, &checkin.target).cloned(),
        }
    }

    /// Waits (up to `agent.busy_wait`) for the pane's screen to stop changing, then sends
    /// `text` and presses Enter. Nothing is typed once the watcher is stopping.
    pub fn deliver(&self, pane: &Pane, text: &str) -> Result<SendReport, SendFailure> {
        let message = Message::new(text).ok_or(SendFailure::Empty)?;
        self.wait_until_quiet(pane)?;
        if self.stopping() {
            return Err(SendFailure::Stopped);
        }
        Ok(self.tmux.send(pane, &message, &self.options)?)
    }

    /// True when the pane went quiet, false when it was still busy at the deadline.
    fn wait_until_quiet(&self, pane: &Pane) -> Result<bool, SendFailure> {
        let deadline = Instant::now() + self.busy_wait;
        let mut before = self.tmux.capture(pane, LOOK_ROWS)?;
        loop {
            self.nap(LOOK_APART)?;
            let now = self.tmux.capture(pane, LOOK_ROWS)?;
            if now == before {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            before = now;
        }
    }

    /// Sleeps `d`, waking early (with [`SendFailure::Stopped`]) when the watcher stops.
    fn nap(&self, d: Duration) -> Result<(), SendFailure> {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.stopping() {
                return Err(SendFailure::Stopped);
            }
            std::thread::sleep(Duration::from_millis(25).min(end - Instant::now()));
        }
        Ok(())
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}
