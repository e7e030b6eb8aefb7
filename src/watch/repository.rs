//! The repository worker: which worktrees exist (`git worktree list`, again whenever
//! `<common dir>/worktrees/` changes, so worktrees added or removed while the watcher runs are
//! picked up), one [`super::worktree`] worker for each, and the common git directory's refs
//! (a moved branch wakes the audit and every worktree). It stops the whole watcher when the
//! repository itself is deleted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::board::Board;
use super::jobs::{Ctx, Place};
use super::messages::Job;
use super::worktree::{self, Worktree};
use super::{Reporter, WatchEvent, stopped};
use crate::config::Config;
use crate::repo::worktree as worktrees;

/// `git worktree add` writes several files; the list is read once they settle.
const SETTLE: Duration = Duration::from_millis(300);

/// What the repository worker is given.
pub struct Repository {
    pub common: PathBuf,
    /// The worktree the watcher was started in (canonical root).
    pub start: PathBuf,
    pub ctx: Arc<Ctx>,
    pub reporter: Arc<dyn Reporter>,
    pub board: Arc<Board>,
    pub jobs: mpsc::UnboundedSender<Job>,
    /// Pings the audit worker when a ref moves.
    pub audit: mpsc::UnboundedSender<()>,
    /// Tells the whole watcher to stop (the repository is gone).
    pub quit: mpsc::UnboundedSender<()>,
    pub stop: watch::Receiver<bool>,
}

/// What every worktree worker gets a copy of.
struct Kit {
    hub: super::fs::Hub,
    ctx: Arc<Ctx>,
    reporter: Arc<dyn Reporter>,
    board: Arc<Board>,
    jobs: mpsc::UnboundedSender<Job>,
    refs: watch::Receiver<u64>,
    roots: watch::Receiver<Arc<Vec<PathBuf>>>,
    relist: mpsc::UnboundedSender<()>,
}

impl Kit {
    fn spawn(
        &self,
        main: bool,
        place: Arc<Place>,
        broken: Option<String>,
        workers: &mut JoinSet<()>,
    ) -> Running {
        let (stop_tx, stop_rx) = watch::channel(false);
        workers.spawn(worktree::worker(Worktree {
            place: place.clone(),
            main,
            broken,
            ctx: self.ctx.clone(),
            reporter: self.reporter.clone(),
            board: self.board.clone(),
            jobs: self.jobs.clone(),
            hub: self.hub.clone(),
            refs: self.refs.clone(),
            roots: self.roots.clone(),
            relist: self.relist.clone(),
            stop: stop_rx,
        }));
        Running {
            stop: stop_tx,
            place,
        }
    }
}

/// A running worktree worker.
struct Running {
    stop: watch::Sender<bool>,
    place: Arc<Place>,
}

