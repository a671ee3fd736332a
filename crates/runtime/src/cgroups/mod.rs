//! Control groups: placing a container in its own cgroup and applying the
//! `linux.resources` limits of its config.
//!
//! Three host arrangements are handled:
//!
//! * cgroup v1: one hierarchy per controller (or per group of controllers, e.g.
//!   `cpu,cpuacct`), each mounted under `/sys/fs/cgroup/<name>`;
//! * cgroup v2 ("unified"): a single `cgroup2` mount holding every controller;
//! * hybrid: v1 hierarchies plus a `cgroup2` mount (usually
//!   `/sys/fs/cgroup/unified`) holding the controllers no v1 hierarchy took.
//!
//! For every controller the module decides once where it lives: a v1 hierarchy
//! that has it wins, otherwise the unified hierarchy if it lists it in
//! `cgroup.controllers`. A limit whose controller lives nowhere is an error.
//!
//! The pieces:
//!
//! * [`layout`]: which hierarchies exist and where ([`Layout`]), from
//!   `/proc/self/mountinfo`;
//! * [`path`]: from `linux.cgroupsPath` to a cgroup path ([`resolve_path`]);
//! * [`manager`]: one container's cgroup ([`Manager`]): create, join, freeze,
//!   signal, remove;
//! * `resources`: writing the limits of [`crate::spec::Resources`];
//! * [`stats`]: reading the cgroup's resource use ([`Stats`]);
//! * `devices`: the device allow-list, through `devices.allow`/`devices.deny`
//!   on v1, and `bpf`: the eBPF device filter used on v2;
//! * [`fake`]: stand-in cgroup trees in ordinary directories, for tests.
//!
//! Container start is on the hot path, so nothing here scans directories or
//! reads a file it does not need: creating a cgroup is one `mkdir` per
//! hierarchy when the parent exists, and applying limits writes only the
//! files the config sets.

pub mod fake;
pub mod layout;
pub mod manager;
pub mod path;
pub mod stats;

mod bpf;
mod devices;
mod resources;

#[cfg(test)]
mod tests_fake;
#[cfg(test)]
mod tests_host;
#[cfg(test)]
mod tests_stats;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub use layout::{Hierarchy, Layout, Unified};
pub use manager::Manager;
pub use path::resolve_path;
pub use stats::{BlkioStats, CpuStats, MemoryStats, PidsStats, Stats};

/// Everything that can go wrong in this module. Each variant names the
/// operation and the file (and value) it failed on.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("reading {}: {}", .path.display(), errno_text(.err))]
    Read { path: PathBuf, err: io::Error },

    #[error("writing {value} to {}: {}", .path.display(), errno_text(.err))]
    Write {
        path: PathBuf,
        value: String,
        err: io::Error,
    },

    #[error("creating cgroup directory {}: {}", .path.display(), errno_text(.err))]
    Mkdir { path: PathBuf, err: io::Error },

    #[error("removing cgroup directory {}: {}", .path.display(), errno_text(.err))]
    Rmdir { path: PathBuf, err: io::Error },

    #[error("parsing {what}: {reason}")]
    Parse { what: String, reason: String },

    #[error("invalid cgroupsPath {value:?}: {reason}")]
    InvalidPath { value: String, reason: String },

    #[error("invalid {what} {value:?}: {reason}")]
    InvalidValue {
        what: String,
        value: String,
        reason: String,
    },

    #[error("{what} requested but the {controller} cgroup controller is not available")]
    MissingController { controller: String, what: String },

    #[error("{what} is not supported: {reason}")]
    Unsupported { what: String, reason: String },

    #[error("timed out after {ms} ms waiting for {} to read {expected:?} (last read {got:?})", .path.display())]
    Timeout {
        path: PathBuf,
        expected: String,
        got: String,
        ms: u128,
    },

    #[error("{op} for {}: {}{}", .path.display(), errno_text(.err), verifier_log(.log))]
    Bpf {
        op: &'static str,
        path: PathBuf,
        err: io::Error,
        log: String,
    },

    #[error("sending {signal} to pid {pid}: {}", .err.desc())]
    Signal {
        pid: i32,
        signal: String,
        err: nix::errno::Errno,
    },

    #[error("{}", join_errors(.0))]
    Multiple(Vec<CgroupError>),
}

/// The text of an OS error without Rust's " (os error N)" suffix:
/// "Device or resource busy" rather than "Device or resource busy (os error 16)".
fn errno_text(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => err.to_string(),
    }
}

fn verifier_log(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!("\nverifier log:\n{log}")
    }
}

fn join_errors(errors: &[CgroupError]) -> String {
    let parts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    parts.join("; ")
}

impl CgroupError {
    /// The errno behind an I/O failure, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CgroupError::Read { err, .. }
            | CgroupError::Write { err, .. }
            | CgroupError::Mkdir { err, .. }
            | CgroupError::Rmdir { err, .. }
            | CgroupError::Bpf { err, .. } => err.raw_os_error(),
            CgroupError::Signal { err, .. } => Some(*err as i32),
            _ => None,
        }
    }

    /// Collapse a list of errors: none is success, one is itself, more is
    /// [`CgroupError::Multiple`].
    fn from_list(mut errors: Vec<CgroupError>) -> Result<(), CgroupError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(CgroupError::Multiple(errors)),
        }
    }
}

/// Write `value` to a control file in one `write(2)`, as cgroupfs expects.
/// The file must exist: cgroupfs files are never created by writers.
fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    file.write_all(value.as_bytes())
}

/// Write `value` to `dir/file`.
fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    write_raw(&path, value).map_err(|err| CgroupError::Write {
        path,
        value: value.to_string(),
        err,
    })
}

/// Write `value` to `dir/file`, reporting a missing file as `Ok(false)`.
fn write_if_exists(dir: &Path, file: &str, value: &str) -> Result<bool, CgroupError> {
    let path = dir.join(file);
    match write_raw(&path, value) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(CgroupError::Write {
            path,
            value: value.to_string(),
            err,
        }),
    }
}

/// Read `dir/file`, without its trailing newline.
fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(mut s) => {
            while s.ends_with('\n') {
                s.pop();
            }
            Ok(s)
        }
        Err(err) => Err(CgroupError::Read { path, err }),
    }
}
