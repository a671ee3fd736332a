//! `attach`: a running container's output (and, with a pty, its input)
//! through its supervisor's attach socket.

use super::terminal::{check_detach_keys, proxy_signals, RawTerminal};
use super::{daemon, open, Failure, Result};
use clap::Args;
use skiff_engine::model::Status;
use std::path::Path;

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    /// Proxy all received signals to the process.
    #[arg(long = "sig-proxy", default_value = "true", action = clap::ArgAction::Set)]
    sig_proxy: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
}

/// `attach`: the running container's output (and, with a pty, its input)
/// through its supervisor's attach socket; exits as the container does, or
/// with 0 when detached (ctrl-p ctrl-q).
pub fn attach(root: &Path, runroot: &Path, a: AttachArgs) -> Result {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    check_detach_keys(&a.detach_keys, 1, "")?;
    let e = open(root, runroot)?;
    let c = e.find(&a.container).map_err(daemon(1))?;
    if !matches!(c.state.status, Status::Running | Status::Paused) {
        return Err(Failure {
            code: 1,
            msg: "You cannot attach to a stopped container, start it first".into(),
        });
    }
    let path = skiff_engine::tty::attach_socket(runroot, &c.id);
    let mut sock = std::os::unix::net::UnixStream::connect(&path).map_err(|err| Failure {
        code: 1,
        msg: format!("Error response from daemon: attaching to {}: {err}", c.name),
    })?;
    let with_stdin = !a.no_stdin && c.config.open_stdin;
    let keys = a
        .detach_keys
        .as_deref()
        .map(|k| format!(" keys={k}"))
        .unwrap_or_default();
    writeln!(sock, "attach 1 stdin={}{keys}", u8::from(with_stdin)).map_err(Failure::from)?;
    let raw = (with_stdin && c.config.tty)
        .then(RawTerminal::enter)
        .flatten();
    if a.sig_proxy && !c.config.tty {
        proxy_signals(c.state.pid);
    }
    let mut stdin_open = with_stdin;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut fds = vec![libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if stdin_open {
            fds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: a valid pollfd array of its length.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, -1) } < 0 {
            continue;
        }
        if fds.len() > 1 && fds[1].revents != 0 {
            // SAFETY: reading our stdin into our buffer.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 || sock.write_all(&buf[..n as usize]).is_err() {
                stdin_open = false;
            }
        }
        if fds[0].revents == 0 {
            continue;
        }
        let n = sock.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        if c.config.tty {
            let _ = std::io::stdout().write_all(&buf[..n]);
            let _ = std::io::stdout().flush();
            continue;
        }
        // Docker's multiplexed frames: stream, 3 zero bytes, u32 length.
        pending.extend_from_slice(&buf[..n]);
        while pending.len() >= 8 {
            let len = u32::from_be_bytes([pending[4], pending[5], pending[6], pending[7]]) as usize;
            if pending.len() < 8 + len {
                break;
            }
            let data = &pending[8..8 + len];
            if pending[0] == 2 {
                let _ = std::io::stderr().write_all(data);
            } else {
                let _ = std::io::stdout().write_all(data);
                let _ = std::io::stdout().flush();
            }
            pending.drain(..8 + len);
        }
    }
    drop(raw);
    // The connection ended: the container exited, or the client detached.
    let detached = with_stdin && skiff_engine::proc::alive(c.state.pid, c.state.pid_start);
    let code = if detached {
        0
    } else {
        e.wait(
            &c.id,
            Default::default(),
            &skiff_engine::notify::Cancel::new(),
        )
        .unwrap_or(0)
    };
    std::process::exit(code);
}
