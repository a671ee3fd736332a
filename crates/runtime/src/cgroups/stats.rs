//! A container's resource use read from its cgroup ([`Stats`]): CPU time,
//! memory, pids and block I/O, as the raw counters the kernel keeps. Turning
//! them into rates or percentages is the caller's business.
//!
//! Each controller is read where [`Manager`] places it (a v1 hierarchy that
//! has it, else the unified hierarchy), so v1, v2 and hybrid hosts give the
//! same figures. CPU time is the exception: a v2 cgroup has `cpu.stat` whether
//! or not the cpu controller is enabled in it, so without a v1 `cpuacct`
//! hierarchy it is read from the unified directory.
//!
//! A controller the host does not have, or a file a kernel does not provide,
//! reads as zero (or `None` for the optional figures). A controller directory
//! that does not exist (the cgroup was removed) is an error: zeros there would
//! look like an idle container.

use std::io;
use std::path::Path;

use super::manager::Target;
use super::{CgroupError, Manager};

/// Values at or above this in a v1 `*.limit_in_bytes` mean "no limit": the
/// kernel reports `PAGE_COUNTER_MAX` pages, which lies within a page size
/// of `i64::MAX`.
const V1_UNLIMITED: u64 = i64::MAX as u64 - (1 << 20);

/// Resource use of one cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: BlkioStats,
}

/// CPU time consumed by the cgroup's tasks since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// Total CPU time in ns: v1 `cpuacct.usage`, v2 `cpu.stat` `usage_usec` × 1000.
    pub usage_ns: u64,
    /// Time in user mode, ns: v1 `cpuacct.usage_user` (else `cpuacct.stat`
    /// `user`, in clock ticks), v2 `cpu.stat` `user_usec` × 1000.
    pub user_ns: Option<u64>,
    /// Time in kernel mode, ns: v1 `cpuacct.usage_sys` (else `cpuacct.stat`
    /// `system`), v2 `cpu.stat` `system_usec` × 1000.
    pub system_ns: Option<u64>,
}

/// Memory charged to the cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes in use, page cache included: v1 `memory.usage_in_bytes`, v2
    /// `memory.current`.
    pub usage: u64,
    /// The limit in bytes: v1 `memory.limit_in_bytes`, v2 `memory.max`;
    /// `None` when there is none.
    pub limit: Option<u64>,
    /// Inactive file-backed pages, the cache Docker leaves out of a
    /// container's usage: v1 `memory.stat` `total_inactive_file`, v2
    /// `memory.stat` `inactive_file`.
    pub inactive_file: u64,
    /// How many times the OOM killer killed a process of the cgroup: v1
    /// `memory.oom_control` `oom_kill`, v2 `memory.events` `oom_kill`.
    pub oom_kills: u64,
}

/// Tasks in the cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PidsStats {
    /// `pids.current`.
    pub current: u64,
    /// `pids.max`; `None` for `max`.
    pub limit: Option<u64>,
}

/// Bytes moved to and from block devices, summed over devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlkioStats {
    /// v1 `Read` lines of `blkio.throttle.io_service_bytes_recursive` (or,
    /// without it, `blkio.throttle.io_service_bytes`); v2 `io.stat` `rbytes=`.
    pub read_bytes: u64,
    /// v1 `Write` lines; v2 `io.stat` `wbytes=`.
    pub write_bytes: u64,
}

impl Stats {
    /// Memory in use without the inactive page cache, as `docker stats`
    /// shows it: the usage less `inactive_file`, or the usage itself when
    /// the cache figure is not below it.
    pub fn mem_usage_minus_cache(&self) -> u64 {
        let m = &self.memory;
        if m.inactive_file < m.usage {
            m.usage - m.inactive_file
        } else {
            m.usage
        }
    }
}

