//! Message text made safe to type: nothing in it may act as a keystroke other than text.
//!
//! The policy (also in the README):
//! - An escape sequence is removed whole: ESC with what follows it (CSI `ESC [ ... final`, OSC
//!   `ESC ] ... BEL or ESC \`, DCS/SOS/PM/APC up to their terminator, `ESC x` pairs), and the
//!   C1 introducers U+009B (CSI) and U+009D (OSC) with theirs. So colour codes piped in vanish
//!   rather than arriving as `[31m`, and `ESC [201~` can never end a bracketed paste early.
//! - Every other C0 control (U+0000..U+001F: NUL, Ctrl-C = U+0003, Ctrl-D, backspace, ...)
//!   except newline and tab, DEL (U+007F, backspace in most terminals) and the C1 controls
//!   (U+0080..U+009F) are removed.
//! - `\r\n` and a lone `\r` become `\n`: a carriage return would press Enter mid-message.
//! - Tab and newline stay; text with either goes in as one bracketed paste, where a TUI reads
//!   them as text rather than as the Tab and Enter keys.
//! - Leading and trailing blank lines and the final newline are dropped
//!   (`echo msg | gate send T -` sends `msg`, not `msg` and an empty line).

/// Text ready to send, with how many control characters or escape sequences were removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    text: String,
    removed: usize,
}

/// The longest argument given to one `send-keys -l`: tmux refuses a command line over ~16 kB.
const MAX_KEYS_ARG: usize = 8 * 1024;

impl Message {
    /// Applies the policy above; `None` when nothing is left to send.
    pub fn new(raw: &str) -> Option<Message> {
        let (clean, removed) = strip_controls(raw);
        let text = trim(&clean);
        (!text.is_empty()).then(|| Message {
            text: text.to_owned(),
            removed,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// How many control characters or escape sequences [`Message::new`] removed.
    pub fn removed(&self) -> usize {
        self.removed
    }

    /// Bytes of text sent.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Sent as one bracketed paste rather than typed keys.
    pub fn is_paste(&self) -> bool {
        self.text.contains(['\n', '\t'])
    }

    /// The `send-keys -l` arguments that type this text: chunks that fit tmux's command size,
    /// split on character boundaries, each protected against tmux's argument parser, which
    /// reads an argument ending in `;` as a command separator (`hello;` would arrive as
    /// `hello`) and unescapes a trailing `\;` to `;`.
    pub(crate) fn key_chunks(&self) -> Vec<String> {
        let mut chunks = Vec::new();
        let mut rest = self.text.as_str();
        while !rest.is_empty() {
            let mut cut = rest.len().min(MAX_KEYS_ARG);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (chunk, tail) = rest.split_at(cut);
            chunks.push(protect_semicolon(chunk));
            rest = tail;
        }
        chunks
    }
}

fn protect_semicolon(chunk: &str) -> String {
    match chunk.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => chunk.to_owned(),
    }
}

fn is_removed_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c)
}

/// Removes escape sequences and control characters; returns the text and how many went.
fn strip_controls(raw: &str) -> (String, usize) {
    let mut out = String::with_capacity(raw.len());
    let mut removed = 0;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            '\x1b' => {
                removed += 1;
                match chars.peek().copied() {
                    Some('[') => {
                        chars.next();
                        skip_csi(&mut chars);
                    }
                    Some(']' | 'P' | 'X' | '^' | '_') => {
                        chars.next();
                        skip_string(&mut chars);
                    }
                    Some(' '..='/') => {
                        // nF: intermediates, then one final character.
                        while chars.next_if(|c| (' '..='/').contains(c)).is_some() {}
                        chars.next_if(|c| ('0'..='~').contains(c));
                    }
                    Some('0'..='~') => {
                        chars.next();
                    }
                    _ => {}
                }
            }
            '\u{9b}' => {
                removed += 1;
                skip_csi(&mut chars);
            }
            '\u{9d}' => {
                removed += 1;
                skip_string(&mut chars);
            }
            c if is_removed_control(c) => removed += 1,
            c => out.push(c),
        }
    }
    (out, removed)
}

/// Parameters and intermediates up to and including the final byte (`@`..`~`).
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.next_if(|c| (' '..='?').contains(c)).is_some() {}
    chars.next_if(|c| ('@'..='~').contains(c));
}

