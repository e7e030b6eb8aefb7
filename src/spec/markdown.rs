//! Is an artifact complete? A pure check over markdown text, built on pulldown-cmark so that
//! code blocks, inline code and HTML comments never count as unfinished work.
//!
//! Complete means: no placeholder is left (gate's `{{...}}`, spec-kit's
//! `[NEEDS CLARIFICATION: ...]`, `$ARGUMENTS`, bracketed ALL-CAPS tokens such as
//! `[FEATURE NAME]` or `[###-feature-name]`) outside the template's own guidance sections
//! ("For AI Generation" quotes the marker as an example); a spec has the sections every
//! template family makes mandatory (user scenarios, requirements) and every section whose
//! heading says `*(mandatory)*` has a body; every checklist that gates a step is fully checked
//! (see [`super::gates`] for which step each one holds back); a tasks file defines at least
//! one task, each ID once, and every task ID it mentions elsewhere is defined (see
//! [`super::task_ids`]).

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::Serialize;

use super::ArtifactKind;
use super::gates::{self, Step};
use super::placeholders::{Strictness, placeholder_finding, placeholders};
use super::task_ids::{self, TaskItem};

/// Larger artifacts are reported rather than parsed: keeps the hook's time bounded.
pub const MAX_ARTIFACT_BYTES: usize = 2 * 1024 * 1024;

/// What kind of problem a finding is: orders findings (most important first) and groups them
/// in reports. Serialized in `--json` as `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// Binary, not UTF-8, too large, empty, not a regular file.
    Unreadable,
    /// The title is still the template's (`# Feature Specification: [FEATURE NAME]`): the
    /// whole file is an unfilled template, whatever else is found in it.
    UnfilledTemplate,
    /// A section the template family makes mandatory is absent; a tasks file with no task.
    MissingSection,
    EmptySection,
    OpenQuestion,
    Placeholder,
    DuplicateTask,
    UnknownTaskReference,
    UncheckedGateItem,
}

impl FindingKind {
    /// For a group of findings of this kind: "3 open questions".
    pub fn plural(self) -> &'static str {
        match self {
            FindingKind::Unreadable => "unreadable files",
            FindingKind::UnfilledTemplate => "template titles",
            FindingKind::MissingSection => "missing sections",
            FindingKind::EmptySection => "empty mandatory sections",
            FindingKind::OpenQuestion => "open questions",
            FindingKind::Placeholder => "unresolved placeholders",
            FindingKind::DuplicateTask => "duplicate task IDs",
            FindingKind::UnknownTaskReference => "references to undefined tasks",
            FindingKind::UncheckedGateItem => "unchecked gate items",
        }
    }
}

/// One thing that keeps an artifact from being complete, at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub line: usize,
    pub message: String,
    pub kind: FindingKind,
    /// The file, when it is not the artifact itself (a checklist under `checklists/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The step this finding holds back when that is not the one right after its artifact
    /// (a checklist gated "before implementation" inside spec.md).
    #[serde(skip)]
    pub gates: Option<Step>,
}

impl Finding {
    pub fn new(line: usize, kind: FindingKind, message: impl Into<String>) -> Finding {
        Finding {
            line,
            message: message.into(),
            kind,
            path: None,
            gates: None,
        }
    }
}

/// Most important first: by kind, the artifact's own lines before other files', then line.
pub fn order(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.kind, a.path.is_some(), &a.path, a.line).cmp(&(
            b.kind,
            b.path.is_some(),
            &b.path,
            b.line,
        ))
    });
}

/// Task progress in a tasks file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TaskCount {
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// What keeps the artifact from being complete, most important first.
    pub findings: Vec<Finding>,
    pub tasks: TaskCount,
    /// Unchecked items of checklists that gate completion only: shown, never blocking.
    pub deferred: Vec<Finding>,
}

impl Analysis {
    pub fn is_complete(&self) -> bool {
        self.findings.is_empty()
    }

    fn at(line: usize, kind: FindingKind, message: impl Into<String>) -> Analysis {
        Analysis {
            findings: vec![Finding::new(line, kind, message)],
            ..Analysis::default()
        }
    }
}

