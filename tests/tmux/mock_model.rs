//! `MockModel`: a model server on loopback for the real agent CLIs (see `real_cli`), speaking
//! just enough of Anthropic's Messages API (Claude Code) and OpenAI's Responses API (Codex):
//! each turn's reply comes from a script the test pushes (text, a tool call, an API error),
//! every request is recorded so a test can assert what the model was sent, and replies can be
//! held to keep a turn running while the test looks at the agent mid-turn.
//!
//! HTTP/1.1 by hand on `std::net`: one thread per connection, `Connection: close` on every
//! answer (both CLIs reconnect), bodies by `Content-Length` (what both send). Side requests
//! (a thread title, a request with no tools) get a fixed text and do not use up the script.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What the model answers to one turn's request.
#[derive(Debug, Clone)]
pub enum Reply {
    Text(String),
    /// A call of the tool `name` with `input` (Claude's `tool_use`, Codex's `function_call`).
    Tool {
        name: String,
        input: Value,
    },
    /// An HTTP error with the API's error body; `x-should-retry: false` so the CLI gives up
    /// at once instead of backing off.
    Error {
        status: u16,
        kind: String,
        message: String,
    },
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: String,
    /// Did it take a reply from the script (a turn), or was it a side request?
    pub turn: bool,
}

impl Request {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    requests: Vec<Request>,
    held: bool,
}

pub struct MockModel {
    port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
}

/// The longest a held reply waits for `release`, so a failing test never hangs a CLI.
const HOLD_LIMIT: Duration = Duration::from_secs(30);

impl MockModel {
    /// Listens on 127.0.0.1 at a free port; serves until the test process ends.
    pub fn start() -> MockModel {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the mock model server");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        MockModel { port, state }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The reply to the next turn's request (after those pushed before it).
    pub fn push(&self, reply: Reply) {
        self.state.0.lock().unwrap().script.push_back(reply);
    }

    /// Replies wait until [`MockModel::release`] (at most 30 s): the turn stays running.
    pub fn hold(&self) {
        self.state.0.lock().unwrap().held = true;
    }

    pub fn release(&self) {
        self.state.0.lock().unwrap().held = false;
        self.state.1.notify_all();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.0.lock().unwrap().requests.clone()
    }

    /// The requests that were turns (took a scripted or default reply).
    pub fn turns(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.turn).collect()
    }

    /// Replies pushed and not yet used.
    pub fn unused(&self) -> usize {
        self.state.0.lock().unwrap().script.len()
    }

    /// Waits until `n` turn requests have arrived, failing after `limit`; returns them.
    #[track_caller]
    pub fn wait_turns(&self, n: usize, limit: Duration) -> Vec<Request> {
        let deadline = Instant::now() + limit;
        loop {
            let turns = self.turns();
            if turns.len() >= n {
                return turns;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} model request(s); got {}: {:?}",
                turns.len(),
                self.requests()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(mut stream: TcpStream, state: &(Mutex<State>, Condvar)) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Some((method, path, body)) = read_request(&stream) else {
        return;
    };
    let route = path.split('?').next().unwrap_or("").to_owned();
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let api = match (method.as_str(), route.as_str()) {
        ("POST", "/v1/messages") => Some(Api::Anthropic),
        ("POST", "/v1/responses") => Some(Api::Responses),
        _ => None,
    };
    // A turn offers the model tools; a title or summary request offers none.
    let turn = api.is_some()
        && parsed
            .get("tools")
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty());
    let reply = {
        let (lock, cvar) = state;
        let mut s = lock.lock().unwrap();
        s.requests.push(Request {
            method: method.clone(),
            path: path.clone(),
            body: body.clone(),
            turn,
        });
        let reply = if turn { s.script.pop_front() } else { None };
        let deadline = Instant::now() + HOLD_LIMIT;
        while s.held && turn && Instant::now() < deadline {
            s = cvar.wait_timeout(s, Duration::from_millis(50)).unwrap().0;
        }
        reply.unwrap_or_else(|| Reply::Text(if turn { "OK from mock" } else { "Title" }.into()))
    };
    let model = parsed
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock")
        .to_owned();
    let stream_wanted = parsed.get("stream").and_then(Value::as_bool) == Some(true);
    let answer = match (api, route.as_str()) {
        (_, "/v1/messages/count_tokens") => json_answer(200, &json!({"input_tokens": 10})),
        (Some(_), _) if matches!(reply, Reply::Error { .. }) => error_answer(&reply),
        (Some(Api::Anthropic), _) if stream_wanted => sse_answer(&anthropic_events(&reply, &model)),
        (Some(Api::Anthropic), _) => json_answer(200, &anthropic_message(&reply, &model)),
        (Some(Api::Responses), _) => sse_answer(&responses_events(&reply)),
        (None, _) => {
            eprintln!("mock model: unknown request {method} {path}");
            json_answer(404, &json!({}))
        }
    };
    let _ = stream.write_all(&answer);
    let _ = stream.flush();
}

#[derive(Clone, Copy)]
enum Api {
    Anthropic,
    Responses,
}

/// Request line, headers to the blank line, then `Content-Length` bytes of body.
fn read_request(stream: &TcpStream) -> Option<(String, String, String)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, String::from_utf8_lossy(&body).into_owned()))
}

