//! The team file (`team.toml`): who is in the team, what each one runs, and where. Parsed
//! strictly (unknown keys are errors) and checked as a whole (unique names, a `pm` that names a
//! pm or the orchestrator), every error pointing at the file, line and column to fix.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::TeamError;

/// The default team file name, at the repository root.
pub const FILE_NAME: &str = "team.toml";

/// An agent's role in the team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Orchestrator,
    Pm,
    Engineer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Orchestrator => "orchestrator",
            Role::Pm => "pm",
            Role::Engineer => "engineer",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    session: Spanned<String>,
    /// Seconds to wait for each agent's program to be ready for its brief.
    #[serde(default)]
    ready_timeout: Option<u64>,
    /// Whether `up` records each known CLI's trust of its agent's folder (default true).
    #[serde(default)]
    trust: Option<bool>,
    /// Whether the watcher restarts an agent whose program died (default false).
    #[serde(default)]
    restart: Option<bool>,
    #[serde(default)]
    agent: Vec<RawAgent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    name: Spanned<String>,
    role: Role,
    command: Spanned<String>,
    #[serde(default)]
    feature: Option<Spanned<String>>,
    #[serde(default)]
    repo: Option<Spanned<String>>,
    #[serde(default)]
    brief: Option<String>,
    #[serde(default)]
    pm: Option<Spanned<String>>,
    #[serde(default)]
    ready: Option<String>,
    #[serde(default)]
    trust: Option<bool>,
    #[serde(default)]
    restart: Option<bool>,
}

/// A checked team file.
#[derive(Debug, Clone)]
pub struct Team {
    /// The file it was read from.
    pub path: PathBuf,
    pub session: String,
    pub ready_timeout: std::time::Duration,
    pub agents: Vec<Agent>,
}

/// One agent of the team, its references resolved.
#[derive(Debug, Clone)]
pub struct Agent {
    pub name: String,
    pub role: Role,
    pub command: String,
    /// The feature (engineers): a new feature's name, or an existing feature directory.
    pub feature: Option<String>,
    /// The repository it works in (absolute; `repo` is relative to the team file).
    pub repo: PathBuf,
    pub brief: Option<String>,
    /// Who it reports to: an engineer's pm (default: the first pm, else the orchestrator); a
    /// pm's orchestrator; `None` for the orchestrator, or when there is nobody above.
    pub reports_to: Option<String>,
    /// Text on screen that means the program is ready for input.
    pub ready: Option<String>,
    /// Whether `up` makes the agent's CLI (Claude Code, Codex) trust its folder in the CLI's
    /// own settings, so that it does not open on a trust dialog: the agent's `trust`, else
    /// the team's, else true.
    pub trust: bool,
    /// Whether the watcher restarts the agent when its program dies (a bounded number of
    /// times, with a brief saying what happened): the agent's `restart`, else the team's,
    /// else false.
    pub restart: bool,
}

