//! The tasks of a `tasks.md` as data, and the "checked but never done" judgement of
//! `gate verify`. Pure: text in, tasks out; what changed on the branch comes from the caller.
//!
//! A task is what the completeness checker in [`super::markdown`] counts: a list item whose
//! first text is an ID `T###` (three digits or more), done when its box is `[x]` or `[X]`.
//! Progress itself is the checker's [`super::markdown::TaskCount`]; this pass adds each
//! task's line, ID and the repository paths it names. Code blocks are skipped as there.

use std::collections::BTreeSet;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::Serialize;

/// One task line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// 1-based line of the list item.
    pub line: usize,
    pub id: String,
    pub checked: bool,
    /// The item's text, markup removed.
    pub text: String,
    pub paths: Vec<NamedPath>,
}

/// A repository path named in a task's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPath {
    /// As written, without surrounding punctuation or a leading `./`.
    pub path: String,
    /// `src/auth.rs`, `tests/` and `src/a/b.rs` are certainly paths. `read/write` or
    /// `Node.js` may be prose: such a token counts only if it exists in the repository.
    pub certain: bool,
}

/// A checked task whose named path has no change on the branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lie {
    pub line: usize,
    pub id: String,
    pub path: String,
}

/// Every task in `text`, in order.
pub fn parse(text: &str) -> Vec<Task> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |offset: usize| line_starts.partition_point(|&s| s <= offset);
    let mut items: Vec<Item> = Vec::new();
    let mut tasks = Vec::new();
    let mut code_depth = 0usize;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(_) | Tag::MetadataBlock(_)) => code_depth += 1,
            Event::End(TagEnd::CodeBlock | TagEnd::MetadataBlock(_)) => {
                code_depth = code_depth.saturating_sub(1)
            }
            _ if code_depth > 0 => {}
            Event::Start(Tag::Item) => items.push(Item::new(line_of(range.start))),
            Event::End(TagEnd::Item) => {
                if let Some(task) = items.pop().and_then(Item::into_task) {
                    tasks.push(task);
                }
            }
            Event::TaskListMarker(checked) => {
                if let Some(item) = items.last_mut() {
                    item.checked = checked;
                }
            }
            Event::Text(t) => push(&mut items, &t, false),
            Event::Code(c) => push(&mut items, &c, true),
            Event::SoftBreak | Event::HardBreak => push(&mut items, " ", false),
            // `__init__.py` parses as strong emphasis: keep underscore delimiters as text.
            Event::Start(Tag::Emphasis | Tag::Strong)
            | Event::End(TagEnd::Emphasis | TagEnd::Strong) => {
                let span = &text[range.clone()];
                let delimiter = if matches!(event, Event::Start(_)) {
                    span.bytes().take_while(|&b| b == b'_').count()
                } else {
                    span.bytes().rev().take_while(|&b| b == b'_').count()
                };
                push_markup(&mut items, &"_".repeat(delimiter.min(2)));
            }
            Event::Start(Tag::Link { dest_url, .. }) => {
                push_markup(&mut items, &format!(" {dest_url} "))
            }
            _ => {}
        }
    }
    tasks.sort_by_key(|t| t.line);
    tasks
}

/// A list item being read.
struct Item {
    line: usize,
    checked: bool,
    /// The first piece of text decides whether it is a task (inline code never starts one).
    first: Option<(String, bool)>,
    text: String,
}

impl Item {
    fn new(line: usize) -> Item {
        Item {
            line,
            checked: false,
            first: None,
            text: String::new(),
        }
    }

    fn into_task(self) -> Option<Task> {
        let (first, is_code) = self.first?;
        let id = super::markdown::task_id(&first).filter(|_| !is_code)?;
        let text = self.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let paths = named_paths(&text);
        Some(Task {
            line: self.line,
            id,
            checked: self.checked,
            text,
            paths,
        })
    }
}

/// Text of the item being read; its first piece decides whether the item is a task.
fn push(items: &mut [Item], text: &str, is_code: bool) {
    if let Some(item) = items.last_mut() {
        if item.first.is_none() && !text.trim().is_empty() {
            item.first = Some((text.to_owned(), is_code));
        }
        item.text.push_str(text);
    }
}

