//! The per-container supervisor: a small single-threaded process (the skiff
//! binary run as `skiff __supervise ROOT RUNROOT ID`) that outlives whoever
//! started it. It mounts the container's rootfs, writes its OCI config,
//! creates and starts it through the runtime library (the container's init
//! is its child), copies its output into the json-file log and to attached
//! clients, runs `exec` and health-check processes in it, records its exit,
//! applies the restart policy, and with `--rm` removes it.
//!
//! It starts with: fd 0 the container's stdin, fds 1 and 2 an attached
//! client's stdout and stderr (or /dev/null), fd 3 the status pipe, fd 4 the
//! container's start lock (see `startlock`). It forks once at once and the
//! process that was started exits, so the supervisor is adopted by init and
//! never becomes a zombie of a long-lived starter. What it says on the status
//! pipe and serves on its attach socket is the protocol of
//! [`crate::protocol`].
//!
//! Nothing a client does stalls it: its output to clients never blocks (a
//! client too far behind is dropped; the log keeps everything), nor does
//! input to the container, nor a client's request.

mod pump;
mod run;
mod server;
mod setup;
mod sink;

use crate::model::{Container, Status};
use crate::Engine;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use skiff_runtime::log::timing;

/// A supervisor checkpoints the store's WAL once nobody waits on it (its
/// client told of the exit, or going idle) when the WAL holds this many
/// pages (a `run --rm` adds 20-30): the commits of the next starts then
/// seldom reach the bound at which a commit checkpoints (two fsyncs).
const QUIET_CHECKPOINT: i32 = 32;

/// Entry point; returns the process exit status.
pub fn main(args: &[String]) -> i32 {
    timing("supervisor: main");
    let (root, runroot, id, prepared) = match args {
        [root, runroot, id] => (root, runroot, id, false),
        [root, runroot, id, p] if p == crate::protocol::PREPARED => (root, runroot, id, true),
        _ => {
            eprintln!("usage: skiff __supervise ROOT RUNROOT ID [prepared]");
            return 2;
        }
    };
    // Away from the process that was started, which exits now (its starter
    // reaps it): init adopts us. Single-threaded here, so forking is safe.
    // SAFETY: fork in a single-threaded process; the child goes on with
    // this function, the parent only exits.
    match unsafe { libc::fork() } {
        0 => {}
        -1 => return 125,
        // SAFETY: _exit ends the parent without running any destructors
        // (the child owns the shared descriptors now).
        _ => unsafe { libc::_exit(0) },
    }
    // SAFETY: fd 3 was set up by the starter as the status pipe; we own it.
    let mut status = unsafe { std::fs::File::from_raw_fd(3) };
    // SAFETY: setting FD_CLOEXEC on our own fd: no process we start keeps it.
    unsafe { libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC) };
    let me = std::process::id() as i32;
    let _ = writeln!(status, "{}", crate::protocol::hello(me));
    // Fd 4: the container's start lock, held until its last exit is
    // recorded; for a prepared supervisor, the socket it comes on.
    // SAFETY: setting FD_CLOEXEC on fd 4, ours if it is open (fails if not).
    let fd4 = (unsafe { libc::fcntl(4, libc::F_SETFD, libc::FD_CLOEXEC) } >= 0).then(|| {
        // SAFETY: the starter handed fd 4 to us; nothing else here owns it.
        unsafe { OwnedFd::from_raw_fd(4) }
    });
    let mut sup = Supervisor {
        status: Some(status),
        attached: true,
        lock: None,
        lower: None,
    };
    let code = if prepared {
        sup.run_prepared(Path::new(root), Path::new(runroot), id, fd4)
    } else {
        sup.lock = fd4.map(take_lock);
        sup.run(Path::new(root), Path::new(runroot), id)
    };
    code.unwrap_or_else(|(code, msg)| {
        sup.say(&format!("error {code} {msg}"));
        1
    })
}

/// The container's start lock, recorded as ours.
fn take_lock(fd: OwnedFd) -> std::fs::File {
    let mut f = std::fs::File::from(fd);
    let me = std::process::id() as i32;
    let start = skiff_runtime::state::proc_stat(me).map_or(0, |s| s.0);
    let _ = crate::startlock::record(&mut f, me, start);
    f
}

struct Supervisor {
    status: Option<std::fs::File>,
    /// Whether fds 1 and 2 still go to a client.
    attached: bool,
    /// The container's start lock (see `startlock`): held while the
    /// container is started, runs or restarts.
    lock: Option<std::fs::File>,
    /// The image's layer directories, if the starter gave them: for the
    /// first mount of the rootfs.
    lower: Option<Vec<std::path::PathBuf>>,
}

type Fail = (i32, String);

fn fail(code: i32) -> impl Fn(String) -> Fail {
    move |m| (code, m)
}

/// The exit code Docker gives a failed start: 127 when the command is not
/// found, 126 when it may not be run, 125 for anything else.
fn start_failure_code(e: &skiff_runtime::Error) -> i32 {
    match e.exec_cause() {
        Some(skiff_runtime::ExecCause::NotFound) => 127,
        Some(skiff_runtime::ExecCause::PermissionDenied) => 126,
        _ => 125,
    }
}

impl Supervisor {
    /// The container's last exit is recorded: the start lock goes (so an
    /// `rm` or `start` right after the client hears of the exit finds the
    /// container stopped, not being started), then the client hears.
    fn finished(&mut self, code: i32) {
        self.lock = None;
        self.say(&format!("exit {code}"));
    }

