//! One auto-commit: the decision (a real commit, a shadow snapshot, or nothing) and its
//! execution. The watcher and `gate snapshot` share this path, so they follow the same rules:
//! an auto-commit never makes a commit gate's own pre-commit would refuse, and where a real
//! commit is not allowed the work is still preserved on `refs/gate/snapshots/<branch>`.

mod in_step;
pub mod list;
pub mod refs;
pub mod restore;
mod write;

use serde::Serialize;

use crate::config::Config;
use crate::events::Event;
use crate::facts::{self, FactsError, FeatureHint};
use crate::repo::commit::{CommitError, TreeChanges};
use crate::repo::index;
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
    /// After a real commit: the snapshot preserving the paths git refused to stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aside: Option<Outcome>,
}

/// Where the work goes, decided from plain facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Commit { branch: String },
    Shadow { reason: String },
}

/// Takes one snapshot of the working tree's changes.
pub fn take(repo: &Repo, config: &Config, opts: &Options) -> Result<Report, SnapshotError> {
    // One run per worktree at a time: two would race for the same index swap.
    let Some(_held) = index::lock_worktree(
        &repo.state_dir(),
        &refs::worktree_id(repo),
        std::time::Duration::from_secs(5),
    )?
    else {
        return Ok(report(
            Outcome::Retry {
                reason: "another snapshot of this worktree is running".into(),
            },
            Vec::new(),
        ));
    };
    // What killed runs left: gate's own stale index.lock first (it would block the rest),
    // then an index swap to finish, then scratch files.
    index::remove_own_stale_lock(&repo.index_path());
    if !in_step::finish_killed_commit(repo)? {
        return Ok(report(
            Outcome::Retry {
                reason: "index.lock is held by another git process (the last auto-commit's index swap waits for it)"
                    .into(),
            },
            Vec::new(),
        ));
    }
    index::remove_leftovers(&repo.state_dir(), &repo.index_path());
    if opts.paths.as_ref().is_some_and(Vec::is_empty) {
        return Ok(report(
            Outcome::Unchanged {
                reason: "no changed paths".into(),
            },
            Vec::new(),
        ));
    }
    let head = repo.head()?;
    let head_id = head_commit(repo, &head);
    let refname = refs::ref_for(repo, &head);
    // Decide on a copy of the index and stage into that same copy: what the user stages
    // from now on is never staged over unseen (the install then finds the index changed).
    let view = index::Scratch::copy(repo.root(), &repo.index_path(), &repo.state_dir(), "view")?;
    let wanted = match &opts.paths {
        Some(paths) => Some(widen(repo, &refname, head_id, paths, view.path())?),
        None => None,
    };
    let entries = status::status_in(
        repo.root(),
        wanted.as_deref().unwrap_or(&[]),
        Some(view.path()),
    )?;
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
    let partial: Vec<&Entry> = candidates
        .iter()
        .filter(|e| e.is_partially_staged())
        .collect();
    let decision = decide(repo, config, &candidates, opts.shadow)?;
    let paths: Vec<Vec<u8>> = candidates.iter().map(|e| e.path.clone()).collect();
    // `git rm --cached f` with f still on disk (and ignored, so not listed as untracked):
    // the user untracked it; re-adding it would undo that.
    let listed_untracked: std::collections::HashSet<&[u8]> = candidates
        .iter()
        .filter(|e| e.change == Change::Untracked)
        .map(|e| e.path.as_slice())
        .collect();
    let untracked_by_user: Vec<Vec<u8>> = candidates
        .iter()
        .filter(|e| e.change != Change::Conflicted)
        .filter(|e| e.index == b'D' && !listed_untracked.contains(e.path.as_slice()))
        .map(|e| e.path.clone())
        .collect();
    let target = write::Target {
        repo,
        head: head_id,
        refname,
        opts,
        untracked_by_user: &untracked_by_user,
        view: std::cell::RefCell::new(Some(view)),
    };
    let written = match decision {
        Decision::Commit { branch } if partial.is_empty() => {
            write::commit(&target, &branch, &paths)?
        }
        Decision::Commit { .. } => {
            let reason = format!(
                "{} has a staged version unlike the working tree's (partial staging): gate keeps your staging \
                 and preserves both versions; commit it yourself to go on",
                partial[0].display()
            );
            write::shadow(&target, &paths, &reason, true)?
        }
        Decision::Shadow { reason } => {
            write::shadow(&target, &paths, &reason, !partial.is_empty())?
        }
    };
    let mut all_skipped = skipped;
    all_skipped.extend(written.skipped);
    Ok(Report {
        outcome: written.outcome,
        skipped: all_skipped,
        aside: written.aside,
    })
}

/// Commits exactly `paths` on the current branch (see [`write::commit_only`]).
pub fn commit_only(
    repo: &Repo,
    paths: &[Vec<u8>],
    message: &str,
) -> Result<Option<git2::Oid>, SnapshotError> {
    let branch = match repo.head()? {
        Head::Branch(b) | Head::Unborn(b) => b,
        Head::Detached(_) => {
            return Err(SnapshotError::Commit(CommitError::Refused(
                "HEAD is detached: check out the branch to commit on first".into(),
            )));
        }
    };
    let Some(_held) = index::lock_worktree(
        &repo.state_dir(),
        &refs::worktree_id(repo),
        std::time::Duration::from_secs(10),
    )?
    else {
        return Err(SnapshotError::Commit(CommitError::Refused(
            "an auto-commit of this worktree is running: try again in a moment".into(),
        )));
    };
    Ok(in_step::commit_only(repo, &branch, paths, message)?)
}

