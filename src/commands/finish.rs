//! `gate finish`: tag a finished feature `stable-<feature>-<date>`, land it on main, switch to
//! main. Refusals change nothing; the git work and its safety order live in
//! [`gate::repo::finish`].

use gate::repo::short_id;
use std::process::ExitCode;

use gate::events::{Event, EventLog};
use gate::facts::{self, FeatureHint};
use gate::finished::{Landing, Records, Vouched};
use gate::hooks::run::FINISH_TRAILER;
use gate::repo::finish::{self, Finish, Finished, Merge, Request, Tagged};
use gate::repo::{Changes, Head};
use gate::rules::{Question, Rules, Violation};
use gate::spec::feature;
use gate::watch::audit::{self, Baseline};
use serde::Serialize;

use crate::exit::{REFUSED, Refused, USAGE};
use crate::project::Project;
use crate::ui::Ui;

/// Finish the current feature: tag its tip (annotated, `[tags] format`, default
/// stable-<feature>-<YYYYMMDD>; a second finish the same day gets -2, -3, ...), merge it into
/// the trunk (the first branch of `[branches] protected` that exists: fast-forward when
/// possible, else a merge commit) and switch to it.
///
/// Refused, changing nothing (exit 1), unless `gate check` passes, the working tree is clean
/// (untracked files count, ignored ones do not), no merge or rebase is in progress, a trunk
/// exists (gate never creates one) and the tip was not finished and landed already. A merge
/// conflict also changes nothing: no tag, main, HEAD, index and files as they were.
///
/// gate's pre-commit hook never sees the merge commit (gate writes it through libgit2, which
/// runs no hooks). gate records each finish in its own state (finished.jsonl); that record,
/// with the tag it names, is what lets the audit and pre-push accept the landing.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only tag the feature; stay on the branch and leave main alone
    #[arg(long)]
    pub no_merge: bool,
    /// Print the outcome as JSON: tag, commit, merge, main, branch, main_commit, head
    #[arg(long)]
    pub json: bool,
}

