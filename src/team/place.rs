//! Where an agent works: an engineer with a feature in the linked worktree of its feature
//! branch (found, or made: `git worktree add` for an existing branch or feature directory,
//! `gate specify NAME --worktree` for a new feature); everyone else in the main checkout.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::repo::Repo;
use crate::repo::worktree::{self, Worktree};
use crate::spec::feature;

use super::{Agent, TeamError};

/// An agent's working directory and what is checked out there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The worktree's top directory (canonical).
    pub root: PathBuf,
    /// The repository's main checkout (canonical).
    pub main: PathBuf,
    pub branch: Option<String>,
    /// `specs/NNN-name` of the agent's feature.
    pub feature_dir: Option<String>,
    /// A linked worktree (as opposed to the main checkout).
    pub linked: bool,
}

impl Place {
    /// The feature's spec.md, when the agent has a feature.
    pub fn spec_path(&self) -> Option<PathBuf> {
        self.feature_dir
            .as_ref()
            .map(|d| self.root.join(d).join("spec.md"))
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// The main checkout of the repository at `repo`.
pub fn main_checkout(list: &[Worktree], repo: &Path) -> PathBuf {
    list.iter()
        .find(|w| w.main && !w.bare)
        .map_or_else(|| canonical(repo), |w| canonical(&w.root))
}

/// Whether the branch's feature is the one the team file names: its directory name
/// (`003-user-auth`, optionally under the spec dir) or the words it was made from
/// (`User auth`).
pub fn names_feature(branch_feature: &str, wanted: &str, spec_dir: &str) -> bool {
    let wanted = wanted.trim().trim_end_matches('/');
    let wanted = wanted
        .strip_prefix(spec_dir)
        .and_then(|w| w.strip_prefix('/'))
        .unwrap_or(wanted);
    if branch_feature == wanted {
        return true;
    }
    let Ok(slug) = feature::slugify(wanted) else {
        return false;
    };
    let rest = branch_feature.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.len() < branch_feature.len() && rest.strip_prefix('-') == Some(slug.as_str())
}

/// The place of `agent` as things stand, without creating anything: `None` when its feature
/// has no worktree yet.
pub fn locate(agent: &Agent, list: &[Worktree], config: &Config) -> Option<Place> {
    let main = main_checkout(list, &agent.repo);
    let Some(wanted) = &agent.feature else {
        let branch = list
            .iter()
            .find(|w| canonical(&w.root) == main)
            .and_then(|w| w.branch.clone());
        return Some(Place {
            root: main.clone(),
            main,
            branch,
            feature_dir: None,
            linked: false,
        });
    };
    let prefix = &config.branches.feature_prefix;
    list.iter()
        .filter(|w| !w.main && w.is_live())
        .find_map(|w| {
            let branch = w.branch.as_deref()?;
            let name = feature::of_branch_with(branch, prefix)?;
            names_feature(name, wanted, &config.spec.dir).then(|| Place {
                root: canonical(&w.root),
                main: main.clone(),
                branch: Some(branch.to_owned()),
                feature_dir: Some(format!("{}/{name}", config.spec.dir)),
                linked: true,
            })
        })
}

/// How a place came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    /// It was there already.
    Found,
    /// A new worktree for an existing branch or feature directory.
    Worktree,
    /// A new feature (`gate specify --worktree`).
    Specified,
}

/// The place of `agent`, its worktree made when missing; `specify` runs `gate specify
/// FEATURE --worktree` in the given repository.
pub fn ensure(
    agent: &Agent,
    specify: &dyn Fn(&Path, &str) -> Result<(), String>,
) -> Result<(Place, Made), TeamError> {
    let fail = |message: String| TeamError::Place {
        agent: agent.name.clone(),
        message,
    };
    let repo = Repo::discover(&agent.repo)?;
    let config = Config::load(repo.root()).map_err(|e| fail(e.to_string()))?;
    let list = worktree::list(repo.root())?;
    if let Some(place) = locate(agent, &list, &config) {
        return Ok((place, Made::Found));
    }
    let wanted = agent.feature.as_deref().unwrap_or_default();
    let prefix = &config.branches.feature_prefix;
    let main = main_checkout(&list, repo.root());
    // The branch exists (but has no linked worktree): check it out in a new one.
    let branches = repo.local_branches()?;
    let existing = branches.iter().find(|b| {
        feature::of_branch_with(b, prefix)
            .is_some_and(|n| names_feature(n, wanted, &config.spec.dir))
    });
    if let Some(branch) = existing {
        if let Some(w) = list
            .iter()
            .find(|w| w.branch.as_deref() == Some(branch) && w.prunable)
        {
            return Err(fail(format!(
                "its branch {branch} belongs to worktree {}, which no longer exists; \
                 run `git worktree prune` (the branch and its commits stay), then up again",
                w.root.display()
            )));
        }
        if let Some(w) = list.iter().find(|w| w.branch.as_deref() == Some(branch)) {
            return Err(fail(format!(
                "its branch {branch} is checked out in {}; switch that checkout to another branch \
                 (git switch {}) so the engineer gets a worktree of its own",
                w.root.display(),
                config.main_branch()
            )));
        }
        let name = feature::of_branch_with(branch, prefix)
            .unwrap_or(branch)
            .to_owned();
        let dir = default_dir(&main, &name);
        refuse_occupied(&dir).map_err(fail)?;
        crate::repo::cli::git_ok(
            repo.root(),
            [
                std::ffi::OsStr::new("worktree"),
                "add".as_ref(),
                "-q".as_ref(),
                "--".as_ref(),
                dir.as_os_str(),
                branch.as_ref(),
            ],
            None,
        )?;
        return Ok((located(agent, &config)?, Made::Worktree));
    }
    // A feature directory on the trunk without a branch: a new branch for it.
    let dir_name = wanted
        .trim_start_matches(&format!("{}/", config.spec.dir))
        .trim_end_matches('/');
    if feature::number_of(dir_name).is_some() && main.join(&config.spec.dir).join(dir_name).is_dir()
    {
        let dir = default_dir(&main, dir_name);
        refuse_occupied(&dir).map_err(fail)?;
        worktree::add(repo.root(), &dir, &format!("{prefix}{dir_name}"), false)?;
        return Ok((located(agent, &config)?, Made::Worktree));
    }
    specify(repo.root(), wanted).map_err(fail)?;
    Ok((located(agent, &config)?, Made::Specified))
}

/// The place just made, found again by the same rule later runs use.
fn located(agent: &Agent, config: &Config) -> Result<Place, TeamError> {
    let list = worktree::list(&agent.repo)?;
    locate(agent, &list, config).ok_or_else(|| TeamError::Place {
        agent: agent.name.clone(),
        message: format!(
            "its worktree for feature {:?} was made but cannot be found again in `git worktree list`",
            agent.feature.as_deref().unwrap_or_default()
        ),
    })
}

/// `../<repo>-worktrees/<feature>` beside the main checkout, as `gate specify --worktree`.
fn default_dir(main: &Path, name: &str) -> PathBuf {
    let repo = main
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repo".into());
    main.parent()
        .unwrap_or(Path::new("/"))
        .join(format!("{repo}-worktrees"))
        .join(name)
}

fn refuse_occupied(dir: &Path) -> Result<(), String> {
    let occupied = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
    if occupied || (dir.exists() && !dir.is_dir()) {
        return Err(format!(
            "{} already exists and is not its worktree; move it away",
            dir.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_is_named_by_its_directory_or_its_words() {
        assert!(names_feature("003-user-auth", "User auth", "specs"));
        assert!(names_feature("003-user-auth", "003-user-auth", "specs"));
        assert!(names_feature(
            "003-user-auth",
            "specs/003-user-auth/",
            "specs"
        ));
        assert!(!names_feature("003-user-auth", "User", "specs"));
        assert!(!names_feature("user-auth", "User auth", "specs"));
        assert!(!names_feature("003-user-auth-2", "User auth", "specs"));
    }
}