/// A control string up to BEL or ST (`ESC \`), or up to any other control character, which
/// ends a malformed one without eating the rest of the message.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.peek().copied() {
        match c {
            '\x07' | '\u{9c}' => {
                chars.next();
                return;
            }
            '\x1b' => {
                chars.next();
                chars.next_if_eq(&'\\');
                return;
            }
            c if c.is_control() => return,
            _ => {
                chars.next();
            }
        }
    }
}

/// Drops leading and trailing blank lines and the final newline, keeping the spaces of the
/// lines with text (`--no-enter "draft "` keeps its space).
fn trim(text: &str) -> &str {
    let Some(first) = text.find(|c: char| !c.is_whitespace()) else {
        return "";
    };
    let start = text[..first].rfind('\n').map_or(0, |i| i + 1);
    let last = text.trim_end().len();
    let end = text[last..].find('\n').map_or(text.len(), |i| last + i);
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(raw: &str) -> (String, usize) {
        Message::new(raw).map_or((String::new(), 0), |m| (m.text, m.removed))
    }

    #[test]
    fn text_that_looks_like_commands_is_untouched() {
        for text in [
            "$(rm -rf /) ; && | \"quotes\" 'single' \\backslash #{pane_id}",
            "-n starts with a dash",
            "Enter",
            "C-c",
            "é 日本 🎉",
            "tab\there",
        ] {
            assert_eq!(clean(text), (text.to_owned(), 0));
        }
    }

    #[test]
    fn escape_sequences_go_whole() {
        assert_eq!(clean("\x1b[31mred\x1b[0m plain"), ("red plain".into(), 2));
        assert_eq!(clean("a\x1b]0;title\x07b"), ("ab".into(), 1));
        assert_eq!(
            clean("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b"),
            ("alinkb".into(), 2)
        );
        assert_eq!(clean("paste\x1b[201~end"), ("pasteend".into(), 1));
        assert_eq!(clean("a\x1b(Bb"), ("ab".into(), 1));
        assert_eq!(clean("a\x1bcb"), ("ab".into(), 1));
        assert_eq!(clean("a\u{9b}1mb"), ("ab".into(), 1));
        assert_eq!(clean("a\x1b]unterminated\nnext"), ("a\nnext".into(), 1));
        assert_eq!(clean("trailing\x1b"), ("trailing".into(), 1));
    }

    #[test]
    fn control_characters_go() {
        assert_eq!(
            clean("a\x03b\x00c\x04d\x7fe\x08f\u{85}g"),
            ("abcdefg".into(), 6)
        );
    }

    #[test]
    fn carriage_returns_become_newlines() {
        assert_eq!(clean("one\r\ntwo\rthree"), ("one\ntwo\nthree".into(), 0));
    }

    #[test]
    fn blank_edges_are_trimmed() {
        assert_eq!(clean("msg\n"), ("msg".into(), 0));
        assert_eq!(
            clean("\n  \n  indented\nnext  \n \n"),
            ("  indented\nnext  ".into(), 0)
        );
        assert_eq!(clean("draft "), ("draft ".into(), 0));
        assert!(Message::new(" \n\t\x1b[0m\n").is_none());
    }

    #[test]
    fn trailing_semicolons_survive_tmux_parsing() {
        let m = Message::new("hello;").unwrap();
        assert_eq!(m.key_chunks(), ["hello\\;"]);
        let m = Message::new("x\\;").unwrap();
        assert_eq!(m.key_chunks(), ["x\\\\;"]);
        assert_eq!(Message::new(";").unwrap().key_chunks(), ["\\;"]);
        assert_eq!(Message::new("a;b").unwrap().key_chunks(), ["a;b"]);
    }

    #[test]
    fn long_text_is_chunked_on_char_boundaries() {
        let text = "é".repeat(10_000); // 20 kB
        let m = Message::new(&text).unwrap();
        let chunks = m.key_chunks();
        assert!(chunks.len() >= 3);
        assert!(chunks.iter().all(|c| c.len() <= MAX_KEYS_ARG));
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn paste_for_newlines_and_tabs() {
        assert!(Message::new("a\nb").unwrap().is_paste());
        assert!(Message::new("a\tb").unwrap().is_paste());
        assert!(!Message::new("a b").unwrap().is_paste());
    }
}
