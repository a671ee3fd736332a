//! Explicit stdio for the processes the runtime starts: the three fds a
//! caller passes in `CreateOpts::stdio` or `ExecOpts::stdio` become fds 0, 1
//! and 2 of the container process, while the caller's own 0, 1 and 2 stay
//! as they are.
//!
//! The runtime checks the fds before it forks ([`check`]); the child
//! installs them right after the fork ([`install`]) with async-signal-safe
//! calls only (`fcntl`, `dup2`, `close`), and reports a failure without
//! allocating ([`fail`]).

use std::os::fd::RawFd;

use crate::sync::{Channel, Tag};
use crate::Error;

/// Check, before forking, that each fd is open.
pub(crate) fn check(fds: &[RawFd; 3]) -> Result<(), Error> {
    for &fd in fds {
        // SAFETY: F_GETFD only reads the flags of an fd number; an fd that is
        // not open gives EBADF.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(Error::Stdio {
                fd,
                err: nix::errno::Errno::last(),
            });
        }
    }
    Ok(())
}

/// Make `fds` the calling process's fds 0, 1 and 2 (cleared of
/// close-on-exec). Each is first copied above 2, so a source that is itself
/// 0, 1 or 2 is not overwritten before it is used. On failure returns the fd
/// it failed on and the errno. Async-signal-safe.
pub(crate) fn install(fds: &[RawFd; 3]) -> Result<(), (RawFd, i32)> {
    let mut copies: [RawFd; 3] = [-1; 3];
    let mut result = Ok(());
    for (copy, &fd) in copies.iter_mut().zip(fds) {
        // SAFETY: F_DUPFD_CLOEXEC makes a new fd (>= 3) for an fd number, or
        // fails with EBADF; nothing is overwritten.
        *copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if *copy < 0 {
            result = Err((fd, nix::errno::Errno::last_raw()));
            break;
        }
    }
    if result.is_ok() {
        for (target, (&copy, &fd)) in copies.iter().zip(fds).enumerate() {
            // SAFETY: dup2 onto 0, 1 or 2 from an fd we own; dup2 clears
            // close-on-exec on the new fd.
            if unsafe { libc::dup2(copy, target as RawFd) } < 0 {
                result = Err((fd, nix::errno::Errno::last_raw()));
                break;
            }
        }
    }
    for copy in copies.into_iter().filter(|&c| c >= 0) {
        // SAFETY: closing the copies made above, which nothing else uses.
        unsafe { libc::close(copy) };
    }
    result
}

/// Report a failed [`install`] to the runtime as "setting up stdio from fd
/// N: <errno text>" and exit, composing the message on the stack.
pub(crate) fn fail(chan: &Channel, fd: RawFd, errno: i32) -> ! {
    let mut buf = [0u8; 160];
    let mut len = 0;
    let mut digits = [0u8; 12];
    let desc = nix::errno::Errno::from_raw(errno).desc();
    for part in [
        b"setting up stdio from fd ".as_slice(),
        decimal(fd, &mut digits),
        b": ",
        desc.as_bytes(),
    ] {
        let n = part.len().min(buf.len() - len);
        buf[len..len + n].copy_from_slice(&part[..n]);
        len += n;
    }
    let _ = chan.send(Tag::Error, &buf[..len]);
    // SAFETY: _exit is async-signal-safe and skips destructors.
    unsafe { libc::_exit(1) }
}

/// `n` in decimal, written into the end of `buf`.
fn decimal(n: RawFd, buf: &mut [u8; 12]) -> &[u8] {
    let mut i = buf.len();
    let negative = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimal_digits() {
        let mut buf = [0u8; 12];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(1234, &mut buf), b"1234");
        assert_eq!(decimal(-7, &mut buf), b"-7");
        assert_eq!(decimal(i32::MIN, &mut buf), i32::MIN.to_string().as_bytes());
    }
}
