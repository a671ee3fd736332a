//! One place that learns of changes and wakes every waiter, instead of a
//! polling loop per waiter: `wait`, `stop`, `logs -f` and `events` follow
//! block on it.
//!
//! A watcher thread (started by the first waiter of an engine) sleeps in
//! `poll` on an inotify descriptor and the pidfds of watched processes:
//! a change committed to the store (any recorded state change or event, by
//! any process: supervisors record exits and health there; the store
//! writes `containers.db-notify` after each commit), a change in a
//! watched directory (a container's log), or the end of a watched process
//! (a supervisor that dies without a word) bumps one generation counter and
//! wakes every waiter, which then checks its own condition. Nothing wakes
//! while nothing happens, so idle waiters cost nothing.
//!
//! A waiter whose client is gone is dropped: it passes a [`Cancel`], which
//! the front end sets (and wakes) when its client goes.

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use skiff_runtime::pidfd::Pidfd;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// Set when a waiter's client is gone; the waiter then returns.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    inotify: Inotify,
    /// Written to make the watcher look at its set again (or stop).
    wake: nix::sys::eventfd::EventFd,
    state: Mutex<State>,
    cond: Condvar,
}

#[derive(Default)]
struct State {
    /// Bumped on every change seen.
    generation: u64,
    /// The root directory's watch (the store's files).
    root: Option<WatchDescriptor>,
    /// Watched directories by watch descriptor: path and users.
    dirs: HashMap<WatchDescriptor, (PathBuf, usize)>,
    /// Watched processes: their pidfd and users.
    pids: HashMap<i32, (Arc<Pidfd>, usize)>,
    thread: bool,
    stopped: bool,
}

/// Keeps a directory watched while held.
pub struct DirWatch {
    inner: Arc<Inner>,
    wd: WatchDescriptor,
}

/// Keeps a process watched while held.
pub struct PidWatch {
    inner: Arc<Inner>,
    pid: i32,
}

/// The store's files in its root directory: `containers.db-notify`, which
/// the store writes after each commit, and the database's own (a store
/// written by an older skiff only changes those).
fn is_store_file(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with("containers.db"))
}

