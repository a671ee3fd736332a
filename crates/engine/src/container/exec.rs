//! `exec`: another process in a running container. The container's
//! supervisor starts it (protocol 2, see [`crate::protocol`]) and is its
//! parent: the caller hands over the process's stdio (or gets its pty's
//! master back) and hears its exit code, and may be a threaded server; the
//! process runs on, and is reaped, if the caller goes. A container whose
//! supervisor is older (protocol 1) gets the process from the caller itself,
//! which must then be single-threaded (a CLI).

use super::*;
use crate::protocol::{recv_with_fds, send_with_fds, ExecRequest, Request};
use std::os::unix::net::UnixStream;

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
    /// The pty's size (rows, columns), with `tty`.
    pub console_size: Option<(u16, u16)>,
}

/// The stdio of an exec'd process without a pty.
pub struct ExecIo {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// An exec'd process that runs.
pub struct ExecHandle {
    pub pid: i32,
    /// Its pty's master, with `tty`.
    pub pty: Option<OwnedFd>,
    waiter: ExecWaiter,
}

enum ExecWaiter {
    /// The supervisor tells the exit on this connection (what was read past
    /// its first answer waits in `buffered`).
    Supervisor {
        stream: UnixStream,
        buffered: Vec<u8>,
    },
    /// Our own child (a protocol 1 supervisor's container).
    Child {
        pidfd: skiff_runtime::pidfd::Pidfd,
        engine_id: String,
    },
}

impl ExecHandle {
    /// An fd that becomes readable when the process has exited.
    pub fn exit_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        match &self.waiter {
            ExecWaiter::Supervisor { stream, .. } => stream.as_fd(),
            ExecWaiter::Child { pidfd, .. } => pidfd.as_fd(),
        }
    }

    /// Wait for the process to exit; its exit code.
    pub fn wait(self, engine: &Engine) -> Result<i32> {
        match self.waiter {
            ExecWaiter::Supervisor { stream, buffered } => {
                let line = read_line(&stream, buffered)
                    .map_err(|e| Error::Internal(format!("waiting for exec: {e}")))?;
                line.strip_prefix("exit ")
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| {
                        Error::Internal(format!("the supervisor ended the exec with {line:?}"))
                    })
            }
            ExecWaiter::Child { pidfd, engine_id } => {
                let _ = pidfd.wait(None);
                let mut st = 0;
                // SAFETY: waitpid on our own child, which has exited.
                unsafe { libc::waitpid(self.pid, &mut st, 0) };
                let code = skiff_runtime::signals::exit_code(st);
                if let Ok(c) = engine.find(&engine_id) {
                    engine.event(&c, "exec_die", &[("exitCode", code.to_string())]);
                }
                Ok(code)
            }
        }
    }
}

