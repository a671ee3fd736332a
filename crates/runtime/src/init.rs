//! The processes the runtime forks to make a container.
//!
//! stage 1 (forked from the runtime): joins namespaces given by path, creates the
//! user namespace (the runtime writes its id maps), unshares the other new
//! namespaces, then clones stage 2 with CLONE_PARENT (so the runtime, not stage 1,
//! is its parent), reports its pid and exits.
//!
//! stage 2 (the container's init, pid 1 of a new pid namespace): builds the root
//! filesystem, runs createContainer hooks, pivots, sets up the terminal, waits on
//! the exec fifo for `start`, runs startContainer hooks, drops privileges and execs
//! the user process.
//!
//! The runtime process is single-threaded (checked before fork), so both stages
//! may allocate; they report failures to the runtime over the sync channel. A
//! command that cannot be executed is reported with its cause
//! (`Tag::ExecError`), which the runtime turns into `Error::Exec`.

use crate::process::{ExecFailure, ExecStepError, Prepared};
use crate::rootfs::{self, CgroupMounts, RootfsContext};
use crate::spec::{NamespaceType, Spec};
use crate::sync::{Channel, Tag, MAX_MSG};
use crate::Error;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the container's processes need, prepared by the runtime before fork.
pub struct InitConfig<'a> {
    pub spec: &'a Spec,
    pub rootfs: PathBuf,
    pub bundle: PathBuf,
    pub process: Prepared,
    /// Namespaces to join, already opened, user namespace first.
    pub joins: Vec<(NamespaceType, OwnedFd, String)>,
    /// clone flags of the namespaces to create.
    pub new_ns: libc::c_int,
    /// The read end of the exec fifo, opened by the runtime (a process in a
    /// user namespace may not be allowed to open it by path).
    pub fifo: Option<OwnedFd>,
    pub console_socket: Option<OwnedFd>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub cgroups: CgroupMounts,
    /// The cgroup to join, prepared by the runtime (see `CgroupJoin`).
    pub cgroup_join: CgroupJoin,
    /// true when the runtime must exchange hook messages with stage 2.
    pub has_hooks: bool,
    /// exec into an existing container (skip the rootfs and fifo).
    pub exec: bool,
    /// Fds to become the process's 0, 1 and 2 (checked by the runtime; see
    /// `crate::stdio`); None keeps the runtime's own.
    pub stdio: Option<[RawFd; 3]>,
    /// The runtime's CPUs, which stage 1 takes back once told `Go`, when the
    /// runtime moves it off its own CPU (see [`move_off_this_cpu`]).
    pub cpus: Option<libc::cpu_set_t>,
}

/// The CPUs the calling process may run on, if it may run on more than one:
/// what [`move_off_this_cpu`] needs.
pub fn spare_cpus() -> Option<libc::cpu_set_t> {
    // SAFETY: a zeroed cpu_set_t is an empty set; sched_getaffinity fills one.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid cpu_set_t of the size given.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    // SAFETY: CPU_COUNT reads the set.
    (rc == 0 && unsafe { libc::CPU_COUNT(&set) } > 1).then_some(set)
}

/// Let `child` run beside the caller. A forked child was seen to start on
/// its parent's CPU and wait there until the parent blocked (~0.5 ms, while
/// the runtime makes the cgroups) with another CPU idle. So the child is
/// allowed every CPU of `cpus` but the caller's; stage 1 takes all of `cpus`
/// back once told `Go` (sent after this call), so stage 2 and the container
/// start with the runtime's CPUs, as before (and a v1 cpuset join replaces
/// them anyway).
pub fn move_off_this_cpu(child: i32, cpus: &libc::cpu_set_t) {
    // SAFETY: sched_getcpu has no arguments.
    let cpu = unsafe { libc::sched_getcpu() };
    let mut others = *cpus;
    match usize::try_from(cpu) {
        // SAFETY: CPU_CLR with an index inside the set.
        Ok(cpu) if cpu < libc::CPU_SETSIZE as usize => unsafe { libc::CPU_CLR(cpu, &mut others) },
        _ => return,
    }
    // SAFETY: CPU_COUNT reads the set.
    if unsafe { libc::CPU_COUNT(&others) } > 0 {
        // SAFETY: sched_setaffinity reads one cpu_set_t; failing leaves the
        // child where it was, which is only slower.
        unsafe { libc::sched_setaffinity(child, std::mem::size_of::<libc::cpu_set_t>(), &others) };
    }
}

