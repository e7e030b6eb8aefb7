//! The command line: global options and the subcommand enum. Each subcommand's arguments live
//! beside its code in `commands/`.

use clap::{Parser, ValueEnum};

use crate::commands::Command;

/// gate keeps AI coding agents on a spec-first, branch-per-feature git workflow.
///
/// Features live on branches `feature/NNN-name` with `specs/NNN-name/spec.md`, `plan.md` and
/// `tasks.md`, written and completed in that order before any implementation is committed.
///
/// Exit codes: 0 success or check passed; 1 check failed or request refused (the output says
/// why and how to fix it); 2 usage or configuration error; 3 unexpected I/O or git failure.
#[derive(Debug, Parser)]
#[command(name = "gate", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// When to colour output (NO_COLOR is honoured by `auto`)
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
