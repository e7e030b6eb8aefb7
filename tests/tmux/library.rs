//! The `gate::tmux` library against a real server: listing, resolving, capturing.

use gate::tmux::{Socket, Tmux, TmuxError};

use crate::server::{Agent, Server, wait_for};

#[test]
fn panes_resolve_and_capture() {
    let server = Server::new();
    let agent = server.session("agent", Agent::Lines);
    server.tmux(&[
        "new-session",
        "-d",
        "-s",
        "printer",
        "-x",
        "80",
        "-y",
        "20",
        "seq 1 100; exec sleep 60",
    ]);
    let tmux = Tmux::new(Socket::Path(server.socket_path()));

    let panes = tmux.panes().unwrap();
    assert_eq!(panes.len(), 2);
    let first = panes.iter().find(|p| p.id == agent.id).unwrap();
    assert_eq!((first.session.as_str(), first.window_index), ("agent", 0));
    assert_eq!((first.window_name.as_str(), first.pane_index), ("main", 0));
    assert!(first.pid > 0 && first.active && !first.in_mode);
    assert_eq!(first.path, server.dir().canonicalize().unwrap());
    assert_eq!(first.socket_path, server.socket_path());

    let printer = tmux.resolve("printer").unwrap();
    assert_eq!(printer.target(), "printer:0.0");
    wait_for(
        || tmux.capture(&printer, 3).unwrap().ends_with("100"),
        "seq to print",
    );
    assert_eq!(tmux.capture(&printer, 3).unwrap(), "98\n99\n100");

    assert!(matches!(
        tmux.resolve("print"),
        Err(TmuxError::NoTarget { .. })
    ));
    let none = Tmux::new(Socket::Path(server.dir().join("no-such-socket")));
    assert!(matches!(none.panes(), Err(TmuxError::NoServer { .. })));
}
