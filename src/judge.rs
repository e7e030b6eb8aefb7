//! Judging commits by their content, whichever hooks ran. The audit, pre-push and pre-commit
//! (when it concludes a merge) all ask these questions, so a commit is judged the same way
//! wherever it is seen:
//!
//! - a commit on a feature branch that changes implementation paths: were spec, plan and tasks
//!   complete *in that commit's own tree*, under the rules (`.gate.toml`) of its parent?
//! - a protected branch that gained commits: is each one accounted for, by gate's own records
//!   of finished features ([`crate::finished::Vouched`]) or as a clean merge of a feature that
//!   is complete in what was merged? Nothing typed into a message counts.

use std::collections::BTreeSet;
use std::path::Path;

use git2::Oid;

use crate::config::{self, Config};
use crate::finished::Vouched;
use crate::repo::{Repo, RepoError};
use crate::rules::{Code, Rules};
use crate::spec::{ArtifactKind, feature, markdown};

/// One thing wrong with one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    pub commit: Oid,
    pub paths: Vec<String>,
    /// What is wrong, without the commit's name (the caller adds it).
    pub message: String,
}

/// The rules as they stood at `commit`: its `.gate.toml`; defaults when it had none; `live`
/// when the file there does not parse (an unreadable rule set must not excuse anything).
pub fn config_at(repo: &Repo, commit: Option<Oid>, live: &Config) -> Config {
    let Some(commit) = commit else {
        return live.clone();
    };
    match repo.read_in(commit, config::FILE_NAME) {
        None => Config::default(),
        Some(bytes) => {
            Config::parse(Path::new(config::FILE_NAME), &bytes).unwrap_or_else(|_| live.clone())
        }
    }
}

/// Whether `branch` is protected under any of the rule sets in play: editing `protected` in
/// `.gate.toml` does not unprotect a branch for the commits that made the edit.
pub fn is_protected(branch: &str, configs: &[&Config]) -> bool {
    configs.iter().any(|c| c.is_protected(branch))
}

/// The first artifact of `feature` that is missing or incomplete, reading each through
/// `read` (a commit's tree, or the index).
pub fn first_incomplete(
    spec_dir: &str,
    feature: &str,
    mut read: impl FnMut(&str) -> Option<Vec<u8>>,
) -> Option<ArtifactKind> {
    ArtifactKind::ALL.into_iter().find(|kind| {
        let path = format!(
            "{}/{feature}/{}",
            spec_dir.trim_end_matches('/'),
            kind.file_name()
        );
        read(&path).is_none_or(|bytes| !markdown::analyse(*kind, &bytes).is_complete())
    })
}

/// Paths a commit itself changed: against its parent, or for a merge, those that differ from
/// every parent (what the merge added beyond what it merged: resolutions and evil edits).
pub fn own_changes(repo: &Repo, commit: Oid) -> Result<BTreeSet<String>, RepoError> {
    let parents = repo.parents(commit)?;
    let Some((first, rest)) = parents.split_first() else {
        return repo.changed_between(None, commit);
    };
    let mut paths = repo.changed_between(Some(*first), commit)?;
    for p in rest {
        let other = repo.changed_between(Some(*p), commit)?;
        paths.retain(|path| other.contains(path));
    }
    Ok(paths)
}

/// The feature a commit on `branch` belongs to: the branch's, else the `.specify/feature.json`
/// in the commit's own tree (spec-kit's pointer, for branches that name no feature).
fn feature_of(repo: &Repo, config: &Config, branch: &str, commit: Oid) -> Option<String> {
    if let Some(f) = feature::of_branch_with(branch, &config.branches.feature_prefix) {
        return Some(f.to_owned());
    }
    let bytes = repo.read_in(commit, ".specify/feature.json")?;
    let dir = crate::facts::pointer_in_json(&bytes)?;
    let name = dir.trim_end_matches('/').rsplit('/').next()?.to_owned();
    feature::number_of(&name).map(|_| name)
}

