//! Which feature is being worked on: its number, slug and directory under `specs/`.
//!
//! Pure functions over names; the caller lists the directories and branches. A feature is
//! named `NNN-slug` (or, with spec-kit's timestamp numbering, `YYYYMMDD-HHMMSS-slug`); its
//! directory is `<spec dir>/NNN-slug` and its branch usually `<prefix>NNN-slug` (spec-kit's
//! bare style, `feature/`, or any `team/` prefix). Two directories may share a number (real
//! repositories have `007-mock-auth` beside `007-simple-ui-pages`): a branch named exactly
//! like one of them is that one; only a name that matches neither exactly is ambiguous.

use std::fmt;

use serde::Serialize;

/// A feature directory's name, `NNN-slug`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feature {
    /// `001-user-auth`
    pub name: String,
    pub number: u32,
    /// Repo-relative directory, `specs/001-user-auth`.
    pub dir: String,
    /// Whether the directory exists (in the place the caller listed).
    pub exists: bool,
}

/// How the feature was chosen, for messages and `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "from", content = "value")]
pub enum Origin {
    Argument(String),
    Environment(String),
    SpecifyJson(String),
    Branch(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Argument(v) => write!(f, "--feature {v}"),
            Origin::Environment(v) => write!(f, "SPECIFY_FEATURE_DIRECTORY={v}"),
            Origin::SpecifyJson(v) => write!(f, ".specify/feature.json ({v})"),
            Origin::Branch(v) => write!(f, "branch {v}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeatureError {
    #[error(
        "{count} directories under {spec_dir}/ share the number {key}: {}; name one exactly (a branch or --feature with its full name), or renumber all but one",
        dirs.join(", "),
        count = dirs.len()
    )]
    Ambiguous {
        spec_dir: String,
        /// The shared number (`007`) or timestamp (`20250914-143022`).
        key: String,
        dirs: Vec<String>,
    },
    #[error("{given:?} names no feature: expected NNN-name (e.g. 001-user-auth) or a number")]
    BadName { given: String },
    #[error(
        "no feature {given:?} under {spec_dir}/; features there: {}",
        list_or_none(known)
    )]
    NotFound {
        given: String,
        spec_dir: String,
        known: Vec<String>,
    },
    #[error("{given:?} gives no usable branch name: use letters or digits")]
    EmptySlug { given: String },
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none yet (create one with `gate specify \"<name>\"`)".into()
    } else {
        names.join(", ")
    }
}

/// What numbers a feature: `007` of `007-mock-auth`, `20250914-143022` of spec-kit's
/// timestamp-numbered `20250914-143022-billing`. Features are the same feature, or clash,
/// only when their keys are equal.
pub fn key_of(name: &str) -> Option<&str> {
    if let Some(stamp) = timestamp_of(name) {
        return Some(stamp);
    }
    number_of(name)?;
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    Some(&name[..digits])
}

/// `YYYYMMDD-HHMMSS` at the start of `name`, followed by `-` or the end.
fn timestamp_of(name: &str) -> Option<&str> {
    let b = name.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let ok = digits(0..8)
        && b.get(8) == Some(&b'-')
        && digits(9..15)
        && matches!(b.get(15), None | Some(b'-'));
    ok.then(|| &name[..15])
}

/// Whether `name` uses spec-kit's timestamp numbering.
pub fn is_timestamped(name: &str) -> bool {
    timestamp_of(name).is_some()
}

/// The number of an `NNN-slug` name (at least three digits, then `-`, or the end); for a
/// timestamp-numbered name, its date.
pub fn number_of(name: &str) -> Option<u32> {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if !(3..=9).contains(&digits) {
        return None;
    }
    match name.as_bytes().get(digits) {
        None | Some(b'-') => name[..digits].parse().ok(),
        _ => None,
    }
}

/// The feature a branch names: its last path component when that is `NNN-slug`.
/// `feature/001-auth`, `001-auth` and `alice/001-auth` all name `001-auth`.
pub fn of_branch(branch: &str) -> Option<&str> {
    let last = branch.rsplit('/').next()?;
    (number_of(last).is_some() && last.len() > 4).then_some(last)
}

/// The feature a branch names, knowing the configured prefix: `feat-001-auth` with prefix
/// `feat-` names `001-auth`; otherwise as [`of_branch`].
pub fn of_branch_with<'b>(branch: &'b str, prefix: &str) -> Option<&'b str> {
    branch
        .strip_prefix(prefix)
        .filter(|_| !prefix.is_empty())
        .filter(|rest| number_of(rest).is_some() && rest.len() > 4)
        .or_else(|| of_branch(branch))
}

