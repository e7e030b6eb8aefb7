//! One auto-commit of a worktree, on the blocking pool: the batch the cadence chose turned into
//! [`crate::snapshot::take`] options, on a `Repo` opened at the worktree's root (its own HEAD
//! and index), one at a time per process, snapshot-only where a real commit would be unsafe.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::pending::Batch;
use crate::config::Config;
use crate::repo::Repo;
use crate::snapshot::{self, Options, Outcome, Report};

/// One snapshot at a time in this process, whatever the worktree: the snapshot engine's
/// scratch files are named per process, and two worktrees committing at once in one watcher
/// overwrote each other's scratch index (a commit in one worktree deleted files it never saw).
static ONE_SNAPSHOT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One snapshot on the blocking pool (git CLI and libgit2 block).
pub async fn take(
    root: PathBuf,
    config: Arc<Config>,
    batch: Batch,
    shadow: bool,
) -> Result<(Report, Option<String>), String> {
    tokio::task::spawn_blocking(move || {
        let _one = super::jobs::lock(&ONE_SNAPSHOT);
        let repo = Repo::discover(&root).map_err(|e| e.to_string())?;
        let paths = match batch {
            Batch::Paths(p) => Some(p.into_iter().filter(|p| !p.is_empty()).collect()),
            Batch::Everything { except } if except.is_empty() => None,
            // Everything but the paths still changing: the full status, minus those.
            Batch::Everything { except } => Some(
                crate::repo::status::status(&root, &[])
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .map(|e| e.path)
                    .filter(|p| !except.contains(p))
                    .collect(),
            ),
        };
        let shared = shared_branch(&repo, &root);
        let opts = Options {
            paths,
            shadow: shadow || shared.is_some(),
            ..Options::default()
        };
        let report = snapshot::take(&repo, &config, &opts).map_err(|e| format!("{e:#}"));
        drop(repo);
        give_back_memory();
        report.map(|r| (r, shared))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Another worktree with this worktree's branch checked out (`git worktree add --force`): a real
/// commit from here would move the branch under the other one, whose index and files then
/// look like an undo of it, and its next auto-commit would commit that undo. Such work is only
/// snapshotted; the returned line says why.
fn shared_branch(repo: &Repo, root: &Path) -> Option<String> {
    let branch = repo.head().ok()?.branch()?.to_owned();
    let list = crate::repo::worktree::list(root).ok()?;
    let other = list.into_iter().find(|w| {
        w.is_live()
            && w.branch.as_deref() == Some(branch.as_str())
            && std::fs::canonicalize(&w.root).ok().as_deref() != Some(root)
    })?;
    Some(format!(
        "{branch} is also checked out in {}: work here is only preserved as snapshots \
         (a real commit would undo itself in the other worktree); give each worktree its own branch",
        other.root.display()
    ))
}

/// Returns freed heap to the system. A full status of a large tree allocates megabytes on a
/// blocking-pool thread; glibc keeps them in that thread's arena, so without this an idle
/// watcher's resident memory grew by several MB per worktree.
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

pub fn decision_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Committed {
            commit,
            branch,
            summary,
        } => format!(
            "committed {} on {branch}: {summary}",
            crate::repo::short_id(commit)
        ),
        Outcome::Shadowed {
            commit,
            refname,
            reason,
            ..
        } => format!(
            "snapshot {} on {refname} ({reason})",
            crate::repo::short_id(commit)
        ),
        Outcome::Unchanged { reason } => format!("nothing to commit ({reason})"),
        Outcome::Retry { reason } => format!("retrying later: {reason}"),
    }
}
