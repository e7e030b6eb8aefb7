//! One inotify instance for every worktree of the watcher. The kernel allows a user 128
//! instances by default (`fs.inotify.max_user_instances`), shared with every other program; one
//! per worktree ran out on a machine with a few repositories of many worktrees. Events are
//! routed to the worktree that owns their path (the deepest root or git directory containing
//! it, so a worktree nested inside another gets its own), open/read/close events are dropped
//! on the notify thread.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use notify::event::{ModifyKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

use super::fs::{is_access, is_limit};
use super::jobs::lock;

/// Where one worktree's events go.
struct Route {
    id: u64,
    root: PathBuf,
    git_dir: PathBuf,
    tx: UnboundedSender<notify::Result<Event>>,
}

#[derive(Clone)]
pub struct Hub {
    watcher: Arc<Mutex<notify::RecommendedWatcher>>,
    routes: Arc<Mutex<Vec<Route>>>,
    next: Arc<AtomicU64>,
}

impl Hub {
    pub fn new() -> notify::Result<Hub> {
        let routes: Arc<Mutex<Vec<Route>>> = Arc::default();
        let table = routes.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<Event>| {
            if !is_access(&res) {
                dispatch(&lock(&table), res);
            }
        })?;
        Ok(Hub {
            watcher: Arc::new(Mutex::new(watcher)),
            routes,
            next: Arc::default(),
        })
    }

    /// Events under `root` or `git_dir` go to `tx` from now on; returns the route's id.
    pub fn register(
        &self,
        root: &Path,
        git_dir: &Path,
        tx: UnboundedSender<notify::Result<Event>>,
    ) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.routes).push(Route {
            id,
            root: root.to_owned(),
            git_dir: git_dir.to_owned(),
            tx,
        });
        id
    }

    pub fn unregister(&self, id: u64) {
        lock(&self.routes).retain(|r| r.id != id);
    }

    pub fn watch(&self, dir: &Path) -> notify::Result<()> {
        lock(&self.watcher).watch(dir, RecursiveMode::NonRecursive)
    }

    pub fn unwatch(&self, dir: &Path) {
        let _ = lock(&self.watcher).unwatch(dir);
    }
}

/// The route owning `path`: the deepest root or git directory that contains it.
fn owner(routes: &[Route], path: &Path) -> Option<usize> {
    routes
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            [&r.root, &r.git_dir]
                .into_iter()
                .filter(|base| path.starts_with(base))
                .map(move |base| (i, base.components().count()))
        })
        .max_by_key(|(_, depth)| *depth)
        .map(|(i, _)| i)
}

/// Sends each path of `res` to its owner. An event that concerns everyone (a queue overflow,
/// an error) goes to every route; a rename split between two owners becomes a "moved away"
/// for one and a "moved in" for the other.
fn dispatch(routes: &[Route], res: notify::Result<Event>) {
    let event = match res {
        Ok(e) => e,
        Err(e) => {
            for r in routes {
                let copy = if is_limit(&e) {
                    notify::Error::new(notify::ErrorKind::MaxFilesWatch)
                } else {
                    notify::Error::generic(&e.to_string())
                };
                let _ = r.tx.send(Err(copy));
            }
            return;
        }
    };
    if event.need_rescan() || event.paths.is_empty() {
        for r in routes {
            let _ = r.tx.send(Ok(event.clone()));
        }
        return;
    }
    let mut parts: Vec<(usize, Vec<usize>)> = Vec::new();
    for (n, path) in event.paths.iter().enumerate() {
        let Some(i) = owner(routes, path) else {
            continue;
        };
        match parts.iter_mut().find(|(j, _)| *j == i) {
            Some((_, idx)) => idx.push(n),
            None => parts.push((i, vec![n])),
        }
    }
    let split = parts.len() > 1;
    for (i, idx) in parts {
        let mut e = event.clone();
        e.paths = idx.iter().map(|&n| event.paths[n].clone()).collect();
        if split
            && matches!(
                e.kind,
                EventKind::Modify(ModifyKind::Name(RenameMode::Both))
            )
        {
            let mode = if idx == [0] {
                RenameMode::From
            } else {
                RenameMode::To
            };
            e.kind = EventKind::Modify(ModifyKind::Name(mode));
        }
        let _ = routes[i].tx.send(Ok(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(
        id: u64,
        root: &str,
        git: &str,
    ) -> (
        Route,
        tokio::sync::mpsc::UnboundedReceiver<notify::Result<Event>>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (
            Route {
                id,
                root: root.into(),
                git_dir: git.into(),
                tx,
            },
            rx,
        )
    }

    #[test]
    fn events_go_to_the_deepest_owner_and_split_renames_become_moves() {
        let (main, mut main_rx) = route(0, "/r", "/r/.git");
        let (nested, mut nested_rx) = route(1, "/r/wt", "/r/.git/worktrees/wt");
        let routes = [main, nested];
        assert_eq!(owner(&routes, Path::new("/r/src/a.rs")), Some(0));
        assert_eq!(owner(&routes, Path::new("/r/wt/src/a.rs")), Some(1));
        assert_eq!(owner(&routes, Path::new("/r/.git/HEAD")), Some(0));
        assert_eq!(
            owner(&routes, Path::new("/r/.git/worktrees/wt/HEAD")),
            Some(1)
        );
        assert_eq!(owner(&routes, Path::new("/elsewhere")), None);
        let rename = Event::new(EventKind::Modify(ModifyKind::Name(RenameMode::Both)))
            .add_path("/r/a.md".into())
            .add_path("/r/wt/a.md".into());
        dispatch(&routes, Ok(rename));
        let to_main = main_rx.try_recv().unwrap().unwrap();
        assert_eq!(
            to_main.kind,
            EventKind::Modify(ModifyKind::Name(RenameMode::From))
        );
        assert_eq!(to_main.paths, [PathBuf::from("/r/a.md")]);
        let to_nested = nested_rx.try_recv().unwrap().unwrap();
        assert_eq!(
            to_nested.kind,
            EventKind::Modify(ModifyKind::Name(RenameMode::To))
        );
        assert_eq!(to_nested.paths, [PathBuf::from("/r/wt/a.md")]);
    }
}
