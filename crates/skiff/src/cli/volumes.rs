//! `volume create|ls|inspect|rm|prune`: Docker's volume commands on
//! skiff's volumes.

use super::{confirm, daemon, open, parse_labels, print_deleted, print_documents, Failure, Result};
use crate::output::format;
use std::path::Path;

#[derive(clap::Subcommand, Debug)]
#[command(defer = true)]
pub enum VolumeCmd {
    /// Create a volume.
    Create {
        /// Set metadata for a volume.
        #[arg(short = 'l', long = "label")]
        label: Vec<String>,
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        /// Only display volume names.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Filter output (dangling=true|false, name=).
        #[arg(short = 'f', long)]
        filter: Vec<String>,
        /// Pretty-print volumes using a Go template.
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more volumes.
    Inspect {
        /// Format the output using a Go template.
        #[arg(short = 'f', long)]
        format: Option<String>,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm {
        /// Force the removal of one or more volumes.
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove all unused local volumes.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
}

pub fn volume(root: &Path, runroot: &Path, c: VolumeCmd) -> Result {
    let e = open(root, runroot)?;
    match c {
        VolumeCmd::Create { label, name } => {
            let labels = parse_labels(&label);
            let v = e
                .volume_create(name.as_deref(), labels, false)
                .map_err(daemon(1))?;
            println!("{}", v.name);
        }
        VolumeCmd::Ls {
            quiet,
            filter,
            format,
        } => {
            let filters = skiff_engine::filters::Filters::parse(&filter).map_err(daemon(1))?;
            let list = e.volumes(&filters).map_err(daemon(1))?;
            if quiet {
                for v in &list {
                    println!("{}", v.name);
                }
                return Ok(());
            }
            let rows: Vec<format::Fields> = list
                .iter()
                .map(|v| {
                    vec![
                        ("Driver", "DRIVER", "local".to_string()),
                        ("Name", "VOLUME NAME", v.name.clone()),
                        ("Scope", "SCOPE", "local".to_string()),
                        (
                            "Mountpoint",
                            "MOUNTPOINT",
                            e.volume_data(&v.name).display().to_string(),
                        ),
                        (
                            "Labels",
                            "LABELS",
                            v.labels
                                .iter()
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                    ]
                })
                .collect();
            let fmt = format.unwrap_or_else(|| "table {{.Driver}}\t{{.Name}}".into());
            if rows.is_empty() && fmt.starts_with("table") {
                println!("DRIVER    VOLUME NAME");
                return Ok(());
            }
            print!(
                "{}",
                format::render_rows(&fmt, &rows).map_err(Failure::from)?
            );
        }
        VolumeCmd::Inspect { format, volumes } => {
            let mut out = Vec::new();
            let mut failed = false;
            for n in &volumes {
                match e.volume_get(n).map_err(daemon(1))? {
                    Some(v) => out.push(e.volume_inspect(&v)),
                    None => {
                        eprintln!("Error: No such volume: {n}");
                        failed = true;
                    }
                }
            }
            print_documents(&out, format.as_deref(), failed)?;
        }
        VolumeCmd::Rm { force, volumes } => {
            let mut failed = false;
            for n in &volumes {
                match e.volume_remove(n, force) {
                    Ok(()) => println!("{n}"),
                    Err(err) if err.kind() == skiff_engine::ErrorKind::NotFound => {
                        eprintln!("Error: No such volume: {n}");
                        failed = true;
                    }
                    Err(err) => {
                        eprintln!("Error response from daemon: {err}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Err(Failure {
                    code: 1,
                    msg: String::new(),
                });
            }
        }
        VolumeCmd::Prune { force } => {
            if !force
                && !confirm(
                    "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?",
                )
            {
                return Ok(());
            }
            let (gone, bytes) = e.volume_prune().map_err(daemon(1))?;
            print_deleted("Volumes", &gone);
            println!("Total reclaimed space: {}", format::human_size(bytes));
        }
    }
    Ok(())
}
