//! Where is the message? Heuristics over the pane's screen, kept pure so that they are tested
//! with plain strings.
//!
//! A TUI shows typed text in its input area (the bottom rows) until Enter submits it; a menu
//! or a dialog shows none of it. So gate presses Enter only once the message, or the CLI's
//! placeholder for a paste (Claude Code's `[Pasted text #1 +4 lines]`, Codex's `[Pasted
//! Content 1200 chars]`), is seen there, and counts it delivered only once it has left.
//! "There" means: the message's tail ends one of the last few rows that hold text, or such a
//! row holds a paste placeholder.
//!
//! The trade-off: a message never seen is not submitted (gate reports it and leaves the pane
//! alone), which is better than an Enter that picks a menu item while the message is lost.

/// A pane's visible screen, one string per row, and its cursor (column, row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub lines: Vec<String>,
    pub cursor: (usize, usize),
}

/// How many characters of the message's end must still be visible.
const TAIL_CHARS: usize = 20;
/// How many of the last rows holding text are searched: an input box is followed by a border
/// (no text) and one or two rows of hints and status (Codex 0.171: its model line and a
/// warnings line); a shell shows the command it ran above its output and the next prompt.
const LAST_TEXT_ROWS: usize = 3;

impl Screen {
    /// Parses `capture-pane -p` output followed by one `cursor_x,cursor_y` line.
    pub(crate) fn parse(output: &str) -> Option<Screen> {
        let mut lines: Vec<String> = output.lines().map(str::to_owned).collect();
        let cursor = lines.pop()?;
        let (x, y) = cursor.split_once(',')?;
        Some(Screen {
            lines,
            cursor: (x.trim().parse().ok()?, y.trim().parse().ok()?),
        })
    }
}

/// Does `message` show in the input area of `screen`, as typed text or a paste placeholder?
///
/// True when one of the last [`LAST_TEXT_ROWS`] rows holding text ends with the last
/// [`TAIL_CHARS`] characters of the message (its last line), compared without whitespace and
/// box-drawing characters (input-box borders, wrapping at spaces), also across two adjacent
/// rows (the app wrapped the tail), or holds a paste placeholder. Except when the cursor has
/// moved to column 0 of the blank row right below it: a plain line reader that echoed the text
/// and moved on.
pub fn in_input(screen: &Screen, message: &str) -> bool {
    let tail = tail(message);
    if tail.is_empty() {
        return false;
    }
    let rows: Vec<(usize, String)> = screen
        .lines
        .iter()
        .map(|l| normalise(l))
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let first = rows.len().saturating_sub(LAST_TEXT_ROWS);
    (first..rows.len()).any(|i| {
        let (row, text) = &rows[i];
        let joined = match i.checked_sub(1).map(|j| &rows[j]) {
            Some((prev, prev_text)) if prev + 1 == *row => format!("{prev_text}{text}"),
            _ => String::new(),
        };
        let shown = text.ends_with(&tail) || joined.ends_with(&tail) || has_placeholder(text);
        shown && !moved_on(screen, *row)
    })
}

/// The last `n` rows of `screen` that hold text, as shown (trailing spaces dropped): what a
/// person needs to see of a pane that did not take a message.
pub fn last_rows(screen: &Screen, n: usize) -> Vec<String> {
    let rows: Vec<String> = screen
        .lines
        .iter()
        .map(|l| l.trim_end().to_owned())
        .filter(|l| !l.trim().is_empty())
        .collect();
    rows[rows.len().saturating_sub(n)..].to_vec()
}

