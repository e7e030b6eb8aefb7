//! One auto-commit: the decision (a real commit, a shadow snapshot, or nothing) and its
//! execution. The watcher and `gate snapshot` share this path, so they follow the same rules:
//! an auto-commit never makes a commit gate's own pre-commit would refuse, and where a real
//! commit is not allowed the work is still preserved on `refs/gate/snapshots/<branch>`.

use serde::Serialize;

use crate::config::Config;
use crate::events::Event;
use crate::facts::{self, FactsError, FeatureHint};
use crate::repo::commit::{self, CommitError, Committed, TreeChanges};
use crate::repo::status::{self, Change, Entry};
use crate::repo::{Head, Repo, RepoError};
use crate::rules::{Question, Rules};

/// The trailer that marks gate's commits.
pub const TRAILER: &str = "Gate-Auto-Commit: true";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error(transparent)]
    Facts(#[from] FactsError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Status(#[from] crate::repo::cli::CliError),
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Subject line instead of "Progress: ...".
    pub message: Option<String>,
    /// Preserve on the snapshot ref even where a real commit would be allowed.
    pub shadow: bool,
    /// Only these paths (from file events); `None` means a full status.
    pub paths: Option<Vec<Vec<u8>>>,
}

/// What happened, for the caller to print and log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    Committed {
        commit: String,
        branch: String,
        summary: String,
    },
    Shadowed {
        commit: String,
        refname: String,
        reason: String,
        summary: String,
    },
    Unchanged {
        reason: String,
    },
    /// Nothing was written this time; the next attempt may succeed.
    Retry {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub skipped: Vec<Skipped>,
}

/// Where the work goes, decided from plain facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Commit { branch: String },
    Shadow { reason: String },
}

/// Takes one snapshot of the working tree's changes.
pub fn take(repo: &Repo, config: &Config, opts: &Options) -> Result<Report, SnapshotError> {
    remove_stale_scratch(&repo.state_dir());
    let wanted: &[Vec<u8>] = opts.paths.as_deref().unwrap_or(&[]);
    if opts.paths.as_ref().is_some_and(Vec::is_empty) {
        return Ok(report(
            Outcome::Unchanged {
                reason: "no changed paths".into(),
            },
            Vec::new(),
        ));
    }
    let entries = status::status(repo.root(), wanted)?;
    let (candidates, skipped) = select(repo, config, entries);
    if candidates.is_empty() {
        let reason = if skipped.is_empty() {
            "nothing to commit"
        } else {
            "only skipped files changed"
        };
        return Ok(report(
            Outcome::Unchanged {
                reason: reason.into(),
            },
            skipped,
        ));
    }
    let decision = decide(repo, config, &candidates, opts.paths.is_some(), opts.shadow)?;
    let paths: Vec<Vec<u8>> = candidates.iter().map(|e| e.path.clone()).collect();
    let outcome = match decision {
        Decision::Commit { branch } => commit_on(repo, &branch, &paths, opts)?,
        Decision::Shadow { reason } => shadow(repo, &paths, &reason, opts)?,
    };
    Ok(report(outcome, skipped))
}

fn report(outcome: Outcome, skipped: Vec<Skipped>) -> Report {
    Report { outcome, skipped }
}

/// Drops what must never be auto-committed: nested repositories and files over the limit.
fn select(repo: &Repo, config: &Config, entries: Vec<Entry>) -> (Vec<Entry>, Vec<Skipped>) {
    let limit = config.commit.max_file_size.0;
    let mut keep = Vec::new();
    let mut skipped = Vec::new();
    for e in entries {
        let reason = match e.change {
            Change::NestedRepo => Some(
                "a nested git repository (add it as a submodule by hand if wanted)".to_string(),
            ),
            Change::Deleted => None,
            _ => std::fs::symlink_metadata(repo.root().join(e.path()))
                .ok()
                .filter(|m| m.is_file() && m.len() > limit)
                .map(|m| {
                    format!(
                        "{} bytes, over commit.max_file_size ({})",
                        m.len(),
                        config.commit.max_file_size
                    )
                }),
        };
        match reason {
            Some(reason) => skipped.push(Skipped {
                path: e.display(),
                reason,
            }),
            None => keep.push(e),
        }
    }
    (keep, skipped)
}

