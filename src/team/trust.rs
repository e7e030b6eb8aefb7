//! Before `up` starts an agent whose CLI gate knows (Claude Code, Codex), it records in that
//! CLI's own settings that its user trusts the agent's folder, as the CLI's trust dialog would:
//! an agent must never open on a dialog that its brief would be typed into. An agent (or a
//! team) with `trust = false` is left to the CLI's dialog, and to the person.

use std::path::Path;

use crate::cli_trust::{self, Known};

use super::{Agent, TeamError};

/// What was changed or found for `agent` working in `root`, one sentence each (empty when the
/// CLI already trusted it, is not one gate knows, or the agent has `trust = false`).
pub fn prepare(agent: &Agent, root: &Path) -> Result<Vec<String>, TeamError> {
    let Some(cli) = Known::of_command(&agent.command).filter(|_| agent.trust) else {
        return Ok(Vec::new());
    };
    let fail = |message: String| TeamError::Place {
        agent: agent.name.clone(),
        message,
    };
    let file = cli.config_file().ok_or_else(|| {
        fail(format!(
            "cannot find {}'s settings: HOME is not set; set it, or trust = false in the team file",
            cli.name()
        ))
    })?;
    let outcome = cli_trust::trust(cli, &file, root).map_err(|e| {
        fail(format!(
            "cannot record that {} trusts {}: {e} (or put trust = false in the team file)",
            cli.name(),
            root.display()
        ))
    })?;
    Ok(outcome.changed.into_iter().chain(outcome.notes).collect())
}
