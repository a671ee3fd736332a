//! Process file descriptors ([`Pidfd`]): a handle on one process that stays
//! bound to it after it exits, so waiting on it and signalling it cannot hit
//! another process that was given the same pid later.
//!
//! A pidfd does not reap: a child still has to be waited for with `waitpid`
//! (or `waitid(P_PIDFD)`) once [`Pidfd::wait`] says it has exited.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// An open pidfd (close-on-exec), closed on drop.
#[derive(Debug)]
pub struct Pidfd {
    fd: OwnedFd,
}

impl Pidfd {
    /// `pidfd_open(pid, 0)`: a handle on the process `pid` as it is now.
    /// Fails with ESRCH when there is no such process (a zombie still has a
    /// pid and can be opened).
    pub fn open(pid: i32) -> io::Result<Pidfd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall succeeded: rc is a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(rc as RawFd) };
        Ok(Pidfd { fd })
    }

    /// Wait until the process has exited (the pidfd polls readable) or
    /// `timeout` has passed; `None` waits for ever. Returns whether it has
    /// exited. A signal interrupting the wait does not end it early.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let ms: libc::c_int = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    // Round up, so a wait never returns before the deadline.
                    let ms = left.as_nanos().div_ceil(1_000_000);
                    ms.min(libc::c_int::MAX as u128) as libc::c_int
                }
            };
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd on the stack.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            if rc > 0 {
                return Ok(true);
            }
            // A timeout longer than poll can take in one go goes round again.
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
        }
    }

    /// `pidfd_send_signal`: send `sig` (a signal number; 0 only checks that
    /// the process can be signalled) to this process. Fails with ESRCH once
    /// it has exited, never reaching a process that reuses its pid.
    pub fn send_signal(&self, sig: i32) -> io::Result<()> {
        // SAFETY: pidfd_send_signal with our open pidfd, a signal number, no
        // siginfo and no flags.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl AsFd for Pidfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Pidfd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<Pidfd> for OwnedFd {
    fn from(p: Pidfd) -> OwnedFd {
        p.fd
    }
}

#[cfg(test)]
mod tests {
    use super::Pidfd;
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    use std::os::fd::AsFd;
    use std::os::unix::process::ExitStatusExt;
    use std::os::unix::thread::JoinHandleExt;
    use std::process::{Child, Command};
    use std::time::{Duration, Instant};

    /// A child process killed and reaped when the test ends, however it ends.
    struct Kid(Child);

    impl Drop for Kid {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn spawn(argv: &[&str]) -> Kid {
        Kid(Command::new(argv[0]).args(&argv[1..]).spawn().unwrap())
    }

    #[test]
    fn wait_times_out_then_sees_the_signalled_exit() {
        let mut child = spawn(&["sleep", "100"]);
        let p = Pidfd::open(child.0.id() as i32).unwrap();
        let t = Instant::now();
        assert!(!p.wait(Some(Duration::from_millis(50))).unwrap());
        assert!(t.elapsed() >= Duration::from_millis(50));
        assert!(!p.wait(Some(Duration::ZERO)).unwrap());
        p.send_signal(0).unwrap();
        p.send_signal(libc::SIGTERM).unwrap();
        assert!(p.wait(Some(Duration::from_secs(10))).unwrap());
        // Exited but not reaped: still exited on a second look.
        assert!(p.wait(Some(Duration::ZERO)).unwrap());
        assert_eq!(child.0.wait().unwrap().signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn wait_without_timeout_returns_at_exit() {
        let mut child = spawn(&["sh", "-c", "sleep 0.1; exit 7"]);
        let p = Pidfd::open(child.0.id() as i32).unwrap();
        assert!(p.wait(None).unwrap());
        assert_eq!(child.0.wait().unwrap().code(), Some(7));
    }

    #[test]
    fn signal_after_reap_is_esrch_and_open_of_no_process_fails() {
        let mut child = spawn(&["true"]);
        let pid = child.0.id() as i32;
        let p = Pidfd::open(pid).unwrap();
        child.0.wait().unwrap();
        let err = p.send_signal(libc::SIGKILL).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "{err}");
        let err = Pidfd::open(pid).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "{err}");
    }

    extern "C" fn ignore(_: libc::c_int) {}

    #[test]
    fn wait_goes_on_after_a_signal() {
        // A handler without SA_RESTART: poll in the waiting thread fails
        // with EINTR each time the signal arrives.
        let action = SigAction::new(
            SigHandler::Handler(ignore),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: the handler does nothing, so it is async-signal-safe.
        unsafe { sigaction(Signal::SIGUSR1, &action) }.unwrap();
        let mut child = spawn(&["sleep", "0.3"]);
        let p = Pidfd::open(child.0.id() as i32).unwrap();
        let waiter = std::thread::spawn(move || p.wait(Some(Duration::from_secs(10))));
        let t = Instant::now();
        while !waiter.is_finished() && t.elapsed() < Duration::from_secs(10) {
            // SAFETY: the thread is not joined yet, so its id is still valid.
            unsafe { libc::pthread_kill(waiter.as_pthread_t(), libc::SIGUSR1) };
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(waiter.join().unwrap().unwrap());
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "{:?}",
            t.elapsed()
        );
        child.0.wait().unwrap();
    }

    #[test]
    fn fd_is_close_on_exec() {
        let child = spawn(&["sleep", "100"]);
        let p = Pidfd::open(child.0.id() as i32).unwrap();
        let flags = nix::fcntl::fcntl(p.as_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }
}
