//! Pods' resource use from their containers' cgroups (what metrics-server
//! would serve): CPU as millicores over the time between two samples,
//! memory as the working set. The HPA controller and `kube top` read it.

use crate::cluster::Cluster;
use crate::kubelet::spec::{CONTAINER_NAME, INFRA, POD_UID};
use std::collections::HashMap;
use std::time::Instant;

/// One pod's use.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub millicores: i64,
    pub memory: i64,
}

/// Samples of CPU time per pod, to take rates from.
#[derive(Default)]
pub struct Sampler {
    last: HashMap<String, (Instant, u64)>,
}

/// CPU time (ns) and memory of each pod's containers now, by pod uid (the
/// infra container left out).
fn read(c: &Cluster<'_>) -> crate::Result<HashMap<String, (u64, u64)>> {
    let e = c.engine();
    let mut out: HashMap<String, (u64, u64)> = HashMap::new();
    for k in e.list()? {
        let Some(uid) = k.config.labels.get(POD_UID) else {
            continue;
        };
        if k.config.labels.get(CONTAINER_NAME).map(String::as_str) == Some(INFRA) {
            continue;
        }
        let s = e.stats(&k);
        let slot = out.entry(uid.clone()).or_default();
        slot.0 += s.cgroup.cpu.usage_ns;
        slot.1 += s.mem_usage;
    }
    Ok(out)
}

impl Sampler {
    /// Each pod's use since the last sample (pods seen for the first time
    /// have none yet: their metrics are missing until the next one).
    pub fn sample(&mut self, c: &Cluster<'_>) -> crate::Result<HashMap<String, Usage>> {
        let now = Instant::now();
        let mut out = HashMap::new();
        let read = read(c)?;
        for (uid, (cpu, mem)) in &read {
            if let Some((t, prev)) = self.last.get(uid) {
                let secs = now.duration_since(*t).as_secs_f64();
                if secs > 0.0 {
                    let used = cpu.saturating_sub(*prev) as f64 / 1e9;
                    out.insert(
                        uid.clone(),
                        Usage {
                            millicores: (used / secs * 1000.0).round() as i64,
                            memory: *mem as i64,
                        },
                    );
                }
            }
        }
        self.last = read
            .into_iter()
            .map(|(u, (cpu, _))| (u, (now, cpu)))
            .collect();
        Ok(out)
    }
}

/// Each pod's use over `window` (two samples that far apart), for `top`.
pub fn measure(
    c: &Cluster<'_>,
    window: std::time::Duration,
) -> crate::Result<HashMap<String, Usage>> {
    let mut s = Sampler::default();
    s.sample(c)?;
    std::thread::sleep(window);
    s.sample(c)
}
