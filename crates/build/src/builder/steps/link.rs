//! `COPY --link` / `ADD --link`: the files are copied into an empty
//! directory (nothing of the state below is seen: no link in the
//! destination is followed, parents are made afresh), and that layer is
//! kept a second time on its own, under a key that names only what the
//! step copies. A later build whose earlier layers changed (a new base
//! image, an edited step above) takes the layer from there instead of
//! copying again, as BuildKit's `--link` does.

use super::layer::Made;
use super::StageRun;
use crate::builder::work::Work;
use crate::dockerfile::{Instruction, Kind};
use crate::error::{BuildError, Result};
use crate::state::{step_key, State};

impl StageRun<'_, '_> {
    /// The key of a `--link` step's own layer: the instruction as written,
    /// its words as expanded now (sources, destination, owner) and what
    /// its sources hold (`sources`), without the parent's key. None for
    /// other steps, and for a `--chown` by name (which reads the state's
    /// /etc/passwd).
    pub(super) fn link_key(
        &self,
        inst: &Instruction,
        sources: Option<&str>,
    ) -> Result<Option<String>> {
        let (Kind::Copy(c) | Kind::Add(c)) = &inst.kind else {
            return Ok(None);
        };
        let Some(sources) = sources.filter(|_| c.link) else {
            return Ok(None);
        };
        let numeric = |s: &str| s.split(':').all(|p| p.parse::<u32>().is_ok());
        let owner = match &c.chown {
            Some(o) => self.expand(inst, o)?,
            None => String::new(),
        };
        if !owner.is_empty() && !numeric(&owner) {
            return Ok(None);
        }
        let mut words = vec![self.in_image(&self.expand(inst, &c.dest)?), owner];
        for w in &c.sources {
            words.push(self.expand(inst, w)?);
        }
        let kind = format!("{:?}", inst.kind);
        let mut parts = vec!["link", kind.as_str(), sources];
        parts.extend(words.iter().map(String::as_str));
        Ok(Some(step_key("", &parts)))
    }

    /// The layer of the `--link` step `link_key`, kept from another build,
    /// as the files of this step (copied from it); None when it is not
    /// kept.
    pub(super) fn linked_layer(
        &self,
        link_key: &str,
        p: &super::files::Prepared,
    ) -> Result<Option<Made>> {
        let dir = {
            let images = self.b.images.lock().expect("images");
            let kept = images
                .catalog
                .cache_get(link_key)?
                .and_then(|e| serde_json::from_str::<State>(&e.state).ok())
                .filter(|s| s.layers.len() == 1 && s.complete(&images));
            match kept {
                Some(s) => images.snapshots.path(&s.chains()[0]),
                None => return Ok(None),
            }
        };
        let work = Work::new(&self.b.image_root)?;
        skiff_image::layer::copy_tree(&dir, &work.upper()).map_err(BuildError::host)?;
        Ok(Some(Made {
            work,
            created_by: p.created_by(),
            working_dir: None,
        }))
    }
}

/// The state that holds only `layer` (a `--link` step's own entry).
pub(crate) fn alone(layer: &skiff_image::built::NewLayer) -> State {
    let mut s = State::default();
    s.config.rootfs.kind = "layers".into();
    s.config.rootfs.diff_ids = vec![layer.diff_id.clone()];
    s.layers = vec![layer.descriptor.clone()];
    s.size = layer.descriptor.size;
    s
}
