//! Hostile input: fuzzed markdown and config (no panic; bounded time and memory on 10 MB),
//! tmux messages carrying escape sequences, NUL, Ctrl-C and a megabyte of text, feature names
//! built from shell metacharacters, `..`, slashes and unicode, and corrupted or truncated
//! state files (events.jsonl, schedule.json): reported, kept, never silently emptied.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gate::config::Config;
use gate::spec::ArtifactKind;
use gate::spec::markdown::{self, analyse};
use proptest::prelude::*;

use crate::env::{TestEnv, assert_exit, code, stderr, stdout};
use crate::server::{Agent, PAUSE, Server};
use crate::support::listing;

/// The time bound for one 10 MB input: generous, and ten times that without optimisations.
fn bound() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(2)
    }
}

fn cases() -> u32 {
    if crate::support::long() { 2000 } else { 64 }
}

/// Markdown-shaped noise: the constructs the checker looks at, in any order.
fn markdownish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("# ".to_string()),
        Just("## Requirements *(mandatory)*\n".to_string()),
        Just("### Review *GATE*\n".to_string()),
        Just("- [ ] ".to_string()),
        Just("- [x] T001 ".to_string()),
        Just("- [X] T999 [P] ".to_string()),
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("[NEEDS CLARIFICATION: ".to_string()),
        Just("[FEATURE NAME]".to_string()),
        Just("$ARGUMENTS".to_string()),
        Just("```\n".to_string()),
        Just("`".to_string()),
        Just("<!-- ".to_string()),
        Just(" -->".to_string()),
        Just("> ".to_string()),
        Just("| a | b |\n|---|---|\n".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("    ".to_string()),
        "[a-zA-Z0-9 ]{0,12}",
        "\\PC{0,4}",
    ];
    proptest::collection::vec(piece, 0..120).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_markdown_checker_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        for kind in ArtifactKind::ALL {
            let _ = analyse(kind, &bytes);
        }
    }

    #[test]
    fn the_markdown_checker_never_panics_on_markdown(text in markdownish()) {
        for kind in ArtifactKind::ALL {
            let a = analyse(kind, text.as_bytes());
            // Findings point at lines that exist.
            let lines = text.lines().count().max(1) + 1;
            prop_assert!(a.findings.iter().all(|f| f.line >= 1 && f.line <= lines), "{:?}", a.findings);
        }
    }

    #[test]
    fn the_config_loader_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Config::parse(Path::new(".gate.toml"), &bytes);
    }

    #[test]
    fn the_config_loader_never_panics_on_tomlish_text(
        section in prop_oneof![Just("branches"), Just("commit"), Just("tags"), Just("spec"), Just("agent"), Just("hooks"), Just("x")],
        key in "[a-z_]{1,16}",
        value in prop_oneof![
            "\"[^\"\\\\]{0,40}\"",
            "[0-9]{1,30}",
            Just("true".to_string()),
            Just("[\"a\", 1, {x = 2}]".to_string()),
            "\"[0-9]{0,10}(ms|s|m|h|d|KB|MB|GiB|x)\"",
            "\"(\\.\\./|/|\\{feature\\}|\\{date\\}|\\*\\*|\\[|\\$\\(|;|#\\{)*\"",
        ],
        tail in "\\PC{0,40}",
    ) {
        let text = format!("[{section}]\n{key} = {value}\n{tail}");
        match Config::parse(Path::new(".gate.toml"), text.as_bytes()) {
            Ok(c) => {
                // Whatever was accepted keeps the paths inside the repository.
                for p in [&*c.spec.dir, &*c.spec.templates] {
                    prop_assert!(!p.starts_with('/') && !p.split('/').any(|c| c == ".."), "{p}");
                }
            }
            Err(e) => {
                let text = e.to_string();
                prop_assert!(text.starts_with(".gate.toml:"), "{text}");
            }
        }
    }
}

/// Runs `f`, asserting it takes less than [`bound`].
#[track_caller]
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    eprintln!("{what}: {took:?}");
    assert!(took < bound(), "{what} took {took:?}");
    out
}

/// Adversarial markdown of about `size` bytes: deep nesting, a flood of brackets, unclosed
/// emphasis, thousands of headings and checklists.
fn nasty_markdown(size: usize) -> String {
    let pieces = [
        "> > > > > > > > > > - - - - - - [ ] {{x}}\n",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n",
        "*a **b ***c ****d _e __f ___g\n",
        "## Section *(mandatory)*\n",
        "- [ ] T001 [NEEDS CLARIFICATION: why\n",
        "`````\n",
        "<!-- unclosed comment\n",
        "| a | b | c |\n|---|---|---|\n",
        "[link][ref] [ref]: http://x\n",
        "    indented code {{blank}}\n",
    ];
    let mut text = String::with_capacity(size + 64);
    let mut i = 0;
    while text.len() < size {
        text.push_str(pieces[i % pieces.len()]);
        i = i.wrapping_mul(7).wrapping_add(3);
    }
    text
}

