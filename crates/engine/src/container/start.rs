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

impl Engine {
    /// `start`: spawn the container's supervisor, which mounts its rootfs,
    /// creates and starts it; returns once it runs.
    pub fn start(&self, what: &str, attach: Option<Attach>) -> Result<Started> {
        let c = self.find(what)?;
        let dir = self.paths.container_dir(&c.id);
        let check = |c: &Container| match c.state.status {
            Status::Running | Status::Restarting => Err(Error::AlreadyRunning(c.id.clone())),
            Status::Paused => Err(Error::Paused(c.id.clone())),
            _ => Ok(()),
        };
        check(&c)?;
        // One supervisor per container: the lock goes to the one we spawn.
        self.settle(&c);
        let mut lock = crate::startlock::acquire(&dir).map_err(io_err("locking", &dir))?;
        if lock.is_none() && crate::startlock::holder(&dir) == crate::startlock::Holder::None {
            // A created init that outlived its supervisor holds it.
            self.cleanup_runtime(&c);
            lock = crate::startlock::acquire(&dir).map_err(io_err("locking", &dir))?;
        }
        let Some(lock) = lock else {
            return Err(Error::AlreadyRunning(c.id));
        };
        // What another start did before we held the lock.
        let c = self.find(&c.id)?;
        check(&c)?;
        // Above the fds the child's pre_exec writes to.
        let high = nix::fcntl::fcntl(&lock, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(5))
            .map_err(|e| io_err("locking", &dir)(e.into()))?;
        drop(lock);
        // SAFETY: F_DUPFD_CLOEXEC returned a new fd that nothing else owns.
        let lock = unsafe { OwnedFd::from_raw_fd(high) };
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
        let (rfd, wfd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| io_err("making a pipe", Path::new("-"))(e.into()))?;
        let mut cmd = Command::new(&self.supervisor_exe);
        cmd.arg("__supervise")
            .arg(&self.paths.root)
            .arg(&self.paths.runroot)
            .arg(&c.id)
            .env("GLIBC_TUNABLES", supervisor_tunables());
        match attach {
            Some(a) => {
                if let Some(k) = &a.detach_keys {
                    cmd.env("SKIFF_DETACH_KEYS", k);
                }
                cmd.stdin(a.stdin.map(Stdio::from).unwrap_or_else(Stdio::null))
                    .stdout(Stdio::from(a.stdout))
                    .stderr(Stdio::from(a.stderr));
            }
            None => {
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
            }
        }
        let w = wfd.as_raw_fd();
        let l = lock.as_raw_fd();
        // SAFETY: between fork and exec only dup2 (async-signal-safe) runs.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(move || {
                if libc::dup2(w, 3) < 0 || libc::dup2(l, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        timing("engine start: spawning the supervisor");
        let mut child = cmd
            .spawn()
            .map_err(io_err("starting the supervisor", &self.supervisor_exe))?;
        drop(wfd);
        // The supervisor's copy holds the lock now.
        drop(lock);
        // The process spawned forks the supervisor and exits at once: reaped
        // here, so no zombie is left in a long-lived caller.
        let _ = child.wait();
        let mut status = StatusPipe {
            file: std::fs::File::from(rfd),
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
