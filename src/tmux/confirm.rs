//! Was the message submitted? A heuristic over the pane's screen, kept pure so that it is
//! tested with plain strings.
//!
//! Text on screen is not proof of submission: a TUI shows a message in its input box until
//! Enter submits it. After Enter, gate looks at the bottom of the screen: if the message's
//! tail still ends one of the last few lines that hold text, it may still sit in the input
//! box. The sender ([`super::Tmux::send`]) acts on that only when the screen has also stopped
//! changing, so a busy agent redrawing its screen is left alone.
//!
//! The trade-off: a false "unsubmitted" costs an extra Enter on an empty input (ignored by
//! Claude Code and Codex, a blank line for a plain line reader); a false "submitted" leaves a
//! message unsent, which is what gate exists to prevent.

/// A pane's visible screen, one string per row, and its cursor (column, row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub lines: Vec<String>,
    pub cursor: (usize, usize),
}

/// How many characters of the message's end must still be visible.
const TAIL_CHARS: usize = 20;
/// How many of the last rows holding text are searched: an input box is usually followed by
/// a border (no text) and a line of hints; a shell that ran the message shows it higher up.
const LAST_TEXT_ROWS: usize = 2;

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

/// Does `message` look like it still sits unsubmitted on `screen`?
///
/// True when one of the last [`LAST_TEXT_ROWS`] rows holding text ends with the last
/// [`TAIL_CHARS`] characters of the message (its last line), compared without whitespace and
/// box-drawing characters (input-box borders, wrapping at spaces), also across two adjacent
/// rows (the app wrapped the tail). Except when the cursor has moved to column 0 of the blank
/// row right below it: a plain line reader that echoed the text and moved on.
pub fn looks_unsubmitted(screen: &Screen, message: &str) -> bool {
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
        (text.ends_with(&tail) || joined.ends_with(&tail)) && !moved_on(screen, *row)
    })
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
        assert!(looks_unsubmitted(&s, MSG));
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
        assert!(looks_unsubmitted(&s, MSG));
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
        assert!(!looks_unsubmitted(&s, MSG));
    }

    #[test]
    fn a_shell_that_ran_it_has_moved_on() {
        let s = screen("$ echo hello there\nhello there\n$ \n", (2, 2));
        assert!(!looks_unsubmitted(&s, "echo hello there"));
        let s = screen("$ echo hello there\n", (18, 0));
        assert!(
            looks_unsubmitted(&s, "echo hello there"),
            "still at the prompt"
        );
    }

    #[test]
    fn a_line_reader_that_echoed_and_moved_on() {
        let s = screen(&format!("{MSG}\n\n\n"), (0, 1));
        assert!(!looks_unsubmitted(&s, MSG));
        let s = screen(&format!("{MSG}\n\n\n"), (46, 0));
        assert!(looks_unsubmitted(&s, MSG), "cursor still after the text");
    }

    #[test]
    fn multi_line_messages_are_judged_by_their_last_line() {
        let msg = "first line\nsecond line\nthe end of it\n";
        let s = screen(
            "│ > first line │\n│ second line │\n│ the end of it │\n",
            (10, 2),
        );
        assert!(looks_unsubmitted(&s, msg));
        let s = screen("[Pasted text #1 +2 lines]\n", (0, 1));
        assert!(!looks_unsubmitted(&s, msg));
    }

    #[test]
    fn blank_screens_and_messages() {
        assert!(!looks_unsubmitted(&screen("\n\n\n", (0, 0)), MSG));
        assert!(!looks_unsubmitted(&screen("x\n", (0, 0)), "  \n "));
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
