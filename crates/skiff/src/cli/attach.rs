//! `attach`: a running container's output (and, with a pty, its input)
//! through its supervisor's attach socket.

use super::terminal::{check_detach_keys, proxy_signals, RawTerminal, WindowChanges};
use super::{daemon, open, Failure, Result};
use clap::Args;
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
    let att = e
        .attach(&c.id, !a.no_stdin, a.detach_keys.as_deref())
        .map_err(|err| match err.kind() {
            skiff_engine::ErrorKind::Conflict => Failure {
                code: 1,
                msg: err.to_string(),
            },
            _ => daemon(1)(err),
        })?;
    let raw = (att.stdin && att.tty).then(RawTerminal::enter).flatten();
    if a.sig_proxy && !att.tty {
        proxy_signals(c.state.pid);
    }
    let mut sock = att.stream();
    let mut stdin_open = att.stdin;
    let mut frames = skiff_engine::attach::FrameReader::default();
    let mut buf = vec![0u8; 32 * 1024];
    // Our terminal resized: the container's pty follows.
    let mut window = att.tty.then(WindowChanges::watch).flatten();
    if let (Some(_), Some((rows, cols))) = (&window, skiff_engine::tty::terminal_size(1)) {
        let _ = e.resize(&c.id, rows, cols);
    }
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
        if let Some(w) = &window {
            fds.push(libc::pollfd {
                fd: w.raw(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: a valid pollfd array of its length.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, -1) } < 0 {
            continue;
        }
        if window.is_some() && fds.last().is_some_and(|p| p.revents != 0) {
            if let Some((rows, cols)) = window.as_mut().and_then(WindowChanges::changed) {
                let _ = e.resize(&c.id, rows, cols);
            }
        }
        if stdin_open && fds[1].revents != 0 {
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
        if att.tty {
            let _ = std::io::stdout().write_all(&buf[..n]);
            let _ = std::io::stdout().flush();
            continue;
        }
        for (stream, data) in frames.push(&buf[..n]) {
            if stream == 2 {
                let _ = std::io::stderr().write_all(&data);
            } else {
                let _ = std::io::stdout().write_all(&data);
                let _ = std::io::stdout().flush();
            }
        }
    }
    drop(raw);
    // The connection ended: the container exited, or the client detached.
    let code = att.finish(&e).map_err(daemon(1))?.unwrap_or(0);
    std::process::exit(code);
}
