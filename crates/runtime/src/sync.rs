//! The message channel between the runtime process and the processes it forks.
//!
//! A SOCK_SEQPACKET socketpair: every message is one datagram, a tag byte followed by
//! a payload. Children report progress ("need id maps", "here is the init pid",
//! "ready for hooks", "created") and failures (`Error` with the text the runtime
//! shows the user; `ExecError` when the command itself cannot be executed,
//! with a cause byte before the text). Sends and receives never allocate on
//! the child side.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Tags of the messages on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// child -> parent: write the uid/gid maps of my new user namespace.
    NeedIdMaps = b'U',
    /// parent -> child: maps written.
    IdMapsDone = b'u',
    /// parent -> stage 1: the cgroups are made, join them (a deferred
    /// `CgroupJoin`).
    Go = b'g',
    /// child -> parent: the container process's pid (i32, native endian).
    Pid = b'P',
    /// init -> parent: mounts are done, run prestart/createRuntime hooks.
    HooksReady = b'H',
    /// parent -> init: hooks done; the payload is the state JSON for createContainer hooks.
    HooksDone = b'h',
    /// init -> parent: setup is complete, the process waits for `start`.
    Created = b'C',
    /// any -> any: a failure, the payload is the message.
    Error = b'E',
    /// container process -> parent: its command could not be executed; the
    /// payload is one cause byte (see `ExecCause`) and the message.
    ExecError = b'X',
}

impl Tag {
    fn from_u8(b: u8) -> Option<Tag> {
        Some(match b {
            b'U' => Tag::NeedIdMaps,
            b'u' => Tag::IdMapsDone,
            b'g' => Tag::Go,
            b'P' => Tag::Pid,
            b'H' => Tag::HooksReady,
            b'h' => Tag::HooksDone,
            b'C' => Tag::Created,
            b'E' => Tag::Error,
            b'X' => Tag::ExecError,
            _ => return None,
        })
    }
}

/// Largest message: error texts and state JSON fit easily.
pub const MAX_MSG: usize = 64 * 1024;

#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// Create a connected pair: (parent end, child end). Both are close-on-exec.
pub fn pair() -> std::io::Result<(Channel, Channel)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid array of two ints for socketpair to fill.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: socketpair succeeded, so both fds are open and owned by nobody else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// Send one message. Async-signal-safe: a single sendmsg of stack data.
    pub fn send(&self, tag: Tag, payload: &[u8]) -> std::io::Result<()> {
        self.send_parts(tag, &[], payload)
    }

    /// Send an [`Tag::ExecError`]: the cause byte, then the message.
    /// Async-signal-safe.
    pub fn send_exec_error(&self, cause: u8, msg: &[u8]) -> std::io::Result<()> {
        self.send_parts(Tag::ExecError, &[cause], msg)
    }

    /// One datagram of the tag, `head` and `payload` (cut to fit `MAX_MSG`).
    fn send_parts(&self, tag: Tag, head: &[u8], payload: &[u8]) -> std::io::Result<()> {
        let t = [tag as u8];
        let iov = [
            libc::iovec {
                iov_base: t.as_ptr() as *mut libc::c_void,
                iov_len: 1,
            },
            libc::iovec {
                iov_base: head.as_ptr() as *mut libc::c_void,
                iov_len: head.len(),
            },
            libc::iovec {
                iov_base: payload.as_ptr() as *mut libc::c_void,
                iov_len: payload.len().min((MAX_MSG - 1).saturating_sub(head.len())),
            },
        ];
        // SAFETY: msghdr is plain data; zeroed is a valid empty header.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = iov.len();
        loop {
            // SAFETY: msg points at live iovecs over live buffers.
            let rc = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
            if rc >= 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    pub fn send_pid(&self, pid: i32) -> std::io::Result<()> {
        self.send(Tag::Pid, &pid.to_ne_bytes())
    }

    /// Receive one message into `buf`; returns the tag and payload length.
    /// `Ok(None)` means the other side closed (or exec'd, closing its end).
    pub fn recv_into(&self, buf: &mut [u8]) -> std::io::Result<Option<(Tag, usize)>> {
        loop {
            // SAFETY: buf is a valid writable buffer of buf.len() bytes.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Ok(None);
            }
            let tag = Tag::from_u8(buf[0]).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "bad sync message")
            })?;
            return Ok(Some((tag, n as usize - 1)));
        }
    }

    /// Receive into a fresh buffer (parent side only: allocates).
    pub fn recv(&self) -> std::io::Result<Option<(Tag, Vec<u8>)>> {
        let mut buf = vec![0u8; MAX_MSG];
        Ok(self.recv_into(&mut buf)?.map(|(t, n)| {
            buf.copy_within(1..1 + n, 0);
            buf.truncate(n);
            (t, buf)
        }))
    }

    /// Wait for a specific tag on the child side; an Error message or EOF is a failure.
    /// Returns the payload length, or None on anything else.
    pub fn expect(&self, want: Tag, buf: &mut [u8]) -> Option<usize> {
        match self.recv_into(buf) {
            Ok(Some((t, n))) if t == want => Some(n),
            _ => None,
        }
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::{pair, Tag};
    use crate::process::ExecCause;
    use crate::Error;

    #[test]
    fn exec_error_carries_its_cause_and_message() {
        let (parent, child) = pair().unwrap();
        let msg = r#"exec: "x": permission denied"#;
        for cause in [
            ExecCause::NotFound,
            ExecCause::PermissionDenied,
            ExecCause::Other,
        ] {
            child
                .send_exec_error(cause.to_byte(), msg.as_bytes())
                .unwrap();
            let (tag, payload) = parent.recv().unwrap().unwrap();
            assert_eq!(tag, Tag::ExecError);
            match crate::init::child_error(tag, &payload) {
                Error::Exec { cause: c, msg: m } => assert_eq!((c, m.as_str()), (cause, msg)),
                e => panic!("{e:?}"),
            }
        }
        child.send(Tag::Error, b"mounting /proc: busy").unwrap();
        let (tag, payload) = parent.recv().unwrap().unwrap();
        match crate::init::child_error(tag, &payload) {
            Error::Init(m) => assert_eq!(m, "mounting /proc: busy"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn long_messages_are_cut_to_one_datagram() {
        let (parent, child) = pair().unwrap();
        let msg = vec![b'a'; super::MAX_MSG * 2];
        child.send_exec_error(b'o', &msg).unwrap();
        let (tag, payload) = parent.recv().unwrap().unwrap();
        assert_eq!(tag, Tag::ExecError);
        assert_eq!(payload.len(), super::MAX_MSG - 1);
        assert_eq!(payload[0], b'o');
    }
}