/// Source text that is not shown as text (link targets, `_` delimiters) but may name a path.
fn push_markup(items: &mut [Item], text: &str) {
    if let Some(item) = items.last_mut() {
        item.text.push_str(text);
    }
}

/// The repository paths a task's text names, each once, in order.
pub fn named_paths(text: &str) -> Vec<NamedPath> {
    let mut seen = BTreeSet::new();
    text.split_whitespace()
        .filter_map(as_path)
        .filter(|p| seen.insert(p.path.clone()))
        .collect()
}

/// A token as a path: URLs, absolute paths, globs and `..` are not repository paths.
fn as_path(token: &str) -> Option<NamedPath> {
    if token.contains("://") || token.starts_with("www.") || token.starts_with("mailto:") {
        return None;
    }
    let t = token.trim_start_matches(['(', '[', '{', '<', '"', '\'', '`', '*']);
    let t = t.trim_end_matches([
        ')', ']', '}', '>', '"', '\'', '`', '*', ',', ';', ':', '.', '!', '?',
    ]);
    let t = strip_line_suffix(t);
    let t = t.strip_prefix("./").unwrap_or(t);
    let allowed = |c: char| c.is_alphanumeric() || "._-/+@".contains(c);
    if t.is_empty() || t.starts_with('/') || !t.chars().all(allowed) {
        return None;
    }
    let segments: Vec<&str> = t.trim_end_matches('/').split('/').collect();
    if segments.iter().any(|s| s.is_empty() || *s == "..") {
        return None;
    }
    let last = segments[segments.len() - 1];
    let slash = segments.len() > 1 || t.ends_with('/');
    let certain = match (slash, extension(last)) {
        (true, Some(_)) => true,
        (true, None) => t.ends_with('/'),
        // `e.g`, `i.e`: one letter on each side of the dot is prose.
        (false, Some(ext)) if last.len() == 3 && ext.len() == 1 => return None,
        (false, Some(_)) => false,
        (false, None) => return None,
    };
    Some(NamedPath {
        path: t.to_owned(),
        certain,
    })
}

/// `src/a.rs:42` and `src/a.rs:42:7` name `src/a.rs`.
fn strip_line_suffix(t: &str) -> &str {
    let mut t = t;
    for _ in 0..2 {
        match t.rsplit_once(':') {
            Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => t = head,
            _ => break,
        }
    }
    t
}

/// The extension of a file name: after the last dot, starting with a letter, alphanumeric,
/// at most ten characters (`rs`, `py`, `tsx`, `gitignore`); `v1.2` and `2.5x` have none.
fn extension(name: &str) -> Option<&str> {
    let (stem, ext) = name.rsplit_once('.')?;
    let ok = (1..=10).contains(&ext.len())
        && ext.starts_with(|c: char| c.is_ascii_alphabetic())
        && ext.chars().all(|c| c.is_ascii_alphanumeric())
        && (!stem.is_empty() || name.starts_with('.'));
    ok.then_some(ext)
}

/// Every checked task's named path with no change on the branch. `changed` holds the
/// repo-relative paths the branch changed; a named directory counts as changed when anything
/// under it did. `exists` says whether a path is in the repository at all (on the branch,
/// its base or the working tree), for the tokens that may be prose.
pub fn lies(tasks: &[Task], changed: &BTreeSet<String>, exists: impl Fn(&str) -> bool) -> Vec<Lie> {
    let mut out = Vec::new();
    for task in tasks.iter().filter(|t| t.checked) {
        for named in &task.paths {
            let path = named.path.trim_end_matches('/');
            if (named.certain || exists(path)) && !is_changed(changed, path) {
                out.push(Lie {
                    line: task.line,
                    id: task.id.clone(),
                    path: named.path.clone(),
                });
            }
        }
    }
    out
}

