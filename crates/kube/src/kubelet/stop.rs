//! Stopping a pod's containers: SIGTERM, SIGKILL once the grace period is
//! over, the infra container last, then removal.

use super::spec::{CONTAINER_NAME, INFRA};
use super::{running, Kubelet};
use crate::cluster::Cluster;
use skiff_engine::model::Container;
use std::collections::HashSet;
use std::time::{Duration, Instant};

impl Kubelet {
    /// Stop `containers` (SIGTERM, then SIGKILL once their grace period,
    /// `grace` or each one's own, is over) and, when `remove`, remove the
    /// stopped ones. Those in `hold` run a preStop hook: no SIGTERM yet, but
    /// SIGKILL once the grace period (from the hook's start) is over. None
    /// when all are gone; else when to look again.
    pub(super) fn terminate<'a>(
        &mut self,
        c: &Cluster<'_>,
        containers: impl Iterator<Item = &'a Container>,
        remove: bool,
        grace: Option<i64>,
        hold: &HashSet<String>,
    ) -> Option<Instant> {
        let e = c.engine();
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let containers: Vec<&Container> = containers.collect();
        // The infra container goes last: it holds the namespaces the
        // others still run in.
        let others_run = containers.iter().any(|k| {
            running(k) && k.config.labels.get(CONTAINER_NAME).map(String::as_str) != Some(INFRA)
        });
        for k in containers {
            let infra = k.config.labels.get(CONTAINER_NAME).map(String::as_str) == Some(INFRA);
            if infra && others_run {
                next = Some(next.map_or(now + Duration::from_millis(200), |n: Instant| n));
                continue;
            }
            if running(k) {
                // The grace period may have been shortened since (a second
                // delete with a shorter --grace-period).
                let secs = grace.or(k.config.stop_timeout).unwrap_or(30).max(0);
                let hook_began = self.pre_stop.get(&k.id).map(|(t, _)| *t);
                if hold.contains(&k.id) {
                    let deadline = hook_began.unwrap_or(now) + Duration::from_secs(secs as u64);
                    if now >= deadline {
                        let _ = e.kill(&k.id, libc::SIGKILL);
                    }
                    next = Some(next.map_or(deadline, |n: Instant| n.min(deadline)));
                    continue;
                }
                let sent = *self.stopping.entry(k.id.clone()).or_insert_with(|| {
                    let _ = e.kill(&k.id, libc::SIGTERM);
                    now
                });
                let deadline = hook_began.unwrap_or(sent) + Duration::from_secs(secs as u64);
                if now >= deadline {
                    let _ = e.kill(&k.id, libc::SIGKILL);
                }
                let t = if now >= deadline {
                    now + Duration::from_millis(200)
                } else {
                    deadline
                };
                next = Some(next.map_or(t, |n| n.min(t)));
            } else {
                self.stopping.remove(&k.id);
                if let Some((_, Some(h))) = self.pre_stop.remove(&k.id) {
                    h.abandon(e);
                }
                if remove {
                    let _ = e.remove(&k.id, true, false);
                }
            }
        }
        next
    }
}
