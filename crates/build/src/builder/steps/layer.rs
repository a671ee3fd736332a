//! A step's files becoming its layer. Storing a layer (its tar read, hashed
//! and written, its directory moved into the snapshots, its step's cache
//! entry written) runs on a thread of its own while the next step already
//! runs on top of the directory: RUN steps mostly leave the second core
//! idle. The next step mounts the directory through an open descriptor of
//! it (`/proc/self/fd/N`), so its move changes nothing for that mount. The
//! layer is settled (its diff ID in the states) before anything needs it:
//! the next layer's commit, a cache hit, the stage's end.

use super::StageRun;
use crate::builder::work::Work;
use crate::error::{BuildError, Result};
use crate::state::State;
use skiff_image::built::NewLayer;
use skiff_image::manifest::History;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// What a step that writes files made: its work dir (unmounted at commit),
/// its history line, and the working directory it sets (WORKDIR).
pub(crate) struct Made {
    pub work: Work,
    pub created_by: String,
    pub working_dir: Option<String>,
}

/// A layer being stored.
pub(crate) struct Pending {
    /// Where its diff ID goes in the states' diff IDs.
    index: usize,
    /// Its directory, held open: a lower dir of the steps after it until
    /// settled, wherever the directory moves meanwhile.
    dir: std::fs::File,
    handle: Option<std::thread::JoinHandle<Result<NewLayer>>>,
    /// Dropped (its directory removed) only once the thread is done.
    _work: Work,
}

impl Pending {
    /// Wait for the layer and put it into `state` (the state it was made
    /// for, whose layers end below it).
    pub(crate) fn settle(mut self, state: &mut State) -> Result<()> {
        let layer = self
            .handle
            .take()
            .expect("joined once")
            .join()
            .map_err(|_| BuildError::host("the thread storing a layer panicked"))??;
        if state.config.rootfs.diff_ids.len() == self.index {
            patch(state, self.index, &layer);
        }
        skiff_runtime::log::timing("build: layer settled");
        Ok(())
    }

    /// Its directory, as a lower directory of a mount.
    pub(crate) fn dir_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.dir.as_raw_fd()))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Put `layer` into `state` at `index`.
fn patch(state: &mut State, index: usize, layer: &NewLayer) {
    state
        .config
        .rootfs
        .diff_ids
        .insert(index, layer.diff_id.clone());
    state.layers.insert(index, layer.descriptor.clone());
    state.size += layer.descriptor.size;
}

impl StageRun<'_, '_> {
    /// The state's layer directories, topmost first, with a layer still
    /// being stored on top.
    pub(crate) fn lower_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(p) = &self.pending {
            dirs.push(p.dir_path());
        }
        dirs.extend(
            self.state
                .lower_dirs(&self.b.images.lock().expect("images")),
        );
        dirs
    }

    /// Wait for the layer being stored, put it into the states, and write
    /// its step's cache entry.
    pub(crate) fn settle(&mut self) -> Result<()> {
        match self.pending.take() {
            Some(p) => p.settle(&mut self.state),
            None => Ok(()),
        }
    }

    /// The step `key` made `m`: its state, with its layer stored in the
    /// background (none when it changed nothing).
    /// With `link_key` (a `--link` step), the layer is also kept on its
    /// own under that key.
    pub(crate) fn commit(&mut self, key: &str, mut m: Made, link_key: Option<&str>) -> Result<()> {
        m.work.unmount();
        self.settle()?;
        let upper = m.work.upper();
        let empty = std::fs::read_dir(&upper)
            .map_err(BuildError::host)?
            .next()
            .is_none();
        let when = self.b.now();
        let mut state = self.state.clone();
        state.config.created = Some(when.clone());
        state.config.history.push(History {
            created: Some(when),
            created_by: Some(m.created_by),
            empty_layer: empty,
            ..Default::default()
        });
        if let Some(w) = m.working_dir {
            state.container_mut().working_dir = Some(w);
        }
        if empty {
            self.remember(key, &state, 0)?;
            self.state = state;
            return Ok(());
        }
        let (store, snapshots, catalog) = {
            let images = self.b.images.lock().expect("images");
            (
                images.store.clone(),
                images.snapshots.clone(),
                images.root().join("images.db"),
            )
        };
        let parents = self.state.config.rootfs.diff_ids.clone();
        let index = parents.len();
        let dir = std::fs::File::open(&upper).map_err(BuildError::host)?;
        let (key, mut at_step, now) = (key.to_string(), state.clone(), self.b.now());
        let (link_key, work_root) = (link_key.map(String::from), self.b.image_root.clone());
        let handle = std::thread::spawn(move || -> Result<NewLayer> {
            let blob = skiff_image::built::layer_blob(&store, &upper, &parents)?
                .ok_or_else(|| BuildError::host("a layer came back empty"))?;
            skiff_runtime::log::timing("build: layer blob stored");
            let layer = blob.adopt(&snapshots, &upper)?;
            skiff_runtime::log::timing("build: layer snapshot adopted");
            patch(&mut at_step, index, &layer);
            let catalog = skiff_image::catalog::Catalog::open(&catalog)?;
            catalog.cache_put(&super::cache_entry(
                &key,
                &at_step,
                layer.descriptor.size,
                &now,
            ))?;
            skiff_runtime::log::timing("build: layer cache entry written");
            if let Some(lk) = link_key {
                // The layer alone: its snapshot as a first layer (its chain
                // ID is its diff ID), a copy of this one.
                if !snapshots.exists(&layer.diff_id) {
                    let w = Work::new(&work_root)?;
                    skiff_image::layer::copy_tree(&layer.snapshot, &w.upper())
                        .map_err(BuildError::host)?;
                    snapshots
                        .adopt(&layer.diff_id, &w.upper())
                        .map_err(BuildError::host)?;
                }
                let alone = super::link::alone(&layer);
                catalog.cache_put(&super::cache_entry(
                    &lk,
                    &alone,
                    layer.descriptor.size,
                    &now,
                ))?;
            }
            Ok(layer)
        });
        self.pending = Some(Pending {
            index,
            dir,
            handle: Some(handle),
            _work: m.work,
        });
        self.state = state;
        Ok(())
    }
}
