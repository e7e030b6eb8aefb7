//! Is an artifact complete? A pure check over markdown text, built on pulldown-cmark so that
//! code blocks, inline code and HTML comments never count as unfinished work.
//!
//! Complete means: no placeholder is left (gate's `{{...}}`, spec-kit's
//! `[NEEDS CLARIFICATION: ...]`, `$ARGUMENTS`, bracketed ALL-CAPS tokens such as
//! `[FEATURE NAME]` or `[###-feature-name]`), every section whose heading says `*(mandatory)*`
//! has a body, every checklist in a section marked `*GATE...*` is fully checked, and a tasks
//! file has at least one task `T###` with unique IDs.

use std::collections::HashMap;
use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::Serialize;

use super::ArtifactKind;

/// Larger artifacts are reported rather than parsed: keeps the hook's time bounded.
pub const MAX_ARTIFACT_BYTES: usize = 2 * 1024 * 1024;

/// One thing that keeps an artifact from being complete, at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub line: usize,
    pub message: String,
}

/// Task progress in a tasks file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TaskCount {
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub findings: Vec<Finding>,
    pub tasks: TaskCount,
}

impl Analysis {
    pub fn is_complete(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks one artifact's bytes. Never panics, whatever the input.
pub fn analyse(kind: ArtifactKind, bytes: &[u8]) -> Analysis {
    let at_top = |message: String| Analysis {
        findings: vec![Finding { line: 1, message }],
        tasks: TaskCount::default(),
    };
    if bytes.len() > MAX_ARTIFACT_BYTES {
        return too_large(bytes.len() as u64);
    }
    if bytes.contains(&0) {
        return at_top("the file is binary (contains NUL bytes); write it as markdown text".into());
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            return Analysis {
                findings: vec![Finding {
                    line,
                    message: "the file is not valid UTF-8; save it as UTF-8 text".into(),
                }],
                tasks: TaskCount::default(),
            };
        }
    };
    if text.trim().is_empty() {
        return at_top(format!(
            "the {} is empty; fill it in from the template",
            kind.name()
        ));
    }
    Checker::new(text, kind).run()
}

/// The finding for an artifact of `len` bytes, over [`MAX_ARTIFACT_BYTES`].
pub fn too_large(len: u64) -> Analysis {
    Analysis {
        findings: vec![Finding {
            line: 1,
            message: format!(
                "the file is {len} bytes, over the {MAX_ARTIFACT_BYTES} byte limit for an artifact; split or shorten it"
            ),
        }],
        tasks: TaskCount::default(),
    }
}

struct Section {
    level: usize,
    title: String,
    line: usize,
    mandatory: bool,
    gate: bool,
    has_body: bool,
    /// Still before the first subheading: where a `*GATE*` marker may appear.
    in_lead: bool,
}

struct Checker<'a> {
    text: &'a str,
    kind: ArtifactKind,
    line_starts: Vec<usize>,
    findings: Vec<Finding>,
    sections: Vec<Section>,
    /// Text of the current run, with (position in run, source offset) of each piece.
    run: String,
    pieces: Vec<(usize, usize)>,
    heading: Option<(usize, String, usize)>,
    code_depth: usize,
    emphasis_depth: usize,
    /// A list item whose first text has not been seen yet: (line, checked).
    item: Option<(usize, Option<bool>)>,
    tasks: TaskCount,
    task_ids: HashMap<String, usize>,
}

