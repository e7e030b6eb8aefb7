//! The git side of `gate finish`: tag a finished feature, land it on main, switch to main.
//!
//! The order is what keeps it safe. Everything that depends on the repository's content (the
//! identity, the in-memory merge and its conflicts) is worked out before anything visible
//! changes; then the tag is created, then main's ref is moved by compare-and-swap (the tag is
//! deleted again when main moved under us), then a safe checkout updates the index and working
//! tree, and only then does HEAD move. A conflict therefore leaves refs, HEAD, the index and
//! the working tree exactly as they were, and no tag.
//!
//! libgit2 runs no hooks, and that is how a merge commit made by `gate finish` is not blocked:
//! gate's own pre-commit would refuse any commit on a protected branch, but it never sees this
//! one. `gate finish` has already asked the same rules (`gate check`) about the feature. What
//! lets the audit and pre-push accept the landing is gate's own record of it
//! ([`crate::finished`]), written after the tag exists and *before* the trunk moves (the
//! watcher may audit the moment the ref changes); the `Gate-Finish:` trailer is only a label.
//! Other hooks (post-merge, post-checkout, a user's own) do not run either; the command
//! records its own `finish` event instead.

use std::path::PathBuf;

use git2::build::CheckoutBuilder;
use git2::{CheckoutNotificationType, ErrorCode, Oid, Reference, Repository, Signature};

use super::{Repo, RepoError, git};

/// How many same-day suffixes (`-2`, `-3`, ...) are tried before giving up.
const MAX_TAG_SUFFIX: u32 = 999;

#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    #[error(
        "no git identity to sign the tag and merge with: set one with \
         `git config --global user.name \"Your Name\"` and \
         `git config --global user.email you@example.com`"
    )]
    NoIdentity {
        #[source]
        source: git2::Error,
    },
    #[error(
        "{branch} moved while gate finish was landing the feature; nothing was changed: \
         run `gate finish` again"
    )]
    Moved {
        branch: String,
        #[source]
        source: git2::Error,
    },
    #[error(
        "cannot record the finish in gate's state ({why}); nothing landed: fix that, then run \
         `gate finish` again"
    )]
    Record { why: String },
    #[error(
        "{branch} is checked out in {} and could not be moved there ({why}); {} and nothing \
         landed: deal with that in {} (commit or move the changes in the way), then run \
         `gate finish` again (or only tag with `gate finish --no-merge`)",
        dir.display(),
        kept.as_ref().map_or_else(
            || "the tag was removed again".to_owned(),
            |t| format!("the tag {t} of an earlier finish stays")
        ),
        dir.display()
    )]
    TrunkCheckout {
        branch: String,
        dir: PathBuf,
        why: String,
        /// The tag reused from an earlier finish (`--no-merge`), which stays.
        kept: Option<String>,
    },
    #[error("the trunk {branch} does not exist (it was deleted meanwhile?); nothing was changed")]
    NoTrunk { branch: String },
    #[error("no free tag name: {base} and {base}-2 to {base}-{MAX_TAG_SUFFIX} all exist")]
    NoFreeTag { base: String },
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Why HEAD stayed on the feature branch after main moved.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error("HEAD moved during gate finish (it is now {now}); not switching to {main}")]
    HeadMoved { now: String, main: String },
    #[error(
        "checking out {main} would overwrite {}; move them away, then `git switch {main}`",
        paths.join(", ")
    )]
    WouldOverwrite {
        main: String,
        paths: Vec<String>,
        #[source]
        source: git2::Error,
    },
    #[error("cannot check out {main}; run `git switch {main}`")]
    Checkout {
        main: String,
        #[source]
        source: git2::Error,
    },
}

/// The user's git identity, as `git commit` would take it now: `user.name` and `user.email`,
/// overridden by `GIT_AUTHOR_*` and `GIT_COMMITTER_*` (dates included).
pub struct Identity {
    pub author: Signature<'static>,
    pub committer: Signature<'static>,
}

/// How the feature reached main.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// `--no-merge`: main untouched.
    None,
    /// main did not exist yet: created at the feature tip.
    Created,
    /// main was the feature tip or an ancestor of it, and now is the tip.
    FastForward,
    /// main already contains the feature tip and did not move.
    UpToDate,
    /// Both had moved on: a merge commit with parents [main, feature].
    MergeCommit(Oid),
}

