//! What the installed hooks decide. The pre-commit path is the hottest code in gate: it pays
//! for HEAD, the committed `.gate.toml` and the three artifacts as staged, and reads the staged
//! paths only when the spec gate has not passed or the branch is protected.

use std::collections::BTreeSet;
use std::path::Path;

use git2::Oid;

use crate::config::Config;
use crate::facts::{self, FactsError, FeatureHint};
use crate::finished::Vouched;
use crate::judge;
use crate::repo::{Operation, Repo};
use crate::rules::{Code, Question, Rules, Subject, Violation};

/// The trailer `gate finish` writes into its merge commits: a label for people reading the
/// history. Nothing trusts it; gate's own records say what it finished.
pub const FINISH_TRAILER: &str = "Gate-Finish:";

/// How many commits pre-push examines per pushed protected branch.
const PUSH_LIMIT: usize = 2000;

/// The pre-commit verdict over what is staged. Empty means the commit may go ahead. The rules
/// are those committed at HEAD as well as the working tree's `.gate.toml`: a staged edit to the
/// rules (say `protected = []`) does not judge the commit that makes it.
pub fn pre_commit(
    repo: &Repo,
    config: &Config,
    hint: &FeatureHint,
    index_file: Option<&Path>,
) -> Result<Vec<Violation>, FactsError> {
    let head = repo.git().head().ok().and_then(|h| h.target());
    let committed = head.map(|h| judge::config_at(repo, Some(h), config));
    let mut out = pre_commit_under(repo, config, hint, index_file)?;
    if let Some(committed) = committed.filter(|c| c != config) {
        for v in pre_commit_under(repo, &committed, hint, index_file)? {
            if !out
                .iter()
                .any(|o| o.code == v.code && o.message == v.message)
            {
                out.push(v);
            }
        }
    }
    Ok(out)
}

fn pre_commit_under(
    repo: &Repo,
    config: &Config,
    hint: &FeatureHint,
    index_file: Option<&Path>,
) -> Result<Vec<Violation>, FactsError> {
    let question = Question::MayCommit { staged: Vec::new() };
    let (mut facts, _) = facts::gather_staged(repo, config, hint, question, index_file)?;
    let protected = facts.head.branch().is_some_and(|b| config.is_protected(b));
    let gate_passed = facts
        .feature
        .as_ref()
        .is_some_and(|f| f.first_incomplete().is_none());
    if gate_passed && !protected {
        return Ok(Vec::new());
    }
    if protected && facts.operation == Operation::Merge {
        return Ok(merge_verdict(repo, config, index_file)
            .into_iter()
            .collect());
    }
    facts.question = Question::MayCommit {
        staged: crate::repo::status::staged(repo.root(), index_file)?,
    };
    Ok(Rules::new(config).evaluate(&facts))
}

/// Concluding a merge on a protected branch: allowed only when it lands a feature complete in
/// what is merged and the staged result holds nothing beyond the merge (conflict resolutions
/// in paths both sides changed). A merge in progress is not a pass by itself.
fn merge_verdict(repo: &Repo, config: &Config, index_file: Option<&Path>) -> Option<Violation> {
    let ours = repo.git().head().ok().and_then(|h| h.target())?;
    let heads = repo.merge_heads();
    let why = match heads[..] {
        [theirs] => match beyond_both(repo, ours, theirs, index_file) {
            Ok(beyond) => judge::merge_landing(repo, config, ours, theirs, &beyond).err(),
            Err(e) => Some(e),
        },
        _ => Some(format!(
            "{} merge heads: only a merge of one feature branch can land",
            heads.len()
        )),
    }?;
    let branch = repo
        .head()
        .ok()
        .and_then(|h| h.branch().map(str::to_owned))
        .unwrap_or_default();
    Some(Violation {
        code: Code::FeatureBranch,
        subject: Subject::Branch,
        message: format!(
            "{branch} is protected and this merge does not land a finished feature: {why}"
        ),
        fix: "git merge --abort, then land the feature from its branch with `gate finish`".into(),
        paths: Vec::new(),
        findings: Vec::new(),
    })
}