/// Checks one artifact's bytes. Never panics, whatever the input.
pub fn analyse(kind: ArtifactKind, bytes: &[u8]) -> Analysis {
    match text_of(bytes, kind.name()) {
        Ok(text) => Checker::new(text, Mode::Artifact(kind)).run(),
        Err(analysis) => analysis,
    }
}

/// Checks a checklist file (`checklists/*.md`) that gates `step`: every unchecked box and
/// every placeholder in it is a finding.
pub fn analyse_checklist(bytes: &[u8], step: Step) -> Analysis {
    match text_of(bytes, "checklist") {
        Ok(text) => Checker::new(text, Mode::Checklist(step)).run(),
        Err(analysis) => analysis,
    }
}

fn text_of<'a>(bytes: &'a [u8], name: &str) -> Result<&'a str, Analysis> {
    if bytes.len() > MAX_ARTIFACT_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    if bytes.contains(&0) {
        return Err(Analysis::at(
            1,
            FindingKind::Unreadable,
            "the file is binary (contains NUL bytes); write it as markdown text",
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Analysis::at(
            line,
            FindingKind::Unreadable,
            "the file is not valid UTF-8; save it as UTF-8 text",
        )
    })?;
    if text.trim().is_empty() {
        return Err(Analysis::at(
            1,
            FindingKind::Unreadable,
            format!("the {name} is empty; fill it in from the template"),
        ));
    }
    Ok(text)
}

/// The finding for an artifact of `len` bytes, over [`MAX_ARTIFACT_BYTES`].
pub fn too_large(len: u64) -> Analysis {
    Analysis::at(
        1,
        FindingKind::Unreadable,
        format!(
            "the file is {len} bytes, over the {MAX_ARTIFACT_BYTES} byte limit for an artifact; split or shorten it"
        ),
    )
}

/// The finding for a path that is not a regular file.
pub fn not_a_file() -> Analysis {
    Analysis::at(
        1,
        FindingKind::Unreadable,
        "not a regular file (a directory, FIFO or device); replace it with a markdown file",
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Artifact(ArtifactKind),
    /// A whole file that is one checklist gating this step.
    Checklist(Step),
}

struct Section {
    level: usize,
    title: String,
    line: usize,
    mandatory: bool,
    /// A checklist section: `Some(None)` gates the artifact's own next step.
    gate: Option<Option<Step>>,
    /// The template's guidance for its author ("For AI Generation"): quotes markers.
    guidance: bool,
    has_body: bool,
    /// Still before the first subheading: where a `*GATE*` marker may appear.
    in_lead: bool,
}

/// Which of the sections every spec template family makes mandatory were seen.
#[derive(Default)]
struct SpecSections {
    scenarios: bool,
    requirements: bool,
}

struct Checker<'a> {
    text: &'a str,
    mode: Mode,
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
    /// The item's first text was a lone `[`: a bracketed ID may follow.
    item_bracket: bool,
    items: Vec<TaskItem>,
    /// Task IDs mentioned anywhere in text, with their line.
    mentions: Vec<(String, usize)>,
    spec_sections: SpecSections,
}

