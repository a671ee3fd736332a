//! `inspect`: containers' documents as JSON, or through a template that
//! prints the fields as Go prints those of Docker's typed document.

use super::{json_4, open, Failure, Result};
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format the output using a Go template.
    #[arg(short = 'f', long)]
    format: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn inspect(root: &Path, runroot: &Path, a: InspectArgs) -> Result {
    let e = open(root, runroot)?;
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for n in &a.containers {
        match e.find(n) {
            Ok(c) => out.push(e.inspect(&c)),
            Err(_) => missing.push(n.clone()),
        }
    }
    match &a.format {
        Some(f) => {
            let opts = crate::output::template::Options {
                missing_key_error: true,
                null_as: Some(go_type_of),
            };
            for v in &out {
                match crate::output::template::render_with(f, v, &opts) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        println!();
                        return Err(Failure {
                            code: 1,
                            msg: format!("template parsing error: {e}"),
                        });
                    }
                }
            }
        }
        None => println!("{}", json_4(&out)),
    }
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("Error: No such object: {m}");
        }
        return Err(Failure {
            code: 1,
            msg: String::new(),
        });
    }
    Ok(())
}

/// How Docker's typed inspect document prints a null (or left-out) field:
/// nil slices as `[]`, nil maps as `map[]`, empty strings as nothing,
/// pointers as `<nil>`.
fn go_type_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "CapAdd"
        | "CapDrop"
        | "Entrypoint"
        | "Cmd"
        | "SecurityOpt"
        | "Binds"
        | "Env"
        | "Dns"
        | "DnsOptions"
        | "DnsSearch"
        | "ExtraHosts"
        | "Links"
        | "Devices"
        | "DeviceCgroupRules"
        | "DeviceRequests"
        | "Ulimits"
        | "Args"
        | "ExecIDs"
        | "GroupAdd"
        | "VolumesFrom"
        | "OnBuild"
        | "BlkioWeightDevice"
        | "BlkioDeviceReadBps"
        | "BlkioDeviceWriteBps"
        | "BlkioDeviceReadIOps"
        | "BlkioDeviceWriteIOps"
        | "MaskedPaths"
        | "ReadonlyPaths"
        | "SecondaryIPAddresses"
        | "SecondaryIPv6Addresses"
        | "Shell"
        | "Mounts" => "[]",
        "Labels" | "Volumes" | "ExposedPorts" | "Tmpfs" | "PortBindings" | "Ports" | "Networks"
        | "StorageOpt" | "Sysctls" | "Options" => "map[]",
        "StopSignal" | "Domainname" | "MacAddress" | "Name" | "Driver" | "Mode" | "Propagation" => {
            ""
        }
        "Start" | "End" => "time",
        "StopTimeout" | "Healthcheck" | "PidsLimit" | "MemorySwappiness" | "OomKillDisable"
        | "Init" | "Health" => "<nil>",
        _ => return None,
    })
}
