//! Mounts the engine makes on the host: a container's root filesystem (the
//! image's layers under its writable layer, with overlayfs), and their
//! removal.

use crate::model::Container;
use crate::Paths;
use std::path::{Path, PathBuf};

/// Unmount `path` if something is mounted there (lazily if busy); false
/// when a busy mount was only detached (what it mounted may still be in
/// use).
pub(crate) fn unmount(path: &Path) -> bool {
    use nix::mount::{umount2, MntFlags};
    loop {
        match umount2(path, MntFlags::empty()) {
            Ok(()) => continue,
            Err(nix::errno::Errno::EBUSY) => {
                let _ = umount2(path, MntFlags::MNT_DETACH);
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Mount the image's layers (`lower` if the caller has them, else the
/// image store's) with the container's upper layer on its rootfs.
pub(crate) fn mount_rootfs(
    paths: &Paths,
    c: &Container,
    dir: &Path,
    lower: Option<Vec<PathBuf>>,
) -> Result<(), String> {
    let mut lower = match lower {
        Some(l) => l,
        None => {
            let images =
                skiff_image::service::Images::open(&paths.root).map_err(|e| e.to_string())?;
            let id: skiff_image::digest::Digest = c
                .image_id
                .parse()
                .map_err(|e| format!("image ID {}: {e}", c.image_id))?;
            images.layer_dirs(&id).map_err(|e| e.to_string())?
        }
    };
    skiff_runtime::log::timing("mount: layers listed");
    // The image's shared init layer holds the mount points it lacks, so a
    // container that writes nothing leaves its writable layer empty
    // (skiff_image::init_layer). Without one, the runtime makes them in the
    // writable layer, as it did before.
    match skiff_image::init_layer::ensure(&lower) {
        Ok(init) => lower.insert(0, init),
        Err(e) => skiff_runtime::log::timing(&format!("supervisor: no init layer: {e}")),
    }
    skiff_runtime::log::timing("mount: init layer");
    // `--rm`: its upper layer goes with it, so it is never synced (nor,
    // at its unmount, the whole file system under it). The kernel's mark of
    // a volatile mount that may have ended uncleanly is cleared first: a
    // `--rm` container whose supervisor was killed is still started or
    // copied from, as its content is only ever thrown away.
    let volatile = c.host.auto_remove;
    if volatile {
        let _ = std::fs::remove_dir_all(dir.join("work/work/incompat"));
    }
    let spec = skiff_image::overlay::OverlaySpec {
        lower,
        upper: Some(dir.join("upper")),
        work: Some(dir.join("work")),
        volatile,
    };
    skiff_image::overlay::mount(&spec, &dir.join("rootfs")).map_err(|e| e.to_string())
}
