//! `update`: a container's limits changed (memory, CPU, pids) and its
//! restart policy, recorded and, while it runs, applied to its cgroup at
//! once through the runtime.

use super::*;
use crate::model::RestartPolicy;

/// What `update` changes; None leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub pids_limit: Option<i64>,
    pub restart_policy: Option<RestartPolicy>,
}

impl Engine {
    /// `update`: the new settings checked as `create` checks them, applied
    /// to the running container's cgroup, and kept.
    pub fn update(&self, what: &str, o: &UpdateOptions) -> Result<Container> {
        let mut c = self.find(what)?;
        let h = &mut c.host;
        if let Some(m) = o.memory {
            h.memory = m;
        }
        if let Some(s) = o.memory_swap {
            h.memory_swap = s;
        }
        if let Some(n) = o.nano_cpus {
            h.nano_cpus = n;
        }
        if let Some(s) = o.cpu_shares {
            h.cpu_shares = s;
        }
        if let Some(s) = &o.cpuset_cpus {
            h.cpuset_cpus = s.clone();
        }
        if let Some(p) = o.pids_limit {
            h.pids_limit = p.max(0);
        }
        if let Some(r) = &o.restart_policy {
            h.restart_policy = r.clone();
        }
        super::create::validate(&CreateOptions {
            host: c.host.clone(),
            ..Default::default()
        })?;
        if matches!(c.state.status, Status::Running | Status::Paused) {
            let res: skiff_runtime::spec::Resources =
                serde_json::from_value(crate::spec::resources(&c))
                    .map_err(|e| Error::Internal(format!("the new limits: {e}")))?;
            skiff_runtime::container::update(&self.paths.runtime_root(), &c.id, &res)
                .map_err(|e| Error::Internal(format!("updating {}: {e}", c.name)))?;
        }
        self.store.set_host(&c.id, &c.host)?;
        self.event(&c, "update", &[]);
        Ok(c)
    }
}