impl<'a> Checker<'a> {
    fn new(text: &'a str, mode: Mode) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Checker {
            text,
            mode,
            line_starts,
            findings: Vec::new(),
            sections: Vec::new(),
            run: String::new(),
            pieces: Vec::new(),
            heading: None,
            code_depth: 0,
            emphasis_depth: 0,
            item: None,
            item_bracket: false,
            items: Vec::new(),
            mentions: Vec::new(),
            spec_sections: SpecSections::default(),
        }
    }

    fn is(&self, kind: ArtifactKind) -> bool {
        self.mode == Mode::Artifact(kind)
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
        let mut tasks = TaskCount::default();
        if self.is(ArtifactKind::Tasks) {
            let judged = task_ids::judge(&self.items, &self.mentions);
            tasks = judged.count;
            self.findings.extend(judged.findings);
        }
        if self.is(ArtifactKind::Spec) {
            self.missing_spec_sections();
        }
        if let Mode::Checklist(step) = self.mode {
            for f in &mut self.findings {
                f.gates = Some(step);
            }
        }
        // A checklist of things that can only hold once the code exists never blocks.
        let (deferred, mut findings): (Vec<Finding>, Vec<Finding>) = self
            .findings
            .into_iter()
            .partition(|f| f.gates == Some(Step::Complete));
        order(&mut findings);
        Analysis {
            findings,
            tasks,
            deferred,
        }
    }

    /// A spec without user scenarios or requirements is not a spec, whatever else it says
    /// (a five-line pointer to another document, a template with its sections deleted).
    fn missing_spec_sections(&mut self) {
        let line = self
            .text
            .lines()
            .position(|l| l.starts_with("# "))
            .map_or(1, |i| i + 1);
        let s = &self.spec_sections;
        let mut missing = Vec::new();
        if !s.scenarios {
            missing.push((
                "User Scenarios & Testing",
                "who does what, with Given/When/Then acceptance scenarios",
            ));
        }
        if !s.requirements {
            missing.push(("Requirements", "numbered, testable functional requirements"));
        }
        for (name, what) in missing {
            self.findings.push(Finding::new(
                line,
                FindingKind::MissingSection,
                format!(
                    "the spec has no \"{name}\" section, which the spec template makes mandatory: write {what}"
                ),
            ));
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
                self.item = None;
                self.heading = Some((level as usize, String::new(), self.line_of(range.start)));
            }
            Event::End(TagEnd::Heading(_)) => {
                self.flush();
                if let Some((level, title, line)) = self.heading.take() {
                    self.open_section(level, title, line);
                }
            }
            // `*GATE: ...*`, `_GATE: ..._` and `**GATE: ...**` are all gate lines.
            Event::Start(Tag::Emphasis | Tag::Strong) => self.emphasis_depth += 1,
            Event::End(TagEnd::Emphasis | TagEnd::Strong) => {
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
                if !self.in_guidance() {
                    for (_, token) in placeholders(&code, Strictness::UnmistakableOnly) {
                        self.findings.push(placeholder_finding(line, token));
                    }
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
                section.gate = Some(gates::classify(text));
            }
            self.item_text(text);
        }
        self.push(text, offset);
    }

    /// The first text of a list item decides whether it is a task line (`T001 ...`).
    fn item_text(&mut self, text: &str) {
        // `- [ ] [T001] ...`: the bracket is its own piece of text; the ID follows.
        if text == "[" && self.item.is_some() && !self.item_bracket {
            self.item_bracket = true;
            return;
        }
        self.item_bracket = false;
        let Some((line, checked)) = self.item.take() else {
            return;
        };
        if !self.is(ArtifactKind::Tasks) {
            return;
        }
        if text.trim_start().starts_with("TXXX") {
            self.findings.push(Finding::new(
                line,
                FindingKind::Placeholder,
                "sample task ID TXXX left in: number it T001, T002, ...",
            ));
            return;
        }
        if let Some(id) = task_id(text) {
            self.items.push(TaskItem {
                id,
                line,
                checkbox: checked,
                heading: false,
            });
        }
    }

    fn push(&mut self, text: &str, offset: usize) {
        self.pieces.push((self.run.len(), offset));
        self.run.push_str(text);
    }

    fn in_guidance(&self) -> bool {
        self.sections.iter().any(|s| s.guidance)
    }

    /// Scans the finished run of text for placeholders and task ID mentions.
    fn flush(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let run = std::mem::take(&mut self.run);
        let pieces = std::mem::take(&mut self.pieces);
        let line_at = |checker: &Self, position: usize| {
            let index = pieces.partition_point(|&(start, _)| start <= position) - 1;
            let (start, source) = pieces[index];
            checker.line_of(source + (position - start))
        };
        let in_title = matches!(self.heading, Some((1, _, _)));
        if !self.in_guidance() {
            for (position, token) in placeholders(&run, Strictness::All) {
                let line = line_at(self, position);
                let mut finding = placeholder_finding(line, token);
                if in_title && finding.kind == FindingKind::Placeholder {
                    finding.kind = FindingKind::UnfilledTemplate;
                    finding.message = format!(
                        "the title is still the template's {token}: this file has not been filled in yet; write it for the feature"
                    );
                }
                self.findings.push(finding);
            }
        }
        if self.is(ArtifactKind::Tasks) {
            for (position, id) in task_ids::mentions(&run) {
                let line = line_at(self, position);
                self.mentions.push((id.to_owned(), line));
            }
        }
    }

    fn mark_body(&mut self) {
        for section in &mut self.sections {
            section.has_body = true;
        }
    }

    fn unchecked_box(&mut self, offset: usize) {
        let line = self.line_of(offset);
        let (title, gates) = match self.mode {
            Mode::Checklist(step) => (String::new(), Some(step)),
            Mode::Artifact(_) => {
                let Some(section) = self.sections.iter().rev().find(|s| s.gate.is_some()) else {
                    return;
                };
                (section.title.clone(), section.gate.flatten())
            }
        };
        let message = if title.is_empty() {
            "unchecked item in the checklist: check it (`- [x]`) once it holds".to_owned()
        } else {
            format!(
                "unchecked item in the gate checklist \"{title}\": check it (`- [x]`) once it holds"
            )
        };
        let mut finding = Finding::new(line, FindingKind::UncheckedGateItem, message);
        finding.gates = gates;
        self.findings.push(finding);
    }

    fn open_section(&mut self, level: usize, title: String, line: usize) {
        while self.sections.last().is_some_and(|s| s.level >= level) {
            self.close_section();
        }
        for s in &mut self.sections {
            s.in_lead = false;
        }
        if self.is(ArtifactKind::Tasks)
            && let Some(id) = task_id(&title)
        {
            self.items.push(TaskItem {
                id,
                line,
                checkbox: None,
                heading: true,
            });
        }
        let lower = title.to_lowercase();
        let mandatory = MANDATORY.iter().any(|m| lower.contains(m));
        let mut title = title;
        for m in MANDATORY {
            if let Some(i) = title.to_lowercase().find(m) {
                title.replace_range(i..i + m.len(), "");
            }
        }
        let title = title.trim().to_owned();
        if self.is(ArtifactKind::Spec) {
            let s = &mut self.spec_sections;
            s.scenarios |= SCENARIOS.iter().any(|k| lower.contains(k));
            s.requirements |= REQUIREMENTS.iter().any(|k| lower.contains(k));
        }
        // "### GATE: Checked before marking complete" under "## Validation Checklist": the
        // heading is the gate line, and the list under it is what it gates.
        let gate = if title.trim_start().to_uppercase().starts_with("GATE") {
            Some(gates::classify(&title))
        } else {
            gates::is_known_checklist(&title).then_some(None)
        };
        let guidance = GUIDANCE.iter().any(|g| lower.contains(g));
        self.sections.push(Section {
            level,
            title,
            line,
            mandatory,
            gate,
            guidance,
            has_body: false,
            in_lead: true,
        });
    }

    fn close_section(&mut self) {
        if let Some(s) = self.sections.pop()
            && s.mandatory
            && !s.has_body
        {
            self.findings.push(Finding::new(
                s.line,
                FindingKind::EmptySection,
                format!(
                    "the mandatory section \"{}\" is empty: write its content",
                    s.title
                ),
            ));
        }
    }
}

