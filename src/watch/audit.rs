//! The audit: what slipped past the hooks, judged by content, not by which hooks ran. On start
//! and whenever a ref moves, the watcher looks at every branch that moved since it last
//! looked and judges each new commit ([`crate::judge`]) against the rules as they stood at its
//! parent:
//!
//! - a protected branch that gained commits no `gate finish` (in gate's own records) and no
//!   clean merge of a complete feature accounts for: a direct commit with `--no-verify`, a
//!   cherry-pick, revert or rebase, or the branch moved onto unfinished work (`merge --ff-only`,
//!   `reset --hard`, `update-ref`);
//! - any other branch with a commit that adds implementation paths while the feature's
//!   artifacts were incomplete in that commit's own tree, or a later artifact before an earlier.
//!
//! Remote-tracking refs hide nothing (anyone can write one). The baseline of tips already
//! judged is `<state>/audit.json`; when it is torn or garbage it is kept aside, the reset is
//! reported, and the audit starts again from a safe point (below) instead of from "now".

use crate::repo::short_id;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use git2::Oid;

use crate::config::Config;
use crate::events::{Event, EventLog};
use crate::finished::Vouched;
use crate::judge;
use crate::repo::Repo;
use crate::rules::Code;

/// At most this many new commits are examined per branch and audit.
const LIMIT: usize = 500;

/// The event recording that the baseline was lost and the audit started over.
pub const RESET_EVENT: &str = "audit-reset";
/// The event recording the first baseline (so a deleted `audit.json` is noticed).
pub const START_EVENT: &str = "audit-start";

/// One thing the audit found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Slip {
    pub code: Code,
    pub branch: String,
    pub commit: String,
    pub author: String,
    pub paths: Vec<String>,
    pub message: String,
}

impl Slip {
    pub fn event(&self) -> Event {
        let mut e = Event::now("violation");
        e.code = Some(self.code.as_str().into());
        e.branch = Some(self.branch.clone());
        e.commit = Some(self.commit.clone());
        e.paths = self.paths.iter().take(20).cloned().collect();
        e.detail = format!("{} (by {})", self.message, self.author);
        e
    }
}

/// Branch tips the audit has already looked at, `<state>/audit.json`.
pub struct Baseline {
    path: PathBuf,
    tips: BTreeMap<String, String>,
    /// Whether the tips were read from the file (or saved since).
    present: bool,
    /// Why the stored baseline could not be used (torn, garbage, not a file), and where it was
    /// kept aside; the next audit reports it and re-audits from the safe point.
    lost: Option<String>,
}

impl Baseline {
    pub fn load(state: &Path) -> Baseline {
        let path = state.join("audit.json");
        let mut baseline = Baseline {
            path: path.clone(),
            tips: BTreeMap::new(),
            present: false,
            lost: None,
        };
        let regular = crate::confine::is_regular(&path);
        let parsed = match regular {
            Ok(false) => return baseline,
            Ok(true) => std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| {
                    serde_json::from_slice::<BTreeMap<String, String>>(&b)
                        .map_err(|e| e.to_string())
                }),
            Err(e) => Err(e.to_string()),
        };
        match parsed {
            Ok(tips) => {
                baseline.tips = tips;
                baseline.present = true;
            }
            Err(why) => {
                let aside = set_aside(&path);
                baseline.lost = Some(match aside {
                    Some(to) => format!(
                        "{} was unreadable ({why}); kept as {}",
                        path.display(),
                        to.display()
                    ),
                    None => format!("{} was unreadable ({why})", path.display()),
                });
            }
        }
        baseline
    }

    /// Takes up what is on disk now (another auditor may have moved it on); a file that went
    /// missing or unreadable since is handled as at load.
    fn reload(&mut self) {
        let dir = self.path.parent().unwrap_or(Path::new(".")).to_owned();
        let fresh = Baseline::load(&dir);
        self.tips = fresh.tips;
        self.present = fresh.present;
        if fresh.lost.is_some() {
            self.lost = fresh.lost;
        }
    }

    fn save(&self) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut bytes = serde_json::to_vec_pretty(&self.tips)?;
        bytes.push(b'\n');
        super::daemon::replace_file(&self.path, &bytes)
    }

    fn tip_oids(&self) -> impl Iterator<Item = Oid> + '_ {
        self.tips.values().filter_map(|t| Oid::from_str(t).ok())
    }
}

