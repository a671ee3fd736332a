//! Mounting a stack of layer snapshots with overlayfs.
//!
//! The classic `lowerdir=a:b:c` option string must fit in one page, which caps an
//! image at a few dozen layers with long paths. Linux 6.8+ accepts the lower
//! directories one at a time through the new mount API (`fsconfig` with
//! `lowerdir+`), so any number of layers mounts; older kernels get the option
//! string, which works while it fits.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("overlay mount on {target}: {op} {arg}: {err}")]
    Sys {
        target: PathBuf,
        op: &'static str,
        arg: String,
        err: std::io::Error,
    },
    #[error("overlay mount on {target}: no lower directories")]
    NoLayers { target: PathBuf },
    #[error("overlay mount on {target}: path {path} contains a NUL byte")]
    BadPath { target: PathBuf, path: PathBuf },
    #[error(
        "overlay mount on {target}: {n} lower directories do not fit in one mount option \
         page on this kernel (it lacks lowerdir+)"
    )]
    TooManyLayers { target: PathBuf, n: usize },
}

/// What to mount: lower directories from the top layer down, and optionally a
/// writable upper layer (upper and work must be on the same filesystem).
#[derive(Debug, Clone, Default)]
pub struct OverlaySpec {
    /// Topmost first, as overlayfs orders `lowerdir`.
    pub lower: Vec<PathBuf>,
    pub upper: Option<PathBuf>,
    pub work: Option<PathBuf>,
    /// Mount with `volatile`: no sync of the upper layer, ever (not even
    /// the whole upper file system's sync an unmount otherwise does); for
    /// an upper layer thrown away with the container (`--rm`). After an
    /// unclean end the kernel refuses to mount that upper layer again until
    /// `<work>/work/incompat/volatile` is removed. Ignored by a kernel
    /// without it (before 5.10).
    pub volatile: bool,
}

const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;
const FSOPEN_CLOEXEC: u32 = 1;
const FSMOUNT_CLOEXEC: u32 = 1;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 4;

fn cpath(target: &Path, p: &Path) -> Result<CString, OverlayError> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| OverlayError::BadPath {
        target: target.into(),
        path: p.into(),
    })
}

/// Mount the overlay described by `spec` on `target`.
pub fn mount(spec: &OverlaySpec, target: &Path) -> Result<(), OverlayError> {
    if spec.lower.is_empty() {
        return Err(OverlayError::NoLayers {
            target: target.into(),
        });
    }
    match mount_fsconfig(spec, target) {
        Ok(()) => Ok(()),
        // EINVAL from fsconfig("lowerdir+") means the kernel predates it.
        Err(FsError::Unsupported) => mount_legacy(spec, target),
        Err(FsError::Failed(e)) => Err(e),
    }
}

enum FsError {
    Unsupported,
    Failed(OverlayError),
}

fn mount_fsconfig(spec: &OverlaySpec, target: &Path) -> Result<(), FsError> {
    let mnt = detached(spec, target)?;
    let t = cpath(target, target).map_err(FsError::Failed)?;
    // SAFETY: move the detached mount (fd, empty path) onto the target path.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(FsError::Failed(OverlayError::Sys {
            target: target.into(),
            op: "move_mount to",
            arg: target.display().to_string(),
            err: std::io::Error::last_os_error(),
        }));
    }
    Ok(())
}

/// A read-only view of `lower` (topmost first) to look things up in, on
/// no mount point: a detached overlay mount, gone when the descriptor is
/// closed, or the directory itself for a single layer (overlayfs needs two
/// lower directories without an upper one). `label` names it in errors.
pub fn open_view(lower: &[PathBuf], label: &Path) -> Result<OwnedFd, OverlayError> {
    match lower {
        [] => Err(OverlayError::NoLayers {
            target: label.into(),
        }),
        [one] => std::fs::File::open(one)
            .map(OwnedFd::from)
            .map_err(|err| OverlayError::Sys {
                target: label.into(),
                op: "opening",
                arg: one.display().to_string(),
                err,
            }),
        _ => {
            let spec = OverlaySpec {
                lower: lower.to_vec(),
                ..Default::default()
            };
            detached(&spec, label).map_err(|e| match e {
                FsError::Failed(e) => e,
                FsError::Unsupported => OverlayError::Sys {
                    target: label.into(),
                    op: "fsopen",
                    arg: "overlay".into(),
                    err: std::io::Error::from_raw_os_error(libc::ENOSYS),
                },
            })
        }
    }
}

