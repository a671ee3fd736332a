//! Learning that a client hung up while its answer waits for something
//! (`wait`, `logs -f`, `events`): the engine's waiter is then cancelled
//! (and woken) instead of waiting on for nobody.

use skiff_engine::notify::Cancel;
use skiff_engine::Engine;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Stops the watch when dropped (at once: its thread waits on an eventfd
/// too).
pub struct Watch {
    stop: Arc<AtomicBool>,
    wake: Arc<nix::sys::eventfd::EventFd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.wake.write(1);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A cancel set when the peer of the socket `fd` hangs up, and the watch
/// that sets it (until dropped).
pub fn watch(e: &Arc<Engine>, fd: Option<RawFd>) -> (Cancel, Option<Watch>) {
    let cancel = Cancel::new();
    let Some(fd) = fd else {
        return (cancel, None);
    };
    let Ok(wake) = nix::sys::eventfd::EventFd::from_flags(
        nix::sys::eventfd::EfdFlags::EFD_CLOEXEC | nix::sys::eventfd::EfdFlags::EFD_NONBLOCK,
    ) else {
        return (cancel, None);
    };
    let wake = Arc::new(wake);
    let stop = Arc::new(AtomicBool::new(false));
    let (e, c, s, w) = (e.clone(), cancel.clone(), stop.clone(), wake.clone());
    let thread = std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        while !s.load(Ordering::Relaxed) {
            let mut p = [
                libc::pollfd {
                    fd,
                    events: libc::POLLRDHUP,
                    revents: 0,
                },
                libc::pollfd {
                    fd: w.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two pollfds: the connection's socket, which outlives
            // the watch (the answer holding the watch is written on it), and
            // the watch's eventfd, held by `w`.
            let n = unsafe { libc::poll(p.as_mut_ptr(), 2, 1000) };
            if p[1].revents != 0 {
                return;
            }
            let hung = match n {
                0 => false,
                n if n > 0 => p[0].revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0,
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
            wake,
            thread: Some(thread),
        }),
    )
}
