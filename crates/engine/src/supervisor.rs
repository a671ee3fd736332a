//! The per-container supervisor: a small single-threaded process (the skiff
//! binary run as `skiff __supervise ROOT RUNROOT ID`) that outlives the CLI.
//! It mounts the container's rootfs, writes its OCI config, creates and
//! starts it through the runtime library (the container's init is its
//! child), copies its output into the json-file log (and to an attached
//! client), records its exit, applies the restart policy, and with `--rm`
//! removes it.
//!
//! It starts with: fd 0 the container's stdin, fds 1 and 2 an attached
//! client's stdout and stderr (or /dev/null), fd 3 the status pipe to the
//! CLI, on which it writes one line each:
//!   `started PID`          the container runs
//!   `error CODE MESSAGE`   it could not start (CODE: Docker's exit code)
//!   `exit CODE`            it exited (and, with `--rm`, is removed)

use crate::model::{Container, Status};
use crate::mount::{mount_rootfs, unmount};
use crate::proc::alive;
use crate::time::now;
use crate::Engine;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use skiff_runtime::log::timing;

/// Entry point; returns the process exit status.
pub fn main(args: &[String]) -> i32 {
    timing("supervisor: main");
    let [root, runroot, id] = args else {
        eprintln!("usage: skiff __supervise ROOT RUNROOT ID");
        return 2;
    };
    // SAFETY: fd 3 was set up by the CLI as the status pipe; we own it now.
    let status = unsafe { std::fs::File::from_raw_fd(3) };
    // Fd 4: the container's start lock, held until its last exit is recorded.
    // SAFETY: F_GETFD only reads fd 4's flags.
    let lock = (unsafe { libc::fcntl(4, libc::F_GETFD) } >= 0).then(|| {
        // SAFETY: the CLI handed fd 4 to us; nothing else in this process owns it.
        let mut f = unsafe { std::fs::File::from_raw_fd(4) };
        // SAFETY: setting FD_CLOEXEC on our own fd.
        unsafe { libc::fcntl(4, libc::F_SETFD, libc::FD_CLOEXEC) };
        let me = std::process::id() as i32;
        let start = skiff_runtime::state::proc_stat(me).map_or(0, |s| s.0);
        let _ = crate::startlock::record(&mut f, me, start);
        f
    });
    let mut sup = Supervisor {
        status: Some(status),
        attached: true,
        lock,
    };
    let code = sup.run(Path::new(root), Path::new(runroot), id);
    code.unwrap_or_else(|(code, msg)| {
        sup.say(&format!("error {code} {msg}"));
        1
    })
}

struct Supervisor {
    status: Option<std::fs::File>,
    /// Whether fds 1 and 2 still go to a client.
    attached: bool,
    /// The container's start lock (see `startlock`): held while the
    /// container is started, runs or restarts.
    lock: Option<std::fs::File>,
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

    /// A line to the CLI, if it still listens.
    fn say(&mut self, line: &str) {
        if let Some(f) = &mut self.status {
            if writeln!(f, "{line}").is_err() {
                self.status = None;
            }
        }
    }

