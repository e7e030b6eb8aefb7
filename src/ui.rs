//! All terminal output: stdout for results, stderr for diagnostics, colour only where wanted.

use std::fmt::Display;
use std::io::Write;

use console::Style;
use gate::rules::Violation;
use serde::Serialize;

use crate::cli::Color;

/// Where results go: stdout normally; stderr inside git hooks, where git shows it to the user.
#[derive(Clone, Copy)]
pub struct Ui {
    to_stderr: bool,
}

impl Ui {
    pub fn new(choice: Color) -> Ui {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match choice {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => !no_color && console::colors_enabled(),
        };
        console::set_colors_enabled(color);
        console::set_colors_enabled_stderr(color && !no_color && console::colors_enabled_stderr());
        Ui { to_stderr: false }
    }

    /// The same Ui, writing its lines to stderr.
    pub fn on_stderr(self) -> Ui {
        Ui { to_stderr: true }
    }

    /// One line of result on stdout.
    pub fn line(&self, text: impl Display) -> std::io::Result<()> {
        let written = if self.to_stderr {
            writeln!(std::io::stderr().lock(), "{text}")
        } else {
            writeln!(std::io::stdout().lock(), "{text}")
        };
        quiet_on_closed_pipe(written)
    }

    /// A value as pretty JSON on stdout.
    pub fn json(&self, value: &impl Serialize) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        // serde_json wraps write errors; unwrap them so a closed pipe is seen as one.
        let written = serde_json::to_writer_pretty(&mut out, value)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out));
        quiet_on_closed_pipe(written)
    }

    /// A diagnostic on stderr.
    pub fn warn(&self, text: impl Display) {
        let label = Style::new()
            .yellow()
            .bold()
            .for_stderr()
            .apply_to("warning:");
        let _ = writeln!(std::io::stderr().lock(), "{label} {text}");
    }

    pub fn error(&self, text: impl Display) {
        let label = Style::new().red().bold().for_stderr().apply_to("error:");
        let _ = writeln!(std::io::stderr().lock(), "{label} {text}");
    }

    pub fn ok_mark(&self) -> String {
        Style::new().green().apply_to("✓").to_string()
    }

    pub fn fail_mark(&self) -> String {
        Style::new().red().apply_to("✗").to_string()
    }

    pub fn bold(&self, text: impl Display) -> String {
        Style::new().bold().apply_to(text).to_string()
    }

    pub fn dim(&self, text: impl Display) -> String {
        Style::new().dim().apply_to(text).to_string()
    }

    pub fn code(&self, text: impl Display) -> String {
        Style::new().cyan().apply_to(text).to_string()
    }

    /// The offending paths, up to `max_findings` findings, and the fix of `v`, a line each.
    pub fn details(&self, v: &Violation, indent: &str, max_findings: usize) -> std::io::Result<()> {
        const PATHS: usize = 5;
        for p in v.paths.iter().take(PATHS) {
            self.line(format!("{indent}{}", self.dim(p)))?;
        }
        if v.paths.len() > PATHS {
            let more = format!("... and {} more", v.paths.len() - PATHS);
            self.line(format!("{indent}{}", self.dim(more)))?;
        }
        for f in v.findings.iter().take(max_findings) {
            self.line(format!("{indent}{}:{}: {}", f.path, f.line, f.message))?;
        }
        if v.findings.len() > max_findings {
            self.line(format!(
                "{indent}... and {} more findings (`gate check` lists them)",
                v.findings.len() - max_findings
            ))?;
        }
        self.line(format!("{indent}fix: {}", self.bold(&v.fix)))
    }
}

/// A reader that went away (`gate check | head -1`) is not an error worth reporting, and must
/// not change the command's verdict: the command carries on and exits with its own code.
fn quiet_on_closed_pipe(written: std::io::Result<()>) -> std::io::Result<()> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
