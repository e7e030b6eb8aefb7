//! Concurrency: an agent committing in a loop with the git CLI (gate's hooks installed by
//! `gate init`, so every commit runs them) while the watcher auto-commits on a one-second
//! cadence. No error beyond a retried lock, no lost change (every file the agent wrote is in
//! HEAD with its exact bytes, every commit it made is still in HEAD's history), no torn line
//! in the event log.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::env::{TestEnv, assert_exit, stdout};
use crate::support::{self, Rng, assert_fsck_clean, assert_no_torn_events, iterations};

/// What the agent saw, for the report and the assertions.
#[derive(Default, Debug)]
struct Tally {
    iterations: usize,
    agent_commits: usize,
    /// The agent's file was already committed by the watcher when it tried.
    taken_by_watcher: usize,
    /// git refused for a lock (index.lock or the branch's ref lock) and the agent retried.
    lock_retries: usize,
    /// Anything else: must stay empty.
    errors: Vec<String>,
}

fn gate_initialised_feature() -> TestEnv {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    let config = env
        .read(".gate.toml")
        .replace("interval = \"30m\"", "interval = \"1s\"")
        .replace("quiet = \"60s\"", "quiet = \"100ms\"");
    env.write(".gate.toml", &config);
    env.commit_all("set up gate");
    env.complete_feature("Concurrent");
    env.commit_all("spec, plan, tasks");
    env
}

fn is_lock_error(text: &str) -> bool {
    text.contains("index.lock") || text.contains("cannot lock ref") || text.contains(".lock'")
}

/// `git add PATH && git commit`, hooks running, retried while git reports a held lock.
/// Returns the new commit's abbreviated id, or `None` when there was nothing left to commit.
fn agent_commit(env: &TestEnv, path: &str, i: usize, tally: &mut Tally) -> Option<String> {
    for _ in 0..100 {
        let add = env.git_hooked(&env.root, &["add", "--", path], &[]);
        let add_text = String::from_utf8_lossy(&add.stderr).into_owned();
        if !add.status.success() {
            if is_lock_error(&add_text) {
                tally.lock_retries += 1;
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            tally.errors.push(format!("git add {path}: {add_text}"));
            return None;
        }
        let message = format!("agent iteration {i}");
        let commit = env.git_hooked(&env.root, &["commit", "-m", &message], &[]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&commit.stdout),
            String::from_utf8_lossy(&commit.stderr)
        );
        if commit.status.success() {
            // "[feature/001-concurrent 1a2b3c4] agent iteration 5"
            let id = text
                .lines()
                .find_map(|l| l.strip_prefix('['))
                .and_then(|l| l.split(']').next())
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_owned);
            return id;
        }
        if is_lock_error(&text) {
            tally.lock_retries += 1;
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        if text.contains("nothing to commit") || text.contains("nothing added to commit") {
            tally.taken_by_watcher += 1;
            return None;
        }
        tally.errors.push(format!("git commit ({i}): {text}"));
        return None;
    }
    tally
        .errors
        .push(format!("iteration {i}: still locked after 100 tries"));
    None
}

/// What the agent wrote and committed.
#[derive(Default)]
struct Agent {
    tally: Tally,
    written: BTreeMap<String, Vec<u8>>,
    ids: Vec<String>,
}

impl Agent {
    /// `n` iterations: each writes a unique file; half of them the agent commits itself.
    fn run(&mut self, env: &TestEnv, n: usize, rng: &mut Rng) {
        for i in 0..n {
            let path = format!("work/d{}/f{i:05}.txt", i % 10);
            let text = format!("iteration {i} token {}\n", rng.next()).repeat(1 + (i % 7) * 30);
            env.write(&path, &text);
            self.written.insert(path.clone(), text.into_bytes());
            if rng.chance(50)
                && let Some(id) = agent_commit(env, &path, i, &mut self.tally)
            {
                self.tally.agent_commits += 1;
                self.ids.push(id);
            }
            self.tally.iterations += 1;
            // Mostly busy; now and then a pause longer than the quiet period, so the watcher
            // commits in the middle of the agent's work rather than only at the end.
            let pause = if i % 10 == 9 { 150 } else { rng.below(30) };
            std::thread::sleep(Duration::from_millis(pause));
        }
    }

