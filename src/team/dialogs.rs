//! First-run screens of the agent CLIs that a brief must never be typed into: trust this
//! folder, review these hooks, pick a theme, log in, use this API key. `up` records what it can in the CLIs' own
//! settings beforehand ([`super::trust`]); a screen that still shows one (a `trust = false`
//! agent, Codex's review of project hooks, a CLI that changed its settings) is left to the
//! person, and the agent stays unbriefed until the next `up`.
//!
//! Matched on words the CLIs print (letters and digits only, lower-cased, so a line wrapped
//! inside a box still matches); each entry names the screen for the person.

/// (text on screen, what the screen is).
const SCREENS: &[(&str, &str)] = &[
    (
        "do you trust the files in this folder",
        "Claude Code's folder trust dialog",
    ),
    (
        "is this a project you created or one you trust",
        "Claude Code's folder trust dialog",
    ),
    (
        "choose the text style that looks best",
        "Claude Code's first-run theme picker",
    ),
    ("select login method", "Claude Code's login screen"),
    (
        "do you want to use this api key",
        "Claude Code's question whether to use the API key in its environment",
    ),
    (
        "do you trust the contents of this directory",
        "Codex's folder trust dialog",
    ),
    (
        "allow codex to work in this folder",
        "Codex's folder trust dialog",
    ),
    ("hooks need review", "Codex's review of the project's hooks"),
];

/// The first-run screen `screen` shows, if it is one gate knows.
pub fn shown(screen: &str) -> Option<&'static str> {
    // Letters and digits only: box borders, bullets and line breaks between words vanish.
    let letters: String = screen
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .to_lowercase();
    let text = letters.split_whitespace().collect::<Vec<_>>().join(" ");
    SCREENS
        .iter()
        .find(|(words, _)| text.contains(words))
        .map(|(_, what)| *what)
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn known_first_run_screens_are_named_even_when_wrapped() {
        assert_eq!(
            shown("  Hooks need review\n  1. Trust all and continue"),
            Some("Codex's review of the project's hooks")
        );
        assert_eq!(
            shown("│ Is this a project you created or one you │\n│ trust?                │"),
            Some("Claude Code's folder trust dialog")
        );
        assert_eq!(
            shown("Is this a project you created\n or one you trust?"),
            Some("Claude Code's folder trust dialog")
        );
        // Claude Code 2.1 with ANTHROPIC_API_KEY set and never approved (Enter picks "No").
        assert_eq!(
            shown(
                "  Detected a custom API key in your environment\n\n  Do you want to use this API key?\n\n    Yes\n  ❯ No (recommended)"
            ),
            Some("Claude Code's question whether to use the API key in its environment")
        );
        assert_eq!(shown("> ready for input"), None);
        assert_eq!(shown(""), None);
    }
}
