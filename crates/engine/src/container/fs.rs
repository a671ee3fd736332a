//! A container's filesystem against its image: `diff` and `commit`.

use super::*;

/// Paths Docker keeps in a container's init layer, which `diff` and
/// `commit` leave out: the mount points skiff makes in the writable layer.
pub const INIT_PATHS: [&str; 9] = [
    "/dev",
    "/proc",
    "/sys",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/mtab",
    "/.dockerenv",
    "/sbin/docker-init",
];

/// Is `p` (absolute, in the container) one of [`INIT_PATHS`] or below one?
pub fn in_init_layer(p: &str) -> bool {
    INIT_PATHS
        .iter()
        .any(|i| p == *i || (p.starts_with(i) && p.as_bytes().get(i.len()) == Some(&b'/')))
}

/// What a path in the writable layer is, seen through the image's layers.
fn in_lower(lower: &[std::path::PathBuf], rel: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    for l in lower {
        // A whiteout on the way hides everything below it.
        let mut p = l.clone();
        let mut hidden = false;
        for comp in rel.components() {
            p.push(comp);
            if let Ok(md) = std::fs::symlink_metadata(&p) {
                if md.file_type().is_char_device() && {
                    use std::os::unix::fs::MetadataExt;
                    md.rdev() == 0
                } {
                    hidden = true;
                    break;
                }
            }
        }
        if hidden {
            return false;
        }
        if std::fs::symlink_metadata(l.join(rel)).is_ok() {
            return true;
        }
    }
    false
}

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
        let mut out = Vec::new();
        walk_changes(&upper, &lower, Path::new(""), &mut out);
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }
}

/// Changes below `rel` in `upper`; returns whether any was recorded.
fn walk_changes(
    upper: &Path,
    lower: &[std::path::PathBuf],
    rel: &Path,
    out: &mut Vec<(char, String)>,
) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(rd) = std::fs::read_dir(upper.join(rel)) else {
        return false;
    };
    let mut any = false;
    for e in rd.flatten() {
        let r = rel.join(e.file_name());
        let shown = format!("/{}", r.display());
        if in_init_layer(&shown) {
            continue;
        }
        let Ok(md) = e.metadata() else { continue };
        if md.file_type().is_char_device() && md.rdev() == 0 {
            out.push(('D', shown));
            any = true;
            continue;
        }
        let existed = in_lower(lower, &r);
        if md.is_dir() {
            if existed {
                // A directory copied up: changed if anything in it changed.
                let mark = out.len();
                if walk_changes(upper, lower, &r, out) {
                    out.insert(mark, ('C', shown));
                    any = true;
                }
            } else {
                out.push(('A', shown));
                walk_changes(upper, &[], &r, out);
                any = true;
            }
        } else {
            out.push((if existed { 'C' } else { 'A' }, shown));
            any = true;
        }
    }
    any
}

/// What `commit` takes.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub author: Option<String>,
    pub message: Option<String>,
    /// Pause a running container while its files are read (Docker's default).
    pub pause: bool,
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
        let mut images = skiff_image::service::Images::open(&self.paths.root)?;
        let parent: skiff_image::digest::Digest = c
            .image_id
            .parse()
            .map_err(|e| Error::Internal(format!("image ID {}: {e}", c.image_id)))?;
        let upper = self.paths.container_dir(&c.id).join("upper");
        let tmp_dir = self.paths.root.join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(io_err("creating", &tmp_dir))?;
        let tmp = tmp_dir.join(format!("commit-{}.tar", c.id));
        let paused = o.pause && c.state.status == Status::Running;
        if paused {
            self.pause(&c.id)?;
        }
        let written = std::fs::File::create(&tmp)
            .and_then(|f| crate::volumes::layer_tar(&upper, &c, std::io::BufWriter::new(f)));
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
        let config = skiff_image::manifest::ContainerConfig {
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
