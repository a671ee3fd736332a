//! `exec`: another process in a running container.

use super::*;

/// What `exec` takes.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub detach: bool,
    pub privileged: bool,
    /// `-t`: a pty, proxied to the caller's stdin and stdout.
    pub tty: bool,
    /// `-i`: the caller's stdin goes to the process.
    pub interactive: bool,
    /// `--detach-keys`, already checked with `tty::parse_detach_keys`.
    pub detach_keys: Option<String>,
}

impl Engine {
    /// The runtime's options to run `process` in `c`.
    pub(crate) fn exec_opts(
        &self,
        c: &Container,
        process: skiff_runtime::spec::Process,
        detach: bool,
    ) -> skiff_runtime::exec::ExecOpts {
        skiff_runtime::exec::ExecOpts {
            root: self.paths.runtime_root(),
            id: c.id.clone(),
            process,
            detach,
            pid_file: None,
            console_socket: None,
            preserve_fds: 0,
            seccomp_cache: Some(self.paths.runroot.join("seccomp")),
            stdio: None,
        }
    }

    /// The process `exec` runs: the container's user, environment, working
    /// directory and capabilities, with `o`'s changes.
    pub(crate) fn exec_process(
        &self,
        c: &Container,
        o: &ExecOptions,
    ) -> Result<skiff_runtime::spec::Process> {
        let rootfs = self.paths.container_dir(&c.id).join("rootfs");
        let user = o.user.clone().unwrap_or_else(|| c.config.user.clone());
        let (uid, gid, extra, home) = crate::spec::resolve_user_home(&rootfs, &user)?;
        let hostname = crate::spec::hostname(c);
        let mut env = crate::spec::environment_with_home(c, &hostname, Some(&home));
        for e in &o.env {
            let key = e.split('=').next().unwrap_or("");
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        let mut cc = c.clone();
        cc.host.privileged |= o.privileged;
        let caps = crate::spec::capabilities(&cc)?;
        serde_json::from_value(serde_json::json!({
            "terminal": false,
            "user": {"uid": uid, "gid": gid, "additionalGids": extra},
            "args": o.cmd,
            "env": env,
            "cwd": o.workdir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| {
                if c.config.working_dir.is_empty() { "/".into() } else { c.config.working_dir.clone() }
            }),
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": c.host.security_opt.iter().any(|s| s.starts_with("no-new-privileges") && !s.ends_with("false")),
        }))
        .map_err(|e| Error::Internal(format!("exec process: {e}")))
    }

