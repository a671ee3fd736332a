//! `skiff kube ...`: kubectl's commands, flags, output and exit codes over
//! the Kubernetes objects in skiff's store (the `skiff-kube` crate).

mod apply;
mod generate;
mod get;
mod output;
mod pods;
mod rollout;
mod top;
pub(crate) use rollout::duration;

use super::{open, Failure, Result};
use skiff_kube::{Cluster, Error, Kind};
use std::path::Path;

#[derive(clap::Subcommand, Debug)]
#[command(defer = true)]
pub enum KubeCmd {
    /// Apply a configuration to a resource by file name or stdin.
    Apply(apply::ApplyArgs),
    /// Create a resource from a file or from stdin.
    Create(generate::CreateArgs),
    /// Run a particular image in a pod.
    Run(generate::RunArgs),
    /// Take a deployment, replica set, pod or service and expose it as a new Kubernetes service.
    Expose(generate::ExposeArgs),
    /// Display one or many resources.
    Get(get::GetArgs),
    /// Show details of a specific resource or group of resources.
    Describe(get::DescribeArgs),
    /// Delete resources by file names, stdin, resources and names, or by resources and label selector.
    Delete(apply::DeleteArgs),
    /// Print the logs for a container in a pod.
    Logs(pods::LogsArgs),
    /// Execute a command in a container.
    Exec(pods::ExecArgs),
    /// Manage the rollout of a resource.
    #[command(subcommand)]
    Rollout(rollout::RolloutCmd),
    /// Set a new size for a deployment or replica set.
    Scale(rollout::ScaleArgs),
    /// Display resource (CPU/memory) usage.
    #[command(subcommand)]
    Top(top::TopCmd),
}

pub fn kube(root: &Path, runroot: &Path, c: KubeCmd) -> Result {
    let engine = open(root, runroot)?;
    let cluster = Cluster::new(&engine);
    if let KubeCmd::Apply(a) = &c {
        apply::check(a)?;
    }
    // What changes objects needs the controllers to act on them.
    if matches!(
        c,
        KubeCmd::Apply(_)
            | KubeCmd::Create(_)
            | KubeCmd::Run(_)
            | KubeCmd::Expose(_)
            | KubeCmd::Delete(_)
            | KubeCmd::Rollout(_)
            | KubeCmd::Scale(_)
    ) {
        super::serve::ensure_running(root, runroot).map_err(usage)?;
    }
    match c {
        KubeCmd::Apply(a) => apply::apply(&cluster, a),
        KubeCmd::Create(a) => generate::create(&cluster, a),
        KubeCmd::Run(a) => generate::run(&cluster, a),
        KubeCmd::Expose(a) => generate::expose(&cluster, a),
        KubeCmd::Get(a) => get::get(&cluster, a),
        KubeCmd::Describe(a) => get::describe(&cluster, a),
        KubeCmd::Delete(a) => apply::delete(&cluster, a),
        KubeCmd::Logs(a) => pods::logs(&cluster, root, runroot, a),
        KubeCmd::Exec(a) => pods::exec(&cluster, root, runroot, a),
        KubeCmd::Rollout(r) => rollout::rollout(&cluster, r),
        KubeCmd::Scale(a) => rollout::scale(&cluster, a),
        KubeCmd::Top(t) => top::top(&cluster, t),
    }
}

/// kubectl's global `-n/--namespace` given before the command (`kube -n
/// NS get pods`): moved after the command's words (before a `--`), where
/// each command takes it, or dropped for a command without a namespace
/// (kubectl ignores it there). `cli` is built only when there is one.
pub fn hoist_global_flags(argv: Vec<String>, cli: impl FnOnce() -> clap::Command) -> Vec<String> {
    // The command's word: the first past skiff's own --root and --runroot.
    let mut k = 1;
    while let Some(a) = argv.get(k) {
        match a.as_str() {
            "--root" | "--runroot" => k += 2,
            a if a.starts_with("--root=") || a.starts_with("--runroot=") => k += 1,
            _ => break,
        }
    }
    if argv.get(k).map(String::as_str) != Some("kube") {
        return argv;
    }
    let mut flags = Vec::new();
    let mut i = k + 1;
    while let Some(a) = argv.get(i) {
        let inline = a
            .strip_prefix("--namespace=")
            .or_else(|| {
                a.strip_prefix("-n")
                    .filter(|v| !v.is_empty() && !v.starts_with('-'))
            })
            .map(|v| v.strip_prefix('=').unwrap_or(v));
        match (a.as_str(), inline, argv.get(i + 1)) {
            (_, Some(v), _) => {
                flags.push(format!("--namespace={v}"));
                i += 1;
            }
            ("-n" | "--namespace", None, Some(v)) => {
                flags.push(format!("--namespace={v}"));
                i += 2;
            }
            _ => break,
        }
    }
    if flags.is_empty() {
        return argv;
    }
    let mut rest = argv[i..].to_vec();
    // Built whole: the commands' flags are deferred until built.
    let mut cli = cli();
    cli.build();
    let mut cmd = cli.find_subcommand("kube");
    for w in &rest {
        match cmd.and_then(|c| c.find_subcommand(w)) {
            Some(sub) => cmd = Some(sub),
            None => break,
        }
    }
    if cmd.is_some_and(|c| c.get_arguments().any(|a| a.get_long() == Some("namespace"))) {
        let at = rest.iter().position(|a| a == "--").unwrap_or(rest.len());
        rest.splice(at..at, flags);
    }
    let mut out = argv[..=k].to_vec();
    out.extend(rest);
    out
}

/// A kube error as kubectl prints it: `Error from server (Reason): ...` for
/// what the API server would have refused, `error: ...` for the rest.
pub(crate) fn failure(e: Error) -> Failure {
    Failure {
        code: 1,
        msg: message(&e),
    }
}

pub(crate) fn message(e: &Error) -> String {
    match e.reason() {
        Some(r) => format!("Error from server ({r}): {e}"),
        None => format!("error: {e}"),
    }
}

/// A command-line mistake, as kubectl words it.
pub(crate) fn usage(msg: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        msg: format!("error: {msg}"),
    }
}

/// `-l`'s selector, parsed.
pub(crate) fn selector(s: Option<&str>) -> Result<Option<skiff_kube::selector::Selector>> {
    s.map(skiff_kube::selector::Selector::parse)
        .transpose()
        .map_err(usage)
}

/// The kinds a command-line word names (`pods`, `deploy,svc`); `all` is
/// kubectl's set of workload kinds.
pub(crate) fn kinds(word: &str) -> Result<Vec<Kind>> {
    let mut out = Vec::new();
    for w in word.split(',') {
        if w == "all" {
            out.extend([
                Kind::Pod,
                Kind::Service,
                Kind::Deployment,
                Kind::ReplicaSet,
                Kind::Job,
                Kind::HorizontalPodAutoscaler,
            ]);
            continue;
        }
        out.push(Kind::resolve(w).ok_or_else(|| failure(Error::NoResourceType(w.to_string())))?);
    }
    Ok(out)
}
