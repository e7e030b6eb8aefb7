//! The `gate` binary: parse arguments, run one command, turn the outcome into an exit code.

mod cli;
mod commands;
mod exit;
mod project;
mod ui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let ui = ui::Ui::new(cli.color);
    match commands::run(cli.command, &ui) {
        Ok(code) => code,
        Err(error) => exit::report(&ui, &error),
    }
}
