//! skiff's OCI runtime: from an OCI bundle (config.json + rootfs) to a running,
//! isolated process, and the lifecycle the runtime-spec defines around it.
//!
//! Process creation forks; callers must be single-threaded (the runtime checks,
//! and refuses otherwise). A multi-threaded caller runs the `skiff-runtime`
//! entry point instead.

pub mod caps;
pub mod cgroups;
pub mod console;
pub mod container;
pub mod exec;
pub mod hooks;
mod init;
pub mod log;
pub mod pidfd;
pub mod process;
pub mod ps;
pub mod rootfs;
pub mod runc_cli;
pub mod seccomp;
pub mod signals;
pub mod spec;
pub mod state;
mod stdio;
pub mod sync;

pub use process::ExecCause;

use std::path::PathBuf;

/// Every failure of a runtime operation, each naming what it failed on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Caps(#[from] caps::CapsError),
    #[error("seccomp: {0}")]
    Seccomp(#[from] seccomp::SeccompError),
    #[error("cgroups: {0}")]
    Cgroup(#[from] cgroups::CgroupError),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    #[error(transparent)]
    Console(#[from] console::ConsoleError),
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    #[error(transparent)]
    Rootfs(#[from] rootfs::RootfsError),
    #[error("rootfs {0} {1}")]
    RootfsMissing(PathBuf, &'static str),
    #[error("invalid config: {0}")]
    Invalid(String),
    #[error("container init: {0}")]
    Init(String),
    /// The container process could not execute its command. `msg` is the
    /// text runc shows (`exec: "x": executable file not found in $PATH`),
    /// displayed as an `Init` failure is.
    #[error("container init: {msg}")]
    Exec {
        cause: process::ExecCause,
        msg: String,
    },
    #[error("checking stdio fd {fd} for the container process: {}", .err.desc())]
    Stdio {
        fd: std::os::fd::RawFd,
        err: nix::errno::Errno,
    },
    /// A signal for the init of a container that has stopped. The words
    /// are runc's: containerd's shim takes "container not running" as "the
    /// process already finished" (a kill racing the exit), any other
    /// failure as a failed stop.
    #[error("cannot kill container {id:?}: container not running")]
    NotRunning { id: String },
    #[error("cannot {op} container {id:?}: it is {status}")]
    BadStatus {
        id: String,
        op: &'static str,
        status: state::Status,
    },
    #[error("{op} {path}: {err}")]
    Io {
        op: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("{op}: {err}")]
    Sys {
        op: &'static str,
        err: nix::errno::Errno,
    },
    #[error(
        "the runtime must be called from a single-threaded process (this one has {0} threads)"
    )]
    Threaded(u32),
    #[error("teardown incomplete: {0}")]
    Teardown(String),
}

impl Error {
    /// Why the command could not be executed, for an [`Error::Exec`].
    pub fn exec_cause(&self) -> Option<ExecCause> {
        match self {
            Error::Exec { cause, .. } => Some(*cause),
            _ => None,
        }
    }
}
