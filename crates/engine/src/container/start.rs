//! `start`: spawning the container's supervisor, which mounts its rootfs,
//! creates and starts it, and reports on a status pipe.

use super::*;

/// The container's stdio when a client is attached.
pub struct Attach {
    /// The container's stdin (`-i`); /dev/null when None.
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// `--detach-keys`, already checked with `tty::parse_detach_keys`.
    pub detach_keys: Option<String>,
}

/// A started container: its pid and the supervisor's status pipe.
pub struct Started {
    pub id: String,
    pub pid: i32,
    /// The supervisor's pid.
    pub supervisor: i32,
    status: StatusPipe,
}

impl Started {
    /// Wait until the container exited (and, with `--rm`, is removed);
    /// returns its exit code, or None when the client detached (ctrl-p
    /// ctrl-q on a terminal).
    pub fn wait(mut self) -> Result<Option<i32>> {
        loop {
            let Some(line) = self.status.line() else {
                return Err(Error::Supervisor {
                    id: self.id.clone(),
                    msg: "it exited without reporting the container's exit".into(),
                });
            };
            if let Some(code) = line.strip_prefix("exit ") {
                return Ok(Some(code.parse().unwrap_or(255)));
            }
            if line == "detached" {
                return Ok(None);
            }
        }
    }

    /// Stop waiting: the supervisor goes on alone.
    pub fn detach(self) {}
}

/// A supervisor's status pipe, read a line at a time (see
/// [`crate::protocol`]). The supervisor's end closes when it exits, but a
/// container it left created (not yet started) still holds a copy: so once
/// the supervisor is known, its death ends the reading too.
struct StatusPipe {
    file: std::fs::File,
    buf: Vec<u8>,
    supervisor: Option<skiff_runtime::pidfd::Pidfd>,
    eof: bool,
}

