//! A model-based randomized test of the promise "gate never loses work".
//!
//! Seeded sequences interleave what users and agents do (edits, deletions, staging, partial
//! staging, stash and pop, commits, branch switches, resets, merges with conflicts, edits in a
//! linked worktree) with gate's auto-commits (`gate snapshot`, whole-tree and path-limited as
//! the watcher takes them) and SIGKILLs of gate mid-run. The model is the set of every file
//! version gate saw: each version in a working tree and each staged version at the moment a
//! snapshot completed. After every step the invariants of RELIABILITY.md are checked:
//!
//! 1. every version gate saw is reachable from a ref (the branches, `refs/gate/*`, the stash,
//!    or the reflog of a branch the user moved back themselves);
//! 2. a snapshot that did not make a real commit left the index byte for byte as it was, and
//!    one that did left nothing staged but what it committed;
//! 3. after a whole-tree shadow snapshot, the snapshot ref holds the working tree's version
//!    of every changed file;
//! 4. no lock is left behind and, at the end, `git fsck --full` is clean.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::env::TestEnv;
use crate::support::{Rng, assert_fsck_clean, feature_repo, iterations, sigkill};

const FILES: &[&str] = &["src/a.rs", "src/b.rs", "src/d/e.rs", "notes.md", "f.txt"];

struct World {
    env: TestEnv,
    /// The main checkout and one linked worktree (on a non-feature branch).
    checkouts: Vec<PathBuf>,
    rng: Rng,
    counter: u64,
    /// Blob ids of every version gate saw.
    required: BTreeSet<String>,
    /// What each step did, for the failure message (replay with GATE_SEED).
    history: Vec<String>,
    /// The checkout as the last completed snapshot found it.
    last_state: String,
    tally: std::collections::BTreeMap<&'static str, usize>,
}

impl World {
    fn new() -> World {
        let env = feature_repo("1h", "1s");
        let wt = env.base_dir().join("wt");
        env.git(&[
            "worktree",
            "add",
            "-q",
            "-b",
            "side",
            wt.to_str().unwrap(),
            "main",
        ]);
        World {
            checkouts: vec![env.root.clone(), wt],
            env,
            rng: Rng::new("model"),
            counter: 0,
            required: BTreeSet::new(),
            history: Vec::new(),
            last_state: String::new(),
            tally: Default::default(),
        }
    }

