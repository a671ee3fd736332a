//! `exec`: a command in a running container (started by its supervisor),
//! with Docker's exit codes for one that cannot start; with `-t` our
//! terminal is copied to and from its pty here.

use super::terminal::{check_detach_keys, dup, require_tty, RawTerminal, WindowChanges};
use super::{env_entry, exit_code, open, Failure, Result};
use clap::Args;
use std::os::fd::OwnedFd;
use std::path::Path;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Give extended privileges to the command.
    #[arg(long)]
    privileged: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

/// One of our standard fds (or /dev/null for `null`), duplicated for a
/// process to use as its own.
fn stdio_fd(fd: i32, null: bool) -> Result<OwnedFd> {
    if null {
        return Ok(std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(Failure::from)?
            .into());
    }
    dup(fd)
}

pub fn exec(root: &Path, runroot: &Path, a: ExecArgs) -> Result {
    if !a.detach {
        require_tty(a.tty, a.interactive)?;
    }
    check_detach_keys(&a.detach_keys, 1, "")?;
    let e = open(root, runroot)?;
    let o = skiff_engine::container::ExecOptions {
        cmd: a.command,
        env: a.env.iter().map(|e| env_entry(e)).collect(),
        workdir: a.workdir,
        user: a.user,
        detach: a.detach,
        privileged: a.privileged,
        tty: a.tty,
        interactive: a.interactive,
        detach_keys: a.detach_keys.clone(),
        console_size: if a.tty {
            skiff_engine::tty::terminal_size(1)
        } else {
            None
        },
    };
    // Without a pty the process gets our stdio (stdin with -i; nothing
    // when detached).
    let io = if a.tty {
        None
    } else {
        Some(skiff_engine::container::ExecIo {
            stdin: stdio_fd(0, !a.interactive || a.detach)?,
            stdout: stdio_fd(1, a.detach)?,
            stderr: stdio_fd(2, a.detach)?,
        })
    };
    let r = e.exec_start(&a.container, &o, io).and_then(|h| {
        if a.detach {
            return Ok(0);
        }
        match h.pty.as_ref().and_then(|m| m.try_clone().ok()) {
            Some(master) => {
                let raw = a.interactive.then(RawTerminal::enter).flatten();
                let escape = a
                    .detach_keys
                    .as_deref()
                    .and_then(|k| skiff_engine::tty::parse_detach_keys(k).ok())
                    .map(skiff_engine::tty::Escape::new)
                    .unwrap_or_default();
                let detached = proxy_tty(&master, h.exit_fd(), a.interactive, escape);
                drop(raw);
                if detached {
                    return Ok(0);
                }
                h.wait(&e)
            }
            None => h.wait(&e),
        }
    });
    match r {
        Ok(code) => std::process::exit(code),
        // Docker's daemon writes a failed exec's error into its output:
        // stdout, with a terminal's line end.
        Err(err @ skiff_engine::Error::Start { .. }) => {
            use std::io::Write;
            let _ = write!(std::io::stdout(), "{err}\r\n");
            let _ = std::io::stdout().flush();
            std::process::exit(exit_code(&err));
        }
        Err(err) => Err(Failure {
            code: 1,
            msg: format!("Error response from daemon: {err}"),
        }),
    }
}

/// Copy between our terminal and an exec'd process's pty `master` until
/// the process ends (`exit` readable, then the pty drained) or the user
/// types the detach keys (true: detached, the process runs on).
fn proxy_tty(
    master: &OwnedFd,
    exit: std::os::fd::BorrowedFd<'_>,
    interactive: bool,
    mut escape: skiff_engine::tty::Escape,
) -> bool {
    use std::io::Write;
    use std::os::fd::{AsFd, AsRawFd};
    let mut buf = vec![0u8; 16 * 1024];
    let mut stdin_open = interactive;
    let mut exited = false;
    // Our terminal resized: the pty follows (its process gets SIGWINCH).
    let mut window = WindowChanges::watch();
    loop {
        let mut fds = vec![libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(w) = &window {
            fds.push(libc::pollfd {
                fd: w.raw(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if stdin_open {
            fds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if !exited {
            fds.push(libc::pollfd {
                fd: exit.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // Once it exited, what the pty still holds, then done.
        let timeout = if exited { 100 } else { -1 };
        // SAFETY: a valid pollfd array of its length.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, timeout) };
        if r == 0 && exited {
            return false;
        }
        for p in fds.iter().filter(|p| p.revents != 0) {
            if p.fd == master.as_raw_fd() {
                let n = nix::unistd::read(master, &mut buf).unwrap_or(0);
                if n == 0 {
                    return false;
                }
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
            } else if window.as_ref().is_some_and(|w| p.fd == w.raw()) {
                if let Some((rows, cols)) = window.as_mut().and_then(WindowChanges::changed) {
                    let _ = skiff_engine::tty::set_terminal_size(master.as_raw_fd(), rows, cols);
                }
            } else if p.fd == 0 {
                let n = nix::unistd::read(std::io::stdin().as_fd(), &mut buf).unwrap_or(0);
                if n == 0 {
                    stdin_open = false;
                    continue;
                }
                let (data, detach) = escape.feed(&buf[..n]);
                let _ = nix::unistd::write(master.as_fd(), &data);
                if detach {
                    return true;
                }
            } else {
                exited = true;
            }
        }
    }
}