    fn run(&mut self, root: &Path, runroot: &Path, id: &str) -> Result<i32, Fail> {
        timing("supervisor: begin");
        // Own session: a ^C meant for the CLI is not for us.
        let _ = nix::unistd::setsid();
        // SAFETY: setting SIGPIPE to ignored has no preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let engine = Engine::open(root, runroot).map_err(|e| (125, e.to_string()))?;
        let mut c = engine.store.find(id).map_err(|e| (125, e.to_string()))?;
        timing("supervisor: store opened");
        let mut first = true;
        let mut backoff = Duration::from_millis(100);
        loop {
            let started = Instant::now();
            let code = match self.run_once(&engine, &mut c, first) {
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
            let state = engine
                .store
                .get(&c.id)
                .ok()
                .flatten()
                .map(|c| c.state)
                .unwrap_or_default();
            let policy = c.host.restart_policy.name.as_str();
            let again = !state.stopped_by_user
                && match policy {
                    "always" | "unless-stopped" => true,
                    "on-failure" => {
                        code != 0
                            && (c.host.restart_policy.maximum_retry_count == 0
                                || state.restart_count < c.host.restart_policy.maximum_retry_count)
                    }
                    _ => false,
                };
            if !again {
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

    /// One run of the container; returns its exit code.
    fn run_once(&mut self, engine: &Engine, c: &mut Container, first: bool) -> Result<i32, Fail> {
        let paths = &engine.paths;
        let dir = paths.container_dir(&c.id);
        let rootfs = dir.join("rootfs");
        unmount(&rootfs);
        let _ = skiff_runtime::container::delete(&paths.runtime_root(), &c.id, true);
        mount_rootfs(paths, c, &dir).map_err(fail(125))?;
        timing("supervisor: rootfs mounted");
        // `--network container:X` joins X's namespace (X must run).
        let netns_path = match c.host.network_mode.strip_prefix("container:") {
            Some(other) => {
                let o = engine.find(other).map_err(|e| (125, e.to_string()))?;
                if !matches!(o.state.status, Status::Running | Status::Paused) {
                    return Err((
                        125,
                        format!("cannot join network of a non running container: {other}"),
                    ));
                }
                Some(format!("/proc/{}/ns/net", o.state.pid))
            }
            None => None,
        };
        let mut wiring = engine.prepare_wiring(c).map_err(|e| (125, e.to_string()))?;
        let mut release = ReleaseOnDrop {
            engine,
            id: c.id.clone(),
            armed: wiring.holds,
        };
        timing("supervisor: addresses and ports");
        let etc = write_etc_files(c, &dir, &wiring).map_err(fail(125))?;
        make_workdir(c, &rootfs).map_err(fail(125))?;
        make_mtab(&rootfs);
        let mounts = engine
            .oci_mounts(c, &rootfs)
            .map_err(|e| (125, e.to_string()))?;
        let init_exe = engine.supervisor_exe.clone();
        let input = crate::spec::SpecInput {
            rootfs: &rootfs,
            etc_files: &etc,
            mounts,
            init: c.host.init.then_some(init_exe.as_path()),
            console_size: if first {
                crate::tty::terminal_size(1)
            } else {
                None
            },
            netns_path,
        };
        let spec = crate::spec::build(c, &input).map_err(|e| (125, e.to_string()))?;
        let cfg = dir.join("config.json");
        std::fs::write(&cfg, serde_json::to_vec(&spec).expect("spec serializes"))
            .map_err(|e| (125, format!("writing {}: {e}", cfg.display())))?;

        timing("supervisor: config written");
        // With -t the container's pty is made in its own /dev/pts and its
        // master comes back over a console socket; else stdout and stderr
        // are pipes we read.
        let console = if c.config.tty {
            let path = paths
                .runroot
                .join("console")
                .join(format!("{}.sock", &c.id[..12]));
            Some(crate::tty::ConsoleSocket::listen(&path).map_err(fail(125))?)
        } else {
            None
        };
        let (out_r, out_w) = pipe().map_err(fail(125))?;
        let (err_r, err_w) = pipe().map_err(fail(125))?;
        // Keep the client's fds aside; put the pipes on 1 and 2 for the
        // runtime, which hands its stdio to the container.
        let client_in = if c.config.tty && c.config.open_stdin && first {
            Some(dup_cloexec(0).map_err(fail(125))?)
        } else {
            None
        };
        let client_out = dup_cloexec(1).map_err(fail(125))?;
        let client_err = dup_cloexec(2).map_err(fail(125))?;
        dup2(out_w.as_raw_fd(), 1).map_err(fail(125))?;
        dup2(err_w.as_raw_fd(), 2).map_err(fail(125))?;
        // `-i` without `-t` and without a client's stdin (`run -d -i`, a
        // restart): the container reads a pipe we hold open, which attach
        // clients write to, as Docker keeps such a stdin open.
        let client_stdin = first && !is_dev_null(0);
        let stdin_w = if c.config.open_stdin && !c.config.tty && !client_stdin {
            let (r, w) = pipe().map_err(fail(125))?;
            dup2(r.as_raw_fd(), 0).map_err(fail(125))?;
            Some(w)
        } else {
            if !first {
                let null = open_null().map_err(fail(125))?;
                dup2(null.as_raw_fd(), 0).map_err(fail(125))?;
            }
            None
        };
        drop(out_w);
        drop(err_w);
        let opts = skiff_runtime::container::CreateOpts {
            id: c.id.clone(),
            bundle: dir.clone(),
            root: paths.runtime_root(),
            seccomp_cache: Some(paths.runroot.join("seccomp")),
            console_socket: console.as_ref().map(|s| s.path.clone()),
            ..Default::default()
        };
        let created = skiff_runtime::container::create_child(&opts)
            .map_err(|e| (start_failure_code(&e), e.to_string()))
            .and_then(|pid| {
                // Made, not started: it joins its networks now.
                timing("supervisor: created");
                match engine.wire(c, &mut wiring, pid) {
                    Ok(()) => Ok(pid),
                    Err(e) => {
                        // SAFETY: killing the init we just made.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        let _ = reap_blocking(pid);
                        Err((125, e.to_string()))
                    }
                }
            })
            .and_then(|pid| {
                timing("supervisor: network wired");
                skiff_runtime::container::start(&opts.root, &c.id)
                    .map(|_| pid)
                    .map_err(|e| (start_failure_code(&e), e.to_string()))
            });
        // Our own stdio: nothing of the container's.
        let null = open_null().map_err(fail(125))?;
        for fd in 0..3 {
            let _ = dup2(null.as_raw_fd(), fd);
        }
        let pid = match created {
            Ok(pid) => pid,
            Err(fail) => {
                unmount(&rootfs);
                return Err(fail);
            }
        };
        let master = match &console {
            Some(sock) => Some(sock.receive().map_err(fail(125))?),
            None => None,
        };
        drop(console);
        let pid_start = skiff_runtime::state::proc_stat(pid)
            .map(|s| s.0)
            .unwrap_or(0);
        let me = std::process::id() as i32;
        let me_start = skiff_runtime::state::proc_stat(me)
            .map(|s| s.0)
            .unwrap_or(0);
        let started_at = now();
        *c = engine.store.find(&c.id).map_err(|e| (125, e.to_string()))?;
        c.state = engine
            .store
            .update_state(&c.id, |s| {
                s.status = Status::Running;
                s.pid = pid;
                s.pid_start = pid_start;
                s.supervisor_pid = me;
                s.supervisor_start = me_start;
                s.started_at = started_at.clone();
                s.error.clear();
                s.exit_code = 0;
                s.oom_killed = false;
            })
            .map_err(|e| (125, e.to_string()))?;
        engine.event(c, "start", &[]);
        self.say(&format!("started {pid}"));
        timing("supervisor: running");

        let log = crate::logs::LogWriter::open(
            crate::logs::log_path(&dir, &c.id),
            c.host.log_max_size,
            c.host.log_max_file.unwrap_or(1),
        )
        .ok();
        let mut checker = crate::health::Checker::new(c);
        if let Some(ch) = &checker {
            let h = ch.initial();
            let _ = engine
                .store
                .update_state(&c.id, |s| s.health = Some(h.clone()));
        }
        // With a pty: its master is the output, and the client's stdin (-i)
        // goes into it.
        let mut pty_in = None;
        let (outputs, input) = match master {
            Some(m) => {
                let w = m.try_clone().map_err(|e| (125, format!("pty: {e}")))?;
                pty_in = m.try_clone().ok();
                ([Some(m), None], client_in.map(|s| (s, w)))
            }
            None => ([Some(out_r), Some(err_r)], None),
        };
        let framed = pty_in.is_none();
        let attach = Attachments::listen(
            &crate::tty::attach_socket(&paths.runroot, &c.id),
            pty_in.or(stdin_w),
            framed,
        );
        let lookup = engine.dns_lookup(&c.id);
        let io = PumpIo {
            outputs,
            client: [client_out, client_err],
            input,
            attach,
            log,
            dns: wiring
                .dns
                .take()
                .map(|r| (r, &lookup as &dyn skiff_net::dns::Lookup)),
        };
        let status = self.pump(pid, io, checker.as_mut().map(|ch| (ch, engine, &*c)));
        // Its addresses and ports are free again (before an `--rm` removes
        // the record, so the port rules go with them).
        drop(wiring);
        release.now();
        if let Some(ch) = &mut checker {
            ch.stop();
        }
        let code = skiff_runtime::signals::exit_code(status);
        timing("supervisor: exited");
        let oom = oom_killed(&c.id);
        timing("supervisor: oom checked");
        if c.host.auto_remove {
            // `--rm` (never with a restart policy): the record goes first and
            // the client hears of the exit at once; the files follow. Should
            // we die in between, `container prune` removes what is left.
            if oom {
                engine.event(c, "oom", &[]);
            }
            engine.event(c, "die", &[("exitCode", code.to_string())]);
            let _ = engine.store.remove(&c.id);
            engine.event(c, "destroy", &[]);
            // Anonymous volumes go with it before the client hears (cheap,
            // and `volume ls` right after must not list them).
            engine.remove_anonymous_volumes(c);
            self.say(&format!("exit {code}"));
            self.status = None;
            timing("supervisor: removed");
            engine.cleanup_runtime(c);
            let _ = std::fs::remove_dir_all(&dir);
            timing("supervisor: files removed");
            return Ok(code);
        }
        let _ = skiff_runtime::container::delete(&paths.runtime_root(), &c.id, true);
        timing("supervisor: runtime state deleted");
        unmount(&rootfs);
        timing("supervisor: unmounted");
        let finished = now();
        let _ = engine.store.update_state(&c.id, |s| {
            s.status = Status::Exited;
            s.exit_code = code;
            s.finished_at = finished.clone();
            s.oom_killed = oom;
            s.pid = 0;
        });
        if oom {
            engine.event(c, "oom", &[]);
        }
        engine.event(c, "die", &[("exitCode", code.to_string())]);
        timing("supervisor: exit recorded");
        Ok(code)
    }

    /// Copy the container's output until it exits; returns its wait status.
    fn pump(
        &mut self,
        pid: i32,
        io: PumpIo<'_>,
        mut health: Option<(&mut crate::health::Checker, &Engine, &Container)>,
    ) -> i32 {
        let PumpIo {
            outputs,
            client,
            mut input,
            mut attach,
            mut log,
            mut dns,
        } = io;
        let mut open = outputs;
        // `--detach-keys` of the client that ran or started us.
        let mut escape = std::env::var("SKIFF_DETACH_KEYS")
            .ok()
            .and_then(|k| crate::tty::parse_detach_keys(&k).ok())
            .map(crate::tty::Escape::new)
            .unwrap_or_default();
        let mut buf = vec![0u8; 32 * 1024];
        let mut exit: Option<i32> = None;
        let mut exited_at: Option<Instant> = None;
        // Readable when the container's init exits: no timer, no signal.
        // SAFETY: pidfd_open takes a pid and flags; returns a new fd or -1.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
        // SAFETY: when valid, the fd was just made and is ours.
        let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
        // Once the container has run quietly for a moment, give back the
        // memory setting up used (not before: a short-lived container's
        // exit is not kept waiting for it).
        let mut trimmed = false;
        let status = loop {
            if exit.is_none() {
                exit = reap(pid);
                if exit.is_some() {
                    exited_at = Some(Instant::now());
                }
            }
            if open.iter().all(Option::is_none) {
                if let Some(s) = exit {
                    break s;
                }
                // Output closed early (the container closed its stdout and
                // stderr): wait for the exit alone, on the pidfd below.
            }
            // Processes left holding the pipes after init exited: stop
            // reading once they are quiet for a while.
            if let Some(t) = exited_at {
                if t.elapsed() > Duration::from_secs(2) {
                    break exit.unwrap_or(0);
                }
            }
            let health_fds = match &health {
                Some((ch, _, _)) if exit.is_none() => ch.fds(),
                _ => Vec::new(),
            };
            let input_fd = input
                .as_ref()
                .filter(|_| exit.is_none() && self.attached)
                .map(|(i, _)| i.as_raw_fd());
            let attach_fds = match &attach {
                Some(a) if exit.is_none() => a.fds(),
                _ => Vec::new(),
            };
            let dns_fds = match &dns {
                Some((r, _)) if exit.is_none() => r.fds(),
                _ => Vec::new(),
            };
            let mut fds: Vec<libc::pollfd> = open
                .iter()
                .flatten()
                .chain(pidfd.iter().filter(|_| exit.is_none()))
                .map(|f| f.as_raw_fd())
                .chain(health_fds)
                .chain(input_fd)
                .chain(attach_fds.iter().copied())
                .chain(dns_fds.iter().copied())
                .map(|fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let mut timeout = match (exit.is_some(), pidfd.is_some()) {
                (true, _) => 50,
                (false, true) => -1,
                (false, false) => 100,
            };
            if fds.is_empty() && timeout < 0 {
                timeout = 100;
            }
            if let Some((ch, _, _)) = &health {
                if exit.is_none() {
                    let ms = ch.wait().as_millis().min(i32::MAX as u128) as i32;
                    timeout = if timeout < 0 { ms } else { timeout.min(ms) };
                }
            }
            if !trimmed && exit.is_none() {
                timeout = if timeout < 0 { 200 } else { timeout.min(200) };
            }
            if let Some(t) = dns.as_ref().and_then(|(r, _)| r.next_timeout()) {
                let ms = t.as_millis().min(i32::MAX as u128) as i32;
                timeout = if timeout < 0 { ms } else { timeout.min(ms) };
            }
            // SAFETY: valid pollfd array of its length.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, timeout) };
            if r < 0 {
                continue;
            }
            if r == 0 && !trimmed && exit.is_none() {
                trim_memory();
                trimmed = true;
            }
            if let Some((ch, engine, c)) = &mut health {
                if exit.is_none() {
                    ch.tick(engine, c);
                }
            }
            if let Some((r, lookup)) = &mut dns {
                if fds
                    .iter()
                    .any(|p| p.revents != 0 && dns_fds.contains(&p.fd))
                {
                    r.handle_ready(*lookup);
                }
                r.expire(Instant::now());
            }
            for p in fds.iter().filter(|p| p.revents != 0) {
                if dns_fds.contains(&p.fd) {
                    continue;
                }
                if attach_fds.contains(&p.fd) {
                    if let Some(a) = &mut attach {
                        a.ready(p.fd);
                    }
                    continue;
                }
                if Some(p.fd) == input_fd {
                    // The client's keystrokes into the pty; ctrl-p ctrl-q
                    // detaches the client.
                    // SAFETY: reading into our buffer from an fd we own.
                    let n = unsafe { libc::read(p.fd, buf.as_mut_ptr().cast(), buf.len()) };
                    if n <= 0 {
                        input = None;
                        continue;
                    }
                    let (data, detach) = escape.feed(&buf[..n as usize]);
                    if let Some((_, master)) = &input {
                        let _ = write_all(master.as_fd(), &data);
                    }
                    if detach {
                        self.attached = false;
                        input = None;
                        self.say("detached");
                        self.status = None;
                    }
                    continue;
                }
                let i = match open
                    .iter()
                    .position(|f| f.as_ref().map(|f| f.as_raw_fd()) == Some(p.fd))
                {
                    Some(i) => i,
                    None => continue, // the pidfd: reaped at the top
                };
                // SAFETY: reading into our buffer from an fd we own.
                let n = unsafe { libc::read(p.fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    open[i] = None;
                    continue;
                }
                let data = &buf[..n as usize];
                if let Some(l) = &mut log {
                    let _ = l.write(i as u8 + 1, data);
                }
                if self.attached && write_all(client[i].as_fd(), data).is_err() {
                    self.attached = false;
                }
                if let Some(a) = &mut attach {
                    a.output(i as u8 + 1, data);
                }
            }
        };
        if let Some(l) = &mut log {
            let _ = l.flush_partial();
        }
        status
    }
}

/// The exit status of `pid` if it has exited.
/// Wait for child `pid` to exit; its wait status.
fn reap_blocking(pid: i32) -> Option<i32> {
    let mut st = 0;
    // SAFETY: waitpid on our child.
    let r = unsafe { libc::waitpid(pid, &mut st, 0) };
    (r == pid).then_some(st)
}

fn reap(pid: i32) -> Option<i32> {
    let mut st = 0;
    // SAFETY: waitpid on our child, without blocking.
    let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
    if r == pid {
        Some(st)
    } else if r < 0 {
        // Not our child any more (or never): treat as gone.
        (!alive(pid, 0)).then_some(0)
    } else {
        None
    }
}

fn write_all(fd: std::os::fd::BorrowedFd<'_>, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

fn dup_cloexec(fd: RawFd) -> Result<OwnedFd, String> {
    // SAFETY: fcntl F_DUPFD_CLOEXEC on one of our open fds.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if r < 0 {
        return Err(format!("dup {fd}: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: r is a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

fn dup2(from: RawFd, to: RawFd) -> Result<(), String> {
    // SAFETY: dup2 between fds of this process.
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(format!("dup2: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Whether `fd` is /dev/null (a detached client's stdin).
fn is_dev_null(fd: RawFd) -> bool {
    // SAFETY: fd is one of our standard fds, open for the call.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    match nix::sys::stat::fstat(fd) {
        Ok(st) => st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3),
        Err(_) => true,
    }
}

fn open_null() -> Result<OwnedFd, String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|e| format!("/dev/null: {e}"))
}

/// Docker's init layer has /etc/mtab -> /proc/mounts.
fn make_mtab(rootfs: &Path) {
    use skiff_runtime::rootfs::resolve::{resolve_in_root, Create};
    if let Ok(etc) = resolve_in_root(rootfs, "/etc", Some(Create::Dir)) {
        let mtab = etc.join("mtab");
        if std::fs::symlink_metadata(&mtab).is_err() {
            let _ = std::os::unix::fs::symlink("/proc/mounts", &mtab);
        }
    }
}

/// Docker makes a missing working directory, owned by the container's user.
fn make_workdir(c: &Container, rootfs: &Path) -> Result<(), String> {
    let wd = &c.config.working_dir;
    if wd.is_empty() || wd == "/" {
        return Ok(());
    }
    use skiff_runtime::rootfs::resolve::{resolve_in_root, Create};
    let existed = resolve_in_root(rootfs, wd, None)
        .map(|p| p.exists())
        .unwrap_or(false);
    let p = resolve_in_root(rootfs, wd, Some(Create::Dir))
        .map_err(|e| format!("working directory {wd}: {e}"))?;
    if !existed {
        if let Ok((uid, gid, _)) = crate::spec::resolve_user(rootfs, &c.config.user) {
            let _ = std::os::unix::fs::lchown(&p, Some(uid), Some(gid));
        }
    }
    Ok(())
}

/// /etc/hostname, /etc/hosts and /etc/resolv.conf for the container, as
/// Docker writes them; returns (destination, source) pairs to bind-mount.
fn write_etc_files(
    c: &Container,
    dir: &Path,
    net: &crate::network::Wiring,
) -> Result<Vec<(String, PathBuf)>, String> {
    let hostname = crate::spec::hostname(c);
    let w = |name: &str, text: String| -> Result<PathBuf, String> {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
        Ok(p)
    };
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let (hosts, resolv) = if c.host.network_mode == "host" {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        (hosts, host_resolv)
    } else {
        let mut hosts = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n",
        );
        for e in &c.host.extra_hosts {
            if let Some((name, ip)) = e.split_once(':') {
                hosts.push_str(&format!("{ip}\t{name}\n"));
            }
        }
        if let Some(ip) = net.endpoints.first().and_then(|e| e.ip) {
            hosts.push_str(&format!("{ip}\t{hostname}\n"));
        }
        let user_network = net.endpoints.iter().any(|e| e.network.name != "bridge");
        (
            hosts,
            crate::network::resolv_conf(&host_resolv, &c.host, user_network),
        )
    };
    Ok(vec![
        (
            "/etc/hostname".into(),
            w("hostname", format!("{hostname}\n"))?,
        ),
        ("/etc/hosts".into(), w("hosts", hosts)?),
        ("/etc/resolv.conf".into(), w("resolv.conf", resolv)?),
    ])
}

/// Give back what setting up the container cost in memory, before idling:
/// free heap pages go back to the kernel, and the pages of our executable's
/// read-only mappings that nothing changed (code and constants the setup
/// ran through, about 6 MiB of a 15 MiB binary) are dropped from our page
/// tables; what the idle loop needs faults back in from the page cache.
/// Mappings with any private (changed) page, such as relocated data, are
/// left alone: dropping those would lose the changes.
fn trim_memory() {
    extern "C" {
        fn malloc_trim(pad: libc::size_t) -> libc::c_int;
    }
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe { malloc_trim(0) };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut cur: Option<(usize, usize, bool)> = None; // start, end, droppable
    let mut drop_ranges = Vec::new();
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            if let Some((s, e, true)) = cur.take() {
                drop_ranges.push((s, e));
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            let perms = f.get(1).copied().unwrap_or("");
            let path = f.get(5).copied().unwrap_or("");
            let (Ok(s), Ok(e)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                continue;
            };
            // File-backed, private, not writable.
            let ok = path.starts_with('/')
                && perms.len() == 4
                && !perms.contains('w')
                && perms.ends_with('p');
            cur = Some((s, e, ok));
        } else if let Some((_, _, ok)) = &mut cur {
            let mut kv = line.split_whitespace();
            let (k, v) = (kv.next().unwrap_or(""), kv.next().unwrap_or("0"));
            if matches!(k, "Anonymous:" | "Private_Dirty:" | "Shared_Dirty:") && v != "0" {
                *ok = false;
            }
        }
    }
    if let Some((s, e, true)) = cur {
        drop_ranges.push((s, e));
    }
    for (s, e) in drop_ranges {
        // SAFETY: the range is a whole mapping of ours holding only clean,
        // unmodified file pages; after MADV_DONTNEED they are read again from
        // the file on next access, unchanged.
        unsafe { libc::madvise(s as *mut libc::c_void, e - s, libc::MADV_DONTNEED) };
    }
}

/// Did the kernel's OOM killer kill a process of the container's cgroup?
fn oom_killed(id: &str) -> bool {
    crate::container::cgroup(id)
        .and_then(|m| m.stats().ok())
        .is_some_and(|s| s.memory.oom_kills > 0)
}

/// What the supervisor copies between while a container runs.
struct PumpIo<'a> {
    /// The container's stdout and stderr (or its pty master, and None).
    outputs: [Option<OwnedFd>; 2],
    /// The client's stdout and stderr (attached `run`/`start -a`).
    client: [OwnedFd; 2],
    /// The client's stdin and the pty master to copy it to (`-it`).
    input: Option<(OwnedFd, OwnedFd)>,
    attach: Option<Attachments>,
    log: Option<crate::logs::LogWriter>,
    /// The DNS responder of a container on user networks.
    dns: Option<(skiff_net::dns::Responder, &'a dyn skiff_net::dns::Lookup)>,
}

/// Gives a container's addresses and ports back when its run ends, however
/// it ends.
struct ReleaseOnDrop<'a> {
    engine: &'a Engine,
    id: String,
    armed: bool,
}

impl ReleaseOnDrop<'_> {
    fn now(&mut self) {
        if std::mem::take(&mut self.armed) {
            self.engine.release_network(&self.id);
        }
    }
}

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.now();
    }
}

/// Clients of `skiff attach`: a unix socket per running container. A client
/// sends one line, `attach 1 stdin=0|1 [keys=DETACH-KEYS]`, then reads the
/// output: raw bytes for a container with a pty, else frames of Docker's
/// multiplexed stream (stream byte 1 or 2, three zero bytes, big-endian u32
/// length, data). With stdin=1 (and `-i`), what the client sends goes to the
/// container's pty or stdin pipe; with a pty, the detach keys (ctrl-p ctrl-q
/// by default) detach that client. Clients are dropped at the container's
/// exit; a client's end of input leaves the container's stdin open.
struct Attachments {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
    /// The pty master or the stdin pipe, for clients' input.
    input: Option<OwnedFd>,
    /// Output in Docker's multiplexed frames (no pty).
    framed: bool,
    clients: Vec<AttachClient>,
}

struct AttachClient {
    stream: std::os::unix::net::UnixStream,
    stdin: bool,
    escape: crate::tty::Escape,
}

impl Attachments {
    fn listen(path: &Path, input: Option<OwnedFd>, framed: bool) -> Option<Attachments> {
        if let Some(d) = path.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        let _ = std::fs::remove_file(path);
        let listener = std::os::unix::net::UnixListener::bind(path).ok()?;
        listener.set_nonblocking(true).ok()?;
        Some(Attachments {
            listener,
            path: path.to_path_buf(),
            input,
            framed,
            clients: Vec::new(),
        })
    }

    fn fds(&self) -> Vec<i32> {
        std::iter::once(self.listener.as_raw_fd())
            .chain(
                self.clients
                    .iter()
                    .filter(|c| c.stdin)
                    .map(|c| c.stream.as_raw_fd()),
            )
            .collect()
    }

    /// `fd` is readable: a new client, or a client's input.
    fn ready(&mut self, fd: i32) {
        use std::io::Read;
        if fd == self.listener.as_raw_fd() {
            while let Ok((stream, _)) = self.listener.accept() {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                // The header line, a byte at a time: what follows it is
                // the client's input, not ours to buffer away.
                let mut line = Vec::new();
                let mut byte = [0u8; 1];
                while line.len() < 256 && !line.ends_with(b"\n") {
                    match (&stream).read(&mut byte) {
                        Ok(1) => line.push(byte[0]),
                        _ => break,
                    }
                }
                let line = String::from_utf8_lossy(&line);
                if !line.starts_with("attach 1") || !line.ends_with('\n') {
                    continue;
                }
                let _ = stream.set_read_timeout(None);
                let stdin = line.contains(" stdin=1") && self.input.is_some();
                // Detach keys work on a pty only, as with Docker.
                let keys = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("keys="))
                    .and_then(|k| crate::tty::parse_detach_keys(k).ok());
                let escape = match (self.framed, keys) {
                    (true, _) => crate::tty::Escape::new(Vec::new()),
                    (false, Some(k)) => crate::tty::Escape::new(k),
                    (false, None) => Default::default(),
                };
                self.clients.push(AttachClient {
                    stream,
                    stdin,
                    escape,
                });
            }
            return;
        }
        let Some(i) = self.clients.iter().position(|c| c.stream.as_raw_fd() == fd) else {
            return;
        };
        let mut buf = [0u8; 4096];
        let n = self.clients[i].stream.read(&mut buf).unwrap_or(0);
        if n == 0 {
            // The client closed its input; it may still read.
            self.clients[i].stdin = false;
            return;
        }
        let (data, detach) = self.clients[i].escape.feed(&buf[..n]);
        if let Some(input) = &self.input {
            let _ = write_all(input.as_fd(), &data);
        }
        if detach {
            self.clients.remove(i);
        }
    }

    /// Output of stream 1 or 2 to every client.
    fn output(&mut self, stream: u8, data: &[u8]) {
        use std::io::Write;
        let framed = self.framed;
        self.clients.retain_mut(|c| {
            if framed {
                let mut h = [0u8; 8];
                h[0] = stream;
                h[4..].copy_from_slice(&(data.len() as u32).to_be_bytes());
                c.stream.write_all(&h).is_ok() && c.stream.write_all(data).is_ok()
            } else {
                c.stream.write_all(data).is_ok()
            }
        });
    }
}

impl Drop for Attachments {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
