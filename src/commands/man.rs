//! `gate man`: the manual page, generated from the command definitions.

use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::ui::Ui;

/// Print gate's manual page (roff) to stdout. Read it with `gate man | man -l -`, or install it
/// with `gate man > ~/.local/share/man/man1/gate.1`
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("cannot render the manual page")?;
    ui.line(title_first(&String::from_utf8_lossy(&page)).trim_end())?;
    Ok(ExitCode::SUCCESS)
}

/// The page with its `.TH` title line on top, as man pages begin (and as `file` and `whatis`
/// expect), ahead of roff's string definitions, which only need to precede their first use.
fn title_first(page: &str) -> String {
    let Some(title) = page.lines().find(|l| l.starts_with(".TH ")) else {
        return page.to_owned();
    };
    let rest: Vec<&str> = page.lines().filter(|l| *l != title).collect();
    format!("{title}\n{}\n", rest.join("\n"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn title_moves_to_the_top() {
        let page = ".ie x\n.el y\n.TH gate 1\n.SH NAME\n";
        assert_eq!(
            super::title_first(page),
            ".TH gate 1\n.ie x\n.el y\n.SH NAME\n"
        );
    }
}
