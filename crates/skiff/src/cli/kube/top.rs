//! `kube top pod|node`: the pods' and the node's resource use, measured
//! over half a second (what metrics-server would serve).

use super::{failure, selector, Result};
use skiff_kube::printers::Table;
use skiff_kube::{Cluster, Kind, Object};
use std::time::Duration;

#[derive(clap::Subcommand, Debug)]
#[command(defer = true)]
pub enum TopCmd {
    /// The pods' CPU and memory.
    #[command(visible_aliases = ["pods", "po"])]
    Pod {
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        #[arg(short = 'A', long = "all-namespaces")]
        all_namespaces: bool,
        #[arg(short = 'l', long)]
        selector: Option<String>,
        /// Print no header line.
        #[arg(long = "no-headers")]
        no_headers: bool,
    },
    /// The node's CPU and memory.
    #[command(visible_aliases = ["nodes", "no"])]
    Node {
        #[arg(long = "no-headers")]
        no_headers: bool,
    },
}

const WINDOW: Duration = Duration::from_millis(500);

fn mib(bytes: i64) -> String {
    format!("{}Mi", bytes / (1 << 20))
}

/// The machine's busy CPU time and total CPU time (jiffies), from /proc/stat.
fn cpu_times() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = f.iter().sum();
    let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

pub fn top(c: &Cluster<'_>, cmd: TopCmd) -> Result {
    match cmd {
        TopCmd::Pod {
            namespace,
            all_namespaces,
            selector: sel,
            no_headers,
        } => {
            let ns = namespace.unwrap_or_else(|| "default".into());
            let sel = selector(sel.as_deref())?;
            let usage = skiff_kube::metrics::measure(c, WINDOW).map_err(failure)?;
            let scope = (!all_namespaces).then_some(ns.as_str());
            let mut rows = Vec::new();
            for o in c.list(Kind::Pod, scope).map_err(failure)? {
                let Object::Pod(p) = o else { continue };
                let labels = p.metadata.labels.clone().unwrap_or_default();
                if !sel.as_ref().is_none_or(|s| s.matches(&labels)) {
                    continue;
                }
                let Some(u) = usage.get(p.metadata.uid.as_deref().unwrap_or("")) else {
                    continue;
                };
                let mut row = vec![
                    p.metadata.name.clone().unwrap_or_default(),
                    format!("{}m", u.millicores),
                    mib(u.memory),
                ];
                if all_namespaces {
                    row.insert(0, p.metadata.namespace.clone().unwrap_or_default());
                }
                rows.push(row);
            }
            if rows.is_empty() {
                return Err(super::usage(format!(
                    "Metrics not available for pod in namespace {ns}"
                )));
            }
            let mut headers: Vec<String> = ["NAME", "CPU(cores)", "MEMORY(bytes)"]
                .map(String::from)
                .into();
            if all_namespaces {
                headers.insert(0, "NAMESPACE".into());
            }
            if no_headers {
                headers.clear();
            }
            print!("{}", Table { headers, rows }.render());
        }
        TopCmd::Node { no_headers } => {
            let (b0, t0) = cpu_times();
            std::thread::sleep(WINDOW);
            let (b1, t1) = cpu_times();
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            let busy = if t1 > t0 {
                (b1 - b0) as f64 / (t1 - t0) as f64
            } else {
                0.0
            };
            let millicores = (busy * cpus * 1000.0).round() as i64;
            let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
            let field = |name: &str| -> i64 {
                mem.lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
                    * 1024
            };
            let used = field("MemTotal:") - field("MemAvailable:");
            let (acpu, amem) = skiff_kube::controllers::node::allocatable();
            let pct = |a: i64, b: i64| {
                if b > 0 {
                    format!("{}%", a * 100 / b)
                } else {
                    "0%".into()
                }
            };
            let headers: Vec<String> = if no_headers {
                Vec::new()
            } else {
                ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
                    .map(String::from)
                    .into()
            };
            let rows = vec![vec![
                skiff_kube::kubelet::node_name(),
                format!("{millicores}m"),
                pct(millicores, acpu),
                mib(used),
                pct(used, amem),
            ]];
            print!("{}", Table { headers, rows }.render());
        }
    }
    Ok(())
}