fn is_changed(changed: &BTreeSet<String>, path: &str) -> bool {
    let dir = format!("{path}/");
    changed.contains(path)
        || changed
            .range(dir.clone()..)
            .next()
            .is_some_and(|c| c.starts_with(&dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ArtifactKind;
    use crate::spec::markdown;

    fn paths(text: &str) -> Vec<(String, bool)> {
        named_paths(text)
            .into_iter()
            .map(|p| (p.path, p.certain))
            .collect()
    }

    fn p(path: &str, certain: bool) -> (String, bool) {
        (path.into(), certain)
    }

    #[test]
    fn tasks_with_lines_ids_and_state() {
        let text = "# Tasks\n\n- [ ] T001 Create `src/a.rs`\n- [X] T002 [P] Tests in tests/a.py\n  \
                    continued\n- [x] no id\n\n```\n- [x] T003 in a code block\n```\n";
        let tasks = parse(text);
        let got: Vec<(usize, &str, bool)> = tasks
            .iter()
            .map(|t| (t.line, t.id.as_str(), t.checked))
            .collect();
        assert_eq!(got, vec![(3, "T001", false), (4, "T002", true)]);
        assert_eq!(tasks[0].paths[0].path, "src/a.rs");
        assert_eq!(tasks[1].text, "T002 [P] Tests in tests/a.py continued");
    }

    #[test]
    fn nested_items_are_their_own_tasks() {
        let text = "- [x] T001 parent in src/p.rs\n  - [ ] T002 child in src/c.rs\n";
        let tasks = parse(text);
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].paths.len(), 1, "{:?}", tasks[0]);
        assert_eq!((tasks[1].line, tasks[1].checked), (2, false));
    }

    #[test]
    fn counts_agree_with_the_checker() {
        let text = "- [ ] T001 a\n- [x] T002 b\n- [X] T0003: c\n- [x] `T004` code first\n\
                    - [x] T05 short\n- T006 no box\n* [x] T007 star\n\n```\n- [x] T008\n```\n";
        let tasks = parse(text);
        let count = markdown::analyse(ArtifactKind::Tasks, text.as_bytes()).tasks;
        assert_eq!(tasks.len(), count.total);
        assert_eq!(tasks.iter().filter(|t| t.checked).count(), count.done);
    }

    #[test]
    fn underscores_and_links_keep_their_paths() {
        let tasks = parse("- [x] T001 add pkg/__init__.py and [the doc](docs/a.md)\n");
        assert_eq!(
            paths(&tasks[0].text),
            vec![p("pkg/__init__.py", true), p("docs/a.md", true)]
        );
    }

    #[test]
    fn which_tokens_are_paths() {
        assert_eq!(
            paths("Create src/auth.rs, (tests/x.py) and `./lib/` at src/a.rs:42:7."),
            vec![
                p("src/auth.rs", true),
                p("tests/x.py", true),
                p("lib/", true),
                p("src/a.rs", true)
            ]
        );
        assert_eq!(
            paths("Update README.md, .gitignore, read/write and Node.js"),
            vec![
                p("README.md", false),
                p(".gitignore", false),
                p("read/write", false),
                p("Node.js", false)
            ]
        );
        assert_eq!(
            paths(
                "see https://x.io/a.rs www.x.com/a /etc/hosts e.g. v1.2 2.5x src/**/*.rs ../up.rs T001 [P]"
            ),
            vec![]
        );
    }

    #[test]
    fn only_checked_tasks_with_unchanged_paths_lie() {
        let tasks = parse(
            "- [x] T001 src/a.rs\n- [x] T002 src/b.rs\n- [ ] T003 src/c.rs\n\
             - [x] T004 src/dir/\n- [x] T005 read/write README.md\n- [x] T006 Node.js\n",
        );
        let changed: BTreeSet<String> = ["src/a.rs", "src/dir/x.rs", "src/dirx"]
            .into_iter()
            .map(String::from)
            .collect();
        let exists = |p: &str| p == "README.md";
        let got: Vec<(usize, String)> = lies(&tasks, &changed, exists)
            .into_iter()
            .map(|l| (l.line, l.path))
            .collect();
        assert_eq!(got, vec![(2, "src/b.rs".into()), (5, "README.md".into())]);
    }

    #[test]
    fn directory_changes_need_a_path_below_it() {
        let changed: BTreeSet<String> = ["src/a-b.rs", "src/a.rs"]
            .into_iter()
            .map(String::from)
            .collect();
        assert!(is_changed(&changed, "src/a.rs"));
        assert!(!is_changed(&changed, "src/a"));
        assert!(is_changed(&changed, "src"));
    }
}
