//! A step's working root filesystem: the state's layers under a fresh
//! upper directory, mounted with overlayfs below `<image root>/build/`
//! (the store's file system, so that the upper directory becomes the new
//! layer's snapshot by a rename). Each work directory holds a lock while
//! its builder lives: a build killed at any moment leaves one that the next
//! build unmounts and removes.

use crate::error::{BuildError, Result};
use skiff_image::overlay::OverlaySpec;
use skiff_image::snapshot::{lock_file, try_lock_file};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Paths the runtime may create in the root filesystem as mount points;
/// when they were not there before a RUN, what it left of them is not part
/// of the layer.
const MOUNT_POINTS: [&str; 7] = [
    "/proc",
    "/sys",
    "/dev",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/hostname",
    "/etc",
];

pub struct Work {
    pub dir: PathBuf,
    mounted: bool,
    absent: Vec<&'static str>,
    _lock: nix::fcntl::Flock<std::fs::File>,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn unmount(path: &Path) {
    use nix::mount::{umount2, MntFlags};
    for _ in 0..64 {
        match umount2(path, MntFlags::empty()) {
            Ok(()) => continue,
            Err(nix::errno::Errno::EBUSY) => {
                let _ = umount2(path, MntFlags::MNT_DETACH);
            }
            Err(_) => return,
        }
    }
}

impl Work {
    /// The directory work dirs live in.
    pub fn parent(image_root: &Path) -> PathBuf {
        image_root.join("build")
    }

    /// Remove work dirs whose builder is gone (killed): unmounted first.
    /// A dir is its builder's while that process lives (its pid names it:
    /// a new dir is not locked yet) and while its lock is held.
    pub fn sweep(image_root: &Path) {
        let parent = Self::parent(image_root);
        for e in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            let dir = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let pid: i32 = name
                .split('-')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            // SAFETY: kill with signal 0 only checks that the process exists.
            if pid > 0 && unsafe { libc::kill(pid, 0) } == 0 {
                continue;
            }
            let Ok(Some(_held)) = try_lock_file(&dir.join("lock")) else {
                continue;
            };
            unmount(&dir.join("rootfs"));
            unmount(&dir.join("view"));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    pub fn new(image_root: &Path) -> Result<Work> {
        let parent = Self::parent(image_root);
        if !parent.exists() {
            std::fs::create_dir_all(&parent)
                .map_err(|e| BuildError::host(format!("creating {}: {e}", parent.display())))?;
            // Each step's files land away from those of the steps just
            // removed (see `mark_top_dir`): creating files where many were
            // just deleted costs ext4 a walk over them.
            skiff_image::snapshot::mark_top_dir(&parent);
        }
        let dir = parent.join(format!(
            "{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["upper", "work", "rootfs", "empty"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| BuildError::host(format!("creating {}: {e}", dir.display())))?;
        }
        let lock = lock_file(&dir.join("lock")).map_err(BuildError::host)?;
        Ok(Work {
            dir,
            mounted: false,
            absent: Vec::new(),
            _lock: lock,
        })
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// Mount `lower` (topmost first; none for scratch) under the upper dir.
    pub fn mount(&mut self, mut lower: Vec<PathBuf>) -> Result<()> {
        if lower.is_empty() {
            lower.push(self.dir.join("empty"));
        }
        let spec = OverlaySpec {
            lower,
            upper: Some(self.upper()),
            work: Some(self.dir.join("work")),
            volatile: true,
        };
        skiff_image::overlay::mount(&spec, &self.rootfs()).map_err(BuildError::host)?;
        self.mounted = true;
        let root = self.rootfs();
        // A RUN's own mount targets stay (as BuildKit leaves them).
        self.absent = MOUNT_POINTS
            .iter()
            .copied()
            .filter(|p| std::fs::symlink_metadata(root.join(&p[1..])).is_err())
            .collect();
        Ok(())
    }

    /// Unmount, and drop what the runtime made as mount points.
    pub fn unmount(&mut self) {
        if self.mounted {
            unmount(&self.rootfs());
            self.mounted = false;
        }
        let upper = self.upper();
        for p in &self.absent {
            let path = upper.join(&p[1..]);
            let Ok(md) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if md.is_dir() {
                // Only if empty: a RUN may have made /etc for real.
                let _ = std::fs::remove_dir(&path);
            } else if md.is_file() && md.len() == 0 {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        self.unmount();
        unmount(&self.dir.join("view"));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A read-only view of a state's files (COPY --from): its only layer's
/// directory, or its layers mounted without an upper dir.
pub struct View {
    pub root: PathBuf,
    _work: Option<Work>,
}

impl View {
    pub fn new(image_root: &Path, mut lower: Vec<PathBuf>) -> Result<View> {
        // A layer still being stored is reached through a descriptor that
        // closes once it is stored: it is bind-mounted (a mount holds it).
        let held = lower.len() == 1 && lower[0].starts_with("/proc/self/fd");
        if lower.len() == 1 && !held {
            return Ok(View {
                root: lower.pop().expect("one"),
                _work: None,
            });
        }
        let w = Work::new(image_root)?;
        let root = w.dir.join("view");
        if held {
            std::fs::create_dir_all(&root).map_err(BuildError::host)?;
            use nix::mount::{mount, MsFlags};
            mount(
                Some(&lower[0]),
                &root,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| BuildError::host(format!("bind mount of a layer: {e}")))?;
            return Ok(View {
                root,
                _work: Some(w),
            });
        }
        if lower.is_empty() {
            return Ok(View {
                root: w.dir.join("empty"),
                _work: Some(w),
            });
        }
        std::fs::create_dir_all(&root).map_err(BuildError::host)?;
        let spec = OverlaySpec {
            lower,
            upper: None,
            work: None,
            volatile: false,
        };
        skiff_image::overlay::mount(&spec, &root).map_err(BuildError::host)?;
        Ok(View {
            root,
            _work: Some(w),
        })
    }
}
