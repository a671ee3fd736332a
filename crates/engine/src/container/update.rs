//! `update`: a container's limits changed (memory, CPU, pids, block I/O
//! weight where the host has it) and its
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
    pub cpuset_mems: Option<String>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<i64>,
    pub restart_policy: Option<RestartPolicy>,
}

impl Engine {
    /// `update`: the new settings checked as `create` checks them, applied
    /// to the running container's cgroup, and kept.
    pub fn update(&self, what: &str, o: &UpdateOptions) -> Result<Container> {
        self.update_with_warnings(what, o).map(|(c, _)| c)
    }

    /// [`Engine::update`], with the warnings Docker gives for settings
    /// this host cannot honour and drops (as `create` drops them).
    pub fn update_with_warnings(
        &self,
        what: &str,
        o: &UpdateOptions,
    ) -> Result<(Container, Vec<String>)> {
        let mut c = self.find(what)?;
        // --cpus sets the period and quota: one way or the other, as
        // Docker's update refuses (its words).
        let set = |v: Option<i64>| v.is_some_and(|n| n > 0);
        let existing = &c.host;
        let conflict = [
            (
                set(o.nano_cpus) && existing.cpu_period > 0,
                "Nano CPUs cannot be updated as CPU Period has already been set",
            ),
            (
                set(o.nano_cpus) && existing.cpu_quota > 0,
                "Nano CPUs cannot be updated as CPU Quota has already been set",
            ),
            (
                set(o.cpu_period) && existing.nano_cpus > 0,
                "CPU Period cannot be updated as NanoCPUs has already been set",
            ),
            (
                set(o.cpu_quota) && existing.nano_cpus > 0,
                "CPU Quota cannot be updated as NanoCPUs has already been set",
            ),
        ]
        .into_iter()
        .find_map(|(hit, m)| hit.then_some(m));
        if let Some(m) = conflict {
            return Err(Error::Invalid(format!(
                "Cannot update container {}: Conflicting options: {m}",
                c.id
            )));
        }
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
        if let Some(s) = &o.cpuset_mems {
            h.cpuset_mems = s.clone();
        }
        if let Some(p) = o.cpu_period {
            h.cpu_period = p;
        }
        if let Some(q) = o.cpu_quota {
            h.cpu_quota = q;
        }
        if let Some(r) = o.memory_reservation {
            h.memory_reservation = r;
        }
        if let Some(p) = o.pids_limit {
            h.pids_limit = p.max(0);
        }
        // 0 leaves the weight as it is, as dockerd reads it.
        if let Some(w) = o.blkio_weight.filter(|w| *w != 0) {
            h.blkio_weight = w;
        }
        if let Some(r) = &o.restart_policy {
            h.restart_policy = r.clone();
        }
        let warnings = super::create::drop_unsupported(h);
        super::create::validate(&CreateOptions {
            host: c.host.clone(),
            ..Default::default()
        })?;
        super::create::check_cpus(&c.host)?;
        if matches!(c.state.status, Status::Running | Status::Paused) {
            let res: skiff_runtime::spec::Resources =
                serde_json::from_value(crate::spec::resources(&c))
                    .map_err(|e| Error::Internal(format!("the new limits: {e}")))?;
            skiff_runtime::container::update(&self.paths.runtime_root(), &c.id, &res)
                .map_err(|e| Error::Internal(format!("updating {}: {e}", c.name)))?;
        }
        self.store.set_host(&c.id, &c.host)?;
        self.event(&c, "update", &[]);
        Ok((c, warnings))
    }
}
