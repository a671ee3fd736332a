//! The supervisor's protocol, both ends of it (version [`VERSION`]).
//!
//! **Status pipe** (fd 3 of `skiff __supervise`, read by whoever started it),
//! one line each:
//!   `skiff-supervisor VERSION PID`  first: the supervisor's version and pid
//!                                   (it forked away from the process that
//!                                   was started, so nothing waits on it)
//!   `started PID`                   the container runs (PID: its init)
//!   `error CODE MESSAGE`            it could not start (CODE: Docker's)
//!   `exit CODE`                     it exited (with `--rm`: and is removed)
//!   `detached`                      the client typed the detach keys
//! A supervisor of protocol 1 starts with `started` and does not fork.
//!
//! **Prepared start** (`skiff __supervise ROOT RUNROOT ID prepared`,
//! spawned by `run` before container ID exists): fd 4 is a unix seqpacket
//! socket instead of the start lock. The supervisor says its first status
//! line, opens the store, and waits there for one message: the container's
//! ID again, then optionally the image's layer directories, topmost first,
//! each after a NUL byte, with the start lock attached (SCM_RIGHTS). The
//! socket's end without a message makes it exit, having done nothing.
//!
//! **Attach socket** (`<runroot>/attach/<id12>.sock`, listened on before the
//! container starts): a client sends one request line and gets:
//!   `attach 1 stdin=0|1 [keys=K]`   the output: raw bytes with a pty, else
//!                                   Docker's multiplexed frames; with
//!                                   stdin=1 its input goes to the container
//!   `skiff 2 resize ROWS COLS`      `ok` or `error MESSAGE`: the pty resized
//!   `skiff 2 close-stdin`           `ok` or `error MESSAGE`: the container's
//!                                   stdin (`-i` without `-t`) sees its end
//!   `skiff 2 wait`                  `exit CODE` when the container exits
//!   `skiff 2 exec JSON`             a process in the container ([`ExecRequest`]),
//!                                   with its stdin, stdout and stderr passed
//!                                   along (SCM_RIGHTS) unless it has a pty:
//!                                   `pid N` (with a pty, its master passed
//!                                   back) or `error CODE MESSAGE`, then
//!                                   `exit CODE` when it ends (the supervisor
//!                                   is its parent and reaps it, whether or
//!                                   not the client is still there)
//! Protocol 1 supervisors (of containers started by an older skiff) know
//! only `attach 1`: they close the connection on the others.

use serde::{Deserialize, Serialize};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// This skiff's supervisor protocol.
pub const VERSION: u32 = 2;

/// The last argument of a prepared supervisor, which waits for its start.
pub const PREPARED: &str = "prepared";

/// The first status line of a supervisor of this version.
pub fn hello(pid: i32) -> String {
    format!("skiff-supervisor {VERSION} {pid}")
}

/// A status line's version and supervisor pid, if it is the first line.
pub fn parse_hello(line: &str) -> Option<(u32, i32)> {
    let mut w = line.strip_prefix("skiff-supervisor ")?.split_whitespace();
    Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
}

/// What `exec` asks the supervisor to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    pub cmd: Vec<String>,
    /// `KEY=VALUE` on top of the container's environment.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub privileged: bool,
    /// A pty (its master is passed back).
    pub tty: bool,
    /// The pty's size, rows and columns.
    pub size: Option<(u16, u16)>,
}

/// One request on the attach socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Attach { stdin: bool, keys: Option<String> },
    Resize { rows: u16, cols: u16 },
    CloseStdin,
    Wait,
    Exec(ExecRequest),
}

impl Request {
    /// The request line (with its newline).
    pub fn line(&self) -> String {
        match self {
            Request::Attach { stdin, keys } => format!(
                "attach 1 stdin={}{}\n",
                u8::from(*stdin),
                keys.as_deref()
                    .map(|k| format!(" keys={k}"))
                    .unwrap_or_default()
            ),
            Request::Resize { rows, cols } => format!("skiff {VERSION} resize {rows} {cols}\n"),
            Request::CloseStdin => format!("skiff {VERSION} close-stdin\n"),
            Request::Wait => format!("skiff {VERSION} wait\n"),
            Request::Exec(e) => format!(
                "skiff {VERSION} exec {}\n",
                serde_json::to_string(e).expect("an exec request serializes")
            ),
        }
    }