fn head(status: u16, content_type: &str, extra: &str, length: Option<usize>) -> String {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Error",
    };
    let length = length
        .map(|n| format!("content-length: {n}\r\n"))
        .unwrap_or_default();
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n{length}{extra}connection: close\r\n\r\n"
    )
}

fn json_answer(status: u16, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    let mut out = head(status, "application/json", "", Some(body.len())).into_bytes();
    out.extend(body.as_bytes());
    out
}

fn error_answer(reply: &Reply) -> Vec<u8> {
    let Reply::Error {
        status,
        kind,
        message,
    } = reply
    else {
        unreachable!("only errors")
    };
    // Both APIs put the error under "error"; Anthropic's also says "type": "error".
    let body = json!({"type": "error", "error": {"type": kind, "code": kind, "message": message}})
        .to_string();
    let extra = "x-should-retry: false\r\nretry-after: 0\r\n";
    let mut out = head(*status, "application/json", extra, Some(body.len())).into_bytes();
    out.extend(body.as_bytes());
    out
}

/// An event stream, closed by the connection's end.
fn sse_answer(events: &[(&str, Value)]) -> Vec<u8> {
    let mut out = head(
        200,
        "text/event-stream",
        "cache-control: no-cache\r\n",
        None,
    )
    .into_bytes();
    for (name, data) in events {
        out.extend(format!("event: {name}\ndata: {data}\n\n").as_bytes());
    }
    out
}

fn anthropic_message(reply: &Reply, model: &str) -> Value {
    let (content, stop) = match reply {
        Reply::Tool { name, input } => (
            json!([{"type": "tool_use", "id": "toolu_mock", "name": name, "input": input}]),
            "tool_use",
        ),
        Reply::Text(text) => (json!([{"type": "text", "text": text}]), "end_turn"),
        Reply::Error { .. } => unreachable!("errors are answered before"),
    };
    json!({"id": "msg_mock", "type": "message", "role": "assistant", "model": model,
           "content": content, "stop_reason": stop, "stop_sequence": null,
           "usage": {"input_tokens": 5, "output_tokens": 5}})
}

/// message_start, one content block (text or tool_use) with its delta, message_delta with
/// the stop reason, message_stop.
fn anthropic_events(reply: &Reply, model: &str) -> Vec<(&'static str, Value)> {
    let (block, delta, stop) = match reply {
        Reply::Tool { name, input } => (
            json!({"type": "tool_use", "id": "toolu_mock", "name": name, "input": {}}),
            json!({"type": "input_json_delta", "partial_json": input.to_string()}),
            "tool_use",
        ),
        Reply::Text(text) => (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": text}),
            "end_turn",
        ),
        Reply::Error { .. } => unreachable!("errors are answered before"),
    };
    vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message",
                "role": "assistant", "model": model, "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": block}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": {"output_tokens": 5}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]
}

/// response.created, one output item (a message, or a function call) added and done, its
/// text delta, response.completed.
fn responses_events(reply: &Reply) -> Vec<(&'static str, Value)> {
    let item = match reply {
        Reply::Tool { name, input } => json!({"type": "function_call", "id": "fc_mock",
            "call_id": "call_mock", "name": name, "arguments": input.to_string()}),
        Reply::Text(text) => json!({"type": "message", "role": "assistant", "id": "msg_mock",
            "content": [{"type": "output_text", "text": text}]}),
        Reply::Error { .. } => unreachable!("errors are answered before"),
    };
    let mut events = vec![
        (
            "response.created",
            json!({"type": "response.created", "response": {"id": "resp_mock"}}),
        ),
        (
            "response.output_item.added",
            json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
        ),
    ];
    if let Reply::Text(text) = reply {
        events.push((
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "item_id": "msg_mock",
                "output_index": 0, "content_index": 0, "delta": text}),
        ));
    }
    events.push((
        "response.output_item.done",
        json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
    ));
    events.push((
        "response.completed",
        json!({"type": "response.completed", "response": {"id": "resp_mock", "usage": {
            "input_tokens": 5, "input_tokens_details": null, "output_tokens": 5,
            "output_tokens_details": null, "total_tokens": 10}}}),
    ));
    events
}