#[test]
fn ten_megabytes_of_markdown_are_refused_at_once_and_the_largest_accepted_size_is_bounded() {
    let huge = nasty_markdown(10 * 1024 * 1024);
    let a = timed("markdown, 10 MB", || {
        analyse(ArtifactKind::Tasks, huge.as_bytes())
    });
    assert!(
        a.findings[0].message.contains("byte limit"),
        "{:?}",
        a.findings
    );
    // The worst case actually parsed: just under the limit.
    let largest = nasty_markdown(markdown::MAX_ARTIFACT_BYTES - 64);
    for kind in ArtifactKind::ALL {
        let a = timed(&format!("markdown, 2 MB adversarial, {kind:?}"), || {
            analyse(kind, largest.as_bytes())
        });
        assert!(!a.is_complete());
    }
}

#[test]
fn ten_megabytes_of_config_parse_in_bounded_time() {
    let list: Vec<String> = (0..1_000_000).map(|i| format!("\"b{i:07}\"")).collect();
    let text = format!("[branches]\nprotected = [{}]\n", list.join(","));
    assert!(text.len() > 10 * 1000 * 1000, "{}", text.len());
    let c = timed("config, 10 MB list", || {
        Config::parse(Path::new(".gate.toml"), text.as_bytes())
    });
    assert_eq!(c.unwrap().branches.protected.len(), 1_000_000);
    let deep = format!("[branches]\nprotected = {}", "[".repeat(10 * 1024 * 1024));
    let e = timed("config, 10 MB of nesting", || {
        Config::parse(Path::new(".gate.toml"), deep.as_bytes())
    });
    assert!(e.unwrap_err().to_string().contains("recursion"));
    const ALPHABET: &[u8] = b"=[]{}\"'\\\n#.,x";
    let junk: String = (0..10 * 1024 * 1024u32)
        .map(|i| {
            let pick = (i.wrapping_mul(2_654_435_761) >> 20) as usize % ALPHABET.len();
            char::from(ALPHABET[pick])
        })
        .collect();
    let e = timed("config, 10 MB of junk", || {
        Config::parse(Path::new(".gate.toml"), junk.as_bytes())
    });
    assert!(e.is_err());
}

/// Runs `cmd` to the end under an address-space limit of `limit_mib` (an allocation beyond it
/// fails and the process aborts), stdout and stderr to files; returns its exit code (`None`
/// when killed by a signal) and wall time. (The kernel's peak-RSS figure is no use here: a
/// child inherits the test process's high-water mark across `exec`.)
fn bounded(mut cmd: Command, dir: &Path, limit_mib: u64) -> (Option<i32>, Duration) {
    use std::os::unix::process::CommandExt;
    let out = std::fs::File::create(dir.join("bounded.out")).unwrap();
    let err = std::fs::File::create(dir.join("bounded.err")).unwrap();
    let limit = limit_mib * 1024 * 1024;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let r = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let status = cmd.stdout(out).stderr(err).status().unwrap();
    (status.code(), started.elapsed())
}

#[test]
fn the_binary_stays_bounded_in_time_and_memory_on_ten_megabyte_files() {
    let env = TestEnv::new();
    env.complete_feature("Huge");
    let spec = format!(
        "specs/{}/spec.md",
        env.branch().trim_start_matches("feature/")
    );
    env.write(&spec, &nasty_markdown(10 * 1024 * 1024));
    let mut cmd = env.gate_command(&env.root);
    cmd.arg("check");
    let (code, took) = bounded(cmd, &env.base_dir(), 256);
    let err = || std::fs::read_to_string(env.base_dir().join("bounded.err")).unwrap();
    eprintln!("gate check, 10 MB spec.md, 256 MiB address space: exit {code:?}, {took:?}");
    assert_eq!(code, Some(1), "{}", err());
    assert!(took < bound(), "{took:?}");

    let list: Vec<String> = (0..1_000_000).map(|i| format!("\"b{i:07}\"")).collect();
    env.write(
        ".gate.toml",
        &format!("[branches]\nprotected = [{}]\n", list.join(",")),
    );
    let mut cmd = env.gate_command(&env.root);
    cmd.arg("check");
    let (code, took) = bounded(cmd, &env.base_dir(), 1024);
    eprintln!("gate check, 10 MB .gate.toml, 1 GiB address space: exit {code:?}, {took:?}");
    assert!(matches!(code, Some(0..=2)), "{code:?}: {}", err());
    assert!(took < bound(), "{took:?}");
}