    /// Parse a request line (without its newline).
    pub fn parse(line: &str) -> Option<Request> {
        if let Some(rest) = line.strip_prefix("attach 1") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            return Some(Request::Attach {
                stdin: words.contains(&"stdin=1"),
                keys: words
                    .iter()
                    .find_map(|w| w.strip_prefix("keys="))
                    .map(str::to_string),
            });
        }
        let rest = line.strip_prefix("skiff ")?;
        let (version, rest) = rest.split_once(' ')?;
        if version.parse::<u32>().ok()? > VERSION {
            return None;
        }
        let (verb, args) = rest.split_once(' ').unwrap_or((rest, ""));
        match verb {
            "resize" => {
                let mut w = args.split_whitespace();
                Some(Request::Resize {
                    rows: w.next()?.parse().ok()?,
                    cols: w.next()?.parse().ok()?,
                })
            }
            "close-stdin" => Some(Request::CloseStdin),
            "wait" => Some(Request::Wait),
            "exec" => serde_json::from_str(args).ok().map(Request::Exec),
            _ => None,
        }
    }
}

/// Send `data` on a unix socket with `fds` attached.
pub fn send_with_fds(sock: BorrowedFd<'_>, data: &[u8], fds: &[RawFd]) -> std::io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [std::io::IoSlice::new(data)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &cmsg };
    let mut sent = sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)?;
    // What did not go with the fds goes after them.
    while sent < data.len() {
        let n = nix::sys::socket::send(sock.as_raw_fd(), &data[sent..], MsgFlags::MSG_NOSIGNAL)?;
        sent += n;
    }
    Ok(())
}

/// Receive into `buf`, with any fds that came along (close-on-exec).
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    flags: nix::sys::socket::MsgFlags,
) -> std::io::Result<(usize, Vec<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        flags | MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(list) = c {
            for fd in list {
                // SAFETY: the kernel just installed this fd in our table for
                // this message; nothing else owns it.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Ok((msg.bytes, fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_older_lines_parse() {
        let all = [
            Request::Attach {
                stdin: true,
                keys: Some("ctrl-a,x".into()),
            },
            Request::Attach {
                stdin: false,
                keys: None,
            },
            Request::Resize { rows: 24, cols: 80 },
            Request::CloseStdin,
            Request::Wait,
            Request::Exec(ExecRequest {
                cmd: vec!["sh".into(), "-c".into(), "echo a b".into()],
                env: vec!["A=1".into()],
                tty: true,
                size: Some((30, 100)),
                ..Default::default()
            }),
        ];
        for r in all {
            let line = r.line();
            assert!(line.ends_with('\n'));
            assert_eq!(Request::parse(line.trim_end_matches('\n')), Some(r));
        }
        // What a protocol 1 client sends.
        assert_eq!(
            Request::parse("attach 1 stdin=1"),
            Some(Request::Attach {
                stdin: true,
                keys: None
            })
        );
        assert_eq!(Request::parse("skiff 9 wait"), None, "a newer version");
        assert_eq!(Request::parse("bogus"), None);
        assert_eq!(parse_hello(&hello(42)), Some((VERSION, 42)));
        assert_eq!(parse_hello("started 42"), None);
    }

    #[test]
    fn fds_travel_with_the_data() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        send_with_fds(std::os::fd::AsFd::as_fd(&a), b"hello\n", &[w.as_raw_fd()]).unwrap();
        drop(w);
        let mut buf = [0u8; 16];
        let (n, fds) = recv_with_fds(
            std::os::fd::AsFd::as_fd(&b),
            &mut buf,
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        assert_eq!(&buf[..n], b"hello\n");
        assert_eq!(fds.len(), 1);
        nix::unistd::write(&fds[0], b"through").unwrap();
        drop(fds);
        let mut got = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut got).unwrap();
        assert_eq!(got, "through");
    }
}
