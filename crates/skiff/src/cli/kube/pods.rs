//! `kube logs` and `kube exec`: the pod's container found by the kubelet's
//! labels, then the same code as `skiff logs`/`skiff exec` on it.

use super::{failure, Result};
use clap::Parser;
use skiff_kube::Cluster;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// POD or pod/POD.
    pod: String,
    /// The container (the pod's first when omitted).
    #[arg(short = 'c', long)]
    container: Option<String>,
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Follow the log.
    #[arg(short = 'f', long)]
    follow: bool,
    /// The previous (terminated) attempt of the container.
    #[arg(short = 'p', long)]
    previous: bool,
    /// Lines from the end (-1: all).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    tail: i64,
    /// Prefix each line with its time.
    #[arg(long)]
    timestamps: bool,
    /// Only what was written within this duration (5s, 2m, 3h).
    #[arg(long)]
    since: Option<String>,
}

/// Another command's arguments, parsed from an argv made here.
#[derive(Parser)]
struct Argv<T: clap::Args> {
    #[command(flatten)]
    inner: T,
}

fn parse<T: clap::Args>(argv: Vec<String>) -> Result<T> {
    Argv::<T>::try_parse_from(argv)
        .map(|a| a.inner)
        .map_err(|e| super::usage(e.to_string()))
}

fn pod_name(p: &str) -> &str {
    p.strip_prefix("pod/")
        .or_else(|| p.strip_prefix("pods/"))
        .unwrap_or(p)
}

pub fn logs(c: &Cluster<'_>, root: &Path, runroot: &Path, a: LogsArgs) -> Result {
    let ns = a.namespace.as_deref().unwrap_or("default");
    let (id, note) = skiff_kube::kubelet::pod_container(
        c,
        ns,
        pod_name(&a.pod),
        a.container.as_deref(),
        a.previous,
    )
    .map_err(failure)?;
    if let Some(n) = note {
        eprintln!("{n}");
    }
    let tail = if a.tail < 0 {
        "all".to_string()
    } else {
        a.tail.to_string()
    };
    let mut argv = vec!["logs".to_string(), "--tail".into(), tail];
    if a.follow {
        argv.push("-f".into());
    }
    if a.timestamps {
        argv.push("-t".into());
    }
    if let Some(s) = a.since {
        argv.extend(["--since".into(), s]);
    }
    argv.push(id);
    let args: crate::cli::logs::LogsArgs = parse(argv)?;
    crate::cli::logs::logs(root, runroot, args)
}

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// POD or pod/POD.
    pod: String,
    #[arg(short = 'c', long)]
    container: Option<String>,
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Pass stdin to the container.
    #[arg(short = 'i', long)]
    stdin: bool,
    /// Stdin is a TTY.
    #[arg(short = 't', long)]
    tty: bool,
    /// The command, after `--`.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

pub fn exec(c: &Cluster<'_>, root: &Path, runroot: &Path, a: ExecArgs) -> Result {
    let ns = a.namespace.as_deref().unwrap_or("default");
    let (id, note) =
        skiff_kube::kubelet::pod_container(c, ns, pod_name(&a.pod), a.container.as_deref(), false)
            .map_err(failure)?;
    if let Some(n) = note {
        eprintln!("{n}");
    }
    let mut argv = vec!["exec".to_string()];
    if a.stdin {
        argv.push("-i".into());
    }
    if a.tty {
        argv.push("-t".into());
    }
    argv.push(id);
    argv.extend(a.command);
    let args: crate::cli::exec::ExecArgs = parse(argv)?;
    // kubectl exits with the command's status.
    crate::cli::exec::exec(root, runroot, args)
}
