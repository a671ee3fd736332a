//! Waiting for a foreground container while forwarding the signals the runtime
//! receives (as `runc run` and `runc exec` do), and signal names.
//!
//! [`wait_forwarding`] is for the runc-compatible command line only: it takes
//! over signal handling for the whole process. An engine waits for its
//! containers by other means (`waitpid`, [`crate::pidfd::Pidfd`]).

use std::sync::atomic::{AtomicI32, Ordering};

static TARGET: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = TARGET.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

const FORWARDED: [libc::c_int; 8] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
];

/// Wait for our child `pid`, forwarding signals to it. Returns its exit code
/// (128 + signal when killed by a signal).
///
/// Meant for the runc CLI (`run`, `exec` in the foreground) only: it installs
/// process-wide handlers for SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
/// SIGUSR2, SIGWINCH and SIGCONT that forward to `pid`, and leaves them
/// installed when it returns (a later signal goes nowhere). It also blocks
/// the calling thread in `waitpid`. A process with other work, threads or
/// signal handling of its own (an engine, a daemon) must not call it: wait
/// with `waitpid` or [`crate::pidfd::Pidfd::wait`] and signal with
/// [`crate::pidfd::Pidfd::send_signal`] instead.
pub fn wait_forwarding(pid: i32) -> i32 {
    TARGET.store(pid, Ordering::Relaxed);
    for s in FORWARDED {
        // SAFETY: installing a handler that only calls kill().
        unsafe { libc::signal(s, forward as *const () as libc::sighandler_t) };
    }
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 255;
        }
    }
    TARGET.store(0, Ordering::Relaxed);
    exit_code(status)
}

/// Shell-style exit code of a wait status.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

const NAMES: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
];

/// Parse "9", "KILL", "SIGKILL" (any case), "RTMIN+3".
pub fn parse(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(&(_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Some(n);
    }
    let rtmin = libc::SIGRTMIN();
    let rtmax = libc::SIGRTMAX();
    if name == "RTMIN" {
        return Some(rtmin);
    }
    if name == "RTMAX" {
        return Some(rtmax);
    }
    if let Some(off) = name
        .strip_prefix("RTMIN+")
        .and_then(|o| o.parse::<i32>().ok())
    {
        return (rtmin + off <= rtmax).then_some(rtmin + off);
    }
    if let Some(off) = name
        .strip_prefix("RTMAX-")
        .and_then(|o| o.parse::<i32>().ok())
    {
        return (rtmax - off >= rtmin).then_some(rtmax - off);
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn signal_names() {
        assert_eq!(super::parse("9"), Some(9));
        assert_eq!(super::parse("KILL"), Some(9));
        assert_eq!(super::parse("sigterm"), Some(15));
        assert_eq!(super::parse("SIGRTMIN+1"), Some(libc::SIGRTMIN() + 1));
        assert_eq!(super::parse("BOGUS"), None);
        assert_eq!(super::parse("0"), None);
    }
}
