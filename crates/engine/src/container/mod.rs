//! Containers: their records, the checks of their state against the
//! processes they name, and the operations on them, one module each.

use crate::model::{Config, Container, HealthConfig, HostConfig, State, Status};
use crate::mount::unmount;
use crate::proc::{alive, wait_gone};
use crate::time::now;
use crate::{io_err, Engine, Error, Result};
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use skiff_runtime::log::timing;

mod create;
mod dirs;
mod exec;
mod exec_instances;
mod fs;
mod inspect;
mod lifecycle;
mod list;
mod prune;
mod start;
mod stats;
mod update;
mod wait;

pub use crate::units::parse_signal;
pub use create::CreateOptions;
pub use exec::{ExecHandle, ExecIo, ExecOptions};
pub use exec_instances::ExecInstance;
pub use fs::CommitOptions;
pub use list::{command_text, status_text, ListOptions, Summary};
pub use start::{Attach, Started};
pub(crate) use stats::cgroup;
pub use stats::Stats;
pub use update::UpdateOptions;
pub use wait::{WaitCondition, WaitFrom};

impl Engine {
    /// Record an event about container `c`.
    pub fn event(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let _ = self
            .store
            .add_event("container", action, &c.id, &event_attributes(c, extra));
    }

    /// The container, with its state checked against the processes it
    /// names: a container whose supervisor and process are gone is
    /// recorded as exited.
    pub fn find(&self, what: &str) -> Result<Container> {
        let c = self.store.find(what)?;
        self.reconcile(c)
    }

    /// Every container, states checked as in [`find`](Self::find).
    pub fn list(&self) -> Result<Vec<Container>> {
        let mut out = Vec::new();
        for c in self.store.list()? {
            out.extend(self.reconcile_present(c)?);
        }
        Ok(out)
    }

    /// The container with ID `id` as [`find`](Self::find) sees it, or None
    /// when it is gone (also when it was removed while we looked).
    pub(crate) fn current(&self, id: &str) -> Result<Option<Container>> {
        match self.store.get(id)? {
            Some(c) => self.reconcile_present(c),
            None => Ok(None),
        }
    }

    /// [`reconcile`](Self::reconcile), None when another thread or process
    /// removed the container meanwhile (its supervisor, after an `--rm`
    /// container's exit, between our read and our check of its processes).
    fn reconcile_present(&self, c: Container) -> Result<Option<Container>> {
        match self.reconcile(c) {
            Ok(c) => Ok(Some(c)),
            Err(Error::Store(crate::store::StoreError::NoSuchContainer(_))) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn reconcile(&self, mut c: Container) -> Result<Container> {
        let active = matches!(
            c.state.status,
            Status::Running | Status::Paused | Status::Restarting
        );
        if !active || alive(c.state.supervisor_pid, c.state.supervisor_start) {
            return Ok(c);
        }
        if c.state.status != Status::Restarting && alive(c.state.pid, c.state.pid_start) {
            // The supervisor died; the container runs on (its output is lost).
            return Ok(c);
        }
        let id = c.id.clone();
        c.state = self.store.update_state(&id, |s| {
            if matches!(
                s.status,
                Status::Running | Status::Paused | Status::Restarting
            ) && !alive(s.supervisor_pid, s.supervisor_start)
            {
                s.status = Status::Exited;
                if s.exit_code == 0 {
                    s.exit_code = 255;
                }
                s.pid = 0;
                s.finished_at = now();
                s.error = "the container's supervisor died".into();
            }
        })?;
        self.cleanup_runtime(&c);
        Ok(c)
    }

    /// Remove what a dead container left: the runtime's state, its cgroup,
    /// the rootfs mount.
    /// Returns whether the rootfs was unmounted cleanly (see `unmount`).
    pub(crate) fn cleanup_runtime(&self, c: &Container) -> bool {
        let _ = skiff_runtime::container::delete(&self.paths.runtime_root(), &c.id, true);
        let rootfs = self.paths.container_dir(&c.id).join("rootfs");
        let unmounted = unmount(&rootfs);
        remove_cgroups(&c.id);
        unmounted
    }
}

/// The attributes of an event about `c`: its image and name, and `extra`.
pub(crate) fn event_attributes(c: &Container, extra: &[(&str, String)]) -> serde_json::Value {
    let mut attrs = serde_json::json!({"image": c.config.image, "name": c.name});
    for (k, v) in extra {
        attrs[*k] = serde_json::Value::String(v.clone());
    }
    attrs
}

/// Remove the (empty) cgroups of container `id` in every hierarchy: the
/// runtime removes them with its state, but a state lost with the runroot
/// (a reboot, a wiped tmpfs) leaves them behind.
fn remove_cgroups(id: &str) {
    let Ok(layout) = skiff_runtime::cgroups::Layout::detect_once() else {
        return;
    };
    let roots = layout
        .v1
        .iter()
        .map(|h| h.mountpoint.clone())
        .chain(layout.unified.iter().map(|u| u.mountpoint.clone()));
    for r in roots {
        let dir = r.join("skiff").join(id);
        if dir.is_dir() {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}