/// An exclusive lock beside the baseline, released when dropped; `None` when it cannot be
/// taken (the audit then goes ahead unlocked rather than not at all).
fn lock(baseline: &Path) -> Option<std::fs::File> {
    let path = baseline.with_file_name("audit.lock");
    std::fs::create_dir_all(path.parent()?).ok()?;
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: a FIFO planted at the lock's name must not hang the audit; it is no lock.
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    file.metadata().ok().filter(|m| m.is_file())?;
    file.lock().ok()?;
    Some(file)
}

/// Renames an unreadable baseline out of the way (never deleted: it is evidence).
fn set_aside(path: &Path) -> Option<PathBuf> {
    let stamp = jiff::Timestamp::now().as_second();
    let to = path.with_file_name(format!("audit.json.unreadable-{stamp}"));
    std::fs::rename(path, &to).ok().map(|_| to)
}

/// How far back to look.
enum Since {
    /// The first audit ever: history from before gate was watching is not judged.
    Nothing,
    /// The baseline: commits reachable from these tips were judged already.
    Tips,
    /// The baseline was lost: the tips of the first audit (kept in the event log) are the safe
    /// point; everything since is judged again, and slips already logged are not repeated.
    Recovered { logged: HashSet<(String, String)> },
}

/// Audits every branch that moved since the baseline; records each slip in the event log and
/// returns them (for nudges and `gate status`).
pub fn run(repo: &Repo, config: &Config, baseline: &mut Baseline, log: &EventLog) -> Vec<Slip> {
    // `gate audit` and the watcher may audit at once: one at a time, each from the file.
    let _lock = lock(&baseline.path);
    baseline.reload();
    let mut tips = BTreeMap::new();
    for branch in repo.local_branches().unwrap_or_default() {
        if let Some(tip) = repo.tip_of(&branch) {
            tips.insert(branch, tip);
        }
    }
    let since = since(baseline, log, &tips);
    let vouched = Vouched::load(repo, config);
    let old: Vec<Oid> = baseline.tip_oids().collect();
    let mut old_protected = Vec::new();
    for (branch, tip) in &baseline.tips {
        let at = Oid::from_str(tip).ok();
        if is_protected(repo, config, &vouched, branch, at) {
            old_protected.extend(at);
        }
    }
    // Commits on a protected branch are judged as such, never again as another branch's.
    let protected_now: Vec<Oid> = tips
        .iter()
        .filter(|(b, _)| is_protected(repo, config, &vouched, b, None))
        .filter_map(|(_, t)| Oid::from_str(t).ok())
        .collect();
    let mut slips = Vec::new();
    for (branch, tip) in &tips {
        let seen = baseline.tips.get(branch).cloned();
        if matches!(since, Since::Nothing) || seen.as_deref() == Some(tip.as_str()) {
            continue;
        }
        let Ok(tip) = Oid::from_str(tip) else {
            continue;
        };
        let seen = seen.and_then(|s| Oid::from_str(&s).ok());
        let found = if is_protected(repo, config, &vouched, branch, seen) {
            let mut hide: Vec<Oid> = seen.into_iter().collect();
            hide.extend(&old_protected);
            protected_slips(repo, config, branch, tip, &hide, &vouched)
        } else {
            let mut hide: Vec<Oid> = vouched.all().chain(protected_now.iter().copied()).collect();
            hide.extend(&old);
            feature_slips(repo, config, branch, tip, &hide)
        };
        slips.extend(found.into_iter().filter(|s| is_new(&since, s)));
    }
    baseline.tips = tips;
    baseline.present = baseline.save().is_ok();
    for s in &slips {
        let _ = log.append(&s.event());
    }
    slips
}

