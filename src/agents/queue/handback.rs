//! Claude Code's Stop hook as a turn boundary: when Claude is about to end its turn and notes
//! wait for it, the hook answers `{"decision": "block", "reason": "<the notes>"}` on stdout and
//! Claude goes on with them as its next instruction, without anything typed into its pane.
//!
//! Bounded twice: never when the payload says `stop_hook_active: true` (Claude is already
//! continuing because of a Stop hook, and Claude itself gives up after a few blocks in a
//! row), and at most `delivery.handbacks` in a row (reset when a Stop finds nothing waiting
//! or the watcher types a note). A handback is a delivery: the notes are claimed exactly as
//! the watcher claims them and marked delivered, so nothing goes out twice.

use std::path::Path;

use super::{Queue, combined, kinds};
use crate::events::{Event, EventLog};

/// Should a Stop hand notes back? Pure: the payload's flag, the handbacks in a row so far,
/// the bound, and how many notes wait.
pub fn decide(stop_hook_active: bool, in_a_row: u32, max: u32, waiting: usize) -> bool {
    !stop_hook_active && in_a_row < max && waiting > 0
}

/// The Stop hook's answer for `agent`, given the hook's JSON payload: the block decision to
/// print on stdout, or `None` to let the turn end. `state` is gate's state directory.
pub fn handback(
    state: &Path,
    agent: &str,
    payload: &serde_json::Value,
    max: u32,
) -> Option<String> {
    let queue = Queue::in_dir(state);
    let active = payload
        .get("stop_hook_active")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let waiting = queue.pending(agent).map(|p| p.len()).unwrap_or(0);
    let in_a_row = queue.handbacks(agent);
    if waiting == 0 {
        // The turn really ends with nothing waiting: a new run of handbacks may start.
        if in_a_row > 0 {
            let _ = queue.set_handbacks(agent, 0);
        }
        return None;
    }
    if !decide(active, in_a_row, max, waiting) {
        return None;
    }
    let claims = queue.claim_all(agent).ok()?;
    if claims.is_empty() {
        return None;
    }
    let notes: Vec<_> = claims.iter().map(|c| c.note.clone()).collect();
    let reason = combined(&notes);
    let log = EventLog::in_dir(state);
    for claim in claims {
        let mut e = Event::now(kinds::HANDED_BACK);
        e.detail = format!(
            "{}: handed back to {agent} by its Stop hook ({} of {max} in a row)",
            claim.note.id,
            in_a_row + 1
        );
        let _ = log.append(&e);
        let _ = claim.delivered();
    }
    let _ = queue.set_handbacks(agent, in_a_row + 1);
    Some(serde_json::json!({"decision": "block", "reason": reason}).to_string())
}
