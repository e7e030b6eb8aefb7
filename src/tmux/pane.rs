//! Panes and targets: one `list-panes -a` per decision, then exact matching done here rather
//! than by tmux (whose `-t name` falls back to a prefix match on session names).

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{Tmux, TmuxError};

/// One tmux pane, as listed by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pane {
    /// The stable pane id, `%N`: the only way gate names a pane once it is resolved.
    pub id: String,
    pub session: String,
    pub window_index: u32,
    pub window_name: String,
    pub pane_index: u32,
    /// The pid of the pane's first process.
    pub pid: u32,
    /// `#{pane_current_command}`: what runs in the pane now.
    pub command: String,
    /// `#{pane_current_path}`.
    pub path: PathBuf,
    /// In copy mode (or another mode) where typed keys would be swallowed.
    pub in_mode: bool,
    /// The active pane of its session's active window.
    pub active: bool,
    /// The server's socket (`#{socket_path}`), which together with `id` names the pane uniquely.
    pub socket_path: PathBuf,
    /// The agent name a person gave the pane (`gate agents mark`, the `@gate-agent` pane
    /// option); `None` when unmarked.
    pub mark: Option<String>,
    /// The role given with the mark (`@gate-role`).
    pub role: Option<String>,
    /// Its program exited and the pane stays (`remain-on-exit`), `#{pane_dead}`.
    pub dead: bool,
    /// Whom the agent reports to (`@gate-reports-to`, set by `gate team up`).
    pub reports_to: Option<String>,
    /// Whether the watcher restarts it when its program dies (`@gate-restart`).
    pub restart: bool,
}

impl Pane {
    /// `session:window.pane`, for people.
    pub fn target(&self) -> String {
        format!("{}:{}.{}", self.session, self.window_index, self.pane_index)
    }

    fn window(&self) -> String {
        format!(
            "{}:{} ({})",
            self.session, self.window_index, self.window_name
        )
    }
}

/// Unit separator: never in a session or window name (tmux replaces control characters there).
const SEP: char = '\x1f';

/// The fields of [`Pane`] in [`parse`] order; the two paths come last.
const FIELDS: [&str; 17] = [
    "pane_id",
    "session_name",
    "window_index",
    "window_name",
    "pane_index",
    "pane_pid",
    "pane_in_mode",
    "window_active",
    "pane_active",
    "pane_current_command",
    super::agents::MARK_OPTION,
    super::agents::ROLE_OPTION,
    "pane_dead",
    super::agents::REPORTS_TO_OPTION,
    super::agents::RESTART_OPTION,
    "socket_path",
    // A dead pane (kept by `remain-on-exit`) has no current path: its start path, then.
    "?pane_current_path,#{pane_current_path},#{pane_start_path}",
];

impl Tmux {
    /// Every pane on the server.
    pub fn panes(&self) -> Result<Vec<Pane>, TmuxError> {
        let format = FIELDS
            .iter()
            .map(|f| format!("#{{{f}}}"))
            .collect::<Vec<_>>()
            .join(&SEP.to_string());
        let args = ["list-panes", "-a", "-F", &format];
        let out = self.run(&args)?;
        out.lines()
            .filter(|l| !l.is_empty())
            .map(|line| {
                parse(line).ok_or_else(|| TmuxError::Output {
                    args: args.iter().map(|a| a.to_string()).collect(),
                    line: line.to_owned(),
                })
            })
            .collect()
    }

    /// The pane `target` names: `session:window[.pane]`, a bare session or window name, or a
    /// pane id `%N`. Session and window names match exactly.
    pub fn resolve(&self, target: &str) -> Result<Pane, TmuxError> {
        find(&self.panes()?, target).cloned()
    }
}

fn parse(line: &str) -> Option<Pane> {
    let f: Vec<&str> = line.splitn(FIELDS.len(), SEP).collect();
    let [
        id,
        session,
        wi,
        wname,
        pi,
        pid,
        mode,
        wact,
        pact,
        cmd,
        mark,
        role,
        dead,
        reports_to,
        restart,
        sock,
        path,
    ] = f[..]
    else {
        return None;
    };
    Some(Pane {
        id: id.to_owned(),
        session: session.to_owned(),
        window_index: wi.parse().ok()?,
        window_name: wname.to_owned(),
        pane_index: pi.parse().ok()?,
        pid: pid.parse().unwrap_or(0),
        command: cmd.to_owned(),
        path: PathBuf::from(path),
        in_mode: mode == "1",
        active: wact == "1" && pact == "1",
        socket_path: PathBuf::from(sock),
        mark: Some(mark.trim().to_owned()).filter(|m| !m.is_empty()),
        role: Some(role.trim().to_owned()).filter(|r| !r.is_empty()),
        dead: dead == "1",
        reports_to: Some(reports_to.trim().to_owned()).filter(|r| !r.is_empty()),
        restart: !restart.trim().is_empty(),
    })
}

