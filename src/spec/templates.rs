//! The spec, plan and tasks templates: built into the binary, written to the repository by
//! `gate init` so a team can edit them, and read from the repository when present.

use std::path::{Path, PathBuf};

use super::ArtifactKind;

const SPEC: &str = include_str!("../../spec-kit/templates/spec-template.md");
const PLAN: &str = include_str!("../../spec-kit/templates/plan-template.md");
const TASKS: &str = include_str!("../../spec-kit/templates/tasks-template.md");

/// The template shipped with gate.
pub fn builtin(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::Spec => SPEC,
        ArtifactKind::Plan => PLAN,
        ArtifactKind::Tasks => TASKS,
    }
}

/// A template and where it came from.
pub struct Template {
    pub text: String,
    /// The repository's copy, or `None` for the built-in one.
    pub path: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot use the template {}: {reason}; fix the file or delete it to use gate's built-in template", path.display())]
pub struct TemplateError {
    pub path: PathBuf,
    pub reason: String,
}

/// The repository's template when it has one, else the built-in.
pub fn load(
    root: &Path,
    templates_dir: &str,
    kind: ArtifactKind,
) -> Result<Template, TemplateError> {
    let path = root.join(templates_dir).join(kind.template_name());
    let fail = |reason: String| TemplateError {
        path: path.clone(),
        reason,
    };
    // A committed symlink could make a template of any local file (which `gate specify`
    // would then write into a spec and the next commit publish), or of /dev/zero.
    if path.symlink_metadata().is_ok() && !crate::confine::inside(root, &path) {
        return Err(fail(
            "it leads outside the repository (through a symlink)".into(),
        ));
    }
    if let Err(e) = crate::confine::is_regular(&path) {
        return Err(fail(e.to_string()));
    }
    match std::fs::read(&path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(Template {
                text,
                path: Some(path.clone()),
            }),
            Err(_) => Err(fail("it is not valid UTF-8".into())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Template {
            text: builtin(kind).to_owned(),
            path: None,
        }),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// The feature's title as its spec names it: the first heading, after any "...: " label
/// ("# Feature Specification: User auth" gives "User auth").
pub fn title_of(spec: &str) -> Option<String> {
    let heading = spec.lines().find_map(|l| l.strip_prefix("# "))?;
    let title = heading.split_once(": ").map_or(heading, |(_, t)| t).trim();
    (!title.is_empty()).then(|| title.to_owned())
}

/// The values gate fills in when it writes a new artifact.
pub struct Vars<'a> {
    /// The feature as its author named it ("User auth").
    pub feature: &'a str,
    pub branch: &'a str,
    /// Today, YYYY-MM-DD.
    pub date: &'a str,
    /// Zero-padded, "001".
    pub number: &'a str,
}

/// Replaces `{{feature}}`, `{{branch}}`, `{{date}}` and `{{number}}`; every other `{{...}}`
/// is a blank for the author and stays.
pub fn render(template: &str, vars: &Vars<'_>) -> String {
    template
        .replace("{{feature}}", vars.feature)
        .replace("{{branch}}", vars.branch)
        .replace("{{date}}", vars.date)
        .replace("{{number}}", vars.number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::markdown::analyse;

    #[test]
    fn titles_come_from_the_first_heading() {
        assert_eq!(
            title_of("<!-- x -->\n# Feature Specification: User auth\n").as_deref(),
            Some("User auth")
        );
        assert_eq!(title_of("# Login\n").as_deref(), Some("Login"));
        assert_eq!(title_of("no heading"), None);
    }

    #[test]
    fn rendered_templates_are_incomplete_until_filled() {
        let vars = Vars {
            feature: "User auth",
            branch: "feature/001-user-auth",
            date: "2026-01-02",
            number: "001",
        };
        for kind in ArtifactKind::ALL {
            let text = render(builtin(kind), &vars);
            assert!(!text.contains("{{feature}}") && !text.contains("{{date}}"));
            let analysis = analyse(kind, text.as_bytes());
            assert!(!analysis.is_complete(), "{kind:?} template passes unfilled");
        }
    }
}