impl<'a> Checker<'a> {
    fn new(text: &'a str, kind: ArtifactKind) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Checker {
            text,
            kind,
            line_starts,
            findings: Vec::new(),
            sections: Vec::new(),
            run: String::new(),
            pieces: Vec::new(),
            heading: None,
            code_depth: 0,
            emphasis_depth: 0,
            item: None,
            tasks: TaskCount::default(),
            task_ids: HashMap::new(),
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    fn run(mut self) -> Analysis {
        let options = Options::ENABLE_TABLES
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_FOOTNOTES
            | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
        for (event, range) in Parser::new_ext(self.text, options).into_offset_iter() {
            self.event(event, range);
        }
        self.flush();
        while !self.sections.is_empty() {
            self.close_section();
        }
        if self.kind == ArtifactKind::Tasks && self.tasks.total == 0 {
            self.findings.push(Finding {
                line: 1,
                message: "no tasks yet: add lines like `- [ ] T001 Create src/example.rs`".into(),
            });
        }
        self.findings.sort_by_key(|f| f.line);
        Analysis {
            findings: self.findings,
            tasks: self.tasks,
        }
    }

    fn event(&mut self, event: Event<'_>, range: Range<usize>) {
        match event {
            // Front matter (spec-kit's tasks template has some) is data, not prose.
            Event::Start(Tag::CodeBlock(_) | Tag::MetadataBlock(_)) => {
                self.flush();
                self.mark_body();
                self.code_depth += 1;
            }
            Event::End(TagEnd::CodeBlock | TagEnd::MetadataBlock(_)) => {
                self.code_depth = self.code_depth.saturating_sub(1)
            }
            _ if self.code_depth > 0 => {}
            Event::Start(Tag::Heading { level, .. }) => {
                self.flush();
                self.heading = Some((level as usize, String::new(), self.line_of(range.start)));
            }
            Event::End(TagEnd::Heading(_)) => {
                self.flush();
                if let Some((level, title, line)) = self.heading.take() {
                    self.open_section(level, title, line);
                }
            }
            Event::Start(Tag::Emphasis) => self.emphasis_depth += 1,
            Event::End(TagEnd::Emphasis) => {
                self.emphasis_depth = self.emphasis_depth.saturating_sub(1)
            }
            Event::Start(Tag::Item) => {
                self.flush();
                self.item = Some((self.line_of(range.start), None));
            }
            Event::TaskListMarker(checked) => {
                if let Some(item) = &mut self.item {
                    item.1 = Some(checked);
                }
                self.mark_body();
                if !checked {
                    self.unchecked_box(range.start);
                }
            }
            Event::Text(text) => self.text(&text, range.start),
            Event::SoftBreak | Event::HardBreak => self.push(" ", range.start),
            Event::Code(code) => {
                // Inline code quotes things (`[ID]` in spec-kit's task legend), so only the
                // unmistakable markers count there: spec-kit does leave `[###-feature-name]`
                // in backticks.
                self.flush();
                let line = self.line_of(range.start);
                for (_, token) in placeholders(&code, Strictness::UnmistakableOnly) {
                    self.findings.push(Finding {
                        line,
                        message: placeholder_message(token),
                    });
                }
                self.item_text("`");
                self.mark_body();
            }
            Event::Html(_) | Event::InlineHtml(_) => self.flush(),
            Event::Start(Tag::Paragraph | Tag::TableCell | Tag::List(_))
            | Event::End(TagEnd::Paragraph | TagEnd::TableCell | TagEnd::Item | TagEnd::List(_)) => {
                self.flush();
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str, offset: usize) {
        if let Some((_, title, _)) = &mut self.heading {
            title.push_str(text);
        } else {
            if !text.trim().is_empty() {
                self.mark_body();
            }
            if self.emphasis_depth > 0
                && text.trim_start().starts_with("GATE")
                && let Some(section) = self.sections.last_mut().filter(|s| s.in_lead)
            {
                section.gate = true;
            }
            self.item_text(text);
        }
        self.push(text, offset);
    }

    /// The first text of a list item decides whether it is a task line (`T001 ...`).
    fn item_text(&mut self, text: &str) {
        let Some((line, checked)) = self.item.take() else {
            return;
        };
        if self.kind != ArtifactKind::Tasks {
            return;
        }
        if text.trim_start().starts_with("TXXX") {
            self.findings.push(Finding {
                line,
                message: "sample task ID TXXX left in: number it T001, T002, ...".into(),
            });
            return;
        }
        let Some(id) = task_id(text) else {
            return;
        };
        self.tasks.total += 1;
        if checked == Some(true) {
            self.tasks.done += 1;
        }
        if let Some(first) = self.task_ids.get(&id) {
            self.findings.push(Finding {
                line,
                message: format!(
                    "duplicate task ID {id} (first used at line {first}); renumber one of them"
                ),
            });
        } else {
            self.task_ids.insert(id, line);
        }
    }

    fn push(&mut self, text: &str, offset: usize) {
        self.pieces.push((self.run.len(), offset));
        self.run.push_str(text);
    }

    /// Scans the finished run of text for placeholders.
    fn flush(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let run = std::mem::take(&mut self.run);
        let pieces = std::mem::take(&mut self.pieces);
        for (position, token) in placeholders(&run, Strictness::All) {
            let index = pieces.partition_point(|&(start, _)| start <= position) - 1;
            let (start, source) = pieces[index];
            let line = self.line_of(source + (position - start));
            self.findings.push(Finding {
                line,
                message: placeholder_message(token),
            });
        }
    }

    fn mark_body(&mut self) {
        for section in &mut self.sections {
            section.has_body = true;
        }
    }

    fn unchecked_box(&mut self, offset: usize) {
        if let Some(gate) = self.sections.iter().rev().find(|s| s.gate) {
            let title = gate.title.clone();
            self.findings.push(Finding {
                line: self.line_of(offset),
                message: format!(
                    "unchecked item in the gate checklist \"{title}\": check it (`- [x]`) once it holds"
                ),
            });
        }
    }

    fn open_section(&mut self, level: usize, title: String, line: usize) {
        while self.sections.last().is_some_and(|s| s.level >= level) {
            self.close_section();
        }
        for s in &mut self.sections {
            s.in_lead = false;
        }
        let mandatory = title.to_ascii_lowercase().contains("(mandatory)");
        let title = title.replace("(mandatory)", "").trim().to_owned();
        self.sections.push(Section {
            level,
            title,
            line,
            mandatory,
            gate: false,
            has_body: false,
            in_lead: true,
        });
    }

    fn close_section(&mut self) {
        if let Some(s) = self.sections.pop()
            && s.mandatory
            && !s.has_body
        {
            {
                self.findings.push(Finding {
                    line: s.line,
                    message: format!(
                        "the mandatory section \"{}\" is empty: write its content",
                        s.title
                    ),
                });
            }
        }
    }
}

/// `T001 [P] ...` -> `T001`.
pub(crate) fn task_id(text: &str) -> Option<String> {
    let t = text.trim_start();
    let digits = t.strip_prefix('T')?;
    let n = digits.bytes().take_while(u8::is_ascii_digit).count();
    let boundary = digits[n..]
        .chars()
        .next()
        .is_none_or(|c| !c.is_alphanumeric());
    (n >= 3 && boundary).then(|| t[..1 + n].to_owned())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    All,
    /// Only `{{...}}`, `$ARGUMENTS`, `[###...]` and `[NEEDS CLARIFICATION: ...]`.
    UnmistakableOnly,
}

/// Every unresolved placeholder in `run`, with its byte position.
fn placeholders(run: &str, strictness: Strictness) -> Vec<(usize, &str)> {
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
        let unmistakable = inner.starts_with("NEEDS CLARIFICATION:") || inner.starts_with("###");
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
    if inner.starts_with("NEEDS CLARIFICATION:") || inner.contains("###") {
        return true;
    }
    // "No [NEEDS CLARIFICATION] markers remain" mentions the marker; it is not one.
    if inner == "NEEDS CLARIFICATION" {
        return false;
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

fn placeholder_message(token: &str) -> String {
    let shown: String = token.chars().take(80).collect();
    let shown = if shown.len() < token.len() {
        format!("{shown}…")
    } else {
        shown
    };
    if token.starts_with("[NEEDS CLARIFICATION") {
        format!("open question {shown}: answer it in the text and remove the marker")
    } else {
        format!("unresolved placeholder {shown}: replace it with the real content")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(kind: ArtifactKind, text: &str) -> Vec<(usize, String)> {
        analyse(kind, text.as_bytes())
            .findings
            .into_iter()
            .map(|f| (f.line, f.message))
            .collect()
    }

    fn lines(kind: ArtifactKind, text: &str) -> Vec<usize> {
        findings(kind, text).into_iter().map(|(l, _)| l).collect()
    }

    #[test]
    fn complete_spec_has_no_findings() {
        let text = "# Spec: Login\n\n## Scenarios *(mandatory)*\n\nA user logs in.\n";
        assert!(analyse(ArtifactKind::Spec, text.as_bytes()).is_complete());
    }

    #[test]
    fn gate_placeholders_are_found_at_their_line() {
        let text = "# Spec\n\nIntro.\n\nThe user {{does what}} today.\n";
        let f = findings(ArtifactKind::Spec, text);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, 5);
        assert!(f[0].1.contains("{{does what}}"), "{f:?}");
    }

    #[test]
    fn spec_kit_markers_are_placeholders() {
        let text = "# Feature Specification: [FEATURE NAME]\n\n**Branch**: `[###-x]` [###-feature-name]\n\n\
                    Input: $ARGUMENTS\n\n- FR-001: must auth via [NEEDS CLARIFICATION: which method?]\n\nDate: [DATE]\n";
        assert_eq!(lines(ArtifactKind::Spec, text), vec![1, 3, 3, 5, 7, 9]);
        let f = findings(ArtifactKind::Spec, text);
        assert!(
            f[4].1
                .starts_with("open question [NEEDS CLARIFICATION: which method?]")
        );
    }

    #[test]
    fn code_comments_and_task_markers_are_not_placeholders() {
        let text = "# Tasks\n\n```\n[NEEDS CLARIFICATION: x] {{y}}\n```\n\n<!-- [DATE] {{z}} -->\n\n\
                    - [ ] T001 [P] [US1] Create `[DATE]` parser in src/a.rs\n- [x] T002 [FR-001] Done\n\nText.\n\n    indented [TODO]\n";
        assert_eq!(findings(ArtifactKind::Tasks, text), vec![]);
    }

    #[test]
    fn inline_code_only_hides_ordinary_brackets() {
        let text = "## Format: `[ID] [P?] [Story]`\n\n**Branch**: `[###-feature-name]` `{{x}}`\n\n- [ ] TXXX sample\n- [ ] T001 real\n";
        assert_eq!(lines(ArtifactKind::Tasks, text), vec![3, 3, 5]);
    }

    #[test]
    fn empty_mandatory_section_is_reported() {
        let text = "# Spec\n\n## Requirements *(mandatory)*\n\n<!-- fill -->\n\n## Other\n\ntext\n";
        let f = findings(ArtifactKind::Spec, text);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].0, 3);
        assert!(f[0].1.contains("\"Requirements\""));
    }

    #[test]
    fn mandatory_section_body_includes_subsections() {
        let text = "## Scenarios *(mandatory)*\n\n### Story 1\n\nGiven a user.\n";
        assert_eq!(findings(ArtifactKind::Spec, text), vec![]);
    }

    #[test]
    fn gate_checklist_must_be_fully_checked() {
        let text = "## Review\n\n*GATE: all checked before planning*\n\n- [x] one\n- [ ] two\n\n\
                    ### Sub\n\n- [ ] three\n\n## Progress\n\n- [ ] not a gate\n";
        assert_eq!(lines(ArtifactKind::Spec, text), vec![6, 10]);
    }

    #[test]
    fn tasks_need_ids_and_unique_ones() {
        assert_eq!(
            lines(ArtifactKind::Tasks, "# Tasks\n\n- [ ] write code\n"),
            vec![1]
        );
        let text = "- [ ] T001 a\n- [x] T002 b\n- [ ] T001 c\n";
        let a = analyse(ArtifactKind::Tasks, text.as_bytes());
        assert_eq!(a.tasks, TaskCount { done: 1, total: 3 });
        assert_eq!(a.findings.len(), 1);
        assert_eq!(a.findings[0].line, 3);
        assert!(a.findings[0].message.contains("line 1"));
    }

    #[test]
    fn task_ids_need_three_digits_and_a_boundary() {
        assert_eq!(task_id("T001 x"), Some("T001".into()));
        assert_eq!(task_id("T0123: x"), Some("T0123".into()));
        assert_eq!(task_id("T01 x"), None);
        assert_eq!(task_id("T001x"), None);
        assert_eq!(task_id("Test"), None);
    }

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

    #[test]
    fn hostile_inputs_give_findings_not_panics() {
        assert_eq!(lines(ArtifactKind::Spec, ""), vec![1]);
        assert_eq!(lines(ArtifactKind::Spec, "  \n\n"), vec![1]);
        assert!(findings(ArtifactKind::Spec, "a\0b")[0].1.contains("binary"));
        let bad = analyse(ArtifactKind::Plan, b"ok\n\xff\xfe");
        assert_eq!(bad.findings[0].line, 2);
        let huge = vec![b'a'; MAX_ARTIFACT_BYTES + 1];
        assert!(
            analyse(ArtifactKind::Plan, &huge).findings[0]
                .message
                .contains("limit")
        );
        for odd in [
            "[",
            "{{",
            "[NEEDS CLARIFICATION",
            "# [",
            "- [ ]",
            "* *GATE*\n- [ ] x",
            "```\n[DATE]",
        ] {
            analyse(ArtifactKind::Tasks, odd.as_bytes());
        }
    }
}