/// How the container's processes enter its cgroup without the runtime moving
/// them: stage 1 is cloned straight into the unified cgroup with
/// CLONE_INTO_CGROUP, then writes "0" to each v1 hierarchy's `tasks` file
/// (moving a single thread, itself, skips the kernel's global threadgroup lock
/// and its RCU grace period, ~8 ms per move here). Stage 2 inherits both.
///
/// Deferred (see [`CgroupJoin::deferred`]): stage 1 is forked before the
/// cgroups exist and makes the namespaces while the runtime makes the
/// cgroups; told `Tag::Go`, it joins the v1 hierarchies and clones stage 2
/// into the unified cgroup. Stage 2 is inside every cgroup from its birth, as
/// before.
#[derive(Debug, Default)]
pub struct CgroupJoin {
    pub v1_tasks: Vec<std::ffi::CString>,
    pub v2_dir: Option<OwnedFd>,
    /// Deferred: the unified cgroup, opened by stage 1 once told to go.
    v2_path: Option<std::ffi::CString>,
    deferred: bool,
}

impl CgroupJoin {
    /// May the runtime make the cgroups while stage 1 makes the namespaces?
    /// Not with a new user namespace (a deferred join writes the cgroup files
    /// after the namespaces are made, which a process in a new user namespace
    /// may not be allowed to do), nor with a joined mount or cgroup namespace
    /// (either would change what the cgroup paths name).
    pub fn can_defer(new_ns: libc::c_int, joins: &[(NamespaceType, OwnedFd, String)]) -> bool {
        new_ns & libc::CLONE_NEWUSER == 0
            && joins.iter().all(|(t, _, _)| {
                !matches!(
                    t,
                    NamespaceType::User | NamespaceType::Mount | NamespaceType::Cgroup
                )
            })
    }

    /// A join of cgroups the runtime is still making: stage 1 waits for
    /// `Tag::Go` after making the namespaces (see [`CgroupJoin::can_defer`]).
    pub fn deferred(dirs: &[(String, PathBuf)]) -> CgroupJoin {
        let mut j = CgroupJoin {
            deferred: true,
            ..CgroupJoin::default()
        };
        for (name, dir) in dirs {
            if name.is_empty() {
                j.v2_path = Some(crate::rootfs::cstr(dir));
            } else {
                j.v1_tasks.push(crate::rootfs::cstr(&dir.join("tasks")));
            }
        }
        j
    }

    /// A join of cgroups the runtime has made: the unified one is opened
    /// now, for stage 1 to be cloned into.
    pub fn new(dirs: &[(String, PathBuf)]) -> std::io::Result<CgroupJoin> {
        let mut j = CgroupJoin::deferred(dirs);
        j.deferred = false;
        if let Some(p) = j.v2_path.take() {
            let dir = Path::new(std::ffi::OsStr::from_bytes(p.as_bytes()));
            let f = std::fs::File::open(dir)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
            j.v2_dir = Some(f.into());
        }
        Ok(j)
    }

