//! `stats`: a container's resource use as raw counters (CPU time, memory,
//! pids, block and network I/O) with what Docker's API sends beside them
//! (the host's CPU time and online CPUs, so a client computes CPU % from two
//! samples as Docker's does); `top`: its processes as the host's `ps` shows
//! them.

use super::*;
use skiff_runtime::cgroups::stats::Stats as CgroupStats;

/// One sample of a container's resource use.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// When it was read (nanoseconds since the epoch).
    pub read_nano: i64,
    /// The cgroup's counters (zeros for a container that does not run).
    pub cgroup: CgroupStats,
    /// Memory in use without the page cache's inactive files (Docker's
    /// MEM USAGE).
    pub mem_usage: u64,
    /// The memory limit, or the host's memory without one.
    pub mem_limit: u64,
    /// The host's CPU time in nanoseconds (all CPUs, from /proc/stat).
    pub system_cpu_ns: u64,
    pub online_cpus: u32,
    /// Bytes received and sent on the container's own interfaces (not `lo`;
    /// none with `--network host`, as Docker counts them).
    pub net_rx: u64,
    pub net_tx: u64,
}

impl Stats {
    /// Docker's CPU %: the container's share of the host's CPU time between
    /// `prev` and `self`, times the CPUs online (100 % is one CPU).
    pub fn cpu_percent(&self, prev: &Stats) -> f64 {
        let cpu = self
            .cgroup
            .cpu
            .usage_ns
            .saturating_sub(prev.cgroup.cpu.usage_ns) as f64;
        let system = self.system_cpu_ns.saturating_sub(prev.system_cpu_ns) as f64;
        if system > 0.0 && cpu > 0.0 {
            cpu / system * f64::from(self.online_cpus.max(1)) * 100.0
        } else {
            0.0
        }
    }

    /// Docker's MEM %.
    pub fn mem_percent(&self) -> f64 {
        if self.mem_limit > 0 {
            self.mem_usage as f64 / self.mem_limit as f64 * 100.0
        } else {
            0.0
        }
    }
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

/// The host's CPU time in nanoseconds: the `cpu` line of /proc/stat (clock
/// ticks of every state), as Docker's `system_cpu_usage`.
fn system_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("cpu "))
        .map(|rest| {
            rest.split_whitespace()
                .take(8)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks.saturating_mul(1_000_000_000 / hz)
}

/// The container's cgroup, as the runtime made it.
pub(crate) fn cgroup(id: &str) -> Option<skiff_runtime::cgroups::Manager> {
    let layout = skiff_runtime::cgroups::Layout::detect_once().ok()?;
    Some(skiff_runtime::cgroups::Manager::new(
        layout,
        &format!("/skiff/{id}"),
    ))
}

impl Engine {
    /// A sample of `c`'s resource use (zeros when it does not run).
    pub fn stats(&self, c: &Container) -> Stats {
        let mut s = Stats {
            read_nano: crate::time::now_nanos(),
            system_cpu_ns: system_cpu_ns(),
            online_cpus: crate::units::online_cpus().len().max(1) as u32,
            ..Default::default()
        };
        let running = matches!(c.state.status, Status::Running | Status::Paused);
        if running {
            if let Some(st) = cgroup(&c.id).and_then(|m| m.stats().ok()) {
                s.cgroup = st;
            }
        }
        s.mem_usage = s.cgroup.mem_usage_minus_cache();
        // No limit: the host's memory, as Docker shows it (nothing for a
        // container that does not run).
        if running {
            let host = crate::system::mem_total();
            s.mem_limit = match s.cgroup.memory.limit {
                Some(l) if l > 0 && l < host => l,
                _ => host,
            };
        }
        if running && c.host.network_mode != "host" && alive(c.state.pid, c.state.pid_start) {
            if let Ok(t) = std::fs::read_to_string(format!("/proc/{}/net/dev", c.state.pid)) {
                (s.net_rx, s.net_tx) = net_dev_totals(&t);
            }
        }
        s
    }

    /// Host pids of the container's processes.
    pub fn pids(&self, c: &Container) -> Result<Vec<i32>> {
        if !matches!(c.state.status, Status::Running | Status::Paused) {
            return Err(Error::NotRunning(c.id.clone()));
        }
        skiff_runtime::container::pids(&self.paths.runtime_root(), &c.id)
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// `top`: the host's `ps` (with `ps_args`, `-ef` when none) rows of the
    /// container's processes: the titles and the rows, the last column (the
    /// command) keeping its spaces.
    pub fn top(&self, what: &str, ps_args: &[String]) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        let c = self.find(what)?;
        let pids = self.pids(&c)?;
        let (header, lines) =
            skiff_runtime::ps::lines_of(&pids, ps_args).map_err(Error::Invalid)?;
        let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
        let rows = lines
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() >= titles.len())
            .map(|f| {
                let mut row: Vec<String> = f[..titles.len() - 1]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                row.push(f[titles.len() - 1..].join(" "));
                row
            })
            .collect();
        Ok((titles, rows))
    }
}
