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