/// Longest slug: keeps branch names and directory names well under file name limits.
const MAX_SLUG: usize = 48;

/// `"User auth: v2!"` -> `user-auth-v2`: lowercase ASCII words joined by `-`, at most five,
/// at most 48 characters (non-ASCII letters are dropped, not transliterated).
pub fn slugify(name: &str) -> Result<String, FeatureError> {
    let lowered = name.to_lowercase();
    let words: Vec<&str> = lowered
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(5)
        .collect();
    if words.is_empty() {
        return Err(FeatureError::EmptySlug { given: name.into() });
    }
    let mut slug = String::new();
    for word in words {
        let sep = usize::from(!slug.is_empty());
        if slug.len() + sep + word.len() > MAX_SLUG {
            if slug.is_empty() {
                slug.push_str(&word[..MAX_SLUG]);
            }
            break;
        }
        if sep == 1 {
            slug.push('-');
        }
        slug.push_str(word);
    }
    Ok(slug)
}

/// One more than the highest number among feature directories and branches.
pub fn next_number<'a>(names: impl IntoIterator<Item = &'a str>) -> u32 {
    names
        .into_iter()
        .filter_map(|n| of_branch(n).or(Some(n)))
        // Timestamps are not a sequence to continue.
        .filter(|n| !is_timestamped(n))
        .filter_map(number_of)
        .max()
        .unwrap_or(0)
        + 1
}

/// `number` and `slug` as a feature name, zero-padded to three digits.
pub fn name_for(number: u32, slug: &str) -> String {
    format!("{number:03}-{slug}")
}

/// Finds the directory for `wanted` (`NNN-slug`, or just `NNN`) among the entries of the spec
/// directory. An exact name wins, even when other directories share its number; otherwise the
/// one directory with that number (spec-kit lets several branches share one spec by number).
/// Two directories with that number and neither named exactly is an error, never a guess.
/// No match yields the directory that would hold it, marked as not existing.
pub fn locate(spec_dir: &str, wanted: &str, entries: &[String]) -> Result<Feature, FeatureError> {
    let number = number_of(wanted).ok_or_else(|| FeatureError::BadName {
        given: wanted.into(),
    })?;
    let dir = |name: &str| format!("{spec_dir}/{name}");
    if entries.iter().any(|e| e == wanted) {
        return Ok(Feature {
            name: wanted.into(),
            number,
            dir: dir(wanted),
            exists: true,
        });
    }
    check_unique(spec_dir, wanted, entries)?;
    let key = key_of(wanted);
    let same: Vec<&String> = entries.iter().filter(|e| key_of(e) == key).collect();
    match same.as_slice() {
        [] if wanted.len() > 3 => Ok(Feature {
            name: wanted.into(),
            number,
            dir: dir(wanted),
            exists: false,
        }),
        [] => Err(FeatureError::NotFound {
            given: wanted.into(),
            spec_dir: spec_dir.into(),
            known: entries
                .iter()
                .filter(|e| number_of(e).is_some())
                .cloned()
                .collect(),
        }),
        // check_unique above leaves at most one.
        [one, ..] => Ok(Feature {
            name: (*one).clone(),
            number,
            dir: dir(one),
            exists: true,
        }),
    }
}

