//! `POST /containers/{id}/attach`: the connection hijacked, the
//! container's output on it (Docker's multiplexed frames without a TTY,
//! raw bytes with one) and, with `stdin`, its input from it. A container
//! that runs is attached through its supervisor; one that does not run
//! yet gets the connection's streams at its start (`docker run` attaches,
//! then starts), so nothing it prints is missed. With `logs`, what it wrote
//! before comes first (and alone without `stream`).

use crate::http::{Request, Response, Stream};
use crate::{engine, Answer};
use skiff_engine::container::Attach;
use skiff_engine::model::Status;
use skiff_engine::Engine;
use std::io::{BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

/// Docker's frame: the stream, three zeros, the length, the data.
pub(crate) fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(data.len() + 8);
    f.extend_from_slice(&[stream, 0, 0, 0]);
    f.extend_from_slice(&(data.len() as u32).to_be_bytes());
    f.extend_from_slice(data);
    f
}

/// The log replayed before an attach's stream (`logs`), written a moment
/// after the upgrade's head: a client reads that head through a buffered
/// reader and then reads the raw socket, so bytes that came with the head
/// are lost to it (dockerd's replay comes that much later too).
fn send_replay(out: &mut Stream, replay: &[u8]) -> std::io::Result<()> {
    if replay.is_empty() {
        return Ok(());
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    out.write_all(replay)
}

pub(crate) fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)
}

pub fn attach(e: &Arc<Engine>, id: &str, req: &Request) -> Answer {
    attach_as(e, id, req, false)
}

/// `GET /containers/{id}/attach/ws`: the same attach over a websocket, as
/// dockerd serves it: the output never multiplexed (stdout and stderr as
/// they come), one message per piece, binary from API 1.28 on (text
/// before); the client's messages are the container's input, its close
/// the input's end.
pub fn attach_ws(e: &Arc<Engine>, id: &str, req: &Request) -> Answer {
    let upgrade = req
        .header("Upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let Some(key) = req.header("Sec-WebSocket-Key").filter(|_| upgrade) else {
        return Err(crate::message(
            400,
            "a websocket upgrade is expected (Upgrade: websocket, Sec-WebSocket-Key)",
        ));
    };
    let accept = crate::websocket::accept_key(key);
    let mut inner = attach_as(e, id, req, true)?;
    let crate::http::Body::Hijack(f) = std::mem::replace(&mut inner.body, crate::http::Body::Empty)
    else {
        return Ok(inner);
    };
    let opcode = match crate::routes::api_version(&req.path) {
        Some((1, minor)) if minor < 28 => crate::websocket::TEXT,
        _ => crate::websocket::BINARY,
    };
    let mut r = Response::empty(101);
    r.headers = vec![
        ("Connection".into(), "Upgrade".into()),
        ("Upgrade".into(), "websocket".into()),
        ("Sec-WebSocket-Accept".into(), accept),
    ];
    r.body = crate::http::Body::Hijack(Box::new(move |input, out| {
        // The attach runs on one end of a socket pair; the websocket
        // carries the other end's bytes.
        let Ok((a, b)) = std::os::unix::net::UnixStream::pair() else {
            return out.shutdown();
        };
        let (Ok(a_in), Ok(a_end), Ok(b_from), Ok(conn)) =
            (a.try_clone(), a.try_clone(), b.try_clone(), out.try_clone())
        else {
            return out.shutdown();
        };
        let attached = std::thread::spawn(move || {
            f(BufReader::new(Stream::Unix(a_in)), Stream::Unix(a));
            // The output is over (a thread feeding stdin may still hold
            // the socket): the websocket's side reads its end.
            let _ = a_end.shutdown(std::net::Shutdown::Write);
        });
        crate::websocket::bridge(input, conn, opcode, b_from, b);
        let _ = attached.join();
        out.shutdown();
    }));
    Ok(r)
}

