//! `gate guard`: the PreToolUse hook `gate init --agent-hooks` installs for Claude Code and
//! Codex. Exit 2 blocks the tool call and hands stderr to the agent as the reason.

use std::io::Read;
use std::process::ExitCode;

use gate::hooks::guard;

use crate::ui::Ui;

/// Refuse agent shell commands that would bypass gate (reads the tool call JSON on stdin)
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Claude Code and Codex block a tool call only on exit code 2.
const BLOCK: u8 = 2;

pub fn run(_args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let Some(command) = guard::command_of(&input) else {
        return Ok(ExitCode::SUCCESS);
    };
    // The agent's shell runs in the project: its git config's aliases are the ones git uses.
    let cwd = std::env::current_dir().unwrap_or_default();
    match guard::verdict_with(&command, &guard::Aliases::load(&cwd)) {
        Some(reason) => {
            ui.on_stderr().line(reason)?;
            Ok(ExitCode::from(BLOCK))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}
