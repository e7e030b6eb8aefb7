//! The tmux side of agent identity: a person marks a pane as an agent with pane user options
//! (`@gate-agent` = name, `@gate-role` = role). They live in the tmux server, so they survive
//! gate (and watcher) restarts and travel with the pane, not with its directory; they end with
//! the pane. Which panes are agents is decided in [`crate::agents`].

use std::path::Path;

use super::{Pane, Tmux, TmuxError};

/// The pane option holding an agent's name.
pub const MARK_OPTION: &str = "@gate-agent";
/// The pane option holding an agent's role.
pub const ROLE_OPTION: &str = "@gate-role";
/// The pane option naming the agent this one reports to (set by `gate team up`).
pub const REPORTS_TO_OPTION: &str = "@gate-reports-to";
/// The pane option asking the watcher to restart the agent when its program dies.
pub const RESTART_OPTION: &str = "@gate-restart";

impl Tmux {
    /// Marks `pane` as the agent `name` (with `role`, or none: an old role is removed).
    pub fn mark(&self, pane: &Pane, name: &str, role: Option<&str>) -> Result<(), TmuxError> {
        let name = literal(name);
        self.run(&["set-option", "-p", "-t", &pane.id, MARK_OPTION, &name])?;
        match role {
            Some(role) => {
                let role = literal(role);
                self.run(&["set-option", "-p", "-t", &pane.id, ROLE_OPTION, &role])?
            }
            None => self.run(&["set-option", "-p", "-u", "-t", &pane.id, ROLE_OPTION])?,
        };
        Ok(())
    }

    /// Starts the pane's program again: the command it was created with (its options, the
    /// mark among them, stay: it is the same pane).
    pub fn respawn(&self, pane: &Pane) -> Result<(), TmuxError> {
        self.run(&["respawn-pane", "-k", "-t", &pane.id]).map(drop)
    }

    /// Removes the mark (and role) from `pane`.
    pub fn unmark(&self, pane: &Pane) -> Result<(), TmuxError> {
        for option in [MARK_OPTION, ROLE_OPTION] {
            self.run(&["set-option", "-p", "-u", "-t", &pane.id, option])?;
        }
        Ok(())
    }
}

/// tmux ends a command at an argument's trailing `;` (which would cut it off the value);
/// `\;` there is a literal semicolon.
fn literal(value: &str) -> String {
    match value.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => value.to_owned(),
    }
}

/// The pane gate runs in, if it runs inside a pane of the server at `socket_path`: `$TMUX`
/// (`socket,pid,session`) names the server, `$TMUX_PANE` the pane. A pane id alone is not
/// enough, since `%3` on another server is another pane.
pub fn own_pane(
    tmux_env: Option<&str>,
    tmux_pane: Option<&str>,
    socket_path: &Path,
) -> Option<String> {
    let mut parts = tmux_env?.rsplitn(3, ',');
    let (_session, _pid, socket) = (parts.next()?, parts.next()?, parts.next()?);
    let canonical = (
        std::fs::canonicalize(socket),
        std::fs::canonicalize(socket_path),
    );
    let same = Path::new(socket) == socket_path || matches!(canonical, (Ok(a), Ok(b)) if a == b);
    let pane = tmux_pane?.trim();
    (same && pane.starts_with('%')).then(|| pane.to_owned())
}

/// [`own_pane`] from this process's environment.
pub fn own_pane_from_env(socket_path: &Path) -> Option<String> {
    own_pane(
        std::env::var("TMUX").ok().as_deref(),
        std::env::var("TMUX_PANE").ok().as_deref(),
        socket_path,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_pane_only_on_the_same_server() {
        let sock = Path::new("/tmp/tmux-0/default");
        let env = Some("/tmp/tmux-0/default,123,0");
        assert_eq!(own_pane(env, Some("%3"), sock), Some("%3".into()));
        let other = Path::new("/tmp/tmux-0/other");
        assert_eq!(own_pane(env, Some("%3"), other), None);
        assert_eq!(own_pane(None, Some("%3"), sock), None);
        assert_eq!(own_pane(env, None, sock), None);
        let comma = Some("/tmp/a,b/sock,1,2");
        let comma_sock = Path::new("/tmp/a,b/sock");
        assert_eq!(own_pane(comma, Some("%1"), comma_sock), Some("%1".into()));
    }
}