/// The marks a heading carries when the template makes it mandatory (English, Portuguese,
/// Spanish), lowercase.
const MANDATORY: [&str; 5] = [
    "(mandatory)",
    "(obrigatório)",
    "(obrigatória)",
    "(obrigatorio)",
    "(obligatorio)",
];

/// Heading words of the user-scenarios section, in the languages spec-kit is used in
/// (English, Portuguese, Spanish, French, Chinese, Japanese).
const SCENARIOS: [&str; 23] = [
    "scenario",
    "user stor",
    "stories",
    "user flow",
    "histórias",
    "historias",
    "jornada",
    "use case",
    "user journey",
    "acceptance criteria",
    "cenário",
    "cenario",
    "escenario",
    "scénario",
    "histórias de usuário",
    "historias de usuario",
    "casos de uso",
    "用户场景",
    "用户故事",
    "使用场景",
    "ユーザーシナリオ",
    "ユーザーストーリー",
    "シナリオ",
];

/// Heading words of the requirements section.
const REQUIREMENTS: [&str; 7] = [
    "requirement",
    "requisito",
    "requerimiento",
    "exigência",
    "exigence",
    "需求",
    "要件",
];

/// Headings of the template's advice to its author, which quotes markers as examples.
const GUIDANCE: [&str; 6] = [
    "for ai generation",
    "quick guidelines",
    "section requirements",
    "para geração por ia",
    "para geração com ia",
    "diretrizes rápidas",
];