/// One line from `s` (blocking; `line` holds what was read of it already),
/// without its newline.
fn read_line(s: &UnixStream, mut line: Vec<u8>) -> std::io::Result<String> {
    use std::io::Read;
    if let Some(i) = line.iter().position(|&b| b == b'\n') {
        line.truncate(i);
        return Ok(String::from_utf8_lossy(&line).into_owned());
    }
    let mut b = [0u8; 1];
    loop {
        match (&*s).read(&mut b) {
            Ok(0) => break,
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => line.push(b[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
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
        let (uid, gid, extra, home) =
            crate::spec::resolve_user_home(&rootfs, &user, &c.host.group_add)?;
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
}

impl Engine {
    /// `exec`: start another process in a running container, with `io` as
    /// its stdio (without a pty: required), or a pty whose master the handle
    /// holds. With `o.detach` the handle is returned without waiting.
    pub fn exec_start(
        &self,
        what: &str,
        o: &ExecOptions,
        io: Option<ExecIo>,
    ) -> Result<ExecHandle> {
        let c = self.exec_target(what)?;
        if o.cmd.is_empty() {
            return Err(Error::Invalid("No exec command specified".into()));
        }
        if !o.tty && io.is_none() {
            return Err(Error::Invalid("exec without a pty needs its stdio".into()));
        }
        // Docker's exec events: the command, then its arguments, each
        // followed by a space.
        let (first, rest) = o.cmd.split_first().expect("a command");
        let shown = format!("{first} {}", rest.join(" "));
        for action in ["exec_create", "exec_start"] {
            self.event(&c, &format!("{action}: {shown}"), &[]);
        }
        let req = ExecRequest {
            cmd: o.cmd.clone(),
            env: o.env.clone(),
            workdir: o.workdir.clone(),
            user: o.user.clone(),
            privileged: o.privileged,
            tty: o.tty,
            size: o.console_size,
        };
        match self.exec_by_supervisor(&c, &req, io.as_ref())? {
            Some(h) => Ok(h),
            None => self.exec_here(&c, o, io),
        }
    }

    /// The container `what`, if a process may be exec'd in it (it runs).
    pub(super) fn exec_target(&self, what: &str) -> Result<Container> {
        let c = self.find(what)?;
        match c.state.status {
            Status::Running if alive(c.state.pid, c.state.pid_start) => Ok(c),
            Status::Paused => Err(Error::Conflict(format!(
                "Container {what} is paused, unpause the container before exec"
            ))),
            _ => Err(Error::NotRunning(c.id)),
        }
    }

    /// The request to the container's supervisor; None when it does not
    /// take it (protocol 1).
    fn exec_by_supervisor(
        &self,
        c: &Container,
        req: &ExecRequest,
        io: Option<&ExecIo>,
    ) -> Result<Option<ExecHandle>> {
        use std::os::fd::AsFd;
        let path = crate::tty::attach_socket(&self.paths.runroot, &c.id);
        let s = UnixStream::connect(&path).map_err(io_err("connecting to", &path))?;
        let fds: Vec<i32> = match io {
            Some(io) if !req.tty => vec![
                io.stdin.as_raw_fd(),
                io.stdout.as_raw_fd(),
                io.stderr.as_raw_fd(),
            ],
            _ => Vec::new(),
        };
        send_with_fds(
            s.as_fd(),
            Request::Exec(req.clone()).line().as_bytes(),
            &fds,
        )
        .map_err(io_err("talking to the supervisor at", &path))?;
        // The answer, with the pty's master when there is one.
        let mut buf = [0u8; 512];
        let mut got = Vec::new();
        let mut pty = None;
        while !got.contains(&b'\n') {
            let (n, mut fds) =
                recv_with_fds(s.as_fd(), &mut buf, nix::sys::socket::MsgFlags::empty())
                    .map_err(io_err("talking to the supervisor at", &path))?;
            if n == 0 {
                // A protocol 1 supervisor closes on what it does not know.
                return Ok(None);
            }
            got.extend_from_slice(&buf[..n]);
            if pty.is_none() && !fds.is_empty() {
                pty = Some(fds.remove(0));
            }
        }
        let nl = got.iter().position(|&b| b == b'\n').expect("a line");
        let line = String::from_utf8_lossy(&got[..nl]).into_owned();
        if let Some(pid) = line.strip_prefix("pid ") {
            return Ok(Some(ExecHandle {
                pid: pid.parse().unwrap_or(0),
                pty,
                waiter: ExecWaiter::Supervisor {
                    stream: s,
                    buffered: got[nl + 1..].to_vec(),
                },
            }));
        }
        let rest = line.strip_prefix("error ").unwrap_or(&line);
        let (_, msg) = rest.split_once(' ').unwrap_or(("126", rest));
        // dockerd gives an exec that fails to start, for whatever reason,
        // the exit code 126.
        Err(Error::Start {
            msg: msg.to_string(),
            cause: crate::StartCause::NotExecutable,
        })
    }

    /// Start the process ourselves (for a protocol 1 supervisor's
    /// container): the runtime needs a single-threaded caller.
    fn exec_here(&self, c: &Container, o: &ExecOptions, io: Option<ExecIo>) -> Result<ExecHandle> {
        let failed = |e: skiff_runtime::Error| Error::Start {
            msg: format!("OCI runtime exec failed: {e}"),
            cause: crate::StartCause::NotExecutable,
        };
        let mut process = self.exec_process(c, o).map_err(|e| match e {
            Error::Spec(s) => Error::Start {
                msg: s.to_string(),
                cause: crate::StartCause::NotExecutable,
            },
            e => e,
        })?;
        let mut opts = self.exec_opts(c, process.clone(), true);
        let console = if o.tty {
            process.terminal = true;
            process.console_size = o
                .console_size
                .map(|(h, w)| skiff_runtime::spec::ConsoleSize {
                    height: h,
                    width: w,
                });
            opts.process = process;
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
        if let (Some(io), false) = (&io, o.tty) {
            opts.stdio = Some([
                io.stdin.as_raw_fd(),
                io.stdout.as_raw_fd(),
                io.stderr.as_raw_fd(),
            ]);
        }
        let pid = skiff_runtime::exec::spawn(&opts).map_err(failed)?;
        drop(io);
        let pty = match &console {
            Some(sock) => Some(sock.receive().map_err(Error::Internal)?),
            None => None,
        };
        let pidfd = skiff_runtime::pidfd::Pidfd::open(pid)
            .map_err(|e| Error::Internal(format!("watching exec process {pid}: {e}")))?;
        Ok(ExecHandle {
            pid,
            pty,
            waiter: ExecWaiter::Child {
                pidfd,
                engine_id: c.id.clone(),
            },
        })
    }
}
