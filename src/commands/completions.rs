//! `gate completions`: the shell completion script, generated from the command definitions.

use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::ui::Ui;

/// Print the completion script for SHELL. Install it, for example:
/// bash: `gate completions bash > ~/.local/share/bash-completion/completions/gate`;
/// zsh: `gate completions zsh > ~/.zfunc/_gate` (with ~/.zfunc on fpath);
/// fish: `gate completions fish > ~/.config/fish/completions/gate.fish`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "gate", &mut script);
    ui.line(String::from_utf8_lossy(&script).trim_end())?;
    Ok(ExitCode::SUCCESS)
}
