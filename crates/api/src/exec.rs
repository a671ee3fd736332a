//! Exec instances: `POST /containers/{id}/exec` makes one, `POST
//! /exec/{id}/start` runs it (the connection hijacked for its streams, as
//! attach; or detached), `GET /exec/{id}/json` tells its state and exit
//! code. The instances are the engine's.

use crate::attach::{pipe, pump_open};
use crate::http::{Request, Response};
use crate::{body, engine, message, Answer};
use serde::Deserialize;
use serde_json::json;
use skiff_engine::container::{ExecIo, ExecOptions};
use skiff_engine::Engine;
use std::os::fd::OwnedFd;
use std::sync::Arc;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    attach_stdin: Option<bool>,
    attach_stdout: Option<bool>,
    attach_stderr: Option<bool>,
    detach_keys: Option<String>,
    tty: Option<bool>,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    privileged: Option<bool>,
    user: Option<String>,
    working_dir: Option<String>,
    console_size: Option<Vec<u16>>,
}

pub fn create(e: &Engine, id: &str, req: &Request) -> Answer {
    let b: CreateBody = body(req)?;
    let o = ExecOptions {
        cmd: b.cmd.unwrap_or_default(),
        env: b.env.unwrap_or_default(),
        workdir: b.working_dir.filter(|w| !w.is_empty()),
        user: b.user.filter(|u| !u.is_empty()),
        detach: false,
        privileged: b.privileged.unwrap_or(false),
        tty: b.tty.unwrap_or(false),
        interactive: b.attach_stdin.unwrap_or(false),
        detach_keys: b.detach_keys.filter(|k| !k.is_empty()),
        console_size: match b.console_size.as_deref() {
            Some([rows, cols]) if *rows > 0 && *cols > 0 => Some((*rows, *cols)),
            _ => None,
        },
    };
    let attach = (
        b.attach_stdin.unwrap_or(false),
        b.attach_stdout.unwrap_or(false),
        b.attach_stderr.unwrap_or(false),
    );
    let exec_id = engine(e.exec_create(id, o, attach))?;
    Ok(Response::json(201, &json!({ "Id": exec_id })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: Option<bool>,
}

fn devnull(write: bool) -> std::io::Result<OwnedFd> {
    let f = std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .open("/dev/null")?;
    Ok(OwnedFd::from(f))
}

pub fn start(e: &Arc<Engine>, id: &str, req: &Request) -> Answer {
    let b: StartBody = body(req)?;
    let inst = engine(e.exec_instance(id))?;
    let io_err = |err: std::io::Error| message(500, &format!("exec: {err}"));
    let tty = inst.options.tty;
    if b.detach.unwrap_or(false) {
        let io = match tty {
            true => None,
            false => Some(ExecIo {
                stdin: devnull(false).map_err(io_err)?,
                stdout: devnull(true).map_err(io_err)?,
                stderr: devnull(true).map_err(io_err)?,
            }),
        };
        let h = engine(e.exec_instance_start(id, io))?;
        let (e, id) = (e.clone(), id.to_string());
        std::thread::spawn(move || {
            let code = h.wait(&e).unwrap_or(-1);
            e.exec_instance_exited(&id, code);
        });
        return Ok(Response::empty(200));
    }
    // The connection is taken first and the process started then, as
    // dockerd does: a process that cannot start is an error on the
    // stream, and its instance's exit code (126; 127 not found).
    let (e, id) = (e.clone(), id.to_string());
    let kind = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let mut r = Response::empty(200);
    r.content_type = kind;
    r.body = crate::http::Body::Hijack(Box::new(move |input, mut out| {
        match run(&e, &id, tty, inst.attach) {
            Ok((pipes, stdin, handle)) => {
                // The exit is waited for on a thread of its own: a pty's
                // master ends with EIO, not EOF, once the process exits.
                let (e2, id2) = (e.clone(), id.clone());
                let waiter = std::thread::spawn(move || {
                    let code = handle.wait(&e2).unwrap_or(-1);
                    e2.exec_instance_exited(&id2, code);
                });
                let open = pump_open(input, out, tty, pipes, stdin);
                // The exit code is recorded before the client, told the
                // output is over, asks for it.
                let _ = waiter.join();
                if let Some(s) = open {
                    s.shutdown();
                }
            }
            Err(err) => {
                let code = match err.start_cause() {
                    Some(skiff_engine::StartCause::CommandNotFound) => 127,
                    _ => 126,
                };
                e.exec_instance_exited(&id, code);
                let text = format!("{err}\r\n");
                let data = match tty {
                    true => text.into_bytes(),
                    false => crate::attach::frame(1, text.as_bytes()),
                };
                use std::io::Write;
                let _ = out.write_all(&data);
            }
        }
    }));
    Ok(r)
}

/// The process of exec instance `id` started: the pipes its output comes
/// from (stream, read end, whether the client wants it), where the
/// client's input goes, and its handle.
#[allow(clippy::type_complexity)]
fn run(
    e: &Engine,
    id: &str,
    tty: bool,
    (want_in, want_out, want_err): (bool, bool, bool),
) -> skiff_engine::Result<(
    Vec<(u8, OwnedFd, bool)>,
    Option<OwnedFd>,
    skiff_engine::container::ExecHandle,
)> {
    let io_err = |err: std::io::Error| skiff_engine::Error::Internal(format!("exec: {err}"));
    if tty {
        let h = e.exec_instance_start(id, None)?;
        let pty = h
            .pty
            .as_ref()
            .ok_or_else(|| skiff_engine::Error::Internal("exec: no pty came back".into()))?;
        let out = pty.try_clone().map_err(io_err)?;
        let input = match want_in {
            true => Some(pty.try_clone().map_err(io_err)?),
            false => None,
        };
        return Ok((vec![(1, out, want_out)], input, h));
    }
    let (out_r, out_w) = pipe().map_err(io_err)?;
    let (err_r, err_w) = pipe().map_err(io_err)?;
    let (in_r, in_w) = match want_in {
        true => {
            let (r, w) = pipe().map_err(io_err)?;
            (r, Some(w))
        }
        false => (devnull(false).map_err(io_err)?, None),
    };
    let io = ExecIo {
        stdin: in_r,
        stdout: out_w,
        stderr: err_w,
    };
    // The write ends go to the process; ours close with `io`.
    let h = e.exec_instance_start(id, Some(io))?;
    Ok((vec![(1, out_r, want_out), (2, err_r, want_err)], in_w, h))
}

/// `POST /exec/{id}/resize`: a running exec's pty to `h` rows, `w` columns.
pub fn resize(e: &Engine, id: &str, req: &Request) -> Answer {
    let (h, w) = crate::containers::size(req)?;
    engine(e.exec_instance_resize(id, h, w))?;
    Ok(Response::empty(200))
}

pub fn inspect(e: &Engine, id: &str) -> Answer {
    let i = engine(e.exec_instance(id))?;
    let (first, rest) = i
        .options
        .cmd
        .split_first()
        .map_or(("", &[][..]), |(f, r)| (f.as_str(), r));
    Ok(Response::json(
        200,
        &json!({
            "ID": i.id,
            "Running": i.running,
            "ExitCode": i.exit_code,
            "ProcessConfig": {
                "tty": i.options.tty,
                "entrypoint": first,
                "arguments": rest,
                "privileged": i.options.privileged,
                "user": i.options.user.clone().unwrap_or_default(),
            },
            "OpenStdin": i.attach.0,
            "OpenStdout": i.attach.1,
            "OpenStderr": i.attach.2,
            "CanRemove": false,
            "ContainerID": i.container,
            "DetachKeys": i.options.detach_keys.clone().unwrap_or_default(),
            "Pid": i.pid,
        }),
    ))
}
