//! Errors to exit codes: 1 refused, 2 usage or configuration, 3 I/O or git.

use std::process::ExitCode;

use gate::config::ConfigError;
use gate::facts::FactsError;
use gate::hooks::install::InstallError;
use gate::repo::RepoError;
use gate::scaffold::ScaffoldError;
use gate::snapshot::restore::RestoreError;
use gate::spec::feature::FeatureError;

use crate::ui::Ui;

pub const REFUSED: u8 = 1;
pub const USAGE: u8 = 2;
pub const FAILURE: u8 = 3;

/// A request gate declines, with the reason already in the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A request that cannot be carried out as written (a bad argument): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Prints `error` with its causes on stderr and picks the exit code. (A closed stdout is not
/// an error at all: `Ui` absorbs it and the command keeps its own exit code. A broken pipe to
/// a child process is an error like any other, never a silent success.)
pub fn report(ui: &Ui, error: &anyhow::Error) -> ExitCode {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    ui.error(text);
    ExitCode::from(code_for(error))
}

fn code_for(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        let install_refused = matches!(
            cause.downcast_ref(),
            Some(InstallError::Managed { .. } | InstallError::Occupied { .. })
        );
        if cause.is::<Refused>()
            || install_refused
            || matches!(cause.downcast_ref(), Some(ScaffoldError::Exists { .. }))
            || cause.is::<gate::confine::Outside>()
        {
            return REFUSED;
        }
        if cause.is::<ConfigError>() || cause.is::<FeatureError>() || cause.is::<Usage>() {
            return USAGE;
        }
        if let Some(
            RepoError::NotARepo { .. } | RepoError::Bare { .. } | RepoError::Unsupported { .. },
        ) = cause.downcast_ref()
        {
            return USAGE;
        }
        if let Some(FactsError::Feature(_)) = cause.downcast_ref() {
            return USAGE;
        }
        if let Some(
            RestoreError::Unknown(_) | RestoreError::NoneHere | RestoreError::NotInSnapshot(_),
        ) = cause.downcast_ref()
        {
            return USAGE;
        }
    }
    FAILURE
}
