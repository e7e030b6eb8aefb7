//! Gathers the facts the rules need, once per decision: HEAD, the operation in progress, the
//! feature and its three artifacts (read from the working tree, or from the feature's branch
//! when it is checked from elsewhere), and when each artifact was first committed.

use std::path::Path;

use crate::config::Config;
use crate::repo::history::Staged;
use crate::repo::{Repo, RepoError};
use crate::rules::{ArtifactFacts, Code, Facts, FeatureFacts, Question, Subject, Violation};
use crate::spec::ArtifactKind;
use crate::spec::feature::{self, Feature, FeatureError, Origin};
use crate::spec::markdown::{self, Analysis, Finding, FindingKind};

/// How far back the history-order check looks on the first-parent line.
const HISTORY_LIMIT: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Cli(#[from] crate::repo::cli::CliError),
    #[error(transparent)]
    Feature(#[from] FeatureError),
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where the caller wants the feature taken from, before the branch is consulted.
#[derive(Debug, Clone, Default)]
pub struct FeatureHint {
    /// `--feature NAME`.
    pub argument: Option<String>,
    /// spec-kit's `SPECIFY_FEATURE_DIRECTORY`.
    pub env_directory: Option<String>,
}

/// Which feature applies and why, or `None` when nothing names one.
pub fn resolve_feature(
    repo: &Repo,
    config: &Config,
    hint: &FeatureHint,
    branch: Option<&str>,
) -> Result<Option<(Feature, Origin)>, FactsError> {
    let entries = spec_entries(repo, config)?;
    let spec_dir = config.spec.dir.trim_end_matches('/');
    let named = |name: &str| feature::locate(spec_dir, name, &entries);
    if let Some(arg) = &hint.argument {
        let name = last_component(arg);
        let found = match named(name) {
            Ok(f) if f.exists => f,
            // Not in this working tree: the feature may live only on its own branch.
            Ok(_) | Err(FeatureError::NotFound { .. }) => {
                on_branch(repo, config, spec_dir, name, &entries)?
            }
            Err(e) => return Err(e.into()),
        };
        return Ok(Some((found, Origin::Argument(arg.clone()))));
    }
    // The branch outranks a pointer: spec-kit's pointers go stale (nothing moves them when a
    // feature is finished), and a stale one must not let another feature's complete spec open
    // this branch's gate. A pointer that disagrees is reported by [`pointer_finding`].
    let prefix = &config.branches.feature_prefix;
    if let Some(name) = branch.and_then(|b| feature::of_branch_with(b, prefix)) {
        return Ok(Some((
            named(name)?,
            Origin::Branch(branch.unwrap_or_default().into()),
        )));
    }
    if let Some(dir) = hint.env_directory.as_deref().filter(|d| !d.is_empty()) {
        return Ok(Some((
            named(last_component(dir))?,
            Origin::Environment(dir.into()),
        )));
    }
    if let Some(dir) = specify_json_directory(repo.root()) {
        return Ok(Some((
            named(last_component(&dir))?,
            Origin::SpecifyJson(dir),
        )));
    }
    Ok(None)
}

/// A feature pointer (`SPECIFY_FEATURE_DIRECTORY`, `.specify/feature.json` in the working tree
/// at `root`) naming another feature than the branch does: a finding for `gate check`, never
/// an override.
pub fn pointer_finding(
    root: &Path,
    config: &Config,
    hint: &FeatureHint,
    branch: Option<&str>,
) -> Option<Violation> {
    if hint.argument.is_some() {
        return None;
    }
    let branch = branch?;
    let name = feature::of_branch_with(branch, &config.branches.feature_prefix)?;
    let pointers = [
        hint.env_directory
            .clone()
            .filter(|d| !d.is_empty())
            .map(|d| ("SPECIFY_FEATURE_DIRECTORY", d)),
        specify_json_directory(root).map(|d| (".specify/feature.json", d)),
    ];
    let (source, dir) = pointers
        .into_iter()
        .flatten()
        .find(|(_, dir)| last_component(dir) != name)?;
    let fix = if source == "SPECIFY_FEATURE_DIRECTORY" {
        "unset SPECIFY_FEATURE_DIRECTORY (or point it at this branch's feature)".to_owned()
    } else {
        format!(
            "point .specify/feature.json at {}/{name} or delete it (gate specify keeps it in step)",
            config.spec.dir
        )
    };
    Some(Violation {
        code: Code::ImplementationGate,
        subject: Subject::Branch,
        message: format!(
            "{source} points at {dir}, but branch {branch} is feature {name}: the branch decides, the pointer is stale"
        ),
        fix,
        paths: Vec::new(),
        findings: Vec::new(),
    })
}

/// Moves `.specify/feature.json` to `feature_dir` when the file exists (spec-kit's pointer
/// kept in step by `gate specify`); a missing file stays missing.
pub fn update_pointer(root: &Path, feature_dir: &str) -> std::io::Result<bool> {
    let path = root.join(".specify/feature.json");
    if !crate::confine::is_regular(&path)? {
        return Ok(false);
    }
    crate::confine::check_inside(root, &path).map_err(std::io::Error::other)?;
    let mut value: serde_json::Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    let key = POINTER_KEYS
        .iter()
        .find(|k| value.get(**k).is_some_and(serde_json::Value::is_string))
        .copied()
        .unwrap_or(POINTER_KEYS[0]);
    value[key] = serde_json::Value::String(feature_dir.to_owned());
    let mut text = serde_json::to_string_pretty(&value).expect("JSON values serialise");
    text.push('\n');
    let tmp = path.with_file_name("feature.json.gate-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(true)
}

/// Facts for `question`, with the feature resolved from `hint` or the branch.
pub fn gather(
    repo: &Repo,
    config: &Config,
    hint: &FeatureHint,
    question: Question,
) -> Result<(Facts, Option<Origin>), FactsError> {
    let head = repo.head()?;
    let resolved = resolve_feature(repo, config, hint, head.branch())?;
    // History is for `gate check`; the commit hook judges the staged change, not the past.
    let with_history = matches!(question, Question::MayImplement { .. });
    let (feature, origin) = match resolved {
        Some((f, o)) => (Some(feature_facts(repo, f, with_history)?), Some(o)),
        None => (None, None),
    };
    let facts = Facts {
        head,
        operation: repo.operation(),
        feature,
        question,
    };
    Ok((facts, origin))
}

/// [`gather`] for a commit: the artifacts are read as staged in `index_file` (git's
/// `GIT_INDEX_FILE`, else the repository's index), which is what the commit will hold; the
/// working-tree copies may say anything.
pub fn gather_staged(
    repo: &Repo,
    config: &Config,
    hint: &FeatureHint,
    question: Question,
    index_file: Option<&Path>,
) -> Result<(Facts, Option<Origin>), FactsError> {
    let head = repo.head()?;
    let resolved = resolve_feature(repo, config, hint, head.branch())?;
    let (feature, origin) = match resolved {
        Some((f, o)) => (Some(staged_feature_facts(repo, f, index_file)?), Some(o)),
        None => (None, None),
    };
    let facts = Facts {
        head,
        operation: repo.operation(),
        feature,
        question,
    };
    Ok((facts, origin))
}

/// The three artifacts of `feature` as staged. A conflicted artifact is incomplete.
fn staged_feature_facts(
    repo: &Repo,
    feature: Feature,
    index_file: Option<&Path>,
) -> Result<FeatureFacts, FactsError> {
    let mut paths: Vec<String> = ArtifactKind::ALL
        .iter()
        .map(|kind| format!("{}/{}", feature.dir, kind.file_name()))
        .collect();
    // checklists/*.md gate their steps here as in `gate check` (issue 12): the ones in the
    // working tree, judged as staged, looked up in the same pass as the artifacts.
    let checklist_paths = crate::spec::checklists::names(repo.root(), &feature.dir);
    paths.extend(checklist_paths.iter().cloned());
    let wanted: Vec<&str> = paths.iter().map(String::as_str).collect();
    let mut staged = repo.staged_blobs(index_file, &wanted)?;
    let staged_checklists = staged.split_off(ArtifactKind::ALL.len().min(staged.len()));
    let mut artifacts: Vec<ArtifactFacts> = ArtifactKind::ALL
        .into_iter()
        .zip(paths)
        .zip(staged)
        .map(|((kind, path), staged)| {
            let analysis = match staged {
                // Written but not staged: say so, rather than "missing" and "run gate specify".
                Staged::Missing if repo.root().join(&path).exists() => Some(Analysis {
                    findings: vec![Finding::new(
                        1,
                        FindingKind::Unreadable,
                        format!("not staged: this commit would not hold it; `git add {path}`"),
                    )],
                    ..Analysis::default()
                }),
                Staged::Missing => None,
                Staged::Blob(b) => Some(markdown::analyse(kind, &b)),
                Staged::Conflicted => Some(Analysis {
                    findings: vec![Finding::new(
                        1,
                        FindingKind::Unreadable,
                        "conflicted in the index; resolve it and `git add` it",
                    )],
                    ..Analysis::default()
                }),
            };
            ArtifactFacts {
                kind,
                analysis,
                path,
                first_commit: None,
            }
        })
        .collect();
    let checklists = checklist_paths
        .iter()
        .zip(staged_checklists)
        .flat_map(|(path, staged)| match staged {
            Staged::Blob(b) => crate::spec::checklists::analyse(path, &b),
            Staged::Conflicted => vec![crate::spec::checklists::conflicted(path)],
            Staged::Missing => Vec::new(),
        })
        .collect();
    let mut slots: Vec<&mut Option<Analysis>> =
        artifacts.iter_mut().map(|a| &mut a.analysis).collect();
    crate::spec::gates::distribute(&mut slots, checklists);
    Ok(FeatureFacts { feature, artifacts })
}

/// Reads and checks the three artifacts of `feature`. When its directory is not in this
/// working tree, reads them from the feature's own branch if one exists.
pub fn feature_facts(
    repo: &Repo,
    feature: Feature,
    with_history: bool,
) -> Result<FeatureFacts, FactsError> {
    let branch = if feature.exists {
        None
    } else {
        branch_of(repo, &feature.name)?
    };
    let names: Vec<&str> = ArtifactKind::ALL.iter().map(|k| k.file_name()).collect();
    let history = if with_history {
        repo.first_commits(branch.as_deref(), &feature.dir, &names, HISTORY_LIMIT)?
    } else {
        vec![None; names.len()]
    };
    let mut artifacts = Vec::with_capacity(3);
    for (kind, first_commit) in ArtifactKind::ALL.into_iter().zip(history) {
        let path = format!("{}/{}", feature.dir, kind.file_name());
        let analysis = match &branch {
            Some(b) => repo
                .read_from_branch(b, &path)
                .map(|bytes| markdown::analyse(kind, &bytes)),
            None => {
                analyse_file(kind, &repo.root().join(&path)).map_err(|source| FactsError::Read {
                    path: path.clone(),
                    source,
                })?
            }
        };
        artifacts.push(ArtifactFacts {
            kind,
            analysis,
            path,
            first_commit,
        });
    }
    // checklists/*.md gate the steps they name (spec-kit's implement step gates on them),
    // read where the artifacts were read.
    let checklists = match &branch {
        None => crate::spec::checklists::read(repo.root(), &feature.dir),
        Some(b) => {
            let dir = format!("{}/{}", feature.dir, crate::spec::checklists::DIR);
            let names = repo.list_on_branch(b, &dir);
            crate::spec::checklists::among(
                &feature.dir,
                names.into_iter().map(|n| format!("{dir}/{n}")),
                |p| repo.read_from_branch(b, p),
            )
        }
    };
    let mut slots: Vec<&mut Option<Analysis>> =
        artifacts.iter_mut().map(|a| &mut a.analysis).collect();
    crate::spec::gates::distribute(&mut slots, checklists);
    Ok(FeatureFacts { feature, artifacts })
}

/// The local branch that names `feature`, if any.
fn branch_of(repo: &Repo, feature: &str) -> Result<Option<String>, FactsError> {
    Ok(repo
        .local_branches()?
        .into_iter()
        .find(|b| feature::of_branch(b) == Some(feature)))
}

/// An explicitly named feature that is not in this working tree: the one local branch that
/// names it (by full name or by number), or a clear error listing what exists.
fn on_branch(
    repo: &Repo,
    config: &Config,
    spec_dir: &str,
    wanted: &str,
    entries: &[String],
) -> Result<Feature, FactsError> {
    let prefix = &config.branches.feature_prefix;
    let branch_features: Vec<String> = repo
        .local_branches()?
        .iter()
        .filter_map(|b| feature::of_branch_with(b, prefix).map(str::to_owned))
        .collect();
    let number = feature::number_of(wanted);
    let matching = branch_features.iter().find(|f| {
        *f == wanted
            || (wanted.len() <= 9
                && number.is_some()
                && feature::number_of(f) == number
                && !wanted.contains('-'))
    });
    match matching {
        Some(name) => Ok(Feature {
            name: name.clone(),
            number: feature::number_of(name).unwrap_or_default(),
            dir: format!("{spec_dir}/{name}"),
            exists: false,
        }),
        None => {
            let mut known: Vec<String> = entries.iter().chain(&branch_features).cloned().collect();
            known.sort();
            known.dedup();
            Err(FeatureError::NotFound {
                given: wanted.into(),
                spec_dir: spec_dir.into(),
                known,
            }
            .into())
        }
    }
}

/// Names in the spec directory that look like features (`NNN-...` directories).
pub fn spec_entries(repo: &Repo, config: &Config) -> Result<Vec<String>, FactsError> {
    let dir = repo.root().join(&config.spec.dir);
    let read = match std::fs::read_dir(&dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(FactsError::Read {
                path: config.spec.dir.to_string(),
                source,
            });
        }
    };
    let mut names: Vec<String> = read
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| feature::number_of(n).is_some())
        .collect();
    names.sort();
    Ok(names)
}

/// Checks the artifact at `path`; `None` when it does not exist. Never blocks or loads an
/// unbounded file: a FIFO or device is a finding, and at most one byte over the limit is read.
fn analyse_file(kind: ArtifactKind, path: &Path) -> std::io::Result<Option<Analysis>> {
    use std::io::Read;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !meta.is_file() {
        return Ok(Some(markdown::not_a_file()));
    }
    if meta.len() > markdown::MAX_ARTIFACT_BYTES as u64 {
        return Ok(Some(markdown::too_large(meta.len())));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(markdown::MAX_ARTIFACT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(Some(markdown::analyse(kind, &bytes)))
}

fn last_component(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// The keys spec-kit versions have used for the feature directory.
const POINTER_KEYS: [&str; 4] = [
    "feature_directory",
    "featureDirectory",
    "feature_dir",
    "directory",
];

/// spec-kit records the active feature in `.specify/feature.json`.
fn specify_json_directory(root: &Path) -> Option<String> {
    let path = root.join(".specify/feature.json");
    crate::confine::is_regular(&path).ok().filter(|&f| f)?;
    let bytes = std::fs::read(path).ok()?;
    pointer_in_json(&bytes)
}

/// The feature directory a `.specify/feature.json` names.
pub fn pointer_in_json(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    POINTER_KEYS
        .iter()
        .find_map(|k| value.get(k)?.as_str().map(str::to_owned))
}