/// `T001 [P] ...` -> `T001`; `T048A` and `T020a` keep their letter.
pub(crate) fn task_id(text: &str) -> Option<String> {
    let t = text.trim_start();
    task_ids::id_at(t).map(str::to_owned)
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
        let text = "# Spec: Login\n\n## Scenarios *(mandatory)*\n\nA user logs in.\n\n## Requirements\n\n- FR-001: log in\n";
        assert!(analyse(ArtifactKind::Spec, text.as_bytes()).is_complete());
    }

    #[test]
    fn gate_placeholders_are_found_at_their_line() {
        let text = "# Spec\n\nIntro.\n\nThe user {{does what}} today.\n";
        let f = findings(ArtifactKind::Plan, text);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, 5);
        assert!(f[0].1.contains("{{does what}}"), "{f:?}");
    }

    #[test]
    fn spec_kit_markers_are_placeholders() {
        let text = "# Feature Specification: [FEATURE NAME]\n\n**Branch**: `[###-x]` [###-feature-name]\n\n\
                    Input: $ARGUMENTS\n\n- FR-001: must auth via [NEEDS CLARIFICATION: which method?]\n\nDate: [DATE]\n";
        // The template's own title first (the file is unfilled), then the open question:
        // the ones a reviewer reads first.
        assert_eq!(lines(ArtifactKind::Plan, text), vec![1, 7, 3, 3, 5, 9]);
        let f = findings(ArtifactKind::Plan, text);
        assert!(
            f[0].1
                .starts_with("the title is still the template's [FEATURE NAME]")
        );
        assert!(
            f[1].1
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
        let f = findings(ArtifactKind::Plan, text);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].0, 3);
        assert!(f[0].1.contains("\"Requirements\""));
    }

    #[test]
    fn mandatory_section_body_includes_subsections() {
        let text = "## Scenarios *(mandatory)*\n\n### Story 1\n\nGiven a user.\n";
        assert_eq!(findings(ArtifactKind::Plan, text), vec![]);
    }

    #[test]
    fn gate_checklist_must_be_fully_checked() {
        let text = "## Review\n\n*GATE: all checked before planning*\n\n- [x] one\n- [ ] two\n\n\
                    ### Sub\n\n- [ ] three\n\n## Progress\n\n- [ ] not a gate\n";
        assert_eq!(lines(ArtifactKind::Plan, text), vec![6, 10]);
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
        assert_eq!(task_id("T001x"), Some("T001x".into()));
        assert_eq!(task_id("T048A: x"), Some("T048A".into()));
        assert_eq!(task_id("T001xy"), None);
        assert_eq!(task_id("Test"), None);
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

    #[test]
    fn template_guidance_quotes_the_marker_without_asking_it() {
        let text = "# Feature Specification: X\n\n## ⚡ Quick Guidelines\n\n### For AI Generation\n\n\
                    1. **Mark all ambiguities**: Use [NEEDS CLARIFICATION: specific question] for any assumption\n\n\
                    ## User Scenarios & Testing *(mandatory)*\n\nA user.\n\n## Requirements *(mandatory)*\n\n\
                    - FR-001: sort by [NEEDS CLARIFICATION: which order?]\n";
        assert_eq!(lines(ArtifactKind::Spec, text), vec![15]);
    }

    #[test]
    fn mentions_of_task_ids_are_references_not_duplicates() {
        let text = "# Tasks\n\n- [ ] T001 Setup\n- [x] T002 Core\n- [ ] T048A Later insert\n\n\
                    ## Dependencies\n\n- T002 and T001 can run in parallel\n- **T002** is the core task\n\
                    - T002 blocks T048A, T015\n";
        let a = analyse(ArtifactKind::Tasks, text.as_bytes());
        assert_eq!(a.tasks, TaskCount { done: 1, total: 3 });
        let got: Vec<(usize, FindingKind)> = a.findings.iter().map(|f| (f.line, f.kind)).collect();
        assert_eq!(got, [(11, FindingKind::UnknownTaskReference)]);
        assert!(
            a.findings[0].message.starts_with("T015 "),
            "{:?}",
            a.findings
        );
    }

    #[test]
    fn a_template_title_comes_before_the_template_s_example_questions() {
        let text = "# Feature Specification: [FEATURE NAME]\n\n## User Scenarios & Testing\n\nx\n\n## Requirements\n\n\
                    - FR-006: via [NEEDS CLARIFICATION: auth method not specified]\n";
        let f = analyse(ArtifactKind::Spec, text.as_bytes()).findings;
        assert_eq!(
            f.iter().map(|f| (f.line, f.kind)).collect::<Vec<_>>(),
            [
                (1, FindingKind::UnfilledTemplate),
                (9, FindingKind::OpenQuestion)
            ]
        );
        assert!(f[0].message.contains("[FEATURE NAME]"), "{f:?}");
    }

    #[test]
    fn bracketed_task_ids_define_tasks() {
        let text = "# Tasks\n\n- [ ] [T001] [P] [deps:T000] Create `a.rs`\n- [x] [T002] [deps:T001] Use it\n\
                    - [ ] [link](x.md) not a task\n\n- T002 follows T001\n";
        let a = analyse(ArtifactKind::Tasks, text.as_bytes());
        assert_eq!(a.tasks, TaskCount { done: 1, total: 2 });
        assert_eq!(a.findings, vec![]);
    }

    #[test]
    fn a_spec_without_the_mandatory_sections_is_incomplete() {
        let pointer = "# Feature Specification: Billing\n\nThe spec for this feature lives in\n\
                       docs/billing/overview.md.\n\nSee there.\n";
        let f = findings(ArtifactKind::Spec, pointer);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].1.contains("User Scenarios"), "{f:?}");
        let pt = "# Especificação: Carrinho\n\n## Cenários de Usuário e Testes *(obrigatório)*\n\n\
                  Um cliente.\n\n## Requisitos *(obrigatório)*\n\n";
        assert_eq!(lines(ArtifactKind::Spec, pt), vec![7]);
        let zh = "# 功能规格: 调试\n\n## 用户场景与测试 *(mandatory)*\n\n运维人员开启调试。\n\n## 需求 *(mandatory)*\n\n- FR-001: 支持信号触发\n";
        assert_eq!(lines(ArtifactKind::Spec, zh), Vec::<usize>::new());
    }

    #[test]
    fn gate_lines_as_headings_bold_or_underscored_count() {
        let text = "# Tasks\n\n- [ ] T001 a\n\n## Validation Checklist\n\n### GATE: Checked before marking complete\n\n\
                    - [ ] All tests pass\n\n## Review\n\n**GATE: before implementation**\n\n- [ ] Paths named\n\n\
                    ## Other\n\n_GATE: Checked before marking complete_\n\n- [ ] Build succeeds\n";
        let a = analyse(ArtifactKind::Tasks, text.as_bytes());
        let lines: Vec<usize> = a.findings.iter().map(|f| f.line).collect();
        assert_eq!(lines, [15]);
        let deferred: Vec<usize> = a.deferred.iter().map(|f| f.line).collect();
        assert_eq!(deferred, [9, 21]);
    }

    #[test]
    fn known_checklists_gate_without_their_gate_line_and_completion_ones_say_so() {
        let text = "# Spec\n\n## Review & Acceptance Checklist\n\n- [ ] No implementation details\n\n\
                    ## Execution Status\n\n*Updated by main() during processing*\n\n- [ ] User description parsed\n";
        assert_eq!(lines(ArtifactKind::Plan, text), vec![5]);
        let done = "# Tasks\n\n- [ ] T001 a\n\n## Done\n\n*GATE: Checked before marking complete*\n\n- [ ] All tests pass\n";
        let a = analyse(ArtifactKind::Tasks, done.as_bytes());
        assert!(a.is_complete(), "{:?}", a.findings);
        assert_eq!(a.deferred.len(), 1);
        assert_eq!(a.deferred[0].line, 9);
    }

    proptest::proptest! {
        #[test]
        fn any_markdown_like_text_gives_findings_never_a_panic(
            text in "([-*#\\[\\]()`_ xXT0-9A\n|:]|GATE|NEEDS CLARIFICATION:|\\{\\{|\\}\\}|T048A|\\[T001\\]|é|用){0,200}"
        ) {
            for kind in ArtifactKind::ALL {
                let a = analyse(kind, text.as_bytes());
                let lines = text.lines().count().max(1);
                proptest::prop_assert!(a.findings.iter().all(|f| f.line >= 1 && f.line <= lines + 1));
            }
            analyse_checklist(text.as_bytes(), Step::Implement);
        }
    }
}