/// Decides how far back to look, reporting a lost baseline once and recording the first one
/// in the event log (the safe point should the file ever be lost).
fn since(baseline: &mut Baseline, log: &EventLog, tips: &BTreeMap<String, String>) -> Since {
    if baseline.present {
        return Since::Tips;
    }
    let lost = baseline.lost.take();
    let (events, _) = log.read().unwrap_or_default();
    let start = events.iter().rev().find(|e| e.kind == START_EVENT);
    let why = match (lost, start) {
        (Some(why), _) => why,
        // No baseline although an audit ran before: audit.json was deleted.
        (None, Some(_)) => format!(
            "{} is missing although the audit ran before",
            baseline.path.display()
        ),
        (None, None) => {
            let mut e = Event::now(START_EVENT);
            e.detail = format!(
                "first audit; baseline {}",
                serde_json::to_string(tips).unwrap_or_default()
            );
            let _ = log.append(&e);
            return Since::Nothing;
        }
    };
    let safe: Option<BTreeMap<String, String>> = start.and_then(|e| {
        let json = e.detail.split_once("baseline ")?.1;
        serde_json::from_str(json).ok()
    });
    let mut e = Event::now(RESET_EVENT);
    e.detail = match &safe {
        Some(_) => format!("{why}; re-auditing every branch from the first audit's baseline"),
        None => format!("{why}; no earlier baseline is recorded: starting again from now"),
    };
    let _ = log.append(&e);
    let Some(safe) = safe else {
        return Since::Nothing;
    };
    baseline.tips = safe;
    let logged = events
        .iter()
        .filter(|e| e.kind == "violation")
        .filter_map(|e| Some((e.commit.clone()?, e.code.clone()?)))
        .collect();
    Since::Recovered { logged }
}

/// After a lost baseline, slips already in the log are not reported again.
fn is_new(since: &Since, slip: &Slip) -> bool {
    match since {
        Since::Recovered { logged } => {
            !logged.contains(&(slip.commit.clone(), slip.code.as_str().to_owned()))
        }
        _ => true,
    }
}

/// Protected under the live rules, under those at the branch's previous tip, or under those
/// of the last `gate finish` landed on it: rules weakened by a commit that slipped do not
/// unprotect the branch for the commits after it.
fn is_protected(
    repo: &Repo,
    config: &Config,
    vouched: &Vouched,
    branch: &str,
    at: Option<Oid>,
) -> bool {
    let then = at.map(|a| judge::config_at(repo, Some(a), config));
    let landed = vouched
        .landings
        .iter()
        .rev()
        .find(|l| l.trunk.as_deref() == Some(branch))
        .and_then(|l| Oid::from_str(l.landed.as_deref()?).ok())
        .map(|l| judge::config_at(repo, Some(l), config));
    judge::is_protected(
        branch,
        &[
            config,
            then.as_ref().unwrap_or(config),
            landed.as_ref().unwrap_or(config),
        ],
    )
}

fn protected_slips(
    repo: &Repo,
    config: &Config,
    branch: &str,
    tip: Oid,
    hide: &[Oid],
    vouched: &Vouched,
) -> Vec<Slip> {
    let commits = judge::unaccounted(repo, config, tip, hide, vouched, LIMIT).unwrap_or_default();
    commits
        .into_iter()
        .filter_map(|c| {
            let summary = repo.summary_of(c).ok()?;
            Some(Slip {
                code: Code::FeatureBranch,
                message: format!(
                    "commit {} \"{}\" reached protected branch {branch} without passing gate's hooks or a gate finish (a direct or --no-verify commit, cherry-pick, revert, rebase, or {branch} moved onto unfinished work)",
                    short_id(&summary.id),
                    summary.subject
                ),
                branch: branch.into(),
                commit: summary.id,
                author: summary.author,
                paths: summary.paths,
            })
        })
        .collect()
}

fn feature_slips(repo: &Repo, config: &Config, branch: &str, tip: Oid, hide: &[Oid]) -> Vec<Slip> {
    let commits = repo
        .commits_between(tip, hide.iter().copied(), LIMIT)
        .unwrap_or_default();
    let mut out = Vec::new();
    for c in commits {
        let findings = judge::feature_commit(repo, config, branch, c).unwrap_or_default();
        if findings.is_empty() {
            continue;
        }
        let Ok(summary) = repo.summary_of(c) else {
            continue;
        };
        for f in findings {
            out.push(Slip {
                code: f.code,
                branch: branch.into(),
                commit: summary.id.clone(),
                author: summary.author.clone(),
                message: format!(
                    "commit {} \"{}\" {}, without passing gate's hooks",
                    short_id(&summary.id),
                    summary.subject,
                    f.message
                ),
                paths: f.paths,
            });
        }
    }
    out
}
