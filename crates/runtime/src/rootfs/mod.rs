//! The container's root filesystem, built inside its new mount namespace:
//! root propagation, the rootfs bind, every configured mount, /dev, pivot_root,
//! masked and read-only paths.
//!
//! Runs in the container's init process (forked from the single-threaded runtime),
//! before the user process is exec'd.

mod dev;
mod flags;
pub mod resolve;

pub use dev::{setup_dev, setup_dev_symlinks, DEFAULT_DEVICES};
pub use flags::{parse_options, MountOptions};
pub use resolve::{resolve_in_root, Create};

use crate::spec::{Mount, Spec};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{op} {path}: {err}")]
    Sys {
        op: &'static str,
        path: PathBuf,
        err: nix::errno::Errno,
    },
    #[error("{op} {path}: {err}")]
    Io {
        op: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("mount destination {dest}: {why}")]
    Destination { dest: String, why: String },
    #[error("mount {dest}: unsupported option {opt:?}")]
    Option { dest: String, opt: String },
    #[error("mount {dest}: source {src} does not exist")]
    NoSource { dest: String, src: String },
}

pub type Result<T> = std::result::Result<T, RootfsError>;

fn sys<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(nix::errno::Errno) -> RootfsError + 'a {
    move |err| RootfsError::Sys {
        op,
        path: path.to_path_buf(),
        err,
    }
}

/// The container's cgroup directories, for a `cgroup` mount inside it.
#[derive(Debug, Clone, Default)]
pub struct CgroupMounts {
    /// Host cgroup2 is the only hierarchy (pure v2).
    pub unified_only: bool,
    /// (hierarchy name, host directory); name "" is the unified hierarchy.
    pub dirs: Vec<(String, PathBuf)>,
}

/// Everything the rootfs code needs besides the spec.
pub struct RootfsContext<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub cgroups: &'a CgroupMounts,
    pub in_userns: bool,
    pub new_cgroupns: bool,
}

/// Mount propagation of "/" in the new mount namespace, and the bind of the rootfs
/// onto itself so it can become the root.
pub fn prepare_root(ctx: &RootfsContext) -> Result<()> {
    let prop = match ctx.spec.linux().rootfs_propagation.as_deref() {
        None | Some("") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some(p) => flags::propagation(p).ok_or_else(|| RootfsError::Option {
            dest: "/".into(),
            opt: p.into(),
        })?,
    };
    mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
        .map_err(sys("making / ", Path::new("/")))?;
    if prop.contains(MsFlags::MS_SHARED) {
        // pivot_root refuses a new root whose parent mount is shared.
        let parent = mount_point_of(ctx.rootfs);
        mount(
            None::<&str>,
            &parent,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(sys("making private", &parent))?;
    }
    mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys("bind-mounting rootfs", ctx.rootfs))
}

/// The mount point (from /proc/self/mountinfo) that holds `path`.
fn mount_point_of(path: &Path) -> PathBuf {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut best = PathBuf::from("/");
    for line in info.lines() {
        if let Some(mp) = line.split(' ').nth(4) {
            let mp = Path::new(mp);
            if path.starts_with(mp) && mp.as_os_str().len() > best.as_os_str().len() {
                best = mp.to_path_buf();
            }
        }
    }
    best
}

/// Perform every mount of the spec, in order, below the rootfs.
pub fn mount_all(ctx: &RootfsContext) -> Result<()> {
    for m in &ctx.spec.mounts {
        mount_one(ctx, m)?;
    }
    Ok(())
}

fn mount_one(ctx: &RootfsContext, m: &Mount) -> Result<()> {
    let opts = parse_options(&m.options, &m.destination)?;
    let typ = m.typ.as_deref().unwrap_or("");
    let is_bind = opts.flags.contains(MsFlags::MS_BIND) || typ == "bind";
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(ctx, m, &opts);
    }
    let dest_kind = if is_bind {
        let src = bind_source(ctx, m)?;
        let md = std::fs::metadata(&src).map_err(|_| RootfsError::NoSource {
            dest: m.destination.clone(),
            src: src.display().to_string(),
        })?;
        if md.is_dir() {
            Create::Dir
        } else {
            Create::File
        }
    } else {
        Create::Dir
    };
    let dest = resolve_in_root(ctx.rootfs, &m.destination, Some(dest_kind))?;
    if is_bind {
        let src = bind_source(ctx, m)?;
        bind(&src, &dest, &opts)?;
    } else {
        let data = opts.data_for(typ);
        let flags = opts.flags;
        let source = m.source.as_deref().unwrap_or(typ);
        let mut r = mount(Some(source), &dest, Some(typ), flags, data.as_deref());
        if r == Err(nix::errno::Errno::EINVAL) && typ == "sysfs" && ctx.in_userns {
            // sysfs of the host network namespace cannot be mounted from a user
            // namespace that does not own it: bind the host's /sys instead.
            r = mount(
                Some("/sys"),
                &dest,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            );
        }
        r.map_err(|err| RootfsError::Sys {
            op: "mounting",
            path: PathBuf::from(&m.destination),
            err,
        })?;
        if typ == "tmpfs" && opts.flags.contains(MsFlags::MS_RDONLY) {
            // Nothing more to do: tmpfs honours MS_RDONLY at mount time.
        }
    }
    for p in &opts.propagation {
        mount(None::<&str>, &dest, None::<&str>, *p, None::<&str>)
            .map_err(sys("setting propagation of", &dest))?;
    }
    if opts.rec_attr_set != 0 || opts.rec_attr_clr != 0 {
        flags::mount_setattr_recursive(&dest, opts.rec_attr_set, opts.rec_attr_clr)
            .map_err(sys("setting recursive attributes of", &dest))?;
    }
    Ok(())
}

