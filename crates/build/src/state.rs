//! An image as a build carries it from step to step: its configuration
//! (with history and diff IDs) and its layers. What the cache stores per
//! step, and what the last step of the target stage becomes.

use crate::error::Result;
use serde::{Deserialize, Serialize};
use skiff_image::digest::{Digest, Hasher};
use skiff_image::manifest::{ContainerConfig, Descriptor, ImageConfig, Platform, RootFs};
use skiff_image::service::Images;
use skiff_image::snapshot::chain_ids;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub config: ImageConfig,
    /// One per diff ID in `config.rootfs`.
    pub layers: Vec<Descriptor>,
    /// What `images` shows for it: the bytes of its layers.
    pub size: u64,
}

impl State {
    /// `FROM scratch`.
    pub fn scratch() -> State {
        let p = Platform::host();
        State {
            config: ImageConfig {
                architecture: p.architecture,
                os: p.os,
                variant: p.variant,
                config: Some(ContainerConfig {
                    env: vec![crate::builder::DEFAULT_PATH.into()],
                    working_dir: Some("/".into()),
                    ..Default::default()
                }),
                rootfs: RootFs {
                    kind: "layers".into(),
                    diff_ids: Vec::new(),
                },
                ..Default::default()
            },
            layers: Vec::new(),
            size: 0,
        }
    }

    /// An image in the store.
    pub fn of_image(images: &Images, id: &Digest) -> Result<State> {
        let rec = images
            .catalog
            .get(id)?
            .ok_or_else(|| skiff_image::service::ImagesError::NoSuchImage(id.to_string()))?;
        let (manifest, config) = images.load(&rec)?;
        Ok(State {
            config,
            layers: manifest.layers,
            size: rec.size,
        })
    }

    pub fn container(&self) -> &ContainerConfig {
        static EMPTY: std::sync::OnceLock<ContainerConfig> = std::sync::OnceLock::new();
        self.config
            .config
            .as_ref()
            .unwrap_or_else(|| EMPTY.get_or_init(ContainerConfig::default))
    }

    pub fn container_mut(&mut self) -> &mut ContainerConfig {
        self.config.config.get_or_insert_with(Default::default)
    }

    pub fn chains(&self) -> Vec<Digest> {
        chain_ids(&self.config.rootfs.diff_ids)
    }

    /// Its snapshot directories, topmost first (an overlay's lower dirs).
    pub fn lower_dirs(&self, images: &Images) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .chains()
            .iter()
            .map(|c| images.snapshots.path(c))
            .collect();
        dirs.reverse();
        dirs
    }

    /// Whether what it needs is still in the store (a prune may have taken a
    /// cached step's layer).
    pub fn complete(&self, images: &Images) -> bool {
        self.chains().iter().all(|c| images.snapshots.exists(c))
            && self
                .layers
                .iter()
                .all(|l| images.store.exists(&l.digest).unwrap_or(false))
    }

    /// The value of `name` in its environment.
    pub fn env(&self, name: &str) -> Option<String> {
        self.container().env.iter().rev().find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then(|| v.to_string())
        })
    }

    /// Set `name=value` in its environment (replacing an earlier value in place).
    pub fn set_env(&mut self, name: &str, value: &str) {
        let env = &mut self.container_mut().env;
        let entry = format!("{name}={value}");
        match env
            .iter_mut()
            .find(|kv| kv.split_once('=').map(|(k, _)| k).unwrap_or(kv) == name)
        {
            Some(kv) => *kv = entry,
            None => env.push(entry),
        }
    }
}

/// A cache key: the hash of the previous step's key and what this step is.
pub fn step_key(parent: &str, parts: &[&str]) -> String {
    let mut h = Hasher::new();
    h.update(b"skiff-build-v1\0");
    h.update(parent.as_bytes());
    for p in parts {
        h.update(b"\0");
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finish().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_parent_and_every_part() {
        let a = step_key("p", &["RUN", "echo hi"]);
        assert_eq!(a, step_key("p", &["RUN", "echo hi"]));
        assert_ne!(a, step_key("q", &["RUN", "echo hi"]));
        assert_ne!(a, step_key("p", &["RUN", "echo ho"]));
        // parts are delimited: moving a boundary changes the key
        assert_ne!(step_key("p", &["ab", "c"]), step_key("p", &["a", "bc"]));
    }

    #[test]
    fn env_is_replaced_in_place() {
        let mut s = State::scratch();
        s.set_env("A", "1");
        s.set_env("B", "2");
        s.set_env("A", "3");
        assert_eq!(
            s.container().env[1..],
            ["A=3".to_string(), "B=2".to_string()]
        );
        assert_eq!(s.env("A").as_deref(), Some("3"));
        assert_eq!(s.env("C"), None);
    }
}
