//! `stats` and `top`: containers' resource usage and their processes.

use super::{daemon, open, Failure, Result};
use crate::output::format;
use clap::Args;
use skiff_engine::model::{Container, Status};
use std::path::Path;

#[derive(Args, Debug)]
pub struct TopArgs {
    container: String,
    /// Options for ps (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

/// `top`: the host's `ps` output, rows of the container's processes only.
pub fn top(root: &Path, runroot: &Path, a: TopArgs) -> Result {
    let e = open(root, runroot)?;
    let (titles, rows) = e.top(&a.container, &a.ps_args).map_err(daemon(1))?;
    let mut all = vec![titles];
    all.extend(rows);
    print!("{}", format::table_min(&all, 20));
    Ok(())
}

/// go-units' BytesSize: binary units, 4 significant digits ("1.203MiB").
/// `stats`' in / out columns: `1.2kB / 656B`.
fn io_pair(a: u64, b: u64) -> String {
    format!("{} / {}", format::human_size(a), format::human_size(b))
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long = "no-stream")]
    no_stream: bool,
    /// Do not truncate output.
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Pretty-print using a Go template.
    #[arg(long)]
    format: Option<String>,
    containers: Vec<String>,
}

pub fn stats(root: &Path, runroot: &Path, a: StatsArgs) -> Result {
    use std::io::Write;
    let e = open(root, runroot)?;
    let pick = || -> Result<Vec<Container>> {
        if a.containers.is_empty() {
            let mut l = e.list().map_err(daemon(1))?;
            if !a.all {
                l.retain(|c| matches!(c.state.status, Status::Running | Status::Paused));
            }
            Ok(l)
        } else {
            a.containers
                .iter()
                .map(|n| e.find(n).map_err(daemon(1)))
                .collect()
        }
    };
    let interval = std::time::Duration::from_millis(500);
    // {{.Container}} is the name or ID as given.
    let given: std::collections::HashMap<String, String> = a
        .containers
        .iter()
        .filter_map(|n| e.find(n).ok().map(|c| (c.id, n.clone())))
        .collect();
    loop {
        let list = pick()?;
        let first: Vec<_> = list.iter().map(|c| e.stats(c)).collect();
        std::thread::sleep(interval);
        let rows: Vec<format::Fields> = list
            .iter()
            .zip(first)
            .map(|(c, s0)| {
                let s = e.stats(c);
                let cpu = s.cpu_percent(&s0);
                let mem_pct = s.mem_percent();
                vec![
                    (
                        "Container",
                        "CONTAINER",
                        given.get(&c.id).cloned().unwrap_or_else(|| {
                            if a.no_trunc {
                                c.id.clone()
                            } else {
                                c.id[..12].to_string()
                            }
                        }),
                    ),
                    (
                        "ID",
                        "CONTAINER ID",
                        if a.no_trunc {
                            c.id.clone()
                        } else {
                            c.id[..12].to_string()
                        },
                    ),
                    ("Name", "NAME", c.name.clone()),
                    ("CPUPerc", "CPU %", format!("{cpu:.2}%")),
                    (
                        "MemUsage",
                        "MEM USAGE / LIMIT",
                        format!(
                            "{} / {}",
                            format::bytes_size(s.mem_usage),
                            format::bytes_size(s.mem_limit)
                        ),
                    ),
                    ("MemPerc", "MEM %", format!("{mem_pct:.2}%")),
                    ("NetIO", "NET I/O", io_pair(s.net_rx, s.net_tx)),
                    (
                        "BlockIO",
                        "BLOCK I/O",
                        io_pair(s.cgroup.blkio.read_bytes, s.cgroup.blkio.write_bytes),
                    ),
                    ("PIDs", "PIDS", s.cgroup.pids.current.to_string()),
                ]
            })
            .collect();
        let fmt = a.format.clone().unwrap_or_else(|| {
            "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}".into()
        });
        let out = if rows.is_empty() {
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS\n".to_string()
        } else {
            format::render_rows(&fmt, &rows).map_err(Failure::from)?
        };
        if !a.no_stream {
            // Clear the screen between refreshes, as Docker does.
            print!("\x1b[2J\x1b[H");
        }
        print!("{out}");
        let _ = std::io::stdout().flush();
        if a.no_stream {
            return Ok(());
        }
    }
}