/// The `--json` document. Field names are a public interface: add, never rename.
#[derive(Serialize)]
struct Report<'a> {
    tag: &'a str,
    /// The tagged commit: the feature branch's tip.
    commit: String,
    /// "fast-forward", "merge-commit", "up-to-date" (main already had it) or "none".
    merge: &'static str,
    main: &'a str,
    branch: &'a str,
    /// main's tip afterwards; null with --no-merge.
    main_commit: Option<String>,
    /// The branch HEAD is on afterwards.
    head: &'a str,
    /// In a team agent's worktree: whom the news was queued for (its PM, the orchestrator).
    told: Vec<gate::team::tell::Told>,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = Project::open()?;
    let (repo, config) = (&project.repo, &project.config);
    let operation = repo.operation();
    if operation.in_progress() {
        return Err(Refused(format!(
            "a {} is in progress; finish or abort it before `gate finish` (nothing was changed)",
            operation.name()
        ))
        .into());
    }

    // The feature is the branch's own: neither SPECIFY_FEATURE_DIRECTORY nor --feature may
    // finish a different one.
    let head = repo.head()?;
    let prefix = &config.branches.feature_prefix;
    let named = head
        .branch()
        .and_then(|b| feature::of_branch_with(b, prefix));
    let hint = FeatureHint {
        argument: named.map(str::to_owned),
        env_directory: None,
    };
    let question = Question::MayImplement {
        branch_matters: true,
    };
    let (facts, _) = facts::gather(repo, config, &hint, question)?;
    let mut violations = Rules::new(config).evaluate(&facts);
    let changes = repo.changes()?;
    let feature = facts.feature.as_ref().map(|f| f.feature.name.as_str());
    if violations.is_empty() && (named.is_none() || feature != named) {
        violations.push(no_feature_branch(&head, prefix));
    }
    if !violations.is_empty() || !changes.is_clean() {
        print_refusal(ui, &violations, &changes)?;
        return Ok(ExitCode::from(REFUSED));
    }
    let (Head::Branch(branch), Some(feature)) = (&head, feature) else {
        return Err(Refused("nothing is committed on this branch yet".into()).into());
    };
    let Some(tip) = repo.branch_oid(branch)? else {
        return Err(Refused(format!("nothing is committed on {branch} yet")).into());
    };

    let trunk = config
        .branches
        .protected
        .iter()
        .find(|b| repo.branch_exists(b))
        .cloned();
    let main = match (&trunk, args.no_merge) {
        (Some(t), _) => t.as_str(),
        (None, true) => config.main_branch(),
        (None, false) => {
            return Err(Refused(format!(
                "no trunk to land on: none of the protected branches ({}) exists, and gate finish \
                 never creates one. Create it where it should start (git branch {} <commit>), or \
                 only tag with gate finish --no-merge (nothing was changed)",
                config.branches.protected.join(", "),
                config.main_branch()
            ))
            .into());
        }
    };
    // What slipped onto the trunk before this landing is judged now, while it is still its own
    // commit on the trunk: a landing must never cover it (the watcher may not be running).
    let state = repo.state_dir();
    let slips = audit::run(
        repo,
        config,
        &mut Baseline::load(&state),
        &EventLog::in_dir(&state),
    );
    for s in &slips {
        ui.warn(format!("audit: [{}] {}", s.code.as_str(), s.message));
    }
    let vouched = Vouched::load(repo, config);
    let earlier = vouched.landing_of(&tip.to_string()).cloned();
    if let Some(landing) = &earlier
        && let Some(trunk_tip) = repo.branch_oid(main)?
        && (trunk_tip == tip
            || repo
                .git()
                .graph_descendant_of(trunk_tip, tip)
                .unwrap_or(false))
    {
        return Err(Refused(format!(
            "{branch} at {} was already finished: tagged {} and landed on {main}; nothing to do \
             (commit more work on {branch} to finish it again; nothing was changed)",
            short_id(&landing.tip),
            landing.tag
        ))
        .into());
    }
    // Main checked out in another worktree (an engineer finishing from its own): main moves
    // there, by git's fast-forward, which keeps that checkout in step and its changes safe.
    let mut holders = match args.no_merge {
        true => Vec::new(),
        false => repo.checked_out_elsewhere(main),
    };
    // git's fast-forward moves one checkout: every other one would be left describing the old
    // commit (its index then shows the feature reverted, staged).
    if holders.len() > 1 {
        let dirs: Vec<String> = holders.iter().map(|d| d.display().to_string()).collect();
        return Err(Refused(format!(
            "{main} is checked out in {} worktrees ({}), and gate finish can keep only one of \
             them in step: switch the others off {main} (git -C <dir> switch --detach), then \
             gate finish again (nothing was changed)",
            dirs.len(),
            dirs.join(", ")
        ))
        .into());
    }
    let trunk_checkout = holders.pop();
    let identity = match repo.user_identity() {
        Ok(id) => id,
        Err(e) => return Ok(usage(ui, e)),
    };
    let date = jiff::Zoned::now().strftime("%Y%m%d").to_string();
    let tag_base = tag_name(&config.tags.format.0, feature, &date);
    if !finish::is_valid_tag_name(&tag_base) {
        return Ok(usage(
            ui,
            format!(
                "[tags] format gives {tag_base:?}, which git does not accept as a tag name; \
                 fix format in .gate.toml"
            ),
        ));
    }

    let request = Request {
        branch,
        tip,
        main: (!args.no_merge).then_some(main),
        tag_base: &tag_base,
        tag_message: &format!("{feature} finished on {branch} (gate finish)\n"),
        merge_message: &format!("Merge {branch} (gate finish)\n\n{FINISH_TRAILER} {feature}\n"),
        existing_tag: earlier
            .as_ref()
            .and_then(|l| Some((l.tag.clone(), git2::Oid::from_str(&l.tag_id).ok()?))),
        trunk_checkout,
    };
    let records = Records::in_dir(&repo.state_dir());
    let save = |t: &Tagged| {
        records
            .append(&Landing {
                feature: feature.into(),
                branch: branch.clone(),
                tip: tip.to_string(),
                tag: t.tag.into(),
                tag_id: t.tag_id.to_string(),
                trunk: t.landed.map(|_| main.to_owned()),
                landed: t.landed.map(|o| o.to_string()),
                time: Event::now("finish").time,
            })
            .map_err(|e| match std::error::Error::source(&e) {
                Some(why) => format!("{e}: {why}"),
                None => e.to_string(),
            })
    };
    let finished = match repo.finish(&request, &identity, save) {
        // Changes in the way in the checkout where main is, or main moved meanwhile: refused,
        // nothing landed (exit 1).
        Err(
            e @ (gate::repo::finish::FinishError::TrunkCheckout { .. }
            | gate::repo::finish::FinishError::Moved { .. }),
        ) => {
            return Err(Refused(e.to_string()).into());
        }
        other => other?,
    };
    let done = match finished {
        Finish::Done(done) => done,
        Finish::Conflict { paths } => {
            print_conflict(ui, branch, main, &paths)?;
            return Ok(ExitCode::from(REFUSED));
        }
    };
    let tip = tip.to_string();
    record(repo, branch, &tip, main, &done, ui);
    // An engineer of a team: its PM (and the orchestrator) hear of it at their next prompt.
    let news = match done.main_tip {
        Some(_) => format!(
            "finished feature {feature}: tagged {} and landed on {main}",
            done.tag
        ),
        None => format!(
            "finished feature {feature}: tagged {} on {branch} (not landed: --no-merge)",
            done.tag
        ),
    };
    let told = gate::team::tell::news(repo, &gate::tmux::Tmux::from_env(), &done.tag, &news);
    let now_on = match done.switch_error {
        None if done.main_tip.is_some() && done.landed_in.is_none() => main,
        _ => branch.as_str(),
    };
    if args.json {
        ui.json(&Report {
            tag: &done.tag,
            commit: tip.clone(),
            merge: merge_kind(done.merge),
            main,
            branch,
            main_commit: done.main_tip.map(|o| o.to_string()),
            head: now_on,
            told,
        })?;
    } else {
        print_outcome(ui, branch, &tip, main, &done)?;
        for t in &told {
            ui.line(match t.outcome.as_str() {
                "queued" => format!(
                    "{} told {} (queued: the watcher types it at its next prompt)",
                    ui.ok_mark(),
                    t.to
                ),
                "already" => format!("{} {} was told already", ui.ok_mark(), t.to),
                why => format!("{} {} was not told: {why}", ui.fail_mark(), t.to),
            })?;
        }
    }
    match done.switch_error {
        None => Ok(ExitCode::SUCCESS),
        Some(e) => Err(anyhow::Error::new(e).context(format!(
            "{main} is merged and tagged {}, but HEAD stays on {branch}",
            done.tag
        ))),
    }
}