/// A real commit only where gate's own pre-commit would accept it; everything else is shadowed.
pub fn decide(
    repo: &Repo,
    config: &Config,
    candidates: &[Entry],
    partial: bool,
    shadow: bool,
) -> Result<Decision, SnapshotError> {
    let shadow_because = |reason: String| Ok(Decision::Shadow { reason });
    if shadow {
        return shadow_because("requested (--shadow)".into());
    }
    // What the commit would hold: these paths plus whatever the agent already staged. A full
    // status lists staged paths already; a partial one (from file events) may not, but that
    // only matters while the spec gate is not passed (then paths decide); once it is, no path
    // can fail a rule, and the extra index read is skipped.
    let staged: Vec<String> = candidates.iter().map(Entry::display).collect();
    let question = Question::MayCommit { staged };
    let (mut facts, _) = facts::gather(repo, config, &FeatureHint::default(), question)?;
    let gate_passed = facts
        .feature
        .as_ref()
        .is_some_and(|f| f.first_incomplete().is_none());
    if partial
        && !gate_passed
        && let Question::MayCommit { staged } = &mut facts.question
    {
        staged.extend(status::staged(repo.root(), None)?);
        staged.sort();
        staged.dedup();
    }
    let branch = match &facts.head {
        Head::Detached(_) => return shadow_because("HEAD is detached".into()),
        Head::Unborn(b) => return shadow_because(format!("{b} has no commits yet")),
        Head::Branch(b) => b.clone(),
    };
    if facts.operation.in_progress() {
        return shadow_because(format!("a {} is in progress", facts.operation.name()));
    }
    if candidates.iter().any(|e| e.change == Change::Conflicted) {
        return shadow_because("the index has unresolved conflicts".into());
    }
    if config.is_protected(&branch) {
        return shadow_because(format!("{branch} is protected"));
    }
    if facts.feature.is_none() {
        return shadow_because(format!("{branch} is not a feature branch"));
    }
    let violations = Rules::new(config).evaluate(&facts);
    if let Some(v) = violations.first() {
        return shadow_because(format!(
            "gate's pre-commit would refuse it: [{}] {}",
            v.code.as_str(),
            v.message
        ));
    }
    Ok(Decision::Commit { branch })
}

fn commit_on(
    repo: &Repo,
    branch: &str,
    paths: &[Vec<u8>],
    opts: &Options,
) -> Result<Outcome, SnapshotError> {
    let parent = repo.git().head().ok().and_then(|h| h.target());
    match commit::stage(repo.root(), paths, None) {
        Err(CommitError::Locked(_)) => {
            return Ok(Outcome::Retry {
                reason: "index.lock is held by another git process".into(),
            });
        }
        Err(CommitError::Vanished(_)) => {
            return Ok(Outcome::Retry {
                reason: "a file vanished while it was being staged".into(),
            });
        }
        other => other?,
    }
    let message = |c: &TreeChanges| commit_message(opts.message.as_deref(), c);
    Ok(match repo.commit_index(branch, parent, message) {
        // The agent took index.lock between our `git add` and `git write-tree`.
        Err(CommitError::Locked(_)) => Outcome::Retry {
            reason: "index.lock is held by another git process".into(),
        },
        Err(e) => return Err(e.into()),
        Ok(Committed::Created { id, tree_changes }) => Outcome::Committed {
            commit: id,
            branch: branch.into(),
            summary: tree_changes.summary(),
        },
        Ok(Committed::Unchanged) => Outcome::Unchanged {
            reason: "the staged tree equals the last commit".into(),
        },
        Ok(Committed::BranchMoved) => Outcome::Retry {
            reason: format!("{branch} moved while committing (someone committed)"),
        },
    })
}

