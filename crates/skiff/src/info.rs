//! `skiff info` (and `system info`): the engine and the host it runs on, in
//! Docker's layout and with Docker's field names for `--format`.

use crate::containers::{daemon, open, Failure, Result};
use crate::format::bytes_size;
use clap::Args;
use serde_json::{json, Value};
use skiff_engine::model::Status;
use std::path::Path;

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
            crate::template::render(&f, &doc).map_err(Failure::from)?
        ),
        None => print!("{}", text(&doc)),
    }
    Ok(())
}

fn document(root: &Path, runroot: &Path) -> Result<Value> {
    let e = open(root, runroot)?;
    let list = e.list().map_err(daemon(1))?;
    let count = |f: fn(&Status) -> bool| list.iter().filter(|c| f(&c.state.status)).count();
    let running = count(|s| matches!(s, Status::Running | Status::Restarting));
    let paused = count(|s| matches!(s, Status::Paused));
    let imgs = skiff_image::service::Images::open(root).map_err(Failure::from)?;
    let mut ids: Vec<String> = imgs
        .list()
        .map_err(Failure::from)?
        .into_iter()
        .map(|i| i.record.id.to_string())
        .collect();
    ids.sort();
    ids.dedup();
    let uts = uname();
    let os = os_release();
    // Docker's "Cgroup Version" is 2 only on a host without v1 controllers.
    let cgroup2 = skiff_runtime::cgroups::Layout::detect().is_ok_and(|l| l.is_unified_only());
    let mut security = vec!["name=seccomp,profile=default".to_string()];
    if cgroup2 {
        security.push("name=cgroupns".into());
    }
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    Ok(json!({
        "Containers": list.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": list.len() - running - paused,
        "Images": ids.len(),
        "Driver": "overlay",
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": if cgroup2 { "2" } else { "1" },
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "null"],
            "Authorization": null,
            "Log": ["json-file"],
        },
        "Runtimes": {"skiff-runtime": {"path": exe}},
        "DefaultRuntime": "skiff-runtime",
        "InitBinary": "docker-init",
        "SecurityOptions": security,
        "KernelVersion": uts.release,
        "OperatingSystem": os.0,
        "OSVersion": os.1,
        "OSType": "linux",
        "Architecture": uts.machine,
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": mem_total(),
        "Name": uts.nodename,
        "DockerRootDir": root.display().to_string(),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "IPv4Forwarding": std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .is_ok_and(|v| v.trim() == "1"),
        "Debug": false,
        "ExperimentalBuild": false,
        "LiveRestoreEnabled": false,
        "Labels": [],
        "Warnings": null,
    }))
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

struct Uname {
    release: String,
    machine: String,
    nodename: String,
}

fn uname() -> Uname {
    // SAFETY: utsname is plain bytes; all zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct it is given and keeps no pointer.
    unsafe { libc::uname(&mut u) };
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Uname {
        release: field(&u.release),
        machine: field(&u.machine),
        nodename: field(&u.nodename),
    }
}

/// PRETTY_NAME and VERSION_ID from os-release, as Docker reads them.
fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let pretty = get("PRETTY_NAME");
    (
        if pretty.is_empty() {
            "Linux".into()
        } else {
            pretty
        },
        get("VERSION_ID"),
    )
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        })
        .map_or(0, |kb| kb * 1024)
}
