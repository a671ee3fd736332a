//! The container lifecycle as the runtime-spec defines it: create (process waits
//! at the start barrier), start, state, kill, delete, plus pause/resume, update,
//! ps and run. Everything is checked before anything is created, and a failed
//! create leaves no state directory, cgroup, mount or process behind.

use crate::caps::{self, CapSets};
use crate::cgroups::{self, Layout, Manager};
use crate::init::{self, InitConfig};
use crate::process::Prepared;
use crate::rootfs::CgroupMounts;
use crate::spec::{NamespaceType, Resources, Spec};
use crate::state::{self, State, Status};
use crate::sync::{self, Tag};
use crate::Error;
use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Options of `create` (and `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub root: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub systemd_cgroup: bool,
    /// Where compiled seccomp programs are cached (see
    /// [`crate::seccomp::compile_cached`]); None compiles every time.
    pub seccomp_cache: Option<PathBuf>,
    /// The fds to become the container process's stdin, stdout and stderr
    /// (duplicated in the child; the caller's own 0, 1 and 2 are left
    /// alone). They are borrowed: the caller keeps them open until `create`
    /// returns and closes its copies after (a pipe's reader sees EOF only
    /// when every writer is closed). A terminal given through the console
    /// socket replaces them. None: the process inherits the caller's 0, 1, 2.
    pub stdio: Option<[RawFd; 3]>,
}

/// Removes what a failed create made, in reverse order, unless disarmed.
struct Cleanup<'a> {
    dir: Option<PathBuf>,
    cgroup: Option<&'a Manager>,
    pids: Vec<i32>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for &pid in &self.pids {
            // SAFETY: kill and waitpid on processes this runtime forked.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        if let Some(cg) = self.cgroup {
            let _ = cg.destroy();
        }
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Cleanup<'_> {
    fn disarm(mut self) {
        self.dir = None;
        self.cgroup = None;
        self.pids.clear();
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |err| Error::Io {
        op,
        path: path.to_path_buf(),
        err,
    }
}

/// The runtime's cgroup view, read once per process.
fn layout() -> Result<Layout, Error> {
    Ok(Layout::detect_once()?)
}

pub(crate) fn assert_single_threaded() -> Result<(), Error> {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let threads = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split(' ').nth(18))
        .and_then(|t| t.parse::<u32>().ok())
        .unwrap_or(1);
    if threads != 1 {
        return Err(Error::Threaded(threads));
    }
    Ok(())
}

/// Capabilities this runtime does not hold itself cannot be granted: drop them
/// from every set, with a warning naming them (runc refuses the container).
pub(crate) fn drop_unavailable_caps(sets: &mut CapSets) {
    let wanted = sets.union();
    let have = caps::bounding_of(wanted);
    let missing = wanted & !have;
    if missing != 0 {
        let names: Vec<&str> = (0..64)
            .filter(|c| missing & (1u64 << c) != 0)
            .map(caps::name)
            .collect();
        crate::log::warn(&format!(
            "capabilities not in this runtime's bounding set are not granted: {}",
            names.join(", ")
        ));
        sets.limit_to(have);
    }
}

/// AppArmor and SELinux labels are applied only where the host has them; asking
/// for one on a host without it is an error, never silently ignored.
fn check_security_labels(spec: &Spec) -> Result<(), Error> {
    let p = spec.process.as_ref();
    if let Some(profile) = p
        .and_then(|p| p.apparmor_profile.as_deref())
        .filter(|s| !s.is_empty())
    {
        if !crate::process::apparmor_enabled() {
            return Err(Error::Invalid(format!(
                "apparmor profile {profile:?} requested but AppArmor is not enabled on this host"
            )));
        }
    }
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    for (what, label) in [
        (
            "process.selinuxLabel",
            p.and_then(|p| p.selinux_label.as_deref()),
        ),
        ("linux.mountLabel", spec.linux().mount_label.as_deref()),
    ] {
        if let Some(l) = label.filter(|s| !s.is_empty()) {
            if !selinux {
                return Err(Error::Invalid(format!(
                    "{what} {l:?} requested but SELinux is not enabled on this host (SELinux labels are not supported yet)"
                )));
            }
            return Err(Error::Invalid(format!(
                "{what} {l:?}: SELinux labels are not supported yet"
            )));
        }
    }
    Ok(())
}

/// Check the sysctls against the namespaces the container gets, as runc does.
fn check_sysctls(spec: &Spec) -> Result<(), Error> {
    for key in spec.linux().sysctl.keys() {
        let has = |t| spec.namespace(t).is_some();
        let ok = if key.starts_with("net.") {
            has(NamespaceType::Network)
        } else if key.starts_with("fs.mqueue.")
            || [
                "kernel.msgmax",
                "kernel.msgmnb",
                "kernel.msgmni",
                "kernel.sem",
                "kernel.shmall",
                "kernel.shmmax",
                "kernel.shmmni",
                "kernel.shm_rmid_forced",
            ]
            .contains(&key.as_str())
        {
            has(NamespaceType::Ipc)
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            has(NamespaceType::Uts)
        } else {
            false
        };
        if !ok {
            return Err(Error::Invalid(format!(
                "sysctl {key:?} is not in a separate kernel namespace the container has"
            )));
        }
    }
    Ok(())
}

fn open_ns(typ: NamespaceType, path: &str) -> Result<OwnedFd, Error> {
    nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::Invalid(format!("{} namespace path {path}: {e}", typ.proc_name())))
}

fn compile_seccomp(
    spec: &Spec,
    cache: Option<&Path>,
) -> Result<Option<crate::seccomp::Program>, Error> {
    match (&spec.linux().seccomp, cache) {
        (Some(s), Some(dir)) => Ok(Some(crate::seccomp::compile_cached(s, dir)?)),
        (Some(s), None) => Ok(Some(crate::seccomp::compile(s)?)),
        (None, _) => Ok(None),
    }
}

/// Resolve and check the rootfs directory.
fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf, Error> {
    let root = spec.root.as_ref().map(|r| r.path.as_str()).unwrap_or("");
    let p = bundle.join(root);
    match std::fs::metadata(&p) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => return Err(Error::RootfsMissing(p, "is not a directory")),
        Err(_) => return Err(Error::RootfsMissing(p, "does not exist")),
    }
    p.canonicalize().map_err(io_err("resolving", &p))
}

fn hook_state(st: &State, status: Status) -> Vec<u8> {
    serde_json::to_vec(&st.oci(status)).expect("state serializes")
}

fn write_pid_file(path: &Path, pid: i32) -> Result<(), Error> {
    let tmp = path.with_extension("skiff-tmp");
    std::fs::write(&tmp, pid.to_string()).map_err(io_err("writing pid file", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err("writing pid file", path))
}

fn write_id_maps(pid: i32, spec: &Spec) -> Result<(), Error> {
    let l = spec.linux();
    let fmt = |m: &[crate::spec::IdMapping]| {
        m.iter()
            .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
            .collect::<String>()
    };
    let uid = format!("/proc/{pid}/uid_map");
    std::fs::write(&uid, fmt(&l.uid_mappings)).map_err(io_err("writing", Path::new(&uid)))?;
    let gid = format!("/proc/{pid}/gid_map");
    std::fs::write(&gid, fmt(&l.gid_mappings)).map_err(io_err("writing", Path::new(&gid)))?;
    Ok(())
}

/// The device rules of the spec, followed by what every container needs: the
/// default devices, ptys, and the configured devices (as runc adds them).
fn with_default_devices(res: &Resources, spec: &Spec) -> Resources {
    let mut out = res.clone();
    if res.devices.is_empty() {
        return out;
    }
    let rule = |typ: &str, major: Option<i64>, minor: Option<i64>, access: &str| {
        crate::spec::DeviceCgroup {
            allow: true,
            typ: Some(typ.into()),
            major,
            minor,
            access: Some(access.into()),
        }
    };
    out.devices.push(rule("c", None, None, "m"));
    out.devices.push(rule("b", None, None, "m"));
    for (_, major, minor) in crate::rootfs::DEFAULT_DEVICES {
        out.devices
            .push(rule("c", Some(major as i64), Some(minor as i64), "rwm"));
    }
    out.devices.push(rule("c", Some(5), Some(1), "rwm")); // /dev/console
    out.devices.push(rule("c", Some(5), Some(2), "rwm")); // /dev/ptmx
    out.devices.push(rule("c", Some(136), None, "rwm")); // /dev/pts/*
    for d in &spec.linux().devices {
        let typ = if d.typ == "u" { "c" } else { d.typ.as_str() };
        if typ == "p" {
            continue;
        }
        out.devices
            .push(rule(typ, Some(d.major), Some(d.minor), "rwm"));
    }
    out
}

/// `create`: everything up to the start barrier. Returns the init pid.
pub fn create(opts: &CreateOpts) -> Result<i32, Error> {
    create_inner(opts, false).map(|(pid, _)| pid)
}

/// `create` for an engine that supervises the container: the init process
/// is the caller's child (to be reaped with `waitpid`), and a terminal, when
/// the config asks for one without a console socket, is the caller's stdio.
/// Returns the init pid.
pub fn create_child(opts: &CreateOpts) -> Result<i32, Error> {
    create_inner(opts, true).map(|(pid, _)| pid)
}

fn create_inner(opts: &CreateOpts, keep_child: bool) -> Result<(i32, Manager), Error> {
    crate::log::timing("create: begin");
    state::check_id(&opts.id)?;
    assert_single_threaded()?;
    let bundle = opts
        .bundle
        .canonicalize()
        .map_err(io_err("opening bundle", &opts.bundle))?;
    let spec = Spec::load(&bundle)?;
    let rootfs = rootfs_path(&spec, &bundle)?;
    let proc_cfg = spec
        .process
        .clone()
        .ok_or_else(|| Error::Invalid("config has no process".into()))?;
    let mut capsets = CapSets::from_spec(proc_cfg.capabilities.as_ref())?;
    drop_unavailable_caps(&mut capsets);
    check_security_labels(&spec)?;
    let seccomp = compile_seccomp(&spec, opts.seccomp_cache.as_deref())?;
    let prepared = Prepared::new(&proc_cfg, capsets, seccomp)?;
    if let Some(fds) = &opts.stdio {
        crate::stdio::check(fds)?;
    }
    crate::log::timing("create: config checked");
    check_sysctls(&spec)?;
    if let Some(h) = &spec.hooks {
        for (k, l) in [
            ("prestart", &h.prestart),
            ("createRuntime", &h.create_runtime),
            ("createContainer", &h.create_container),
            ("startContainer", &h.start_container),
            ("poststart", &h.poststart),
            ("poststop", &h.poststop),
        ] {
            crate::hooks::validate(k, l)?;
        }
    }
    if proc_cfg.terminal && opts.console_socket.is_none() && !keep_child {
        return Err(Error::Invalid(
            "process.terminal is true but no --console-socket was given".into(),
        ));
    }
    // Namespaces: join by path (user namespace first), create the rest.
    let mut joins = Vec::new();
    let mut new_ns = 0;
    for ns in &spec.linux().namespaces {
        match ns.path.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => joins.push((ns.typ, open_ns(ns.typ, p)?, p.to_string())),
            None => new_ns |= ns.typ.clone_flag(),
        }
    }
    joins.sort_by_key(|(t, _, _)| *t != NamespaceType::User);
    let layout = layout()?;
    let cg_path = cgroups::resolve_path(
        spec.linux().cgroups_path.as_deref(),
        &opts.id,
        opts.systemd_cgroup,
    )?;
    let cg = Manager::new(layout, &cg_path);

    // From here on, everything made is undone on failure.
    std::fs::create_dir_all(&opts.root).map_err(io_err("creating state root", &opts.root))?;
    let dir = state::dir(&opts.root, &opts.id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(state::StateError::Exists(opts.id.clone()).into())
        }
        Err(e) => return Err(io_err("creating", &dir)(e)),
    }
    let mut guard = Cleanup {
        dir: Some(dir.clone()),
        cgroup: None,
        pids: Vec::new(),
    };
    let mut st = State {
        id: opts.id.clone(),
        pid: 0,
        pid_start: 0,
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        created: state::now_rfc3339(),
        owner: String::new(),
        cgroup_path: cg_path.clone(),
        systemd_cgroup: opts.systemd_cgroup,
        config: spec.clone(),
    };
    st.save(&opts.root)?;
    cg.create()?;
    crate::log::timing("create: cgroup created");
    guard.cgroup = Some(&cg);
    if let Some(res) = &spec.linux().resources {
        cg.apply(&with_default_devices(res, &spec))?;
    }
    crate::log::timing("create: resources applied");
    let fifo = State::fifo_path(&opts.root, &opts.id);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| io_err("creating exec fifo", &fifo)(e.into()))?;
    let fifo_fd = nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| io_err("opening exec fifo", &fifo)(e.into()))?;
    let console_socket = match &opts.console_socket {
        Some(p) => Some(crate::console::connect_socket(p)?),
        None => None,
    };
    let has_hooks = spec.hooks.as_ref().is_some_and(|h| {
        !(h.prestart.is_empty()
            && h.create_runtime.is_empty()
            && h.create_container.is_empty()
            && h.start_container.is_empty())
    });
    let mut cfg = InitConfig {
        spec: &spec,
        rootfs: rootfs.clone(),
        bundle: bundle.clone(),
        process: prepared,
        joins,
        new_ns,
        fifo: Some(fifo_fd),
        console_socket,
        preserve_fds: opts.preserve_fds,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        cgroup_join: init::CgroupJoin::new(&cg.dirs())
            .map_err(|e| io_err("opening cgroup", &dir)(e))?,
        cgroups: CgroupMounts {
            unified_only: cg.layout().is_unified_only(),
            dirs: cg.dirs(),
        },
        has_hooks,
        exec: false,
        stdio: opts.stdio,
    };
    let (parent, child) = sync::pair().map_err(io_err("creating sync socket", &dir))?;
    crate::log::timing("create: forking");
    // The process is single-threaded (checked above), so the child may run
    // ordinary code until it execs.
    let stage1 = match init::fork_stage1(&cfg.cgroup_join) {
        Err(e) => return Err(io_err("forking", &dir)(e.into())),
        Ok(0) => {
            drop(parent);
            init::stage1(&cfg, &child)
        }
        Ok(pid) => pid,
    };
    drop(child);
    // Only the container process may hold the fifo's read end: `start` must
    // fail if nobody is waiting.
    cfg.fifo = None;
    guard.pids.push(stage1);
    let mut init_pid = 0;
    let mut hooks_waiting = false;
    // Stage 1 reports the pid after its clone returns, on the same socket
    // stage 2 reports on: "created" may come first. Both are needed.
    let mut created = false;
    while !(created && init_pid != 0) {
        let msg = parent
            .recv()
            .map_err(io_err("talking to container process", &dir))?;
        match msg {
            None => return Err(Error::Init("container process exited during setup".into())),
            Some((tag @ (Tag::Error | Tag::ExecError), m)) => {
                return Err(init::child_error(tag, &m))
            }
            Some((Tag::NeedIdMaps, _)) => {
                write_id_maps(stage1, &spec)?;
                parent
                    .send(Tag::IdMapsDone, &[])
                    .map_err(io_err("talking to container process", &dir))?;
            }
            Some((Tag::Pid, m)) => {
                init_pid = i32::from_ne_bytes(m[..4].try_into().unwrap_or_default());
                guard.pids.push(init_pid);
                // SAFETY: reaping the stage-1 child we forked.
                unsafe { libc::waitpid(stage1, std::ptr::null_mut(), 0) };
                guard.pids.retain(|&p| p != stage1);
                st.pid = init_pid;
                st.pid_start = state::proc_stat(init_pid).map(|s| s.0).unwrap_or(0);
            }
            Some((Tag::HooksReady, _)) => hooks_waiting = true,
            Some((Tag::Created, _)) => {
                crate::log::timing("create: init reports created");
                created = true;
            }
            Some((t, _)) => return Err(Error::Init(format!("unexpected message {t:?}"))),
        }
        if hooks_waiting && init_pid != 0 {
            hooks_waiting = false;
            // The validation suite expects "created" in the state these hooks read.
            let json = hook_state(&st, Status::Created);
            if let Some(h) = &spec.hooks {
                crate::hooks::run_all("prestart", &h.prestart, &json)?;
                crate::hooks::run_all("createRuntime", &h.create_runtime, &json)?;
            }
            parent
                .send(Tag::HooksDone, &json)
                .map_err(io_err("talking to container process", &dir))?;
        }
    }
    if let Some(adj) = proc_cfg.oom_score_adj {
        let p = PathBuf::from(format!("/proc/{init_pid}/oom_score_adj"));
        std::fs::write(&p, adj.to_string()).map_err(io_err("setting oomScoreAdj", &p))?;
    }
    st.save(&opts.root)?;
    if let Some(pf) = &opts.pid_file {
        write_pid_file(pf, init_pid)?;
    }
    guard.disarm();
    crate::log::timing("create: done");
    Ok((init_pid, cg))
}

fn manager_for(st: &State) -> Result<Manager, Error> {
    Ok(Manager::new(layout()?, &st.cgroup_path))
}

/// Load a container's state and compute its status.
pub fn load(root: &Path, id: &str) -> Result<(State, Status), Error> {
    let st = State::load(root, id)?;
    let status = st.status(root, || {
        manager_for(&st)
            .ok()
            .and_then(|m| m.is_frozen().ok())
            .unwrap_or(false)
    });
    Ok((st, status))
}

/// `state`: the OCI state JSON.
pub fn state_json(root: &Path, id: &str) -> Result<String, Error> {
    let (st, status) = load(root, id)?;
    Ok(serde_json::to_string_pretty(&st.oci(status)).expect("state serializes"))
}

/// `start`: release the process waiting at the barrier, run poststart hooks.
pub fn start(root: &Path, id: &str) -> Result<(), Error> {
    crate::log::timing("start: begin");
    let (st, status) = load(root, id)?;
    if status != Status::Created {
        return Err(Error::BadStatus {
            id: id.into(),
            op: "start",
            status,
        });
    }
    let fifo = State::fifo_path(root, id);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags_nonblock()
        .open(&fifo)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ENXIO) {
                Error::Init("container process is not waiting to start".into())
            } else {
                io_err("opening exec fifo", &fifo)(e)
            }
        })?;
    use std::io::Write;
    (&f).write_all(&[0])
        .map_err(io_err("writing exec fifo", &fifo))?;
    drop(f);
    let _ = std::fs::remove_file(&fifo);
    crate::log::timing("start: released");
    if let Some(h) = &st.config.hooks {
        if !h.poststart.is_empty() {
            let json = hook_state(&st, Status::Running);
            crate::hooks::run_all_warn("poststart", &h.poststart, &json);
        }
    }
    Ok(())
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}

/// `kill`: send a signal to the init process (or, with `all`, every process of
/// the container's cgroup).
pub fn kill(root: &Path, id: &str, sig: i32, all: bool) -> Result<(), Error> {
    let (st, status) = load(root, id)?;
    if status == Status::Stopped && !all {
        return Err(Error::NotRunning { id: id.into() });
    }
    if all {
        let cg = manager_for(&st)?;
        for pid in cg.pids().unwrap_or_default() {
            // SAFETY: kill with a pid and signal number.
            unsafe { libc::kill(pid, sig) };
        }
        if sig == libc::SIGKILL && status == Status::Paused {
            let _ = cg.thaw();
        }
        return Ok(());
    }
    // SAFETY: kill with a pid and signal number.
    if unsafe { libc::kill(st.pid, sig) } < 0 {
        return Err(Error::Sys {
            op: "sending signal to container",
            err: nix::errno::Errno::last(),
        });
    }
    if sig == libc::SIGKILL && status == Status::Paused {
        manager_for(&st)?.thaw()?;
    }
    Ok(())
}

/// Wait (up to `limit`) until `pid` is gone or a zombie.
fn wait_gone(pid: i32, start: u64, limit: std::time::Duration) -> bool {
    let t = std::time::Instant::now();
    while state::process_alive(pid, start) {
        // SAFETY: a non-blocking reap in case the process is our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        if t.elapsed() > limit {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    true
}

/// `delete`: remove a stopped container (any container with `force`).
pub fn delete(root: &Path, id: &str, force: bool) -> Result<(), Error> {
    let st = match State::load(root, id) {
        Ok(st) => st,
        Err(state::StateError::NotFound(_)) if force => {
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let cg = manager_for(&st)?;
    delete_with(root, &st, &cg, force)
}

fn delete_with(root: &Path, st: &State, cg: &Manager, force: bool) -> Result<(), Error> {
    let id = st.id.as_str();
    let status = st.status(root, || cg.is_frozen().unwrap_or(false));
    match status {
        Status::Stopped | Status::Creating => {}
        Status::Created => {
            // A created container never ran: delete kills it, as runc does.
            kill_and_wait(st, cg);
        }
        Status::Running | Status::Paused if force => kill_and_wait(st, cg),
        _ => {
            return Err(Error::BadStatus {
                id: id.into(),
                op: "delete",
                status,
            })
        }
    }
    let mut errors = Vec::new();
    // Kill stragglers left in the cgroup (daemonized children of the container).
    if let Ok(pids) = cg.pids() {
        if !pids.is_empty() {
            let _ = cg.thaw();
            for p in pids {
                // SAFETY: kill with a pid and signal number.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
    }
    if let Err(e) = cg.destroy() {
        errors.push(e.to_string());
    }
    if let Some(h) = &st.config.hooks {
        if !h.poststop.is_empty() {
            let json = hook_state(st, Status::Stopped);
            // The container is gone either way: a poststop failure is a warning,
            // and the remaining poststop hooks still run.
            crate::hooks::run_all_warn("poststop", &h.poststop, &json);
        }
    }
    let dir = state::dir(root, id);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        errors.push(format!("removing {}: {e}", dir.display()));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Teardown(errors.join("; ")))
    }
}

fn kill_and_wait(st: &State, cg: &Manager) {
    let _ = cg.thaw();
    // SAFETY: kill with a pid and signal number.
    unsafe { libc::kill(st.pid, libc::SIGKILL) };
    wait_gone(st.pid, st.pid_start, std::time::Duration::from_secs(10));
}

/// `pause` and `resume` through the freezer.
pub fn pause(root: &Path, id: &str) -> Result<(), Error> {
    let (st, status) = load(root, id)?;
    if status != Status::Running && status != Status::Created {
        return Err(Error::BadStatus {
            id: id.into(),
            op: "pause",
            status,
        });
    }
    Ok(manager_for(&st)?.freeze()?)
}

pub fn resume(root: &Path, id: &str) -> Result<(), Error> {
    let (st, status) = load(root, id)?;
    if status != Status::Paused {
        return Err(Error::BadStatus {
            id: id.into(),
            op: "resume",
            status,
        });
    }
    Ok(manager_for(&st)?.thaw()?)
}

/// `ps`: pids in the container's cgroup.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>, Error> {
    let (st, _) = load(root, id)?;
    Ok(manager_for(&st)?.pids()?)
}

/// `update`: apply new resource limits and remember them.
pub fn update(root: &Path, id: &str, res: &Resources) -> Result<(), Error> {
    let (mut st, status) = load(root, id)?;
    if status == Status::Stopped {
        return Err(Error::BadStatus {
            id: id.into(),
            op: "update",
            status,
        });
    }
    manager_for(&st)?.apply(res)?;
    let linux = st.config.linux.get_or_insert_with(Default::default);
    let cur = linux.resources.get_or_insert_with(Default::default);
    merge_resources(cur, res);
    st.save(root)?;
    Ok(())
}

fn merge_resources(cur: &mut Resources, new: &Resources) {
    if new.memory.is_some() {
        cur.memory = new.memory.clone();
    }
    if new.cpu.is_some() {
        cur.cpu = new.cpu.clone();
    }
    if new.pids.is_some() {
        cur.pids = new.pids.clone();
    }
    if new.block_io.is_some() {
        cur.block_io = new.block_io.clone();
    }
    if !new.hugepage_limits.is_empty() {
        cur.hugepage_limits = new.hugepage_limits.clone();
    }
    if new.unified.is_some() {
        cur.unified = new.unified.clone();
    }
}

/// `run`: create, start, and (unless detached) wait; returns the exit code and
/// deletes the container. Waits with [`crate::signals::wait_forwarding`],
/// which takes over the process's signal handlers: for the runc CLI.
pub fn run(opts: &CreateOpts, detach: bool) -> Result<i32, Error> {
    let (pid, cg) = create_inner(opts, true)?;
    if let Err(e) = start(&opts.root, &opts.id) {
        let _ = delete(&opts.root, &opts.id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let code = crate::signals::wait_forwarding(pid);
    crate::log::timing("run: container exited");
    let st = State::load(&opts.root, &opts.id)?;
    if let Err(e) = delete_with(&opts.root, &st, &cg, true) {
        crate::log::warn(&e.to_string());
    }
    crate::log::timing("run: deleted");
    Ok(code)
}

/// Host pids, for `ps`, in the cgroup of a container.
pub fn list(root: &Path) -> Vec<(State, Status)> {
    state::list_ids(root)
        .into_iter()
        .filter_map(|id| load(root, &id).ok())
        .collect()
}
