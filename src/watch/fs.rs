//! File events: inotify watches on the repository's non-ignored directories only (never on
//! `target/` or `node_modules/`), new directories added as they appear, `.git` internals
//! ignored except HEAD and refs. When the kernel drops events (queue overflow) or the watch
//! limit is reached, the watcher is told to rescan instead of silently missing changes.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

/// What a file event means to the watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A working-tree path (repo-relative bytes) changed.
    Changed(Vec<u8>),
    /// Changes may have been missed: look at the whole tree.
    Rescan(String),
    /// HEAD or a ref moved: time for an audit.
    RefsChanged,
}

/// The sysctl that raises the inotify watch limit, for messages.
pub const RAISE_LIMIT: &str =
    "sudo sysctl fs.inotify.max_user_watches=524288 (persist it in /etc/sysctl.d/)";

pub struct TreeWatcher {
    inner: notify::RecommendedWatcher,
    root: PathBuf,
    git_dirs: Vec<PathBuf>,
    watched: HashSet<PathBuf>,
    /// gate's own cap (`GATE_MAX_WATCHES`), to test the limit path without changing the
    /// machine's sysctl.
    cap: usize,
    /// The OS (or the cap) refused more watches: the watcher falls back to polling.
    pub limited: bool,
}

impl TreeWatcher {
    /// Watches `root` (the working tree) and the git directories' HEAD and refs; events go
    /// to `tx`.
    pub fn start(
        root: &Path,
        git_dir: &Path,
        common_dir: &Path,
        tx: UnboundedSender<notify::Result<Event>>,
    ) -> notify::Result<TreeWatcher> {
        let inner = notify::recommended_watcher(move |res| {
            let _ = tx.send(res);
        })?;
        let cap = std::env::var("GATE_MAX_WATCHES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX);
        let mut w = TreeWatcher {
            inner,
            root: root.to_owned(),
            git_dirs: vec![git_dir.to_owned(), common_dir.to_owned()],
            watched: HashSet::new(),
            cap,
            limited: false,
        };
        for dir in [git_dir, common_dir] {
            w.add(dir, RecursiveMode::NonRecursive);
        }
        let heads = common_dir.join("refs/heads");
        if heads.is_dir() {
            w.add(&heads, RecursiveMode::Recursive);
        }
        w.watch_tree(root);
        Ok(w)
    }

    pub fn watch_count(&self) -> usize {
        self.watched.len()
    }

    /// Adds a watch on every non-ignored directory under `dir`.
    pub fn watch_tree(&mut self, dir: &Path) {
        for path in unignored_dirs(dir) {
            if self.limited {
                return;
            }
            self.add(&path, RecursiveMode::NonRecursive);
        }
    }

    fn add(&mut self, dir: &Path, mode: RecursiveMode) {
        if self.watched.contains(dir) {
            return;
        }
        if self.watched.len() >= self.cap {
            self.limited = true;
            return;
        }
        match self.inner.watch(dir, mode) {
            Ok(()) => {
                self.watched.insert(dir.to_owned());
            }
            Err(e) if is_limit(&e) => self.limited = true,
            // Vanished between listing and watching: nothing to watch.
            Err(_) => {}
        }
    }

    /// Turns one notify event into signals, adding watches for new directories.
    pub fn classify(&mut self, event: Event, is_ignored: impl Fn(&Path) -> bool) -> Vec<Signal> {
        if event.need_rescan() {
            return vec![Signal::Rescan("the kernel's event queue overflowed".into())];
        }
        if matches!(event.kind, EventKind::Access(_)) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for path in event.paths {
            if self.git_dirs.iter().any(|g| path.starts_with(g)) {
                if is_ref_path(&path, &self.git_dirs) {
                    out.push(Signal::RefsChanged);
                }
                continue;
            }
            let Ok(rel) = path.strip_prefix(&self.root) else {
                continue;
            };
            if rel.as_os_str().is_empty()
                || rel.components().any(|c| c.as_os_str() == ".git")
                || is_ignored(rel)
            {
                continue;
            }
            if path.is_dir() && !self.watched.contains(&path) {
                // Files may have been created before the watch: the directory as a whole
                // is handed on, and git looks inside it.
                self.watch_tree(&path);
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

/// Every directory under `dir` that git does not ignore (.gitignore files, `.git/info/exclude`,
/// `core.excludesFile`), `.git` skipped: where the watcher puts its watches.
pub fn unignored_dirs(dir: &Path) -> impl Iterator<Item = PathBuf> {
    ignore::WalkBuilder::new(dir)
        .hidden(false)
        .parents(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(true)
        .require_git(false)
        .filter_entry(|e| e.file_name() != ".git")
        .build()
        .flatten()
        .filter(|e| e.file_type().is_some_and(|t| t.is_dir()))
        .map(ignore::DirEntry::into_path)
}

pub fn is_limit(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        notify::ErrorKind::Io(io) => matches!(io.raw_os_error(), Some(libc::ENOSPC | libc::EMFILE)),
        _ => false,
    }
}

fn is_ref_path(path: &Path, git_dirs: &[PathBuf]) -> bool {
    git_dirs.iter().any(|g| {
        path.strip_prefix(g).is_ok_and(|rel| {
            rel == Path::new("HEAD") || rel == Path::new("packed-refs") || rel.starts_with("refs")
        })
    })
}