fn head_commit(repo: &Repo, head: &Head) -> Option<git2::Oid> {
    match head {
        Head::Unborn(_) => None,
        _ => repo.git().head().ok().and_then(|h| h.target()),
    }
}

/// The paths a path-limited snapshot (from file events) must look at beyond the events:
/// what the user staged (a rule may hinge on it, and a staged version must never be staged
/// over, or left on no ref, unseen) and what the branch's latest snapshot preserved since its
/// last real commit (work shadowed before the spec gate passed reaches the branch once it
/// does).
fn widen(
    repo: &Repo,
    refname: &str,
    head: Option<git2::Oid>,
    paths: &[Vec<u8>],
    view: &std::path::Path,
) -> Result<Vec<Vec<u8>>, SnapshotError> {
    let mut all: std::collections::BTreeSet<Vec<u8>> = paths.iter().cloned().collect();
    all.extend(status::staged_raw(repo.root(), Some(view))?);
    if let Some(prev) = refs::latest(repo, refname).filter(|p| p.trailers.base == head) {
        let base = head
            .map(|h| repo.tree_of(h))
            .transpose()
            .map_err(SnapshotError::Commit)?;
        all.extend(status::tree_paths_changed(repo.root(), base, prev.tree)?);
    }
    Ok(all.into_iter().collect())
}

fn report(outcome: Outcome, skipped: Vec<Skipped>) -> Report {
    Report {
        outcome,
        skipped,
        aside: None,
    }
}

/// Drops what must never be auto-committed: nested repositories and files over the limit.
fn select(repo: &Repo, config: &Config, entries: Vec<Entry>) -> (Vec<Entry>, Vec<Skipped>) {
    let mut keep = Vec::new();
    let mut skipped = Vec::new();
    for e in entries {
        match skip_reason(repo, config, &e) {
            Some(reason) => skipped.push(Skipped {
                path: e.display(),
                reason,
            }),
            None => keep.push(e),
        }
    }
    (keep, skipped)
}

/// Why a changed path is never auto-committed (and what to do about it), if it is not.
pub fn skip_reason(repo: &Repo, config: &Config, e: &Entry) -> Option<String> {
    let limit = config.commit.max_file_size.0;
    match e.change {
        Change::NestedRepo => {
            Some("a nested git repository (add it as a submodule by hand if wanted)".to_string())
        }
        Change::Deleted => None,
        _ => std::fs::symlink_metadata(repo.root().join(e.path()))
            .ok()
            .filter(|m| m.is_file() && m.len() > limit)
            .map(|m| {
                format!(
                    "{} bytes, over commit.max_file_size ({}): never auto-committed; commit it yourself, \
                     raise commit.max_file_size in .gate.toml, or add it to .gitignore",
                    m.len(),
                    config.commit.max_file_size
                )
            }),
    }
}

/// A real commit only where gate's own pre-commit would accept it; everything else is shadowed.
pub fn decide(
    repo: &Repo,
    config: &Config,
    candidates: &[Entry],
    shadow: bool,
) -> Result<Decision, SnapshotError> {
    let shadow_because = |reason: String| Ok(Decision::Shadow { reason });
    if shadow {
        return shadow_because("requested (--shadow)".into());
    }
    // What the commit would hold: these paths, which include whatever the agent already
    // staged (a full status lists them; a path-limited one is widened with them).
    let staged: Vec<String> = candidates.iter().map(Entry::display).collect();
    let question = Question::MayCommit { staged };
    let (facts, _) = facts::gather(repo, config, &FeatureHint::default(), question)?;
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

/// `Progress: 3 modified, 1 added (src/a.rs, ...)` and gate's trailers.
pub fn commit_message(subject: Option<&str>, changes: &TreeChanges) -> String {
    let subject = subject.map_or_else(|| format!("Progress: {}", changes.summary()), str::to_owned);
    format!(
        "{subject}\n\n{TRAILER}\nGate-Hooks: not run (auto-commits run no repository hooks; gate applied its own rules)\n"
    )
}

/// The events that record a snapshot's decision: skipped files, then the outcome (and the
/// snapshot of refused paths that followed a real commit).
pub fn events(report: &Report) -> Vec<Event> {
    let mut events = Vec::new();
    for s in &report.skipped {
        let mut e = Event::now("skipped-file");
        e.paths = vec![s.path.clone()];
        e.detail = s.reason.clone();
        events.push(e);
    }
    events.push(outcome_event(&report.outcome));
    events.extend(report.aside.as_ref().map(outcome_event));
    events
}

fn outcome_event(outcome: &Outcome) -> Event {
    match outcome {
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
            e.branch = Some(refs::label(refname));
            e.detail = format!("{summary}; {reason}; list: gate snapshots; restore: gate restore");
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
    }
}
