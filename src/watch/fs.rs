//! File events of one worktree: inotify watches on its non-ignored directories only (never on
//! `target/` or `node_modules/`), plus the directories of tracked files that ignore rules would
//! hide; new directories added as they appear, and directories that vanish forgotten so that
//! they are watched again when they come back (a switch to a branch without `src/` and back).
//! The worktree's own git directory is watched for HEAD and index changes; other worktrees
//! nested inside this one are left to their own watcher. When the kernel drops events (queue
//! overflow) or the watch limit is reached, the worker is told to rescan instead of silently
//! missing changes.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use notify::event::{ModifyKind, RenameMode};
use notify::{Event, EventKind};
use tokio::sync::mpsc::UnboundedSender;

pub use super::hub::Hub;

/// What a file event means to the watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A working-tree path (repo-relative bytes) changed.
    Changed(Vec<u8>),
    /// `.gate.toml` at the worktree's root changed: reload it.
    Config,
    /// Changes may have been missed: look at the whole tree.
    Rescan(String),
    /// The worktree's HEAD or index changed (a commit, a switch, a reset).
    HeadChanged,
    /// The worktree's root went away.
    RootGone,
}

/// The sysctl that raises the inotify watch limit, for messages.
pub const RAISE_LIMIT: &str =
    "sudo sysctl fs.inotify.max_user_watches=524288 (persist it in /etc/sysctl.d/)";

pub struct TreeWatcher {
    hub: Hub,
    /// This worktree's route in the hub.
    route: u64,
    root: PathBuf,
    git_dir: PathBuf,
    /// Other worktrees inside this one: their events are theirs.
    nested: Vec<PathBuf>,
    watched: HashSet<PathBuf>,
    /// gate's own cap (`GATE_MAX_WATCHES`), to test the limit path without changing the
    /// machine's sysctl.
    cap: usize,
    /// The OS (or the cap) refused more watches: the watcher falls back to polling.
    pub limited: bool,
}

