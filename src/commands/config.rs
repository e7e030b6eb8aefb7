//! `gate config`: the effective configuration.

use std::process::ExitCode;

use gate::config::FILE_NAME;
use serde::Serialize;

use crate::project::Project;
use crate::ui::Ui;

/// Print the effective configuration: .gate.toml merged over the defaults
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of TOML
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    /// The file read, or null when only defaults apply.
    source: Option<String>,
    config: &'a gate::config::Config,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let path = project.repo.root().join(FILE_NAME);
    let source = path.exists().then(|| path.display().to_string());
    if args.json {
        ui.json(&Report {
            source,
            config: &project.config,
        })?;
    } else {
        let from = source.unwrap_or_else(|| "built-in defaults (no .gate.toml)".into());
        ui.line(format!("# effective configuration, from {from}"))?;
        ui.line(project.config.to_toml().trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}