/// The pane `target` names among `panes` (see [`Tmux::resolve`]).
///
/// A bare name is tried as a session first, then as a window name in any session (which must
/// then be unique). A window part of digits is an index, otherwise an exact name; a session
/// part may carry tmux's `=` prefix.
pub fn find<'a>(panes: &'a [Pane], target: &str) -> Result<&'a Pane, TmuxError> {
    let missing = || TmuxError::NoTarget {
        target: target.to_owned(),
        available: available_targets(panes),
    };
    if target.starts_with('%') {
        return panes.iter().find(|p| p.id == target).ok_or_else(missing);
    }
    let Some((session, rest)) = target.split_once(':') else {
        let session = target.strip_prefix('=').unwrap_or(target);
        if panes.iter().any(|p| p.session == session) {
            return in_window(panes, session, None, None).ok_or_else(missing);
        }
        return by_window_name(panes, target).ok_or_else(missing)?;
    };
    let session = session.strip_prefix('=').unwrap_or(session);
    if rest.is_empty() {
        return in_window(panes, session, None, None).ok_or_else(missing);
    }
    // `win.2` is window `win`, pane 2, unless a window is literally named `win.2`.
    if let Some((window, pane)) = rest.rsplit_once('.')
        && let Ok(index) = pane.parse::<u32>()
        && let Some(p) = in_window(panes, session, Some(window), Some(index))
    {
        return Ok(p);
    }
    match windows_named(panes, session, rest).len() {
        0 | 1 => in_window(panes, session, Some(rest), None).ok_or_else(missing),
        _ => Err(TmuxError::Ambiguous {
            target: target.to_owned(),
            matches: windows_named(panes, session, rest),
        }),
    }
}

/// The pane of `session` in `window` (index or exact name; the active window if `None`) with
/// pane index `pane` (the window's active pane if `None`).
fn in_window<'a>(
    panes: &'a [Pane],
    session: &str,
    window: Option<&str>,
    pane: Option<u32>,
) -> Option<&'a Pane> {
    let index = window.and_then(|w| w.parse::<u32>().ok());
    let in_window: Vec<&Pane> = panes
        .iter()
        .filter(|p| p.session == session)
        .filter(|p| match (window, index) {
            (None, _) => true,
            (Some(_), Some(i)) => p.window_index == i,
            (Some(name), None) => p.window_name == name,
        })
        .collect();
    let window_index = match window {
        Some(_) => in_window.first()?.window_index,
        None => {
            in_window
                .iter()
                .find(|p| p.active)
                .or(in_window.first())?
                .window_index
        }
    };
    let candidates = in_window.iter().filter(|p| p.window_index == window_index);
    match pane {
        Some(i) => candidates.clone().find(|p| p.pane_index == i).copied(),
        None => candidates
            .clone()
            .find(|p| p.active)
            .or(candidates.min_by_key(|p| p.pane_index))
            .copied(),
    }
}

fn windows_named(panes: &[Pane], session: &str, name: &str) -> Vec<String> {
    let set: BTreeSet<(String, u32, String)> = panes
        .iter()
        .filter(|p| p.session == session && p.window_name == name)
        .map(|p| (p.session.clone(), p.window_index, p.window()))
        .collect();
    set.into_iter().map(|(_, _, w)| w).collect()
}

/// A bare window name: unique across sessions, or ambiguous.
fn by_window_name<'a>(panes: &'a [Pane], name: &str) -> Option<Result<&'a Pane, TmuxError>> {
    let sessions: BTreeSet<&str> = panes
        .iter()
        .filter(|p| p.window_name == name)
        .map(|p| p.session.as_str())
        .collect();
    let mut matches: Vec<String> = sessions
        .iter()
        .flat_map(|s| windows_named(panes, s, name))
        .collect();
    match matches.len() {
        0 => None,
        1 => {
            let session = sessions.first()?;
            in_window(panes, session, Some(name), None).map(Ok)
        }
        _ => {
            matches.sort();
            Some(Err(TmuxError::Ambiguous {
                target: name.to_owned(),
                matches,
            }))
        }
    }
}

