//! The delivery queue, `<git common dir>/gate/queue/<agent>/`: notes (check-ins, nudges,
//! escalations) for an agent that is mid-turn wait here and go out when its turn ends, typed
//! by the watcher or handed back by Claude Code's Stop hook ([`handback`]).
//!
//! A note's state is its file name, never its content, and files are never rewritten:
//! - `<id>.note`: queued (written whole to a temp file, then hard-linked into place, so a name
//!   that exists is never half-written and two writers of one id cannot both succeed);
//! - `<id>.claimed-<pid>`: taken by process `pid` for sending (an atomic rename: of two
//!   claimers, exactly one succeeds; the other finds the note gone);
//! - `<id>.done`: delivered (a tombstone, so the same id is never queued again; swept later);
//! - `<id>.lost`: a claim whose process died before it recorded the outcome;
//! - `<id>.escalated`: beside a note, "its wait was already escalated" (created once).
//!
//! Delivery is **at most once**. A claim whose process is gone is never sent again: the crash
//! may have come after the text was typed, and a second copy typed into an agent is the very
//! harm this queue exists to prevent (Codex drops the answer it was streaming; an agent redoes
//! work). The lost note is not silent either: [`Queue::sweep`] reports it and the watcher tells
//! the agent's PM or orchestrator, who can resend it. A claim whose send failed (nothing was
//! typed) goes back with [`Claim::release`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod handback;

/// The queue's directory under gate's state directory.
pub const DIR: &str = "queue";
/// Tombstones of delivered or lost notes are kept this long.
const KEEP_TOMBSTONES: i64 = 7 * 24 * 3600;

/// The event kinds the queue's decisions are logged under (`gate log`).
pub mod kinds {
    pub const QUEUED: &str = "note-queued";
    pub const DELIVERED: &str = "note-delivered";
    pub const RETURNED: &str = "note-returned";
    pub const HANDED_BACK: &str = "note-handed-back";
    pub const ESCALATED: &str = "note-escalated";
    pub const LOST: &str = "note-lost";
    pub const NEEDS_INPUT: &str = "needs-input-escalated";
    pub const RESUME: &str = "resume-scheduled";
}

/// One note for one agent. Field names are read by `gate status --json`: add, never rename.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Unique per agent; the file's stem.
    pub id: String,
    pub agent: String,
    /// `checkin`, `nudge`, `escalation`.
    pub kind: String,
    /// Notes about the same thing: a second one is not queued while one is waiting (a
    /// cooldown that ends mid-turn must not stack the same nudge twice).
    pub topic: String,
    /// What is typed: one line.
    pub text: String,
    /// When it was queued (Unix seconds).
    pub queued: i64,
    /// The pane it was meant for when queued, and its tmux server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pane: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot {what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What [`Queue::enqueue`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    Added,
    /// The same id was queued, claimed or delivered before, or a note of the same topic waits.
    Duplicate,
}

/// A note taken for sending: exactly one of [`Claim::delivered`] and [`Claim::release`] ends it.
#[derive(Debug)]
pub struct Claim {
    pub note: Note,
    path: PathBuf,
}

/// A claim found orphaned by [`Queue::sweep`] (its process died), now `.lost`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    pub note: Note,
    pub pid: u32,
}

#[derive(Debug, Clone)]
pub struct Queue {
    dir: PathBuf,
}

impl Queue {
    /// The queue of gate's state directory (`<git common dir>/gate`).
    pub fn in_dir(state: &Path) -> Queue {
        Queue {
            dir: state.join(DIR),
        }
    }

    /// The directory of `agent`'s notes (and its per-agent counters).
    pub fn agent_dir(&self, agent: &str) -> PathBuf {
        self.dir.join(file_safe(agent))
    }

