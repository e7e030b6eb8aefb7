//! What the installed hooks decide. The pre-commit path is the hottest code in gate: it pays
//! for HEAD and the three artifacts, and reads the staged paths only when the spec gate has
//! not passed or the branch is protected.

use std::path::Path;

use crate::config::Config;
use crate::facts::{self, FactsError, FeatureHint};
use crate::repo::Repo;
use crate::rules::{Code, Question, Rules, Subject, Violation};

/// The trailer `gate finish` writes into its merge commits.
pub const FINISH_TRAILER: &str = "Gate-Finish:";

/// The pre-commit verdict over what is staged. Empty means the commit may go ahead.
pub fn pre_commit(
    repo: &Repo,
    config: &Config,
    hint: &FeatureHint,
    index_file: Option<&Path>,
) -> Result<Vec<Violation>, FactsError> {
    let question = Question::MayCommit { staged: Vec::new() };
    let (mut facts, _) = facts::gather(repo, config, hint, question)?;
    let protected = facts.head.branch().is_some_and(|b| config.is_protected(b));
    let gate_passed = facts
        .feature
        .as_ref()
        .is_some_and(|f| f.first_incomplete().is_none());
    if gate_passed && !protected {
        return Ok(Vec::new());
    }
    facts.question = Question::MayCommit {
        staged: crate::repo::status::staged(repo.root(), index_file)?,
    };
    Ok(Rules::new(config).evaluate(&facts))
}

/// One line git gives pre-push on stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRef {
    pub local_ref: String,
    pub local_sha: String,
    pub remote_ref: String,
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
            })
        })
        .collect()
}

/// The pre-push verdict: a protected branch on the remote only moves to a finished feature
/// (a commit carrying a stable tag, or a `gate finish` merge) and is never deleted.
pub fn pre_push(
    repo: &Repo,
    config: &Config,
    remote: &str,
    pushed: &[PushedRef],
) -> Vec<Violation> {
    if !config.hooks.protect_push {
        return Vec::new();
    }
    let is_stable_tag = tag_matcher(&config.tags.format.0);
    pushed
        .iter()
        .filter_map(|p| {
            let branch = p.remote_ref.strip_prefix("refs/heads/")?;
            if !config.is_protected(branch) {
                return None;
            }
            let deleting = p.local_sha.bytes().all(|b| b == b'0');
            if !deleting
                && (repo.is_tagged(&p.local_sha, &is_stable_tag)
                    || repo
                        .commit_message(&p.local_sha)
                        .is_some_and(|m| m.contains(FINISH_TRAILER)))
            {
                return None;
            }
            let message = if deleting {
                format!("deleting protected branch {branch} on {remote}")
            } else {
                format!("pushing {} directly to protected branch {branch} on {remote}", p.local_ref)
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

/// Whether a tag name fits the configured stable-tag format.
fn tag_matcher(format: &str) -> impl Fn(&str) -> bool {
    let pattern = format.replace("{feature}", "*").replace("{date}", "*");
    let glob = globset::Glob::new(&pattern)
        .map(|g| g.compile_matcher())
        .ok();
    move |name| glob.as_ref().is_some_and(|g| g.is_match(name))
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

    #[test]
    fn stable_tags_match_the_format() {
        let m = tag_matcher("stable-{feature}-{date}");
        assert!(m("stable-001-auth-20261126"));
        assert!(!m("v1.0"));
    }
}
