//! The project a command works on: the repository around the current directory and its config.

use anyhow::Context;
use gate::config::Config;
use gate::facts::FeatureHint;
use gate::repo::Repo;

pub struct Project {
    pub repo: Repo,
    pub config: Config,
}

impl Project {
    /// The repository containing the current directory, with its `.gate.toml`.
    pub fn open() -> anyhow::Result<Project> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let repo = Repo::discover(&cwd)?;
        let config = Config::load(repo.root())?;
        Ok(Project { repo, config })
    }

    /// Where a command looks for the feature before the branch: `--feature`, then spec-kit's
    /// environment variable.
    pub fn hint(feature: Option<&str>) -> FeatureHint {
        FeatureHint {
            argument: feature.map(str::to_owned),
            env_directory: std::env::var("SPECIFY_FEATURE_DIRECTORY").ok(),
        }
    }
}

/// Today's date in the local time zone, YYYY-MM-DD.
pub fn today() -> String {
    jiff::Zoned::now().strftime("%Y-%m-%d").to_string()
}