    /// Nothing lost: every file in HEAD byte for byte, nothing uncommitted, every commit of
    /// the agent's still in HEAD's history; no torn event; fsck clean.
    #[track_caller]
    fn assert_nothing_lost(&self, env: &TestEnv) -> usize {
        assert!(
            self.tally.errors.is_empty(),
            "agent errors: {:#?}",
            self.tally.errors
        );
        assert_eq!(
            env.git(&["status", "--porcelain", "--untracked-files=all"]),
            ""
        );
        support::assert_tree_holds(env, "HEAD", &self.written, &[]);
        let history: BTreeSet<String> = env
            .git(&["rev-list", "HEAD"])
            .lines()
            .map(str::to_owned)
            .collect();
        for id in &self.ids {
            assert!(
                history.iter().any(|h| h.starts_with(id.as_str())),
                "the agent's commit {id} is not in HEAD's history"
            );
        }
        assert_fsck_clean(env);
        assert_no_torn_events(env)
    }
}

#[test]
fn an_agent_committing_in_a_loop_beside_the_watcher_loses_nothing() {
    let env = gate_initialised_feature();
    let n = iterations(100, 1000);
    let mut rng = Rng::new("an_agent_committing_in_a_loop_beside_the_watcher_loses_nothing");
    let log = env.base_dir().join("watch.log");
    let mut watcher = support::spawn_watcher(&env, &log);
    assert!(
        support::eventually(Duration::from_secs(10), || {
            stdout(&env.gate(&["watch", "--status", "--json"])).contains("\"mode\": \"events\"")
        }),
        "the watcher did not start"
    );
    let started = Instant::now();
    let mut agent = Agent::default();
    agent.run(&env, n, &mut rng);
    let agent_time = started.elapsed();
    // Let the watcher take what is left, then stop it the way an operator would.
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: SIGTERM to the watcher we spawned.
    unsafe {
        libc::kill(watcher.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = watcher.wait().expect("wait for the watcher");
    let watch_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.success(),
        "the watcher exited with {status}:\n{watch_log}"
    );
    support::recover(&env);

    let auto_commits = watch_log
        .lines()
        .filter(|l| l.contains(" committed "))
        .count();
    let retries = watch_log
        .lines()
        .filter(|l| l.contains("retrying later"))
        .count();
    let failures: Vec<&str> = watch_log.lines().filter(|l| l.contains("failed")).collect();
    let events = agent.assert_nothing_lost(&env);
    eprintln!(
        "watcher beside the agent: {n} iterations in {agent_time:?}; agent {:?}; watcher: \
         {auto_commits} auto-commits, {retries} retries (branch moved or index locked), {} \
         failures; {events} events",
        agent.tally,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "watcher failures:\n{}",
        failures.join("\n")
    );
    assert!(
        auto_commits > 0,
        "the watcher never committed beside the agent:\n{watch_log}"
    );
}

/// Harsher than the watcher: `gate snapshot` back to back, so nearly every agent commit races
/// an auto-commit for the index lock and the branch.
#[test]
fn an_agent_racing_back_to_back_snapshots_loses_nothing() {
    let env = gate_initialised_feature();
    let n = iterations(60, 400);
    let mut rng = Rng::new("an_agent_racing_back_to_back_snapshots_loses_nothing");
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut agent = Agent::default();
    let (mut committed, mut retried, mut unchanged) = (0, 0, 0);
    let mut failures = Vec::new();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            agent.run(&env, n, &mut rng);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let out = env.gate(&["snapshot"]);
            let text = stdout(&out);
            match out.status.code() {
                Some(0) if text.contains("committed") => committed += 1,
                Some(0) => unchanged += 1,
                Some(1) if text.contains("not now") => retried += 1,
                _ => failures.push(format!(
                    "{:?}: {text}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )),
            }
        }
    });
    support::recover(&env);
    let events = agent.assert_nothing_lost(&env);
    eprintln!(
        "back-to-back snapshots beside the agent: {n} iterations; agent {:?}; snapshots: \
         {committed} committed, {retried} retried, {unchanged} unchanged, {} failed; {events} events",
        agent.tally,
        failures.len()
    );
    assert!(failures.is_empty(), "snapshot failures: {failures:#?}");
}
