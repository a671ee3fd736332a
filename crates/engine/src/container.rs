//! Container operations: create, start, stop, kill, remove, wait, list.

use crate::model::{Config, Container, HealthConfig, HostConfig, State, Status};
use crate::mount::unmount;
use crate::proc::{alive, wait_gone};
use crate::time::now;
use crate::{io_err, Engine, Error, Result};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use skiff_runtime::log::timing;

/// What `create` (and `run`) takes.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub image: String,
    /// The command; empty: the image's.
    pub cmd: Vec<String>,
    /// `--entrypoint` (`Some("")`: none).
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    /// `--health-*` flags: set fields override the image's health check.
    pub healthcheck: HealthConfig,
    /// `--no-healthcheck`.
    pub no_healthcheck: bool,
    /// `--network-alias`.
    pub network_aliases: Vec<String>,
    /// `--ip`: the address on the network `--network` names.
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--expose`: `80/tcp`.
    pub expose: Vec<String>,
    pub host: HostConfig,
}

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

/// Parse a signal name or number (`KILL`, `SIGKILL`, `9`).
pub fn parse_signal(s: &str) -> Result<i32> {
    skiff_runtime::signals::parse(s).ok_or_else(|| Error::Invalid(format!("Invalid signal: {s}")))
}

impl Engine {
    /// `create`: the container's record and directory; nothing runs yet.
    pub fn create(&self, o: &CreateOptions) -> Result<Container> {
        timing("engine create: begin");
        let images = skiff_image::service::Images::open(&self.paths.root)?;
        timing("engine create: images opened");
        let image_id = images.resolve(&o.image)?;
        let rec = images
            .catalog
            .get(&image_id)
            .map_err(skiff_image::service::ImagesError::from)?
            .ok_or_else(|| skiff_image::service::ImagesError::NoSuchImage(o.image.clone()))?;
        let (_, icfg) = images.load(&rec)?;
        let ic = icfg.config.clone().unwrap_or_default();
        let name = match &o.name {
            Some(n) => crate::names::check_name(n).map_err(Error::Invalid)?,
            None => crate::names::random_name(),
        };
        let entrypoint = match &o.entrypoint {
            Some(e) if e.is_empty() => Vec::new(),
            Some(e) => vec![e.clone()],
            None => ic.entrypoint.clone().unwrap_or_default(),
        };
        // A new entrypoint drops the image's command, as Docker does.
        let cmd = if !o.cmd.is_empty() {
            o.cmd.clone()
        } else if o.entrypoint.is_some() {
            Vec::new()
        } else {
            ic.cmd.clone().unwrap_or_default()
        };
        if entrypoint.is_empty() && cmd.is_empty() {
            return Err(Error::Invalid("No command specified".into()));
        }
        let mut env = ic.env.clone();
        for e in &o.env {
            let key = e.split('=').next().unwrap_or("");
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        let mut labels = ic.labels.clone();
        labels.extend(o.labels.clone());
        let mut host = o.host.clone();
        if host.network_mode.is_empty() {
            host.network_mode = "default".into();
        }
        if let Some(other) = host.network_mode.strip_prefix("container:") {
            self.find(other)?;
        }
        let network = self.network_for_create(&host.network_mode, &o.network_aliases)?;
        for e in &host.extra_hosts {
            let ok = e
                .split_once(':')
                .is_some_and(|(h, ip)| !h.is_empty() && ip.parse::<std::net::IpAddr>().is_ok());
            if !ok {
                return Err(Error::Invalid(format!(
                    "invalid IP address in add-host: {e:?}"
                )));
            }
        }
        for d in &host.dns {
            if d.parse::<std::net::IpAddr>().is_err() {
                return Err(Error::Invalid(format!("{d} is not an ip address")));
            }
        }
        // Exposed: the image's, --expose and what -p publishes.
        let mut exposed: Vec<String> = ic.exposed_ports.keys().cloned().collect();
        for p in o.expose.iter().chain(host.port_bindings.keys()) {
            if !exposed.contains(p) {
                exposed.push(p.clone());
            }
        }
        exposed.sort_by_key(|k| crate::network::parse_port_key(k));
        // Check the security options now, so `run` fails before anything exists.
        for opt in &mut host.security_opt {
            if let Some(file) = opt
                .strip_prefix("seccomp=")
                .or_else(|| opt.strip_prefix("seccomp:"))
            {
                if file != "unconfined" {
                    let text = std::fs::read_to_string(file).map_err(|e| {
                        Error::Invalid(format!("opening seccomp profile ({file}) failed: {e}"))
                    })?;
                    serde_json::from_str::<skiff_runtime::spec::Seccomp>(&text).map_err(|e| {
                        Error::Invalid(format!("decoding seccomp profile ({file}) failed: {e}"))
                    })?;
                    *opt = format!("seccomp={text}");
                }
            } else if !matches!(
                opt.as_str(),
                "no-new-privileges"
                    | "no-new-privileges:true"
                    | "no-new-privileges=true"
                    | "no-new-privileges:false"
                    | "no-new-privileges=false"
            ) {
                return Err(Error::Invalid(format!("invalid --security-opt: {opt:?}")));
            }
        }
        let healthcheck = if o.no_healthcheck {
            Some(HealthConfig {
                test: vec!["NONE".into()],
                ..Default::default()
            })
        } else {
            let mut h = ic
                .healthcheck
                .as_ref()
                .map(|i| HealthConfig {
                    test: i.test.clone(),
                    interval: i.interval,
                    timeout: i.timeout,
                    start_period: i.start_period,
                    retries: i.retries,
                })
                .unwrap_or_default();
            let f = &o.healthcheck;
            if !f.test.is_empty() {
                h.test = f.test.clone();
            }
            for (dst, src) in [
                (&mut h.interval, f.interval),
                (&mut h.timeout, f.timeout),
                (&mut h.start_period, f.start_period),
                (&mut h.retries, f.retries),
            ] {
                if src != 0 {
                    *dst = src;
                }
            }
            (!h.test.is_empty() || h != HealthConfig::default()).then_some(h)
        };
        let c = Container {
            id: crate::names::new_id(),
            name,
            created: now(),
            image_id: image_id.to_string(),
            config: Config {
                hostname: o.hostname.clone().unwrap_or_default(),
                domainname: String::new(),
                user: o
                    .user
                    .clone()
                    .unwrap_or_else(|| ic.user.clone().unwrap_or_default()),
                tty: o.tty,
                open_stdin: o.open_stdin,
                env,
                cmd,
                entrypoint,
                working_dir: o
                    .workdir
                    .clone()
                    .unwrap_or_else(|| ic.working_dir.clone().unwrap_or_default()),
                labels,
                stop_signal: o.stop_signal.clone().or(ic.stop_signal.clone()),
                stop_timeout: o.stop_timeout,
                image: o.image.clone(),
                volumes: ic.volumes.keys().cloned().collect(),
                exposed_ports: exposed,
                healthcheck,
            },
            host,
            state: State::default(),
        };
        crate::spec::capabilities(&c)?;
        if let Some(s) = &c.config.stop_signal {
            parse_signal(s)?;
        }
        check_cpus(&c.host)?;
        // Volumes: those this create makes are removed again if it fails.
        let before: std::collections::HashSet<String> =
            self.volume_list()?.into_iter().map(|v| v.name).collect();
        let mut c = c;
        let undo_volumes = |e: &Engine| {
            for v in e.volume_list().unwrap_or_default() {
                if !before.contains(&v.name) {
                    let _ = e.volume_remove(&v.name);
                }
            }
        };
        c.host.mounts = match self.prepare_mounts(&c.host.mounts, &c.config.volumes) {
            Ok(m) => m,
            Err(e) => {
                undo_volumes(self);
                return Err(e);
            }
        };
        let dir = self.paths.container_dir(&c.id);
        for sub in ["upper", "work", "rootfs"] {
            let p = dir.join(sub);
            if let Err(e) = std::fs::create_dir_all(&p) {
                undo_volumes(self);
                let _ = std::fs::remove_dir_all(&dir);
                return Err(io_err("creating", &p)(e));
            }
        }
        let mut tries = 0;
        loop {
            match self.store.insert(&c) {
                Ok(()) => break,
                // A random name taken: pick another, as Docker does (with a
                // digit appended after a few tries).
                Err(crate::store::StoreError::NameInUse { .. })
                    if o.name.is_none() && tries < 20 =>
                {
                    tries += 1;
                    c.name = crate::names::random_name();
                    if tries > 5 {
                        c.name
                            .push(char::from(b'0' + crate::names::random_bytes::<1>()[0] % 10));
                    }
                }
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    undo_volumes(self);
                    return Err(e.into());
                }
            }
        }
        if let Some(n) = &network {
            // Docker 20.10 lets `--ip` pass on the default bridge, unused.
            let ip = o.ip.filter(|_| n.name != "bridge");
            if let Err(e) = self.add_endpoint(n, &c.id, &o.network_aliases, ip) {
                let _ = self.store.remove(&c.id);
                let _ = std::fs::remove_dir_all(&dir);
                undo_volumes(self);
                return Err(e);
            }
        }
        self.event(&c, "create", &[]);
        timing("engine create: recorded");
        Ok(c)
    }

    /// Record an event about container `c`.
    pub fn event(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let mut attrs = serde_json::json!({"image": c.config.image, "name": c.name});
        for (k, v) in extra {
            attrs[*k] = serde_json::Value::String(v.clone());
        }
        let _ = self.store.add_event("container", action, &c.id, &attrs);
    }

    /// The container, with its state checked against the processes it
    /// names: a container whose supervisor and process are gone is
    /// recorded as exited.
    pub fn find(&self, what: &str) -> Result<Container> {
        let c = self.store.find(what)?;
        self.reconcile(c)
    }

    /// Every container, states checked as in [`find`](Self::find).
    pub fn list(&self) -> Result<Vec<Container>> {
        self.store
            .list()?
            .into_iter()
            .map(|c| self.reconcile(c))
            .collect()
    }

    fn reconcile(&self, mut c: Container) -> Result<Container> {
        let active = matches!(
            c.state.status,
            Status::Running | Status::Paused | Status::Restarting
        );
        if !active || alive(c.state.supervisor_pid, c.state.supervisor_start) {
            return Ok(c);
        }
        if c.state.status != Status::Restarting && alive(c.state.pid, c.state.pid_start) {
            // The supervisor died; the container runs on (its output is lost).
            return Ok(c);
        }
        let id = c.id.clone();
        c.state = self.store.update_state(&id, |s| {
            if matches!(
                s.status,
                Status::Running | Status::Paused | Status::Restarting
            ) && !alive(s.supervisor_pid, s.supervisor_start)
            {
                s.status = Status::Exited;
                if s.exit_code == 0 {
                    s.exit_code = 255;
                }
                s.pid = 0;
                s.finished_at = now();
                s.error = "the container's supervisor died".into();
            }
        })?;
        self.cleanup_runtime(&c);
        Ok(c)
    }

    /// Remove what a dead container left: the runtime's state, its cgroup,
    /// the rootfs mount.
    pub(crate) fn cleanup_runtime(&self, c: &Container) {
        let _ = skiff_runtime::container::delete(&self.paths.runtime_root(), &c.id, true);
        let rootfs = self.paths.container_dir(&c.id).join("rootfs");
        unmount(&rootfs);
        remove_cgroups(&c.id);
    }

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

    /// `kill`: send `signal` to the container's main process.
    pub fn kill(&self, what: &str, signal: i32) -> Result<Container> {
        let c = self.find(what)?;
        if !matches!(c.state.status, Status::Running | Status::Paused)
            || !alive(c.state.pid, c.state.pid_start)
        {
            return Err(Error::NotRunning(c.id));
        }
        self.store
            .update_state(&c.id, |s| s.stopped_by_user = true)?;
        // SAFETY: kill with a pid checked alive above (start time matched).
        if unsafe { libc::kill(c.state.pid, signal) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(Error::Internal(format!(
                    "Cannot kill container {}: {e}",
                    c.id
                )));
            }
        }
        if c.state.status == Status::Paused && signal == libc::SIGKILL {
            let _ = skiff_runtime::container::resume(&self.paths.runtime_root(), &c.id);
        }
        self.event(&c, "kill", &[("signal", signal.to_string())]);
        Ok(c)
    }

    /// `stop`: the stop signal, then SIGKILL after `timeout` seconds; returns
    /// once the supervisor recorded the exit.
    pub fn stop(&self, what: &str, timeout: Option<i64>) -> Result<Container> {
        let c = self.find(what)?;
        if !matches!(
            c.state.status,
            Status::Running | Status::Paused | Status::Restarting
        ) {
            return Ok(c);
        }
        self.store
            .update_state(&c.id, |s| s.stopped_by_user = true)?;
        if c.state.status == Status::Paused {
            let _ = skiff_runtime::container::resume(&self.paths.runtime_root(), &c.id);
        }
        let sig = match &c.config.stop_signal {
            Some(s) => parse_signal(s)?,
            None => libc::SIGTERM,
        };
        let t = timeout.or(c.config.stop_timeout).unwrap_or(10).max(0) as u64;
        if alive(c.state.pid, c.state.pid_start) {
            self.event(&c, "kill", &[("signal", sig.to_string())]);
            // SAFETY: kill of the container's checked pid.
            unsafe { libc::kill(c.state.pid, sig) };
            if !wait_gone(c.state.pid, c.state.pid_start, Duration::from_secs(t)) {
                self.event(&c, "kill", &[("signal", libc::SIGKILL.to_string())]);
                // SAFETY: as above.
                unsafe { libc::kill(c.state.pid, libc::SIGKILL) };
                wait_gone(c.state.pid, c.state.pid_start, Duration::from_secs(10));
            }
        }
        self.wait_recorded(&c.id, Duration::from_secs(10))?;
        self.event(&c, "stop", &[]);
        self.find(&c.id)
    }

    /// Wait until the store no longer says running (the supervisor recorded
    /// the exit, or is gone).
    fn wait_recorded(&self, id: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = match self.store.get(id)? {
                Some(c) => self.reconcile(c)?,
                None => return Ok(()),
            };
            if !matches!(c.state.status, Status::Running | Status::Paused) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Supervisor {
                    id: id.into(),
                    msg: "it did not record the container's exit".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// `wait`: block until the container is not running; its exit code.
    pub fn wait(&self, what: &str) -> Result<i32> {
        let c = self.find(what)?;
        let mut cur = c;
        loop {
            match cur.state.status {
                Status::Running | Status::Paused | Status::Restarting => {}
                _ => return Ok(cur.state.exit_code),
            }
            if cur.state.status != Status::Restarting {
                wait_gone(
                    cur.state.pid,
                    cur.state.pid_start,
                    Duration::from_millis(500),
                );
            } else {
                std::thread::sleep(Duration::from_millis(20));
            }
            cur = match self.store.get(&cur.id)? {
                Some(c) => self.reconcile(c)?,
                // Removed (`--rm`): Docker reports the exit it saw.
                None => return Ok(cur.state.exit_code),
            };
        }
    }

    /// `rm`: remove a container (`force`: kill it first).
    pub fn remove(&self, what: &str, force: bool, volumes: bool) -> Result<Container> {
        let c = self.find(what)?;
        if matches!(
            c.state.status,
            Status::Running | Status::Paused | Status::Restarting
        ) {
            if !force {
                if c.state.status == Status::Paused {
                    return Err(Error::Conflict(format!(
                        "You cannot remove a paused container {}. Unpause and then stop the container before attempting removal or force remove",
                        c.id
                    )));
                }
                return Err(Error::RemoveRunning(c.id));
            }
            self.store
                .update_state(&c.id, |s| s.stopped_by_user = true)?;
            if c.state.status == Status::Paused {
                let _ = skiff_runtime::container::resume(&self.paths.runtime_root(), &c.id);
            }
            if alive(c.state.pid, c.state.pid_start) {
                // SAFETY: kill of the container's checked pid.
                unsafe { libc::kill(c.state.pid, libc::SIGKILL) };
                wait_gone(c.state.pid, c.state.pid_start, Duration::from_secs(10));
            }
            self.wait_recorded(&c.id, Duration::from_secs(10))?;
            // A restart policy's supervisor must not bring it back.
            if alive(c.state.supervisor_pid, c.state.supervisor_start) {
                wait_gone(
                    c.state.supervisor_pid,
                    c.state.supervisor_start,
                    Duration::from_secs(5),
                );
            }
        } else if self.being_started(&c) {
            if !force {
                return Err(Error::RemoveRunning(c.id));
            }
            self.stop_starting(&c);
        }
        self.destroy(&c)?;
        if volumes {
            self.remove_anonymous_volumes(&c);
        }
        Ok(c)
    }

    /// Whether a supervisor is starting `c` (which still reads as created).
    fn being_started(&self, c: &Container) -> bool {
        crate::startlock::holder(&self.paths.container_dir(&c.id)) != crate::startlock::Holder::None
    }

    /// Kill the supervisor that is starting `c` (what it made, the rootfs
    /// mount and a created init, `destroy` then removes).
    fn stop_starting(&self, c: &Container) {
        use crate::startlock::{holder, Holder};
        let dir = self.paths.container_dir(&c.id);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match holder(&dir) {
                Holder::None => break,
                Holder::Starting => std::thread::sleep(Duration::from_millis(5)),
                Holder::Supervisor(pid, start) => {
                    // SAFETY: kill of the checked pid of the supervisor.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    wait_gone(pid, start, Duration::from_secs(5));
                }
            }
        }
    }

    /// Remove a stopped container's runtime state, mount, files and record.
    pub(crate) fn destroy(&self, c: &Container) -> Result<()> {
        self.cleanup_runtime(c);
        timing("destroy: runtime cleaned");
        let dir = self.paths.container_dir(&c.id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io_err("removing", &dir))?;
        }
        timing("destroy: files removed");
        self.store.remove(&c.id)?;
        self.event(c, "destroy", &[]);
        Ok(())
    }

    /// `rename`.
    pub fn rename(&self, what: &str, new_name: &str) -> Result<()> {
        let c = self.find(what)?;
        let n = crate::names::check_name(new_name).map_err(Error::Invalid)?;
        if n == c.name {
            return Err(Error::Invalid(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        self.store.rename(&c.id, &n)?;
        let mut renamed = c.clone();
        renamed.name = n;
        self.event(&renamed, "rename", &[("oldName", format!("/{}", c.name))]);
        Ok(())
    }

    /// The path of the container's log.
    pub fn log_path(&self, c: &Container) -> std::path::PathBuf {
        crate::logs::log_path(&self.paths.container_dir(&c.id), &c.id)
    }

    /// `inspect`: Docker's JSON shape for the fields that apply.
    pub fn inspect(&self, c: &Container) -> serde_json::Value {
        let mut v = self.inspect_base(c);
        complete_inspect(&mut v, c);
        v
    }

    fn inspect_base(&self, c: &Container) -> serde_json::Value {
        use serde_json::json;
        let s = &c.state;
        let (path, args) = {
            let mut all = c.config.entrypoint.clone();
            all.extend(c.config.cmd.iter().cloned());
            let mut it = all.into_iter();
            (it.next().unwrap_or_default(), it.collect::<Vec<_>>())
        };
        let dir = self.paths.container_dir(&c.id);
        let mut state = json!({
            "Status": s.status.as_str(),
            "Running": matches!(s.status, Status::Running | Status::Paused),
            "Paused": s.status == Status::Paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": if matches!(s.status, Status::Running | Status::Paused) { s.pid } else { 0 },
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at,
            "FinishedAt": s.finished_at,
        });
        if let Some(h) = &s.health {
            state["Health"] = serde_json::to_value(h).expect("health serializes");
        }
        json!({
            "Id": c.id,
            "Created": c.created,
            "Path": path,
            "Args": args,
            "State": state,
            "Image": c.image_id,
            "ResolvConfPath": dir.join("resolv.conf"),
            "HostnamePath": dir.join("hostname"),
            "HostsPath": dir.join("hosts"),
            "LogPath": self.log_path(c),
            "Name": format!("/{}", c.name),
            "RestartCount": s.restart_count,
            "Driver": "overlay2",
            "Platform": "linux",
            "HostConfig": {
                "Binds": if c.host.binds.is_empty() { serde_json::Value::Null } else { json!(c.host.binds) },
                "NetworkMode": c.host.network_mode,
                "RestartPolicy": {
                    "Name": if c.host.restart_policy.name.is_empty() { "no" } else { c.host.restart_policy.name.as_str() },
                    "MaximumRetryCount": c.host.restart_policy.maximum_retry_count,
                },
                "AutoRemove": c.host.auto_remove,
                "CapAdd": if c.host.cap_add.is_empty() { serde_json::Value::Null } else { json!(c.host.cap_add) },
                "CapDrop": if c.host.cap_drop.is_empty() { serde_json::Value::Null } else { json!(c.host.cap_drop) },
                "Privileged": c.host.privileged,
                "ReadonlyRootfs": c.host.read_only_rootfs,
                "SecurityOpt": if c.host.security_opt.is_empty() { serde_json::Value::Null } else { json!(c.host.security_opt.iter().map(|o| if o.starts_with("seccomp={") { "seccomp=<profile>".to_string() } else { o.clone() }).collect::<Vec<_>>()) },
                "Memory": c.host.memory,
                "MemorySwap": c.host.memory_swap,
                "NanoCpus": c.host.nano_cpus,
                "CpuShares": c.host.cpu_shares,
                "CpusetCpus": c.host.cpuset_cpus,
                "PidsLimit": if c.host.pids_limit > 0 { json!(c.host.pids_limit) } else { serde_json::Value::Null },
                "Init": c.host.init,
                "PortBindings": c.host.port_bindings.iter().map(|(k, v)| (k.clone(), json!(v.iter().map(|b| json!({"HostIp": b.host_ip, "HostPort": b.host_port})).collect::<Vec<_>>()))).collect::<serde_json::Map<_, _>>(),
                "PublishAllPorts": c.host.publish_all_ports,
                "Dns": c.host.dns,
                "DnsSearch": c.host.dns_search,
                "DnsOptions": c.host.dns_options,
                "ExtraHosts": if c.host.extra_hosts.is_empty() { serde_json::Value::Null } else { json!(c.host.extra_hosts) },
                "Mounts": mount_flags(c),
                "Ulimits": if c.host.ulimits.is_empty() { serde_json::Value::Null } else {
                    json!(c.host.ulimits.iter().map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard})).collect::<Vec<_>>())
                },
                "Tmpfs": c.host.tmpfs,
                "LogConfig": {"Type": "json-file", "Config": if c.host.log_opts.is_empty() { log_config(&c.host) } else { c.host.log_opts.clone() }},
            },
            "GraphDriver": {
                "Name": "overlay2",
                "Data": {
                    "MergedDir": dir.join("rootfs"),
                    "UpperDir": dir.join("upper"),
                    "WorkDir": dir.join("work"),
                },
            },
            "Mounts": self.inspect_mounts(c),
            "Config": {
                "Hostname": crate::spec::hostname(c),
                "Domainname": c.config.domainname,
                "User": c.config.user,
                "AttachStdin": false,
                "Tty": c.config.tty,
                "OpenStdin": c.config.open_stdin,
                "Env": c.config.env,
                "Cmd": if c.config.cmd.is_empty() { serde_json::Value::Null } else { json!(c.config.cmd) },
                "Image": c.config.image,
                "Volumes": if c.config.volumes.is_empty() { serde_json::Value::Null } else {
                    serde_json::Value::Object(c.config.volumes.iter().map(|v| (v.clone(), json!({}))).collect())
                },
                "WorkingDir": c.config.working_dir,
                // Docker's maps come out with their keys in string order.
                "ExposedPorts": if c.config.exposed_ports.is_empty() { serde_json::Value::Null } else {
                    let mut m: serde_json::Map<_, _> = c.config.exposed_ports.iter().map(|v| (v.clone(), json!({}))).collect();
                    m.sort_keys();
                    serde_json::Value::Object(m)
                },
                "Entrypoint": if c.config.entrypoint.is_empty() { serde_json::Value::Null } else { json!(c.config.entrypoint) },
                "Labels": c.config.labels,
                "StopSignal": c.config.stop_signal,
                "Healthcheck": c.config.healthcheck.as_ref().map(|h| {
                    let mut v = json!({"Test": h.test});
                    for (k, n) in [("Interval", h.interval), ("Timeout", h.timeout),
                                   ("StartPeriod", h.start_period), ("Retries", h.retries)] {
                        if n != 0 {
                            v[k] = json!(n);
                        }
                    }
                    v
                }),
                "StopTimeout": c.config.stop_timeout,
            },
            "NetworkSettings": self.network_settings(c),
        })
    }
}

fn log_config(h: &HostConfig) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(s) = h.log_max_size {
        m.insert("max-size".to_string(), s.to_string());
    }
    if let Some(f) = h.log_max_file {
        m.insert("max-file".to_string(), f.to_string());
    }
    m
}

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
        let failed = |e: skiff_runtime::Error| {
            let msg = e.to_string();
            let m = msg.to_ascii_lowercase();
            let cause = if m.contains("not found")
                || m.contains("no such file")
                || m.contains("permission denied")
            {
                crate::StartCause::NotExecutable
            } else {
                crate::StartCause::Other
            };
            Error::Start {
                msg: format!("OCI runtime exec failed: {msg}"),
                cause,
            }
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

/// One container's resource use (`stats`).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// CPU time used, nanoseconds.
    pub cpu_ns: u64,
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub pids: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    /// Bytes received and sent on the container's own interfaces (not `lo`;
    /// none with `--network host`, as Docker counts them).
    pub net_rx: u64,
    pub net_tx: u64,
}

/// Bytes received and sent by every interface but `lo` in a
/// `/proc/PID/net/dev` table.
fn net_dev_totals(table: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0u64, 0u64);
    for l in table.lines().skip(2) {
        let Some((name, counters)) = l.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = counters
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

fn read_u64(p: &str) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

impl Engine {
    /// `pause`: freeze every process of the container.
    pub fn pause(&self, what: &str) -> Result<()> {
        let c = self.find(what)?;
        match c.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::Conflict(format!(
                    "Container {} is already paused",
                    c.id
                )))
            }
            _ => return Err(Error::NotRunning(c.id)),
        }
        skiff_runtime::container::pause(&self.paths.runtime_root(), &c.id)
            .map_err(|e| Error::Internal(format!("Cannot pause container {}: {e}", c.id)))?;
        self.store
            .update_state(&c.id, |s| s.status = Status::Paused)?;
        self.event(&c, "pause", &[]);
        Ok(())
    }

    /// `unpause`.
    pub fn unpause(&self, what: &str) -> Result<()> {
        let c = self.find(what)?;
        if c.state.status != Status::Paused {
            return Err(Error::Conflict(format!("Container {} is not paused", c.id)));
        }
        skiff_runtime::container::resume(&self.paths.runtime_root(), &c.id)
            .map_err(|e| Error::Internal(format!("Cannot unpause container {}: {e}", c.id)))?;
        self.store
            .update_state(&c.id, |s| s.status = Status::Running)?;
        self.event(&c, "unpause", &[]);
        Ok(())
    }

    /// Host pids of the container's processes.
    pub fn pids(&self, c: &Container) -> Result<Vec<i32>> {
        if !matches!(c.state.status, Status::Running | Status::Paused) {
            return Err(Error::NotRunning(c.id.clone()));
        }
        skiff_runtime::container::pids(&self.paths.runtime_root(), &c.id)
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// Resource use read from the container's cgroups (v1 or v2).
    pub fn stats(&self, c: &Container) -> Stats {
        let mut s = Stats::default();
        let rel = format!("skiff/{}", c.id);
        let v2 = format!("/sys/fs/cgroup/{rel}");
        if std::path::Path::new(&format!("{v2}/cgroup.procs")).exists()
            && std::path::Path::new(&format!("{v2}/memory.current")).exists()
        {
            s.mem_usage = read_u64(&format!("{v2}/memory.current")).unwrap_or(0);
            s.mem_limit = read_u64(&format!("{v2}/memory.max")).unwrap_or(0);
            if let Ok(t) = std::fs::read_to_string(format!("{v2}/cpu.stat")) {
                for l in t.lines() {
                    if let Some(v) = l.strip_prefix("usage_usec ") {
                        s.cpu_ns = v.trim().parse::<u64>().unwrap_or(0) * 1000;
                    }
                }
            }
            s.pids = read_u64(&format!("{v2}/pids.current")).unwrap_or(0);
        } else {
            let m = format!("/sys/fs/cgroup/memory/{rel}");
            // Docker subtracts the page cache's inactive files.
            let usage = read_u64(&format!("{m}/memory.usage_in_bytes")).unwrap_or(0);
            let inactive = std::fs::read_to_string(format!("{m}/memory.stat"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| {
                            l.strip_prefix("total_inactive_file ")
                                .map(|v| v.trim().parse::<u64>().ok())
                        })
                        .flatten()
                })
                .unwrap_or(0);
            s.mem_usage = usage.saturating_sub(inactive);
            s.mem_limit = read_u64(&format!("{m}/memory.limit_in_bytes")).unwrap_or(0);
            s.cpu_ns =
                read_u64(&format!("/sys/fs/cgroup/cpuacct/{rel}/cpuacct.usage")).unwrap_or(0);
            s.pids = read_u64(&format!("/sys/fs/cgroup/pids/{rel}/pids.current")).unwrap_or(0);
            if let Ok(t) = std::fs::read_to_string(format!(
                "/sys/fs/cgroup/blkio/{rel}/blkio.throttle.io_service_bytes"
            )) {
                for l in t.lines() {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    if f.len() == 3 {
                        let n: u64 = f[2].parse().unwrap_or(0);
                        match f[1] {
                            "Read" => s.blk_read += n,
                            "Write" => s.blk_write += n,
                            _ => {}
                        }
                    }
                }
            }
        }
        if c.host.network_mode != "host" && alive(c.state.pid, c.state.pid_start) {
            if let Ok(t) = std::fs::read_to_string(format!("/proc/{}/net/dev", c.state.pid)) {
                (s.net_rx, s.net_tx) = net_dev_totals(&t);
            }
        }
        // An unlimited cgroup reports a huge number: the host's memory then.
        let host = host_memory();
        if s.mem_limit == 0 || s.mem_limit > host {
            s.mem_limit = host;
        }
        s
    }

    /// `container prune`: remove every stopped container; their IDs.
    pub fn prune_containers(&self) -> Result<Vec<String>> {
        let mut gone = Vec::new();
        for c in self.list()? {
            if matches!(
                c.state.status,
                Status::Exited | Status::Created | Status::Dead
            ) && !self.being_started(&c)
            {
                self.destroy(&c)?;
                gone.push(c.id);
            }
        }
        self.sweep_orphans();
        Ok(gone)
    }

    /// Remove container directories no record names (left by a supervisor
    /// killed while it removed a `--rm` container).
    pub fn sweep_orphans(&self) {
        // Ports of containers that are gone or stopped: their rules too.
        let _ = self.store.conn().map(|conn| {
            conn.execute(
                "DELETE FROM published WHERE container NOT IN
                 (SELECT id FROM containers WHERE status IN ('running','paused','restarting'))",
                [],
            )
        });
        if self.network_list().is_ok_and(|l| !l.is_empty()) {
            let _ = self.sync_rules(true);
        }
        let known: std::collections::HashSet<String> = self
            .store
            .list()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect();
        let Ok(rd) = std::fs::read_dir(self.paths.root.join("containers")) else {
            return;
        };
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if known.contains(&id) || id.len() != 64 {
                continue;
            }
            let _ = skiff_runtime::container::delete(&self.paths.runtime_root(), &id, true);
            unmount(&e.path().join("rootfs"));
            let _ = std::fs::remove_dir_all(e.path());
        }
    }

    /// Bytes in a container's writable layer.
    pub fn rw_size(&self, c: &Container) -> u64 {
        fn walk(dir: &Path, rel: &str) -> u64 {
            let mut n = 0;
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let r = format!("{rel}/{}", e.file_name().to_string_lossy());
                if in_init_layer(&r) {
                    continue;
                }
                match e.metadata() {
                    Ok(m) if m.is_dir() => n += walk(&e.path(), &r),
                    Ok(m) => n += m.len(),
                    Err(_) => {}
                }
            }
            n
        }
        walk(&self.paths.container_dir(&c.id).join("upper"), "")
    }
}

/// The host's memory in bytes.
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(u64::MAX)
}

/// Paths Docker keeps in a container's init layer, which `diff` and
/// `commit` leave out: the mount points skiff makes in the writable layer.
pub const INIT_PATHS: [&str; 9] = [
    "/dev",
    "/proc",
    "/sys",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/mtab",
    "/.dockerenv",
    "/sbin/docker-init",
];

/// Is `p` (absolute, in the container) one of [`INIT_PATHS`] or below one?
pub fn in_init_layer(p: &str) -> bool {
    INIT_PATHS
        .iter()
        .any(|i| p == *i || (p.starts_with(i) && p.as_bytes().get(i.len()) == Some(&b'/')))
}

/// What a path in the writable layer is, seen through the image's layers.
fn in_lower(lower: &[std::path::PathBuf], rel: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    for l in lower {
        // A whiteout on the way hides everything below it.
        let mut p = l.clone();
        let mut hidden = false;
        for comp in rel.components() {
            p.push(comp);
            if let Ok(md) = std::fs::symlink_metadata(&p) {
                if md.file_type().is_char_device() && {
                    use std::os::unix::fs::MetadataExt;
                    md.rdev() == 0
                } {
                    hidden = true;
                    break;
                }
            }
        }
        if hidden {
            return false;
        }
        if std::fs::symlink_metadata(l.join(rel)).is_ok() {
            return true;
        }
    }
    false
}

impl Engine {
    /// `diff`: what changed in the container's filesystem, as Docker lists
    /// it: (`A` added, `C` changed, `D` deleted, path), sorted by path.
    pub fn diff(&self, what: &str) -> Result<Vec<(char, String)>> {
        let c = self.find(what)?;
        let images = skiff_image::service::Images::open(&self.paths.root)?;
        let id: skiff_image::digest::Digest = c
            .image_id
            .parse()
            .map_err(|e| Error::Internal(format!("image ID {}: {e}", c.image_id)))?;
        let lower = images.layer_dirs(&id)?;
        let upper = self.paths.container_dir(&c.id).join("upper");
        let mut out = Vec::new();
        walk_changes(&upper, &lower, Path::new(""), &mut out);
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }
}

/// Changes below `rel` in `upper`; returns whether any was recorded.
fn walk_changes(
    upper: &Path,
    lower: &[std::path::PathBuf],
    rel: &Path,
    out: &mut Vec<(char, String)>,
) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(rd) = std::fs::read_dir(upper.join(rel)) else {
        return false;
    };
    let mut any = false;
    for e in rd.flatten() {
        let r = rel.join(e.file_name());
        let shown = format!("/{}", r.display());
        if in_init_layer(&shown) {
            continue;
        }
        let Ok(md) = e.metadata() else { continue };
        if md.file_type().is_char_device() && md.rdev() == 0 {
            out.push(('D', shown));
            any = true;
            continue;
        }
        let existed = in_lower(lower, &r);
        if md.is_dir() {
            if existed {
                // A directory copied up: changed if anything in it changed.
                let mark = out.len();
                if walk_changes(upper, lower, &r, out) {
                    out.insert(mark, ('C', shown));
                    any = true;
                }
            } else {
                out.push(('A', shown));
                walk_changes(upper, &[], &r, out);
                any = true;
            }
        } else {
            out.push((if existed { 'C' } else { 'A' }, shown));
            any = true;
        }
    }
    any
}

/// What `commit` takes.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub author: Option<String>,
    pub message: Option<String>,
    /// Pause a running container while its files are read (Docker's default).
    pub pause: bool,
}

impl Engine {
    /// `commit`: a new image from the container's changes; its ID.
    pub fn commit(
        &self,
        what: &str,
        name: Option<&str>,
        o: &CommitOptions,
    ) -> Result<skiff_image::digest::Digest> {
        let c = self.find(what)?;
        let mut images = skiff_image::service::Images::open(&self.paths.root)?;
        let parent: skiff_image::digest::Digest = c
            .image_id
            .parse()
            .map_err(|e| Error::Internal(format!("image ID {}: {e}", c.image_id)))?;
        let upper = self.paths.container_dir(&c.id).join("upper");
        let tmp_dir = self.paths.root.join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(io_err("creating", &tmp_dir))?;
        let tmp = tmp_dir.join(format!("commit-{}.tar", c.id));
        let paused = o.pause && c.state.status == Status::Running;
        if paused {
            self.pause(&c.id)?;
        }
        let written = std::fs::File::create(&tmp)
            .and_then(|f| crate::volumes::layer_tar(&upper, &c, std::io::BufWriter::new(f)));
        if paused {
            let _ = self.unpause(&c.id);
        }
        written.map_err(io_err("writing the layer of", &upper))?;
        let cmd = {
            let mut all = c.config.entrypoint.clone();
            all.extend(c.config.cmd.iter().cloned());
            all.join(" ")
        };
        let env = c.config.env.clone();
        let config = skiff_image::manifest::ContainerConfig {
            user: (!c.config.user.is_empty()).then(|| c.config.user.clone()),
            env,
            entrypoint: (!c.config.entrypoint.is_empty()).then(|| c.config.entrypoint.clone()),
            cmd: (!c.config.cmd.is_empty()).then(|| c.config.cmd.clone()),
            working_dir: (!c.config.working_dir.is_empty()).then(|| c.config.working_dir.clone()),
            labels: c.config.labels.clone(),
            volumes: c
                .config
                .volumes
                .iter()
                .map(|v| (v.clone(), Default::default()))
                .collect(),
            stop_signal: c.config.stop_signal.clone(),
            ..Default::default()
        };
        let opts = skiff_image::import::CommitOptions {
            config,
            author: o.author.clone(),
            comment: o.message.clone(),
            created_by: cmd,
            created: now(),
            container: Some(c.id.clone()),
        };
        let f = std::fs::File::open(&tmp).map_err(io_err("reading", &tmp));
        let result = f.and_then(|f| {
            images
                .commit(&parent, std::io::BufReader::new(f), name, &opts)
                .map_err(Error::from)
        });
        let _ = std::fs::remove_file(&tmp);
        let id = result?;
        self.event(&c, "commit", &[]);
        Ok(id)
    }
}

/// The CPUs of this host, as `0-1`-style ranges parse to.
fn online_cpus() -> Vec<u32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    parse_cpu_list(text.trim()).unwrap_or_default()
}

/// `0-2,4` into [0, 1, 2, 4].
fn parse_cpu_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

/// Docker's checks of `--cpus` and `--cpuset-cpus` against the host.
fn check_cpus(h: &HostConfig) -> Result<()> {
    let online = online_cpus();
    let n = online.len().max(1) as i64;
    if h.nano_cpus > 0 && (h.nano_cpus < 10_000_000 || h.nano_cpus > n * 1_000_000_000) {
        return Err(Error::Invalid(format!(
            "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
        )));
    }
    if !h.cpuset_cpus.is_empty() {
        let want = parse_cpu_list(&h.cpuset_cpus).ok_or_else(|| {
            Error::Invalid(format!("Invalid value {} for cpuset cpus", h.cpuset_cpus))
        })?;
        let missing: Vec<String> = want
            .iter()
            .filter(|c| !online.contains(c))
            .map(|c| c.to_string())
            .collect();
        if !missing.is_empty() {
            let avail =
                std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
            return Err(Error::Invalid(format!(
                "Requested CPUs are not available - requested {}, available: {}",
                h.cpuset_cpus,
                avail.trim()
            )));
        }
    }
    Ok(())
}

/// The rest of Docker's inspect document: keys skiff has no setting for yet,
/// with the values Docker shows for them, and keys Docker leaves out when
/// unset.
fn complete_inspect(v: &mut serde_json::Value, c: &Container) {
    use serde_json::{json, Value};
    let set = |m: &mut Value, pairs: Value| {
        if let (Some(m), Some(p)) = (m.as_object_mut(), pairs.as_object()) {
            for (k, v) in p {
                m.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    };
    set(
        v,
        json!({"AppArmorProfile": "", "ExecIDs": null, "MountLabel": "", "ProcessLabel": ""}),
    );
    set(
        &mut v["Config"],
        json!({"AttachStdout": false, "AttachStderr": false, "StdinOnce": false, "OnBuild": null}),
    );
    if let Some(cfg) = v["Config"].as_object_mut() {
        for k in ["Healthcheck", "StopSignal", "StopTimeout", "ExposedPorts"] {
            if cfg.get(k).is_some_and(Value::is_null) {
                cfg.remove(k);
            }
        }
    }
    let private = c.host.privileged;
    set(
        &mut v["HostConfig"],
        json!({
            "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": null,
            "BlkioDeviceWriteBps": null, "BlkioDeviceReadIOps": null, "BlkioDeviceWriteIOps": null,
            "Cgroup": "", "CgroupParent": "", "CgroupnsMode": "host", "ConsoleSize": [0, 0],
            "ContainerIDFile": "", "CpuCount": 0, "CpuPercent": 0,
            "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
            "CpusetMems": "", "DeviceCgroupRules": null, "DeviceRequests": null, "Devices": [],
            "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": null, "GroupAdd": null,
            "IOMaximumBandwidth": 0, "IOMaximumIOps": 0, "IpcMode": "private", "Isolation": "",
            "KernelMemory": 0, "KernelMemoryTCP": 0, "Links": null,
            "MaskedPaths": if private { Value::Null } else { json!(crate::spec::MASKED) },
            "ReadonlyPaths": if private { Value::Null } else { json!(crate::spec::READONLY) },
            "MemoryReservation": 0, "MemorySwappiness": null, "OomKillDisable": false,
            "OomScoreAdj": 0, "PidMode": "", "PortBindings": {}, "PublishAllPorts": false,
            "Runtime": "runc", "ShmSize": 67108864, "UTSMode": "", "UsernsMode": "",
            "VolumeDriver": "", "VolumesFrom": null,
        }),
    );
    if let Some(h) = v["HostConfig"].as_object_mut() {
        if !c.host.init {
            h.remove("Init");
        }
        if c.host.tmpfs.is_empty() {
            h.remove("Tmpfs");
        }
        if h.get("Mounts").is_some_and(Value::is_null) {
            h.remove("Mounts");
        }
    }
    set(
        &mut v["NetworkSettings"],
        json!({
            "Bridge": "", "SandboxID": "", "HairpinMode": false, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "Ports": {}, "SandboxKey": "",
            "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null, "EndpointID": "",
            "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
        }),
    );
}

/// `HostConfig.Mounts`: what `--mount` asked for, in Docker's shape.
fn mount_flags(c: &Container) -> serde_json::Value {
    use serde_json::json;
    let m: Vec<serde_json::Value> = c
        .host
        .mounts
        .iter()
        .filter(|m| m.from_mount_flag)
        .map(|m| {
            let mut v = json!({"Type": m.kind});
            if !m.source.is_empty() {
                v["Source"] = json!(m.source);
            }
            v["Target"] = json!(m.target);
            if m.read_only {
                v["ReadOnly"] = json!(true);
            }
            v
        })
        .collect();
    if m.is_empty() {
        serde_json::Value::Null
    } else {
        json!(m)
    }
}

impl Engine {
    /// `system boot`: after a reboot (or a crash of everything), bring back
    /// the containers whose restart policy says so: `always` unless the user
    /// stopped them, `unless-stopped` likewise; containers recorded running
    /// whose processes are gone are recorded exited first. Returns the IDs
    /// started.
    pub fn boot(&self) -> Result<Vec<String>> {
        let mut started = Vec::new();
        for c in self.list()? {
            let policy = c.host.restart_policy.name.as_str();
            let wants = matches!(policy, "always" | "unless-stopped") && !c.state.stopped_by_user;
            if !wants || matches!(c.state.status, Status::Running | Status::Paused) {
                continue;
            }
            // Leftovers of the last boot: the runtime's state and the mount.
            self.cleanup_runtime(&c);
            match self.start(&c.id, None) {
                Ok(s) => {
                    s.detach();
                    started.push(c.id);
                }
                Err(e) => {
                    let _ = self.store.update_state(&c.id, |s| s.error = e.to_string());
                }
            }
        }
        Ok(started)
    }
}

/// Remove the (empty) cgroups of container `id` in every hierarchy: the
/// runtime removes them with its state, but a state lost with the runroot
/// (a reboot, a wiped tmpfs) leaves them behind.
fn remove_cgroups(id: &str) {
    let Ok(layout) = skiff_runtime::cgroups::Layout::detect() else {
        return;
    };
    let roots = layout
        .v1
        .iter()
        .map(|h| h.mountpoint.clone())
        .chain(layout.unified.iter().map(|u| u.mountpoint.clone()));
    for r in roots {
        let dir = r.join("skiff").join(id);
        if dir.is_dir() {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}
