//! Writing the limits of `linux.resources` ([`Manager::apply`]), for each
//! controller in the v1 form or the v2 form depending on where the
//! controller lives. Device rules are in `devices`.
//!
//! Only what the config sets is written. As in runc, a zero memory
//! limit/swap/reservation, CPU shares/quota/period/realtime runtime and block
//! I/O weight mean "not set".

use std::collections::BTreeMap;
use std::path::Path;

use super::manager::Target;
use super::{devices, write, CgroupError, Manager};
use crate::spec::{BlockIo, Cpu, HugepageLimit, Memory, Network, Pids, Rdma, Resources};

const EINVAL: Option<i32> = Some(libc::EINVAL);

impl Manager {
    /// Write the limits of `res` (at create time and for `update`). A limit
    /// whose controller no hierarchy offers is an error naming the
    /// controller. Order: cpuset, devices, memory, cpu, pids, block I/O,
    /// hugetlb, network, rdma, then the raw `unified` keys (which can
    /// therefore override the others).
    pub fn apply(&self, res: &Resources) -> Result<(), CgroupError> {
        if let Some(cpu) = &res.cpu {
            self.apply_cpuset(cpu)?;
        }
        if !res.devices.is_empty() {
            devices::apply(self, &res.devices)?;
        }
        if let Some(memory) = &res.memory {
            self.apply_memory(memory)?;
        }
        if let Some(cpu) = &res.cpu {
            self.apply_cpu(cpu)?;
        }
        if let Some(pids) = &res.pids {
            self.apply_pids(pids)?;
        }
        if let Some(bio) = &res.block_io {
            self.apply_block_io(bio)?;
        }
        self.apply_hugetlb(&res.hugepage_limits)?;
        if let Some(net) = &res.network {
            self.apply_network(net)?;
        }
        if let Some(rdma) = &res.rdma {
            self.apply_rdma(rdma)?;
        }
        if let Some(unified) = &res.unified {
            self.apply_unified(unified)?;
        }
        Ok(())
    }

    /// memory: v1 `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes`,
    /// `memory.soft_limit_in_bytes`, `memory.swappiness`,
    /// `memory.oom_control`, the kernel-memory files if present; v2
    /// `memory.max`, `memory.swap.max` (OCI swap is memory+swap, v2 counts
    /// swap alone) and `memory.low`. swappiness, the OOM killer switch and
    /// kernel memory have no v2 equivalent and are ignored there.
    /// `disableOOMKiller: false` writes nothing (it is the kernel default).
    fn apply_memory(&self, m: &Memory) -> Result<(), CgroupError> {
        let limit = m.limit.filter(|&v| v != 0);
        let swap = m.swap.filter(|&v| v != 0);
        let reservation = m.reservation.filter(|&v| v != 0);
        let kernel = m.kernel.filter(|&v| v != 0);
        let kernel_tcp = m.kernel_tcp.filter(|&v| v != 0);
        let oom_off = m.disable_oom_killer == Some(true);
        if limit.is_none()
            && swap.is_none()
            && reservation.is_none()
            && kernel.is_none()
            && kernel_tcp.is_none()
            && m.swappiness.is_none()
            && !oom_off
        {
            return Ok(());
        }
        if let (Some(l), Some(s)) = (limit, swap) {
            if l > 0 && s > 0 && s < l {
                return Err(CgroupError::InvalidValue {
                    what: "memory.swap".into(),
                    value: s.to_string(),
                    reason: format!("it is memory+swap and must be at least memory.limit ({l})"),
                });
            }
        }
        if let Some(s) = m.swappiness {
            if s > 100 {
                return Err(CgroupError::InvalidValue {
                    what: "memory.swappiness".into(),
                    value: s.to_string(),
                    reason: "must be between 0 and 100".into(),
                });
            }
        }
        match self.target("memory", "memory", "a memory limit")? {
            Target::V1(dir) => {
                memory_v1_limits(dir, limit, swap)?;
                if let Some(r) = reservation {
                    write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
                }
                if let Some(k) = kernel {
                    write_optional(dir, "memory.kmem.limit_in_bytes", &k.to_string())?;
                }
                if let Some(k) = kernel_tcp {
                    write_optional(dir, "memory.kmem.tcp.limit_in_bytes", &k.to_string())?;
                }
                if let Some(s) = m.swappiness {
                    write(dir, "memory.swappiness", &s.to_string())?;
                }
                if oom_off {
                    write(dir, "memory.oom_control", "1")?;
                }
            }
            Target::V2(dir) => {
                if let Some(l) = limit {
                    write(dir, "memory.max", &max_or(l))?;
                }
                if let Some(s) = swap {
                    let value = match (s, limit) {
                        (s, _) if s < 0 => "max".to_string(),
                        (s, Some(l)) if l > 0 => (s - l).to_string(),
                        _ => {
                            return Err(CgroupError::InvalidValue {
                                what: "memory.swap".into(),
                                value: s.to_string(),
                                reason: "on cgroup v2 a swap limit needs a memory limit".into(),
                            })
                        }
                    };
                    write(dir, "memory.swap.max", &value)?;
                }
                if let Some(r) = reservation {
                    write(dir, "memory.low", &max_or(r))?;
                }
            }
        }
        Ok(())
    }

