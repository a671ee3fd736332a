//! Processes the engine watches by pid: a container's init, a supervisor.
//! A pid is paired with its start time (clock ticks since boot, from
//! /proc/PID/stat), so a reused pid is never mistaken for the process.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Is process `pid` (started at `start`, if known: 0 is any) alive?
pub fn alive(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match start {
        0 => skiff_runtime::state::proc_stat(pid).is_some_and(|(_, st)| st != b'Z' && st != b'X'),
        s => skiff_runtime::state::process_alive(pid, s),
    }
}

/// Wait up to `timeout` for `pid` to end; true if it did.
pub fn wait_gone(pid: i32, start: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd >= 0 {
        // SAFETY: fd was just returned by pidfd_open and is ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        if !alive(pid, start) {
            return true;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut p = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut p, 1, ms) };
            if r > 0 || !alive(pid, start) {
                return true;
            }
            if left.is_zero() {
                return false;
            }
        }
    }
    while Instant::now() < deadline {
        if !alive(pid, start) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    !alive(pid, start)
}