/// Before trusting a name that is not a directory's exact name, make sure its number is not
/// shared on disk.
pub fn check_unique(spec_dir: &str, wanted: &str, entries: &[String]) -> Result<(), FeatureError> {
    let Some(key) = key_of(wanted) else {
        return Ok(());
    };
    let mut same: Vec<String> = entries
        .iter()
        .filter(|e| key_of(e) == Some(key))
        .cloned()
        .collect();
    if same.len() > 1 {
        same.sort();
        return Err(FeatureError::Ambiguous {
            spec_dir: spec_dir.into(),
            key: key.to_owned(),
            dirs: same,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn numbers() {
        assert_eq!(number_of("001-auth"), Some(1));
        assert_eq!(number_of("1234-x"), Some(1234));
        assert_eq!(number_of("007"), Some(7));
        assert_eq!(number_of("01-x"), None);
        assert_eq!(number_of("001x"), None);
        assert_eq!(number_of("auth"), None);
    }

    #[test]
    fn branches_name_features_by_their_last_component() {
        assert_eq!(of_branch("feature/001-user-auth"), Some("001-user-auth"));
        assert_eq!(of_branch("001-user-auth"), Some("001-user-auth"));
        assert_eq!(of_branch("alice/fix/002-x"), Some("002-x"));
        assert_eq!(of_branch("main"), None);
        assert_eq!(of_branch("feature/auth"), None);
        assert_eq!(of_branch("release/001"), None);
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("User auth").unwrap(), "user-auth");
        assert_eq!(
            slugify("  Add: OAuth2 / SSO login!! ").unwrap(),
            "add-oauth2-sso-login"
        );
        assert_eq!(
            slugify("one two three four five six").unwrap(),
            "one-two-three-four-five"
        );
        assert_eq!(slugify("über café").unwrap(), "ber-caf");
        assert!(slugify("../;$()").is_err());
        assert!(slugify("日本").is_err());
        assert_eq!(slugify(&"x".repeat(300)).unwrap().len(), MAX_SLUG);
        assert_eq!(
            slugify(&"abcdefghij ".repeat(6)).unwrap(),
            "abcdefghij-abcdefghij-abcdefghij-abcdefghij"
        );
    }

    #[test]
    fn prefixes_without_a_slash_still_name_features() {
        assert_eq!(of_branch_with("feat-001-auth", "feat-"), Some("001-auth"));
        assert_eq!(
            of_branch_with("feature/001-auth", "feat-"),
            Some("001-auth")
        );
        assert_eq!(of_branch_with("feat-x", "feat-"), None);
        assert_eq!(of_branch_with("001-auth", ""), Some("001-auth"));
    }

    #[test]
    fn next_number_counts_dirs_and_branches() {
        assert_eq!(next_number([]), 1);
        assert_eq!(
            next_number(["001-a", "main", "feature/004-b", "README.md"]),
            5
        );
        assert_eq!(name_for(5, "x"), "005-x");
        assert_eq!(name_for(1000, "x"), "1000-x");
    }

    #[test]
    fn locate_prefers_exact_then_unique_number() {
        let e = names(&["001-auth", "002-billing", "notes"]);
        assert_eq!(
            locate("specs", "001-auth", &e).unwrap().dir,
            "specs/001-auth"
        );
        let by_number = locate("specs", "002", &e).unwrap();
        assert_eq!(
            (by_number.name.as_str(), by_number.exists),
            ("002-billing", true)
        );
        let shared = locate("specs", "002-billing-fix", &e).unwrap();
        assert_eq!(shared.name, "002-billing");
        let missing = locate("specs", "003-new", &e).unwrap();
        assert!(!missing.exists);
        assert!(matches!(
            locate("specs", "009", &e),
            Err(FeatureError::NotFound { .. })
        ));
        assert!(matches!(
            locate("specs", "auth", &e),
            Err(FeatureError::BadName { .. })
        ));
    }

    #[test]
    fn two_dirs_sharing_a_number_resolve_by_exact_name_only() {
        let e = names(&["007-mock-auth", "007-simple-ui-pages"]);
        assert_eq!(
            locate("specs", "007-simple-ui-pages", &e).unwrap().dir,
            "specs/007-simple-ui-pages"
        );
        let err = locate("specs", "007-other", &e).unwrap_err();
        assert!(
            err.to_string()
                .contains("007-mock-auth, 007-simple-ui-pages"),
            "{err}"
        );
        assert!(locate("specs", "007", &e).is_err());
        assert!(check_unique("specs", "007", &e).is_err());
        assert!(check_unique("specs", "008-x", &e).is_ok());
    }

    #[test]
    fn timestamp_numbering_is_its_own_key() {
        let e = names(&["20250914-143022-billing", "20250914-160501-search"]);
        let f = locate("specs", "20250914-160501-search", &e).unwrap();
        assert_eq!(
            (f.dir.as_str(), f.exists),
            ("specs/20250914-160501-search", true)
        );
        // Same day, other time: not the same feature, not a clash.
        let by_stamp = locate("specs", "20250914-143022", &e).unwrap();
        assert_eq!(by_stamp.name, "20250914-143022-billing");
        assert_eq!(key_of("20250914-143022-billing"), Some("20250914-143022"));
        assert_eq!(key_of("007-x"), Some("007"));
        assert_eq!(
            of_branch("20250914-143022-billing"),
            Some("20250914-143022-billing")
        );
        assert_eq!(next_number(["20250914-143022-billing", "002-a"]), 3);
    }
}