    /// cpuset (`cpu.cpus`, `cpu.mems`): `cpuset.cpus`, `cpuset.mems` in v1 and v2.
    fn apply_cpuset(&self, cpu: &Cpu) -> Result<(), CgroupError> {
        let cpus = cpu.cpus.as_deref().filter(|s| !s.is_empty());
        let mems = cpu.mems.as_deref().filter(|s| !s.is_empty());
        if cpus.is_none() && mems.is_none() {
            return Ok(());
        }
        let (Target::V1(dir) | Target::V2(dir)) =
            self.target("cpuset", "cpuset", "cpu.cpus/cpu.mems")?;
        if let Some(cpus) = cpus {
            write(dir, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = mems {
            write(dir, "cpuset.mems", mems)?;
        }
        Ok(())
    }

    /// cpu: v1 `cpu.shares`, `cpu.cfs_period_us`/`cpu.cfs_quota_us`,
    /// `cpu.cfs_burst_us`, `cpu.rt_period_us`/`cpu.rt_runtime_us`,
    /// `cpu.idle`; v2 `cpu.weight`, `cpu.max`, `cpu.max.burst`, `cpu.idle`
    /// (realtime limits do not exist in v2 and are an error there).
    fn apply_cpu(&self, cpu: &Cpu) -> Result<(), CgroupError> {
        let shares = cpu.shares.filter(|&v| v != 0);
        let quota = cpu.quota.filter(|&v| v != 0);
        let period = cpu.period.filter(|&v| v != 0);
        let rt_runtime = cpu.realtime_runtime.filter(|&v| v != 0);
        let rt_period = cpu.realtime_period.filter(|&v| v != 0);
        if shares.is_none()
            && quota.is_none()
            && period.is_none()
            && cpu.burst.is_none()
            && rt_runtime.is_none()
            && rt_period.is_none()
            && cpu.idle.is_none()
        {
            return Ok(());
        }
        match self.target("cpu", "cpu", "a cpu limit")? {
            Target::V1(dir) => {
                if let Some(s) = shares {
                    write(dir, "cpu.shares", &s.to_string())?;
                }
                write_pair(
                    dir,
                    ("cpu.cfs_period_us", period.map(|p| p.to_string())),
                    ("cpu.cfs_quota_us", quota.map(|q| q.to_string())),
                )?;
                if let Some(b) = cpu.burst {
                    write(dir, "cpu.cfs_burst_us", &b.to_string())?;
                }
                write_pair(
                    dir,
                    ("cpu.rt_period_us", rt_period.map(|p| p.to_string())),
                    ("cpu.rt_runtime_us", rt_runtime.map(|r| r.to_string())),
                )?;
                if let Some(idle) = cpu.idle {
                    write(dir, "cpu.idle", &idle.to_string())?;
                }
            }
            Target::V2(dir) => {
                if rt_runtime.is_some() || rt_period.is_some() {
                    return Err(CgroupError::Unsupported {
                        what: "cpu.realtimeRuntime/realtimePeriod".into(),
                        reason: "cgroup v2 has no realtime CPU limits".into(),
                    });
                }
                if let Some(s) = shares {
                    write(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
                }
                if quota.is_some() || period.is_some() {
                    let mut value = match quota {
                        Some(q) if q > 0 => q.to_string(),
                        _ => "max".to_string(),
                    };
                    if let Some(p) = period {
                        value.push_str(&format!(" {p}"));
                    }
                    write(dir, "cpu.max", &value)?;
                }
                if let Some(b) = cpu.burst {
                    write(dir, "cpu.max.burst", &b.to_string())?;
                }
                if let Some(idle) = cpu.idle {
                    write(dir, "cpu.idle", &idle.to_string())?;
                }
            }
        }
        Ok(())
    }

    /// pids: `pids.max` in v1 and v2; a limit of zero or less is "max".
    fn apply_pids(&self, pids: &Pids) -> Result<(), CgroupError> {
        let (Target::V1(dir) | Target::V2(dir)) = self.target("pids", "pids", "pids.limit")?;
        let value = if pids.limit <= 0 {
            "max".to_string()
        } else {
            pids.limit.to_string()
        };
        write(dir, "pids.max", &value)
    }

    /// blkio (v1) / io (v2). v1: `blkio.weight` (or `blkio.bfq.weight` on
    /// kernels without CFQ), `blkio.leaf_weight`, the per-device weight
    /// files and `blkio.throttle.*_device`, one line per device. v2:
    /// `io.bfq.weight` with the weight as is where BFQ is in use, otherwise
    /// `io.weight` converted from 10..1000 to 1..10000; `io.max` with one
    /// line per device. Leaf weights have no v2 equivalent and are ignored.
    fn apply_block_io(&self, bio: &BlockIo) -> Result<(), CgroupError> {
        let weight = bio.weight.filter(|&w| w != 0);
        let leaf_weight = bio.leaf_weight.filter(|&w| w != 0);
        let throttles = [
            (
                &bio.throttle_read_bps_device,
                "blkio.throttle.read_bps_device",
                "rbps",
            ),
            (
                &bio.throttle_write_bps_device,
                "blkio.throttle.write_bps_device",
                "wbps",
            ),
            (
                &bio.throttle_read_iops_device,
                "blkio.throttle.read_iops_device",
                "riops",
            ),
            (
                &bio.throttle_write_iops_device,
                "blkio.throttle.write_iops_device",
                "wiops",
            ),
        ];
        if weight.is_none()
            && leaf_weight.is_none()
            && bio.weight_device.is_empty()
            && throttles.iter().all(|(list, _, _)| list.is_empty())
        {
            return Ok(());
        }
        match self.target("blkio", "io", "a blockIO limit")? {
            Target::V1(dir) => {
                if let Some(w) = weight {
                    write_with_fallback(dir, "blkio.weight", "blkio.bfq.weight", &w.to_string())?;
                }
                if let Some(w) = leaf_weight {
                    write(dir, "blkio.leaf_weight", &w.to_string())?;
                }
                for d in &bio.weight_device {
                    if let Some(w) = d.weight {
                        let line = format!("{}:{} {w}", d.major, d.minor);
                        write_with_fallback(
                            dir,
                            "blkio.weight_device",
                            "blkio.bfq.weight_device",
                            &line,
                        )?;
                    }
                    if let Some(w) = d.leaf_weight {
                        let line = format!("{}:{} {w}", d.major, d.minor);
                        write(dir, "blkio.leaf_weight_device", &line)?;
                    }
                }
                for (list, file, _) in throttles {
                    for t in list {
                        write(dir, file, &format!("{}:{} {}", t.major, t.minor, t.rate))?;
                    }
                }
            }
            Target::V2(dir) => {
                if let Some(w) = weight {
                    if !super::write_if_exists(dir, "io.bfq.weight", &w.to_string())? {
                        write(dir, "io.weight", &io_weight(w).to_string())?;
                    }
                }
                for d in &bio.weight_device {
                    if let Some(w) = d.weight {
                        let raw = format!("{}:{} {w}", d.major, d.minor);
                        if !super::write_if_exists(dir, "io.bfq.weight", &raw)? {
                            let line = format!("{}:{} {}", d.major, d.minor, io_weight(w));
                            write(dir, "io.weight", &line)?;
                        }
                    }
                }
                // One io.max line per device, carrying every limit set for it.
                let mut lines: Vec<((i64, i64), String)> = Vec::new();
                for (list, _, key) in throttles {
                    for t in list {
                        let rate = if t.rate == 0 {
                            "max".to_string()
                        } else {
                            t.rate.to_string()
                        };
                        let dev = (t.major, t.minor);
                        match lines.iter_mut().find(|(d, _)| *d == dev) {
                            Some((_, line)) => line.push_str(&format!(" {key}={rate}")),
                            None => lines.push((dev, format!("{}:{} {key}={rate}", dev.0, dev.1))),
                        }
                    }
                }
                for (_, line) in lines {
                    write(dir, "io.max", &line)?;
                }
            }
        }
        Ok(())
    }

    /// hugetlb: v1 `hugetlb.<size>.limit_in_bytes`, v2 `hugetlb.<size>.max`.
    fn apply_hugetlb(&self, limits: &[HugepageLimit]) -> Result<(), CgroupError> {
        if limits.is_empty() {
            return Ok(());
        }
        let target = self.target("hugetlb", "hugetlb", "hugepageLimits")?;
        for l in limits {
            let size = &l.page_size;
            if size.is_empty() || size.contains('/') || size.starts_with('.') {
                return Err(CgroupError::InvalidValue {
                    what: "hugepageLimits pageSize".into(),
                    value: size.clone(),
                    reason: "expected a page size such as \"2MB\"".into(),
                });
            }
            match target {
                Target::V1(dir) => write(
                    dir,
                    &format!("hugetlb.{size}.limit_in_bytes"),
                    &l.limit.to_string(),
                )?,
                Target::V2(dir) => {
                    write(dir, &format!("hugetlb.{size}.max"), &l.limit.to_string())?
                }
            }
        }
        Ok(())
    }

    /// network (v1 only): `net_cls.classid`, `net_prio.ifpriomap`.
    fn apply_network(&self, net: &Network) -> Result<(), CgroupError> {
        if let Some(class) = net.class_id {
            let (Target::V1(dir) | Target::V2(dir)) =
                self.target("net_cls", "net_cls", "network.classID")?;
            write(dir, "net_cls.classid", &class.to_string())?;
        }
        if !net.priorities.is_empty() {
            let (Target::V1(dir) | Target::V2(dir)) =
                self.target("net_prio", "net_prio", "network.priorities")?;
            for p in &net.priorities {
                write(
                    dir,
                    "net_prio.ifpriomap",
                    &format!("{} {}", p.name, p.priority),
                )?;
            }
        }
        Ok(())
    }

    /// rdma: `rdma.max`, one line per device, in v1 and v2.
    fn apply_rdma(&self, rdma: &BTreeMap<String, Rdma>) -> Result<(), CgroupError> {
        let lines: Vec<String> = rdma
            .iter()
            .filter(|(_, r)| r.hca_handles.is_some() || r.hca_objects.is_some())
            .map(|(dev, r)| {
                let mut line = dev.clone();
                if let Some(h) = r.hca_handles {
                    line.push_str(&format!(" hca_handle={h}"));
                }
                if let Some(o) = r.hca_objects {
                    line.push_str(&format!(" hca_object={o}"));
                }
                line
            })
            .collect();
        if lines.is_empty() {
            return Ok(());
        }
        let (Target::V1(dir) | Target::V2(dir)) = self.target("rdma", "rdma", "rdma limits")?;
        for line in lines {
            write(dir, "rdma.max", &line)?;
        }
        Ok(())
    }

    /// `unified`: each key is a file of the container's v2 cgroup.
    fn apply_unified(&self, unified: &BTreeMap<String, String>) -> Result<(), CgroupError> {
        if unified.is_empty() {
            return Ok(());
        }
        let Some(dir) = self.unified_dir() else {
            return Err(CgroupError::MissingController {
                controller: "cgroup v2 (unified hierarchy)".into(),
                what: "linux.resources.unified".into(),
            });
        };
        for (key, value) in unified {
            if key.is_empty() || key.contains('/') || key.starts_with('.') {
                return Err(CgroupError::InvalidValue {
                    what: "linux.resources.unified key".into(),
                    value: key.clone(),
                    reason: "must be a cgroup file name".into(),
                });
            }
            write(dir, key, value)?;
        }
        Ok(())
    }
}

/// v1 `memory.limit_in_bytes` and `memory.memsw.limit_in_bytes`, ordered so
/// that memsw >= limit holds throughout: the limit first (right when
/// shrinking), and if the kernel refuses it because it would exceed the
/// current memsw, memsw first. An unlimited limit without a swap value also
/// lifts memsw, as the old memsw would forbid it.
fn memory_v1_limits(dir: &Path, limit: Option<i64>, swap: Option<i64>) -> Result<(), CgroupError> {
    const LIMIT: &str = "memory.limit_in_bytes";
    const MEMSW: &str = "memory.memsw.limit_in_bytes";
    let Some(l) = limit else {
        if let Some(s) = swap {
            write(dir, MEMSW, &s.to_string())?;
        }
        return Ok(());
    };
    let l = l.to_string();
    match (write(dir, LIMIT, &l), swap) {
        (Ok(()), Some(s)) => write(dir, MEMSW, &s.to_string()),
        (Ok(()), None) => Ok(()),
        (Err(e), Some(s)) if e.errno() == EINVAL => {
            write(dir, MEMSW, &s.to_string())?;
            write(dir, LIMIT, &l)
        }
        (Err(e), None) if e.errno() == EINVAL && l == "-1" => {
            if super::write_if_exists(dir, MEMSW, "-1")? {
                write(dir, LIMIT, &l)
            } else {
                Err(e)
            }
        }
        (Err(e), _) => Err(e),
    }
}

/// Write two files whose values constrain each other (CFS or RT period and
/// quota/runtime): the period first, and if the kernel refuses it, the other
/// first.
fn write_pair(
    dir: &Path,
    first: (&str, Option<String>),
    second: (&str, Option<String>),
) -> Result<(), CgroupError> {
    match (&first.1, &second.1) {
        (Some(a), Some(b)) => match write(dir, first.0, a) {
            Ok(()) => write(dir, second.0, b),
            Err(e) if e.errno() == EINVAL => {
                write(dir, second.0, b)?;
                write(dir, first.0, a)
            }
            Err(e) => Err(e),
        },
        (Some(a), None) => write(dir, first.0, a),
        (None, Some(b)) => write(dir, second.0, b),
        (None, None) => Ok(()),
    }
}

/// Write `file`, or `fallback` if `file` does not exist.
fn write_with_fallback(
    dir: &Path,
    file: &str,
    fallback: &str,
    value: &str,
) -> Result<(), CgroupError> {
    if super::write_if_exists(dir, file, value)? {
        Ok(())
    } else {
        write(dir, fallback, value)
    }
}

/// Write a file that newer kernels may have dropped or stubbed out.
fn write_optional(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    match super::write_if_exists(dir, file, value) {
        Err(e) if e.errno() == Some(libc::EOPNOTSUPP) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// A v2 byte limit: negative means unlimited.
fn max_or(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

/// cpu.shares (2..262144) to cpu.weight (1..10000).
pub(super) fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// blkio.weight (10..1000) to io.weight (1..10000).
pub(super) fn io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(io_weight(10), 1);
        assert_eq!(io_weight(500), 4950);
        assert_eq!(io_weight(1000), 10_000);
        assert_eq!(max_or(-1), "max");
        assert_eq!(max_or(5), "5");
    }
}
