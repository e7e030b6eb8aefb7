//! The audit: what slipped past the hooks. On start and whenever a ref moves, the watcher looks
//! at commits new since it last looked: on a protected branch, a commit no hook recorded
//! (`--no-verify`, hooks missing); on a feature branch, an unrecorded commit of implementation
//! files made while the feature's spec, plan or tasks were incomplete.

use crate::repo::short_id;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::events::{Event, EventLog};
use crate::hooks::run::FINISH_TRAILER;
use crate::repo::Repo;
use crate::rules::{Code, Rules};
use crate::spec::{ArtifactKind, feature, markdown};

/// At most this many new commits are examined per branch and audit.
const LIMIT: usize = 500;

/// One thing the audit found.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Baseline {
    pub fn load(state: &Path) -> Baseline {
        let path = state.join("audit.json");
        let tips = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Baseline { path, tips }
    }

    fn save(&self) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut bytes = serde_json::to_vec_pretty(&self.tips)?;
        bytes.push(b'\n');
        super::daemon::replace_file(&self.path, &bytes)
    }
}

/// Audits every protected and feature branch that moved since the baseline; records each slip
/// in the event log and returns them (for nudges). A branch seen for the first time only sets
/// its baseline: history from before gate was watching is not judged.
pub fn run(repo: &Repo, config: &Config, baseline: &mut Baseline, log: &EventLog) -> Vec<Slip> {
    let known = recorded_commits(log);
    let rules = Rules::new(config);
    let mut slips = Vec::new();
    let branches = repo.local_branches().unwrap_or_default();
    for branch in branches {
        let protected = config.is_protected(&branch);
        let feature =
            feature::of_branch_with(&branch, &config.branches.feature_prefix).map(str::to_owned);
        if !protected && feature.is_none() {
            continue;
        }
        let Some(tip) = repo.tip_of(&branch) else {
            continue;
        };
        let Some(seen) = baseline.tips.get(&branch).cloned() else {
            baseline.tips.insert(branch, tip);
            continue;
        };
        if seen == tip {
            continue;
        }
        for commit in repo
            .new_commits(&tip, Some(&seen), LIMIT)
            .unwrap_or_default()
        {
            if known.contains(&commit.id) || commit.message.contains(FINISH_TRAILER) {
                continue;
            }
            let slip = if protected {
                Some(Slip {
                    code: Code::FeatureBranch,
                    message: format!(
                        "commit {} \"{}\" reached protected branch {branch} without passing gate's hooks (--no-verify, or hooks not installed)",
                        short_id(&commit.id),
                        commit.subject
                    ),
                    branch: branch.clone(),
                    commit: commit.id.clone(),
                    author: commit.author.clone(),
                    paths: commit.paths.clone(),
                })
            } else {
                implementation_slip(
                    repo,
                    config,
                    &rules,
                    &branch,
                    feature.as_deref().unwrap_or_default(),
                    &commit,
                )
            };
            slips.extend(slip);
        }
        baseline.tips.insert(branch, tip);
    }
    let _ = baseline.save();
    for s in &slips {
        let _ = log.append(&s.event());
    }
    slips
}

fn implementation_slip(
    repo: &Repo,
    config: &Config,
    rules: &Rules,
    branch: &str,
    feature: &str,
    commit: &crate::repo::history::CommitSummary,
) -> Option<Slip> {
    let implementation: Vec<String> = commit
        .paths
        .iter()
        .filter(|p| rules.is_implementation(p))
        .cloned()
        .collect();
    if implementation.is_empty() {
        return None;
    }
    let dir = format!("{}/{feature}", config.spec.dir);
    let incomplete = ArtifactKind::ALL.into_iter().find(|kind| {
        let path = format!("{dir}/{}", kind.file_name());
        repo.read_at(&commit.id, &path)
            .is_none_or(|bytes| !markdown::analyse(*kind, &bytes).is_complete())
    })?;
    Some(Slip {
        code: Code::ImplementationGate,
        branch: branch.into(),
        commit: commit.id.clone(),
        author: commit.author.clone(),
        message: format!(
            "commit {} \"{}\" committed implementation files while {} was incomplete, without passing gate's hooks",
            short_id(&commit.id),
            commit.subject,
            incomplete.file_name()
        ),
        paths: implementation,
    })
}

/// Commits a hook or gate itself recorded: they went through gate's checks.
fn recorded_commits(log: &EventLog) -> HashSet<String> {
    let (events, _) = log.read().unwrap_or_default();
    events
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind.as_str(),
                "commit" | "merge" | "auto-commit" | "finish"
            )
        })
        .filter_map(|e| e.commit)
        .collect()
}
