//! The audit worker: once at start and shortly after any ref moves (in any worktree: branches
//! live in the common git directory), [`super::audit::run`] looks at the new commits of every
//! branch on the blocking pool; its slips are logged and handed to the nudge worker, which
//! tells the worktree that has the slipped branch checked out.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::audit::{self, Baseline};
use super::jobs::Ctx;
use super::messages::Job;
use super::{Reporter, stopped};
use crate::repo::Repo;

/// A burst of ref updates (a rebase, a fetch) is audited once, this long after it began.
const SETTLE: Duration = Duration::from_millis(300);

pub async fn worker(
    ctx: Arc<Ctx>,
    reporter: Arc<dyn Reporter>,
    mut moved: mpsc::UnboundedReceiver<()>,
    jobs: mpsc::UnboundedSender<Job>,
    mut stop: watch::Receiver<bool>,
) {
    let mut baseline = Some(Baseline::load(&ctx.state));
    loop {
        let Some(root) = ctx.main().map(|p| p.root.clone()) else {
            // Nothing covered yet: wait for a ref to move.
            tokio::select! {
                Some(()) = moved.recv() => continue,
                _ = stopped(&mut stop) => return,
            }
        };
        let (slips, back) = match once(&ctx, root, baseline.take()).await {
            Ok(done) => done,
            Err(e) => {
                reporter.line(&format!("audit failed: {e}"));
                (Vec::new(), Baseline::load(&ctx.state))
            }
        };
        baseline = Some(back);
        for slip in &slips {
            reporter.line(&format!("[{}] {}", slip.code.as_str(), slip.message));
            reporter.slipped(slip);
        }
        if !slips.is_empty() {
            let _ = jobs.send(Job::Slips(slips));
        }
        tokio::select! {
            Some(()) = moved.recv() => {}
            _ = stopped(&mut stop) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(SETTLE) => {}
            _ = stopped(&mut stop) => return,
        }
        while moved.try_recv().is_ok() {}
    }
}

/// One audit on the blocking pool, with the main worktree's rules.
async fn once(
    ctx: &Arc<Ctx>,
    root: PathBuf,
    baseline: Option<Baseline>,
) -> Result<(Vec<audit::Slip>, Baseline), String> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || {
        let mut baseline = baseline.unwrap_or_else(|| Baseline::load(&ctx.state));
        let repo = Repo::discover(&root).map_err(|e| e.to_string())?;
        let slips = audit::run(&repo, &ctx.config(), &mut baseline, &ctx.log());
        Ok((slips, baseline))
    })
    .await
    .map_err(|e| e.to_string())?
}
