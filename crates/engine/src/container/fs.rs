//! A container's filesystem against its image: `diff` and `commit`.

use super::*;
use skiff_image::layer::diff::{changes, in_init_layer, write_layer_tar};

impl Engine {
    /// `diff`: what changed in the container's filesystem, as Docker lists
    /// it: (`A` added, `C` changed, `D` deleted, path), sorted by path.
    pub fn diff(&self, what: &str) -> Result<Vec<(char, String)>> {
        let c = self.find(what)?;
        let images = skiff_image::service::Images::open(&self.paths.root)?;
        let id: skiff_image::digest::Digest = c
            .image_id
            .parse()
            .map_err(|e| Error::Internal(format!("image ID {}: {e}", c.image_id)))?;
        let lower = images.layer_dirs(&id)?;
        let upper = self.paths.container_dir(&c.id).join("upper");
        Ok(changes(&upper, &lower, &in_init_layer))
    }
}

/// What `commit` takes.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub author: Option<String>,
    pub message: Option<String>,
    /// Pause a running container while its files are read (Docker's default).
    pub pause: bool,
    /// Dockerfile instructions applied to the image's config (`--change`).
    pub changes: Vec<String>,
}

impl Engine {
    /// `commit`: a new image from the container's changes; its ID.
    pub fn commit(
        &self,
        what: &str,
        name: Option<&str>,
        o: &CommitOptions,
    ) -> Result<skiff_image::digest::Digest> {
        let c = self.find(what)?;
        // Bad changes are refused before any work.
        skiff_image::import::config_from_changes(&o.changes).map_err(Error::Invalid)?;
        let mut images = skiff_image::service::Images::open(&self.paths.root)?;
        let parent: skiff_image::digest::Digest = c
            .image_id
            .parse()
            .map_err(|e| Error::Internal(format!("image ID {}: {e}", c.image_id)))?;
        let upper = self.paths.container_dir(&c.id).join("upper");
        let tmp = self.paths.temp("commit")?;
        let paused = o.pause && c.state.status == Status::Running;
        if paused {
            self.pause(&c.id)?;
        }
        let written = std::fs::File::create(&tmp)
            .and_then(|f| layer_tar(&upper, &c, std::io::BufWriter::new(f)));
        if paused {
            let _ = self.unpause(&c.id);
        }
        written.map_err(io_err("writing the layer of", &upper))?;
        let cmd = {
            let mut all = c.config.entrypoint.clone();
            all.extend(c.config.cmd.iter().cloned());
            all.join(" ")
        };
        let env = c.config.env.clone();
        let mut config = skiff_image::manifest::ContainerConfig {
            user: (!c.config.user.is_empty()).then(|| c.config.user.clone()),
            env,
            entrypoint: (!c.config.entrypoint.is_empty()).then(|| c.config.entrypoint.clone()),
            cmd: (!c.config.cmd.is_empty()).then(|| c.config.cmd.clone()),
            working_dir: (!c.config.working_dir.is_empty()).then(|| c.config.working_dir.clone()),
            labels: c.config.labels.clone(),
            volumes: c
                .config
                .volumes
                .iter()
                .map(|v| (v.clone(), Default::default()))
                .collect(),
            stop_signal: c.config.stop_signal.clone(),
            ..Default::default()
        };
        skiff_image::import::apply_changes(&mut config, &o.changes).map_err(Error::Invalid)?;
        let opts = skiff_image::import::CommitOptions {
            config,
            author: o.author.clone(),
            comment: o.message.clone(),
            created_by: cmd,
            created: now(),
            container: Some(c.id.clone()),
        };
        let f = std::fs::File::open(&tmp).map_err(io_err("reading", &tmp));
        let result = f.and_then(|f| {
            images
                .commit(&parent, std::io::BufReader::new(f), name, &opts)
                .map_err(Error::from)
        });
        let _ = std::fs::remove_file(&tmp);
        let id = result?;
        self.event(&c, "commit", &[]);
        Ok(id)
    }
}

/// The container's writable layer as an OCI layer tar, without the init
/// layer's paths and the mount points of its volumes, binds and tmpfs.
fn layer_tar(upper: &Path, c: &Container, out: impl std::io::Write) -> std::io::Result<()> {
    let mounts: Vec<String> = c.host.mounts.iter().map(|m| m.target.clone()).collect();
    let skip = |p: &str| in_init_layer(p) || mounts.iter().any(|m| m == p);
    write_layer_tar(upper, &skip, out)
}
