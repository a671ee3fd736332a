//! /dev inside the container: the default device nodes, the configured ones,
//! /dev/ptmx and the /dev/fd, stdin, stdout, stderr symlinks.

use super::{resolve_in_root, Create, Result, RootfsError};
use crate::spec::Device;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use std::os::unix::fs::symlink;
use std::path::Path;

/// The devices every container gets (runtime-spec "Default Devices").
pub const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// Create the default and configured devices below `rootfs`.
/// In a user namespace mknod is not allowed: bind the host's node instead.
pub fn setup_dev(rootfs: &Path, devices: &[Device], in_userns: bool) -> Result<()> {
    let old = nix::sys::stat::umask(Mode::empty());
    let r = (|| {
        for (path, major, minor) in DEFAULT_DEVICES {
            if devices.iter().any(|d| d.path == path) {
                continue;
            }
            let d = Device {
                typ: "c".into(),
                path: path.into(),
                major: major as i64,
                minor: minor as i64,
                file_mode: Some(0o666),
                uid: Some(0),
                gid: Some(0),
            };
            create_device(rootfs, &d, in_userns)?;
        }
        for d in devices {
            create_device(rootfs, d, in_userns)?;
        }
        Ok(())
    })();
    nix::sys::stat::umask(old);
    r
}

fn create_device(rootfs: &Path, d: &Device, in_userns: bool) -> Result<()> {
    let kind = match d.typ.as_str() {
        "c" | "u" => SFlag::S_IFCHR,
        "b" => SFlag::S_IFBLK,
        "p" => SFlag::S_IFIFO,
        other => {
            return Err(RootfsError::Destination {
                dest: d.path.clone(),
                why: format!("unknown device type {other:?}"),
            })
        }
    };
    let parent = Path::new(&d.path).parent().unwrap_or(Path::new("/"));
    let dir = resolve_in_root(rootfs, &parent.to_string_lossy(), Some(Create::Dir))?;
    let name = Path::new(&d.path).file_name().unwrap_or_default();
    let host = dir.join(name);
    if in_userns {
        resolve_in_root(rootfs, &d.path, Some(Create::File))?;
        return mount(
            Some(Path::new(&d.path)),
            &host,
            Some("bind"),
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|err| RootfsError::Sys {
            op: "bind-mounting device",
            path: d.path.clone().into(),
            err,
        });
    }
    let _ = std::fs::remove_file(&host);
    let mode = Mode::from_bits_truncate(d.file_mode.unwrap_or(0o666) & 0o7777);
    mknod(
        &host,
        kind,
        mode,
        makedev(d.major.max(0) as u64, d.minor.max(0) as u64),
    )
    .map_err(|err| RootfsError::Sys {
        op: "creating device",
        path: d.path.clone().into(),
        err,
    })?;
    nix::unistd::chown(
        &host,
        Some(d.uid.unwrap_or(0).into()),
        Some(d.gid.unwrap_or(0).into()),
    )
    .map_err(|err| RootfsError::Sys {
        op: "chown of device",
        path: d.path.clone().into(),
        err,
    })
}

/// /dev/ptmx and the standard /dev symlinks.
pub fn setup_dev_symlinks(rootfs: &Path, has_proc: bool) -> Result<()> {
    let dev = resolve_in_root(rootfs, "/dev", Some(Create::Dir))?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if has_proc {
        links.push(("/proc/kcore", "core"));
    }
    let ptmx = dev.join("ptmx");
    if dev.join("pts/ptmx").exists() {
        let _ = std::fs::remove_file(&ptmx);
        links.push(("pts/ptmx", "ptmx"));
    }
    for (target, name) in links {
        let p = dev.join(name);
        match symlink(target, &p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => {
                return Err(RootfsError::Io {
                    op: "creating symlink",
                    path: p,
                    err,
                })
            }
        }
    }
    Ok(())
}
