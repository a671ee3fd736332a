//! Where the supervisor writes without ever blocking: a client's terminal,
//! pipe or socket, and the container's own input. What a destination does not
//! take at once waits in a bounded buffer, written out when `poll` says it is
//! writable; a client that falls further behind than that is dropped (its
//! output is in the log), and input beyond it is not read from clients until
//! the container reads.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

/// How far a client may fall behind before it is dropped.
pub(super) const LIMIT: usize = 4 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A socket: `send` with MSG_DONTWAIT.
    Socket,
    /// A description of our own in non-blocking mode.
    NonBlocking,
    /// A regular file, which never keeps a write waiting for long.
    Blocking,
}

pub(super) struct Sink {
    fd: OwnedFd,
    kind: Kind,
    pending: Vec<u8>,
}

impl Sink {
    /// A sink for one of our standard fds, which a client handed us (its
    /// terminal, a pipe, a file): a description of its own, opened anew
    /// through /proc in non-blocking mode (the client's own description,
    /// which its shell shares, keeps its mode); None when the fd is closed
    /// or /dev/null.
    pub(super) fn foreground(fd: RawFd) -> Option<Sink> {
        // SAFETY: fds 1 and 2 are open (at worst on /dev/null) for the call.
        let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let st = nix::sys::stat::fstat(b).ok()?;
        let fmt = st.st_mode & libc::S_IFMT;
        if fmt == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3) {
            return None;
        }
        if fmt == libc::S_IFSOCK {
            return Some(Sink {
                fd: b.try_clone_to_owned().ok()?,
                kind: Kind::Socket,
                pending: Vec::new(),
            });
        }
        if fmt == libc::S_IFREG {
            return Some(Sink {
                fd: b.try_clone_to_owned().ok()?,
                kind: Kind::Blocking,
                pending: Vec::new(),
            });
        }
        // A pipe, fifo or terminal: reopened. O_NOCTTY: a terminal never
        // becomes ours to control.
        let reopened = nix::fcntl::open(
            format!("/proc/self/fd/{fd}").as_str(),
            nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_NONBLOCK
                | nix::fcntl::OFlag::O_NOCTTY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        );
        match reopened {
            Ok(fd) => Some(Sink {
                fd,
                kind: Kind::NonBlocking,
                pending: Vec::new(),
            }),
            Err(_) => Some(Sink {
                fd: b.try_clone_to_owned().ok()?,
                kind: Kind::Blocking,
                pending: Vec::new(),
            }),
        }
    }

    /// A sink for an attached client's socket.
    pub(super) fn socket(fd: OwnedFd) -> Sink {
        Sink {
            fd,
            kind: Kind::Socket,
            pending: Vec::new(),
        }
    }

    /// A sink for the container's input (its pty master or the stdin pipe
    /// we hold), descriptions only we use: made non-blocking.
    pub(super) fn input(fd: OwnedFd) -> Sink {
        // SAFETY: F_GETFL/F_SETFL on our own fd.
        unsafe {
            let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        Sink {
            fd,
            kind: Kind::NonBlocking,
            pending: Vec::new(),
        }
    }

    pub(super) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Whether there is something waiting to be written (poll for POLLOUT).
    pub(super) fn waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Room for more before the limit.
    pub(super) fn has_room(&self) -> bool {
        self.pending.len() < LIMIT
    }

    /// Write what the destination takes now; false on an error.
    fn push(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut done = 0;
        while done < data.len() {
            let r = match self.kind {
                Kind::Socket => nix::sys::socket::send(
                    self.fd.as_raw_fd(),
                    &data[done..],
                    nix::sys::socket::MsgFlags::MSG_DONTWAIT
                        | nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
                ),
                Kind::NonBlocking | Kind::Blocking => {
                    nix::unistd::write(self.fd.as_fd(), &data[done..])
                }
            };
            match r {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done)
    }

    /// Send `data` (after what waits); false when the destination is gone
    /// or too far behind: drop it.
    pub(super) fn write(&mut self, data: &[u8]) -> bool {
        if !self.pending.is_empty() {
            self.pending.extend_from_slice(data);
            return self.pending.len() <= LIMIT;
        }
        match self.push(data) {
            Ok(n) => {
                self.pending.extend_from_slice(&data[n..]);
                self.pending.len() <= LIMIT
            }
            Err(_) => false,
        }
    }

    /// The destination is writable: send what waits; false when it is gone.
    pub(super) fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let pending = std::mem::take(&mut self.pending);
        match self.push(&pending) {
            Ok(n) => {
                self.pending = pending[n..].to_vec();
                true
            }
            Err(_) => false,
        }
    }
}

/// A sink for the write end `w` of a test's pipe (reopened: `w` itself
/// closes when the function returns).
#[cfg(test)]
fn pipe_sink(w: OwnedFd) -> Sink {
    Sink::foreground(w.as_raw_fd()).expect("a pipe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_that_never_reads_does_not_block_and_is_dropped_past_the_limit() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let mut s = pipe_sink(w);
        // The original write end was blocking: the reopened one is not.
        let chunk = vec![b'x'; 64 * 1024];
        let start = std::time::Instant::now();
        let mut written = 0;
        while s.write(&chunk) {
            written += chunk.len();
            assert!(written <= LIMIT + 128 * 1024, "never dropped");
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "it blocked"
        );
        assert!(written >= LIMIT - 64 * 1024, "dropped at {written}");
        drop(r);
    }

    #[test]
    fn what_waits_goes_out_when_the_reader_reads() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let mut s = pipe_sink(w);
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        assert!(s.write(&data));
        assert!(s.waiting(), "a pipe holds 64 KiB: the rest waits");
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while got.len() < data.len() {
            let n = nix::unistd::read(&r, &mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            assert!(s.flush());
        }
        assert_eq!(got, data);
        assert!(!s.waiting());
    }
}
