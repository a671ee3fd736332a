//! The client's end of an attached container: its standard fds, the
//! terminal in raw mode, `--sig-proxy`, and the checks of `-it` and
//! `--detach-keys` made before anything is started.

use super::{Failure, Result};
use std::os::fd::OwnedFd;

/// `--detach-keys`, checked before anything is made.
pub(super) fn check_detach_keys(keys: &Option<String>, code: i32, prefix: &str) -> Result {
    match keys {
        Some(k) => skiff_engine::tty::parse_detach_keys(k)
            .map(|_| ())
            .map_err(|e| Failure {
                code,
                msg: format!("{prefix}Error response from daemon: {e}"),
            }),
        None => Ok(()),
    }
}

pub(super) fn dup(fd: i32) -> Result<OwnedFd> {
    use std::os::fd::{AsFd, BorrowedFd};
    // SAFETY: fds 0-2 are open for the life of the process.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    b.as_fd().try_clone_to_owned().map_err(Failure::from)
}

static FORWARD_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let pid = FORWARD_PID.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Docker's --sig-proxy: signals to the CLI go to the container.
pub(super) fn proxy_signals(pid: i32) {
    FORWARD_PID.store(pid, std::sync::atomic::Ordering::Relaxed);
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        // SAFETY: installing a handler that only calls kill.
        unsafe { libc::signal(sig, forward_signal as *const () as libc::sighandler_t) };
    }
}

/// Docker refuses `-it` when stdin is not a terminal.
pub(super) fn require_tty(tty: bool, interactive: bool) -> Result {
    use std::io::IsTerminal;
    if tty && interactive && !std::io::stdin().is_terminal() {
        return Err(Failure {
            code: 1,
            msg: "the input device is not a TTY".into(),
        });
    }
    Ok(())
}

/// Changes of our terminal's size (SIGWINCH) as an fd to poll, for the
/// proxies of `exec -t` and `attach`: the signal is blocked in this
/// (single-threaded) CLI and read from a signalfd. None when stdout is not
/// a terminal.
pub(super) struct WindowChanges {
    fd: nix::sys::signalfd::SignalFd,
}

impl WindowChanges {
    pub(super) fn watch() -> Option<WindowChanges> {
        use nix::sys::signal::{SigSet, Signal};
        use nix::sys::signalfd::{SfdFlags, SignalFd};
        use std::io::IsTerminal;
        if !std::io::stdout().is_terminal() {
            return None;
        }
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGWINCH);
        mask.thread_block().ok()?;
        let fd =
            SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ok()?;
        Some(WindowChanges { fd })
    }

    pub(super) fn raw(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.fd.as_raw_fd()
    }

    /// The terminal's new size when it changed since the last call.
    pub(super) fn changed(&mut self) -> Option<(u16, u16)> {
        let mut any = false;
        while let Ok(Some(_)) = self.fd.read_signal() {
            any = true;
        }
        any.then(|| skiff_engine::tty::terminal_size(1)).flatten()
    }
}

/// The terminal on stdin in raw mode, restored when dropped.
pub(super) struct RawTerminal {
    saved: nix::sys::termios::Termios,
}

impl RawTerminal {
    pub(super) fn enter() -> Option<RawTerminal> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(&stdin, SetArg::TCSANOW, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = nix::sys::termios::tcsetattr(
            std::io::stdin(),
            nix::sys::termios::SetArg::TCSANOW,
            &self.saved,
        );
    }
}