impl Manager {
    /// Read the cgroup's resource use (see the module documentation for
    /// where each figure comes from).
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        Ok(Stats {
            cpu: self.cpu_stats()?,
            memory: self.memory_stats()?,
            pids: self.pids_stats()?,
            blkio: self.blkio_stats()?,
        })
    }

    fn cpu_stats(&self) -> Result<CpuStats, CgroupError> {
        let target = match self.target("cpuacct", "cpu", "") {
            Ok(t) => t,
            Err(_) => match self.unified_dir() {
                Some(dir) => Target::V2(dir),
                None => return Ok(CpuStats::default()),
            },
        };
        match target {
            Target::V1(dir) => {
                existing(dir)?;
                let mut s = CpuStats {
                    usage_ns: read_u64(dir, "cpuacct.usage")?.unwrap_or(0),
                    user_ns: read_u64(dir, "cpuacct.usage_user")?,
                    system_ns: read_u64(dir, "cpuacct.usage_sys")?,
                };
                if s.user_ns.is_none() || s.system_ns.is_none() {
                    if let Some(text) = read_opt(dir, "cpuacct.stat")? {
                        let file = dir.join("cpuacct.stat");
                        let ns = |ticks: u64| ticks.saturating_mul(ns_per_tick());
                        s.user_ns = s.user_ns.or(keyed(&file, &text, "user")?.map(ns));
                        s.system_ns = s.system_ns.or(keyed(&file, &text, "system")?.map(ns));
                    }
                }
                Ok(s)
            }
            Target::V2(dir) => {
                existing(dir)?;
                let Some(text) = read_opt(dir, "cpu.stat")? else {
                    return Ok(CpuStats::default());
                };
                let file = dir.join("cpu.stat");
                let ns = |us: u64| us.saturating_mul(1000);
                Ok(CpuStats {
                    usage_ns: keyed(&file, &text, "usage_usec")?.map_or(0, ns),
                    user_ns: keyed(&file, &text, "user_usec")?.map(ns),
                    system_ns: keyed(&file, &text, "system_usec")?.map(ns),
                })
            }
        }
    }

    /// How many times the kernel's OOM killer killed a process of the
    /// cgroup (v1 `memory.oom_control`, v2 `memory.events` `oom_kill`); 0
    /// without a memory controller. One file, for a caller that wants only
    /// this (a container's exit).
    pub fn oom_kills(&self) -> Result<u64, CgroupError> {
        let Ok(target) = self.target("memory", "memory", "") else {
            return Ok(0);
        };
        let (dir, events) = match target {
            Target::V1(dir) => (dir, "memory.oom_control"),
            Target::V2(dir) => (dir, "memory.events"),
        };
        existing(dir)?;
        Ok(read_keyed(dir, events, "oom_kill")?.unwrap_or(0))
    }

    fn memory_stats(&self) -> Result<MemoryStats, CgroupError> {
        let Ok(target) = self.target("memory", "memory", "") else {
            return Ok(MemoryStats::default());
        };
        let (dir, usage, limit, inactive) = match target {
            Target::V1(dir) => (
                dir,
                "memory.usage_in_bytes",
                "memory.limit_in_bytes",
                "total_inactive_file",
            ),
            Target::V2(dir) => (dir, "memory.current", "memory.max", "inactive_file"),
        };
        existing(dir)?;
        let limit = match read_opt(dir, limit)? {
            None => None,
            Some(text) if text.trim() == "max" => None,
            Some(text) => Some(number(&dir.join(limit), &text)?).filter(|&l| l < V1_UNLIMITED),
        };
        Ok(MemoryStats {
            usage: read_u64(dir, usage)?.unwrap_or(0),
            limit,
            inactive_file: read_keyed(dir, "memory.stat", inactive)?.unwrap_or(0),
            oom_kills: self.oom_kills()?,
        })
    }

    fn pids_stats(&self) -> Result<PidsStats, CgroupError> {
        let Ok(Target::V1(dir) | Target::V2(dir)) = self.target("pids", "pids", "") else {
            return Ok(PidsStats::default());
        };
        existing(dir)?;
        let limit = match read_opt(dir, "pids.max")? {
            Some(text) if text.trim() != "max" => Some(number(&dir.join("pids.max"), &text)?),
            _ => None,
        };
        Ok(PidsStats {
            current: read_u64(dir, "pids.current")?.unwrap_or(0),
            limit,
        })
    }

    fn blkio_stats(&self) -> Result<BlkioStats, CgroupError> {
        match self.target("blkio", "io", "") {
            Ok(Target::V1(dir)) => {
                existing(dir)?;
                for file in [
                    "blkio.throttle.io_service_bytes_recursive",
                    "blkio.throttle.io_service_bytes",
                ] {
                    if let Some(text) = read_opt(dir, file)? {
                        return parse_v1_service_bytes(&dir.join(file), &text);
                    }
                }
                Ok(BlkioStats::default())
            }
            Ok(Target::V2(dir)) => {
                existing(dir)?;
                match read_opt(dir, "io.stat")? {
                    Some(text) => parse_io_stat(&dir.join("io.stat"), &text),
                    None => Ok(BlkioStats::default()),
                }
            }
            Err(_) => Ok(BlkioStats::default()),
        }
    }
}