impl Team {
    /// Reads and checks the team file at `path`; `default_repo` is where agents without `repo`
    /// work.
    pub fn load(path: &Path, default_repo: &Path) -> Result<Team, TeamError> {
        if let Err(e) = crate::confine::is_regular(path) {
            return Err(TeamError::Invalid {
                path: path.to_owned(),
                line: 1,
                column: 1,
                message: format!("{e}; replace it with a TOML file"),
            });
        }
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TeamError::Missing {
                    path: path.to_owned(),
                });
            }
            Err(source) => {
                return Err(TeamError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Team::parse(path, &bytes, default_repo)
    }

    /// Parses team-file text; `path` names the file in errors and anchors relative `repo`s.
    pub fn parse(path: &Path, bytes: &[u8], default_repo: &Path) -> Result<Team, TeamError> {
        let invalid = |offset: usize, message: String| {
            let (line, column) = crate::config::line_column(bytes, offset);
            TeamError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            invalid(
                e.valid_up_to(),
                "the file is not valid UTF-8; save it as UTF-8 text".into(),
            )
        })?;
        let raw: RawTeam = toml::from_str(text).map_err(|e| {
            invalid(
                e.span().map_or(0, |s| s.start),
                e.message().trim().to_owned(),
            )
        })?;
        check_name(&raw.session, "session").map_err(|m| invalid(raw.session.span().start, m))?;
        if raw.agent.is_empty() {
            return Err(invalid(
                text.len(),
                "the team has no agents; add one: [[agent]] name = \"pm\" role = \"pm\" command = \"claude\"".into(),
            ));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let mut agents: Vec<Agent> = Vec::new();
        for a in &raw.agent {
            check_name(&a.name, "agent name").map_err(|m| invalid(a.name.span().start, m))?;
            // tmux and gate send read a window part of digits as an index: `shop:0` is the
            // team's first window, whatever its name, so the brief's `gate send shop:0` and
            // `tmux select-window -t shop:0` would reach another agent.
            if a.name.get_ref().bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    a.name.span().start,
                    format!(
                        "agent name {:?} is all digits, which tmux and gate send read as a window \
                         index (another agent's window); add a letter (e.g. \"eng-{}\")",
                        a.name.get_ref(),
                        a.name.get_ref()
                    ),
                ));
            }
            if agents.iter().any(|b| b.name == *a.name.get_ref()) {
                return Err(invalid(
                    a.name.span().start,
                    format!(
                        "two agents are named {:?}; give each its own name",
                        a.name.get_ref()
                    ),
                ));
            }
            if a.command.get_ref().trim().is_empty() {
                return Err(invalid(
                    a.command.span().start,
                    "the command is empty; name the program to run, e.g. \"claude\"".into(),
                ));
            }
            if let Some(f) = &a.feature {
                if a.role != Role::Engineer {
                    return Err(invalid(
                        f.span().start,
                        format!(
                            "only engineers have a feature; {} is a {}",
                            a.name.get_ref(),
                            a.role.as_str()
                        ),
                    ));
                }
                if f.get_ref().trim().is_empty() {
                    return Err(invalid(
                        f.span().start,
                        "the feature is empty; name it".into(),
                    ));
                }
                // Found only now, `up` would fail halfway, other worktrees already made.
                if let Err(e) = feature_key(f.get_ref()) {
                    return Err(invalid(f.span().start, e.to_string()));
                }
            }
            // Twins by the branch name their features give (as `up` finds a worktree again):
            // "Search box" and "search BOX" would share one worktree.
            if let Some(f) = &a.feature
                && let Some(twin) =
                    raw.agent
                        .iter()
                        .take_while(|b| !std::ptr::eq(*b, a))
                        .find(|b| {
                            b.feature.as_ref().map(|g| feature_key(g.get_ref()).ok())
                                == Some(feature_key(f.get_ref()).ok())
                                && b.repo.as_ref().map(|r| r.get_ref())
                                    == a.repo.as_ref().map(|r| r.get_ref())
                        })
            {
                let theirs = twin.feature.as_ref().map_or("", |g| g.get_ref().trim());
                let mine = f.get_ref().trim();
                let message = match theirs == mine {
                    true => format!(
                        "{} already works on feature {mine:?}; give each engineer its own feature (one worktree each)",
                        twin.name.get_ref()
                    ),
                    false => format!(
                        "{} already works on feature {theirs:?}, and {mine:?} gives the same branch name ({}): they would share one worktree; give each engineer a feature of its own words",
                        twin.name.get_ref(),
                        feature_key(mine).unwrap_or_default()
                    ),
                };
                return Err(invalid(f.span().start, message));
            }
            let repo = match &a.repo {
                Some(r) => {
                    let dir = base.join(r.get_ref());
                    let dir = std::fs::canonicalize(&dir).map_err(|e| {
                        invalid(
                            r.span().start,
                            format!("cannot open repository {}: {e}", dir.display()),
                        )
                    })?;
                    if let Err(e) = crate::repo::Repo::discover(&dir) {
                        return Err(invalid(
                            r.span().start,
                            format!("{e}; name a git repository"),
                        ));
                    }
                    dir
                }
                None => default_repo.to_owned(),
            };
            agents.push(Agent {
                name: a.name.get_ref().clone(),
                role: a.role,
                command: a.command.get_ref().clone(),
                feature: a.feature.as_ref().map(|f| f.get_ref().trim().to_owned()),
                repo,
                brief: a.brief.clone().filter(|b| !b.trim().is_empty()),
                reports_to: None,
                ready: a.ready.clone().filter(|r| !r.is_empty()),
                trust: a.trust.or(raw.trust).unwrap_or(true),
                restart: a.restart.or(raw.restart).unwrap_or(false),
            });
        }
        let orchestrators: Vec<&RawAgent> = raw
            .agent
            .iter()
            .filter(|a| a.role == Role::Orchestrator)
            .collect();
        if orchestrators.len() > 1 {
            return Err(invalid(
                orchestrators[1].name.span().start,
                "a team has at most one orchestrator; make this one a pm".into(),
            ));
        }
        let orchestrator = orchestrators.first().map(|a| a.name.get_ref().clone());
        let first_pm = raw
            .agent
            .iter()
            .find(|a| a.role == Role::Pm)
            .map(|a| a.name.get_ref().clone());
        for i in 0..agents.len() {
            let raw_agent = &raw.agent[i];
            let reports_to = match (&raw_agent.pm, agents[i].role) {
                (Some(pm), Role::Orchestrator) => {
                    return Err(invalid(
                        pm.span().start,
                        "the orchestrator reports to nobody; remove `pm`".into(),
                    ));
                }
                (Some(pm), role) => {
                    let Some(boss) = agents.iter().find(|b| b.name == *pm.get_ref()) else {
                        return Err(invalid(
                            pm.span().start,
                            format!(
                                "no agent is named {:?}; name a pm or the orchestrator of this team",
                                pm.get_ref()
                            ),
                        ));
                    };
                    let fits = match role {
                        Role::Engineer => boss.role != Role::Engineer,
                        _ => boss.role == Role::Orchestrator,
                    };
                    if !fits || boss.name == agents[i].name {
                        return Err(invalid(
                            pm.span().start,
                            format!(
                                "{} cannot report to {} (a {}); an engineer reports to a pm or the orchestrator, a pm to the orchestrator",
                                agents[i].name,
                                boss.name,
                                boss.role.as_str()
                            ),
                        ));
                    }
                    Some(boss.name.clone())
                }
                (None, Role::Engineer) => first_pm.clone().or_else(|| orchestrator.clone()),
                (None, Role::Pm) => orchestrator.clone(),
                (None, Role::Orchestrator) => None,
            };
            agents[i].reports_to = reports_to;
        }
        Ok(Team {
            path: path.to_owned(),
            session: raw.session.get_ref().clone(),
            ready_timeout: std::time::Duration::from_secs(raw.ready_timeout.unwrap_or(30)),
            agents,
        })
    }

    pub fn agent(&self, name: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.name == name)
    }
}