    /// Move the calling (single-threaded) process into the v1 cgroups.
    fn join_v1(&self) -> Result<(), String> {
        for t in &self.v1_tasks {
            // SAFETY: a valid C string path; open returns an fd or -1.
            let fd = unsafe { libc::open(t.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
            // SAFETY: writing one byte from a static buffer to our fd.
            let ok =
                fd >= 0 && unsafe { libc::write(fd, b"0".as_ptr() as *const libc::c_void, 1) } == 1;
            let err = std::io::Error::last_os_error();
            if fd >= 0 {
                // SAFETY: closing the fd opened above.
                unsafe { libc::close(fd) };
            }
            if !ok {
                return Err(format!("joining cgroup {t:?}: {err}"));
            }
        }
        Ok(())
    }
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Fork stage 1 straight into the unified cgroup (CLONE_INTO_CGROUP): the
/// runtime still has the host's credentials here, which a process in a new user
/// namespace would lack. Returns 0 in the child.
pub fn fork_stage1(join: &CgroupJoin) -> nix::Result<i32> {
    clone3(0, libc::SIGCHLD as u64, join.v2_dir.as_ref())
}

/// clone3 without a new stack: fork semantics. Returns 0 in the child.
fn clone3(flags: u64, exit_signal: u64, cgroup: Option<&OwnedFd>) -> nix::Result<i32> {
    let mut args = CloneArgs {
        flags,
        exit_signal,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: clone3 with a valid clone_args and no stack behaves like fork; the
    // calling process is single-threaded, so the child's copy of memory is consistent.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    nix::errno::Errno::result(rc).map(|p| p as i32)
}

fn fail(chan: &Channel, msg: &str) -> ! {
    if chan.send(Tag::Error, msg.as_bytes()).is_err() {
        // Nobody listens any more (the runtime returned after "created"): the
        // container's stderr is the only place left for the error.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("skiff-runtime: {msg}\n").as_bytes(),
        );
    }
    // SAFETY: _exit is always safe; skips destructors and atexit handlers.
    unsafe { libc::_exit(1) }
}

/// The command could not be executed: report why, like [`fail`].
fn fail_exec(chan: &Channel, f: &ExecFailure) -> ! {
    if chan
        .send_exec_error(f.cause.to_byte(), f.msg.as_bytes())
        .is_err()
    {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("skiff-runtime: {}\n", f.msg).as_bytes(),
        );
    }
    // SAFETY: _exit is always safe; skips destructors and atexit handlers.
    unsafe { libc::_exit(1) }
}

/// The error a failure message (`Tag::Error` or `Tag::ExecError`) from the
/// container's processes stands for.
pub(crate) fn child_error(tag: Tag, payload: &[u8]) -> Error {
    match (tag, payload) {
        (Tag::ExecError, [cause, m @ ..]) => Error::Exec {
            cause: crate::process::ExecCause::from_byte(*cause),
            msg: String::from_utf8_lossy(m).into_owned(),
        },
        (_, m) => Error::Init(String::from_utf8_lossy(m).into_owned()),
    }
}

/// Stage 1. Never returns.
pub fn stage1(cfg: &InitConfig, chan: &Channel) -> ! {
    // First, so that everything after (stage 2 and the command) has them.
    if let Some(fds) = &cfg.stdio {
        if let Err((fd, errno)) = crate::stdio::install(fds) {
            crate::stdio::fail(chan, fd, errno);
        }
    }
    crate::log::timing("stage1: begin");
    let mut buf = [0u8; 64];
    let join = &cfg.cgroup_join;
    // Before any setns: the cgroup paths are the runtime's view.
    if !join.deferred {
        if let Err(e) = join.join_v1() {
            fail(chan, &e);
        }
        crate::log::timing("stage1: cgroups joined");
    }
    for (typ, fd, path) in &cfg.joins {
        // SAFETY: setns on an fd we opened; the flag names its type.
        if unsafe { libc::setns(fd.as_raw_fd(), typ.clone_flag()) } < 0 {
            fail(
                chan,
                &format!(
                    "joining {} namespace {path}: {}",
                    typ.proc_name(),
                    std::io::Error::last_os_error()
                ),
            );
        }
    }
    if cfg.new_ns & libc::CLONE_NEWUSER != 0 {
        // SAFETY: unshare with a namespace flag.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER) } < 0 {
            fail(
                chan,
                &format!(
                    "creating user namespace: {}",
                    std::io::Error::last_os_error()
                ),
            );
        }
        if chan.send(Tag::NeedIdMaps, &[]).is_err()
            || chan.expect(Tag::IdMapsDone, &mut buf).is_none()
        {
            // SAFETY: see fail().
            unsafe { libc::_exit(1) }
        }
        // Become root of the new namespace (when root is mapped).
        // SAFETY: plain id syscalls.
        unsafe {
            libc::setresgid(0, 0, 0);
            libc::setresuid(0, 0, 0);
        }
    }
    // The cgroup namespace is made by stage 2, once it is inside its cgroup.
    let rest = cfg.new_ns & !(libc::CLONE_NEWUSER | libc::CLONE_NEWCGROUP);
    // SAFETY: unshare with namespace flags.
    if rest != 0 && unsafe { libc::unshare(rest) } < 0 {
        fail(
            chan,
            &format!("creating namespaces: {}", std::io::Error::last_os_error()),
        );
    }
    if rest & libc::CLONE_NEWTIME != 0 {
        if let Some(offsets) = &cfg.spec.linux().time_offsets {
            let mut s = String::new();
            for (clock, off) in offsets {
                s.push_str(&format!("{clock} {} {}\n", off.secs, off.nanosecs));
            }
            if let Err(e) = std::fs::write("/proc/self/timens_offsets", s) {
                fail(chan, &format!("setting time namespace offsets: {e}"));
            }
        }
    }
    crate::log::timing("stage1: namespaces made");
    let mut v2_dir = None;
    if join.deferred {
        if chan.expect(Tag::Go, &mut buf).is_none() {
            // The runtime failed to make the cgroups and kills us.
            // SAFETY: see fail().
            unsafe { libc::_exit(1) }
        }
        // After Go, which the runtime sends after moving us: restored before
        // that, our CPUs could be narrowed again afterwards.
        if let Some(cpus) = &cfg.cpus {
            // SAFETY: sched_setaffinity reads one cpu_set_t.
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), cpus) };
        }
        if let Err(e) = join.join_v1() {
            fail(chan, &e);
        }
        if let Some(p) = &join.v2_path {
            // SAFETY: a valid C string path; open returns an fd or -1.
            let fd = unsafe {
                libc::open(
                    p.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                fail(
                    chan,
                    &format!("opening cgroup {p:?}: {}", std::io::Error::last_os_error()),
                );
            }
            // SAFETY: open just returned this fd; nothing else owns it.
            v2_dir = Some(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
        }
        crate::log::timing("stage1: cgroups joined");
    }
    match clone3(libc::CLONE_PARENT as u64, 0, v2_dir.as_ref()) {
        Ok(0) => stage2(cfg, chan),
        Ok(pid) => {
            let _ = chan.send_pid(pid);
            // SAFETY: see fail().
            unsafe { libc::_exit(0) }
        }
        Err(e) => fail(chan, &format!("cloning container process: {e}")),
    }
}