impl Notifier {
    /// A notifier for the engine whose root directory is `root`.
    pub fn new(root: &Path) -> std::io::Result<Notifier> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)?;
        let wake = nix::sys::eventfd::EventFd::from_flags(
            nix::sys::eventfd::EfdFlags::EFD_CLOEXEC | nix::sys::eventfd::EfdFlags::EFD_NONBLOCK,
        )?;
        let wd = inotify.add_watch(
            root,
            AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
        )?;
        let state = State {
            root: Some(wd),
            ..Default::default()
        };
        Ok(Notifier {
            inner: Arc::new(Inner {
                inotify,
                wake,
                state: Mutex::new(state),
                cond: Condvar::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock()
    }

    /// The generation now: pass it to [`wait`](Self::wait) after reading
    /// what it guards, so no change between the read and the wait is missed.
    pub fn generation(&self) -> u64 {
        self.ensure_thread();
        self.lock().generation
    }

    /// Block until something changed after generation `seen`, `deadline`
    /// passed, or `cancel` was set; the generation then.
    pub fn wait(&self, seen: u64, deadline: Option<Instant>, cancel: &Cancel) -> u64 {
        self.ensure_thread();
        let mut st = self.lock();
        while st.generation == seen && !cancel.is_cancelled() && !st.stopped {
            st = match deadline {
                None => self.inner.cond.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.inner
                        .cond
                        .wait_timeout(st, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        st.generation
    }

    /// Set `cancel` and wake every waiter, so the one holding it returns.
    pub fn cancel(&self, cancel: &Cancel) {
        cancel.0.store(true, Ordering::Relaxed);
        let _st = self.lock();
        self.inner.cond.notify_all();
    }

    /// Watch directory `dir` (changes of its files) while the result lives.
    pub fn watch_dir(&self, dir: &Path) -> std::io::Result<DirWatch> {
        let wd = self.inner.inotify.add_watch(
            dir,
            AddWatchFlags::IN_MODIFY
                | AddWatchFlags::IN_CREATE
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_DELETE_SELF,
        )?;
        let mut st = self.lock();
        let e = st.dirs.entry(wd).or_insert_with(|| (dir.to_path_buf(), 0));
        e.1 += 1;
        drop(st);
        self.ensure_thread();
        Ok(DirWatch {
            inner: self.inner.clone(),
            wd,
        })
    }

    /// Watch process `pid` (its end) while the result lives; None when it
    /// is already gone.
    pub fn watch_pid(&self, pid: i32) -> Option<PidWatch> {
        if pid <= 0 {
            return None;
        }
        {
            let mut st = self.lock();
            if let Some(e) = st.pids.get_mut(&pid) {
                e.1 += 1;
            } else {
                let fd = Pidfd::open(pid).ok()?;
                st.pids.insert(pid, (Arc::new(fd), 1));
            }
        }
        self.ensure_thread();
        let _ = self.inner.wake.write(1);
        Some(PidWatch {
            inner: self.inner.clone(),
            pid,
        })
    }

    fn ensure_thread(&self) {
        let mut st = self.lock();
        if st.thread {
            return;
        }
        st.thread = true;
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new()
            .name("skiff-notify".into())
            .spawn(move || inner.watch());
        if spawned.is_err() {
            st.thread = false;
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.lock().stopped = true;
        let _ = self.inner.wake.write(1);
        self.inner.cond.notify_all();
    }
}

impl Drop for DirWatch {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        if let Some(e) = st.dirs.get_mut(&self.wd) {
            e.1 -= 1;
            if e.1 == 0 {
                st.dirs.remove(&self.wd);
                let _ = self.inner.inotify.rm_watch(self.wd);
            }
        }
    }
}

impl Drop for PidWatch {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        if let Some(e) = st.pids.get_mut(&self.pid) {
            e.1 -= 1;
            if e.1 == 0 {
                st.pids.remove(&self.pid);
            }
        }
        drop(st);
        let _ = self.inner.wake.write(1);
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        let mut st = self.lock();
        st.generation += 1;
        self.cond.notify_all();
    }

    /// The watcher thread: sleeps until inotify, a watched process or the
    /// wake descriptor has something, then wakes the waiters.
    fn watch(&self) {
        loop {
            let pids: Vec<(i32, Arc<Pidfd>)> = {
                let st = self.lock();
                if st.stopped {
                    return;
                }
                st.pids
                    .iter()
                    .map(|(p, (fd, _))| (*p, fd.clone()))
                    .collect()
            };
            let mut fds = vec![
                nix::poll::PollFd::new(self.inotify.as_fd(), nix::poll::PollFlags::POLLIN),
                nix::poll::PollFd::new(self.wake.as_fd(), nix::poll::PollFlags::POLLIN),
            ];
            fds.extend(
                pids.iter().map(|(_, fd)| {
                    nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN)
                }),
            );
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    continue;
                }
            }
            let ready = |i: usize| fds[i].revents().is_some_and(|r| !r.is_empty());
            let mut changed = false;
            if ready(0) {
                changed |= self.read_inotify();
            }
            if ready(1) {
                let _ = self.wake.read();
            }
            let exited: Vec<i32> = (0..pids.len())
                .filter(|i| ready(i + 2))
                .map(|i| pids[i].0)
                .collect();
            if !exited.is_empty() {
                let mut st = self.lock();
                for p in &exited {
                    st.pids.remove(p);
                }
                changed = true;
            }
            if changed {
                self.bump();
            }
        }
    }

    /// Whether an event concerns the store or a watched directory.
    fn read_inotify(&self) -> bool {
        let mut any = false;
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
            let st = self.lock();
            for ev in events {
                let wd = ev.wd;
                if Some(wd) == st.root {
                    any |= ev.name.as_deref().is_some_and(is_store_file);
                } else {
                    any |= st.dirs.contains_key(&wd)
                        || ev
                            .mask
                            .contains(nix::sys::inotify::AddWatchFlags::IN_Q_OVERFLOW);
                }
            }
        }
        any
    }
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("fd", &self.inner.inotify.as_fd().as_raw_fd())
            .finish()
    }
}