/// The overlay `spec` as a detached mount (new mount API); `target` names
/// it in errors.
fn detached(spec: &OverlaySpec, target: &Path) -> Result<OwnedFd, FsError> {
    let sys = |op: &'static str, arg: &str| {
        let err = std::io::Error::last_os_error();
        OverlayError::Sys {
            target: target.into(),
            op,
            arg: arg.to_string(),
            err,
        }
    };
    // SAFETY: fsopen takes a C string and flags; returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), FSOPEN_CLOEXEC) };
    if fd < 0 {
        return Err(FsError::Unsupported);
    }
    // SAFETY: fsopen returned a new fd that nothing else owns.
    let fs = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let set = |key: &CString, value: Option<&CString>| -> i64 {
        let (cmd, v) = match value {
            Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
            None => (FSCONFIG_SET_FLAG, std::ptr::null()),
        };
        // SAFETY: valid fd, NUL-terminated key and value (or NULL for a flag).
        unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, key.as_ptr(), v, 0) }
    };
    let lower_key = c"lowerdir+".to_owned();
    for (i, l) in spec.lower.iter().enumerate() {
        let v = cpath(target, l).map_err(FsError::Failed)?;
        if set(&lower_key, Some(&v)) < 0 {
            let e = std::io::Error::last_os_error();
            if i == 0 && e.raw_os_error() == Some(libc::EINVAL) {
                return Err(FsError::Unsupported);
            }
            return Err(FsError::Failed(OverlayError::Sys {
                target: target.into(),
                op: "adding lower directory",
                arg: l.display().to_string(),
                err: e,
            }));
        }
    }
    for (key, val) in [("upperdir", &spec.upper), ("workdir", &spec.work)] {
        if let Some(p) = val {
            let k = CString::new(key).expect("no NUL");
            let v = cpath(target, p).map_err(FsError::Failed)?;
            if set(&k, Some(&v)) < 0 {
                return Err(FsError::Failed(sys("setting", key)));
            }
        }
    }
    if spec.volatile && spec.upper.is_some() {
        // A speed hint only: a kernel that lacks it mounts without.
        let _ = set(&c"volatile".to_owned(), None);
    }
    if spec.upper.is_some() {
        // As Docker mounts: no inode index, whatever the kernel's default
        // (with one, a mount whose upper layer another mount still holds
        // fails instead of being warned about; a recycled container
        // directory's last mount may linger a moment in a mount namespace
        // being set up).
        let _ = set(&c"index".to_owned(), Some(&c"off".to_owned()));
    }
    // SAFETY: valid fd; CMD_CREATE takes no key or value.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    };
    if rc < 0 {
        return Err(FsError::Failed(sys("creating", "overlay superblock")));
    }
    // SAFETY: valid fs context fd; flags and attributes are plain integers.
    let m = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
    if m < 0 {
        return Err(FsError::Failed(sys("fsmount", "")));
    }
    // SAFETY: fsmount returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(m as i32) })
}

