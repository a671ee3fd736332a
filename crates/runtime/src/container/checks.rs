//! What `create` (and exec) checks before anything is made: threads, capabilities,
//! security labels, sysctls, namespace paths, the seccomp program and the rootfs.

use super::io_err;
use crate::caps::{self, CapSets};
use crate::spec::{NamespaceType, Spec};
use crate::Error;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

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
pub(super) fn check_security_labels(spec: &Spec) -> Result<(), Error> {
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
pub(super) fn check_sysctls(spec: &Spec) -> Result<(), Error> {
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

pub(super) fn open_ns(typ: NamespaceType, path: &str) -> Result<OwnedFd, Error> {
    nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::Invalid(format!("{} namespace path {path}: {e}", typ.proc_name())))
}

pub(super) fn compile_seccomp(
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
pub(super) fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf, Error> {
    let root = spec.root.as_ref().map(|r| r.path.as_str()).unwrap_or("");
    let p = bundle.join(root);
    match std::fs::metadata(&p) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => return Err(Error::RootfsMissing(p, "is not a directory")),
        Err(_) => return Err(Error::RootfsMissing(p, "does not exist")),
    }
    p.canonicalize().map_err(io_err("resolving", &p))
}