pub async fn worker(mut r: Repository) -> Result<(), notify::Error> {
    let (tx, mut events) = mpsc::unbounded_channel();
    let mut common = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if !super::fs::is_access(&res) {
            let _ = tx.send(res);
        }
    })?;
    watch_common(&mut common, &r.common);
    let (refs_tx, refs_rx) = watch::channel(0u64);
    let (roots_tx, roots_rx) = watch::channel(Arc::new(Vec::<PathBuf>::new()));
    let (relist_tx, mut relist) = mpsc::unbounded_channel::<()>();
    let mut running: BTreeMap<PathBuf, Running> = BTreeMap::new();
    let mut workers: JoinSet<()> = JoinSet::new();
    let kit = Kit {
        hub: super::fs::Hub::new()?,
        ctx: r.ctx.clone(),
        reporter: r.reporter.clone(),
        board: r.board.clone(),
        jobs: r.jobs.clone(),
        refs: refs_rx,
        roots: roots_rx,
        relist: relist_tx,
    };
    let mut first = true;
    let mut list_at: Option<tokio::time::Instant> = Some(tokio::time::Instant::now());
    loop {
        if list_at.is_some_and(|t| t <= tokio::time::Instant::now()) {
            list_at = None;
            let listed = match list(&r.common).await {
                // Without a list (git missing, a broken worktrees/ entry git chokes on), the
                // worktree the watcher was started in is still watched.
                Err(e) if first => {
                    r.reporter.line(&format!(
                        "cannot list the worktrees ({e}); watching {} only",
                        r.start.display()
                    ));
                    Ok(vec![(r.start.clone(), true)])
                }
                other => other,
            };
            match listed {
                Ok(live) => {
                    let roots: Vec<PathBuf> = live.iter().map(|(root, _)| root.clone()).collect();
                    let _ = roots_tx.send(Arc::new(roots.clone()));
                    r.board.set_worktrees(&roots);
                    let gone: Vec<PathBuf> = running
                        .keys()
                        .filter(|k| !roots.contains(k))
                        .cloned()
                        .collect();
                    for root in gone {
                        if let Some(old) = running.remove(&root) {
                            let _ = old.stop.send(true);
                            r.reporter.line(&format!(
                                "worktree {} is gone: no longer watched",
                                root.display()
                            ));
                            record(&r.ctx, WatchEvent::WorktreeRemoved, &root);
                        }
                    }
                    let mut places = Vec::new();
                    for (i, (root, main)) in live.into_iter().enumerate() {
                        if let Some(run) = running.get(&root) {
                            places.push(run.place.clone());
                            continue;
                        }
                        // A broken config is the worktree worker's to report (it then only
                        // snapshots until the file is fixed).
                        // Its cadence then follows the main checkout's config.
                        let (config, broken) = match Config::load(&root) {
                            Ok(c) => (c, None),
                            Err(e) => (
                                places
                                    .first()
                                    .map(|p: &Arc<Place>| (*p.config()).clone())
                                    .unwrap_or_default(),
                                Some(e.to_string()),
                            ),
                        };
                        let place = Arc::new(Place::new(root.clone(), config));
                        places.push(place.clone());
                        if !first {
                            r.reporter
                                .line(&format!("new worktree {}: watching it", root.display()));
                            record(&r.ctx, WatchEvent::WorktreeAdded, &root);
                        }
                        let run = kit.spawn(main || i == 0, place, broken, &mut workers);
                        running.insert(root, run);
                    }
                    r.ctx.set_places(places);
                    if first {
                        first = false;
                        // The audit sees the worktrees from now on.
                        let _ = r.audit.send(());
                    }
                }
                Err(e) => r.reporter.line(&format!("cannot list the worktrees: {e}")),
            }
        }
        let wake =
            list_at.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = stopped(&mut r.stop) => break,
            Some(event) = events.recv() => {
                if !r.common.join("HEAD").exists() {
                    r.reporter.line("the repository is gone (deleted or moved): stopping");
                    let _ = r.quit.send(());
                    break;
                }
                let Ok(event) = event else { continue };
                let (refs, list) = classify(&r.common, &event.paths);
                if refs {
                    refs_tx.send_modify(|n| *n += 1);
                    let _ = r.audit.send(());
                }
                if list {
                    watch_common(&mut common, &r.common);
                    list_at.get_or_insert(tokio::time::Instant::now() + SETTLE);
                }
            }
            Some(()) = relist.recv() => {
                list_at.get_or_insert(tokio::time::Instant::now() + SETTLE);
            }
            Some(_) = workers.join_next(), if !workers.is_empty() => {}
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
    for run in running.values() {
        let _ = run.stop.send(true);
    }
    // Each worktree finishes a commit in flight before it stops.
    while workers.join_next().await.is_some() {}
    Ok(())
}

/// The live worktrees, canonical roots, main (or the first live one) first.
async fn list(common: &Path) -> Result<Vec<(PathBuf, bool)>, String> {
    let common = common.to_owned();
    tokio::task::spawn_blocking(move || {
        let all = worktrees::list(&common).map_err(|e| e.to_string())?;
        Ok(all
            .into_iter()
            .filter(worktrees::Worktree::is_live)
            .map(|w| {
                let root = std::fs::canonicalize(&w.root).unwrap_or(w.root);
                (root, w.main)
            })
            .collect())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Watches the common directory (HEAD, packed-refs), its branches, and the list of linked
/// worktrees; each call adds what appeared since (`refs/heads`, `worktrees/`).
fn watch_common(w: &mut notify::RecommendedWatcher, common: &Path) {
    let _ = w.watch(common, RecursiveMode::NonRecursive);
    let heads = common.join("refs/heads");
    if heads.is_dir() {
        let _ = w.watch(&heads, RecursiveMode::Recursive);
    }
    let linked = common.join("worktrees");
    if linked.is_dir() {
        let _ = w.watch(&linked, RecursiveMode::NonRecursive);
    }
}

/// Whether paths name refs (HEAD, packed-refs, refs/...) and whether they touch the list of
/// worktrees (`worktrees/` and its entries).
fn classify(common: &Path, paths: &[PathBuf]) -> (bool, bool) {
    let mut refs = false;
    let mut list = false;
    for p in paths {
        let Ok(rel) = p.strip_prefix(common) else {
            continue;
        };
        if rel == Path::new("HEAD") || rel == Path::new("packed-refs") || rel.starts_with("refs") {
            refs = true;
        }
        if rel.starts_with("worktrees") || rel == Path::new("refs") {
            list = true;
        }
    }
    (refs, list)
}

fn record(ctx: &Ctx, kind: WatchEvent, root: &Path) {
    let mut e = crate::events::Event::now(kind.as_str());
    e.paths = vec![root.display().to_string()];
    let _ = ctx.log().append(&e);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_and_worktree_list_changes_are_told_apart() {
        let c = Path::new("/r/.git");
        let p = |s: &str| vec![c.join(s)];
        assert_eq!(classify(c, &p("HEAD")), (true, false));
        assert_eq!(classify(c, &p("refs/heads/feature/x")), (true, false));
        assert_eq!(classify(c, &p("worktrees/w1")), (false, true));
        assert_eq!(classify(c, &p("index")), (false, false));
        assert_eq!(
            classify(c, &[PathBuf::from("/elsewhere/HEAD")]),
            (false, false)
        );
    }
}
