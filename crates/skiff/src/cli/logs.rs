//! `logs`: a container's log records, printed or followed.

use super::{daemon, open, parse_time_arg, Failure, Result};
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Number of lines to show from the end of the logs.
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show logs since timestamp (RFC 3339) or relative (42m).
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp (RFC 3339) or relative (42m).
    #[arg(long)]
    until: Option<String>,
    /// Show timestamps.
    #[arg(short = 't', long)]
    timestamps: bool,
    container: String,
}

pub fn logs(root: &Path, runroot: &Path, a: LogsArgs) -> Result {
    use std::io::Write;
    let e = open(root, runroot)?;
    let time = |v: &Option<String>| v.as_deref().map(parse_time_arg).transpose();
    let o = skiff_engine::logs::LogOptions {
        since: time(&a.since).map_err(Failure::from)?,
        until: time(&a.until).map_err(Failure::from)?,
        // What is not a number means all, as Docker's daemon reads it.
        tail: a.tail.parse().ok(),
        follow: a.follow,
    };
    let mut out = std::io::stdout().lock();
    let mut sink = |r: &skiff_engine::logs::Record| {
        let line = if a.timestamps {
            format!("{} {}", r.time, r.data)
        } else {
            r.data.clone()
        };
        let ok = if r.stream == 2 {
            let _ = out.flush();
            std::io::stderr().write_all(line.as_bytes()).is_ok()
        } else {
            out.write_all(line.as_bytes()).is_ok()
        };
        if a.follow {
            let _ = out.flush();
        }
        ok
    };
    e.logs(
        &a.container,
        &o,
        &skiff_engine::notify::Cancel::new(),
        &mut sink,
    )
    .map_err(daemon(1))?;
    let _ = out.flush();
    Ok(())
}
