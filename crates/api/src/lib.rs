//! The Docker Engine API on skiff's engine (`skiff serve`). Every handler
//! decodes the request, makes one engine call and encodes its result;
//! errors are the engine's typed errors, mapped to statuses in one place
//! ([`error_response`]). Each connection is served on a thread of its own
//! (the engine is shared across threads).

mod archive;
mod attach;
mod build;
pub mod containers;
mod create;
mod exec;
mod hangup;
pub mod http;
pub mod images;
pub mod objects;
mod routes;
mod stats;
pub mod system;
mod websocket;

use http::{Response, Stream};
use serde_json::json;
use skiff_engine::{Engine, ErrorKind};
use std::io::BufReader;
use std::sync::Arc;

/// The API version served, and the oldest one accepted.
pub const API_VERSION: &str = "1.41";
pub const MIN_API_VERSION: &str = "1.24";

/// Headers of every answer, as dockerd sends them.
pub(crate) const COMMON_HEADERS: [(&str, &str); 4] = [
    ("Api-Version", API_VERSION),
    ("Docker-Experimental", "false"),
    ("Ostype", "linux"),
    (
        "Server",
        concat!("skiff/", env!("CARGO_PKG_VERSION"), " (linux)"),
    ),
];

/// Where `serve` listens.
pub enum Listener {
    Unix(std::os::unix::net::UnixListener),
    Tcp(std::net::TcpListener),
}

impl Listener {
    fn accept(&self) -> std::io::Result<Stream> {
        Ok(match self {
            Listener::Unix(l) => Stream::Unix(l.accept()?.0),
            Listener::Tcp(l) => Stream::Tcp(l.accept()?.0),
        })
    }
}

/// Serve the API on `listeners` until the process ends: one thread per
/// listener, one per connection.
pub fn serve(engine: Arc<Engine>, listeners: Vec<Listener>) {
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|l| {
            let engine = engine.clone();
            std::thread::spawn(move || loop {
                match l.accept() {
                    Ok(s) => {
                        let engine = engine.clone();
                        std::thread::spawn(move || connection(&engine, s));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        eprintln!("accept: {e}");
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// Requests of one connection, answered in turn, until it closes.
fn connection(engine: &Arc<Engine>, stream: Stream) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut input = BufReader::new(stream);
    loop {
        let mut req = match http::read_request(&mut input) {
            Ok(r) => r,
            Err(http::ReadError::Closed) => return,
            Err(http::ReadError::TooLarge) => {
                let r = message(413, "request body too large");
                let _ = http::write_response(&mut out, r, false);
                return;
            }
            Err(http::ReadError::Bad(m)) => {
                let _ = http::write_response(&mut out, message(400, &m), false);
                return;
            }
            Err(http::ReadError::Io(_)) => return,
        };
        let head = req.method == "HEAD";
        let close = req.close;
        let mut resp = if routes::streams_body(&req) {
            // Its body (a tar) is read by the handler as it comes.
            let mut body = http::BodyReader::new(&mut input, req.body_len);
            routes::route_streaming(engine, &req, &mut body)
        } else {
            match http::read_body(&mut input, &mut req) {
                Ok(()) => routes::route(engine, &req),
                Err(http::ReadError::TooLarge) => {
                    let r = message(413, "request body too large");
                    let _ = http::write_response(&mut out, r, false);
                    return;
                }
                Err(_) => return,
            }
        };
        if let http::Body::Hijack(_) = resp.body {
            let http::Body::Hijack(f) = std::mem::replace(&mut resp.body, http::Body::Raw) else {
                unreachable!("matched above")
            };
            // 101 to a client that asked to upgrade, else 200 and raw.
            // (A websocket's 101 comes with its own headers.)
            if req.header("Upgrade").is_some() && resp.status != 101 {
                resp.status = 101;
                resp.headers.push(("Connection".into(), "Upgrade".into()));
                resp.headers.push(("Upgrade".into(), "tcp".into()));
            }
            if http::write_response(&mut out, resp, false).is_ok() {
                f(input, out);
            }
            return;
        }
        if http::write_response(&mut out, resp, head).is_err() || close {
            return;
        }
    }
}

/// `{"message": ...}` with `status`, as dockerd answers errors.
pub fn message(status: u16, text: &str) -> Response {
    Response::json(status, &json!({ "message": text }))
}

/// The answer to an engine error: its kind decides the status.
pub fn error_response(e: &skiff_engine::Error) -> Response {
    let status = match e.kind() {
        ErrorKind::NotFound => 404,
        ErrorKind::Conflict | ErrorKind::NotRunning => 409,
        ErrorKind::InvalidArgument => 400,
        ErrorKind::NotModified => 304,
        ErrorKind::Forbidden => 403,
        ErrorKind::Unauthorized => 401,
        ErrorKind::Internal => 500,
    };
    if status == 304 {
        return Response::empty(304);
    }
    message(status, &e.to_string())
}

/// A handler's result: an answer either way.
pub type Answer = std::result::Result<Response, Response>;

/// An engine result as an answer (`Err` already mapped).
pub(crate) fn engine<T>(r: skiff_engine::Result<T>) -> std::result::Result<T, Response> {
    r.map_err(|e| error_response(&e))
}

/// A request body as JSON of type `T` (an empty body: `T`'s default).
pub(crate) fn body<T: serde::de::DeserializeOwned + Default>(
    req: &http::Request,
) -> std::result::Result<T, Response> {
    if req.body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(&req.body).map_err(|e| message(400, &format!("invalid JSON: {e}")))
}

/// A JSON value as a line of dockerd's progress streams.
pub(crate) fn line(v: serde_json::Value) -> Vec<u8> {
    let mut b = serde_json::to_vec(&v).expect("JSON");
    b.extend_from_slice(b"\r\n");
    b
}

/// The last line of a stream that failed.
pub(crate) fn error_line(message: &str) -> Vec<u8> {
    line(json!({"errorDetail": {"message": message}, "error": message}))
}

/// An answer of JSON lines (a pull's, a push's, a build's progress): `job`
/// runs on a thread of its own and sends lines as they come, which go out
/// in order; once the client is gone they are dropped (the job still runs
/// to its end, so nothing is left half-done).
pub(crate) fn json_lines(
    job: impl FnOnce(std::sync::mpsc::Sender<Vec<u8>>) + Send + 'static,
) -> Response {
    Response::stream("application/json", move |out| {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let worker = std::thread::spawn(move || job(tx));
        let mut failed = None;
        for chunk in rx {
            if failed.is_none() {
                failed = out.send(&chunk).err();
            }
        }
        let _ = worker.join();
        failed.map_or(Ok(()), Err)
    })
}

/// The `filters` query value (Docker's JSON), or none.
pub(crate) fn filters(
    req: &http::Request,
) -> std::result::Result<skiff_engine::filters::Filters, Response> {
    match req.query("filters") {
        Some(f) if !f.is_empty() => engine(skiff_engine::filters::Filters::from_json(f)),
        _ => Ok(Default::default()),
    }
}

/// A time in the query (`since`, `until`: seconds, with a fraction, or RFC
/// 3339), in nanoseconds since the epoch; None when absent or empty.
pub(crate) fn query_time(
    req: &http::Request,
    key: &str,
) -> std::result::Result<Option<i64>, Response> {
    match req.query(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => skiff_engine::time::parse_timestamp(v)
            .map(Some)
            .ok_or_else(|| message(400, &format!("invalid value for \"{key}\": {v}"))),
    }
}
