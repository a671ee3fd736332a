//! `builder prune`: the build cache's entries, and what only they held.

use crate::output::format::human_size4;
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand)]
#[command(defer = true)]
pub enum BuilderCmd {
    /// Remove build cache.
    Prune {
        /// Remove all build cache, not only what no image uses.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation (skiff never asks).
        #[arg(short, long)]
        force: bool,
        /// Provide filter values (`until=DURATION`).
        #[arg(long)]
        filter: Vec<String>,
    },
}

type Result = std::result::Result<(), super::Failure>;

pub fn builder(root: &Path, runroot: &Path, c: BuilderCmd) -> Result {
    match c {
        BuilderCmd::Prune { all, force, filter } => {
            let _ = force;
            let mut older_than = None;
            for f in &filter {
                match f.split_once('=') {
                    Some(("until", d)) => {
                        let ns = skiff_engine::units::parse_go_duration(d).map_err(|e| {
                            super::Failure {
                                code: 1,
                                msg: format!("Error: {e}"),
                            }
                        })?;
                        older_than = Some(std::time::Duration::from_nanos(ns.max(0) as u64));
                    }
                    _ => {
                        return Err(super::Failure {
                            code: 1,
                            msg: format!("Error: invalid filter {f:?}"),
                        })
                    }
                }
            }
            let e = skiff_engine::Engine::open(root, runroot)?;
            let p = e.builder_prune(all, older_than)?;
            if !p.removed.is_empty() {
                println!("Deleted build cache objects:");
                for k in &p.removed {
                    println!("{}", k.trim_start_matches("sha256:"));
                }
                println!();
            }
            println!("Total reclaimed space: {}", human_size4(p.bytes));
            Ok(())
        }
    }
}