/// What to finish.
pub struct Request<'a> {
    /// The feature branch, e.g. `feature/001-user-auth`.
    pub branch: &'a str,
    /// Its tip, as read when the checks passed.
    pub tip: Oid,
    /// The branch to land on; `None` only tags (`--no-merge`).
    pub main: Option<&'a str>,
    /// The tag name before any same-day suffix.
    pub tag_base: &'a str,
    pub tag_message: &'a str,
    /// The message of a merge commit, should one be needed.
    pub merge_message: &'a str,
    /// The tag gate made for this tip in an earlier finish (name, tag object): reused, so a
    /// tip is tagged once.
    pub existing_tag: Option<(String, Oid)>,
    /// The other worktree where the trunk is checked out (a team's main checkout, while an
    /// engineer finishes from its own worktree): the trunk moves there, by git's own
    /// fast-forward, which updates that checkout's index and files and refuses to overwrite
    /// its uncommitted changes. HEAD here stays on the feature branch.
    pub trunk_checkout: Option<PathBuf>,
}

/// What is about to land, handed to the caller's record before the trunk moves.
pub struct Tagged<'a> {
    pub tag: &'a str,
    pub tag_id: Oid,
    /// The trunk's tip once it moves; `None` with `--no-merge`.
    pub landed: Option<Oid>,
}

pub enum Finish {
    /// The merge conflicts in these paths; nothing was changed.
    Conflict {
        paths: Vec<String>,
    },
    Done(Finished),
}

pub struct Finished {
    /// The tag created (never an existing one moved), or the one reused.
    pub tag: String,
    pub tag_id: Oid,
    pub merge: Merge,
    /// main's tip afterwards; `None` with `--no-merge`.
    pub main_tip: Option<Oid>,
    /// Set when main moved but HEAD stayed on the feature branch.
    pub switch_error: Option<SwitchError>,
    /// Where main moved when it is checked out in another worktree (HEAD here stays on the
    /// feature branch, as intended).
    pub landed_in: Option<PathBuf>,
}

/// main's ref change, decided before anything is written.
enum Plan {
    Create,
    FastForward { from: Oid },
    UpToDate { at: Oid },
    Commit { from: Oid, commit: Oid },
    Conflict { paths: Vec<String> },
}

/// Whether `name` may be a tag (`refs/tags/<name>` is a valid reference name).
pub fn is_valid_tag_name(name: &str) -> bool {
    !name.is_empty() && Reference::is_valid_name(&format!("refs/tags/{name}"))
}

impl Repo {
    /// The identity for the tag and the merge commit, or a clear error when none is set.
    pub fn user_identity(&self) -> Result<Identity, FinishError> {
        let wrap = |source: git2::Error| match source.code() {
            ErrorCode::NotFound => FinishError::NoIdentity { source },
            _ => git(
                "read the git identity (user.name, user.email, GIT_AUTHOR_*, GIT_COMMITTER_*)",
            )(source)
            .into(),
        };
        Ok(Identity {
            author: self.git.author_from_env().map_err(wrap)?,
            committer: self.git.committer_from_env().map_err(wrap)?,
        })
    }

    /// The commit `branch` points at; `None` when it does not exist.
    pub fn branch_oid(&self, branch: &str) -> Result<Option<Oid>, RepoError> {
        match self.git.find_reference(&format!("refs/heads/{branch}")) {
            Ok(r) => Ok(Some(
                r.peel_to_commit()
                    .map_err(git(format!("read the tip of {branch}")))?
                    .id(),
            )),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(git(format!("read branch {branch}"))(e)),
        }
    }

    /// The working trees of the other worktrees that hold `branch`: HEAD on it (born or not),
    /// or a rebase or bisect of it under way there (HEAD detached meanwhile; git counts the
    /// branch as checked out there, and that operation ends by moving it back). Moving such a
    /// branch would leave that worktree's index and files describing the old commit.
    pub fn checked_out_elsewhere(&self, branch: &str) -> Vec<PathBuf> {
        let refname = format!("refs/heads/{branch}");
        let mut others = Vec::new();
        if self.git.is_worktree()
            && let Ok(main) = Repository::open(self.common_dir())
        {
            others.push(main);
        }
        if let Ok(names) = self.git.worktrees() {
            for name in names.iter().flatten() {
                if let Some(name) = name
                    && let Ok(wt) = self.git.find_worktree(name)
                    && let Ok(repo) = Repository::open_from_worktree(&wt)
                {
                    others.push(repo);
                }
            }
        }
        let read = |repo: &Repository, file: &str| {
            std::fs::read_to_string(repo.path().join(file)).map(|s| s.trim().to_owned())
        };
        others
            .into_iter()
            .filter_map(|repo| {
                let dir: PathBuf = repo.workdir()?.components().collect();
                let head = repo.find_reference("HEAD").ok()?;
                let holds = head.symbolic_target().ok().flatten() == Some(refname.as_str())
                    || ["rebase-merge/head-name", "rebase-apply/head-name"]
                        .iter()
                        .any(|f| read(&repo, f).is_ok_and(|n| n == refname))
                    || read(&repo, "BISECT_START").is_ok_and(|n| n == branch || n == refname);
                (dir != self.root && holds).then_some(dir)
            })
            .collect()
    }