/// Paths where the staged result differs from both sides of the merge.
fn beyond_both(
    repo: &Repo,
    ours: Oid,
    theirs: Oid,
    index_file: Option<&Path>,
) -> Result<BTreeSet<String>, String> {
    let from_ours = repo
        .changed_in_index(ours, index_file)
        .map_err(|e| e.to_string())?;
    let from_theirs = repo
        .changed_in_index(theirs, index_file)
        .map_err(|e| e.to_string())?;
    Ok(from_ours.intersection(&from_theirs).cloned().collect())
}

/// One line git gives pre-push on stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRef {
    pub local_ref: String,
    pub local_sha: String,
    pub remote_ref: String,
    /// What the remote has now; all zeros when the branch is new there.
    pub remote_sha: String,
}

pub fn parse_push_input(input: &str) -> Vec<PushedRef> {
    input
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            Some(PushedRef {
                local_ref: parts.next()?.into(),
                local_sha: parts.next()?.into(),
                remote_ref: parts.next()?.into(),
                remote_sha: parts.next().unwrap_or_default().into(),
            })
        })
        .collect()
}

/// The pre-push verdict: a protected branch on the remote only moves onto commits gate
/// accounts for (the same standard as the audit: a `gate finish` in gate's own records, or a
/// clean merge landing a complete feature), and is never deleted.
pub fn pre_push(
    repo: &Repo,
    config: &Config,
    remote: &str,
    pushed: &[PushedRef],
) -> Vec<Violation> {
    if !config.hooks.protect_push {
        return Vec::new();
    }
    let mut vouched: Option<Vouched> = None;
    pushed
        .iter()
        .filter_map(|p| {
            let branch = p.remote_ref.strip_prefix("refs/heads/")?;
            if !config.is_protected(branch) {
                return None;
            }
            let deleting = p.local_sha.bytes().all(|b| b == b'0');
            let message = if deleting {
                format!("deleting protected branch {branch} on {remote}")
            } else {
                let vouched = vouched.get_or_insert_with(|| Vouched::load(repo, config));
                let why = unaccounted_push(repo, config, p, vouched)?;
                format!(
                    "pushing {} directly to protected branch {branch} on {remote}: {why}",
                    p.local_ref
                )
            };
            Some(Violation {
                code: Code::FeatureBranch,
                subject: Subject::Branch,
                message,
                fix: "push your feature branch instead (git push -u origin HEAD) and land it with `gate finish`".into(),
                paths: Vec::new(),
                findings: Vec::new(),
            })
        })
        .collect()
}

/// Why the commits `p` would add to the remote are not all accounted for; `None` when they are.
fn unaccounted_push(
    repo: &Repo,
    config: &Config,
    p: &PushedRef,
    vouched: &Vouched,
) -> Option<String> {
    let Ok(new) = Oid::from_str(&p.local_sha) else {
        return Some(format!("{} is not a commit id", p.local_sha));
    };
    let hide: Vec<Oid> = Oid::from_str(&p.remote_sha)
        .ok()
        .filter(|o| !o.is_zero() && repo.git().find_commit(*o).is_ok())
        .into_iter()
        .collect();
    match judge::unaccounted(repo, config, new, &hide, vouched, PUSH_LIMIT) {
        Ok(commits) if commits.is_empty() => None,
        Ok(commits) => {
            let first = commits.last().copied().unwrap_or(new);
            let subject = repo
                .summary_of(first)
                .map(|c| c.subject)
                .unwrap_or_default();
            Some(format!(
                "{} commit{} no `gate finish` accounts for (the oldest: {} \"{subject}\")",
                commits.len(),
                if commits.len() == 1 { "" } else { "s" },
                crate::repo::short_id(&first.to_string()),
            ))
        }
        Err(e) => Some(format!("cannot read its history: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_input_lines() {
        let p = parse_push_input("refs/heads/main abc refs/heads/main 000\n\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].remote_ref, "refs/heads/main");
    }
}
