//! System-wide commands: `system df|prune|boot`, `container prune`, and
//! `info` (`system info`), which shows the engine and the host it runs on
//! in Docker's layout, with Docker's field names for `--format`.

use super::{confirm, daemon, open, print_deleted, Failure, Result};
use crate::output::format;
use crate::output::format::bytes_size;
use clap::Args;
use serde_json::Value;
use std::path::Path;

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    force: bool,
    /// Provide filter values (until=, label=).
    #[arg(long)]
    filter: Vec<String>,
}

pub fn container_prune(root: &Path, runroot: &Path, a: PruneArgs) -> Result {
    if !a.force
        && !confirm(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?",
        )
    {
        return Ok(());
    }
    let e = open(root, runroot)?;
    let filters = skiff_engine::filters::Filters::parse(&a.filter).map_err(daemon(1))?;
    let pruned = e.prune_containers(&filters).map_err(daemon(1))?;
    print_deleted("Containers", &pruned.removed);
    println!(
        "Total reclaimed space: {}",
        format::human_size(pruned.bytes)
    );
    Ok(())
}

#[derive(clap::Subcommand, Debug)]
#[command(defer = true)]
pub enum SystemCmd {
    /// Show skiff disk usage.
    Df,
    /// Display system-wide information.
    Info(InfoArgs),
    /// Start the containers whose restart policy brings them back after a
    /// reboot (run it from the init system at boot).
    Boot,
    /// Remove unused data.
    Prune {
        /// Remove all unused images not just dangling ones.
        #[arg(short = 'a', long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
        /// Prune volumes.
        #[arg(long)]
        volumes: bool,
    },
}