    /// Tags the feature tip and, unless `--no-merge`, lands it on main and switches there.
    /// `record` is called once the tag exists and before main moves; when it fails, nothing
    /// lands (and a tag made now is deleted). See the module documentation for the order.
    pub fn finish(
        &self,
        req: &Request,
        id: &Identity,
        record: impl FnOnce(&Tagged) -> Result<(), String>,
    ) -> Result<Finish, FinishError> {
        let plan = match req.main {
            // gate never creates a trunk: landing needs one that exists.
            Some(main) if self.branch_oid(main)?.is_none() => {
                return Err(FinishError::NoTrunk {
                    branch: main.into(),
                });
            }
            Some(main) => Some(self.plan_landing(main, req.tip, req.merge_message, id)?),
            None => None,
        };
        if let Some(Plan::Conflict { paths }) = plan {
            return Ok(Finish::Conflict { paths });
        }
        let (tag, tag_id, made) = match &req.existing_tag {
            Some((name, tag_id)) => (name.clone(), *tag_id, false),
            None => {
                let (t, i) = self.create_unique_tag(req.tag_base, req.tip, req.tag_message, id)?;
                (t, i, true)
            }
        };
        let undo = |e: FinishError| {
            if made {
                self.delete_tag_if_ours(&tag, tag_id);
                return e;
            }
            match e {
                FinishError::TrunkCheckout {
                    branch, dir, why, ..
                } => FinishError::TrunkCheckout {
                    branch,
                    dir,
                    why,
                    kept: Some(tag.clone()),
                },
                e => e,
            }
        };
        let landed = plan.as_ref().map(|p| match *p {
            Plan::Commit { commit, .. } => commit,
            Plan::UpToDate { at } => at,
            _ => req.tip,
        });
        record(&Tagged {
            tag: &tag,
            tag_id,
            landed,
        })
        .map_err(|why| undo(FinishError::Record { why }))?;
        let (Some(main), Some(plan)) = (req.main, plan) else {
            return Ok(Finish::Done(Finished {
                tag,
                tag_id,
                merge: Merge::None,
                main_tip: None,
                switch_error: None,
                landed_in: None,
            }));
        };
        if let Some(dir) = &req.trunk_checkout {
            let (merge, main_tip) = self
                .advance_checked_out(dir, main, req.tip, &plan)
                .map_err(undo)?;
            return Ok(Finish::Done(Finished {
                tag,
                tag_id,
                merge,
                main_tip: Some(main_tip),
                switch_error: None,
                landed_in: Some(dir.clone()),
            }));
        }
        let (merge, main_tip) = self.move_main_ref(main, req.tip, &plan).map_err(undo)?;
        let switch_error = self
            .switch_to_main(req.branch, req.tip, main, main_tip)
            .err();
        Ok(Finish::Done(Finished {
            tag,
            tag_id,
            merge,
            main_tip: Some(main_tip),
            switch_error,
            landed_in: None,
        }))
    }