    /// `exec`: run another process in a running container; its exit code
    /// (0 at once with `detach`). The process uses the caller's stdio.
    pub fn exec(&self, what: &str, o: &ExecOptions) -> Result<i32> {
        let c = self.find(what)?;
        match c.state.status {
            Status::Running if alive(c.state.pid, c.state.pid_start) => {}
            Status::Paused => {
                return Err(Error::Conflict(format!(
                    "Container {what} is paused, unpause the container before exec"
                )))
            }
            _ => return Err(Error::NotRunning(c.id)),
        }
        if o.cmd.is_empty() {
            return Err(Error::Invalid("No exec command specified".into()));
        }
        let mut process = self.exec_process(&c, o).map_err(|e| match e {
            Error::Spec(s) => Error::Start {
                msg: s.to_string(),
                cause: crate::StartCause::NotExecutable,
            },
            e => e,
        })?;
        if o.tty {
            process.terminal = true;
            process.console_size =
                crate::tty::terminal_size(1).map(|(h, w)| skiff_runtime::spec::ConsoleSize {
                    height: h,
                    width: w,
                });
        }
        let mut opts = self.exec_opts(&c, process, o.detach);
        let console = if o.tty {
            let path = self.paths.runroot.join("console").join(format!(
                "exec-{}-{}.sock",
                &c.id[..12],
                std::process::id()
            ));
            let sock = crate::tty::ConsoleSocket::listen(&path).map_err(Error::Internal)?;
            opts.console_socket = Some(path);
            Some(sock)
        } else {
            None
        };
        // Docker's exec events: the command, then its arguments, each
        // followed by a space.
        let (first, rest) = o.cmd.split_first().expect("a command");
        let shown = format!("{first} {}", rest.join(" "));
        for action in ["exec_create", "exec_start"] {
            self.event(&c, &format!("{action}: {shown}"), &[]);
        }
        // dockerd gives an exec that fails to start, for whatever reason,
        // the exit code 126.
        let failed = |e: skiff_runtime::Error| Error::Start {
            msg: format!("OCI runtime exec failed: {e}"),
            cause: crate::StartCause::NotExecutable,
        };
        let Some(console) = console else {
            let r = skiff_runtime::exec::exec(&opts).map_err(failed);
            if let (Ok(code), false) = (&r, o.detach) {
                self.event(&c, "exec_die", &[("exitCode", code.to_string())]);
            }
            return r;
        };
        let pid = skiff_runtime::exec::spawn(&opts).map_err(failed)?;
        let master = console.receive().map_err(Error::Internal)?;
        drop(console);
        if o.detach {
            return Ok(0);
        }
        let escape = o
            .detach_keys
            .as_deref()
            .and_then(|k| crate::tty::parse_detach_keys(k).ok())
            .map(crate::tty::Escape::new)
            .unwrap_or_default();
        Ok(proxy_tty(pid, master, o.interactive, escape))
    }
}

/// Copy between the caller's terminal and a pty master until process `pid`
/// exits (its exit code) or the caller types ctrl-p ctrl-q (0: it runs on).
fn proxy_tty(pid: i32, master: OwnedFd, interactive: bool, mut escape: crate::tty::Escape) -> i32 {
    use std::os::fd::AsFd;
    // SAFETY: pidfd_open on our child.
    let pfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    let mut buf = vec![0u8; 16 * 1024];
    let mut stdin_open = interactive;
    let mut exited: Option<i32> = None;
    loop {
        let mut fds = vec![libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if stdin_open {
            fds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if exited.is_none() && pfd >= 0 {
            fds.push(libc::pollfd {
                fd: pfd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let timeout = if exited.is_some() { 100 } else { -1 };
        // SAFETY: a valid pollfd array of its length.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, timeout) };
        if r == 0 && exited.is_some() {
            break;
        }
        for p in fds.iter().filter(|p| p.revents != 0) {
            if p.fd == master.as_raw_fd() {
                // SAFETY: reading into our buffer.
                let n = unsafe { libc::read(p.fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    if exited.is_none() {
                        let mut st = 0;
                        // SAFETY: waitpid on our child.
                        unsafe { libc::waitpid(pid, &mut st, 0) };
                        exited = Some(skiff_runtime::signals::exit_code(st));
                    }
                    if pfd >= 0 {
                        // SAFETY: closing the pidfd we opened.
                        unsafe { libc::close(pfd) };
                    }
                    return exited.unwrap_or(0);
                }
                let _ = nix::unistd::write(std::io::stdout().as_fd(), &buf[..n as usize]);
            } else if p.fd == 0 {
                // SAFETY: reading our stdin into our buffer.
                let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    stdin_open = false;
                    continue;
                }
                let (data, detach) = escape.feed(&buf[..n as usize]);
                let _ = nix::unistd::write(master.as_fd(), &data);
                if detach {
                    return 0;
                }
            } else {
                let mut st = 0;
                // SAFETY: waitpid on our child, without blocking.
                if unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) } == pid {
                    exited = Some(skiff_runtime::signals::exit_code(st));
                }
            }
        }
    }
    if pfd >= 0 {
        // SAFETY: closing the pidfd we opened.
        unsafe { libc::close(pfd) };
    }
    exited.unwrap_or(0)
}