impl TreeWatcher {
    /// Watches `root` (the working tree), `extra` directories (of tracked files inside
    /// ignored ones) and the worktree's git directory through the watcher's one inotify
    /// instance (`hub`); events go to `tx`.
    pub fn start(
        hub: &Hub,
        root: &Path,
        git_dir: &Path,
        nested: Vec<PathBuf>,
        extra: &[PathBuf],
        tx: UnboundedSender<notify::Result<Event>>,
    ) -> TreeWatcher {
        let route = hub.register(root, git_dir, tx);
        let cap = std::env::var("GATE_MAX_WATCHES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX);
        let mut w = TreeWatcher {
            hub: hub.clone(),
            route,
            root: root.to_owned(),
            git_dir: git_dir.to_owned(),
            nested,
            watched: HashSet::new(),
            cap,
            limited: false,
        };
        w.add(git_dir);
        w.watch_tree(root);
        for dir in extra {
            w.add(dir);
        }
        w
    }

    pub fn watch_count(&self) -> usize {
        self.watched.len()
    }

    /// Other worktrees now inside this one: their directories are no longer ours. Their
    /// watches stay in the shared instance (the nested worktree's own watcher uses the very same
    /// ones); the hub routes their events to it.
    pub fn set_nested(&mut self, nested: Vec<PathBuf>) {
        self.watched
            .retain(|p| !nested.iter().any(|n| p.starts_with(n)));
        self.nested = nested;
    }

    /// Adds a watch on every non-ignored directory under `dir`.
    pub fn watch_tree(&mut self, dir: &Path) {
        if self.is_nested(dir) || (dir != self.root && dir.join(".git").exists()) {
            return;
        }
        for path in unignored_dirs(dir) {
            if self.limited {
                return;
            }
            if !self.is_nested(&path) {
                self.add(&path);
            }
        }
    }

    fn is_nested(&self, path: &Path) -> bool {
        self.nested.iter().any(|n| path.starts_with(n))
    }

    fn add(&mut self, dir: &Path) {
        if self.watched.contains(dir) {
            return;
        }
        if self.watched.len() >= self.cap {
            self.limited = true;
            return;
        }
        match self.hub.watch(dir) {
            Ok(()) => {
                self.watched.insert(dir.to_owned());
            }
            Err(e) if is_limit(&e) => self.limited = true,
            // Vanished between listing and watching: nothing to watch.
            Err(_) => {}
        }
    }

    /// A directory that is gone (or moved): the kernel dropped its watches, so forget them; a
    /// directory re-created there later is watched again. Forgetting one that is still there
    /// costs at most a second `inotify_add_watch` on it.
    fn forget(&mut self, dir: &Path) {
        self.watched.retain(|p| !p.starts_with(dir));
    }

    /// Turns one notify event into signals, adding watches for new directories.
    /// `counts(rel)` says whether a path that matches ignore rules still matters (it is
    /// tracked).
    pub fn classify(&mut self, event: Event, counts: impl Fn(&Path) -> bool) -> Vec<Signal> {
        if event.need_rescan() {
            return vec![Signal::Rescan("the kernel's event queue overflowed".into())];
        }
        if matches!(event.kind, EventKind::Access(_)) {
            return Vec::new();
        }
        // Removed, or moved away (a rename's first path is where it came from; the second,
        // where it went, is new).
        let gone = |i: usize| match event.kind {
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => true,
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => i == 0,
            _ => false,
        };
        let mut out = Vec::new();
        for (i, path) in event.paths.iter().enumerate() {
            if path.starts_with(&self.git_dir) {
                if is_head_path(path, &self.git_dir) {
                    out.push(Signal::HeadChanged);
                }
                continue;
            }
            if path == &self.root && gone(i) {
                out.push(Signal::RootGone);
                continue;
            }
            let Ok(rel) = path.strip_prefix(&self.root) else {
                continue;
            };
            if rel.as_os_str().is_empty()
                || rel.components().any(|c| c.as_os_str() == ".git")
                || self.is_nested(path)
                || !counts(rel)
            {
                continue;
            }
            if gone(i) {
                self.forget(path);
            } else if path.is_dir() && !self.watched.contains(path) {
                // Files may have been created before the watch: the directory as a whole
                // is handed on, and git looks inside it.
                self.watch_tree(path);
            }
            if rel == Path::new(crate::config::FILE_NAME) {
                out.push(Signal::Config);
            }
            if path.file_name().is_some_and(|n| n == ".gitignore") {
                // Newly un-ignored directories need watches too.
                self.watch_tree(&self.root.clone());
            }
            out.push(Signal::Changed(rel.as_os_str().as_bytes().to_vec()));
        }
        out.dedup();
        out
    }
}

impl Drop for TreeWatcher {
    /// A worktree no longer covered leaves no watches behind in the shared instance.
    fn drop(&mut self) {
        self.hub.unregister(self.route);
        for dir in &self.watched {
            self.hub.unwatch(dir);
        }
    }
}

/// Every directory under `dir` that git does not ignore (.gitignore files, `.git/info/exclude`,
/// `core.excludesFile`), `.git` skipped, and nested repositories or worktrees (a directory
/// holding `.git`) left out: where the watcher puts its watches.
pub fn unignored_dirs(dir: &Path) -> impl Iterator<Item = PathBuf> {
    ignore::WalkBuilder::new(dir)
        .hidden(false)
        .parents(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(true)
        .require_git(false)
        .filter_entry(|e| {
            e.file_name() != ".git"
                && (e.depth() == 0
                    || !e.file_type().is_some_and(|t| t.is_dir())
                    || !e.path().join(".git").exists())
        })
        .build()
        .flatten()
        .filter(|e| e.file_type().is_some_and(|t| t.is_dir()))
        .map(ignore::DirEntry::into_path)
}

/// The directories (absolute) of tracked files that ignore rules would otherwise hide from
/// the watcher: `logs/keep.log` tracked inside an ignored `logs/`.
pub fn tracked_dirs(
    root: &Path,
    index: &git2::Index,
    is_ignored: impl Fn(&Path) -> bool,
) -> Vec<PathBuf> {
    let mut dirs: HashSet<Vec<u8>> = HashSet::new();
    for entry in index.iter() {
        let mut path = entry.path;
        if let Some(cut) = path.iter().rposition(|&b| b == b'/') {
            path.truncate(cut);
            dirs.insert(path);
        }
    }
    let mut out: Vec<PathBuf> = dirs
        .into_iter()
        .map(|d| Path::new(std::ffi::OsStr::from_bytes(&d)).to_owned())
        .filter(|d| is_ignored(d))
        .map(|d| root.join(d))
        .filter(|d| d.is_dir())
        .collect();
    out.sort();
    out
}

/// A file was opened, read or closed: inotify reports every `open` in a watched directory
/// (an agent's `cat`, gate's own look at HEAD), and none of them changes anything. Dropped on
/// the notify thread, so they never wake a worker. Regression: the repository worker took the
/// inspection's own open of HEAD for a ref change, which scheduled another inspection, and the
/// idle watcher never rested (130 ms of CPU per 15 s).
pub fn is_access(res: &notify::Result<Event>) -> bool {
    res.as_ref()
        .is_ok_and(|e| matches!(e.kind, EventKind::Access(_)))
}

pub fn is_limit(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        notify::ErrorKind::Io(io) => matches!(io.raw_os_error(), Some(libc::ENOSPC | libc::EMFILE)),
        _ => false,
    }
}

fn is_head_path(path: &Path, git_dir: &Path) -> bool {
    path.strip_prefix(git_dir)
        .is_ok_and(|rel| rel == Path::new("HEAD") || rel == Path::new("index"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory renamed into the tree is watched (the rename's second path is new); one
    /// removed is forgotten, so that it is watched again when it comes back.
    #[test]
    fn renamed_in_directories_are_watched_and_removed_ones_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("r");
        let git = root.join(".git");
        std::fs::create_dir_all(&git).unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let hub = Hub::new().unwrap();
        let mut w = TreeWatcher::start(&hub, &root, &git, Vec::new(), &[], tx);
        let before = w.watch_count();
        std::fs::create_dir_all(root.join("moved/deep")).unwrap();
        let rename = Event::new(EventKind::Modify(ModifyKind::Name(RenameMode::Both)))
            .add_path(dir.path().join("outside"))
            .add_path(root.join("moved"));
        let signals = w.classify(rename, |_| true);
        assert_eq!(signals, [Signal::Changed(b"moved".to_vec())]);
        assert_eq!(w.watch_count(), before + 2, "moved/ and moved/deep/");
        std::fs::remove_dir_all(root.join("src")).unwrap();
        let removed = Event::new(EventKind::Remove(notify::event::RemoveKind::Folder))
            .add_path(root.join("src"));
        w.classify(removed, |_| true);
        assert_eq!(w.watch_count(), before + 1);
        std::fs::create_dir_all(root.join("src")).unwrap();
        let created = Event::new(EventKind::Create(notify::event::CreateKind::Folder))
            .add_path(root.join("src"));
        w.classify(created, |_| true);
        assert_eq!(w.watch_count(), before + 2, "src/ is watched again");
    }

    #[test]
    fn nested_repositories_get_no_watches() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["src/a", "wt/src", "sub"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("wt/.git"), "gitdir: /elsewhere\n").unwrap();
        let mut dirs: Vec<PathBuf> = unignored_dirs(root)
            .map(|p| p.strip_prefix(root).unwrap().to_owned())
            .collect();
        dirs.sort();
        let names: Vec<&str> = dirs.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(names, ["", "src", "src/a", "sub"]);
    }
}