    fn git(&self, dir: &Path, args: &[&str]) -> Output {
        self.env.git_output_at(dir, args)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.below(items.len() as u64) as usize]
    }

    fn write_version(&mut self, dir: &Path, file: &str) {
        self.counter += 1;
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("{file} version {}\n", self.counter)).unwrap();
    }

    fn step(&mut self) {
        let dir = self.pick(&self.checkouts.clone()).clone();
        let file = *self.pick(FILES);
        let roll = self.rng.below(100);
        let name = match roll {
            0..=29 => {
                self.write_version(&dir, file);
                "edit"
            }
            30..=34 => {
                let _ = std::fs::remove_file(dir.join(file));
                "delete"
            }
            35..=41 => {
                self.git(&dir, &["add", "-A", "--", file]);
                "stage"
            }
            42..=48 => {
                self.write_version(&dir, file);
                self.git(&dir, &["add", "-A", "--", file]);
                self.write_version(&dir, file);
                "partial-stage"
            }
            49..=52 => {
                self.git(&dir, &["commit", "-qm", "by the user"]);
                "user-commit"
            }
            53..=55 => {
                self.git(&dir, &["stash", "push", "-q"]);
                "stash"
            }
            56..=58 => {
                self.git(&dir, &["stash", "pop", "-q"]);
                "stash-pop"
            }
            59..=61 => {
                let target = if self.rng.chance(50) {
                    "main"
                } else {
                    "feature/001-reliable"
                };
                self.git(&dir, &["checkout", "-q", target]);
                "switch"
            }
            62..=63 => {
                self.git(&dir, &["reset", "-q", "--soft", "HEAD~1"]);
                "reset-soft"
            }
            64 => {
                self.git(&dir, &["reset", "-q", "--hard"]);
                "reset-hard"
            }
            65..=66 => {
                let other = if self.rng.chance(50) { "main" } else { "side" };
                self.git(&dir, &["merge", "-q", "--no-edit", other]);
                "merge"
            }
            67..=68 => {
                // Settle whatever is in progress, as a user would.
                self.git(&dir, &["merge", "--abort"]);
                self.git(&dir, &["add", "-A"]);
                "settle"
            }
            69..=80 => {
                self.snapshot(&dir, None);
                "snapshot"
            }
            81..=92 => {
                let n = 1 + self.rng.below(3) as usize;
                let paths: Vec<&str> = (0..n).map(|_| *self.pick(FILES)).collect();
                self.snapshot(&dir, Some(&paths));
                "snapshot-only"
            }
            _ => {
                self.killed_snapshot(&dir);
                "sigkill"
            }
        };
        *self.tally.entry(name).or_default() += 1;
        let wt = if dir == self.env.root { "main" } else { "wt" };
        let head = String::from_utf8_lossy(
            &self
                .git(&dir, &["rev-parse", "--abbrev-ref", "HEAD"])
                .stdout,
        )
        .trim()
        .to_owned();
        self.history
            .push(format!("{name} {file} in {wt} on {head}"));
        self.check_reachable(name);
        self.check_no_lock(&dir, name);
    }

    /// What the checkout holds right now: blob ids of each working-tree file and of each
    /// staged entry (stage 0; conflict stages are the commits being merged).
    fn seen(&self, dir: &Path) -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        let present: Vec<&str> = FILES
            .iter()
            .copied()
            .filter(|f| dir.join(f).is_file())
            .collect();
        if !present.is_empty() {
            let input = present.join("\n");
            let out =
                self.env
                    .git_stdin_at(dir, &["hash-object", "--stdin-paths"], input.as_bytes());
            ids.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::to_owned),
            );
        }
        let staged = self.git(dir, &["ls-files", "-s"]);
        for line in String::from_utf8_lossy(&staged.stdout).lines() {
            let mut fields = line.split_whitespace();
            let (_, id, stage) = (fields.next(), fields.next(), fields.next());
            if stage == Some("0") {
                ids.extend(id.map(str::to_owned));
            }
        }
        ids
    }

    /// Where each id of `seen` came from, for failure messages.
    fn provenance(&self, dir: &Path) -> String {
        let status = self.git(dir, &["status", "--porcelain"]);
        let staged = self.git(dir, &["ls-files", "-s", "--"]);
        let mut text = format!("status:\n{}", String::from_utf8_lossy(&status.stdout));
        text.push_str(&format!(
            "index:\n{}",
            String::from_utf8_lossy(&staged.stdout)
        ));
        for f in FILES {
            if dir.join(f).is_file() {
                let id = self.git(dir, &["hash-object", f]);
                text.push_str(&format!(
                    "worktree {f} {}",
                    String::from_utf8_lossy(&id.stdout)
                ));
            }
        }
        text
    }

    fn snapshot(&mut self, dir: &Path, only: Option<&[&str]>) {
        let before_state = self.provenance(dir);
        let index = index_file(&self.env, dir);
        let before = std::fs::read(&index).unwrap_or_default();
        // An index swap an earlier run could not finish (killed, or index.lock held) is
        // finished by this one first, which changes the index.
        let journal_before = std::fs::read_dir(self.env.root.join(".git/gate"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("install-"));
        let seen = self.seen(dir);
        let mut args = vec!["snapshot", "--json"];
        if let Some(paths) = only {
            args.push("--only");
            args.extend_from_slice(paths);
        }
        let out = self.env.gate_in(dir, &args);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "gate snapshot gave no report (exit {:?}):\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let outcome = report["outcome"].as_str().unwrap_or_default().to_owned();
        assert_ne!(
            out.status.code(),
            Some(3),
            "gate snapshot failed: {report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if outcome == "retry" {
            return;
        }
        let after = std::fs::read(&index).unwrap_or_default();
        // A run killed between moving the branch and swapping in its index left a journal;
        // this run finished that real commit's swap first, which changes the index.
        let finished_killed = journal_before;
        match outcome.as_str() {
            "committed" => {
                let staged = self.git(dir, &["diff", "--cached", "--name-only"]);
                // Invariant 2: nothing staged but what was committed.
                if only.is_none() {
                    assert!(
                        staged.stdout.is_empty(),
                        "staged after a commit: {}",
                        String::from_utf8_lossy(&staged.stdout)
                    );
                }
            }
            _ => assert!(
                after == before || finished_killed,
                "invariant 2: a {outcome} changed the index ({report})"
            ),
        }
        // The versions gate looked at: everything for a whole-tree snapshot; the named paths,
        // the staged entries and what earlier snapshots held for a path-limited one. The
        // whole checkout is required in both cases only where gate looked, so a path-limited
        // snapshot requires the named files' versions and every staged version.
        let required: BTreeSet<String> = match only {
            None => seen,
            Some(paths) => {
                let mut ids = self.staged_ids(dir);
                for p in paths {
                    if dir.join(p).is_file() {
                        let out = self.git(dir, &["hash-object", p]);
                        ids.insert(String::from_utf8_lossy(&out.stdout).trim().to_owned());
                    }
                }
                ids
            }
        };
        // Invariant 3: a whole-tree shadow snapshot holds the working tree's version of every
        // changed file.
        if only.is_none() && outcome == "shadowed" {
            let refname = report["refname"].as_str().unwrap().to_owned();
            for f in FILES {
                if !dir.join(f).is_file() {
                    continue;
                }
                let dirty = self.git(dir, &["status", "--porcelain", "--", f]);
                if dirty.stdout.is_empty() {
                    continue;
                }
                let want = String::from_utf8_lossy(&self.git(dir, &["hash-object", f]).stdout)
                    .trim()
                    .to_owned();
                let got = self.git(dir, &["rev-parse", &format!("{refname}:{f}")]);
                assert_eq!(
                    String::from_utf8_lossy(&got.stdout).trim(),
                    want,
                    "invariant 3: {refname} lacks the working tree's {f} ({report})"
                );
            }
        }
        self.history.push(format!(
            "  {} -> {outcome} {}: required {:?}",
            args.join(" "),
            report["refname"]
                .as_str()
                .or(report["commit"].as_str())
                .unwrap_or_default(),
            required
        ));
        self.last_state = before_state;
        self.required.extend(required);
    }

    fn staged_ids(&self, dir: &Path) -> BTreeSet<String> {
        let staged = self.git(dir, &["ls-files", "-s"]);
        String::from_utf8_lossy(&staged.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(2) == Some(&"0")).then(|| f[1].to_owned())
            })
            .collect()
    }

    fn killed_snapshot(&mut self, dir: &Path) {
        let mut child = self
            .env
            .gate_command(dir)
            .arg("snapshot")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start gate snapshot");
        std::thread::sleep(Duration::from_micros(self.rng.below(40_000)));
        sigkill(&mut child);
        // A git child of the killed gate runs to its end, as after a real crash (on a loaded
        // machine that can take a while: wait for it by process, not by a fixed sleep).
        crate::support::eventually(Duration::from_secs(60), || {
            crate::support::orphans(dir).is_empty()
        });
    }

    /// Invariant 1.
    fn check_reachable(&self, step: &str) {
        let out = self
            .env
            .git_output(&["rev-list", "--objects", "--all", "--reflog"]);
        let reachable: BTreeSet<&str> = std::str::from_utf8(&out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let lost: Vec<&String> = self
            .required
            .iter()
            .filter(|id| !reachable.contains(id.as_str()))
            .collect();
        assert!(
            lost.is_empty(),
            "invariant 1 after {step}: versions gate saw are on no ref: {lost:?}\nlast steps:\n{}\nbefore the last snapshot:\n{}",
            self.history
                .iter()
                .rev()
                .take(30)
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n"),
            self.last_state
        );
    }

    /// Invariant 4 (locks): git's own operations finished, gate's killed runs leave nothing
    /// that blocks git (a lock gate held when killed is removed by its next run).
    fn check_no_lock(&self, dir: &Path, step: &str) {
        let index = index_file(&self.env, dir);
        let mut lock = index.into_os_string();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        if lock.exists() {
            let text = std::fs::read(&lock).unwrap_or_default();
            assert!(
                text.starts_with(b"gate-lock "),
                "after {step}: a foreign index.lock was left"
            );
            // gate's own: the next run clears it.
            let _ = self.env.gate_in(dir, &["snapshot", "--shadow"]);
            assert!(
                !lock.exists(),
                "after {step}: gate did not clear its own stale index.lock"
            );
        }
        let refs = self.env.git_output(&["for-each-ref"]);
        assert!(refs.status.success());
    }
}

/// The index file of the checkout at `dir`.
fn index_file(env: &TestEnv, dir: &Path) -> PathBuf {
    let out = env.git_output_at(
        dir,
        &["rev-parse", "--path-format=absolute", "--git-path", "index"],
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
fn randomized_histories_never_lose_a_version_gate_saw() {
    let steps = iterations(160, 3000);
    let mut world = World::new();
    for i in 0..steps {
        world.step();
        if i % 50 == 49 {
            assert_fsck_clean(&world.env);
        }
    }
    // A last whole-tree snapshot of each checkout, then everything must still be there.
    for dir in world.checkouts.clone() {
        world.snapshot(&dir, None);
    }
    world.check_reachable("the end");
    assert_fsck_clean(&world.env);
    eprintln!(
        "model: {steps} steps, {} versions required and reachable; steps by kind: {:?}",
        world.required.len(),
        world.tally
    );
}
