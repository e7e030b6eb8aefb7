//! `gate log --since` and `gate log --follow`: the follower is a real child process reading
//! the real log while other gate commands append to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crate::env::{TestEnv, all, assert_contains, assert_exit, assert_lacks, stdout};

/// An event three years old, written as the hooks write them.
const OLD_EVENT: &str =
    "{\"time\":\"2022-01-01T00:00:00Z\",\"kind\":\"commit\",\"branch\":\"ancient-history\"}\n";

fn events_path(env: &TestEnv) -> std::path::PathBuf {
    env.path(".git/gate/events.jsonl")
}

fn append_raw(env: &TestEnv, text: &str) {
    use std::io::Write;
    let path = events_path(env);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// `gate log -f`, its stdout lines arriving on a channel.
struct Follower {
    child: Child,
    lines: Receiver<String>,
}

impl Follower {
    fn start(env: &TestEnv, extra: &[&str]) -> Follower {
        let mut child = env
            .gate_command(&env.root)
            .args(["log", "-f"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gate log -f");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines }
    }

    /// The next line containing `needle`, within 10 s; lines before it are returned too.
    #[track_caller]
    fn wait_for(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?} from gate log -f within 10 s; got {seen:?}");
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn since_shows_only_newer_events() {
    let env = TestEnv::new();
    append_raw(&env, OLD_EVENT);
    assert_exit(&env.gate(&["learn", "fresh lesson"]), 0);
    let all_events = stdout(&env.gate(&["log"]));
    assert_contains(&all_events, &["ancient-history", "fresh lesson"]);

    let out = env.gate(&["log", "--since", "2h"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["learning", "fresh lesson"]);
    assert_lacks(&stdout(&out), &["ancient-history"]);

    let json = stdout(&env.gate(&["log", "--since", "30m", "--json"]));
    assert_eq!(json.lines().count(), 1, "{json}");
    let wide = stdout(&env.gate(&["log", "--since", "100000h"]));
    assert_contains(&wide, &["ancient-history"]);
}

#[test]
fn since_rejects_a_duration_without_a_unit() {
    let env = TestEnv::new();
    let out = env.gate(&["log", "--since", "30"]);
    assert_exit(&out, 2);
    assert_contains(&all(&out), &["invalid duration"]);
}

#[test]
fn follow_prints_existing_events_then_appended_ones() {
    let env = TestEnv::new();
    append_raw(&env, OLD_EVENT);
    assert_exit(&env.gate(&["learn", "before the follower"]), 0);
    let follower = Follower::start(&env, &[]);
    let first = follower.wait_for("before the follower");
    assert!(first[0].contains("ancient-history"), "{first:?}");
    assert_exit(&env.gate(&["learn", "after the follower started"]), 0);
    let next = follower.wait_for("after the follower started");
    assert_eq!(next.len(), 1, "nothing shown twice: {next:?}");
    assert!(next[0].contains("learning"), "{next:?}");
}

#[test]
fn follow_with_since_and_json_filters_the_backlog() {
    let env = TestEnv::new();
    append_raw(&env, OLD_EVENT);
    assert_exit(&env.gate(&["learn", "recent"]), 0);
    let follower = Follower::start(&env, &["--since", "1h", "--json"]);
    let first = follower.wait_for("recent");
    assert_eq!(first.len(), 1, "the old event is filtered: {first:?}");
    let event: serde_json::Value = serde_json::from_str(&first[0]).unwrap();
    assert_eq!(event["kind"], "learning");
}

#[test]
fn follow_survives_truncation_and_rotation_of_the_log() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["learn", "one"]), 0);
    let follower = Follower::start(&env, &[]);
    follower.wait_for("one");
    std::fs::write(events_path(&env), "").unwrap();
    // Let the follower see the empty file before it grows again.
    std::thread::sleep(Duration::from_millis(500));
    assert_exit(&env.gate(&["learn", "two after truncation"]), 0);
    follower.wait_for("two after truncation");
    std::fs::rename(events_path(&env), env.path(".git/gate/events.jsonl.1")).unwrap();
    assert_exit(&env.gate(&["learn", "three after rotation"]), 0);
    follower.wait_for("three after rotation");
}

#[test]
fn follow_exits_cleanly_when_its_reader_goes_away() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["learn", "something"]), 0);
    let mut child = env
        .gate_command(&env.root)
        .args(["log", "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.contains("something"), "{first}");
    drop(out);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gate log -f kept running after its reader closed the pipe");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}
