//! `container prune`, and the sweep of what dead processes left.

use super::*;
use skiff_image::layer::diff::in_init_layer;

impl Engine {
    /// `container prune`: remove every stopped container `f` selects
    /// (`until` a time, `label`); their IDs and the bytes their writable
    /// layers held.
    pub fn prune_containers(&self, f: &crate::filters::Filters) -> Result<crate::images::Pruned> {
        f.check_keys(&["until", "label"])?;
        let until: Vec<i64> = f
            .get("until")
            .iter()
            .map(|u| {
                crate::time::parse_timestamp(u)
                    .ok_or_else(|| Error::Invalid(format!("invalid filter 'until={u}'")))
            })
            .collect::<Result<_>>()?;
        let mut out = crate::images::Pruned::default();
        for c in self.list()? {
            let created = crate::time::parse_rfc3339_nanos(&c.created).unwrap_or(0);
            if matches!(
                c.state.status,
                Status::Exited | Status::Created | Status::Dead
            ) && !self.being_started(&c)
                && f.match_labels(&c.config.labels)
                && until.iter().all(|u| created < *u)
            {
                let bytes = self.rw_size(&c);
                self.destroy(&c)?;
                out.bytes += bytes;
                out.removed.push(c.id);
            }
        }
        self.sweep_orphans();
        Ok(out)
    }

    /// Remove container directories no record names (left by a supervisor
    /// killed while it removed a `--rm` container).
    pub fn sweep_orphans(&self) {
        // Ports of containers that are gone or stopped: their rules too
        // (only then: a store without published ports never writes rules,
        // so pruning on a host that has no skiff network adds none).
        let dropped = self
            .store
            .conn()
            .and_then(|conn| {
                conn.execute(
                    "DELETE FROM published WHERE container NOT IN
                     (SELECT id FROM containers WHERE status IN ('running','paused','restarting'))",
                    [],
                )
                .map_err(self.store.db())
            })
            .unwrap_or(0);
        if dropped > 0 {
            let _ = self.sync_rules(true);
        }
        let known: std::collections::HashSet<String> = self
            .store
            .list()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect();
        let Ok(rd) = std::fs::read_dir(self.paths.root.join("containers")) else {
            return;
        };
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if known.contains(&id) || id.len() != 64 {
                continue;
            }
            let _ = skiff_runtime::container::delete(&self.paths.runtime_root(), &id, true);
            let unmounted = unmount(&e.path().join("rootfs"));
            let _ = self.paths.remove_container_dir(&id, unmounted);
        }
    }

    /// Bytes in a container's writable layer.
    pub fn rw_size(&self, c: &Container) -> u64 {
        fn walk(dir: &Path, rel: &str) -> u64 {
            let mut n = 0;
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let r = format!("{rel}/{}", e.file_name().to_string_lossy());
                if in_init_layer(&r) {
                    continue;
                }
                match e.metadata() {
                    Ok(m) if m.is_dir() => n += walk(&e.path(), &r),
                    Ok(m) => n += m.len(),
                    Err(_) => {}
                }
            }
            n
        }
        walk(&self.paths.container_dir(&c.id).join("upper"), "")
    }
}
