//! `skiff info` (and `system info`): the engine and the host it runs on, in
//! Docker's layout and with Docker's field names for `--format`.

use crate::containers::{daemon, open, Failure, Result};
use crate::format::bytes_size;
use clap::Args;
use serde_json::Value;
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
