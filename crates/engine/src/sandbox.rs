//! The image of a pod's infra container: no files, and `--pause` as its
//! command, which the engine's init (`HostConfig.init`, the skiff binary
//! bind-mounted at /sbin/docker-init) takes as "hold the namespaces and do
//! nothing" (see `init`). Made in the store on first use, offline.

use crate::{Engine, Result};
use skiff_image::import::ImportOptions;
use skiff_image::manifest::ContainerConfig;

/// The infra image's name.
pub const PAUSE_IMAGE: &str = "skiff.local/pause:1";

impl Engine {
    /// The infra image's ID, made when the store lacks it.
    pub fn pause_image(&self) -> Result<String> {
        if let Ok(id) = self.images()?.resolve(PAUSE_IMAGE) {
            return Ok(id.to_string());
        }
        // An empty layer: a tar of nothing (two zero blocks).
        let empty = [0u8; 1024];
        let opts = ImportOptions {
            config: ContainerConfig {
                cmd: Some(vec![crate::init::PAUSE.to_string()]),
                ..Default::default()
            },
            created: Some("1970-01-01T00:00:00Z".into()),
            comment: Some("a pod's infra container: holds its namespaces".into()),
        };
        Ok(self
            .image_import(&empty[..], Some(PAUSE_IMAGE), &opts)?
            .to_string())
    }
}