/// An attach; `raw`: the output unframed even without a TTY (the
/// websocket's way).
fn attach_as(e: &Arc<Engine>, id: &str, req: &Request, raw: bool) -> Answer {
    let c = engine(e.find(id))?;
    let (want_in, want_out, want_err) = (req.flag("stdin"), req.flag("stdout"), req.flag("stderr"));
    let tty = c.config.tty || raw;
    let kind = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    // `logs`: what the container wrote so far comes first (framed as the
    // stream is); without `stream`, only that.
    let mut replay = Vec::new();
    if req.flag("logs") {
        let cancel = skiff_engine::notify::Cancel::new();
        let mut sink = |r: &skiff_engine::logs::Record| {
            if (r.stream == 1 && want_out) || (r.stream == 2 && want_err) {
                match tty {
                    true => replay.extend_from_slice(r.data.as_bytes()),
                    false => replay.extend(frame(r.stream, r.data.as_bytes())),
                }
            }
            true
        };
        engine(e.logs(&c.id, &Default::default(), &cancel, &mut sink))?;
    }
    if !req.flag("stream") {
        let hijack: crate::http::Hijack = Box::new(move |_input, mut out| {
            let _ = send_replay(&mut out, &replay);
            out.shutdown();
        });
        let mut r = Response::empty(200);
        r.content_type = kind;
        r.body = crate::http::Body::Hijack(hijack);
        return Ok(r);
    }
    let hijack: crate::http::Hijack = if matches!(c.state.status, Status::Running | Status::Paused)
    {
        let a = engine(e.attach(&c.id, want_in, req.query("detachKeys")))?;
        let e = e.clone();
        Box::new(move |input, mut out| {
            if send_replay(&mut out, &replay).is_ok() {
                running(&e, a, input, out, (want_out, want_err), raw)
            }
        })
    } else {
        // Streams for the start to come: pipes this connection drains.
        let io = |r: std::io::Result<(OwnedFd, OwnedFd)>| {
            r.map_err(|err| crate::message(500, &format!("making a pipe: {err}")))
        };
        let (out_r, out_w) = io(pipe())?;
        let (err_r, err_w) = io(pipe())?;
        let stdin = match want_in && c.config.open_stdin {
            true => Some(io(pipe())?),
            false => None,
        };
        let (in_r, in_w) = match stdin {
            Some((r, w)) => (Some(r), Some(w)),
            None => (None, None),
        };
        engine(e.attach_at_start(
            &c.id,
            Attach {
                stdin: in_r,
                stdout: out_w,
                stderr: err_w,
                detach_keys: None,
            },
        ))?;
        Box::new(move |input, mut out| {
            if send_replay(&mut out, &replay).is_ok() {
                pump(
                    input,
                    out,
                    tty,
                    vec![(1, out_r, want_out), (2, err_r, want_err)],
                    in_w,
                )
            }
        })
    };
    let mut r = Response::empty(200);
    r.content_type = kind;
    r.body = crate::http::Body::Hijack(hijack);
    Ok(r)
}

/// Copy the client's input into `w` until it half-closes (then `w` is
/// closed: the container reads its end of input).
fn feed(mut input: BufReader<Stream>, w: OwnedFd) {
    let mut w = std::fs::File::from(w);
    let _ = std::io::copy(&mut input, &mut w);
}

/// [`pump_open`], then the connection ended (a client still sending input
/// learns that the output is over).
pub(crate) fn pump(
    input: BufReader<Stream>,
    out: Stream,
    tty: bool,
    pipes: Vec<(u8, OwnedFd, bool)>,
    stdin: Option<OwnedFd>,
) {
    if let Some(s) = pump_open(input, out, tty, pipes, stdin) {
        s.shutdown();
    }
}

/// Drain `pipes` (stream number, read end, whether the client wants it)
/// into the connection (framed unless `tty`) until their writers close
/// them; the client's input goes to `stdin` meanwhile. The connection,
/// still open, for the caller to end once it has recorded what the client
/// asks next (an exec's exit code).
pub(crate) fn pump_open(
    input: BufReader<Stream>,
    out: Stream,
    tty: bool,
    pipes: Vec<(u8, OwnedFd, bool)>,
    stdin: Option<OwnedFd>,
) -> Option<Stream> {
    if let Some(w) = stdin {
        std::thread::spawn(move || feed(input, w));
    }
    let ends = out.try_clone().ok();
    let out = Arc::new(Mutex::new(out));
    let threads: Vec<_> = pipes
        .into_iter()
        .map(|(stream, r, wanted)| {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut r = std::fs::File::from(r);
                let mut buf = vec![0u8; 32 << 10];
                // Once the client is gone the output is still read (and
                // dropped): the container never blocks on, or dies of, a
                // pipe nobody reads.
                let mut gone = !wanted;
                loop {
                    let n = match r.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if gone {
                        continue;
                    }
                    let data = if tty {
                        buf[..n].to_vec()
                    } else {
                        frame(stream, &buf[..n])
                    };
                    let mut o = out.lock().expect("the connection");
                    gone = o.write_all(&data).and_then(|()| o.flush()).is_err();
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    ends
}

/// Pass a running container's output from its supervisor to the client
/// (its frames re-made with only the streams asked for, or their data
/// alone when `raw`) and the client's input to it.
fn running(
    e: &Engine,
    a: skiff_engine::attach::Attached,
    input: BufReader<Stream>,
    mut out: Stream,
    (want_out, want_err): (bool, bool),
    raw: bool,
) {
    let Ok(mut from) = a.stream().try_clone() else {
        return;
    };
    if a.stdin {
        if let Ok(mut to) = a.stream().try_clone() {
            std::thread::spawn(move || {
                let mut input = input;
                let _ = std::io::copy(&mut input, &mut to);
                let _ = to.shutdown(std::net::Shutdown::Write);
            });
        }
    }
    let mut frames = skiff_engine::attach::FrameReader::default();
    let mut buf = vec![0u8; 32 << 10];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let data = if a.tty {
            buf[..n].to_vec()
        } else {
            frames
                .push(&buf[..n])
                .into_iter()
                .filter(|(s, _)| (*s == 1 && want_out) || (*s == 2 && want_err))
                .flat_map(|(s, d)| if raw { d } else { frame(s, &d) })
                .collect()
        };
        if out.write_all(&data).and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    let _ = a.finish(e);
}
