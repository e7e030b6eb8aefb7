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
    if let Some(paths) = guard::edited_paths(&input) {
        return Ok(match refuse_edit(&paths)? {
            Some(reason) => {
                ui.on_stderr().line(reason)?;
                ExitCode::from(BLOCK)
            }
            None => ExitCode::SUCCESS,
        });
    }
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

/// Why writing `paths` must wait: an implementation path while the spec gate is not passed
/// (the rule the pre-commit hook would apply to the commit). Spec files and paths outside the
/// repository are always allowed; so is everything outside a gate project.
fn refuse_edit(paths: &[String]) -> anyhow::Result<Option<String>> {
    use gate::facts::{self, FeatureHint};
    use gate::rules::{Code, Question, Rules};
    let cwd = std::env::current_dir().unwrap_or_default();
    let Ok(repo) = gate::repo::Repo::discover(&cwd) else {
        return Ok(None);
    };
    let config = gate::config::Config::load(repo.root())?;
    let rules = Rules::new(&config);
    let relative: Vec<String> = paths
        .iter()
        .filter_map(|p| {
            let path = std::path::Path::new(p);
            let full = if path.is_absolute() {
                path.to_owned()
            } else {
                cwd.join(path)
            };
            full.strip_prefix(repo.root())
                .ok()
                .map(|r| r.to_string_lossy().into_owned())
        })
        .filter(|r| rules.is_implementation(r))
        .collect();
    if relative.is_empty() {
        return Ok(None);
    }
    let question = Question::MayCommit {
        staged: relative.clone(),
    };
    let (facts, _) = facts::gather(&repo, &config, &FeatureHint::default(), question)?;
    let blocking = Rules::new(&config).evaluate(&facts).into_iter().find(|v| {
        matches!(
            v.code,
            Code::ImplementationGate | Code::FeatureBranch | Code::SpecOrder
        )
    });
    Ok(blocking.map(|v| {
        format!(
            "gate refuses this edit of {}: [{}] {}. Fix: {}",
            relative.join(", "),
            v.code.as_str(),
            v.message,
            v.fix
        )
    }))
}
