//! Task IDs in a tasks file: which items define tasks and which only mention them.
//!
//! A task is defined by the task-list form the file uses: checkbox items (`- [ ] T001 ...`)
//! where the file has any, else plain list items that start with an ID (`- T001 ...`), else
//! headings that do (`### T001: ...`). Everything else that names an ID is a reference:
//! "- T002 and T003 can run in parallel", "- **T002** is the core task", the old template's
//! own "- T008 blocks T009, T015". References are checked to point at a defined task; only
//! definitions are counted and must be unique. IDs are `T` and three or more digits, with an
//! optional letter for tasks inserted later (`T048A`, `T020a`), and may be bracketed
//! (`- [ ] [T001] [P] [deps:T000] ...`, where `T000` means no dependency).

use std::collections::{HashMap, HashSet};

use super::markdown::{Finding, FindingKind, TaskCount};

/// A list item or heading whose text starts with a task ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskItem {
    pub id: String,
    pub line: usize,
    /// `Some(done)` for a checkbox item.
    pub checkbox: Option<bool>,
    pub heading: bool,
}

/// The ID at the start of `t`: `T001`, `T0123`, `T048A`; not `T01`, `T001ab` or `Test`.
pub fn id_at(t: &str) -> Option<&str> {
    let digits = t.strip_prefix('T')?;
    let n = digits.bytes().take_while(u8::is_ascii_digit).count();
    if n < 3 {
        return None;
    }
    let after = &digits.as_bytes()[n..];
    let len = match after {
        [l, rest @ ..] if l.is_ascii_alphabetic() => {
            if rest.first().is_some_and(|c| c.is_ascii_alphanumeric()) {
                return None;
            }
            n + 2
        }
        [c, ..] if c.is_ascii_alphanumeric() || *c >= 0x80 => return None,
        _ => n + 1,
    };
    Some(&t[..len])
}

/// Every task ID in `text` with its byte position, at word boundaries.
pub fn mentions(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    text.match_indices('T').filter_map(move |(i, _)| {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let next_is_digit = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        (boundary && next_is_digit)
            .then(|| id_at(&text[i..]))
            .flatten()
            .map(|id| (i, id))
    })
}

/// The verdict on a tasks file's IDs.
pub struct Judged {
    pub count: TaskCount,
    pub findings: Vec<Finding>,
}

/// Which items define tasks (see the module doc), their progress, duplicates among them, and
/// mentions of IDs that nothing defines.
pub fn judge(items: &[TaskItem], mentions: &[(String, usize)]) -> Judged {
    let defining = definitions(items);
    let mut findings = Vec::new();
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut count = TaskCount::default();
    for item in &defining {
        count.total += 1;
        if item.checkbox == Some(true) {
            count.done += 1;
        }
        if let Some(line) = first.get(item.id.as_str()) {
            findings.push(Finding::new(
                item.line,
                FindingKind::DuplicateTask,
                format!(
                    "duplicate task ID {} (first defined at line {line}); renumber one of them",
                    item.id
                ),
            ));
        } else {
            first.insert(&item.id, item.line);
        }
    }
    if defining.is_empty() {
        findings.push(Finding::new(
            1,
            FindingKind::MissingSection,
            "no tasks yet: add lines like `- [ ] T001 Create src/example.rs`",
        ));
    }
    let defined_at: HashSet<(&str, usize)> =
        defining.iter().map(|t| (t.id.as_str(), t.line)).collect();
    let mut reported = HashSet::new();
    for (id, line) in mentions {
        // `[deps:T000]`: the zero ID says "none", it names no task.
        let zero = id[1..]
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .bytes()
            .all(|b| b == b'0');
        if zero
            || first.contains_key(id.as_str())
            || defined_at.contains(&(id.as_str(), *line))
            || defining.is_empty()
            || !reported.insert((id.as_str(), *line))
        {
            continue;
        }
        findings.push(Finding::new(
            *line,
            FindingKind::UnknownTaskReference,
            format!("{id} is referred to here but no task defines it: add the task or fix the ID"),
        ));
    }
    Judged { count, findings }
}

/// The items that define tasks, in the form the file uses.
fn definitions(items: &[TaskItem]) -> Vec<&TaskItem> {
    let listed: Vec<&TaskItem> = items.iter().filter(|i| !i.heading).collect();
    if listed.iter().any(|i| i.checkbox.is_some()) {
        listed
            .into_iter()
            .filter(|i| i.checkbox.is_some())
            .collect()
    } else if !listed.is_empty() {
        listed
    } else {
        items.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, line: usize, checkbox: Option<bool>) -> TaskItem {
        TaskItem {
            id: id.into(),
            line,
            checkbox,
            heading: false,
        }
    }

    #[test]
    fn ids_with_and_without_letters() {
        assert_eq!(id_at("T001 x"), Some("T001"));
        assert_eq!(id_at("T0123: x"), Some("T0123"));
        assert_eq!(id_at("T048A Add"), Some("T048A"));
        assert_eq!(id_at("T020a"), Some("T020a"));
        assert_eq!(id_at("T01 x"), None);
        assert_eq!(id_at("T001ab"), None);
        assert_eq!(id_at("T0012x3"), None);
        assert_eq!(id_at("Test"), None);
    }

    #[test]
    fn mentions_at_word_boundaries() {
        let found: Vec<&str> =
            mentions("T008 blocks T009, T015; (T004-T007) AT001 T12 xT003 T020a.")
                .map(|(_, id)| id)
                .collect();
        assert_eq!(found, ["T008", "T009", "T015", "T004", "T007", "T020a"]);
    }

    #[test]
    fn checkbox_items_define_and_other_items_refer() {
        let items = [
            item("T001", 1, Some(false)),
            item("T002", 2, Some(true)),
            item("T002", 10, None),
            item("T001", 11, None),
        ];
        let mentions = [
            ("T001".to_string(), 1),
            ("T002".to_string(), 10),
            ("T003".to_string(), 10),
            ("T001".to_string(), 11),
        ];
        let judged = judge(&items, &mentions);
        assert_eq!(judged.count, TaskCount { done: 1, total: 2 });
        let got: Vec<(usize, FindingKind)> =
            judged.findings.iter().map(|f| (f.line, f.kind)).collect();
        assert_eq!(got, [(10, FindingKind::UnknownTaskReference)]);
    }

    #[test]
    fn plain_items_define_when_no_item_has_a_box() {
        let items = [item("T001", 1, None), item("T001", 2, None)];
        let judged = judge(&items, &[]);
        assert_eq!(judged.count.total, 2);
        assert_eq!(judged.findings[0].kind, FindingKind::DuplicateTask);
    }
}