/// `session:index (name)` of every window, sorted by session, then index.
pub fn available_targets(panes: &[Pane]) -> Vec<String> {
    let set: BTreeSet<(&str, u32, String)> = panes
        .iter()
        .map(|p| (p.session.as_str(), p.window_index, p.window()))
        .collect();
    set.into_iter().map(|(_, _, w)| w).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane(id: &str, session: &str, wi: u32, wname: &str, pi: u32, active: bool) -> Pane {
        Pane {
            id: id.into(),
            session: session.into(),
            window_index: wi,
            window_name: wname.into(),
            pane_index: pi,
            pid: 1,
            command: "sh".into(),
            path: PathBuf::from("/work"),
            in_mode: false,
            active,
            socket_path: PathBuf::from("/tmp/tmux-0/default"),
            mark: None,
            role: None,
            dead: false,
            reports_to: None,
            restart: false,
        }
    }

    fn server() -> Vec<Pane> {
        vec![
            pane("%0", "orchestrator", 0, "main", 0, true),
            pane("%1", "orchestrator-2", 0, "main", 0, true),
            pane("%2", "eng", 0, "shell", 0, false),
            pane("%3", "eng", 1, "claude", 0, false),
            pane("%4", "eng", 1, "claude", 1, true),
            pane("%5", "eng", 2, "v1.2", 0, false),
            pane("%6", "pm", 0, "claude", 0, true),
        ]
    }

    fn id(target: &str) -> String {
        find(&server(), target)
            .unwrap_or_else(|e| panic!("{target}: {e}"))
            .id
            .clone()
    }

    #[test]
    fn targets_resolve_exactly() {
        assert_eq!(id("orchestrator"), "%0");
        assert_eq!(id("orchestrator:0"), "%0");
        assert_eq!(id("=orchestrator:0"), "%0");
        assert_eq!(id("orchestrator-2:0"), "%1");
        assert_eq!(id("eng:1"), "%4", "active pane of the window");
        assert_eq!(id("eng:1.0"), "%3");
        assert_eq!(id("eng:claude.0"), "%3");
        assert_eq!(id("eng:v1.2"), "%5", "a window named like window.pane");
        assert_eq!(id("eng:shell"), "%2");
        assert_eq!(id("eng:"), "%4");
        assert_eq!(id("eng"), "%4", "session's active window and pane");
        assert_eq!(id("shell"), "%2", "a bare window name");
        assert_eq!(id("%5"), "%5");
    }

    #[test]
    fn prefixes_never_match() {
        for target in [
            "orch",
            "orchestrator:9",
            "eng:1.7",
            "en:0",
            "%9",
            "she",
            "eng:claud",
        ] {
            match find(&server(), target) {
                Err(TmuxError::NoTarget { available, .. }) => assert_eq!(
                    available,
                    [
                        "eng:0 (shell)",
                        "eng:1 (claude)",
                        "eng:2 (v1.2)",
                        "orchestrator:0 (main)",
                        "orchestrator-2:0 (main)",
                        "pm:0 (claude)",
                    ]
                ),
                other => panic!("{target}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_window_name_in_two_sessions_is_ambiguous() {
        match find(&server(), "claude") {
            Err(TmuxError::Ambiguous { matches, .. }) => {
                assert_eq!(matches, ["eng:1 (claude)", "pm:0 (claude)"])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn listing_lines_parse() {
        let line = "%7\x1fmy session\x1f3\x1fwin\x1f1\x1f4242\x1f1\x1f1\x1f0\x1fclaude\x1feng 1\x1f\x1f0\x1f\x1f\x1f/tmp/tmux-0/default\x1f/home/u/a\x1fb";
        let p = parse(line).unwrap();
        assert_eq!(p.id, "%7");
        assert_eq!(p.target(), "my session:3.1");
        assert_eq!(p.path, PathBuf::from("/home/u/a\x1fb"));
        assert!(p.in_mode && !p.active);
        assert_eq!(p.pid, 4242);
        assert_eq!(p.mark.as_deref(), Some("eng 1"));
        assert_eq!(p.role, None);
        assert!(parse("%7\x1fshort").is_none());
    }
}