fn bind_source(ctx: &RootfsContext, m: &Mount) -> Result<PathBuf> {
    let src = m.source.as_deref().unwrap_or("");
    if src.is_empty() {
        return Err(RootfsError::NoSource {
            dest: m.destination.clone(),
            src: "(none)".into(),
        });
    }
    let p = Path::new(src);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        ctx.bundle.join(p)
    })
}

/// Bind `src` onto `dest`, then apply the other flags with a remount.
pub fn bind(src: &Path, dest: &Path, opts: &MountOptions) -> Result<()> {
    let rec = opts.flags & MsFlags::MS_REC;
    mount(
        Some(src),
        dest,
        None::<&str>,
        MsFlags::MS_BIND | rec,
        None::<&str>,
    )
    .map_err(sys("bind-mounting onto", dest))?;
    let extra = opts.flags - MsFlags::MS_BIND - MsFlags::MS_REC;
    if !extra.is_empty() {
        remount_bind(dest, extra)?;
    }
    Ok(())
}

/// Remount a bind mount with `flags`, keeping the flags the kernel locks
/// (nosuid, nodev, noexec, atime flags) when it refuses to drop them.
pub fn remount_bind(dest: &Path, flags: MsFlags) -> Result<()> {
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount(None::<&str>, dest, None::<&str>, base | flags, None::<&str>) {
        Err(nix::errno::Errno::EPERM) => {
            let locked = locked_flags(dest);
            mount(
                None::<&str>,
                dest,
                None::<&str>,
                base | flags | locked,
                None::<&str>,
            )
            .map_err(sys("remounting", dest))
        }
        r => r.map_err(sys("remounting", dest)),
    }
}

fn locked_flags(path: &Path) -> MsFlags {
    let Ok(st) = nix::sys::statvfs::statvfs(path) else {
        return MsFlags::empty();
    };
    use nix::sys::statvfs::FsFlags;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (s, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
    ] {
        if f.contains(s) {
            out |= m;
        }
    }
    out
}

/// A `cgroup` mount: the container's own cgroups, the way the host lays them out.
fn mount_cgroup(ctx: &RootfsContext, m: &Mount, opts: &MountOptions) -> Result<()> {
    let dest = resolve_in_root(ctx.rootfs, &m.destination, Some(Create::Dir))?;
    let ro = opts.flags.contains(MsFlags::MS_RDONLY);
    let base = opts.flags - MsFlags::MS_RDONLY - MsFlags::MS_BIND - MsFlags::MS_REC;
    if ctx.cgroups.unified_only {
        if ctx.new_cgroupns {
            return mount(
                Some("cgroup2"),
                &dest,
                Some("cgroup2"),
                opts.flags,
                None::<&str>,
            )
            .map_err(sys("mounting cgroup2 on", &dest));
        }
        let Some((_, dir)) = ctx.cgroups.dirs.first() else {
            return Ok(());
        };
        return bind(
            dir,
            &dest,
            &MountOptions {
                flags: MsFlags::MS_BIND | MsFlags::MS_REC | opts.flags,
                ..Default::default()
            },
        );
    }
    mount(Some("tmpfs"), &dest, Some("tmpfs"), base, Some("mode=755"))
        .map_err(sys("mounting tmpfs for cgroups on", &dest))?;
    // One mount_setattr on the whole tree gives every hierarchy's bind its
    // flags (where the kernel has it), instead of a remount of each.
    let tree_flags = if ro { base | MsFlags::MS_RDONLY } else { base };
    let tree_attrs = flags::attrs_of(tree_flags);
    for (name, dir) in &ctx.cgroups.dirs {
        let sub = if name.is_empty() { "unified" } else { name };
        let target = dest.join(sub);
        std::fs::create_dir_all(&target).map_err(|err| RootfsError::Io {
            op: "creating",
            path: target.clone(),
            err,
        })?;
        let mut f = MsFlags::MS_BIND | MsFlags::MS_REC;
        if tree_attrs.is_none() {
            f |= tree_flags;
        }
        bind(
            dir,
            &target,
            &MountOptions {
                flags: f,
                ..Default::default()
            },
        )?;
        if name.contains(',') {
            for part in name.split(',') {
                let link = dest.join(part);
                let _ = std::os::unix::fs::symlink(name, link);
            }
        }
    }
    if let Some((set, clr)) = tree_attrs {
        match flags::mount_setattr_recursive(&dest, set, clr) {
            // The tmpfs is remounted below as well: that makes its
            // superblock read-only too, as runc leaves it (mountinfo's
            // last field).
            Ok(()) => {}
            // A kernel before 5.12, or flags the kernel locks (a user
            // namespace) or a filter refusing the call: each bind is
            // remounted, keeping the flags the kernel locks.
            Err(nix::errno::Errno::ENOSYS | nix::errno::Errno::EPERM) => {
                for (name, _) in &ctx.cgroups.dirs {
                    let sub = if name.is_empty() { "unified" } else { name };
                    remount_bind(&dest.join(sub), tree_flags)?;
                }
            }
            Err(e) => return Err(sys("setting the flags of", &dest)(e)),
        }
    }
    if ro {
        remount_bind_or_plain(&dest, base | MsFlags::MS_RDONLY)?;
    }
    Ok(())
}

