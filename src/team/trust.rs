//! Before `up` starts an agent whose CLI gate knows (Claude Code, Codex), it records in that
//! CLI's own settings that its user trusts the agent's folder, as the CLI's trust dialog would:
//! an agent must never open on a dialog that its brief would be typed into. For Codex that
//! includes its review of the project's hooks: gate's own hooks (and only those) are trusted
//! through Codex's app-server. An agent (or a team) with `trust = false` is left to the CLI's
//! dialogs, and to the person.

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
    let mut said: Vec<String> = outcome.changed.into_iter().chain(outcome.notes).collect();
    if cli == Known::Codex {
        said.extend(codex_hooks(&agent.command, root));
    }
    Ok(said)
}

/// Has Codex trust gate's own hooks for `root` (installed there just before), so that it opens
/// on its input, not on "Hooks need review", and runs the guard from its first tool call.
/// Failing to ask Codex is not a failure of `up`: Codex then shows its review, and up says so.
fn codex_hooks(command: &str, root: &Path) -> Vec<String> {
    let program = shlex::split(command)
        .and_then(|words| words.into_iter().next())
        .unwrap_or_else(|| "codex".to_owned());
    match cli_trust::codex_hooks::trust_gates(&program, root) {
        Ok(review) => {
            let outcome = review.outcome(root);
            outcome.changed.into_iter().chain(outcome.notes).collect()
        }
        Err(e) => vec![format!(
            "could not have Codex trust gate's hooks ({e}): {}",
            cli_trust::codex::HOOK_REVIEW
        )],
    }
}
