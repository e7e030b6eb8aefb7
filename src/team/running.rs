//! The team that is up in a project, for `gate status --all`: the one its main checkout's
//! `team.toml` describes, when its tmux session has windows. A linked worktree shows none (its
//! main checkout shows the team once), and a project without a team file costs one `stat`.

use std::path::Path;

use crate::tmux::Tmux;

use super::status::{self, TeamStatus};
use super::{FILE_NAME, Team, panes};

/// The status of the team at `root` if it is up, gathered by [`status::gather`].
pub fn at(root: &Path, tmux: &Tmux, now: i64) -> Option<TeamStatus> {
    let file = root.join(FILE_NAME);
    if !file.is_file() {
        return None;
    }
    let repo = crate::repo::Repo::discover(root).ok()?;
    if repo.git().is_worktree() {
        return None;
    }
    let team = Team::load(&file, repo.root()).ok()?;
    // One list-panes first: a team that is down is not gathered at all.
    if panes::list(tmux, &team.session).ok()?.is_empty() {
        return None;
    }
    status::gather(&team, tmux, now).ok()
}