impl StatusPipe {
    /// The next line (without its newline); None when there is no more.
    fn line(&mut self) -> Option<String> {
        use std::io::Read;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            if self.eof {
                return None;
            }
            let mut fds = vec![libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            if let Some(p) = &self.supervisor {
                fds.push(libc::pollfd {
                    fd: p.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            // SAFETY: a valid pollfd array of its length.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, -1) };
            if r < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                self.eof = true;
                continue;
            }
            let gone = fds.get(1).is_some_and(|p| p.revents != 0) && fds[0].revents == 0;
            if gone {
                // What it said before it went, then the end.
                let _ = nix::fcntl::fcntl(
                    &self.file,
                    nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
                );
                let _ = self.file.read_to_end(&mut self.buf);
                self.eof = true;
                continue;
            }
            let mut chunk = [0u8; 512];
            match self.file.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => self.eof = true,
            }
        }
    }
}

/// A supervisor spawned ahead of the container it will run (see
/// [`Engine::prepare_start`]): it opens the store while the caller creates
/// the container, then waits for [`Engine::start_prepared`] to hand it the
/// container's ID and start lock. Dropped unused, it exits.
pub struct Prepared {
    /// The ID the container is to have (the supervisor shows it in its
    /// command line from the start).
    id: String,
    /// Ours of the socket the supervisor waits on.
    sock: OwnedFd,
    /// Taken by the start; left, the supervisor is waited for on drop.
    status: Option<std::fs::File>,
    attached: bool,
    /// The process spawned, which forks the supervisor and exits: reaped
    /// later, so that the caller goes on at once.
    spawned: crate::spawn::Detached,
}

impl Prepared {
    /// The ID to create the container with ([`CreateOptions::id`](super::CreateOptions::id)).
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Prepared {
    /// Unused (the container was not made): the supervisor sees the
    /// socket's end and exits; we wait for that (its status pipe's end), so
    /// that a failed `run` leaves no process behind when it returns.
    fn drop(&mut self) {
        self.spawned.wait();
        let Some(status) = self.status.take() else {
            return;
        };
        let _ = nix::sys::socket::shutdown(self.sock.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        let mut p = libc::pollfd {
            fd: status.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 256];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            // SAFETY: poll on one valid pollfd.
            let r = unsafe { libc::poll(&mut p, 1, left.as_millis() as libc::c_int) };
            if r == 0 {
                break;
            }
            // SAFETY: read into a live buffer of its length.
            let n = unsafe { libc::read(p.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0
                || (n < 0
                    && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted)
            {
                break;
            }
        }
    }
}

impl Engine {
    /// `start`: spawn the container's supervisor, which mounts its rootfs,
    /// creates and starts it; returns once it runs.
    pub fn start(&self, what: &str, attach: Option<Attach>) -> Result<Started> {
        self.start_with(what, Launch::Spawn(attach))
    }

    /// Spawn the supervisor of a container about to be created (`run`) in
    /// the store at `root` and `runroot`, so that its process start and
    /// store opening overlap the caller's: the container is created with
    /// [`Prepared::id`] and started with [`Engine::start_prepared`]. With
    /// two CPUs, that takes the supervisor's start (~2 ms) off the run's
    /// path. Called before the engine is opened, for the same reason.
    pub fn prepare_start(root: &Path, runroot: &Path, attach: Option<Attach>) -> Result<Prepared> {
        let paths = crate::Paths {
            root: root.to_path_buf(),
            runroot: runroot.to_path_buf(),
        };
        let exe = crate::supervisor_exe()?;
        let (ours, theirs) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::SeqPacket,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| io_err("making a socket pair", Path::new("-"))(e.into()))?;
        let attached = attach.is_some();
        let id = crate::names::new_id();
        let (status, spawned) = spawn_supervisor(&paths, &exe, &id, true, attach, theirs)?;
        Ok(Prepared {
            id,
            sock: ours,
            status: Some(status),
            attached,
            spawned,
        })
    }

    /// [`Engine::start`] by the supervisor `p` spawned before.
    pub fn start_prepared(&self, what: &str, p: Prepared) -> Result<Started> {
        self.start_with(what, Launch::Prepared(p))
    }

    fn start_with(&self, what: &str, launch: Launch) -> Result<Started> {
        let check = |c: &Container| match c.state.status {
            Status::Running | Status::Restarting => Err(Error::AlreadyRunning(c.id.clone())),
            Status::Paused => Err(Error::Paused(c.id.clone())),
            _ => Ok(()),
        };
        // A prepared start is of the container just made for it (its state
        // checked below, once locked): nothing to look up or wait for first.
        let id = match &launch {
            Launch::Prepared(p) if p.id != what => {
                return Err(Error::Invalid(format!(
                    "container {what} was not created for the supervisor prepared for {}",
                    p.id
                )))
            }
            Launch::Prepared(p) => p.id.clone(),
            Launch::Spawn(_) => {
                let c = self.find(what)?;
                check(&c)?;
                // One supervisor per container: the lock goes to the one we
                // spawn.
                self.settle(&c);
                c.id
            }
        };
        let dir = self.paths.container_dir(&id);
        let mut lock = crate::startlock::acquire(&dir).map_err(io_err("locking", &dir))?;
        if lock.is_none() && crate::startlock::holder(&dir) == crate::startlock::Holder::None {
            // A created init that outlived its supervisor holds it.
            self.cleanup_runtime(&self.find(&id)?);
            lock = crate::startlock::acquire(&dir).map_err(io_err("locking", &dir))?;
        }
        let Some(lock) = lock else {
            return Err(Error::AlreadyRunning(id));
        };
        timing("engine start: locked");
        // What another start did before we held the lock.
        let c = self.find(&id)?;
        check(&c)?;
        let file = match launch {
            Launch::Spawn(attach) => {
                // Streams a client attached before the start.
                let pending = self
                    .pending_attach
                    .lock()
                    .expect("pending attaches")
                    .remove(&c.id);
                let attach = attach.or(pending);
                if attach.is_some() {
                    self.event(&c, "attach", &[]);
                }
                let (status, mut spawned) = spawn_supervisor(
                    &self.paths,
                    &self.supervisor_exe,
                    &c.id,
                    false,
                    attach,
                    OwnedFd::from(lock),
                )?;
                // It forks the supervisor and exits at once: reaped here, so
                // no zombie is left in a long-lived caller.
                spawned.wait();
                status
            }
            Launch::Prepared(mut p) => {
                if p.attached {
                    self.event(&c, "attach", &[]);
                }
                use std::os::fd::AsFd;
                // The ID, and the image's layers if we just made it.
                let mut msg = c.id.clone().into_bytes();
                let made = self.created_layers.lock().expect("created layers").take();
                if let Some((_, lower)) = made.filter(|(id, _)| *id == c.id) {
                    for l in lower {
                        msg.push(0);
                        msg.extend_from_slice(l.as_os_str().as_encoded_bytes());
                    }
                }
                // Should it be gone (it could not open the store), its
                // status says why.
                let _ = crate::protocol::send_with_fds(p.sock.as_fd(), &msg, &[lock.as_raw_fd()]);
                // The supervisor's copy holds the lock now.
                drop(lock);
                timing("engine start: supervisor told");
                p.status.take().expect("a prepared supervisor's status")
            }
        };
        let mut status = StatusPipe {
            file,
            buf: Vec::new(),
            supervisor: None,
            eof: false,
        };
        let supervisor = status
            .line()
            .as_deref()
            .and_then(crate::protocol::parse_hello)
            .map(|(_, pid)| pid);
        let Some(supervisor) = supervisor else {
            return Err(Error::Supervisor {
                id: c.id,
                msg: "it exited before starting the container".into(),
            });
        };
        status.supervisor = skiff_runtime::pidfd::Pidfd::open(supervisor).ok();
        let line = status.line().unwrap_or_default();
        timing("engine start: supervisor reported");
        if let Some(pid) = line.strip_prefix("started ") {
            return Ok(Started {
                id: c.id,
                pid: pid.parse().unwrap_or(0),
                supervisor,
                status,
            });
        }
        // A failed start: the supervisor is on its way out.
        if let Some(p) = &status.supervisor {
            let _ = p.wait(Some(Duration::from_secs(10)));
        }
        if let Some(rest) = line.strip_prefix("error ") {
            let (code, msg) = rest.split_once(' ').unwrap_or(("125", rest));
            return Err(Error::Start {
                msg: msg.to_string(),
                cause: match code {
                    "127" => crate::StartCause::CommandNotFound,
                    "126" => crate::StartCause::NotExecutable,
                    _ => crate::StartCause::Other,
                },
            });
        }
        Err(Error::Supervisor {
            id: c.id,
            msg: if line.is_empty() {
                "it exited before starting the container".into()
            } else {
                line.to_string()
            },
        })
    }
}

/// Spawn `skiff-supervisor __supervise ROOT RUNROOT ID [prepared]`
/// with `fd4` (the start lock, or the socket a prepared one waits on)
/// as its fd 4 and the write end of its status pipe as fd 3; returns the
/// read end and the process spawned, for the caller to reap (it exits
/// once it forked the supervisor).
fn spawn_supervisor(
    paths: &crate::Paths,
    exe: &Path,
    id: &str,
    prepared: bool,
    attach: Option<Attach>,
    fd4: OwnedFd,
) -> Result<(std::fs::File, crate::spawn::Detached)> {
    let (rfd, wfd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| io_err("making a pipe", Path::new("-"))(e.into()))?;
    let tunables = supervisor_tunables();
    let mut env: Vec<(&str, &std::ffi::OsStr)> = vec![("GLIBC_TUNABLES", &tunables)];
    let null =
        std::fs::File::open("/dev/null").map_err(io_err("opening", Path::new("/dev/null")))?;
    let n = null.as_raw_fd();
    let (stdin, stdout, stderr) = match &attach {
        Some(a) => {
            if let Some(k) = &a.detach_keys {
                env.push(("SKIFF_DETACH_KEYS", k.as_ref()));
            }
            let stdin = a.stdin.as_ref().map_or(n, |i| i.as_raw_fd());
            (stdin, a.stdout.as_raw_fd(), a.stderr.as_raw_fd())
        }
        None => (n, n, n),
    };
    let args: Vec<&std::ffi::OsStr> = [
        "__supervise".as_ref(),
        paths.root.as_os_str(),
        paths.runroot.as_os_str(),
        id.as_ref(),
    ]
    .into_iter()
    .chain(prepared.then_some(crate::protocol::PREPARED.as_ref()))
    .collect();
    timing("engine start: spawning the supervisor");
    let child = crate::spawn::Detached::spawn(
        exe,
        &args,
        &env,
        &[
            (stdin, 0),
            (stdout, 1),
            (stderr, 2),
            (wfd.as_raw_fd(), 3),
            (fd4.as_raw_fd(), 4),
        ],
    )
    .map_err(io_err("starting the supervisor", exe))?;
    drop(wfd);
    drop(fd4);
    drop(attach);
    Ok((std::fs::File::from(rfd), child))
}

/// How `start_with` gets its supervisor.
enum Launch {
    /// Spawned now, with a client's streams if one is attached.
    Spawn(Option<Attach>),
    /// Spawned before and waiting for the container.
    Prepared(Prepared),
}

/// The C library's allocator settings for a supervisor: no per-thread cache
/// of freed chunks (tcache). Setting up a container frees most of what it
/// allocated, and the cache keeps up to seven chunks of each size as if in
/// use, which pins their heap pages for as long as the container runs (about
/// 100 KiB per idle supervisor); without it the trim before idling gives
/// them back. A user's own tunables are kept, ours after them.
fn supervisor_tunables() -> std::ffi::OsString {
    const OURS: &str = "glibc.malloc.tcache_count=0";
    match std::env::var_os("GLIBC_TUNABLES") {
        Some(mut t) if !t.is_empty() => {
            t.push(":");
            t.push(OURS);
            t
        }
        _ => OURS.into(),
    }
}
