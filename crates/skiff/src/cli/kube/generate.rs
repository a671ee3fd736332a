//! kubectl's imperative commands: `create -f` and `create namespace|
//! deployment|job|configmap|secret generic NAME`, `create service
//! clusterip|nodeport|loadbalancer NAME`, `run`, `expose`. Each makes
//! its object with the kube crate's generators and writes it as `create
//! -f` would.

use super::apply::{write, ApplyArgs};
use super::{failure, kinds, usage, Result};
use skiff_kube::generate::{self, Expose, Run};
use skiff_kube::{manifest, Cluster, Mode};

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// `namespace NAME`, `deployment NAME`, `configmap NAME`, `secret
    /// generic NAME` (instead of -f).
    what: Vec<String>,
    #[command(flatten)]
    files: ApplyArgs,
    /// deployment: the image(s) of its containers.
    #[arg(long)]
    image: Vec<String>,
    /// deployment: how many pods.
    #[arg(long, default_value_t = 1)]
    replicas: i32,
    /// deployment: the port the containers expose.
    #[arg(long)]
    port: Option<i32>,
    /// configmap, secret: a key and its value (KEY=VALUE).
    #[arg(long = "from-literal")]
    from_literal: Vec<String>,
    /// configmap, secret: a file as a key ([KEY=]PATH; the key is the file's name).
    #[arg(long = "from-file")]
    from_file: Vec<String>,
    /// secret: its type.
    #[arg(long = "type")]
    type_: Option<String>,
    /// service: a port, PORT[:TARGET] (repeatable).
    #[arg(long)]
    tcp: Vec<String>,
    /// service nodeport: the node port.
    #[arg(long = "node-port")]
    node_port: Option<i32>,
    /// service clusterip: its cluster IP (None: headless).
    #[arg(long = "clusterip")]
    cluster_ip: Option<String>,
    /// job: its command (after --).
    #[arg(last = true)]
    command: Vec<String>,
}

/// `create -f FILE`, or one of kubectl's generators by name.
pub fn create(c: &Cluster<'_>, a: CreateArgs) -> Result {
    let f = &a.files;
    let what: Vec<&str> = a.what.iter().map(String::as_str).collect();
    let doc = match (what.as_slice(), f.filename.is_empty()) {
        ([], false) => {
            let docs = manifest::read(&f.filename, f.recursive).map_err(failure)?;
            return write(c, &docs, f.namespace.as_deref(), Mode::Create, None);
        }
        ([], true) => return Err(usage("must specify one of -f and -k")),
        (["namespace" | "ns", name], true) => generate::namespace(name),
        (["deployment" | "deploy", name], true) => {
            generate::deployment(name, &a.image, a.replicas, a.port).map_err(failure)?
        }
        (["job", name], true) => {
            generate::job(name, a.image.first().map(String::as_str), &a.command)
                .map_err(failure)?
        }
        (["service" | "svc", type_, name], true) => {
            generate::created_service(&generate::CreateService {
                type_: type_.to_string(),
                name: name.to_string(),
                tcp: a.tcp.clone(),
                node_port: a.node_port,
                cluster_ip: a.cluster_ip.clone(),
            })
            .map_err(failure)?
        }
        (["configmap" | "cm", name], true) => {
            generate::config_map(name, &a.from_literal, &a.from_file).map_err(failure)?
        }
        (["secret", "generic", name], true) => generate::secret(
            name,
            &a.from_literal,
            &a.from_file,
            a.type_.as_deref(),
        )
        .map_err(failure)?,
        ([kind, ..], _)
            if !matches!(
                *kind,
                "namespace"
                    | "ns"
                    | "deployment"
                    | "deploy"
                    | "job"
                    | "service"
                    | "svc"
                    | "configmap"
                    | "cm"
                    | "secret"
            ) =>
        {
            return Err(usage(format!(
                "unknown command \"{kind}\" for \"skiff kube create\" (by name: namespace, deployment, job, service clusterip|nodeport|loadbalancer, configmap, secret generic; other kinds from files with -f)"
            )))
        }
        _ => return Err(usage("exactly one NAME is required, got more or none")),
    };
    write(c, &[doc], f.namespace.as_deref(), Mode::Create, None)
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The pod's name.
    name: String,
    /// The image of its container.
    #[arg(long)]
    image: String,
    /// Labels (a=b,c=d) instead of run=NAME.
    #[arg(short = 'l', long)]
    labels: Option<String>,
    /// Environment variables (KEY=VALUE).
    #[arg(long)]
    env: Vec<String>,
    /// The port the container exposes.
    #[arg(long)]
    port: Option<i32>,
    /// The pod's restart policy: Always, OnFailure or Never.
    #[arg(long, default_value = "Always")]
    restart: String,
    /// The arguments after -- are the command, not the image's arguments.
    #[arg(long)]
    command: bool,
    /// The container's image pull policy.
    #[arg(long = "image-pull-policy")]
    image_pull_policy: Option<String>,
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// The container's arguments (or command, with --command).
    #[arg(last = true)]
    args: Vec<String>,
}

/// `kube run NAME --image=IMG [-- ARGS]`: one pod.
pub fn run(c: &Cluster<'_>, a: RunArgs) -> Result {
    let doc = generate::pod(&Run {
        name: a.name,
        image: a.image,
        labels: a.labels,
        env: a.env,
        port: a.port,
        restart: a.restart,
        command: a.command,
        args: a.args,
        image_pull_policy: a.image_pull_policy,
    })
    .map_err(failure)?;
    write(c, &[doc], a.namespace.as_deref(), Mode::Create, None)
}

#[derive(clap::Args, Debug)]
pub struct ExposeArgs {
    /// KIND NAME or KIND/NAME (a deployment, replicaset, pod or service).
    #[arg(required = true)]
    args: Vec<String>,
    /// The Service's port (else the object's first container port).
    #[arg(long)]
    port: Option<i32>,
    /// The port (number or name) on the pods (else the Service's port).
    #[arg(long = "target-port")]
    target_port: Option<String>,
    /// The Service's name (else the object's).
    #[arg(long)]
    name: Option<String>,
    /// ClusterIP, NodePort or LoadBalancer.
    #[arg(long = "type")]
    type_: Option<String>,
    #[arg(long)]
    protocol: Option<String>,
    #[arg(short = 'n', long)]
    namespace: Option<String>,
}

/// `kube expose deployment NAME --port P`: a Service over its pods.
pub fn expose(c: &Cluster<'_>, a: ExposeArgs) -> Result {
    let (kind, name) = match a.args.as_slice() {
        [one] => one
            .split_once('/')
            .map(|(k, n)| (k.to_string(), n.to_string()))
            .ok_or_else(|| {
                usage("you must provide one or more resources by argument or filename")
            })?,
        [k, n] => (k.clone(), n.clone()),
        _ => return Err(usage("expose takes KIND NAME or KIND/NAME")),
    };
    let kind = kinds(&kind)?
        .into_iter()
        .next()
        .ok_or_else(|| usage("a kind is required"))?;
    let namespace = a.namespace.clone().unwrap_or_else(|| "default".into());
    let doc = generate::service(
        c,
        &Expose {
            kind,
            name,
            namespace,
            service_name: a.name,
            port: a.port,
            target_port: a.target_port,
            protocol: a.protocol,
            type_: a.type_,
        },
    )
    .map_err(failure)?;
    write(
        c,
        &[doc],
        a.namespace.as_deref(),
        Mode::Create,
        Some("exposed"),
    )
}