fn shadow(
    repo: &Repo,
    paths: &[Vec<u8>],
    reason: &str,
    opts: &Options,
) -> Result<Outcome, SnapshotError> {
    let head = repo.head()?;
    let label = head.branch().unwrap_or("detached").to_owned();
    let scratch = repo
        .state_dir()
        .join(format!("{SCRATCH}{}", std::process::id()));
    let message = |c: &TreeChanges| {
        let subject = opts
            .message
            .clone()
            .unwrap_or_else(|| format!("Snapshot: {}", c.summary()));
        format!("{subject}\n\nGate-Snapshot: {reason}\n{TRAILER}\n")
    };
    let refname = format!("refs/gate/snapshots/{label}");
    Ok(
        match repo.shadow_snapshot(&label, paths, &scratch, message) {
            Ok(Committed::Created { id, tree_changes }) => Outcome::Shadowed {
                commit: id,
                refname,
                reason: reason.into(),
                summary: tree_changes.summary(),
            },
            Ok(Committed::Unchanged) => Outcome::Unchanged {
                reason: format!("already preserved in {refname}"),
            },
            Ok(Committed::BranchMoved) => Outcome::Retry {
                reason: format!("{refname} moved meanwhile"),
            },
            Err(CommitError::Locked(_)) => Outcome::Retry {
                reason: "the snapshot index is locked".into(),
            },
            Err(CommitError::Vanished(_)) => Outcome::Retry {
                reason: "a file vanished while it was being staged".into(),
            },
            Err(e) => return Err(e.into()),
        },
    )
}

/// The private index of a shadow snapshot: `<state>/snapshot-index-<pid>`.
const SCRATCH: &str = "snapshot-index-";

/// Removes the scratch indexes of runs that died (SIGKILL) before cleaning up: named after a
/// pid that no longer exists. A lock beside one is left for a minute, in case the `git add`
/// a dead run started is still writing it.
fn remove_stale_scratch(state: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(state) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(SCRATCH)) else {
            continue;
        };
        let (pid, lock) = match rest.strip_suffix(".lock") {
            Some(pid) => (pid, true),
            None => (rest, false),
        };
        let Some(pid) = pid.parse::<i32>().ok().filter(|&p| p > 0) else {
            continue;
        };
        let young = || {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < std::time::Duration::from_secs(60))
        };
        if pid as u32 == std::process::id() || alive(pid) || (lock && young()) {
            continue;
        }
        let _ = std::fs::remove_file(e.path());
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// `Progress: 3 modified, 1 added (src/a.rs, ...)` and gate's trailers.
pub fn commit_message(subject: Option<&str>, changes: &TreeChanges) -> String {
    let subject = subject.map_or_else(|| format!("Progress: {}", changes.summary()), str::to_owned);
    format!(
        "{subject}\n\n{TRAILER}\nGate-Hooks: not run (auto-commits run no repository hooks; gate applied its own rules)\n"
    )
}

/// The events that record a snapshot's decision: skipped files, then the outcome.
pub fn events(report: &Report) -> Vec<Event> {
    let mut events = Vec::new();
    for s in &report.skipped {
        let mut e = Event::now("skipped-file");
        e.paths = vec![s.path.clone()];
        e.detail = s.reason.clone();
        events.push(e);
    }
    let e = match &report.outcome {
        Outcome::Committed {
            commit,
            branch,
            summary,
        } => {
            let mut e = Event::now("auto-commit");
            e.commit = Some(commit.clone());
            e.branch = Some(branch.clone());
            e.detail = summary.clone();
            e
        }
        Outcome::Shadowed {
            commit,
            refname,
            reason,
            summary,
        } => {
            let mut e = Event::now("snapshot");
            e.commit = Some(commit.clone());
            e.branch = refname
                .strip_prefix("refs/gate/snapshots/")
                .map(str::to_owned);
            e.detail = format!("{summary}; {reason}; restore: git checkout {refname} -- <path>");
            e
        }
        Outcome::Unchanged { reason } => {
            let mut e = Event::now("snapshot-skipped");
            e.detail = reason.clone();
            e
        }
        Outcome::Retry { reason } => {
            let mut e = Event::now("snapshot-retry");
            e.detail = reason.clone();
            e
        }
    };
    events.push(e);
    events
}
