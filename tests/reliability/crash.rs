//! Crash safety: SIGKILL the watcher, `gate snapshot` and `gate snapshot --shadow` at random
//! moments while they commit. After every kill: `git fsck --full` is clean, HEAD, the index and
//! the working tree are readable, no lock is left behind, every byte written is still in the
//! working tree; and the next run recovers: it succeeds, leaves no stray lock or temp file, and
//! then every byte is in a commit.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::env::TestEnv;
use crate::support::{
    self, Rng, assert_fsck_clean, assert_readable, assert_tree_holds, assert_worktree_holds,
    iterations, leftovers, recover, sigkill, wait_for_orphans,
};

/// What the test wrote: the bytes each live file must hold, and the files it deleted.
#[derive(Default)]
struct Ledger {
    files: BTreeMap<String, Vec<u8>>,
    gone: Vec<String>,
}

impl Ledger {
    /// One round of agent work: new files, an edit, sometimes a deletion.
    fn work(&mut self, env: &TestEnv, round: usize, rng: &mut Rng) {
        for k in 0..3 {
            let path = format!("data/r{round:03}/f{k}.txt");
            let text = format!("round {round} file {k} {}\n", rng.next()).repeat(1 + k * 40);
            env.write(&path, &text);
            self.files.insert(path, text.into_bytes());
        }
        let ledger = self.files.entry("ledger.txt".into()).or_default();
        ledger.extend_from_slice(format!("round {round}\n").as_bytes());
        env.write_bytes("ledger.txt", ledger);
        if rng.chance(30) && round > 0 {
            let victim = format!("data/r{:03}/f0.txt", rng.below(round as u64));
            if self.files.remove(&victim).is_some() {
                std::fs::remove_file(env.path(&victim)).expect("delete a file");
                self.gone.push(victim);
            }
        }
    }

    #[track_caller]
    fn assert_in_worktree(&self, env: &TestEnv) {
        assert_worktree_holds(env, &self.files);
        for g in &self.gone {
            assert!(!env.exists(g), "{g} was deleted but is back");
        }
    }
}

/// Counts for the report: where the kills landed.
#[derive(Default, Debug)]
struct Tally {
    kills: usize,
    /// What the killed process was doing: the git child it was running, or `in-process`.
    phases: BTreeMap<String, usize>,
    /// The branch or snapshot ref moved before the kill (a commit completed).
    committed_before: usize,
    /// Stray files found after a kill, before the recovery run (all gone after it).
    strays: BTreeMap<String, usize>,
    /// libgit2's temp files of half-written loose objects (harmless; `git gc` prunes them).
    object_temp_files: usize,
}

