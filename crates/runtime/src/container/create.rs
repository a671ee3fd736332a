//! `create`: its options, the cleanup of a failed create, and everything up to
//! the start barrier.

use super::checks::{
    assert_single_threaded, check_security_labels, check_sysctls, compile_seccomp,
    drop_unavailable_caps, open_ns, rootfs_path,
};
use super::{hook_state, io_err, layout};
use crate::caps::CapSets;
use crate::cgroups::{self, Manager};
use crate::init::{self, InitConfig};
use crate::process::Prepared;
use crate::rootfs::CgroupMounts;
use crate::spec::{NamespaceType, Resources, Spec};
use crate::state::{self, State, Status};
use crate::sync::{self, Tag};
use crate::Error;
use std::os::fd::RawFd;
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
    root: &'a Path,
    /// The container whose state directory is retired.
    id: Option<&'a str>,
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
            // A child the runtime does not know of (stage 2, through
            // CLONE_PARENT, of a stage 1 killed before it reported it) is in
            // the cgroup; others that share the cgroup are left alone.
            let me = std::process::id() as i32;
            for pid in cg.pids().unwrap_or_default() {
                if state::parent_of(pid) != Some(me) {
                    continue;
                }
                // SAFETY: kill and reap a child of ours.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
            }
            let _ = cg.destroy();
        }
        if let Some(id) = self.id {
            let _ = state::retire_dir(self.root, id);
        }
    }
}

impl Cleanup<'_> {
    fn disarm(mut self) {
        self.id = None;
        self.cgroup = None;
        self.pids.clear();
    }
}

/// Does `chan` have a message (or its end) within `ms` milliseconds?
fn readable(chan: &sync::Channel, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: chan.raw(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll reads and writes one pollfd.
    unsafe { libc::poll(&mut p, 1, ms) != 0 }
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

/// Make the container's cgroups (undone by `guard` from here on) and apply
/// its resources.
fn make_cgroups<'a>(cg: &'a Manager, spec: &Spec, guard: &mut Cleanup<'a>) -> Result<(), Error> {
    cg.create()?;
    crate::log::timing("create: cgroup created");
    guard.cgroup = Some(cg);
    if let Some(res) = &spec.linux().resources {
        cg.apply(&with_default_devices(res, spec))?;
    }
    crate::log::timing("create: resources applied");
    Ok(())
}

/// `create`: everything up to the start barrier. Returns the init pid.
pub fn create(opts: &CreateOpts) -> Result<i32, Error> {
    create_inner(opts, false).map(|(st, _)| st.pid)
}

/// `create` for an engine that supervises the container: the init process
/// is the caller's child (to be reaped with `waitpid`), and a terminal, when
/// the config asks for one without a console socket, is the caller's stdio.
/// Returns the init pid.
pub fn create_child(opts: &CreateOpts) -> Result<i32, Error> {
    create_inner(opts, true).map(|(st, _)| st.pid)
}

/// Everything up to the start barrier; returns the saved state and the
/// container's cgroups.
pub(super) fn create_inner(opts: &CreateOpts, keep_child: bool) -> Result<(State, Manager), Error> {
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
    st.save_new(&opts.root)?;
    let mut guard = Cleanup {
        root: &opts.root,
        id: Some(&opts.id),
        cgroup: None,
        pids: Vec::new(),
    };
    // The cgroups are made before stage 1 is forked, or, when nothing stands
    // in the way (`CgroupJoin::can_defer`), while stage 1 makes the
    // namespaces: on two cores the two take about as long as one.
    let defer = init::CgroupJoin::can_defer(new_ns, &joins);
    if !defer {
        make_cgroups(&cg, &spec, &mut guard)?;
    }
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
        cgroup_join: if defer {
            init::CgroupJoin::deferred(&cg.dirs())
        } else {
            init::CgroupJoin::new(&cg.dirs()).map_err(|e| io_err("opening cgroup", &dir)(e))?
        },
        cgroups: CgroupMounts {
            unified_only: cg.layout().is_unified_only(),
            dirs: cg.dirs(),
        },
        has_hooks,
        exec: false,
        stdio: opts.stdio,
        cpus: if defer { init::spare_cpus() } else { None },
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
    if let Some(cpus) = &cfg.cpus {
        init::move_off_this_cpu(stage1, cpus);
    }
    if defer {
        make_cgroups(&cg, &spec, &mut guard)?;
        // A failed send means stage 1 is gone: the loop below reads why.
        let _ = parent.send(Tag::Go, &[]);
    }
    let mut init_pid = 0;
    let mut hooks_waiting = false;
    // Stage 1 reports the pid after its clone returns, on the same socket
    // stage 2 reports on: "created" may come first. Both are needed.
    let mut created = false;
    while !(created && init_pid != 0) {
        // Stage 1 killed after cloning stage 2 but before reporting its pid
        // leaves the channel open (stage 2 holds it) and the pid unknown:
        // seen by reaping stage 1 while nothing arrives. Stage 2 is then
        // killed with the cgroup's other processes (`Cleanup`).
        if init_pid == 0 && !readable(&parent, 20) {
            // SAFETY: reaping the stage-1 child we forked, without waiting.
            if unsafe { libc::waitpid(stage1, std::ptr::null_mut(), libc::WNOHANG) } == stage1 {
                guard.pids.retain(|&p| p != stage1);
                if !readable(&parent, 0) {
                    return Err(Error::Init("container process exited during setup".into()));
                }
            }
            continue;
        }
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
    Ok((st, cg))
}