    /// A line to the starter, if it still listens.
    fn say(&mut self, line: &str) {
        if let Some(f) = &mut self.status {
            if writeln!(f, "{line}").is_err() {
                self.status = None;
            }
        }
    }

    fn begin(&mut self, root: &Path, runroot: &Path) -> Result<Engine, Fail> {
        timing("supervisor: begin");
        // Own session: a ^C meant for the starter is not for us.
        let _ = nix::unistd::setsid();
        // SAFETY: setting SIGPIPE to ignored has no preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        Engine::open(root, runroot).map_err(|e| (125, e.to_string()))
    }

    fn run(&mut self, root: &Path, runroot: &Path, id: &str) -> Result<i32, Fail> {
        let engine = self.begin(root, runroot)?;
        self.supervise(&engine, id)
    }

    /// A prepared supervisor (see `protocol`): the store opened while the
    /// container is made, then told it and given its lock on `sock`; gone
    /// quietly if the socket ends first.
    fn run_prepared(
        &mut self,
        root: &Path,
        runroot: &Path,
        id: &str,
        sock: Option<OwnedFd>,
    ) -> Result<i32, Fail> {
        let engine = self.begin(root, runroot)?;
        timing("supervisor: waiting");
        let sock = sock.ok_or((125, "no socket to be told the container on".to_string()))?;
        // The message's size first (a seqpacket's whole length, the
        // message left queued): a buffer of just that, as the heap this
        // leaves stays with an idle supervisor.
        let size = loop {
            match nix::sys::socket::recv(
                sock.as_raw_fd(),
                &mut [0u8; 1],
                nix::sys::socket::MsgFlags::MSG_PEEK | nix::sys::socket::MsgFlags::MSG_TRUNC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.map_err(|e| (125, format!("waiting for the container: {e}")))?,
            }
        };
        let mut buf = vec![0u8; size.max(1)];
        let (n, mut fds) = loop {
            match crate::protocol::recv_with_fds(
                sock.as_fd(),
                &mut buf,
                nix::sys::socket::MsgFlags::empty(),
            ) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.map_err(|e| (125, format!("waiting for the container: {e}")))?,
            }
        };
        if n == 0 {
            // The starter gave up (the container was not made).
            self.status = None;
            return Ok(0);
        }
        drop(sock);
        timing("supervisor: told");
        let mut parts = buf[..n].split(|&b| b == 0);
        if parts.next() != Some(id.as_bytes()) {
            return Err((125, "told of another container than its own".to_string()));
        }
        use std::os::unix::ffi::OsStrExt;
        let lower: Vec<std::path::PathBuf> = parts
            .map(|p| std::ffi::OsStr::from_bytes(p).into())
            .collect();
        self.lower = (!lower.is_empty()).then_some(lower);
        let lock = fds
            .pop()
            .ok_or((125, "the container came without its lock".to_string()))?;
        self.lock = Some(take_lock(lock));
        self.supervise(&engine, id)
    }

    /// Run container `id` (its lock held) until it is done.
    fn supervise(&mut self, engine: &Engine, id: &str) -> Result<i32, Fail> {
        let mut c = engine.store.find(id).map_err(|e| (125, e.to_string()))?;
        timing("supervisor: store opened");
        let mut first = true;
        let mut backoff = Duration::from_millis(100);
        loop {
            let started = Instant::now();
            let code = match self.run_once(engine, &mut c, first) {
                Ok(code) => code,
                Err((code, msg)) => {
                    let _ = engine.store.update_state(&c.id, |s| {
                        s.status = if first {
                            Status::Created
                        } else {
                            Status::Exited
                        };
                        s.error = msg.clone();
                        s.exit_code = code;
                        s.pid = 0;
                    });
                    engine.cleanup_runtime(&c);
                    if first {
                        if c.host.auto_remove {
                            let _ = engine.destroy(&c);
                            engine.remove_anonymous_volumes(&c);
                        }
                        return Err((code, msg));
                    }
                    code
                }
            };
            first = false;
            if !self.restarts(engine, &c, code) {
                // (With --rm, run_once removed the container and reported.)
                self.finished(code);
                return Ok(0);
            }
            // Docker's backoff: doubling from 100 ms, reset after a run of 10 s.
            if started.elapsed() >= Duration::from_secs(10) {
                backoff = Duration::from_millis(100);
            }
            let _ = engine.store.update_state(&c.id, |s| {
                s.status = Status::Restarting;
                s.restart_count += 1;
            });
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(60));
            // Stopped or removed while we waited?
            match engine.store.get(&c.id) {
                Ok(Some(cur)) if !cur.state.stopped_by_user => c = cur,
                _ => {
                    let _ = engine
                        .store
                        .update_state(&c.id, |s| s.status = Status::Exited);
                    self.finished(code);
                    return Ok(0);
                }
            }
        }
    }

    /// Whether the restart policy brings `c` back after an exit with `code`.
    fn restarts(&self, engine: &Engine, c: &Container, code: i32) -> bool {
        let state = engine
            .store
            .get(&c.id)
            .ok()
            .flatten()
            .map(|c| c.state)
            .unwrap_or_default();
        let p = &c.host.restart_policy;
        !state.stopped_by_user
            && match p.name.as_str() {
                "always" | "unless-stopped" => true,
                "on-failure" => {
                    code != 0
                        && (p.maximum_retry_count == 0
                            || state.restart_count < p.maximum_retry_count)
                }
                _ => false,
            }
    }
}