pub fn system(root: &Path, runroot: &Path, c: SystemCmd) -> Result {
    let e = open(root, runroot)?;
    match c {
        SystemCmd::Info(a) => return info(root, runroot, a),
        SystemCmd::Boot => {
            for id in e.boot().map_err(daemon(1))? {
                println!("{id}");
            }
            // Kubernetes objects: their controllers (skiff serve) bring the
            // pods back.
            if e.objects_revision().map_err(daemon(1))? > 0 {
                super::serve::ensure_running(root, runroot).map_err(|m| super::Failure {
                    code: 1,
                    msg: format!("starting skiff serve: {m}"),
                })?;
            }
        }
        SystemCmd::Df => {
            let du = e.disk_usage().map_err(daemon(1))?;
            let reclaim = |r: u64, t: u64| match (r * 100).checked_div(t) {
                Some(pct) => format!("{} ({pct}%)", format::human_size4(r)),
                None => format::human_size4(r),
            };
            let row = |name: &str, u: &skiff_engine::system::Usage| {
                vec![
                    name.to_string(),
                    u.total.to_string(),
                    u.active.to_string(),
                    format::human_size4(u.size),
                    reclaim(u.reclaimable, u.size),
                ]
            };
            let rows = vec![
                ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
                    .map(String::from)
                    .to_vec(),
                row("Images", &du.images),
                row("Containers", &du.containers),
                row("Local Volumes", &du.volumes),
                // Docker shows no percentage for the build cache.
                vec![
                    "Build Cache".into(),
                    du.build_cache.total.to_string(),
                    du.build_cache.active.to_string(),
                    format::human_size4(du.build_cache.size),
                    format::human_size4(du.build_cache.reclaimable),
                ],
            ];
            print!("{}", format::table(&rows));
        }
        SystemCmd::Prune {
            all,
            force,
            volumes,
        } => {
            if !force {
                let mut q = String::from(
                    "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
                );
                if volumes {
                    q.push_str("  - all volumes not used by at least one container\n");
                }
                q.push_str(if all {
                    "  - all images without at least one container associated to them\n"
                } else {
                    "  - all dangling images\n"
                });
                q.push_str("  - all dangling build cache\n\nAre you sure you want to continue?");
                if !confirm(&q) {
                    return Ok(());
                }
            }
            let p = e
                .system_prune(&skiff_engine::system::SystemPruneOptions {
                    all_images: all,
                    volumes,
                })
                .map_err(daemon(1))?;
            print_deleted("Containers", &p.containers);
            print_deleted("Networks", &p.networks);
            print_deleted("Volumes", &p.volumes);
            let images: Vec<String> = p.images.iter().map(|i| format!("deleted: {i}")).collect();
            print_deleted("Images", &images);
            println!("Total reclaimed space: {}", format::human_size(p.bytes));
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Format the output using the given Go template.
    #[arg(short = 'f', long)]
    format: Option<String>,
}

pub fn info(root: &Path, runroot: &Path, a: InfoArgs) -> Result {
    let doc = document(root, runroot)?;
    match a.format {
        Some(f) => println!(
            "{}",
            crate::output::template::render(&f, &doc).map_err(Failure::from)?
        ),
        None => print!("{}", text(&doc)),
    }
    Ok(())
}

fn document(root: &Path, runroot: &Path) -> Result<Value> {
    let info = open(root, runroot)?.info().map_err(daemon(1))?;
    serde_json::to_value(info).map_err(Failure::from)
}

/// Docker's text layout (its Server section; skiff has no separate client).
fn text(d: &Value) -> String {
    let s = |k: &str| match &d[k] {
        Value::String(v) => v.clone(),
        v => v.to_string(),
    };
    let list = |k: &str| words(&d[k]);
    let plugin = |k: &str| words(&d["Plugins"][k]);
    let mut out = String::from("Server:\n");
    let mut line = |t: String| {
        out.push_str(&t);
        out.push('\n');
    };
    line(format!(" Containers: {}", s("Containers")));
    line(format!("  Running: {}", s("ContainersRunning")));
    line(format!("  Paused: {}", s("ContainersPaused")));
    line(format!("  Stopped: {}", s("ContainersStopped")));
    line(format!(" Images: {}", s("Images")));
    line(format!(" Server Version: {}", s("ServerVersion")));
    line(format!(" Storage Driver: {}", s("Driver")));
    line(format!(" Logging Driver: {}", s("LoggingDriver")));
    line(format!(" Cgroup Driver: {}", s("CgroupDriver")));
    line(format!(" Cgroup Version: {}", s("CgroupVersion")));
    line(" Plugins:".into());
    line(format!("  Volume: {}", plugin("Volume")));
    line(format!("  Network: {}", plugin("Network")));
    line(format!("  Log: {}", plugin("Log")));
    line(format!(" Runtimes: {}", s("DefaultRuntime")));
    line(format!(" Default Runtime: {}", s("DefaultRuntime")));
    line(format!(" Init Binary: {}", s("InitBinary")));
    line(" Security Options:".into());
    for o in list("SecurityOptions").split(' ') {
        let mut kv = o
            .split(',')
            .filter_map(|p| p.split_once('='))
            .collect::<Vec<_>>()
            .into_iter();
        if let Some((_, name)) = kv.next() {
            line(format!("  {name}"));
        }
        for (k, v) in kv {
            let mut k = k.to_string();
            if let Some(f) = k.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            line(format!("   {k}: {v}"));
        }
    }
    line(format!(" Kernel Version: {}", s("KernelVersion")));
    line(format!(" Operating System: {}", s("OperatingSystem")));
    line(format!(" OSType: {}", s("OSType")));
    line(format!(" Architecture: {}", s("Architecture")));
    line(format!(" CPUs: {}", s("NCPU")));
    line(format!(
        " Total Memory: {}",
        bytes_size(d["MemTotal"].as_u64().unwrap_or(0))
    ));
    line(format!(" Name: {}", s("Name")));
    line(format!(" Docker Root Dir: {}", s("DockerRootDir")));
    line(" Debug Mode: false".into());
    line(" Labels:".into());
    line(" Experimental: false".into());
    line(" Live Restore Enabled: false".into());
    line(String::new());
    out
}

/// A JSON list of strings as one line, space-separated.
fn words(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
