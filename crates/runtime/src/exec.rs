//! `exec`: a new process inside a running container. It joins the container's
//! namespaces and cgroup, takes its capabilities, rlimits, user and seccomp filter
//! from the process JSON (or the container's own process with overrides), and is
//! waited for unless detached.

use crate::caps::CapSets;
use crate::cgroups::{Layout, Manager};
use crate::container::assert_single_threaded;
use crate::init::{self, InitConfig};
use crate::process::Prepared;
use crate::rootfs::CgroupMounts;
use crate::spec::{NamespaceType, Process};
use crate::state::Status;
use crate::sync::{self, Tag};
use crate::Error;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct ExecOpts {
    pub root: PathBuf,
    pub id: String,
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    /// Where compiled seccomp programs are cached (see
    /// [`crate::seccomp::compile_cached`]); None compiles every time.
    pub seccomp_cache: Option<PathBuf>,
    /// The fds to become the process's stdin, stdout and stderr, as
    /// [`crate::container::CreateOpts::stdio`]: borrowed until `spawn`
    /// returns, the caller's own 0, 1 and 2 left alone, replaced by a
    /// terminal from the console socket. None: the caller's 0, 1, 2.
    pub stdio: Option<[RawFd; 3]>,
}

const JOIN_ORDER: [NamespaceType; 8] = [
    NamespaceType::User,
    NamespaceType::Ipc,
    NamespaceType::Uts,
    NamespaceType::Network,
    NamespaceType::Pid,
    NamespaceType::Cgroup,
    NamespaceType::Time,
    NamespaceType::Mount,
];

/// Open the container init's namespaces that differ from ours.
fn namespaces_of(pid: i32) -> Result<Vec<(NamespaceType, OwnedFd, String)>, Error> {
    let mut out = Vec::new();
    for t in JOIN_ORDER {
        let theirs = format!("/proc/{pid}/ns/{}", t.proc_name());
        let mine = format!("/proc/self/ns/{}", t.proc_name());
        let (Ok(a), Ok(b)) = (std::fs::metadata(&theirs), std::fs::metadata(&mine)) else {
            continue;
        };
        if a.ino() == b.ino() && a.dev() == b.dev() {
            continue;
        }
        let fd = nix::fcntl::open(
            theirs.as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|err| Error::Sys {
            op: "opening container namespace",
            err,
        })?;
        out.push((t, fd, theirs));
    }
    Ok(out)
}

/// Run `opts.process` in the container. Returns the exit code (0 when detached).
/// Waits with [`crate::signals::wait_forwarding`], which takes over the
/// process's signal handlers: for the runc CLI; an engine calls [`spawn`].
pub fn exec(opts: &ExecOpts) -> Result<i32, Error> {
    let pid = spawn(opts)?;
    if opts.detach {
        return Ok(0);
    }
    Ok(crate::signals::wait_forwarding(pid))
}

/// Start `opts.process` in the container and return its pid at once (it is
/// the caller's child, to be reaped with `waitpid`); `opts.detach` is not
/// looked at.
pub fn spawn(opts: &ExecOpts) -> Result<i32, Error> {
    assert_single_threaded()?;
    let (st, status) = crate::container::load(&opts.root, &opts.id)?;
    if status != Status::Running && status != Status::Created {
        return Err(Error::BadStatus {
            id: opts.id.clone(),
            op: "exec in",
            status,
        });
    }
    let p = &opts.process;
    if p.terminal && opts.console_socket.is_none() {
        return Err(Error::Invalid(
            "a terminal was asked for but no --console-socket was given".into(),
        ));
    }
    let mut capsets = CapSets::from_spec(p.capabilities.as_ref())?;
    crate::container::drop_unavailable_caps(&mut capsets);
    let seccomp = match (&st.config.linux().seccomp, &opts.seccomp_cache) {
        (Some(s), Some(dir)) => Some(crate::seccomp::compile_cached(s, dir)?),
        (Some(s), None) => Some(crate::seccomp::compile(s)?),
        (None, _) => None,
    };
    let prepared = Prepared::new(p, capsets, seccomp)?;
    if let Some(fds) = &opts.stdio {
        crate::stdio::check(fds)?;
    }
    let joins = namespaces_of(st.pid)?;
    let cg = Manager::new(Layout::detect_once()?, &st.cgroup_path);
    let console_socket = match &opts.console_socket {
        Some(path) => Some(crate::console::connect_socket(path)?),
        None => None,
    };
    let cfg = InitConfig {
        spec: &st.config,
        rootfs: st.rootfs.clone(),
        bundle: st.bundle.clone(),
        process: prepared,
        joins,
        new_ns: 0,
        fifo: None,
        console_socket,
        preserve_fds: opts.preserve_fds,
        no_pivot: false,
        no_new_keyring: true,
        cgroup_join: init::CgroupJoin::new(&cg.dirs()).map_err(|err| Error::Io {
            op: "opening cgroup",
            path: st.cgroup_path.clone().into(),
            err,
        })?,
        cgroups: CgroupMounts::default(),
        has_hooks: false,
        exec: true,
        stdio: opts.stdio,
        cpus: None,
    };
    let here = Path::new("exec");
    let io = |err| Error::Io {
        op: "talking to exec process",
        path: here.to_path_buf(),
        err,
    };
    let (parent, child) = sync::pair().map_err(io)?;
    // Single-threaded (checked above): the child may run ordinary code.
    let stage1 = match init::fork_stage1(&cfg.cgroup_join) {
        Err(e) => return Err(io(e.into())),
        Ok(0) => {
            drop(parent);
            init::stage1(&cfg, &child)
        }
        Ok(pid) => pid,
    };
    drop(child);
    let kill_all = |pids: &[i32]| {
        for &pid in pids {
            // SAFETY: kill/waitpid on our own children.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    };
    let mut pid = 0;
    loop {
        match parent.recv().map_err(io)? {
            Some((Tag::Pid, m)) => {
                pid = i32::from_ne_bytes(m[..4].try_into().unwrap_or_default());
                // SAFETY: reaping stage 1, our child.
                unsafe { libc::waitpid(stage1, std::ptr::null_mut(), 0) };
            }
            Some((tag @ (Tag::Error | Tag::ExecError), m)) => {
                kill_all(
                    &[stage1, pid]
                        .into_iter()
                        .filter(|&p| p > 0)
                        .collect::<Vec<_>>(),
                );
                return Err(init::child_error(tag, &m));
            }
            Some((t, _)) => {
                kill_all(
                    &[stage1, pid]
                        .into_iter()
                        .filter(|&p| p > 0)
                        .collect::<Vec<_>>(),
                );
                return Err(Error::Init(format!("unexpected message {t:?}")));
            }
            // The channel closes when the process execs (close-on-exec).
            None => break,
        }
    }
    if pid == 0 {
        // SAFETY: reaping stage 1, our child.
        unsafe { libc::waitpid(stage1, std::ptr::null_mut(), 0) };
        return Err(Error::Init("exec process exited during setup".into()));
    }
    if let Some(pf) = &opts.pid_file {
        std::fs::write(pf, pid.to_string()).map_err(|err| Error::Io {
            op: "writing pid file",
            path: pf.clone(),
            err,
        })?;
    }
    Ok(pid)
}