/// A commit on a branch that is not protected: implementation paths need the feature's three
/// artifacts complete in the commit's own tree, and a later artifact needs the earlier one.
/// The root commit creates the repository and is exempt, as in the hook.
pub fn feature_commit(
    repo: &Repo,
    live: &Config,
    branch: &str,
    commit: Oid,
) -> Result<Vec<Finding>, RepoError> {
    let parents = repo.parents(commit)?;
    if parents.is_empty() {
        return Ok(Vec::new());
    }
    let config = config_at(repo, parents.first().copied(), live);
    let rules = Rules::new(&config);
    let changed = own_changes(repo, commit)?;
    let implementation: Vec<String> = changed
        .iter()
        .filter(|p| rules.is_implementation(p))
        .cloned()
        .collect();
    let feature = feature_of(repo, &config, branch, commit);
    let spec_dir = config.spec.dir.to_string();
    let mut out = Vec::new();
    let read = |path: &str| repo.read_in(commit, path);
    if !implementation.is_empty() {
        let why = match &feature {
            None => Some(format!(
                "added implementation files on {branch}, which names no feature (no spec at all)"
            )),
            Some(f) => first_incomplete(&spec_dir, f, read).map(|kind| {
                format!(
                    "committed implementation files while {} of {f} was incomplete in that commit",
                    kind.file_name()
                )
            }),
        };
        if let Some(message) = why {
            out.push(Finding {
                code: Code::ImplementationGate,
                commit,
                paths: implementation,
                message,
            });
        }
    }
    if let Some(f) = &feature {
        let dir = format!("{}/{f}", spec_dir.trim_end_matches('/'));
        for later in [ArtifactKind::Plan, ArtifactKind::Tasks] {
            let path = format!("{dir}/{}", later.file_name());
            let prev = later
                .previous()
                .expect("plan and tasks have a previous artifact");
            let prev_path = format!("{dir}/{}", prev.file_name());
            if changed.contains(&path)
                && read(&path).is_some()
                && read(&prev_path).is_none_or(|b| !markdown::analyse(prev, &b).is_complete())
            {
                out.push(Finding {
                    code: Code::SpecOrder,
                    commit,
                    paths: vec![path],
                    message: format!(
                        "committed {} while {} was incomplete",
                        later.file_name(),
                        prev.file_name()
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Why a merge of `theirs` into `ours` is not a landing of a finished feature, or `Ok` with
/// the feature(s) it lands. `beyond_both` are the paths where the result differs from both
/// sides; each must be one both sides changed since their merge base (a conflict resolution),
/// so an `-s ours` merge cannot carry unrelated edits onto a protected branch. The features
/// are those whose spec directory `theirs` changed, each complete in `theirs`' tree.
pub fn merge_landing(
    repo: &Repo,
    live: &Config,
    ours: Oid,
    theirs: Oid,
    beyond_both: &BTreeSet<String>,
) -> Result<Vec<String>, String> {
    let base = repo.merge_base(ours, theirs);
    let changed = |a: Option<Oid>, b: Oid| repo.changed_between(a, b).map_err(|e| e.to_string());
    let theirs_changed = changed(base, theirs)?;
    if !beyond_both.is_empty() {
        let ours_changed = changed(base, ours)?;
        let extra: Vec<&String> = beyond_both
            .iter()
            .filter(|p| !(ours_changed.contains(*p) && theirs_changed.contains(*p)))
            .collect();
        if !extra.is_empty() {
            let shown: Vec<&str> = extra.iter().take(5).map(|s| s.as_str()).collect();
            return Err(format!(
                "the merge result changes {} beyond what it merges",
                shown.join(", ")
            ));
        }
    }
    let config = config_at(repo, Some(ours), live);
    let spec_dir = config.spec.dir.trim_end_matches('/').to_owned();
    let features: BTreeSet<String> = theirs_changed
        .iter()
        .filter_map(|p| p.strip_prefix(&format!("{spec_dir}/")))
        .filter_map(|rest| rest.split_once('/').map(|(name, _)| name.to_owned()))
        .filter(|name| feature::number_of(name).is_some())
        .collect();
    if features.is_empty() {
        return Err(format!(
            "what it merges changes no feature's spec under {spec_dir}/"
        ));
    }
    for f in &features {
        if let Some(kind) = first_incomplete(&spec_dir, f, |p| repo.read_in(theirs, p)) {
            return Err(format!(
                "{} of {f} is incomplete in what it merges",
                kind.file_name()
            ));
        }
    }
    Ok(features.into_iter().collect())
}

/// Whether `commit` is a merge into a protected branch that lands a finished feature.
fn is_landing_merge(repo: &Repo, live: &Config, commit: Oid) -> Result<bool, RepoError> {
    let parents = repo.parents(commit)?;
    let [ours, theirs] = parents[..] else {
        return Ok(false);
    };
    let beyond = own_changes(repo, commit)?;
    Ok(merge_landing(repo, live, ours, theirs, &beyond).is_ok())
}

/// The commits reachable from `tip` (a protected branch) and not from `hide` that nothing
/// accounts for: not a finished tip or a landing in gate's records, not a clean merge landing
/// a complete feature (whose merged side is then accounted for too), not the root commit.
/// A landing accounts for itself and what it merged, never for its first parent: commits put
/// on the branch before it are judged on their own. Newest first.
pub fn unaccounted(
    repo: &Repo,
    live: &Config,
    tip: Oid,
    hide: &[Oid],
    vouched: &Vouched,
    limit: usize,
) -> Result<Vec<Oid>, RepoError> {
    let mut hidden: Vec<Oid> = hide
        .iter()
        .copied()
        .chain(vouched.tips.iter().copied())
        .collect();
    let first = repo.commits_between(tip, hidden.iter().copied(), limit)?;
    let mut landings = BTreeSet::new();
    for &c in &first {
        let parents = repo.parents(c)?;
        if vouched.landed.contains(&c) || (parents.len() == 2 && is_landing_merge(repo, live, c)?) {
            landings.insert(c);
            hidden.extend(parents.iter().skip(1));
        }
    }
    let commits = if landings.is_empty() {
        first
    } else {
        repo.commits_between(tip, hidden.iter().copied(), limit)?
    };
    let mut out = Vec::new();
    for c in commits {
        if landings.contains(&c) || repo.parents(c)?.is_empty() || is_adoption(repo, c)? {
            continue;
        }
        out.push(c);
    }
    Ok(out)
}

/// The files `gate init` writes, beside the templates directory the config names.
const SETUP_FILES: [&str; 3] = [
    config::FILE_NAME,
    ".claude/settings.json",
    ".codex/hooks.json",
];

/// Whether `commit` adopts gate (or adds to its setup): it only *adds* gate's own files (the
/// config, the templates, the agent guards) that its parent did not have, and an added
/// `.gate.toml` protects at least the branches the defaults did. There were no rules in those
/// files to break, so such a commit may reach a protected branch however it gets there; an
/// edit or removal of them is judged like any other commit.
fn is_adoption(repo: &Repo, commit: Oid) -> Result<bool, RepoError> {
    let parents = repo.parents(commit)?;
    let [parent] = parents[..] else {
        return Ok(false);
    };
    let added = match repo.read_in(commit, config::FILE_NAME) {
        Some(bytes) if repo.read_in(parent, config::FILE_NAME).is_none() => {
            let Ok(config) = Config::parse(Path::new(config::FILE_NAME), &bytes) else {
                return Ok(false);
            };
            let defaults = Config::default();
            if !defaults
                .branches
                .protected
                .iter()
                .all(|b| config.is_protected(b))
            {
                return Ok(false);
            }
            Some(config)
        }
        _ => None,
    };
    let config = added.unwrap_or_else(|| config_at(repo, Some(parent), &Config::default()));
    let templates = format!("{}/", config.spec.templates.trim_end_matches('/'));
    let changed = repo.changed_between(Some(parent), commit)?;
    Ok(!changed.is_empty()
        && changed.iter().all(|p| {
            (SETUP_FILES.contains(&p.as_str()) || p.starts_with(&templates))
                && repo.read_in(parent, p).is_none()
        }))
}
