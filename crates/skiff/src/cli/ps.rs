//! `ps` (`container ls`): the containers in Docker's columns or through a
//! `--format` template.

use super::{daemon, open, Failure, Result};
use crate::output::format;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    all: bool,
    /// Only display container IDs.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Show the latest created container.
    #[arg(short = 'l', long)]
    latest: bool,
    /// Show n last created containers.
    #[arg(short = 'n', long = "last", allow_hyphen_values = true, value_parser = crate::cli::errors::go_int)]
    last: Option<i64>,
    /// Filter output (status=, name=, id=, label=, exited=, ancestor=).
    #[arg(short = 'f', long)]
    filter: Vec<String>,
    /// Pretty-print containers using a Go template.
    #[arg(long)]
    format: Option<String>,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    no_trunc: bool,
}

/// Docker's COMMAND column: the daemon's command line, cut to 20
/// characters (with `trunc`), quoted as Go quotes a string.
fn command_column(command: &str, trunc: bool) -> String {
    let mut s = command.to_string();
    if trunc && s.chars().count() > 20 {
        s = s.chars().take(19).collect::<String>() + "…";
    }
    serde_json::to_string(&s).unwrap_or_default()
}

pub fn ps(root: &Path, runroot: &Path, a: PsArgs) -> Result {
    let e = open(root, runroot)?;
    let filters = skiff_engine::filters::Filters::parse(&a.filter).map_err(daemon(1))?;
    let last = if a.latest {
        Some(1)
    } else {
        a.last.filter(|n| *n > 0).map(|n| n as usize)
    };
    let list = e
        .list_containers(&skiff_engine::container::ListOptions {
            all: a.all,
            last,
            filters,
        })
        .map_err(daemon(1))?;
    let trunc = !a.no_trunc;
    if a.quiet {
        for s in &list {
            let id = &s.container.id;
            println!("{}", if trunc { &id[..12] } else { id });
        }
        return Ok(());
    }
    let rows: Vec<format::Fields> = list
        .iter()
        .map(|s| {
            let c = &s.container;
            let labels = c
                .config
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            vec![
                (
                    "ID",
                    "CONTAINER ID",
                    if trunc {
                        c.id[..12].to_string()
                    } else {
                        c.id.clone()
                    },
                ),
                ("Image", "IMAGE", c.config.image.clone()),
                ("Command", "COMMAND", command_column(&s.command, trunc)),
                ("CreatedAt", "CREATED AT", go_time(&c.created)),
                ("RunningFor", "CREATED", format::ago(&c.created)),
                ("Ports", "PORTS", format::ports_text(s.ports.clone())),
                ("State", "STATE", c.state.status.as_str().to_string()),
                ("Status", "STATUS", s.status.clone()),
                ("Names", "NAMES", c.name.clone()),
                ("Labels", "LABELS", labels),
                ("Mounts", "MOUNTS", String::new()),
                ("Networks", "NETWORKS", s.networks.join(",")),
            ]
        })
        .collect();
    let fmt = a.format.unwrap_or_else(|| {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}".into()
    });
    if rows.is_empty() && fmt.starts_with("table") {
        // The header alone.
        let header: format::Fields = vec![
            ("ID", "CONTAINER ID", String::new()),
            ("Image", "IMAGE", String::new()),
            ("Command", "COMMAND", String::new()),
            ("CreatedAt", "CREATED AT", String::new()),
            ("RunningFor", "CREATED", String::new()),
            ("Ports", "PORTS", String::new()),
            ("State", "STATE", String::new()),
            ("Status", "STATUS", String::new()),
            ("Names", "NAMES", String::new()),
            ("Labels", "LABELS", String::new()),
            ("Mounts", "MOUNTS", String::new()),
            ("Networks", "NETWORKS", String::new()),
        ];
        let out = format::render_rows(&fmt, &[header]).map_err(Failure::from)?;
        print!(
            "{}",
            out.lines()
                .next()
                .map(|l| format!("{l}\n"))
                .unwrap_or_default()
        );
        return Ok(());
    }
    print!(
        "{}",
        format::render_rows(&fmt, &rows).map_err(Failure::from)?
    );
    Ok(())
}

/// A time as Go's default format prints it (`2026-11-22 05:41:36 +0000 UTC`).
fn go_time(rfc3339: &str) -> String {
    // Whole seconds, in Go's time format.
    skiff_engine::time::parse_rfc3339_nanos(rfc3339)
        .map(|n| skiff_engine::time::rfc3339_nanos(n - n.rem_euclid(1_000_000_000)))
        .and_then(|s| crate::output::template::go_time(&s))
        .unwrap_or_else(|| rfc3339.to_string())
}
