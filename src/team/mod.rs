//! Teams: an orchestrator, project managers and engineers, each an agent CLI in its own tmux
//! window, each engineer in its own linked worktree on its feature branch. [`file`] reads
//! `team.toml`; [`up`] starts what is missing (and briefs each new agent once); [`status`]
//! reports on every agent; [`down`] preserves all uncommitted work before it stops anyone.
//!
//! Invariants: the main checkout is never switched or written by `up`; an agent is briefed
//! exactly once (the `@gate-team-briefed` pane option records it, in the tmux server); `down`
//! stops nothing until every worktree's work is committed or snapshotted.

pub mod brief;
pub mod dialogs;
pub mod down;
pub mod file;
pub mod panes;
pub mod place;
pub mod running;
pub mod status;
pub mod tell;
pub mod trust;
pub mod up;

use std::path::PathBuf;

pub use file::{Agent, FILE_NAME, Role, Team};

#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error(
        "{} does not exist; write a team file (see README, \"Teams\") or name one: gate team up FILE",
        path.display()
    )]
    Missing { path: PathBuf },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(transparent)]
    Tmux(#[from] crate::tmux::TmuxError),
    #[error(transparent)]
    Repo(#[from] crate::repo::RepoError),
    #[error(transparent)]
    Git(#[from] crate::repo::cli::CliError),
    #[error("agent {agent}: {message}")]
    Place { agent: String, message: String },
    #[error(
        "another `gate team` command is working on team {session} (lock {}); wait for it, or \
         remove the lock if no gate process is running",
        path.display()
    )]
    Busy { session: String, path: PathBuf },
    #[error("cannot lock {}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot preserve the work in {}; nothing was stopped", root.display())]
    Preserve {
        root: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl TeamError {
    /// A mistake in the team file (exit 2), as opposed to a failure on the way.
    pub fn is_usage(&self) -> bool {
        matches!(self, TeamError::Missing { .. } | TeamError::Invalid { .. })
    }
}

/// Holds one team's lock: two `up`s at once would both miss a feature's worktree and make it
/// twice (as two features), and two windows per agent; `down` must not race an `up`.
pub fn lock(team: &Team, wait: std::time::Duration) -> Result<std::fs::File, TeamError> {
    let state = team
        .agents
        .first()
        .and_then(|a| crate::repo::Repo::discover(&a.repo).ok())
        .map_or_else(std::env::temp_dir, |r| r.state_dir());
    let path = state.join(format!("team-{}.flock", team.session));
    match crate::statefile::hold(&path, wait) {
        Ok(Some(file)) => Ok(file),
        Ok(None) => Err(TeamError::Busy {
            session: team.session.clone(),
            path,
        }),
        Err(source) => Err(TeamError::Lock { path, source }),
    }
}