/// `[tags] format` with `{feature}` and `{date}` filled in.
fn tag_name(format: &str, feature: &str, date: &str) -> String {
    format.replace("{feature}", feature).replace("{date}", date)
}

fn merge_kind(merge: Merge) -> &'static str {
    match merge {
        Merge::None => "none",
        Merge::Created | Merge::FastForward => "fast-forward",
        Merge::UpToDate => "up-to-date",
        Merge::MergeCommit(_) => "merge-commit",
    }
}

fn no_feature_branch(head: &Head, prefix: &str) -> Violation {
    let on = head.branch().unwrap_or("a detached HEAD");
    Violation {
        code: gate::rules::Code::FeatureBranch,
        subject: gate::rules::Subject::Branch,
        message: format!("{on} names no feature (expected {prefix}NNN-name): nothing to finish"),
        fix: "git switch <feature branch>".into(),
        paths: Vec::new(),
        findings: Vec::new(),
    }
}

/// A configuration problem (no identity, a tag format git rejects): exit 2, nothing changed.
fn usage(ui: &Ui, message: impl std::fmt::Display) -> ExitCode {
    ui.error(format!("{message} (nothing was changed)"));
    ExitCode::from(USAGE)
}

fn print_refusal(ui: &Ui, violations: &[Violation], changes: &Changes) -> std::io::Result<()> {
    let err = ui.on_stderr();
    err.line(format!(
        "{} nothing was changed",
        err.bold("gate finish: refused;")
    ))?;
    for v in violations {
        err.line(format!(
            "  {} {} {}",
            err.fail_mark(),
            err.code(format!("[{}]", v.code.as_str())),
            v.message
        ))?;
        err.details(v, "      ", 5)?;
    }
    if changes.is_clean() {
        return Ok(());
    }
    err.line(format!(
        "  {} the working tree has uncommitted changes (untracked files count, ignored ones do not)",
        err.fail_mark()
    ))?;
    const SHOWN: usize = 10;
    let dirty: Vec<String> = [
        (&changes.conflicted, "conflicted"),
        (&changes.staged, "staged"),
        (&changes.unstaged, "modified"),
        (&changes.untracked, "untracked"),
    ]
    .into_iter()
    .flat_map(|(paths, what)| paths.iter().map(move |p| format!("{p} ({what})")))
    .collect();
    for line in dirty.iter().take(SHOWN) {
        err.line(format!("      {}", err.dim(line)))?;
    }
    if dirty.len() > SHOWN {
        err.line(format!("      ... and {} more", dirty.len() - SHOWN))?;
    }
    err.line(format!(
        "      fix: {}",
        err.bold(
            "commit them (git add -A && git commit) or stash them (git stash -u), then gate finish"
        )
    ))
}