/// Stage 2: the container's init. Never returns.
fn stage2(cfg: &InitConfig, chan: &Channel) -> ! {
    crate::log::timing("stage2: begin");
    if cfg.exec {
        finish(cfg, chan, None, None)
    }
    if cfg.new_ns & libc::CLONE_NEWCGROUP != 0 {
        // SAFETY: unshare with a namespace flag.
        if unsafe { libc::unshare(libc::CLONE_NEWCGROUP) } < 0 {
            fail(
                chan,
                &format!(
                    "creating cgroup namespace: {}",
                    std::io::Error::last_os_error()
                ),
            );
        }
    }
    let spec = cfg.spec;
    let own_mntns = cfg.new_ns & libc::CLONE_NEWNS != 0
        || cfg.joins.iter().any(|(t, _, _)| *t == NamespaceType::Mount);
    let ctx = RootfsContext {
        spec,
        rootfs: &cfg.rootfs,
        bundle: &cfg.bundle,
        cgroups: &cfg.cgroups,
        in_userns: cfg.new_ns & libc::CLONE_NEWUSER != 0
            || cfg.joins.iter().any(|(t, _, _)| *t == NamespaceType::User),
        new_cgroupns: cfg.new_ns & libc::CLONE_NEWCGROUP != 0,
    };
    if own_mntns {
        if let Err(e) = rootfs::prepare_root(&ctx).and_then(|_| rootfs::mount_all(&ctx)) {
            fail(chan, &e.to_string());
        }
        let dev_bound = spec.mounts.iter().any(|m| {
            m.destination == "/dev"
                && (m.typ.as_deref() == Some("bind")
                    || m.options.iter().any(|o| o == "bind" || o == "rbind"))
        });
        if !dev_bound {
            let has_proc = spec.mounts.iter().any(|m| m.typ.as_deref() == Some("proc"));
            if let Err(e) = rootfs::setup_dev(&cfg.rootfs, &spec.linux().devices, ctx.in_userns)
                .and_then(|_| rootfs::setup_dev_symlinks(&cfg.rootfs, has_proc))
            {
                fail(chan, &e.to_string());
            }
        }
    }
    let mut state_json: Option<Vec<u8>> = None;
    if cfg.has_hooks {
        let mut buf = vec![0u8; MAX_MSG];
        if chan.send(Tag::HooksReady, &[]).is_err() {
            // SAFETY: see fail().
            unsafe { libc::_exit(1) }
        }
        match chan.expect(Tag::HooksDone, &mut buf) {
            Some(n) => state_json = Some(buf[1..1 + n].to_vec()),
            // SAFETY: see fail().
            None => unsafe { libc::_exit(1) },
        }
        if let Some(h) = &spec.hooks {
            if let Err(e) = crate::hooks::run_all(
                "createContainer",
                &h.create_container,
                state_json.as_deref().unwrap_or(b"{}"),
            ) {
                fail(chan, &e.to_string());
            }
        }
    }
    if spec.namespace(NamespaceType::Uts).is_some() {
        if let Some(h) = &spec.hostname {
            if let Err(e) = nix::unistd::sethostname(h) {
                fail(chan, &format!("setting hostname {h:?}: {e}"));
            }
        }
        if let Some(d) = &spec.domainname {
            // SAFETY: pointer and length of a live string.
            if unsafe { libc::setdomainname(d.as_ptr() as *const libc::c_char, d.len()) } < 0 {
                fail(
                    chan,
                    &format!(
                        "setting domainname {d:?}: {}",
                        std::io::Error::last_os_error()
                    ),
                );
            }
        }
    }
    if own_mntns {
        if let Err(e) = rootfs::enter_root(&cfg.rootfs, cfg.no_pivot) {
            fail(chan, &e.to_string());
        }
    } else if let Err(e) = nix::unistd::chroot(&cfg.rootfs).and_then(|_| nix::unistd::chdir("/")) {
        fail(chan, &format!("chroot to {}: {e}", cfg.rootfs.display()));
    }
    if own_mntns {
        if let Err(e) = rootfs::finalize(spec) {
            crate::log::timing("stage2: pivoted");
            fail(chan, &e.to_string());
        }
    }
    finish(cfg, chan, cfg.fifo.as_ref(), state_json)
}

