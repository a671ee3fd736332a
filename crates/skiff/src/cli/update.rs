//! `skiff update`: new resource limits or restart policy for containers,
//! as `docker update` sets them (the engine checks and applies them to a
//! running container's cgroups at once).

use std::path::Path;

use clap::Args;

use super::lifecycle::each;
use super::{open, Result};

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long = "blkio-weight", value_parser = crate::cli::errors::go_u16)]
    blkio_weight: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long = "cpu-period", value_parser = crate::cli::errors::go_int)]
    cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long = "cpu-quota", allow_hyphen_values = true, value_parser = crate::cli::errors::go_int)]
    cpu_quota: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares", value_parser = crate::cli::errors::go_int)]
    cpu_shares: Option<i64>,
    /// Number of CPUs.
    #[arg(long, value_parser = crate::cli::errors::go_cpus)]
    cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// Memory limit.
    #[arg(short = 'm', long)]
    memory: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation")]
    memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Tune container pids limit (-1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true, value_parser = crate::cli::errors::go_int)]
    pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long)]
    restart: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

fn bytes(flag: &str, v: &Option<String>) -> std::result::Result<Option<i64>, String> {
    v.as_deref()
        .map(|s| match s {
            "-1" if flag == "memory-swap" => Ok(-1),
            s => skiff_engine::units::parse_bytes(s)
                .map_err(|e| format!("invalid argument {s:?} for \"--{flag}\" flag: {e}")),
        })
        .transpose()
}

pub fn update(root: &Path, runroot: &Path, a: UpdateArgs) -> Result {
    let o = skiff_engine::container::UpdateOptions {
        memory: bytes("memory", &a.memory)?,
        memory_swap: bytes("memory-swap", &a.memory_swap)?,
        memory_reservation: bytes("memory-reservation", &a.memory_reservation)?,
        nano_cpus: a.cpus.map(|c| (c * 1e9) as i64),
        cpu_shares: a.cpu_shares,
        cpu_period: a.cpu_period,
        cpu_quota: a.cpu_quota,
        cpuset_cpus: a.cpuset_cpus,
        cpuset_mems: a.cpuset_mems,
        pids_limit: a.pids_limit,
        blkio_weight: a.blkio_weight,
        restart_policy: a
            .restart
            .as_deref()
            .map(skiff_engine::units::parse_restart)
            .transpose()?,
    };
    let none = o.memory.is_none()
        && o.memory_swap.is_none()
        && o.memory_reservation.is_none()
        && o.nano_cpus.is_none()
        && o.cpu_shares.is_none()
        && o.cpu_period.is_none()
        && o.cpu_quota.is_none()
        && o.cpuset_cpus.is_none()
        && o.cpuset_mems.is_none()
        && o.pids_limit.is_none()
        && o.blkio_weight.is_none()
        && o.restart_policy.is_none();
    if none {
        return Err("you must provide one or more flags when using this command".into());
    }
    let e = open(root, runroot)?;
    // Warnings after the names, on stdout, as docker's update prints them.
    let mut warnings = Vec::new();
    let done = each(&a.containers, |n| {
        e.update_with_warnings(n, &o)
            .map(|(_, w)| warnings.extend(w))
    });
    if !warnings.is_empty() {
        println!("{}", warnings.join("\n"));
    }
    done
}