/// A normalised row holding a CLI's stand-in for pasted text: `[Pastedtext#1+4lines]` or
/// `[Pastedtext#2]` (Claude Code), `[PastedContent1200chars]` (Codex).
fn has_placeholder(row: &str) -> bool {
    row.match_indices("[Pasted").any(|(at, _)| {
        let rest = &row[at + "[Pasted".len()..];
        let Some(end) = rest.find(']') else {
            return false;
        };
        let inner = &rest[..end];
        if let Some(n) = inner.strip_prefix("text#") {
            match n.split_once('+') {
                None => digits(n),
                Some((number, lines)) => {
                    let count = lines.strip_suffix("lines").or(lines.strip_suffix("line"));
                    digits(number) && count.is_some_and(digits)
                }
            }
        } else if let Some(n) = inner.strip_prefix("Content") {
            n.strip_suffix("chars").is_some_and(digits)
        } else {
            false
        }
    })
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn moved_on(screen: &Screen, row: usize) -> bool {
    let (x, y) = screen.cursor;
    x == 0 && y == row + 1 && screen.lines.get(y).is_none_or(|l| normalise(l).is_empty())
}

/// The last characters of the message's last line with text, normalised.
fn tail(message: &str) -> String {
    let last = message
        .lines()
        .map(normalise)
        .rfind(|l| !l.is_empty())
        .unwrap_or_default();
    let chars: Vec<char> = last.chars().collect();
    chars[chars.len().saturating_sub(TAIL_CHARS)..]
        .iter()
        .collect()
}

/// A row without whitespace and frame characters (box drawing and block elements).
fn normalise(line: &str) -> String {
    line.chars()
        .filter(|c| !c.is_whitespace() && !('\u{2500}'..='\u{259f}').contains(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(text: &str, cursor: (usize, usize)) -> Screen {
        Screen {
            lines: text.lines().map(str::to_owned).collect(),
            cursor,
        }
    }

    const MSG: &str = "Please report your status on the auth feature";

    #[test]
    fn message_in_a_boxed_input_is_unsubmitted() {
        let s = screen(
            "● Done.\n\
             \n\
             ╭──────────────────────────────────────────────────╮\n\
             │ > Please report your status on the auth feature │\n\
             ╰──────────────────────────────────────────────────╯\n\
             \x20 ? for shortcuts\n",
            (3, 3),
        );
        assert!(in_input(&s, MSG));
    }

    #[test]
    fn message_wrapped_by_the_app_is_unsubmitted() {
        let s = screen(
            "› Please report your status on\n\
             \x20 the auth feature\n\
             \n\
             \x20 ⏎ send   ⇧⏎ newline\n",
            (18, 1),
        );
        assert!(in_input(&s, MSG));
    }

    #[test]
    fn an_emptied_input_box_means_submitted() {
        let s = screen(
            "> Please report your status on the auth feature\n\
             \n\
             ✻ Thinking…\n\
             \n\
             ╭──────────────╮\n\
             │ >            │\n\
             ╰──────────────╯\n\
             \x20 ? for shortcuts\n",
            (4, 5),
        );
        assert!(!in_input(&s, MSG));
    }

    #[test]
    fn a_shell_that_ran_it_has_moved_on() {
        // Two rows of output, then the prompt: the command is out of the input area. (One
        // row of output or none is not told from an input with two status rows below it.)
        let s = screen("$ echo hello; echo there\nhello\nthere\n$ \n", (2, 3));
        assert!(!in_input(&s, "echo hello; echo there"));
        let s = screen("$ echo hello there\n", (18, 0));
        assert!(in_input(&s, "echo hello there"), "still at the prompt");
    }

    #[test]
    fn a_line_reader_that_echoed_and_moved_on() {
        let s = screen(&format!("{MSG}\n\n\n"), (0, 1));
        assert!(!in_input(&s, MSG));
        let s = screen(&format!("{MSG}\n\n\n"), (46, 0));
        assert!(in_input(&s, MSG), "cursor still after the text");
    }

    #[test]
    fn multi_line_messages_are_judged_by_their_last_line() {
        let msg = "first line\nsecond line\nthe end of it\n";
        let s = screen(
            "│ > first line │\n│ second line │\n│ the end of it │\n",
            (10, 2),
        );
        assert!(in_input(&s, msg));
    }

    #[test]
    fn a_paste_placeholder_in_the_input_stands_for_the_message() {
        let msg = "first line\nsecond line\nthe end of it";
        for placeholder in [
            "> [Pasted text #1 +2 lines]",
            "> [Pasted text #12 +1 line] ",
            "> [Pasted text #3]",
            "› [Pasted Content 1200 chars]",
        ] {
            let s = screen(&format!("{placeholder}\n\n  ? for shortcuts\n"), (28, 0));
            assert!(in_input(&s, msg), "{placeholder}");
        }
        for not_one in [
            "> [Pasted text #x +2 lines]",
            "> [Pasted]",
            "> [Pasted Content many]",
        ] {
            let s = screen(&format!("{not_one}\n"), (20, 0));
            assert!(!in_input(&s, msg), "{not_one}");
        }
        // Submitted: the placeholder went up into the transcript, the input is empty.
        let s = screen(
            "> [Pasted text #1 +2 lines]\n\n✻ Thinking…\n\n> \n  ? for shortcuts\n",
            (2, 4),
        );
        assert!(!in_input(&s, msg));
    }

    #[test]
    fn codex_input_above_its_status_rows() {
        // Codex 0.171 as measured: the input, then its model line and a warnings line.
        let s = screen(
            "  >_ OpenAI Codex (v0.171.0)\n\n\
             › hello from gate\n\n\
             \x20 gpt-5.1-codex default · /tmp/work\n\
             \x20                                  ⚠ 1 warning · f2 to view\n",
            (17, 2),
        );
        assert!(in_input(&s, "hello from gate"));
    }

    #[test]
    fn a_menu_shows_no_message() {
        // Codex's review screen: typed text goes nowhere visible; Enter would pick an item.
        let s = screen(
            "  Hooks need review\n\n\
             \x20 › 1. Review hooks\n\
             \x20   2. Continue without hooks\n\n\
             \x20 Press enter to confirm or esc to go back\n",
            (0, 6),
        );
        assert!(!in_input(&s, MSG));
    }

    #[test]
    fn last_rows_skip_blank_rows() {
        let s = screen("one  \n\n two\n   \nthree\n\n", (0, 0));
        assert_eq!(last_rows(&s, 2), [" two", "three"]);
        assert_eq!(last_rows(&s, 15), ["one", " two", "three"]);
        assert!(last_rows(&screen("\n\n", (0, 0)), 15).is_empty());
    }

    #[test]
    fn blank_screens_and_messages() {
        assert!(!in_input(&screen("\n\n\n", (0, 0)), MSG));
        assert!(!in_input(&screen("x\n", (0, 0)), "  \n "));
    }

    #[test]
    fn capture_output_parses() {
        let s = Screen::parse("line one\n\nline three\n5,2\n").unwrap();
        assert_eq!(s.lines, ["line one", "", "line three"]);
        assert_eq!(s.cursor, (5, 2));
        assert!(Screen::parse("").is_none());
        assert!(Screen::parse("row\nnot a cursor\n").is_none());
    }
}
