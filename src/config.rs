//! `.gate.toml`: the project's rules. Every key is optional; a missing file means the defaults.
//!
//! A malformed file is an error naming the path, line and column, never a silent reset to
//! defaults: an agent that breaks the config must not thereby switch the rules off.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::units::{ByteSize, HumanDuration};

/// The file name gate reads at the repository root.
pub const FILE_NAME: &str = ".gate.toml";

/// Larger than this, `.gate.toml` is refused unread.
pub const MAX_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub branches: Branches,
    pub commit: Commit,
    pub tags: Tags,
    pub spec: Spec,
    pub agent: Agent,
    pub hooks: Hooks,
    pub snapshot: Snapshot,
    pub delivery: Delivery,
}

/// Notes for an agent that is mid-turn (check-ins, nudges) wait for its turn to end; these
/// bound the wait and say when someone is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// A note waiting longer than this is escalated to the agent's PM or orchestrator.
    pub escalate_after: HumanDuration,
    /// An agent whose CLI reported a question or permission prompt this long ago, still
    /// unanswered, is reported to its PM or orchestrator.
    pub needs_input_after: HumanDuration,
    /// At most this many Claude Code Stop hooks in a row hand waiting notes back (0: never;
    /// the watcher types them instead).
    pub handbacks: u32,
    /// After a usage-limit or rate-limit stop, a check-in to resume is scheduled this far ahead.
    pub resume_after: HumanDuration,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            escalate_after: HumanDuration::from_secs(30 * 60),
            needs_input_after: HumanDuration::from_secs(10 * 60),
            handbacks: 3,
            resume_after: HumanDuration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Snapshot {
    /// Preserved work stays reachable at least this long; only `gate snapshots --prune`
    /// removes older snapshots (never the watcher on its own), and it logs what it removed.
    pub keep: HumanDuration,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self {
            keep: HumanDuration::from_secs(14 * 24 * 3600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Branches {
    /// Branches nobody commits to directly; the first is where finished features merge.
    pub protected: Vec<String>,
    /// Prefix of the branches `gate specify` creates; "" gives spec-kit's bare `NNN-slug`.
    pub feature_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Commit {
    /// Uncommitted work is never older than this.
    pub interval: HumanDuration,
    /// The tree must be still this long before an auto-commit.
    pub quiet: HumanDuration,
    /// Files larger than this are never auto-committed.
    pub max_file_size: ByteSize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tags {
    /// `{feature}` is the feature directory name, `{date}` is YYYYMMDD.
    pub format: TagFormat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Spec {
    /// Where feature directories (`NNN-slug/`) live, relative to the repository root.
    pub dir: RepoPath,
    /// Where the team's editable templates live, relative to the repository root.
    pub templates: RepoPath,
    /// Paths that count as implementation: committed only once spec, plan and tasks are done.
    pub implementation: Vec<GlobPattern>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Agent {
    /// A tmux target for nudges, or "auto" for the agents of the worktree concerned (`gate
    /// agents`: marked panes and known agent CLIs, never plain shells).
    pub target: String,
    /// Where escalations go.
    pub orchestrator: String,
    /// Minimum time between two nudges for the same rule and pane.
    pub nudge_cooldown: HumanDuration,
    /// Ignored nudges for one rule in a pane (0: never escalate), or attempts at delivering a
    /// check-in (at least 1), before the orchestrator is told.
    pub escalate_after: u32,
    /// First wait before retrying an undeliverable check-in; doubled after each failure.
    pub checkin_retry: HumanDuration,
    /// How long the watcher waits for a busy pane (its screen still changing) to go quiet
    /// before sending a nudge or check-in anyway.
    pub busy_wait: HumanDuration,
    /// Pause between the text and Enter in the watcher's messages (see `gate send --pause`).
    pub send_pause: HumanDuration,
    /// Program names that make a pane an agent when they run in it (besides panes marked with
    /// `gate agents mark`). Plain shells are never agents.
    pub clis: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hooks {
    /// The pre-push hook refuses pushes to a protected branch on the remote, unless the commit
    /// pushed is a finished feature (tagged stable, or merged by `gate finish`).
    pub protect_push: bool,
}

impl Default for Hooks {
    fn default() -> Self {
        Self { protect_push: true }
    }
}

impl Default for Branches {
    fn default() -> Self {
        Self {
            protected: vec!["main".into(), "master".into()],
            feature_prefix: "feature/".into(),
        }
    }
}

impl Default for Commit {
    fn default() -> Self {
        Self {
            interval: HumanDuration::from_secs(30 * 60),
            quiet: "60s".parse().expect("valid default"),
            max_file_size: ByteSize(50 * 1000 * 1000),
        }
    }
}

impl Default for Tags {
    fn default() -> Self {
        Self {
            format: TagFormat("stable-{feature}-{date}".into()),
        }
    }
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            dir: RepoPath("specs".into()),
            templates: RepoPath("spec-kit/templates".into()),
            implementation: vec![GlobPattern("src/**".into())],
        }
    }
}

impl Default for Agent {
    fn default() -> Self {
        Self {
            target: "auto".into(),
            orchestrator: "orchestrator:0".into(),
            nudge_cooldown: HumanDuration::from_secs(10 * 60),
            escalate_after: 3,
            checkin_retry: HumanDuration::from_secs(60),
            busy_wait: HumanDuration::from_secs(30),
            send_pause: "500ms".parse().expect("valid default"),
            clis: ["claude", "codex", "gemini", "aider"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// A glob from `spec.implementation`, validated when the file is read so that the error can
/// point at its line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct GlobPattern(pub String);

impl<'de> Deserialize<'de> for GlobPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        globset::GlobBuilder::new(&text)
            .literal_separator(true)
            .build()
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid glob {text:?}: {}; globs look like \"src/**\" or \"lib/**/*.rs\"",
                    e.kind()
                ))
            })?;
        Ok(GlobPattern(text))
    }
}

/// A directory inside the repository: relative, without `..`. A committed config must never
/// point gate at files outside the repository it came with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct RepoPath(pub String);

impl std::ops::Deref for RepoPath {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RepoPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<Path> for RepoPath {
    fn as_ref(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl<'de> Deserialize<'de> for RepoPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let inside = !text.trim().is_empty()
            && Path::new(&text).components().all(|c| {
                matches!(
                    c,
                    std::path::Component::Normal(_) | std::path::Component::CurDir
                )
            });
        if !inside {
            return Err(serde::de::Error::custom(format!(
                "{text:?} must be a directory inside the repository, relative to its root and \
                 without \"..\", e.g. \"specs\""
            )));
        }
        Ok(RepoPath(text.trim_end_matches('/').to_owned()))
    }
}

/// The stable-tag format; it must name the feature, or two features would share a tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct TagFormat(pub String);

impl<'de> Deserialize<'de> for TagFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if !text.contains("{feature}") {
            return Err(serde::de::Error::custom(format!(
                "tag format {text:?} must contain {{feature}} (and usually {{date}}), \
                 e.g. \"stable-{{feature}}-{{date}}\""
            )));
        }
        Ok(TagFormat(text))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
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
}

impl Config {
    /// Reads `.gate.toml` under `root`; absent means defaults.
    pub fn load(root: &Path) -> Result<Config, ConfigError> {
        let path = root.join(FILE_NAME);
        // A committed symlink to a FIFO or device would block every command (and every
        // commit, through the hook) or read forever.
        if let Err(e) = crate::confine::is_regular(&path) {
            return Err(ConfigError::Invalid {
                path,
                line: 1,
                column: 1,
                message: format!("{e}; replace it with a TOML file"),
            });
        }
        // A committed multi-gigabyte file would be read by every hook and every reload.
        if let Ok(meta) = std::fs::metadata(&path)
            && meta.len() > MAX_BYTES
        {
            return Err(ConfigError::Invalid {
                path,
                line: 1,
                column: 1,
                message: format!(
                    "the file is {} bytes; a .gate.toml is a few hundred (at most {MAX_BYTES}): \
                     replace it with the settings you mean",
                    meta.len()
                ),
            });
        }
        match std::fs::read(&path) {
            Ok(bytes) => Self::parse(&path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Parses config text; `path` only names the file in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Config, ConfigError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let (line, column) = line_column(bytes, e.valid_up_to());
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message: "the file is not valid UTF-8; save it as UTF-8 text".into(),
            }
        })?;
        toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_column(text.as_bytes(), s.start))
                .unwrap_or((1, 1));
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })
    }

    /// The branch finished features merge into.
    pub fn main_branch(&self) -> &str {
        self.branches
            .protected
            .first()
            .map(String::as_str)
            .unwrap_or("main")
    }

    pub fn is_protected(&self, branch: &str) -> bool {
        self.branches.protected.iter().any(|p| p == branch)
    }

    /// The config as the TOML a user would write to get exactly this behaviour.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config always serialises")
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new(".gate.toml"), text.as_bytes())
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn documented_keys_parse() {
        let c = parse(
            "[branches]\nprotected = [\"trunk\"]\nfeature_prefix = \"\"\n\
             [commit]\ninterval = \"2h\"\nquiet = \"90s\"\nmax_file_size = \"1MiB\"\n\
             [spec]\nimplementation = [\"lib/**/*.rs\"]\n",
        )
        .unwrap();
        assert_eq!(c.branches.protected, ["trunk"]);
        assert_eq!(c.commit.interval.as_secs(), 7200);
        assert_eq!(c.commit.quiet.as_secs(), 90);
        assert_eq!(c.commit.max_file_size.0, 1 << 20);
        assert_eq!(c.main_branch(), "trunk");
    }

    #[test]
    fn unknown_key_names_line_column_and_allowed_keys() {
        let e = error("[commit]\ninterval = \"1m\"\ncadence = 3\n");
        assert!(
            e.starts_with(".gate.toml:3:1: unknown field `cadence`"),
            "{e}"
        );
        assert!(e.contains("interval"), "{e}");
    }

    #[test]
    fn wrong_type_names_line() {
        let e = error("[branches]\nprotected = \"main\"\n");
        assert!(e.starts_with(".gate.toml:2:13:"), "{e}");
    }

    #[test]
    fn bad_glob_names_line_and_example() {
        let e = error("[spec]\nimplementation = [\"src/**\", \"src/[a\"]\n");
        // toml points at the array holding the bad glob.
        assert!(e.starts_with(".gate.toml:2:18:"), "{e}");
        assert!(e.contains("invalid glob"), "{e}");
    }

    #[test]
    fn bad_duration_says_what_is_allowed() {
        let e = error("[commit]\ninterval = \"soon\"\n");
        assert!(e.starts_with(".gate.toml:2:12:"), "{e}");
        assert!(e.contains("30m"), "{e}");
    }

    #[test]
    fn spec_paths_stay_inside_the_repository() {
        for bad in ["../outside", "/tmp/specs", "a/../../b", ""] {
            let e = error(&format!("[spec]\ndir = {bad:?}\n"));
            assert!(e.starts_with(".gate.toml:2:7:"), "{e}");
        }
        assert_eq!(
            &*parse("[spec]\ndir = \"docs/specs/\"\n").unwrap().spec.dir,
            "docs/specs"
        );
    }

    #[test]
    fn tag_format_must_name_the_feature() {
        assert!(error("[tags]\nformat = \"stable-{date}\"\n").contains("{feature}"));
    }

    #[test]
    fn non_utf8_is_an_error_not_a_panic() {
        let e = Config::parse(Path::new("x"), b"[spec]\ndir = \"\xff\"\n").unwrap_err();
        assert!(e.to_string().starts_with("x:2:8:"), "{e}");
    }

    #[test]
    fn an_oversized_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let big = "# padding\n".repeat(120_000);
        std::fs::write(dir.path().join(FILE_NAME), big).unwrap();
        let e = Config::load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains(".gate.toml:1:1: the file is 1200000 bytes"),
            "{e}"
        );
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let c = Config::default();
        assert_eq!(parse(&c.to_toml()).unwrap(), c);
    }
}