fn remount_bind_or_plain(dest: &Path, flags: MsFlags) -> Result<()> {
    mount(
        None::<&str>,
        dest,
        None::<&str>,
        MsFlags::MS_REMOUNT | flags,
        None::<&str>,
    )
    .map_err(sys("remounting", dest))
}

/// Make the rootfs the root: pivot_root, or (no-pivot) move it over / and chroot.
pub fn enter_root(rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        std::env::set_current_dir(rootfs).map_err(|err| RootfsError::Io {
            op: "entering",
            path: rootfs.into(),
            err,
        })?;
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .map_err(sys("moving rootfs over", Path::new("/")))?;
        nix::unistd::chroot(".").map_err(sys("chroot into", rootfs))?;
        nix::unistd::chdir("/").map_err(sys("chdir", Path::new("/")))?;
        return Ok(());
    }
    let old = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(sys("opening", Path::new("/")))?;
    nix::unistd::chdir(rootfs).map_err(sys("chdir", rootfs))?;
    nix::unistd::pivot_root(".", ".").map_err(sys("pivot_root to", rootfs))?;
    nix::unistd::fchdir(&old).map_err(sys("fchdir to old root", Path::new("/")))?;
    // Keep unmount events of the old root from reaching the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys("making old root a slave", Path::new("/")))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(sys("unmounting old root", Path::new("/")))?;
    nix::unistd::chdir("/").map_err(sys("chdir", Path::new("/")))?;
    Ok(())
}

/// After pivot_root: rootfsPropagation again on the new /, sysctls, masked and
/// read-only paths, and the read-only root.
pub fn finalize(spec: &Spec) -> Result<()> {
    let linux = spec.linux();
    if let Some(p) = linux
        .rootfs_propagation
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        if let Some(f) = flags::propagation(p) {
            mount(None::<&str>, "/", None::<&str>, f, None::<&str>)
                .map_err(sys("setting propagation of", Path::new("/")))?;
        }
    }
    for (k, v) in &linux.sysctl {
        let path = PathBuf::from("/proc/sys").join(k.replace('.', "/"));
        std::fs::write(&path, v).map_err(|err| RootfsError::Io {
            op: "setting sysctl",
            path,
            err,
        })?;
    }
    for p in &linux.masked_paths {
        mask_path(Path::new(p))?;
    }
    for p in &linux.readonly_paths {
        readonly_path(Path::new(p))?;
    }
    if spec.root.as_ref().is_some_and(|r| r.readonly) {
        remount_bind(Path::new("/"), MsFlags::MS_RDONLY)?;
    }
    Ok(())
}

fn mask_path(p: &Path) -> Result<()> {
    let md = match std::fs::symlink_metadata(p) {
        Ok(md) => md,
        Err(_) => return Ok(()),
    };
    let r = if md.is_dir() {
        mount(
            Some("tmpfs"),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )
    } else {
        mount(
            Some("/dev/null"),
            p,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    };
    match r {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(err) => Err(RootfsError::Sys {
            op: "masking",
            path: p.into(),
            err,
        }),
    }
}

fn readonly_path(p: &Path) -> Result<()> {
    match mount(
        Some(p),
        p,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    ) {
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        r => r.map_err(sys("bind-mounting read-only path", p))?,
    }
    remount_bind(
        p,
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
    )
}

/// The path as a C string (for raw syscalls).
pub fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}
