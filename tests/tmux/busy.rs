//! The watcher's messenger waits for a busy pane (its screen still changing) to go quiet
//! before typing, for at most `agent.busy_wait`, then sends anyway.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use gate::config::Config;
use gate::watch::messenger::Messenger;

use crate::server::{Server, wait_for};

fn messenger(server: &Server, busy_wait: &str) -> Messenger {
    let mut config = Config::default();
    config.agent.busy_wait = busy_wait.parse().unwrap();
    config.agent.send_pause = "50ms".parse().unwrap();
    Messenger::new(&config, Arc::new(AtomicBool::new(false))).on(Some(&server.socket_path()))
}

/// A pane that prints a line every 100 ms `ticks` times, then records what it reads.
fn busy_pane(server: &Server, name: &str, ticks: &str) -> std::path::PathBuf {
    let out = server.dir().join(format!("{name}.out"));
    let script = format!(
        "i=0; while [ $i -lt {ticks} ]; do echo tick $i; i=$((i+1)); sleep 0.1; done; \
         stty -icanon; while IFS= read -r l; do printf '%s\\n' \"$l\" >> {}; done",
        out.display()
    );
    let args = [
        "new-session",
        "-d",
        "-s",
        name,
        "-x",
        "80",
        "-y",
        "20",
        &script,
    ];
    server.tmux(&args);
    out
}

#[test]
fn a_busy_pane_gets_the_message_once_it_goes_quiet() {
    let server = Server::new();
    let out = busy_pane(&server, "busy", "20");
    let m = messenger(&server, "10s");
    let pane = m.resolve("busy").unwrap();
    let started = Instant::now();
    m.deliver(&pane, "hello after the noise").unwrap();
    let waited = started.elapsed();
    // It printed for about two seconds; the message waited for that.
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    wait_for(
        || std::fs::read_to_string(&out).is_ok_and(|t| t == "hello after the noise\n"),
        "the message",
    );
}

#[test]
fn a_pane_that_never_goes_quiet_gets_it_after_the_bound() {
    let server = Server::new();
    busy_pane(&server, "forever", "100000");
    let m = messenger(&server, "700ms");
    let pane = m.resolve("forever").unwrap();
    let started = Instant::now();
    m.deliver(&pane, "sent anyway").unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(700) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}