// ---------------------------------------------------------------------------------------
// tmux messages (the tmux suite in tests/tmux/send.rs covers escape sequences, Ctrl-C,
// shell and tmux syntax in argument messages; these add NUL, stdin and a megabyte).

#[test]
fn nul_ctrl_c_and_escape_sequences_from_stdin_never_reach_the_pane_as_keys() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    let raw = b"before\0after \x03ctrl-c \x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07osc52 \x1bP+q\x1b\\dcs \xc2\x9b31m c1 #{pane_id} $(id) ;\n";
    let mut child = server
        .gate(&["send", "--json", "--pause", PAUSE, "agent", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = gate::tmux::Message::new(&String::from_utf8_lossy(raw)).unwrap();
    assert!(expected.removed() >= 6, "{}", expected.removed());
    let got = agent.lines(1);
    assert_eq!(got, [expected.text()]);
    assert!(
        !got[0].contains('\0') && !got[0].contains('\x1b') && !got[0].contains('\x03'),
        "{got:?}"
    );
    assert!(got[0].contains("#{pane_id} $(id) ;"), "{got:?}");
}

#[test]
fn tmux_works_under_the_c_locale() {
    // Regression: under LC_ALL=C (cron, a service without a locale) tmux printed the field
    // separator gate puts between `list-panes` fields as `_`, and every send, agent lookup,
    // nudge and check-in failed with "unexpected output from tmux".
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    for (var, value) in [("LC_ALL", "C"), ("LC_ALL", "POSIX"), ("LANG", "")] {
        let out = server
            .gate(&[
                "send",
                "--pause",
                PAUSE,
                "agent",
                &format!("{var}={value} é"),
            ])
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{var}={value}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(agent.lines(3), ["LC_ALL=C é", "LC_ALL=POSIX é", "LANG= é"]);
}

#[test]
fn a_megabyte_message_arrives_whole_and_in_order() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    let lines: Vec<String> = (0..9_000)
        .map(|i| format!("line {i:05} {}", "é;$x".repeat(28)))
        .collect();
    let text = lines.join("\n");
    assert!(text.len() >= 1024 * 1024, "{}", text.len());
    let mut child = server
        .gate(&["send", "--pause", PAUSE, "agent", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    let input = text.clone();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    eprintln!("1 MB through gate send: {:?}", started.elapsed());
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // The fake agent reads line by line: give it time for a megabyte.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&agent.out)
        .unwrap_or_default()
        .lines()
        .count()
        < lines.len()
    {
        assert!(Instant::now() < deadline, "the megabyte did not arrive");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(agent.lines(lines.len()), lines);
}

// ---------------------------------------------------------------------------------------
// Feature names.

#[test]
fn hostile_feature_names_make_safe_branches_or_clear_refusals() {
    let env = TestEnv::new();
    let marker = env.base_dir().join("MARKER");
    let m = marker.display();
    let names = [
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("x; touch {m}"),
        format!("x && touch {m} || true"),
        format!("x | tee {m}"),
        format!("> {m}"),
        "../../../etc/passwd".to_string(),
        "..".to_string(),
        ".".to_string(),
        "a/b/../../c".to_string(),
        "/absolute/path".to_string(),
        "feature/001-x".to_string(),
        "refs/heads/main".to_string(),
        "HEAD".to_string(),
        "-n --force".to_string(),
        "@{-1}".to_string(),
        "x.lock".to_string(),
        "trailing.".to_string(),
        "ends with slash/".to_string(),
        "a~1^2:3?*[".to_string(),
        "日本語の機能".to_string(),
        "émoji 🎉 café".to_string(),
        "\u{202e}rtl override".to_string(),
        "tab\tand\nnewline".to_string(),
        "#{pane_id} #(id)".to_string(),
        "x".repeat(5000),
        "   ".to_string(),
        "".to_string(),
    ];
    let outside = listing(&env.base_dir().join("home"));
    for name in &names {
        let out = env.gate(&["specify", name]);
        match code(&out) {
            0 => {
                let branch = env.branch();
                let ok = env.git_output(&["check-ref-format", "--branch", &branch]);
                assert!(ok.status.success(), "{name:?} made the branch {branch:?}");
                let rest = branch
                    .strip_prefix("feature/")
                    .unwrap_or_else(|| panic!("{name:?} made {branch:?}, not a feature branch"));
                assert!(
                    rest.len() > 4
                        && rest[..3].bytes().all(|b| b.is_ascii_digit())
                        && rest[3..]
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{name:?} made {branch:?}"
                );
                let spec = env.path(&format!("specs/{rest}/spec.md"));
                assert!(spec.is_file(), "{name:?}: no {}", spec.display());
                let canonical = spec.canonicalize().unwrap();
                assert!(canonical.starts_with(&env.root), "{}", canonical.display());
                env.git(&["switch", "-q", "main"]);
            }
            1 | 2 => assert!(
                !stderr(&out).is_empty(),
                "{name:?}: a refusal without a reason"
            ),
            other => panic!("{name:?}: exit {other}\n{}{}", stdout(&out), stderr(&out)),
        }
        assert!(!marker.exists(), "{name:?} ran a command");
    }
    assert_eq!(listing(&env.base_dir().join("home")), outside);
    for dir in ["etc", "absolute", "c"] {
        assert!(!env.exists(dir), "{dir} was created");
    }
    // Every branch gate made is a plain feature branch.
    for b in env
        .git(&["for-each-ref", "--format=%(refname:short)", "refs/heads"])
        .lines()
    {
        assert!(b == "main" || b.starts_with("feature/"), "{b}");
    }
}

// ---------------------------------------------------------------------------------------
// State files.

#[test]
fn a_corrupted_event_log_is_reported_kept_and_appended_to_never_emptied() {
    let env = TestEnv::new();
    let path = env.root.join(".git/gate/events.jsonl");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(br#"{"time":"2025-01-02T03:04:05Z","kind":"commit","detail":"first"}"#);
    bytes.push(b'\n');
    bytes.extend_from_slice(b"\x00\x01\xff binary garbage\n");
    bytes
        .extend_from_slice(br#"{"time":"2025-01-02T03:04:06Z","kind":"commit","detail":"second"}"#);
    bytes.push(b'\n');
    bytes.extend_from_slice(&vec![b'{'; 1 << 20]);
    bytes.push(b'\n');
    // Truncated mid-line, as after a crash or a full disk: no final newline.
    bytes.extend_from_slice(br#"{"time":"2025-01-02T03:04:07Z","kind":"comm"#);
    std::fs::write(&path, &bytes).unwrap();

    let out = env.gate(&["log"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("first") && stdout(&out).contains("second"),
        "{}",
        stdout(&out)
    );
    for line in [2, 4, 5] {
        assert!(
            stderr(&out).contains(&format!("events.jsonl:{line}: skipped an unreadable line")),
            "line {line} not reported:\n{}",
            stderr(&out)
        );
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "gate log changed the log"
    );

    // The next event is appended after everything that was there, and is itself readable:
    // it must not be glued onto the torn last line.
    env.write("work.md", "x\n");
    assert_exit(&env.gate(&["snapshot"]), 0);
    let after = std::fs::read(&path).unwrap();
    assert!(
        after.starts_with(&bytes),
        "the log was rewritten or truncated"
    );
    let out = env.gate(&["log", "--json"]);
    assert!(
        stdout(&out).contains("\"kind\":\"snapshot\""),
        "the event appended after a torn line was lost:\n{}",
        stdout(&out)
    );
}

#[test]
fn a_corrupted_schedule_is_moved_aside_and_reported_never_emptied() {
    // (This test used to return early unless src/schedule.rs existed, which it never did:
    // its body never ran.)
    let env = TestEnv::new();
    let state = env.root.join(".git/gate");
    std::fs::create_dir_all(&state).unwrap();
    for (i, bad) in [
        &b"{\"version\":1,\"next_id\":3,\"checkins\":[{\"id\":1,"[..],
        b"\x00\xff\xfe not json",
        b"[]",
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(state.join("schedule.json"), bad).unwrap();
        let out = env.gate(&["schedule", "list"]);
        assert!(
            !stderr(&out).contains("panicked") && code(&out) != 3,
            "case {i}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            text.contains("moved aside"),
            "case {i}: not reported:\n{text}"
        );
        let kept: Vec<_> = std::fs::read_dir(&state)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("schedule.json.corrupt")
            })
            .filter(|e| std::fs::read(e.path()).unwrap() == *bad)
            .collect();
        assert_eq!(
            kept.len(),
            1,
            "case {i}: the corrupt bytes were not kept aside"
        );
        for e in kept {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
}