/// What `up` finds an engineer's worktree by: an existing feature's directory name
/// (`003-user-auth`, `specs/003-user-auth`), else the slug `gate specify` makes of the words.
fn feature_key(feature: &str) -> Result<String, crate::spec::feature::FeatureError> {
    use crate::spec::feature;
    let f = feature.trim().trim_end_matches('/');
    let last = f.rsplit('/').next().unwrap_or(f);
    match feature::number_of(last) {
        Some(_) => Ok(last.to_owned()),
        None => feature::slugify(f),
    }
}

/// Session and window names become tmux targets: letters, digits, `-` and `_` only (`:` and
/// `.` separate target parts, and tmux would rename others).
fn check_name(name: &Spanned<String>, what: &str) -> Result<(), String> {
    let n = name.get_ref();
    // A leading `-` reads as an option: the brief's `gate send -x:pm "..."` would fail.
    let ok = !n.is_empty()
        && !n.starts_with('-')
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {n:?} is not usable as a tmux name; use letters, digits, `-` and `_`, not starting with `-` (e.g. \"backend-1\")"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Team, TeamError> {
        Team::parse(Path::new("/r/team.toml"), text.as_bytes(), Path::new("/r"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    const GOOD: &str = "session = \"shop\"\n\
        [[agent]]\nname = \"boss\"\nrole = \"orchestrator\"\ncommand = \"claude\"\n\
        [[agent]]\nname = \"pm\"\nrole = \"pm\"\ncommand = \"claude\"\n\
        [[agent]]\nname = \"ann\"\nrole = \"engineer\"\ncommand = \"codex\"\nfeature = \"User auth\"\nbrief = \"be brief\"\n";

    #[test]
    fn a_good_file_resolves_who_reports_to_whom() {
        let team = parse(GOOD).unwrap();
        assert_eq!(team.session, "shop");
        assert_eq!(team.agents.len(), 3);
        assert_eq!(team.agent("boss").unwrap().reports_to, None);
        assert_eq!(
            team.agent("pm").unwrap().reports_to.as_deref(),
            Some("boss")
        );
        let ann = team.agent("ann").unwrap();
        assert_eq!(ann.reports_to.as_deref(), Some("pm"));
        assert_eq!(ann.feature.as_deref(), Some("User auth"));
        assert_eq!(ann.repo, PathBuf::from("/r"));
        assert!(team.agents.iter().all(|a| a.trust));
    }

    #[test]
    fn trust_is_the_agents_else_the_teams_else_on() {
        let text = GOOD
            .replacen(
                "session = \"shop\"\n",
                "session = \"shop\"\ntrust = false\n",
                1,
            )
            .replace(
                "brief = \"be brief\"\n",
                "brief = \"be brief\"\ntrust = true\n",
            );
        let team = parse(&text).unwrap();
        assert!(!team.agent("boss").unwrap().trust);
        assert!(!team.agent("pm").unwrap().trust);
        assert!(team.agent("ann").unwrap().trust);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let bad_role = GOOD.replace("role = \"pm\"", "role = \"boss\"");
        let e = error(&bad_role);
        assert!(e.starts_with("/r/team.toml:8:8: "), "{e}");
        let unknown = GOOD.replace("brief =", "breif =");
        let e = error(&unknown);
        assert!(e.starts_with("/r/team.toml:15:1: "), "{e}");
        assert!(e.contains("breif"), "{e}");
        let dup = GOOD.replace("name = \"ann\"", "name = \"pm\"");
        let e = error(&dup);
        assert!(
            e.starts_with("/r/team.toml:11:8: ") && e.contains("two agents"),
            "{e}"
        );
        let nobody = format!("{GOOD}pm = \"carol\"\n");
        let e = error(&nobody);
        assert!(
            e.starts_with("/r/team.toml:16:6: ") && e.contains("carol"),
            "{e}"
        );
        let e = error("session = \"a:b\"\n[[agent]]\nname=\"x\"\nrole=\"pm\"\ncommand=\"c\"\n");
        assert!(e.starts_with("/r/team.toml:1:11: "), "{e}");
        let twins = format!(
            "{GOOD}[[agent]]\nname = \"bo\"\nrole = \"engineer\"\ncommand = \"c\"\nfeature = \"User auth\"\n"
        );
        let e = error(&twins);
        assert!(
            e.starts_with("/r/team.toml:20:11: ") && e.contains("ann already works"),
            "{e}"
        );
        let e = error("session = \"s\"\n");
        assert!(e.contains("no agents"), "{e}");
        // Regression: features that give one branch name shared one worktree.
        let twins = format!(
            "{GOOD}[[agent]]\nname = \"bo\"\nrole = \"engineer\"\ncommand = \"c\"\nfeature = \"user AUTH\"\n"
        );
        let e = error(&twins);
        assert!(
            e.starts_with("/r/team.toml:20:11: ")
                && e.contains("ann already works")
                && e.contains("\"user AUTH\" gives the same branch name (user-auth)"),
            "{e}"
        );
        // Regression: a feature with no usable branch name failed `up` halfway (exit 3).
        let e = error(&GOOD.replace("User auth", "日本語"));
        assert!(
            e.starts_with("/r/team.toml:14:11: ") && e.contains("no usable branch name"),
            "{e}"
        );
        // Regression: a session or agent name starting with `-` made the brief's `gate send
        // -x:pm "..."` an unknown option.
        let e = error(&GOOD.replace("session = \"shop\"", "session = \"-shop\""));
        assert!(
            e.starts_with("/r/team.toml:1:11: ") && e.contains("not starting with `-`"),
            "{e}"
        );
        let e = error(&GOOD.replace("name = \"pm\"", "name = \"-pm\""));
        assert!(e.starts_with("/r/team.toml:7:8: "), "{e}");
        // Regression: a name of digits is a window index to tmux and gate send.
        let digits = GOOD.replace("name = \"ann\"", "name = \"0\"");
        let e = error(&digits);
        assert!(
            e.starts_with("/r/team.toml:11:8: ") && e.contains("window index"),
            "{e}"
        );
        assert!(e.contains("\"eng-0\""), "{e}");
        let e = error(
            "session = \"s\"\n[[agent]]\nname=\"x\"\nrole=\"pm\"\ncommand=\"c\"\nfeature=\"f\"\n",
        );
        assert!(
            e.starts_with("/r/team.toml:6:9: ") && e.contains("only engineers"),
            "{e}"
        );
    }
}
