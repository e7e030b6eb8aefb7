use std::time::Duration;

use super::handback::{decide, handback};
use super::*;

fn note(id: &str, topic: &str, queued: i64) -> Note {
    Note {
        id: id.into(),
        agent: "eng 1".into(),
        kind: "checkin".into(),
        topic: topic.into(),
        text: format!("[gate check-in] {id}"),
        queued,
        pane: Some("%3".into()),
        socket: None,
    }
}

fn ids(notes: &[Note]) -> Vec<&str> {
    notes.iter().map(|n| n.id.as_str()).collect()
}

#[test]
fn notes_wait_in_order_and_an_id_or_a_waiting_topic_is_never_queued_twice() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::in_dir(dir.path());
    assert_eq!(q.enqueue(&note("b", "t-b", 20)).unwrap(), Enqueued::Added);
    assert_eq!(q.enqueue(&note("a", "t-a", 10)).unwrap(), Enqueued::Added);
    assert_eq!(
        q.enqueue(&note("a", "t-other", 30)).unwrap(),
        Enqueued::Duplicate
    );
    assert_eq!(
        q.enqueue(&note("c", "t-b", 30)).unwrap(),
        Enqueued::Duplicate
    );
    assert_eq!(ids(&q.pending("eng 1").unwrap()), ["a", "b"]);
    assert_eq!(q.agents(), ["eng 1"]);
    assert_eq!(q.counts(), [("eng 1".to_string(), 2)]);
    // A delivered id leaves a tombstone: the same check-in occurrence is never queued again.
    let claim = q.claim(&note("a", "t-a", 10)).unwrap().unwrap();
    claim.delivered().unwrap();
    assert_eq!(
        q.enqueue(&note("a", "t-a", 40)).unwrap(),
        Enqueued::Duplicate
    );
    assert_eq!(ids(&q.pending("eng 1").unwrap()), ["b"]);
}

#[test]
fn of_two_claimers_one_wins_and_a_failed_send_puts_the_note_back() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::in_dir(dir.path());
    let n = note("x", "t", 1);
    q.enqueue(&n).unwrap();
    let first = q.claim(&n).unwrap().expect("the first claim wins");
    assert!(q.claim(&n).unwrap().is_none(), "the second finds it taken");
    assert!(q.pending("eng 1").unwrap().is_empty());
    first.release().unwrap();
    assert_eq!(ids(&q.pending("eng 1").unwrap()), ["x"]);
    let all = q.claim_all("eng 1").unwrap();
    assert_eq!(all.len(), 1);
    for c in all {
        c.delivered().unwrap();
    }
    assert!(q.claim_all("eng 1").unwrap().is_empty());
}

#[test]
fn a_claim_whose_process_died_is_lost_and_reported_never_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::in_dir(dir.path());
    let n = note("x", "t", 1);
    q.enqueue(&n).unwrap();
    let claim = q.claim(&n).unwrap().unwrap();
    // The claimer crashes here: the claim is neither delivered nor released.
    std::mem::forget(claim);
    assert!(
        q.sweep(100, |_| true).is_empty(),
        "a live claimer is left alone"
    );
    let lost = q.sweep(100, |_| false);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].note, n);
    assert_eq!(lost[0].pid, std::process::id());
    assert!(q.pending("eng 1").unwrap().is_empty());
    assert!(q.claim_all("eng 1").unwrap().is_empty());
    assert_eq!(q.enqueue(&n).unwrap(), Enqueued::Duplicate);
    assert!(q.sweep(100, |_| false).is_empty(), "reported once");
}

#[test]
fn escalation_and_episodes_are_marked_once_and_waits_are_timed_by_the_clock_given() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::in_dir(dir.path());
    let n = note("x", "t", 1_000);
    let after = Duration::from_secs(20 * 60);
    assert!(!overdue(&n, 1_000 + 20 * 60 - 1, after));
    assert!(overdue(&n, 1_000 + 20 * 60, after));
    assert!(q.mark_escalated(&n).unwrap());
    assert!(!q.mark_escalated(&n).unwrap());
    assert!(q.mark_once("eng 1", "needs-input 1700000000").unwrap());
    assert!(!q.mark_once("eng 1", "needs-input 1700000000").unwrap());
    assert!(q.mark_once("eng 1", "needs-input 1700000999").unwrap());
    // Markers are not notes.
    q.enqueue(&n).unwrap();
    assert_eq!(ids(&q.pending("eng 1").unwrap()), ["x"]);
}

#[test]
fn names_are_one_safe_path_component() {
    assert_eq!(file_safe("eng 1/../x"), "eng%201%2F%2E%2E%2Fx");
    assert_eq!(unsafe_name(&file_safe("eng 1/../x")), "eng 1/../x");
}

#[test]
fn several_notes_are_typed_as_one_numbered_line() {
    let one = [note("a", "a", 1)];
    assert_eq!(combined(&one), "[gate check-in] a");
    let two = [note("a", "a", 1), note("b", "b", 2)];
    assert_eq!(
        combined(&two),
        "[gate] 2 notes held while you worked: (1) [gate check-in] a (2) [gate check-in] b"
    );
}

#[test]
fn the_stop_hook_hands_notes_back_bounded_and_never_when_stop_hook_active() {
    assert!(decide(false, 0, 3, 1));
    assert!(!decide(true, 0, 3, 1));
    assert!(!decide(false, 3, 3, 1));
    assert!(!decide(false, 0, 3, 0));
    assert!(!decide(false, 0, 0, 1));

    let dir = tempfile::tempdir().unwrap();
    let q = Queue::in_dir(dir.path());
    let active = serde_json::json!({"hook_event_name": "Stop", "stop_hook_active": true});
    let fresh = serde_json::json!({"hook_event_name": "Stop", "stop_hook_active": false});
    assert_eq!(
        handback(dir.path(), "eng 1", &fresh, 2),
        None,
        "nothing waits"
    );
    q.enqueue(&note("a", "a", 1)).unwrap();
    assert_eq!(handback(dir.path(), "eng 1", &active, 2), None);
    assert_eq!(q.pending("eng 1").unwrap().len(), 1, "still waiting");
    let out = handback(dir.path(), "eng 1", &fresh, 2).expect("handed back");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"decision": "block", "reason": "[gate check-in] a"})
    );
    assert!(q.pending("eng 1").unwrap().is_empty());
    q.enqueue(&note("b", "b", 2)).unwrap();
    assert!(handback(dir.path(), "eng 1", &fresh, 2).is_some());
    q.enqueue(&note("c", "c", 3)).unwrap();
    assert_eq!(
        handback(dir.path(), "eng 1", &fresh, 2),
        None,
        "two in a row at most"
    );
    assert_eq!(q.pending("eng 1").unwrap().len(), 1);
    let (events, _) = crate::events::EventLog::in_dir(dir.path()).read().unwrap();
    let handed: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == kinds::HANDED_BACK)
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(handed.len(), 2);
    assert!(
        handed[0].starts_with("a: handed back to eng 1"),
        "{handed:?}"
    );
}