fn mount_legacy(spec: &OverlaySpec, target: &Path) -> Result<(), OverlayError> {
    let lower: Vec<String> = spec
        .lower
        .iter()
        .map(|p| p.display().to_string().replace(':', "\\:"))
        .collect();
    let mut opts = format!("lowerdir={}", lower.join(":"));
    if let (Some(u), Some(w)) = (&spec.upper, &spec.work) {
        opts.push_str(&format!(
            ",upperdir={},workdir={}",
            u.display(),
            w.display()
        ));
    }
    let with_volatile = spec.volatile && spec.upper.is_some();
    if with_volatile {
        opts.push_str(",volatile");
    }
    // SAFETY: sysconf has no memory arguments.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    if opts.len() >= page {
        return Err(OverlayError::TooManyLayers {
            target: target.into(),
            n: spec.lower.len(),
        });
    }
    let mount_with = |o: &str| {
        nix::mount::mount(
            Some("overlay"),
            target,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(o),
        )
    };
    match mount_with(&opts) {
        // A kernel without `volatile` (a speed hint only): without it.
        Err(nix::errno::Errno::EINVAL) if with_volatile => {
            mount_with(opts.trim_end_matches(",volatile"))
        }
        r => r,
    }
    .map_err(|e| OverlayError::Sys {
        target: target.into(),
        op: "mount",
        arg: "overlay".into(),
        err: e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unmounts on drop, so a failing test leaves no mount behind.
    struct Mounted(PathBuf);
    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }

    #[test]
    fn one_hundred_twenty_layers_mount() {
        let d = tempfile::tempdir().unwrap();
        // Long paths make the legacy option string overflow a page well before 120.
        let base = d
            .path()
            .join("snapshots-with-a-deliberately-long-directory-name");
        let mut lower = Vec::new();
        for i in 0..120 {
            let l = base.join(format!("layer-{i:03}-0123456789abcdef0123456789abcdef"));
            std::fs::create_dir_all(&l).unwrap();
            std::fs::write(l.join(format!("file{i}")), format!("{i}")).unwrap();
            // every layer also writes "top"; the highest layer must win
            std::fs::write(l.join("top"), format!("{i}")).unwrap();
            lower.push(l);
        }
        lower.reverse(); // topmost (layer 119) first
        let target = d.path().join("merged");
        std::fs::create_dir(&target).unwrap();
        let spec = OverlaySpec {
            lower,
            ..Default::default()
        };
        let total: usize = spec.lower.iter().map(|p| p.as_os_str().len() + 1).sum();
        assert!(total > 4096, "the test must exceed one page of options");
        mount(&spec, &target).unwrap();
        let _m = Mounted(target.clone());
        for i in [0, 57, 119] {
            assert_eq!(
                std::fs::read_to_string(target.join(format!("file{i}"))).unwrap(),
                i.to_string()
            );
        }
        assert_eq!(std::fs::read_to_string(target.join("top")).unwrap(), "119");
    }

    #[test]
    fn writable_upper_keeps_lowers_untouched() {
        let d = tempfile::tempdir().unwrap();
        let (low, up, work, target) = layer_dirs(d.path());
        std::fs::write(low.join("f"), "lower").unwrap();
        let spec = OverlaySpec {
            lower: vec![low.clone()],
            upper: Some(up.clone()),
            work: Some(work),
            volatile: false,
        };
        mount(&spec, &target).unwrap();
        let _m = Mounted(target.clone());
        std::fs::write(target.join("f"), "changed").unwrap();
        assert_eq!(std::fs::read_to_string(low.join("f")).unwrap(), "lower");
        assert_eq!(std::fs::read_to_string(up.join("f")).unwrap(), "changed");
        assert!(!super_options(&target).contains("volatile"));
    }

    /// Empty `low`, `up`, `work` and `merged` directories under `base`.
    fn layer_dirs(base: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
        let dirs = ["low", "up", "work", "merged"].map(|n| base.join(n));
        for p in &dirs {
            std::fs::create_dir(p).unwrap();
        }
        let [low, up, work, merged] = dirs;
        (low, up, work, merged)
    }

    /// The super-block options of the mount at `target`.
    fn super_options(target: &Path) -> String {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let t = target.to_str().unwrap();
        let line = info
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(t))
            .unwrap_or_else(|| panic!("{t} is not mounted"));
        line.rsplit(' ').next().unwrap().to_string()
    }

    /// `volatile` reaches the kernel (as `--rm` containers are mounted), and
    /// leaves the kernel's mark that the upper layer was mounted so.
    #[test]
    fn volatile_upper_is_mounted_volatile() {
        let d = tempfile::tempdir().unwrap();
        let (low, up, work, target) = layer_dirs(d.path());
        let spec = OverlaySpec {
            lower: vec![low],
            upper: Some(up),
            work: Some(work.clone()),
            volatile: true,
        };
        mount(&spec, &target).unwrap();
        let m = Mounted(target.clone());
        std::fs::write(target.join("f"), "x").unwrap();
        let opts = super_options(&target);
        let volatile = |o: &str| o == "volatile" || o == "fsync=volatile";
        assert!(opts.split(',').any(volatile), "{opts}");
        drop(m);
        assert!(work.join("work/incompat/volatile").is_dir());
    }

    #[test]
    fn missing_lower_is_named() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("m");
        std::fs::create_dir(&target).unwrap();
        let spec = OverlaySpec {
            lower: vec![d.path().join("nope")],
            ..Default::default()
        };
        let e = mount(&spec, &target).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }
}
