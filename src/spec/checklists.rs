//! The checklists a feature keeps under `checklists/` (spec-kit's `/speckit.checklist`
//! writes them, `/speckit.specify` writes `requirements.md`). spec-kit's implement step stops
//! while any of them has an unchecked item, so gate does too; a checklist whose purpose or
//! gate line names another step ("before proceeding to planning") holds back that step.

use std::path::Path;

use super::gates::{self, Step};
use super::markdown::{self, Finding};

/// The directory, inside a feature's directory, that holds its checklists.
pub const DIR: &str = "checklists";

/// How many lines from the top a purpose or GATE line may be.
const HEAD_LINES: usize = 40;

/// The step a checklist (its text `bytes`) holds back: its GATE or purpose line
/// when that names one, else implementation.
pub fn step_of(bytes: &[u8]) -> Step {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(8 * 1024)]);
    text.lines()
        .take(HEAD_LINES)
        .filter(|l| {
            let lower = l.to_lowercase();
            lower.contains("gate") || lower.contains("purpose") || lower.contains("propósito")
        })
        .find_map(gates::classify)
        .unwrap_or(Step::Implement)
}

/// The findings of every `checklists/*.md` of the feature at `feature_dir` (repo-relative)
/// in the working tree at `root`, in name order. A checklist that cannot be read is a
/// finding; a symlink out of the repository, a FIFO or an oversized file is never opened.
pub fn read(root: &Path, feature_dir: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for rel in names(root, feature_dir) {
        let path = root.join(&rel);
        let analysis = if !crate::confine::inside(root, &path) {
            markdown::Analysis {
                findings: vec![Finding::new(
                    1,
                    markdown::FindingKind::Unreadable,
                    "the checklist leads outside the repository (through a symlink); replace it with a plain file",
                )],
                ..markdown::Analysis::default()
            }
        } else if !path.is_file() {
            markdown::not_a_file()
        } else {
            match read_bounded(&path) {
                Ok(bytes) => {
                    findings.extend(analyse(&rel, &bytes));
                    continue;
                }
                Err(_) => markdown::not_a_file(),
            }
        };
        findings.extend(analysis.findings.into_iter().map(|mut f| {
            f.path = Some(rel.clone());
            f.gates = Some(Step::Implement);
            f
        }));
    }
    findings
}

/// The repo-relative paths of the feature's `checklists/*.md` in the working tree at `root`,
/// sorted; for reading them from somewhere else (the index the pre-commit hook judges).
pub fn names(root: &Path, feature_dir: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join(feature_dir).join(DIR)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md") && !n.starts_with('.'))
        .map(|n| format!("{feature_dir}/{DIR}/{n}"))
        .collect();
    names.sort();
    names
}

/// The finding for a checklist the index holds in conflict: it gates implementation until it
/// is resolved.
pub fn conflicted(path: &str) -> Finding {
    let mut f = Finding::new(
        1,
        markdown::FindingKind::Unreadable,
        "conflicted in the index; resolve it and `git add` it",
    );
    f.path = Some(path.to_owned());
    f.gates = Some(Step::Implement);
    f
}

/// The findings of the checklists among `paths` (repo-relative, any order, repeats allowed):
/// those directly in `feature_dir/checklists/` ending `.md`, each read with `read` (`None`:
/// unreadable, skipped). For checklists held somewhere other than the working tree (the index
/// the pre-commit hook judges).
pub fn among(
    feature_dir: &str,
    paths: impl IntoIterator<Item = String>,
    read: impl Fn(&str) -> Option<Vec<u8>>,
) -> Vec<Finding> {
    let prefix = format!("{feature_dir}/{DIR}/");
    let names: std::collections::BTreeSet<String> = paths
        .into_iter()
        .filter(|p| {
            p.strip_prefix(&prefix)
                .is_some_and(|n| n.ends_with(".md") && !n.contains('/') && !n.starts_with('.'))
        })
        .collect();
    names
        .into_iter()
        .filter_map(|p| read(&p).map(|bytes| analyse(&p, &bytes)))
        .flatten()
        .collect()
}

/// At most one byte over the artifact limit, so an oversized file is reported, not loaded.
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(markdown::MAX_ARTIFACT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Every finding in the checklist at repo-relative `path`, each naming that path.
pub fn analyse(path: &str, bytes: &[u8]) -> Vec<Finding> {
    let step = step_of(bytes);
    let analysis = markdown::analyse_checklist(bytes, step);
    let mut findings: Vec<Finding> = analysis.findings;
    findings.extend(analysis.deferred);
    for f in &mut findings {
        f.path = Some(path.to_owned());
        f.gates = Some(step);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::markdown::FindingKind;

    #[test]
    fn requirements_checklist_gates_planning_others_implementation() {
        let requirements = "# Specification Quality Checklist: X\n\n**Purpose**: Validate specification completeness and quality before proceeding to planning\n\n- [x] a\n- [ ] b\n";
        assert_eq!(step_of(requirements.as_bytes()), Step::Plan);
        let ux =
            "# UX Checklist: X\n\n**Purpose**: Validate the UX requirements\n\n- [ ] CHK001 a\n";
        assert_eq!(step_of(ux.as_bytes()), Step::Implement);
        let done = "# Release\n\n*GATE: checked before marking complete*\n\n- [ ] all tests pass\n";
        assert_eq!(step_of(done.as_bytes()), Step::Complete);
    }

    #[test]
    fn every_unchecked_item_is_a_finding_at_its_line() {
        let text = "# UX Checklist\n\n## Clarity\n\n- [x] CHK001 a\n- [ ] CHK002 b\n\n## Notes\n\n- [ ] CHK003 c\n";
        let findings = analyse("specs/001-x/checklists/ux.md", text.as_bytes());
        let got: Vec<(usize, FindingKind)> = findings.iter().map(|f| (f.line, f.kind)).collect();
        assert_eq!(
            got,
            [
                (6, FindingKind::UncheckedGateItem),
                (10, FindingKind::UncheckedGateItem)
            ]
        );
        assert_eq!(
            findings[0].path.as_deref(),
            Some("specs/001-x/checklists/ux.md")
        );
    }
}
