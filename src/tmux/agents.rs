//! Which panes are a project's agents: those working inside its repository, except the pane
//! gate itself runs in. Pure functions over a pane listing.

use std::path::Path;

use super::Pane;

/// The panes working inside `root` (their current directory is `root` or below it), except
/// `exclude` (gate's own pane).
pub fn agents_in<'a>(panes: &'a [Pane], root: &Path, exclude: Option<&str>) -> Vec<&'a Pane> {
    panes
        .iter()
        .filter(|p| p.path.starts_with(root))
        .filter(|p| Some(p.id.as_str()) != exclude)
        .collect()
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn pane(id: &str, path: &str) -> Pane {
        Pane {
            id: id.into(),
            session: "s".into(),
            window_index: 0,
            window_name: "w".into(),
            pane_index: 0,
            pid: 1,
            command: "sh".into(),
            path: PathBuf::from(path),
            in_mode: false,
            active: false,
            socket_path: PathBuf::from("/tmp/tmux-0/default"),
        }
    }

    #[test]
    fn agents_are_panes_inside_the_root_but_not_our_own() {
        let panes = [
            pane("%1", "/elsewhere"),
            pane("%2", "/repo"),
            pane("%3", "/repo/src"),
            pane("%4", "/repository"),
            pane("%5", "/repo"),
        ];
        let ids: Vec<&str> = agents_in(&panes, Path::new("/repo"), Some("%5"))
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(ids, ["%2", "%3"]);
    }

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