    /// Moves `main`, checked out in the worktree `dir`, as planned: `git merge --ff-only` run
    /// there, so that checkout's index and files follow (git refuses, and changes nothing,
    /// when its uncommitted changes or untracked or ignored files are in the way). No hooks run: gate
    /// records the landing itself. Refused when main or that checkout moved since the plan.
    fn advance_checked_out(
        &self,
        dir: &std::path::Path,
        main: &str,
        tip: Oid,
        plan: &Plan,
    ) -> Result<(Merge, Oid), FinishError> {
        let (merge, target, from) = match *plan {
            Plan::UpToDate { at } => return Ok((Merge::UpToDate, at)),
            Plan::FastForward { from } => (Merge::FastForward, tip, from),
            Plan::Commit { from, commit } => (Merge::MergeCommit(commit), commit, from),
            Plan::Create => {
                return Err(FinishError::TrunkCheckout {
                    branch: main.into(),
                    dir: dir.to_owned(),
                    why: format!("{main} has no commit yet there"),
                    kept: None,
                });
            }
            Plan::Conflict { .. } => unreachable!("conflicts return before main moves"),
        };
        let refuse = |why: String| FinishError::TrunkCheckout {
            branch: main.into(),
            dir: dir.to_owned(),
            why,
            kept: None,
        };
        // Mid-rebase or mid-bisect of main there, HEAD is detached: git would move that HEAD,
        // and the operation would end by moving main back (or fail to).
        if let Ok(there) = Repo::discover(dir)
            && there.operation().in_progress()
        {
            return Err(refuse(format!(
                "a {} is in progress there; finish or abort it first (`git -C {} status` says how)",
                there.operation().name(),
                dir.display()
            )));
        }
        if self.branch_oid(main)? != Some(from) {
            return Err(FinishError::Moved {
                branch: main.into(),
                source: git2::Error::from_str("the trunk moved since the landing was planned"),
            });
        }
        let target_text = target.to_string();
        let out = super::cli::git_elsewhere(
            dir,
            [
                "-c",
                "core.hooksPath=/dev/null",
                "merge",
                "--ff-only",
                // git overwrites ignored files by default: a person's `.env` or build output
                // there is kept, and the landing refused, as in this checkout.
                "--no-overwrite-ignore",
                // merge.autoStash would stash changes in the way and put them back with
                // conflict markers: they must stop the landing instead.
                "--no-autostash",
                "--no-edit",
                "--quiet",
                &target_text,
            ],
        )
        .map_err(|e| refuse(e.to_string()))?;
        if !out.status.success() {
            // Another finish (or a person) moved main between the check above and git's
            // fast-forward: git says "Not possible to fast-forward", and the fix is to retry.
            if self.branch_oid(main)? != Some(from) {
                return Err(FinishError::Moved {
                    branch: main.into(),
                    source: git2::Error::from_str("the trunk moved while it was being landed"),
                });
            }
            let why = String::from_utf8_lossy(&out.stderr)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            return Err(refuse(why));
        }
        // The checkout may have switched branches meanwhile: then main did not move.
        match self.branch_oid(main)? {
            Some(now) if now == target => Ok((merge, target)),
            _ => Err(refuse(format!(
                "{} is no longer on {main}; its HEAD moved instead",
                dir.display()
            ))),
        }
    }

    /// How `tip` lands on `main`. A merge commit is written to the object store here, but
    /// nothing refers to it until main's ref moves.
    fn plan_landing(
        &self,
        main: &str,
        tip: Oid,
        message: &str,
        id: &Identity,
    ) -> Result<Plan, RepoError> {
        let Some(from) = self.branch_oid(main)? else {
            return Ok(Plan::Create);
        };
        let descends = |a, b| {
            self.git
                .graph_descendant_of(a, b)
                .map_err(git(format!("compare {main} with the feature")))
        };
        if from == tip || descends(tip, from)? {
            return Ok(Plan::FastForward { from });
        }
        if descends(from, tip)? {
            return Ok(Plan::UpToDate { at: from });
        }
        let ours = self
            .git
            .find_commit(from)
            .map_err(git(format!("read {main}")))?;
        let theirs = self
            .git
            .find_commit(tip)
            .map_err(git("read the feature tip"))?;
        let mut index = self
            .git
            .merge_commits(&ours, &theirs, None)
            .map_err(git(format!("merge the feature into {main} in memory")))?;
        if index.has_conflicts() {
            return Ok(Plan::Conflict {
                paths: conflicted_paths(&index)?,
            });
        }
        let tree_id = index
            .write_tree_to(&self.git)
            .map_err(git("write the merged tree"))?;
        let tree = self
            .git
            .find_tree(tree_id)
            .map_err(git("read the merged tree"))?;
        let commit = self
            .git
            .commit(
                None,
                &id.author,
                &id.committer,
                message,
                &tree,
                &[&ours, &theirs],
            )
            .map_err(git("write the merge commit"))?;
        Ok(Plan::Commit { from, commit })
    }

    /// An annotated tag on `target` named `base`, or `base-2`, `base-3`, ... when taken.
    /// Never forced, so an existing tag never moves, even one created a moment ago.
    fn create_unique_tag(
        &self,
        base: &str,
        target: Oid,
        message: &str,
        id: &Identity,
    ) -> Result<(String, Oid), FinishError> {
        let object = self
            .git
            .find_object(target, None)
            .map_err(git("read the feature tip"))?;
        for n in 1..=MAX_TAG_SUFFIX {
            let name = match n {
                1 => base.to_owned(),
                _ => format!("{base}-{n}"),
            };
            match self.git.tag(&name, &object, &id.committer, message, false) {
                Ok(tag_id) => return Ok((name, tag_id)),
                // Directory: a tag `<name>/...` exists, so `<name>` cannot.
                Err(e) if matches!(e.code(), ErrorCode::Exists | ErrorCode::Directory) => continue,
                Err(e) => return Err(git(format!("create tag {name}"))(e).into()),
            }
        }
        Err(FinishError::NoFreeTag { base: base.into() })
    }

