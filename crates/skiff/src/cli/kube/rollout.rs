//! `kube rollout status|history|undo|restart|pause|resume` and `kube scale`.

use super::{failure, kinds, usage, Result};
use skiff_kube::rollout::{self, State};
use skiff_kube::{Cluster, Kind};
use std::time::{Duration, Instant};

#[derive(clap::Subcommand, Debug)]
#[command(defer = true)]
pub enum RolloutCmd {
    /// Show the status of the rollout (watching until it is done).
    Status {
        target: String,
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// Watch until the rollout is done.
        #[arg(short = 'w', long, default_value = "true", num_args = 0..=1, default_missing_value = "true")]
        watch: String,
        /// Give up after this long (0s: never).
        #[arg(long, default_value = "0s")]
        timeout: String,
    },
    /// View rollout history.
    History {
        target: String,
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
    /// Undo a previous rollout.
    Undo {
        target: String,
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// The revision to roll back to (0: the previous one).
        #[arg(long = "to-revision", default_value_t = 0)]
        to_revision: i64,
    },
    /// Restart a resource (a new rollout of the same template).
    Restart {
        target: String,
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
    /// Mark the provided resource as paused.
    Pause {
        target: String,
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
    /// Resume a paused resource.
    Resume {
        target: String,
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
}

/// `deployment/web` (or `deploy/web`, `deployments.apps/web`): a Deployment's name.
fn deployment_name(target: &str) -> Result<String> {
    let (k, name) = target.split_once('/').ok_or_else(|| {
        usage(format!(
            "the resource {target:?} must be given as TYPE/NAME"
        ))
    })?;
    match kinds(k)?.as_slice() {
        [Kind::Deployment] => Ok(name.to_string()),
        _ => Err(usage(format!(
            "no rollout for {k}: only deployments roll out here"
        ))),
    }
}

/// A duration as kubectl takes it (`30s`, `5m`, `1h`, `0`).
pub(crate) fn duration(s: &str) -> Result<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = num
        .parse()
        .map_err(|_| usage(format!("invalid duration {s:?}")))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(usage(format!("invalid duration {s:?}"))),
    };
    Ok(Duration::from_secs_f64(secs))
}

pub fn rollout(c: &Cluster<'_>, cmd: RolloutCmd) -> Result {
    let ns_of = |n: &Option<String>| n.clone().unwrap_or_else(|| "default".into());
    match cmd {
        RolloutCmd::Status {
            target,
            namespace,
            watch,
            timeout,
        } => {
            let name = deployment_name(&target)?;
            let ns = ns_of(&namespace);
            let limit = duration(&timeout)?;
            let deadline = (!limit.is_zero()).then(|| Instant::now() + limit);
            let mut last = String::new();
            loop {
                let seen = c
                    .engine()
                    .objects_revision()
                    .map_err(|e| failure(e.into()))?;
                match rollout::status(c, &ns, &name).map_err(failure)? {
                    State::Done(m) => {
                        println!("{m}");
                        return Ok(());
                    }
                    State::Failed(m) => return Err(usage(m)),
                    State::Waiting(m) => {
                        if m != last {
                            println!("{m}");
                            last = m;
                        }
                    }
                }
                if watch == "false" {
                    return Ok(());
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(usage("timed out waiting for the condition"));
                }
                c.engine()
                    .objects_wait(seen, deadline, &Default::default())
                    .map_err(|e| failure(e.into()))?;
            }
        }
        RolloutCmd::History { target, namespace } => {
            let name = deployment_name(&target)?;
            let h = rollout::history(c, &ns_of(&namespace), &name).map_err(failure)?;
            println!("deployment.apps/{name} ");
            println!("REVISION  CHANGE-CAUSE");
            for (rev, cause) in h {
                println!("{rev:<10}{}", cause.unwrap_or_else(|| "<none>".into()));
            }
            println!();
            Ok(())
        }
        RolloutCmd::Undo {
            target,
            namespace,
            to_revision,
        } => {
            let name = deployment_name(&target)?;
            rollout::undo(c, &ns_of(&namespace), &name, to_revision).map_err(failure)?;
            println!("deployment.apps/{name} rolled back");
            Ok(())
        }
        RolloutCmd::Restart { target, namespace } => {
            let name = deployment_name(&target)?;
            rollout::restart(c, &ns_of(&namespace), &name).map_err(failure)?;
            println!("deployment.apps/{name} restarted");
            Ok(())
        }
        RolloutCmd::Pause { target, namespace } => {
            let name = deployment_name(&target)?;
            rollout::set_paused(c, &ns_of(&namespace), &name, true).map_err(failure)?;
            println!("deployment.apps/{name} paused");
            Ok(())
        }
        RolloutCmd::Resume { target, namespace } => {
            let name = deployment_name(&target)?;
            rollout::set_paused(c, &ns_of(&namespace), &name, false).map_err(failure)?;
            println!("deployment.apps/{name} resumed");
            Ok(())
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct ScaleArgs {
    /// KIND/NAME, or KIND NAME.
    #[arg(required = true)]
    args: Vec<String>,
    /// The new number of replicas.
    #[arg(long, required = true, allow_negative_numbers = true)]
    replicas: i32,
    #[arg(short = 'n', long)]
    namespace: Option<String>,
}

pub fn scale(c: &Cluster<'_>, a: ScaleArgs) -> Result {
    let ns = a.namespace.unwrap_or_else(|| "default".into());
    let targets: Vec<(String, String)> = match a.args.as_slice() {
        [one] if one.contains('/') => {
            let (k, n) = one.split_once('/').expect("checked");
            vec![(k.to_string(), n.to_string())]
        }
        [k, names @ ..] if !names.is_empty() => {
            names.iter().map(|n| (k.clone(), n.clone())).collect()
        }
        _ => {
            return Err(usage(
                "you must specify the resource to scale as TYPE/NAME or TYPE NAME",
            ))
        }
    };
    for (k, name) in targets {
        let kind = match kinds(&k)?.as_slice() {
            [kind] => *kind,
            _ => return Err(usage(format!("cannot scale {k}"))),
        };
        rollout::scale(c, kind, &ns, &name, a.replicas).map_err(failure)?;
        println!("{}/{name} scaled", kind.resource());
    }
    Ok(())
}
