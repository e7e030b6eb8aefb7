//! gate's own record of the features it finished, `<git common dir>/gate/finished.jsonl`.
//!
//! A finished feature is recognised by what gate wrote, never by a string anyone can type: a
//! `Gate-Finish:` trailer or a hand-made `stable-*` tag prove nothing. `gate finish` appends one
//! line per finish (the feature tip, the tag object it created, the trunk commit it made or
//! moved to); the audit and pre-push vouch for a commit only when its line is here *and* the tag
//! named there still is the very tag object gate created, pointing at that tip. Lines are
//! appended with one `write` under a lock (several worktrees may finish at once); a torn line is
//! skipped, never the whole file.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use git2::Oid;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::repo::Repo;

pub const FILE_NAME: &str = "finished.jsonl";

/// One `gate finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Landing {
    pub feature: String,
    pub branch: String,
    /// The feature tip that was tagged.
    pub tip: String,
    /// The tag's name and the id of the tag object gate created.
    pub tag: String,
    pub tag_id: String,
    /// The trunk and its tip after landing (the tip itself, or gate's merge commit); `None`
    /// with `--no-merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landed: Option<String>,
    pub time: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot {what} {}", path.display())]
pub struct RecordError {
    what: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// The record file in gate's state directory.
pub struct Records {
    path: PathBuf,
}

impl Records {
    pub fn in_dir(state_dir: &Path) -> Records {
        Records {
            path: state_dir.join(FILE_NAME),
        }
    }

    pub fn append(&self, landing: &Landing) -> Result<(), RecordError> {
        let err = |what, source| RecordError {
            what,
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err("create the directory of", e))?;
        }
        let mut line = serde_json::to_vec(landing).expect("landings always serialise");
        line.insert(0, b'\n');
        line.push(b'\n');
        // O_NONBLOCK: a FIFO planted at this name fails the finish instead of hanging it.
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.path)
            .map_err(|e| err("open", e))?;
        if !file.metadata().map_err(|e| err("read", e))?.is_file() {
            return Err(err(
                "append to",
                std::io::Error::other(
                    "not a regular file (a FIFO, device or directory); move it away",
                ),
            ));
        }
        file.lock().map_err(|e| err("lock", e))?;
        // The leading newline keeps this line whole even after a torn one; blank lines are
        // skipped when reading.
        file.write_all(&line).map_err(|e| err("append to", e))?;
        file.sync_data().map_err(|e| err("sync", e))
    }

    /// Every readable landing, oldest first. A missing, unreadable or non-regular file is no
    /// landings: nothing is vouched for, which can only make gate stricter.
    pub fn read(&self) -> Vec<Landing> {
        if !crate::confine::is_regular(&self.path).unwrap_or(false) {
            return Vec::new();
        }
        let Ok(bytes) = std::fs::read(&self.path) else {
            return Vec::new();
        };
        bytes
            .split(|b| *b == b'\n')
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect()
    }
}

/// The commits gate's records vouch for: each finished tip whose tag is still the tag object
/// gate created (pointing at that tip) and whose feature is complete in the tip's own tree,
/// and the trunk commit that finish landed.
#[derive(Debug, Clone, Default)]
pub struct Vouched {
    pub tips: HashSet<Oid>,
    pub landed: HashSet<Oid>,
    /// Landings whose tag is intact, for finish to find an earlier finish of a tip.
    pub landings: Vec<Landing>,
}

impl Vouched {
    pub fn load(repo: &Repo, live: &Config) -> Vouched {
        let mut out = Vouched::default();
        for landing in Records::in_dir(&repo.state_dir()).read() {
            let (Ok(tip), Ok(tag_id)) =
                (Oid::from_str(&landing.tip), Oid::from_str(&landing.tag_id))
            else {
                continue;
            };
            if !repo.is_gate_tag(&landing.tag, tag_id, tip) {
                continue;
            }
            let config = crate::judge::config_at(repo, Some(tip), live);
            let incomplete =
                crate::judge::first_incomplete(&config.spec.dir, &landing.feature, |p| {
                    repo.read_in(tip, p)
                });
            if incomplete.is_some() {
                continue;
            }
            out.tips.insert(tip);
            if let Some(landed) = landing
                .landed
                .as_deref()
                .and_then(|l| Oid::from_str(l).ok())
            {
                out.landed.insert(landed);
            }
            out.landings.push(landing);
        }
        out
    }

    pub fn contains(&self, oid: Oid) -> bool {
        self.tips.contains(&oid) || self.landed.contains(&oid)
    }

    /// Every vouched commit: history reachable from them has been accounted for.
    pub fn all(&self) -> impl Iterator<Item = Oid> + '_ {
        self.tips.iter().chain(&self.landed).copied()
    }

    /// The intact landing of `tip`, if gate finished it before.
    pub fn landing_of(&self, tip: &str) -> Option<&Landing> {
        self.landings.iter().rev().find(|l| l.tip == tip)
    }
}