    /// Undoes [`Repo::create_unique_tag`], but only while the tag is still the one we made.
    fn delete_tag_if_ours(&self, name: &str, tag_id: Oid) {
        if let Ok(mut r) = self.git.find_reference(&format!("refs/tags/{name}"))
            && r.target() == Some(tag_id)
        {
            let _ = r.delete();
        }
    }

    /// Moves main's ref as planned, only if it still points where `plan` read it.
    fn move_main_ref(
        &self,
        main: &str,
        tip: Oid,
        plan: &Plan,
    ) -> Result<(Merge, Oid), FinishError> {
        let refname = format!("refs/heads/{main}");
        let log = "gate finish";
        let moved = match *plan {
            Plan::Create => self
                .git
                .reference(
                    &refname,
                    tip,
                    false,
                    &format!("{log}: created at the feature"),
                )
                .map(|_| (Merge::Created, tip)),
            Plan::FastForward { from } => self
                .git
                .reference_matching(&refname, tip, true, from, &format!("{log}: fast-forward"))
                .map(|_| (Merge::FastForward, tip)),
            Plan::Commit { from, commit } => self
                .git
                .reference_matching(&refname, commit, true, from, &format!("{log}: merge"))
                .map(|_| (Merge::MergeCommit(commit), commit)),
            Plan::UpToDate { at } => Ok((Merge::UpToDate, at)),
            Plan::Conflict { .. } => unreachable!("conflicts return before main moves"),
        };
        moved.map_err(|source| match source.code() {
            ErrorCode::Exists | ErrorCode::Modified => FinishError::Moved {
                branch: main.into(),
                source,
            },
            _ => git(format!("move {main}"))(source).into(),
        })
    }

    /// Puts the index and working tree on `main_tip` with a safe checkout, then HEAD on main.
    /// The tree was clean, so a safe checkout cannot lose work; ignored files in the way are
    /// not overwritten either. If it fails, HEAD stays on `branch`.
    fn switch_to_main(
        &self,
        branch: &str,
        tip: Oid,
        main: &str,
        main_tip: Oid,
    ) -> Result<(), SwitchError> {
        let head = self.git.head().ok();
        let on_branch = head.as_ref().is_some_and(|h| {
            h.name().ok() == Some(format!("refs/heads/{branch}").as_str())
                && h.target() == Some(tip)
        });
        if !on_branch {
            let now = head
                .and_then(|h| h.name().ok().map(str::to_owned))
                .unwrap_or_else(|| "unreadable".into());
            return Err(SwitchError::HeadMoved {
                now,
                main: main.into(),
            });
        }
        let checkout = |source| SwitchError::Checkout {
            main: main.into(),
            source,
        };
        let tree = self
            .git
            .find_commit(main_tip)
            .and_then(|c| c.tree())
            .map_err(checkout)?;
        let mut in_the_way = Vec::new();
        let result = {
            let mut opts = CheckoutBuilder::new();
            opts.safe()
                .overwrite_ignored(false)
                .notify_on(CheckoutNotificationType::CONFLICT)
                .notify(|_, path, _, _, _| {
                    in_the_way.extend(path.map(|p| p.to_string_lossy().into_owned()));
                    true
                });
            self.git.checkout_tree(tree.as_object(), Some(&mut opts))
        };
        match result {
            Err(source) if !in_the_way.is_empty() => Err(SwitchError::WouldOverwrite {
                main: main.into(),
                paths: in_the_way,
                source,
            }),
            Err(source) => Err(checkout(source)),
            Ok(()) => self
                .git
                .set_head(&format!("refs/heads/{main}"))
                .map_err(checkout),
        }
    }
}

/// Each conflicted path once, in index order.
fn conflicted_paths(index: &git2::Index) -> Result<Vec<String>, RepoError> {
    let mut paths: Vec<String> = Vec::new();
    for conflict in index.conflicts().map_err(git("list the merge conflicts"))? {
        let conflict = conflict.map_err(git("read a merge conflict"))?;
        let entry = conflict.our.or(conflict.their).or(conflict.ancestor);
        if let Some(e) = entry {
            let path = String::from_utf8_lossy(&e.path).into_owned();
            if paths.last() != Some(&path) {
                paths.push(path);
            }
        }
    }
    Ok(paths)
}
