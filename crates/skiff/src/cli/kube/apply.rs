//! `kube apply -f` and `kube delete` (`create` is in generate.rs).

use super::{failure, kinds, message, selector, usage, Failure, Result};
use skiff_kube::manifest;
use skiff_kube::{Cascade, Cluster, DeleteOptions, Error, Kind, Mode};

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// The files (or directories, or `-` for stdin) that contain the configuration.
    #[arg(short = 'f', long = "filename")]
    pub(super) filename: Vec<String>,
    /// Process the directory used in -f recursively.
    #[arg(short = 'R', long)]
    pub(super) recursive: bool,
    /// The namespace objects without one go to.
    #[arg(short = 'n', long)]
    pub(super) namespace: Option<String>,
}

/// What `apply` refuses before anything runs (no serve is started for it).
pub fn check(a: &ApplyArgs) -> Result {
    if a.filename.is_empty() {
        return Err(usage("must specify one of -f and -k"));
    }
    Ok(())
}

/// Every document is decoded, validated and written in one transaction:
/// a bad one fails the command before anything is written (kubectl would
/// have applied the documents before it; half an application is what the
/// user then has to untangle).
pub fn apply(c: &Cluster<'_>, a: ApplyArgs) -> Result {
    check(&a)?;
    let docs = manifest::read(&a.filename, a.recursive).map_err(failure)?;
    write(c, &docs, a.namespace.as_deref(), Mode::Apply, None)
}

/// Decode the documents, write them in one transaction, say what each
/// became (or `said`, as `expose` says "exposed").
pub(super) fn write(
    c: &Cluster<'_>,
    docs: &[manifest::Document],
    ns: Option<&str>,
    mode: Mode,
    said: Option<&str>,
) -> Result {
    let manifests = manifest::decode_all(docs).map_err(failure)?;
    if manifests.is_empty() {
        return Err(Failure {
            code: 1,
            msg: "error: no objects passed to apply".into(),
        });
    }
    let applied = c.apply(&manifests, ns, mode).map_err(failure)?;
    for o in applied {
        let outcome = o.outcome.to_string();
        println!(
            "{}/{} {}",
            o.kind.resource(),
            o.name,
            said.unwrap_or(&outcome)
        );
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// KIND NAME..., KIND/NAME..., or KIND with -l or --all.
    args: Vec<String>,
    /// The files that name the objects to delete.
    #[arg(short = 'f', long = "filename")]
    filename: Vec<String>,
    #[arg(short = 'R', long)]
    recursive: bool,
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Delete the objects of the kind that match this label selector.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Delete every object of the kind in the namespace.
    #[arg(long)]
    all: bool,
    /// Treat "resource not found" as a successful delete.
    #[arg(long = "ignore-not-found")]
    ignore_not_found: bool,
    /// What happens to dependents: background (deleted too) or orphan.
    #[arg(long, default_value = "background")]
    cascade: String,
    /// Seconds given to a pod to stop.
    #[arg(long = "grace-period", default_value_t = -1)]
    grace_period: i64,
    /// Wait for the objects to be gone before returning.
    #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true")]
    wait: String,
    /// Immediate deletion (grace period 1).
    #[arg(long)]
    now: bool,
    /// Immediate deletion without waiting for the pods to stop.
    #[arg(long)]
    force: bool,
}

pub fn delete(c: &Cluster<'_>, a: DeleteArgs) -> Result {
    let cascade = match a.cascade.as_str() {
        "background" | "foreground" | "true" => Cascade::Background,
        "orphan" | "false" => Cascade::Orphan,
        other => {
            return Err(Failure {
                code: 1,
                msg: format!("error: invalid cascade value ({other}). Must be \"background\", \"foreground\", or \"orphan\""),
            })
        }
    };
    let ns = a.namespace.clone().unwrap_or_else(|| "default".into());
    // (kind, namespace, name, the file it came from)
    let mut targets: Vec<(Kind, String, String, Option<String>)> = Vec::new();
    if !a.filename.is_empty() {
        if !a.args.is_empty() {
            return Err(usage("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'skiff kube get resource/<resource_name>' instead of 'skiff kube get resource resource/<resource_name>'"));
        }
        let docs = manifest::read(&a.filename, a.recursive).map_err(failure)?;
        for m in manifest::decode_all(&docs).map_err(failure)? {
            let o = &m.object;
            let o_ns = if o.namespace().is_empty() {
                ns.clone()
            } else {
                o.namespace().to_string()
            };
            targets.push((o.kind(), o_ns, o.name().to_string(), Some(m.source.clone())));
        }
    } else {
        let Some(first) = a.args.first() else {
            return Err(usage("You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'"));
        };
        if first.contains('/') {
            for arg in &a.args {
                let (k, name) = arg
                    .split_once('/')
                    .ok_or_else(|| usage("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'skiff kube get resource/<resource_name>' instead of 'skiff kube get resource resource/<resource_name>'"))?;
                for kind in kinds(k)? {
                    targets.push((kind, ns.clone(), name.to_string(), None));
                }
            }
        } else {
            let ks = kinds(first)?;
            let names = &a.args[1..];
            if names.is_empty() && a.selector.is_none() && !a.all {
                return Err(usage(
                    "resource(s) were provided, but no name was specified",
                ));
            }
            if !names.is_empty() && (a.selector.is_some() || a.all) {
                return Err(usage(
                    "name cannot be provided when a selector is specified",
                ));
            }
            let sel = selector(a.selector.as_deref())?;
            for kind in ks {
                if names.is_empty() {
                    for o in c.list(kind, Some(&ns)).map_err(failure)? {
                        let labels = o.meta().labels.clone().unwrap_or_default();
                        if sel.as_ref().is_none_or(|s| s.matches(&labels)) {
                            targets.push((
                                kind,
                                o.namespace().to_string(),
                                o.name().to_string(),
                                None,
                            ));
                        }
                    }
                } else {
                    for n in names {
                        targets.push((kind, ns.clone(), n.clone(), None));
                    }
                }
            }
            if targets.is_empty() {
                eprintln!("No resources found");
                return Ok(());
            }
        }
    }
    let keys: Vec<_> = targets
        .iter()
        .map(|(k, ns, n, _)| (*k, ns.clone(), n.clone()))
        .collect();
    let grace = if a.force || a.grace_period == 0 {
        Some(0)
    } else if a.now {
        Some(1)
    } else {
        (a.grace_period > 0).then_some(a.grace_period)
    };
    let opts = DeleteOptions {
        cascade,
        grace_period: grace,
    };
    let found = c.delete(&keys, &opts).map_err(failure)?;
    let mut failed = false;
    for ((kind, _, name, file), there) in targets.into_iter().zip(found) {
        if there {
            println!("{} \"{name}\" deleted", kind.resource());
        } else if !a.ignore_not_found {
            failed = true;
            let context = file
                .map(|f| format!("error when deleting \"{f}\": "))
                .unwrap_or_default();
            let e = Error::NotFound {
                context,
                resource: kind.plural_resource(),
                name,
            };
            eprintln!("{}", message(&e));
        }
    }
    if a.wait != "false" {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        c.wait_deleted(&keys, &Default::default())
            .map_err(failure)?;
    }
    if failed {
        return Err(Failure {
            code: 1,
            msg: String::new(),
        });
    }
    Ok(())
}
