//! The nudge worker: slips and inspections from every worktree become jobs on the blocking
//! pool ([`super::nudges`]), side by side (two senders never type into one pane at once: the
//! pane lock). A stop request lets a message being typed finish and types nothing new.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::audit::Slip;
use super::jobs::{Ctx, Place, guarded};
use super::{Reporter, nudges};

/// Work for the nudge worker.
pub enum Job {
    /// Tell the agents of `place` about these slips.
    Nudge {
        place: Arc<Place>,
        requests: Vec<nudges::Request>,
    },
    /// Look at edited files in `place`; `done` fires when the inspection ended.
    Inspect {
        place: Arc<Place>,
        paths: Vec<String>,
        done: oneshot::Sender<()>,
    },
    /// Commits that slipped past the hooks: each goes to the worktree that has its branch.
    Slips(Vec<Slip>),
}

pub async fn worker(
    ctx: Arc<Ctx>,
    reporter: Arc<dyn Reporter>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    mut stop: watch::Receiver<bool>,
) {
    let mut running: JoinSet<Vec<String>> = JoinSet::new();
    loop {
        tokio::select! {
            Some(job) = rx.recv() => {
                let ctx = ctx.clone();
                running.spawn_blocking(move || run(&ctx, job));
            }
            Some(done) = running.join_next(), if !running.is_empty() => log(&*reporter, done),
            _ = super::stopped(&mut stop) => break,
        }
    }
    ctx.stop.store(true, Ordering::Relaxed);
    if !running.is_empty() {
        reporter.line(&format!(
            "stopping: waiting for {} message job(s)",
            running.len()
        ));
    }
    while let Some(done) = running.join_next().await {
        log(&*reporter, done);
    }
}

fn log(reporter: &dyn Reporter, done: Result<Vec<String>, tokio::task::JoinError>) {
    let lines = done.unwrap_or_else(|e| vec![format!("a message job failed: {e}")]);
    for line in lines {
        reporter.line(&line);
    }
}

fn run(ctx: &Ctx, job: Job) -> Vec<String> {
    match job {
        Job::Nudge { place, requests } => guarded("nudge", || {
            requests
                .iter()
                .flat_map(|r| nudges::nudge(ctx, &place, r, None))
                .collect()
        }),
        Job::Inspect { place, paths, done } => {
            let lines = guarded("inspection", || nudges::inspect(ctx, &place, &paths));
            let _ = done.send(());
            lines
        }
        Job::Slips(slips) => guarded("nudge", || {
            let owners = owners(ctx);
            slips
                .iter()
                .flat_map(|slip| {
                    let place = owners
                        .iter()
                        .find(|(_, branch)| branch.as_deref() == Some(slip.branch.as_str()))
                        .and_then(|(root, _)| ctx.place(root))
                        .or_else(|| ctx.main());
                    match place {
                        Some(place) => {
                            nudges::nudge(ctx, &place, &nudges::slip_request(slip), None)
                        }
                        None => vec![format!(
                            "nudge {}: no worktree is watched; not sent",
                            slip.code.as_str()
                        )],
                    }
                })
                .collect()
        }),
    }
}

/// Which branch each covered worktree has checked out now.
fn owners(ctx: &Ctx) -> Vec<(PathBuf, Option<String>)> {
    ctx.roots()
        .into_iter()
        .map(|root| {
            let branch = crate::repo::Repo::discover(&root)
                .ok()
                .and_then(|r| r.head().ok())
                .and_then(|h| h.branch().map(str::to_owned));
            (root, branch)
        })
        .collect()
}
