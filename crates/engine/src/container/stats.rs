//! `stats`: a container's resource use.

use super::*;

/// One container's resource use (`stats`).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// CPU time used, nanoseconds.
    pub cpu_ns: u64,
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub pids: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    /// Bytes received and sent on the container's own interfaces (not `lo`;
    /// none with `--network host`, as Docker counts them).
    pub net_rx: u64,
    pub net_tx: u64,
}

/// Bytes received and sent by every interface but `lo` in a
/// `/proc/PID/net/dev` table.
fn net_dev_totals(table: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0u64, 0u64);
    for l in table.lines().skip(2) {
        let Some((name, counters)) = l.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = counters
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

fn read_u64(p: &str) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

impl Engine {
    /// Resource use read from the container's cgroups (v1 or v2).
    pub fn stats(&self, c: &Container) -> Stats {
        let mut s = Stats::default();
        let rel = format!("skiff/{}", c.id);
        let v2 = format!("/sys/fs/cgroup/{rel}");
        if std::path::Path::new(&format!("{v2}/cgroup.procs")).exists()
            && std::path::Path::new(&format!("{v2}/memory.current")).exists()
        {
            s.mem_usage = read_u64(&format!("{v2}/memory.current")).unwrap_or(0);
            s.mem_limit = read_u64(&format!("{v2}/memory.max")).unwrap_or(0);
            if let Ok(t) = std::fs::read_to_string(format!("{v2}/cpu.stat")) {
                for l in t.lines() {
                    if let Some(v) = l.strip_prefix("usage_usec ") {
                        s.cpu_ns = v.trim().parse::<u64>().unwrap_or(0) * 1000;
                    }
                }
            }
            s.pids = read_u64(&format!("{v2}/pids.current")).unwrap_or(0);
        } else {
            let m = format!("/sys/fs/cgroup/memory/{rel}");
            // Docker subtracts the page cache's inactive files.
            let usage = read_u64(&format!("{m}/memory.usage_in_bytes")).unwrap_or(0);
            let inactive = std::fs::read_to_string(format!("{m}/memory.stat"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| {
                            l.strip_prefix("total_inactive_file ")
                                .map(|v| v.trim().parse::<u64>().ok())
                        })
                        .flatten()
                })
                .unwrap_or(0);
            s.mem_usage = usage.saturating_sub(inactive);
            s.mem_limit = read_u64(&format!("{m}/memory.limit_in_bytes")).unwrap_or(0);
            s.cpu_ns =
                read_u64(&format!("/sys/fs/cgroup/cpuacct/{rel}/cpuacct.usage")).unwrap_or(0);
            s.pids = read_u64(&format!("/sys/fs/cgroup/pids/{rel}/pids.current")).unwrap_or(0);
            if let Ok(t) = std::fs::read_to_string(format!(
                "/sys/fs/cgroup/blkio/{rel}/blkio.throttle.io_service_bytes"
            )) {
                for l in t.lines() {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    if f.len() == 3 {
                        let n: u64 = f[2].parse().unwrap_or(0);
                        match f[1] {
                            "Read" => s.blk_read += n,
                            "Write" => s.blk_write += n,
                            _ => {}
                        }
                    }
                }
            }
        }
        if c.host.network_mode != "host" && alive(c.state.pid, c.state.pid_start) {
            if let Ok(t) = std::fs::read_to_string(format!("/proc/{}/net/dev", c.state.pid)) {
                (s.net_rx, s.net_tx) = net_dev_totals(&t);
            }
        }
        // An unlimited cgroup reports a huge number: the host's memory then.
        let host = host_memory();
        if s.mem_limit == 0 || s.mem_limit > host {
            s.mem_limit = host;
        }
        s
    }
}

/// The host's memory in bytes.
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(u64::MAX)
}
