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
    status: BufReader<std::fs::File>,
    supervisor: std::process::Child,
}

impl Started {
    /// Wait until the container exited (and, with `--rm`, is removed);
    /// returns its exit code, or None when the client detached (ctrl-p
    /// ctrl-q on a terminal).
    pub fn wait(mut self) -> Result<Option<i32>> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.status.read_line(&mut line).unwrap_or(0);
            if n == 0 {
                let _ = self.supervisor.wait();
                return Err(Error::Supervisor {
                    id: self.id.clone(),
                    msg: "it exited without reporting the container's exit".into(),
                });
            }
            if let Some(code) = line.trim().strip_prefix("exit ") {
                let _ = self.supervisor.try_wait();
                return Ok(Some(code.parse().unwrap_or(255)));
            }
            if line.trim() == "detached" {
                return Ok(None);
            }
        }
    }

    /// Stop waiting: the supervisor goes on alone.
    pub fn detach(self) {}
}

/// Block until `fd` is readable or process `pid` (our child) exited; in
/// the latter case `fd` is made non-blocking so that a read returns what is
/// there without waiting.
fn wait_readable_or_exit(fd: std::os::fd::BorrowedFd<'_>, pid: i32) {
    // SAFETY: pidfd_open of our child; returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if pidfd < 0 {
        return;
    }
    // SAFETY: the fd was just made and is ours.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let mut fds = [
        libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: a valid pollfd array of its length.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if r > 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    if fds[0].revents == 0 && fds[1].revents != 0 {
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
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
        let mut lock = crate::startlock::acquire(&dir).map_err(io_err("locking", &dir))?;
        if lock.is_none() {
            match crate::startlock::holder(&dir) {
                // A created init that outlived its supervisor holds it.
                crate::startlock::Holder::None => self.cleanup_runtime(&c),
                // The supervisor of the exit just recorded, finishing up: it
                // lets go in a moment.
                crate::startlock::Holder::Supervisor(pid, _)
                    if c.state.status == Status::Exited =>
                {
                    if let Ok(fd) = skiff_runtime::pidfd::Pidfd::open(pid) {
                        let _ = fd.wait(Some(Duration::from_secs(10)));
                    }
                }
                _ => {}
            }
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
        if attach.is_some() {
            self.event(&c, "attach", &[]);
        }
        let (rfd, wfd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| io_err("making a pipe", Path::new("-"))(e.into()))?;
        let mut cmd = Command::new(&self.supervisor_exe);
        cmd.arg("__supervise")
            .arg(&self.paths.root)
            .arg(&self.paths.runroot)
            .arg(&c.id);
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
        let child = cmd
            .spawn()
            .map_err(io_err("starting the supervisor", &self.supervisor_exe))?;
        drop(wfd);
        // The supervisor's copy holds the lock now.
        drop(lock);
        // The first line, unless the supervisor dies first: a container it
        // left created (not yet started) still holds the pipe's other end.
        wait_readable_or_exit(std::os::fd::AsFd::as_fd(&rfd), child.id() as i32);
        let mut status = BufReader::new(std::fs::File::from(rfd));
        let mut line = String::new();
        if let Err(e) = status.read_line(&mut line) {
            if e.kind() != std::io::ErrorKind::WouldBlock {
                return Err(io_err(
                    "reading the supervisor's status",
                    &self.supervisor_exe,
                )(e));
            }
        }
        let line = line.trim_end();
        timing("engine start: supervisor reported");
        if let Some(pid) = line.strip_prefix("started ") {
            return Ok(Started {
                id: c.id,
                pid: pid.parse().unwrap_or(0),
                status,
                supervisor: child,
            });
        }
        let mut child = child;
        let _ = child.wait();
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