/// Fail with ENOENT, naming `dir`, when the cgroup directory is gone.
fn existing(dir: &Path) -> Result<(), CgroupError> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(CgroupError::Read {
            path: dir.to_path_buf(),
            err: io::Error::from_raw_os_error(libc::ENOENT),
        })
    }
}

/// `dir/file`, or `None` when the file does not exist.
fn read_opt(dir: &Path, file: &str) -> Result<Option<String>, CgroupError> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(CgroupError::Read { path, err }),
    }
}

/// A file holding one number.
fn read_u64(dir: &Path, file: &str) -> Result<Option<u64>, CgroupError> {
    match read_opt(dir, file)? {
        Some(text) => number(&dir.join(file), &text).map(Some),
        None => Ok(None),
    }
}

/// The value of `key` in the flat-keyed file `dir/file`.
fn read_keyed(dir: &Path, file: &str, key: &str) -> Result<Option<u64>, CgroupError> {
    match read_opt(dir, file)? {
        Some(text) => keyed(&dir.join(file), &text, key),
        None => Ok(None),
    }
}

fn parse_error(file: &Path, reason: String) -> CgroupError {
    CgroupError::Parse {
        what: file.display().to_string(),
        reason,
    }
}

fn number(file: &Path, text: &str) -> Result<u64, CgroupError> {
    let t = text.trim();
    t.parse()
        .map_err(|_| parse_error(file, format!("{t:?} is not a number")))
}

/// The value of `key` in flat-keyed `text` (`key value` lines).
fn keyed(file: &Path, text: &str, key: &str) -> Result<Option<u64>, CgroupError> {
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some(key) {
            let value = words.next().unwrap_or("");
            return number(file, value).map(Some);
        }
    }
    Ok(None)
}

/// Nanoseconds per clock tick (`USER_HZ`), the unit of `cpuacct.stat`.
fn ns_per_tick() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        1_000_000_000 / hz as u64
    } else {
        10_000_000
    }
}

/// Sum the `<major>:<minor> Read <n>` and `... Write <n>` lines of a v1
/// `io_service_bytes` file (the `Total` lines are left out).
fn parse_v1_service_bytes(file: &Path, text: &str) -> Result<BlkioStats, CgroupError> {
    let mut s = BlkioStats::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [_device, op, value] = words[..] else {
            continue;
        };
        let slot = match op {
            "Read" => &mut s.read_bytes,
            "Write" => &mut s.write_bytes,
            _ => continue,
        };
        *slot = slot.saturating_add(number(file, value)?);
    }
    Ok(s)
}

/// Sum `rbytes=` and `wbytes=` over the devices of a v2 `io.stat`.
fn parse_io_stat(file: &Path, text: &str) -> Result<BlkioStats, CgroupError> {
    let mut s = BlkioStats::default();
    for line in text.lines() {
        for field in line.split_whitespace().skip(1) {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let slot = match key {
                "rbytes" => &mut s.read_bytes,
                "wbytes" => &mut s.write_bytes,
                _ => continue,
            };
            *slot = slot.saturating_add(number(file, value)?);
        }
    }
    Ok(s)
}
