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
    // status lists staged paths already; a partial one (from file events) may not.
    let mut staged: Vec<String> = candidates.iter().map(Entry::display).collect();
    if partial {
        staged.extend(status::staged(repo.root())?);
        staged.sort();
        staged.dedup();
    }
    let (facts, _) = facts::gather(
        repo,
        config,
        &FeatureHint::default(),
        Question::MayCommit { staged },
    )?;
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
        other => other?,
    }
    let message = |c: &TreeChanges| commit_message(opts.message.as_deref(), c);
    Ok(match repo.commit_index(branch, parent, message)? {
        Committed::Created { id, tree_changes } => Outcome::Committed {
            commit: id,
            branch: branch.into(),
            summary: tree_changes.summary(),
        },
        Committed::Unchanged => Outcome::Unchanged {
            reason: "the staged tree equals the last commit".into(),
        },
        Committed::BranchMoved => Outcome::Retry {
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
        .join(format!("snapshot-index-{}", std::process::id()));
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
            Err(e) => return Err(e.into()),
        },
    )
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