/// Terminal, rlimits, keyring, the start barrier, startContainer hooks,
/// credentials and exec. Shared by `create` and `exec`.
fn finish(
    cfg: &InitConfig,
    chan: &Channel,
    fifo: Option<&OwnedFd>,
    state_json: Option<Vec<u8>>,
) -> ! {
    let p = &cfg.process;
    crate::log::timing("stage2: rootfs finalized");
    if p.terminal {
        if let Some(sock) = &cfg.console_socket {
            let r = crate::console::open_pty(p.console_size).and_then(|(master, slave)| {
                crate::console::send_master(sock.as_raw_fd(), &master)?;
                crate::console::become_tty(&slave)?;
                if !cfg.exec {
                    mount_console(&slave);
                }
                Ok(())
            });
            if let Err(e) = r {
                fail(chan, &e.to_string());
            }
        }
    } else if !cfg.exec && cfg.new_ns & libc::CLONE_NEWPID != 0 {
        // runc puts the container's init in a session of its own too.
        let _ = nix::unistd::setsid();
    }
    if let Err(e) = std::env::set_current_dir(&p.cwd) {
        fail(chan, &format!("changing to cwd {}: {e}", p.cwd.display()));
    }
    let exe = match p.locate_executable() {
        Ok(e) => e,
        Err(f) => fail_exec(chan, &f),
    };
    if let Err(e) = p.apply_rlimits() {
        fail(chan, &e);
    }
    if !cfg.no_new_keyring && !cfg.exec {
        // A session keyring of its own, so containers do not share keys.
        // SAFETY: keyctl(JOIN_SESSION_KEYRING, NULL) creates an anonymous keyring.
        unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                1, /* KEYCTL_JOIN_SESSION_KEYRING */
                0usize,
            );
        }
    }
    crate::process::preserve_fds(cfg.preserve_fds);
    if let Some(fifo) = fifo {
        let _ = chan.send(Tag::Created, &[]);
        wait_for_start(fifo.as_raw_fd());
        crate::log::timing("stage2: started");
        if let (Some(h), Some(state)) = (&cfg.spec.hooks, &state_json) {
            if let Err(e) = crate::hooks::run_all("startContainer", &h.start_container, state) {
                eprintln!("{e}");
                // SAFETY: see fail().
                unsafe { libc::_exit(1) }
            }
        }
    }
    if !p.no_new_privileges {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the
        // process may be about to drop: load it now, as runc does (the filter
        // must then allow the few calls left before execve).
        if let Some(prog) = &p.seccomp {
            if let Err(e) = prog.load() {
                fail(chan, &format!("loading seccomp filter: {e}"));
            }
        }
    }
    if let Err(e) = p.apply_user() {
        fail(chan, &e);
    }
    crate::log::timing("stage2: exec");
    match p.exec_command(&exe, cfg.preserve_fds) {
        ExecStepError::Setup(msg) => fail(chan, &msg),
        ExecStepError::Exec(f) => fail_exec(chan, &f),
    }
}

/// Block until `start` writes to the exec fifo.
fn wait_for_start(fd: RawFd) {
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, -1) };
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        let mut b = [0u8; 1];
        // SAFETY: reading into a 1-byte stack buffer.
        let n = unsafe { libc::read(fd, b.as_mut_ptr() as *mut libc::c_void, 1) };
        if n == 1 {
            return;
        }
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN) {
            continue;
        }
        // The writer went away without a byte: nobody will start us.
        // SAFETY: see fail().
        unsafe { libc::_exit(1) }
    }
}

/// Bind the pty slave over /dev/console, as runc does.
fn mount_console(slave: &OwnedFd) {
    let src = format!("/proc/self/fd/{}", slave.as_raw_fd());
    let dst = std::path::Path::new("/dev/console");
    if !dst.exists() {
        let _ = std::fs::File::create(dst);
    }
    let _ = nix::mount::mount(
        Some(src.as_str()),
        dst,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    );
}
