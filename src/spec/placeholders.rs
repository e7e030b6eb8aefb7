//! Unfinished text: the blanks and markers an author leaves for later. gate's `{{...}}`,
//! spec-kit's `[NEEDS CLARIFICATION: ...]` (and its translations), `$ARGUMENTS`,
//! `[###-feature-name]`, bracketed ALL-CAPS tokens (`[FEATURE NAME]`, `[DATE]`) and the plan
//! template's unfilled `[e.g., ... or NEEDS CLARIFICATION]`. Task markers (`[P]`, `[US1]`) and
//! IDs (`[FR-001]`) are not placeholders.

use super::markdown::{Finding, FindingKind};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strictness {
    All,
    /// Only `{{...}}`, `$ARGUMENTS`, `[###...]` and `[NEEDS CLARIFICATION: ...]`.
    UnmistakableOnly,
}

/// Every unresolved placeholder in `run`, with its byte position.
pub(crate) fn placeholders(run: &str, strictness: Strictness) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    for (i, _) in run.match_indices("{{") {
        if let Some(end) = run[i..].find("}}") {
            found.push((i, &run[i..i + end + 2]));
        }
    }
    for (i, m) in run.match_indices("$ARGUMENTS") {
        found.push((i, m));
    }
    for (i, _) in run.match_indices('[') {
        let rest = &run[i + 1..];
        let Some(end) = rest.find([']', '[']) else {
            continue;
        };
        if rest.as_bytes()[end] != b']' || end > 200 {
            continue;
        }
        let inner = &rest[..end];
        let unmistakable = is_question(inner) || inner.starts_with("###");
        if unmistakable || (strictness == Strictness::All && is_bracket_placeholder(inner)) {
            found.push((i, &run[i..i + end + 2]));
        }
    }
    found.sort_by_key(|&(i, _)| i);
    found
}

/// `[NEEDS CLARIFICATION: ...]`, `[###-feature-name]`, `[FEATURE NAME]`, `[DATE]`; but not the
/// task markers `[P]`, `[US1]`, or IDs such as `[FR-001]`.
fn is_bracket_placeholder(inner: &str) -> bool {
    let inner = inner.trim();
    if is_question(inner) || inner.contains("###") {
        return true;
    }
    // "No [NEEDS CLARIFICATION] markers remain" mentions the marker; it is not one.
    if inner == "NEEDS CLARIFICATION" {
        return false;
    }
    // The plan template's "[e.g., Python 3.11 or NEEDS CLARIFICATION]": never filled in.
    if inner.contains("NEEDS CLARIFICATION") {
        return true;
    }
    let letters = inner.chars().filter(|c| c.is_alphabetic()).count();
    let all_caps = inner
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || " _-/.,:#&'".contains(c));
    let is_id = {
        let t = inner.trim_start_matches(|c: char| c.is_ascii_uppercase());
        let t = t.strip_prefix('-').unwrap_or(t);
        !t.is_empty() && t.chars().all(|c| c.is_ascii_digit())
    };
    all_caps && letters >= 2 && !is_id
}

/// The open-question marker, as spec-kit writes it and as teams translate it.
const QUESTION_MARKERS: [&str; 4] = [
    "NEEDS CLARIFICATION:",
    "PRECISA DE ESCLARECIMENTO:",
    "PRECISA ESCLARECIMENTO:",
    "NECESITA ACLARACIÓN:",
];

fn is_question(inner: &str) -> bool {
    let inner = inner.trim_start();
    QUESTION_MARKERS.iter().any(|m| inner.starts_with(m))
}

pub(crate) fn placeholder_finding(line: usize, token: &str) -> Finding {
    let shown: String = token.chars().take(80).collect();
    let shown = if shown.len() < token.len() {
        format!("{shown}…")
    } else {
        shown
    };
    if is_question(&token[1..]) {
        Finding::new(
            line,
            FindingKind::OpenQuestion,
            format!("open question {shown}: answer it in the text and remove the marker"),
        )
    } else {
        Finding::new(
            line,
            FindingKind::Placeholder,
            format!("unresolved placeholder {shown}: replace it with the real content"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracket_rules() {
        for yes in [
            "FEATURE NAME",
            "DATE",
            "###-feature-name",
            "NEEDS CLARIFICATION: x",
            "TODO",
        ] {
            assert!(is_bracket_placeholder(yes), "{yes}");
        }
        assert!(is_bracket_placeholder(
            "e.g., Python 3.11, Rust 1.75 or NEEDS CLARIFICATION"
        ));
        assert!(is_bracket_placeholder(
            "PRECISA DE ESCLARECIMENTO: qual limite?"
        ));
        for no in [
            "P",
            "US1",
            "T001",
            "FR-001",
            "x",
            "X",
            "Brief title",
            "e.g. 3",
            "NEEDS CLARIFICATION",
        ] {
            assert!(!is_bracket_placeholder(no), "{no}");
        }
    }
}