    /// Queues `note` unless its id was ever seen for this agent or a note of its topic waits.
    pub fn enqueue(&self, note: &Note) -> Result<Enqueued, QueueError> {
        let dir = self.agent_dir(&note.agent);
        std::fs::create_dir_all(&dir).map_err(|e| io("create", &dir, e))?;
        let lock = dir.join(".lock");
        // Serialises enqueuers of one agent so the topic check and the link are one step.
        let _held = crate::statefile::hold(&lock, Duration::from_secs(5))
            .map_err(|e| io("lock", &lock, e))?;
        let id = file_safe(&note.id);
        if self.seen(&dir, &id)?
            || self
                .pending(&note.agent)?
                .iter()
                .any(|n| n.topic == note.topic)
        {
            return Ok(Enqueued::Duplicate);
        }
        let mut bytes = serde_json::to_vec_pretty(note).expect("a note always serialises");
        bytes.push(b'\n');
        let tmp = dir.join(format!(".{id}.tmp-{}", std::process::id()));
        let target = dir.join(format!("{id}.note"));
        write_synced(&tmp, &bytes).map_err(|e| io("write", &tmp, e))?;
        let linked = std::fs::hard_link(&tmp, &target);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(Enqueued::Added),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Enqueued::Duplicate),
            Err(e) => Err(io("queue", &target, e)),
        }
    }

    /// Whether any file of `id` (queued, claimed, delivered, lost) exists in `dir`.
    fn seen(&self, dir: &Path, id: &str) -> Result<bool, QueueError> {
        Ok(entries(dir)?
            .iter()
            .any(|(stem, state)| stem == id && *state != "escalated"))
    }

    /// The agents with a queue directory.
    pub fn agents(&self) -> Vec<String> {
        let Ok(read) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = read
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(unsafe_name))
            .collect();
        names.sort();
        names
    }

    /// The notes waiting for `agent`, oldest first. Unreadable note files are skipped (a
    /// note file is only ever written whole, so one that does not parse is not gate's).
    pub fn pending(&self, agent: &str) -> Result<Vec<Note>, QueueError> {
        let dir = self.agent_dir(agent);
        let mut notes: Vec<Note> = entries(&dir)?
            .into_iter()
            .filter(|(_, state)| state == "note")
            .filter_map(|(stem, _)| read_note(&dir.join(format!("{stem}.note"))))
            .collect();
        notes.sort_by(|a, b| (a.queued, &a.id).cmp(&(b.queued, &b.id)));
        Ok(notes)
    }

    /// Takes `note` for sending; `None` when another process took it first.
    pub fn claim(&self, note: &Note) -> Result<Option<Claim>, QueueError> {
        let dir = self.agent_dir(&note.agent);
        let id = file_safe(&note.id);
        let from = dir.join(format!("{id}.note"));
        let to = dir.join(format!("{id}.claimed-{}", std::process::id()));
        match std::fs::rename(&from, &to) {
            Ok(()) => Ok(Some(Claim {
                note: note.clone(),
                path: to,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("claim", &from, e)),
        }
    }

    /// Every waiting note of `agent`, claimed (those another process took are left out).
    pub fn claim_all(&self, agent: &str) -> Result<Vec<Claim>, QueueError> {
        let mut claims = Vec::new();
        for note in self.pending(agent)? {
            if let Some(c) = self.claim(&note)? {
                claims.push(c);
            }
        }
        Ok(claims)
    }

    /// Marks `note`'s wait as escalated; true only the first time.
    pub fn mark_escalated(&self, note: &Note) -> Result<bool, QueueError> {
        let dir = self.agent_dir(&note.agent);
        self.once(&dir, &format!("{}.escalated", file_safe(&note.id)))
    }

    /// True the first time `key` is marked for `agent` (an episode told about, a resume
    /// scheduled): creating a file that must not exist is atomic, across processes too.
    pub fn mark_once(&self, agent: &str, key: &str) -> Result<bool, QueueError> {
        let dir = self.agent_dir(agent);
        self.once(&dir, &format!("{}.once", file_safe(key)))
    }

    fn once(&self, dir: &Path, name: &str) -> Result<bool, QueueError> {
        std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io("create", &path, e)),
        }
    }

    /// Claims whose process is gone become `.lost` (and are returned, to be reported);
    /// tombstones and markers older than a week are removed.
    pub fn sweep(&self, now: i64, alive: impl Fn(u32) -> bool) -> Vec<Lost> {
        let mut lost = Vec::new();
        for agent in self.agents() {
            let dir = self.agent_dir(&agent);
            let Ok(list) = entries(&dir) else { continue };
            for (stem, state) in list {
                let path = dir.join(format!("{stem}.{state}"));
                if let Some(pid) = state.strip_prefix("claimed-").and_then(|p| p.parse().ok()) {
                    if alive(pid) {
                        continue;
                    }
                    let to = dir.join(format!("{stem}.lost"));
                    if std::fs::rename(&path, &to).is_ok()
                        && let Some(note) = read_note(&to)
                    {
                        lost.push(Lost { note, pid });
                    }
                    continue;
                }
                let old = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .is_some_and(|t| now - t.as_secs() as i64 > KEEP_TOMBSTONES);
                if old && matches!(state.as_str(), "done" | "lost" | "escalated" | "once") {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        lost
    }

    /// Waiting notes per agent, agents without any left out.
    pub fn counts(&self) -> Vec<(String, usize)> {
        self.agents()
            .into_iter()
            .filter_map(|a| {
                let n = self.pending(&a).map(|p| p.len()).unwrap_or(0);
                (n > 0).then_some((a, n))
            })
            .collect()
    }

    /// The file holding an agent's count of Stop-hook handbacks in a row.
    fn handbacks_path(&self, agent: &str) -> PathBuf {
        self.agent_dir(agent).join("handbacks")
    }

    pub fn handbacks(&self, agent: &str) -> u32 {
        std::fs::read_to_string(self.handbacks_path(agent))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn set_handbacks(&self, agent: &str, n: u32) -> Result<(), QueueError> {
        let path = self.handbacks_path(agent);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
        }
        crate::watch::daemon::replace_file(&path, format!("{n}\n").as_bytes())
            .map_err(|e| io("write", &path, e))
    }
}

impl Claim {
    /// The note went out: its tombstone keeps the id from being queued again.
    pub fn delivered(self) -> Result<(), QueueError> {
        let to = self.path.with_extension("done");
        std::fs::rename(&self.path, &to).map_err(|e| io("settle", &self.path, e))
    }

    /// Nothing was typed: the note waits again, under its own name.
    pub fn release(self) -> Result<(), QueueError> {
        let to = self.path.with_extension("note");
        std::fs::rename(&self.path, &to).map_err(|e| io("return", &self.path, e))
    }
}

/// Has `note` waited longer than `after` at `now`?
pub fn overdue(note: &Note, now: i64, after: Duration) -> bool {
    now.saturating_sub(note.queued) >= after.as_secs() as i64
}

/// The one line typed for `notes` (in order): a single note as it is, several numbered.
pub fn combined(notes: &[Note]) -> String {
    match notes {
        [one] => one.text.clone(),
        many => {
            let parts: Vec<String> = many
                .iter()
                .enumerate()
                .map(|(i, n)| format!("({}) {}", i + 1, n.text))
                .collect();
            format!(
                "[gate] {} notes held while you worked: {}",
                many.len(),
                parts.join(" ")
            )
        }
    }
}

/// (stem, state) of each file in `dir`: `a.note` is ("a", "note"). Temp files are skipped.
fn entries(dir: &Path) -> Result<Vec<(String, String)>, QueueError> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read", dir, e)),
    };
    Ok(read
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.'))
        .filter_map(|name| {
            let (stem, state) = name.rsplit_once('.')?;
            Some((stem.to_owned(), state.to_owned()))
        })
        .collect())
}

fn read_note(path: &Path) -> Option<Note> {
    let bytes = crate::statefile::read(path).ok()??;
    serde_json::from_slice(&bytes).ok()
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A name as one path component: letters, digits, `-` and `_` stay, anything else is `%XX`
/// (so `.` never starts or splits a name and no name climbs out of its directory).
pub fn file_safe(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn unsafe_name(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Is process `pid` alive? (A pid reused by another process only delays a report.)
pub fn alive(pid: u32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn io(what: &'static str, path: &Path, source: std::io::Error) -> QueueError {
    QueueError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests;
