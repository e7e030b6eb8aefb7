//! Teams: an orchestrator, project managers and engineers, each an agent CLI in its own tmux
//! window, each engineer in its own linked worktree on its feature branch. [`file`] reads
//! `team.toml`; [`up`] starts what is missing (and briefs each new agent once); [`status`]
//! reports on every agent; [`down`] preserves all uncommitted work before it stops anyone.
//!
//! Invariants: the main checkout is never switched or written by `up`; an agent is briefed
//! exactly once (the `@gate-team-briefed` pane option records it, in the tmux server); `down`
//! stops nothing until every worktree's work is committed or snapshotted.

pub mod brief;
pub mod down;
pub mod file;
pub mod panes;
pub mod place;
pub mod status;
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
