//! Learning that a client hung up while its answer waits for something
//! (`wait`, `logs -f`, `events`): the engine's waiter is then cancelled
//! (and woken) instead of waiting on for nobody.

use skiff_engine::notify::Cancel;
use skiff_engine::Engine;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Stops the watch when dropped.
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A cancel set when the peer of the socket `fd` hangs up, and the watch
/// that sets it (looking every 100 ms until dropped).
pub fn watch(e: &Arc<Engine>, fd: Option<RawFd>) -> (Cancel, Option<Watch>) {
    let cancel = Cancel::new();
    let Some(fd) = fd else {
        return (cancel, None);
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (e, c, s) = (e.clone(), cancel.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLRDHUP,
                revents: 0,
            };
            // SAFETY: one pollfd of the connection's socket, which outlives
            // the watch (the answer holding the watch is written on it).
            let n = unsafe { libc::poll(&mut p, 1, 100) };
            let hung = match n {
                0 => false,
                n if n > 0 => p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0,
                _ => std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted,
            };
            if hung {
                if let Ok(n) = e.notifier() {
                    n.cancel(&c);
                }
                return;
            }
            if n > 0 {
                // Input nobody reads now: look again later, not at once.
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    });
    (
        cancel,
        Some(Watch {
            stop,
            thread: Some(thread),
        }),
    )
}