fn print_conflict(ui: &Ui, branch: &str, main: &str, paths: &[String]) -> std::io::Result<()> {
    let err = ui.on_stderr();
    err.line(format!(
        "{} merging {branch} into {main} conflicts in {} path{}:",
        err.bold("gate finish: refused;"),
        paths.len(),
        if paths.len() == 1 { "" } else { "s" }
    ))?;
    for p in paths {
        err.line(format!("  {} {p}", err.fail_mark()))?;
    }
    err.line("nothing was changed: no tag; main, HEAD, the index and the files are as they were")?;
    err.line(format!(
        "fix: {}",
        err.bold(format!(
            "git merge {main} on {branch}, resolve and commit, then gate finish"
        ))
    ))
}

fn print_outcome(
    ui: &Ui,
    branch: &str,
    tip: &str,
    main: &str,
    done: &Finished,
) -> std::io::Result<()> {
    ui.line(format!(
        "{} tagged {branch} at {} as {}",
        ui.ok_mark(),
        short_id(tip),
        ui.bold(&done.tag)
    ))?;
    let main_tip = done.main_tip.map(|o| o.to_string()).unwrap_or_default();
    let merged = match done.merge {
        Merge::None => {
            ui.line(format!(
                "  {main} left alone (--no-merge); still on {branch}"
            ))?;
            return ui.line(format!(
                "next: {} to share the tag; gate finish (without --no-merge) lands it on {main}",
                ui.bold(format!("git push origin {}", done.tag))
            ));
        }
        Merge::Created => format!("created {main} at {}", short_id(tip)),
        Merge::FastForward => format!("fast-forwarded {main} to {}", short_id(tip)),
        Merge::UpToDate => format!(
            "{main} already contains {branch}; it stays at {}",
            short_id(&main_tip)
        ),
        Merge::MergeCommit(id) => format!(
            "merged {branch} into {main}: merge commit {}",
            short_id(&id.to_string())
        ),
    };
    ui.line(format!("{} {merged}", ui.ok_mark()))?;
    if done.switch_error.is_some() {
        return Ok(());
    }
    match &done.landed_in {
        Some(dir) => ui.line(format!(
            "{} {main} moved in {}, where it is checked out (its files follow; its uncommitted \
             changes were kept); HEAD here stays on {branch}",
            ui.ok_mark(),
            dir.display()
        ))?,
        None => ui.line(format!("{} HEAD is now on {main}", ui.ok_mark()))?,
    }
    let push = ui.bold(format!("git push origin {main} --follow-tags"));
    let why = match done.merge {
        Merge::MergeCommit(_) => {
            "gate recorded this merge as the landing of the feature".to_owned()
        }
        // main did not move: whether its tip may be pushed was settled when it got there.
        Merge::UpToDate => return ui.line(format!("next: {push}")),
        _ => format!("gate recorded its tip as finished, tagged {}", done.tag),
    };
    ui.line(format!(
        "next: {push} (the pre-push hook accepts {main}: {why})"
    ))
}

/// The `finish` event; a log that cannot be written is worth a warning, not a failure.
fn record(repo: &gate::repo::Repo, branch: &str, tip: &str, main: &str, done: &Finished, ui: &Ui) {
    let mut event = Event::now("finish");
    event.branch = Some(branch.into());
    event.commit = Some(tip.into());
    event.detail = match done.merge {
        Merge::None => format!("tag {}; not merged (--no-merge)", done.tag),
        Merge::MergeCommit(id) => format!(
            "tag {}; merge-commit {} on {main}",
            done.tag,
            short_id(&id.to_string())
        ),
        m => format!("tag {}; {} on {main}", done.tag, merge_kind(m)),
    };
    if let Err(e) = EventLog::in_dir(&repo.state_dir()).append(&event) {
        ui.warn(format!("the finish is done but was not logged: {e}"));
    }
    // The switch to the trunk runs no post-checkout hook (libgit2): recorded here.
    if done.switch_error.is_none()
        && done.main_tip.is_some()
        && repo
            .head()
            .ok()
            .and_then(|h| h.branch().map(str::to_owned))
            .as_deref()
            == Some(main)
    {
        let mut e = Event::now("checkout");
        e.branch = Some(main.into());
        e.detail = format!("gate finish: from {branch}");
        if let Err(err) = EventLog::in_dir(&repo.state_dir()).append(&e) {
            ui.warn(format!("could not record the switch to {main}: {err}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_name_fills_feature_and_date() {
        assert_eq!(
            tag_name("stable-{feature}-{date}", "001-user-auth", "20250102"),
            "stable-001-user-auth-20250102"
        );
        assert_eq!(
            tag_name("done/{feature}", "002-x", "20250102"),
            "done/002-x"
        );
    }
}
