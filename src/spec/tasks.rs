//! The tasks of a `tasks.md` as data, and the "checked but never done" judgement of
//! `gate verify`. Pure: text in, tasks out; what changed on the branch comes from the caller.
//!
//! A task is what the completeness checker in [`super::markdown`] counts: an item that
//! defines an ID `T###` (three digits or more, `T048A` too) in the task-list form the file
//! uses (see [`super::task_ids`]), done when its box is `[x]` or `[X]`. Progress itself is
//! the checker's [`super::markdown::TaskCount`]; this pass adds each task's line, ID and the
//! repository paths it names. Code blocks are skipped as there.
//!
//! A path a task only reads ("per the contract in specs/001-x/contracts/api.md", "`.qa/`
//! exists", "Run tests/e2e/") is not one it promises to change; a bare file name
//! (`CHANGELOG.md`) is matched by name anywhere on the branch, and is a lie when nothing of
//! that name changed, whether or not the file exists.

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
    /// `src/auth.rs`, `tests/`, `src/a/b.rs` and `CHANGELOG.md` are certainly paths.
    /// `read/write` or `Node.js` may be prose: such a token counts only if it exists in the
    /// repository.
    pub certain: bool,
    /// A file name without a directory: any changed path of that name counts.
    pub bare: bool,
    /// Named as something the task reads, not changes.
    pub read_only: bool,
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
            Event::Start(Tag::Heading { .. }) => items.push(Item::heading(line_of(range.start))),
            Event::End(TagEnd::Heading(_)) => {
                if let Some(task) = items.pop().and_then(Item::into_task) {
                    tasks.push(task);
                }
            }
            Event::End(TagEnd::Item) => {
                if let Some(task) = items.pop().and_then(Item::into_task) {
                    tasks.push(task);
                }
            }
            Event::TaskListMarker(checked) => {
                if let Some(item) = items.last_mut() {
                    item.checked = checked;
                    item.checkbox = true;
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
    tasks.sort_by_key(|(t, _)| t.line);
    defined(tasks)
}

/// The tasks that define IDs, in the file's task-list form (as [`super::task_ids`] counts).
fn defined(tasks: Vec<(Task, Form)>) -> Vec<Task> {
    let has = |form: Form| tasks.iter().any(|(_, f)| *f == form);
    let wanted = if has(Form::Checkbox) {
        Form::Checkbox
    } else if has(Form::Plain) {
        Form::Plain
    } else {
        Form::Heading
    };
    tasks
        .into_iter()
        .filter(|(_, f)| *f == wanted)
        .map(|(t, _)| t)
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Checkbox,
    Plain,
    Heading,
}

/// A list item being read.
struct Item {
    line: usize,
    checked: bool,
    checkbox: bool,
    heading: bool,
    /// The first piece of text decides whether it is a task (inline code never starts one).
    first: Option<(String, bool)>,
    text: String,
}

impl Item {
    fn new(line: usize) -> Item {
        Item {
            line,
            checked: false,
            checkbox: false,
            heading: false,
            first: None,
            text: String::new(),
        }
    }

    fn heading(line: usize) -> Item {
        Item {
            heading: true,
            ..Item::new(line)
        }
    }

    fn into_task(self) -> Option<(Task, Form)> {
        let (first, is_code) = self.first?;
        let id = super::markdown::task_id(&first).filter(|_| !is_code)?;
        let text = self.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let paths = named_paths(&text);
        let form = match (self.heading, self.checkbox) {
            (true, _) => Form::Heading,
            (false, true) => Form::Checkbox,
            (false, false) => Form::Plain,
        };
        let task = Task {
            line: self.line,
            id,
            checked: self.checked,
            text,
            paths,
        };
        Some((task, form))
    }
}

/// Text of the item being read; its first piece decides whether the item is a task.
fn push(items: &mut [Item], text: &str, is_code: bool) {
    if let Some(item) = items.last_mut() {
        // `- [ ] [T001] ...`: a lone leading `[` comes before the ID.
        if item.first.is_none() && !text.trim().is_empty() && !(text == "[" && item.text.is_empty())
        {
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
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let reads_only = leading_verb(&tokens).is_some_and(|v| READ_VERBS.contains(&v.as_str()));
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let Some(mut named) = as_path(token) else {
            continue;
        };
        named.read_only = reads_only || is_read(&tokens, i);
        if seen.insert(named.path.clone()) {
            out.push(named);
        }
    }
    out
}

/// Words before a path that make it something read: "per the contract in X", "see X".
const READ_WORDS: [&str; 20] = [
    "per",
    "see",
    "from",
    "following",
    "follows",
    "according",
    "against",
    "using",
    "consult",
    "consulting",
    "reference",
    "referencing",
    "referenced",
    "described",
    "defined",
    "documented",
    "specified",
    "matching",
    "conforms",
    "cf",
];

/// Task verbs that change nothing they name: "Run quickstart.md", "Verify tests/ pass".
const READ_VERBS: [&str; 14] = [
    "run",
    "execute",
    "verify",
    "validate",
    "check",
    "review",
    "confirm",
    "read",
    "inspect",
    "audit",
    "measure",
    "benchmark",
    "manually",
    "smoke-test",
];

/// Words that start a new thing the task changes: a read word before them does not reach on.
const WRITE_VERBS: [&str; 16] = [
    "create",
    "add",
    "write",
    "implement",
    "update",
    "modify",
    "edit",
    "change",
    "move",
    "rename",
    "delete",
    "remove",
    "generate",
    "extend",
    "refactor",
    "fix",
];

fn bare_word(token: &str) -> String {
    token
        .trim_matches(|c: char| !c.is_alphanumeric() && c != '-')
        .to_lowercase()
}

/// Whether the path at `tokens[i]` is named as read: a read word up to four words before it
/// (not past another path, a comma or a write verb), or "exists" right after it.
fn is_read(tokens: &[&str], i: usize) -> bool {
    if tokens
        .get(i + 1)
        .is_some_and(|t| matches!(bare_word(t).as_str(), "exists" | "exist" | "present"))
    {
        return true;
    }
    for j in (i.saturating_sub(4)..i).rev() {
        let word = bare_word(tokens[j]);
        if READ_WORDS.contains(&word.as_str()) {
            return true;
        }
        if WRITE_VERBS.contains(&word.as_str())
            || as_path(tokens[j]).is_some()
            || tokens[j].ends_with([',', ';', '.'])
        {
            return false;
        }
    }
    false
}

/// The task's first word after its ID and markers (`[P]`, `[US1]`, `T001:`), lowercase.
fn leading_verb(tokens: &[&str]) -> Option<String> {
    tokens
        .iter()
        .find(|t| {
            let t = t.trim_matches(|c: char| "*_`:".contains(c));
            !(t.is_empty()
                || t.starts_with('[')
                || super::task_ids::id_at(t).is_some()
                || t == "-"
                || t == "—")
        })
        .map(|t| bare_word(t))
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
        (false, Some(ext)) => is_file_name(last, ext),
        (false, None) => return None,
    };
    Some(NamedPath {
        path: t.to_owned(),
        certain,
        bare: !slash,
        read_only: false,
    })
}

/// A bare name that is a file, not prose: a source, config or document extension, and not a
/// framework's name (`Node.js`, `Vue.js`: a capitalised word before `.js`).
fn is_file_name(name: &str, ext: &str) -> bool {
    const FILES: [&str; 40] = [
        "rs", "py", "md", "toml", "json", "yaml", "yml", "ts", "tsx", "js", "jsx", "mjs", "cjs",
        "go", "java", "kt", "swift", "rb", "php", "c", "h", "cc", "cpp", "hpp", "cs", "sh", "sql",
        "html", "css", "scss", "vue", "svelte", "txt", "lock", "xml", "gradle", "proto", "graphql",
        "ini", "cfg",
    ];
    let ext = ext.to_ascii_lowercase();
    let framework = ext == "js" && name.starts_with(|c: char| c.is_ascii_uppercase());
    (FILES.contains(&ext.as_str()) || name.starts_with('.')) && !framework
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
        for named in task.paths.iter().filter(|p| !p.read_only) {
            let path = named.path.trim_end_matches('/');
            let unchanged = if named.bare && named.certain {
                !changed
                    .iter()
                    .any(|c| c == path || c.rsplit('/').next() == Some(path))
            } else {
                !is_changed(changed, path)
            };
            if (named.certain || exists(path)) && unchanged {
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
                p("README.md", true),
                p(".gitignore", true),
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

    #[test]
    fn paths_a_task_only_reads_are_not_promised_changes() {
        let tasks = parse(
            "- [x] T001 Implement the API in src/api.rs per the contract in specs/001-x/contracts/api.md\n\
             - [x] T002 Check that `.qa/` exists\n\
             - [x] T003 [P] Run tests/e2e/ against the staging build\n\
             - [x] T004 Create src/b.rs from src/template.rs, update src/c.rs\n",
        );
        let changed: BTreeSet<String> = ["src/api.rs", "src/b.rs"]
            .into_iter()
            .map(String::from)
            .collect();
        let got: Vec<(usize, String)> = lies(&tasks, &changed, |_| false)
            .into_iter()
            .map(|l| (l.line, l.path))
            .collect();
        assert_eq!(got, vec![(4, "src/c.rs".into())]);
    }

    #[test]
    fn a_bare_file_name_must_have_changed_somewhere() {
        let tasks = parse(
            "- [x] T001 Write CHANGELOG.md\n- [x] T002 Update user_service.py\n- [x] T003 Port to Node.js\n",
        );
        let changed: BTreeSet<String> = ["src/services/user_service.py"]
            .into_iter()
            .map(String::from)
            .collect();
        let got: Vec<String> = lies(&tasks, &changed, |_| false)
            .into_iter()
            .map(|l| l.path)
            .collect();
        assert_eq!(got, vec!["CHANGELOG.md".to_string()]);
    }

    #[test]
    fn bracketed_ids_are_tasks() {
        let tasks = parse("- [x] [T001] [P] Create src/a.rs\n- [ ] [T002] b\n");
        let ids: Vec<(&str, bool)> = tasks.iter().map(|t| (t.id.as_str(), t.checked)).collect();
        assert_eq!(ids, [("T001", true), ("T002", false)]);
        assert_eq!(tasks[0].paths[0].path, "src/a.rs");
    }

    #[test]
    fn letter_suffixed_and_mentioned_ids() {
        let tasks = parse(
            "- [x] T048 a\n- [x] T048A b in src/b.rs\n- [ ] T020a c\n\n## Notes\n\n- T048 and T048A can run in parallel\n",
        );
        let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["T048", "T048A", "T020a"]);
    }
}
