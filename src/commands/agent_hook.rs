//! `gate agent-hook <cli> <event>`: the state hook `gate init --agent-hooks` and `gate team up`
//! install for Claude Code, Codex and Gemini CLI. It records what the agent is doing (see
//! [`gate::agents::state`]) and, at Claude Code's Stop, may hand waiting notes back.
//!
//! Always exits 0: a failing hook would show the agent an error (or, for a Stop hook, could
//! keep it from stopping), and gate's bookkeeping is never worth that. Problems go to stderr.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use gate::agents::hook::{HookEnv, handle};
use gate::agents::state::Cli;

use crate::ui::Ui;

/// Larger payloads are not gate's to read (a hook payload is a few kilobytes).
const MAX_PAYLOAD: u64 = 4 * 1024 * 1024;

/// Record an agent CLI's hook event (installed by `gate init --agent-hooks` and `gate team up`)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CLI the event comes from
    #[arg(value_enum)]
    pub cli: Cli,
    /// The event it was installed for: user-prompt-submit, stop, stop-failure, notification,
    /// session-end (Claude Code, Codex), before-agent, after-agent (Gemini CLI), notify (Codex's
    /// `notify` program)
    pub event: String,
    /// The event's JSON when the CLI passes it as an argument (Codex's `notify`); otherwise it
    /// is read from stdin
    pub payload: Option<String>,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let payload = payload(args);
    let cwd = std::env::current_dir().unwrap_or_default();
    match handle(args.cli, &args.event, &payload, &cwd, &HookEnv::from_env()) {
        Ok(answer) => {
            if let Some(out) = answer.stdout {
                ui.line(out)?;
            }
        }
        Err(e) => {
            let _ = ui.on_stderr().line(format!(
                "gate agent-hook: {e:#}; the agent goes on unrecorded"
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The payload as JSON; anything unreadable is an empty object (the event name still counts).
fn payload(args: &Args) -> serde_json::Value {
    let text = match &args.payload {
        Some(arg) => arg.clone(),
        None if std::io::stdin().is_terminal() => String::new(),
        None => {
            let mut text = String::new();
            let _ = std::io::stdin().take(MAX_PAYLOAD).read_to_string(&mut text);
            text
        }
    };
    serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({}))
}
