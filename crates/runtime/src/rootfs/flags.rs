//! Mount options as the runtime-spec writes them ("ro", "nosuid", "rbind",
//! "rprivate", "rro", "size=64k", ...) turned into mount(2) flags, propagation
//! changes, recursive mount_setattr(2) attributes and the filesystem data string.

use super::{Result, RootfsError};
use nix::mount::MsFlags;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct MountOptions {
    pub flags: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub rec_attr_set: u64,
    pub rec_attr_clr: u64,
    pub data: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            rec_attr_set: 0,
            rec_attr_clr: 0,
            data: Vec::new(),
        }
    }
}

impl MountOptions {
    /// The data string for mount(2), None when empty.
    pub fn data_for(&self, _fstype: &str) -> Option<String> {
        if self.data.is_empty() {
            None
        } else {
            Some(self.data.join(","))
        }
    }
}

pub fn propagation(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const MOUNT_ATTR__ATIME: u64 = 0x70;
const MOUNT_ATTR_RELATIME: u64 = 0x0;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// Recursive attribute options: (name, set, clear).
fn rec_attr(name: &str) -> Option<(u64, u64)> {
    Some(match name {
        "rro" => (MOUNT_ATTR_RDONLY, 0),
        "rrw" => (0, MOUNT_ATTR_RDONLY),
        "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
        "rsuid" => (0, MOUNT_ATTR_NOSUID),
        "rnodev" => (MOUNT_ATTR_NODEV, 0),
        "rdev" => (0, MOUNT_ATTR_NODEV),
        "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
        "rexec" => (0, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
        "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
        "rnorelatime" => (0, 0),
        "rnoatime" => (MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME),
        "ratime" => (0, MOUNT_ATTR_NOATIME),
        "rstrictatime" => (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
        "rnostrictatime" => (0, 0),
        "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
        "rsymfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

pub fn parse_options(options: &[String], dest: &str) -> Result<MountOptions> {
    let mut o = MountOptions::default();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "nolazytime" => (MsFlags::empty(), MsFlags::MS_LAZYTIME),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            // runc-specific hint for tmpfs copy-up; nothing to mount.
            "tmpcopyup" => continue,
            "idmap" | "ridmap" => {
                return Err(RootfsError::Option {
                    dest: dest.into(),
                    opt: opt.clone(),
                })
            }
            other => {
                if let Some(p) = propagation(other) {
                    o.propagation.push(p);
                } else if let Some((s, c)) = rec_attr(other) {
                    o.rec_attr_set |= s;
                    o.rec_attr_clr |= c;
                } else {
                    o.data.push(other.to_string());
                }
                continue;
            }
        };
        o.flags = (o.flags | set) - clear;
    }
    Ok(o)
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// The mount attributes (to set, to clear) that give a mount what a remount
/// with `flags` gives it: read-only, nosuid, nodev, noexec and nodiratime
/// set when asked for and cleared when not (as a remount clears them), the
/// atime mode when one is given; None when `flags` holds anything else,
/// which only a remount applies.
pub fn attrs_of(flags: MsFlags) -> Option<(u64, u64)> {
    let (mut set, mut clr) = (0, 0);
    let mut rest = flags;
    for (f, a) in [
        (MsFlags::MS_RDONLY, MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
    ] {
        if flags.contains(f) {
            set |= a;
            rest -= f;
        } else {
            clr |= a;
        }
    }
    // One atime mode at most, set by clearing the mode field.
    for (f, a) in [
        (MsFlags::MS_RELATIME, MOUNT_ATTR_RELATIME),
        (MsFlags::MS_NOATIME, MOUNT_ATTR_NOATIME),
        (MsFlags::MS_STRICTATIME, MOUNT_ATTR_STRICTATIME),
    ] {
        if flags.contains(f) {
            if clr & MOUNT_ATTR__ATIME != 0 {
                return None;
            }
            set |= a;
            clr |= MOUNT_ATTR__ATIME;
            rest -= f;
        }
    }
    rest.is_empty().then_some((set, clr))
}

/// mount_setattr(2) with AT_RECURSIVE on `path`.
pub fn mount_setattr_recursive(path: &Path, set: u64, clr: u64) -> nix::Result<()> {
    let c = super::cstr(path);
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: valid C string and a mount_attr struct of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_RECURSIVE as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    nix::errno::Errno::result(rc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        let v: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        parse_options(&v, "/x").unwrap()
    }

    #[test]
    fn flags_data_and_propagation_are_split() {
        let o = p(&["nosuid", "ro", "rbind", "rprivate", "size=64k", "mode=755"]);
        assert!(o.flags.contains(
            MsFlags::MS_NOSUID | MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC
        ));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.data_for("tmpfs").as_deref(), Some("size=64k,mode=755"));
    }

    #[test]
    fn later_options_win() {
        let o = p(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn attributes_of_remount_flags() {
        let all = MOUNT_ATTR_RDONLY
            | MOUNT_ATTR_NOSUID
            | MOUNT_ATTR_NODEV
            | MOUNT_ATTR_NOEXEC
            | MOUNT_ATTR_NODIRATIME;
        let set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC;
        assert_eq!(
            attrs_of(MsFlags::MS_RDONLY | MsFlags::MS_NOEXEC),
            Some((set, all & !set))
        );
        assert_eq!(attrs_of(MsFlags::empty()), Some((0, all)));
        assert_eq!(
            attrs_of(MsFlags::MS_NOSUID | MsFlags::MS_NOATIME),
            Some((
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME,
                (all & !MOUNT_ATTR_NOSUID) | MOUNT_ATTR__ATIME
            ))
        );
        assert_eq!(attrs_of(MsFlags::MS_RELATIME | MsFlags::MS_NOATIME), None);
        assert_eq!(attrs_of(MsFlags::MS_SYNCHRONOUS), None);
    }

    #[test]
    fn recursive_attributes() {
        let o = p(&["rro", "rnosuid"]);
        assert_eq!(o.rec_attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
    }
}