/// The checks after one kill, then the recovery run and its checks. `rev` is where the work
/// must end up: HEAD (real commits) or the snapshot ref (shadow snapshots).
fn after_kill(env: &TestEnv, ledger: &Ledger, rev: &str, tally: &mut Tally) {
    let (stale, running) = wait_for_orphans(env);
    assert!(
        stale.is_empty() && running.is_empty(),
        "after a kill, locks left behind: {stale:?}; git still running: {running:?}\n{}",
        running
            .iter()
            .map(|(pid, _)| support::describe_process(*pid))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_fsck_clean(env);
    assert_readable(env);
    ledger.assert_in_worktree(env);
    // The index is sane: whatever a killed run staged is a path this test wrote or deleted.
    for staged in env.git(&["diff", "--cached", "--name-only"]).lines() {
        assert!(
            ledger.files.contains_key(staged)
                || ledger.gone.iter().any(|g| g == staged)
                || staged.starts_with("bulk/"),
            "the index holds {staged:?}, which nobody wrote"
        );
    }
    support::assert_no_torn_events(env);
    for stray in leftovers(&env.root.join(".git")) {
        let kind: String = stray.chars().filter(|c| !c.is_ascii_digit()).collect();
        *tally.strays.entry(kind).or_default() += 1;
    }
    let out = recover(env);
    if rev == "HEAD" {
        assert_eq!(
            env.git(&["status", "--porcelain", "--untracked-files=all"]),
            "",
            "the recovery run left work uncommitted: {out}"
        );
    }
    assert_tree_holds(env, rev, &ledger.files, &ledger.gone);
    let left = leftovers(&env.root.join(".git"));
    assert!(
        left.is_empty(),
        "after the recovery run, gate's stray files remain: {left:?}"
    );
    assert_fsck_clean(env);
}

fn tip(env: &TestEnv, rev: &str) -> String {
    let out = env.git_output(&["rev-parse", "-q", "--verify", rev]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn kill_watcher_rounds(env: &TestEnv, rev: &str, rounds: usize, name: &str) {
    let mut rng = Rng::new(name);
    let mut ledger = Ledger::default();
    let mut tally = Tally::default();
    let log = env.base_dir().join("watch.log");
    for round in 0..rounds {
        let before = tip(env, rev);
        let mut watcher = support::spawn_watcher(env, &log);
        ledger.work(env, round, &mut rng);
        // The cadence is 300 ms with 50 ms of quiet. A third of the kills land at a uniformly
        // random moment (start-up, idle, committing); the rest are aimed at a commit: once the
        // watcher runs its first git child of the round, a random 0..60 ms later.
        if rng.chance(33) {
            std::thread::sleep(Duration::from_millis(rng.below(1500)));
        } else {
            let deadline = Instant::now() + Duration::from_secs(3);
            while support::phase(watcher.id()) == "in-process" && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(300));
            }
            std::thread::sleep(Duration::from_micros(rng.below(60_000)));
        }
        *tally
            .phases
            .entry(support::phase(watcher.id()))
            .or_default() += 1;
        sigkill(&mut watcher);
        tally.kills += 1;
        if tip(env, rev) != before {
            tally.committed_before += 1;
        }
        after_kill(env, &ledger, rev, &mut tally);
    }
    tally.object_temp_files = support::object_temp_files(&env.root.join(".git"));
    eprintln!("{name}: {tally:?}");
}

#[test]
fn sigkill_the_watcher_during_auto_commits() {
    let env = support::feature_repo("300ms", "50ms");
    kill_watcher_rounds(
        &env,
        "HEAD",
        iterations(8, 60),
        "sigkill_the_watcher_during_auto_commits",
    );
}

#[test]
fn sigkill_the_watcher_during_shadow_snapshots() {
    let env = support::main_repo("300ms", "50ms");
    kill_watcher_rounds(
        &env,
        "refs/gate/snapshots/main",
        iterations(8, 60),
        "sigkill_the_watcher_during_shadow_snapshots",
    );
}

/// A repository with some bulk, so that one snapshot takes long enough to be killed inside.
fn bulky(env: &TestEnv) {
    for i in 0..300 {
        env.write(
            &format!("bulk/d{}/file{i}.txt", i % 20),
            &format!("{i}\n").repeat(50),
        );
    }
    env.commit_all("bulk");
}

/// `written` is the ref the killed snapshots move; `rev` where the recovery run puts the work.
fn kill_snapshot_rounds(
    env: &TestEnv,
    args: &[&str],
    written: &str,
    rev: &str,
    rounds: usize,
    name: &str,
) {
    let mut rng = Rng::new(name);
    let mut ledger = Ledger::default();
    let mut tally = Tally::default();
    // How long one snapshot takes here: kills are spread over 0..1.2 times that.
    ledger.work(env, 0, &mut rng);
    let started = Instant::now();
    recover(env);
    let took = started.elapsed().as_micros() as u64;
    eprintln!("{name}: one snapshot takes {took} us");
    for round in 1..=rounds {
        ledger.work(env, round, &mut rng);
        for i in 0..3 {
            let path = format!("bulk/d{}/file{}.txt", i, rng.below(15) * 20 + i);
            let text = format!("edited in round {round}\n");
            env.write(&path, &text);
            ledger.files.insert(path, text.into_bytes());
        }
        let before = tip(env, written);
        let mut child = env
            .gate_command(&env.root)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start gate snapshot");
        std::thread::sleep(Duration::from_micros(rng.below(took * 12 / 10 + 1)));
        *tally.phases.entry(support::phase(child.id())).or_default() += 1;
        sigkill(&mut child);
        tally.kills += 1;
        if tip(env, written) != before {
            tally.committed_before += 1;
        }
        after_kill(env, &ledger, rev, &mut tally);
    }
    tally.object_temp_files = support::object_temp_files(&env.root.join(".git"));
    eprintln!("{name}: {tally:?}");
}

#[test]
fn sigkill_gate_snapshot_mid_commit() {
    let env = support::feature_repo("30m", "60s");
    bulky(&env);
    kill_snapshot_rounds(
        &env,
        &["snapshot"],
        "HEAD",
        "HEAD",
        iterations(10, 100),
        "sigkill_gate_snapshot_mid_commit",
    );
}

#[test]
fn sigkill_gate_snapshot_shadow_mid_snapshot() {
    let env = support::feature_repo("30m", "60s");
    bulky(&env);
    // `--shadow` leaves the branch alone; the recovery run (a plain snapshot) commits, so the
    // work is checked in HEAD and the shadow ref must still be readable.
    kill_snapshot_rounds(
        &env,
        &["snapshot", "--shadow"],
        "refs/gate/snapshots/feature%2F001-reliable",
        "HEAD",
        iterations(10, 100),
        "sigkill_gate_snapshot_shadow_mid_snapshot",
    );
    // When a killed shadow snapshot got as far as its ref, the ref's history reads back.
    let shadow = "refs/gate/snapshots/feature%2F001-reliable";
    if !tip(&env, shadow).is_empty() {
        env.git(&["log", "--oneline", shadow]);
    }
}
