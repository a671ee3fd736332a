//! `network` and `port`: Docker's network commands on skiff's networks.

use super::{
    confirm, daemon, open, parse_labels, parse_port_number, print_deleted, print_documents,
    Failure, Result,
};
use crate::output::format;
use std::path::Path;

#[derive(clap::Subcommand, Debug)]
#[command(defer = true)]
pub enum NetworkCmd {
    /// Create a network.
    Create {
        /// Driver to manage the Network.
        #[arg(short = 'd', long)]
        driver: Option<String>,
        /// Subnet in CIDR format that represents a network segment.
        #[arg(long)]
        subnet: Option<String>,
        /// IPv4 Gateway for the master subnet.
        #[arg(long)]
        gateway: Option<String>,
        /// Restrict external access to the network.
        #[arg(long)]
        internal: bool,
        /// Set metadata on a network.
        #[arg(long = "label")]
        label: Vec<String>,
        name: String,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls {
        /// Only display network IDs.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Provide filter values (name=, id=, driver=, label=).
        #[arg(short = 'f', long)]
        filter: Vec<String>,
        /// Pretty-print networks using a Go template.
        #[arg(long)]
        format: Option<String>,
        /// Do not truncate the output.
        #[arg(long = "no-trunc")]
        no_trunc: bool,
    },
    /// Display detailed information on one or more networks.
    Inspect {
        /// Format the output using a Go template.
        #[arg(short = 'f', long)]
        format: Option<String>,
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Connect a container to a network.
    Connect {
        /// Add network-scoped alias for the container.
        #[arg(long = "alias")]
        alias: Vec<String>,
        /// IPv4 address (e.g., 172.30.100.104).
        #[arg(long)]
        ip: Option<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect {
        /// Force the container to disconnect from a network.
        #[arg(short = 'f', long)]
        force: bool,
        network: String,
        container: String,
    },
    /// Remove all unused networks.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
}

pub fn network(root: &Path, runroot: &Path, c: NetworkCmd) -> Result {
    let e = open(root, runroot)?;
    match c {
        NetworkCmd::Create {
            driver,
            subnet,
            gateway,
            internal,
            label,
            name,
        } => {
            let labels = parse_labels(&label);
            // Docker's client checks the gateway against the subnet itself.
            if let (Some(s), Some(g)) = (&subnet, &gateway) {
                let inside = skiff_engine::network::parse_cidr(s)
                    .zip(g.parse::<std::net::Ipv4Addr>().ok())
                    .is_none_or(|(net, ip)| skiff_engine::network::contains(net, ip));
                if !inside {
                    return Err(Failure {
                        code: 1,
                        msg: format!("no matching subnet for gateway {g}"),
                    });
                }
            }
            let n = e
                .network_create(
                    &name,
                    &skiff_engine::network::CreateNetwork {
                        driver,
                        subnet,
                        gateway,
                        internal,
                        labels,
                    },
                )
                .map_err(daemon(1))?;
            println!("{}", n.id);
        }
        NetworkCmd::Ls {
            quiet,
            filter,
            format,
            no_trunc,
        } => {
            let filters = skiff_engine::filters::Filters::parse(&filter).map_err(daemon(1))?;
            let mut list = e.networks(&filters).map_err(daemon(1))?;
            list.sort_by(|a, b| a.name.cmp(&b.name));
            let id = |n: &skiff_engine::network::Network| {
                if no_trunc {
                    n.id.clone()
                } else {
                    n.id[..12].to_string()
                }
            };
            if quiet {
                for n in &list {
                    println!("{}", id(n));
                }
                return Ok(());
            }
            let rows: Vec<format::Fields> = list
                .iter()
                .map(|n| {
                    vec![
                        ("ID", "NETWORK ID", id(n)),
                        ("Name", "NAME", n.name.clone()),
                        ("Driver", "DRIVER", n.driver.clone()),
                        ("Scope", "SCOPE", "local".to_string()),
                        ("IPv6", "IPV6", "false".to_string()),
                        ("Internal", "INTERNAL", n.internal.to_string()),
                        (
                            "Labels",
                            "LABELS",
                            n.labels
                                .iter()
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        ("CreatedAt", "CREATED AT", n.created.clone()),
                    ]
                })
                .collect();
            let fmt = format
                .unwrap_or_else(|| "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}".into());
            print!(
                "{}",
                format::render_rows(&fmt, &rows).map_err(Failure::from)?
            );
        }
        NetworkCmd::Inspect { format, networks } => {
            let mut out = Vec::new();
            let mut failed = false;
            for n in &networks {
                match e.network_find(n) {
                    Ok(net) => out.push(e.network_inspect(&net).map_err(daemon(1))?),
                    Err(_) => {
                        eprintln!("Error: No such network: {n}");
                        failed = true;
                    }
                }
            }
            print_documents(&out, format.as_deref(), failed)?;
        }
        NetworkCmd::Rm { networks } => {
            let mut failed = false;
            for n in &networks {
                match e.network_remove(n) {
                    Ok(_) => println!("{n}"),
                    Err(err) => {
                        if err.kind() == skiff_engine::ErrorKind::NotFound {
                            eprintln!("Error: No such network: {n}");
                        } else {
                            eprintln!("Error response from daemon: {err}");
                        }
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
        NetworkCmd::Connect {
            alias,
            ip,
            network,
            container,
        } => e
            .network_connect(&network, &container, &alias, ip.as_deref())
            .map_err(daemon(1))?,
        NetworkCmd::Disconnect {
            force: _,
            network,
            container,
        } => e
            .network_disconnect(&network, &container)
            .map_err(daemon(1))?,
        NetworkCmd::Prune { force } => {
            if !force
                && !confirm(
                    "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?",
                )
            {
                return Ok(());
            }
            let gone = e.network_prune().map_err(daemon(1))?;
            print_deleted("Networks", &gone);
        }
    }
    Ok(())
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`.
pub fn port(root: &Path, runroot: &Path, container: &str, which: Option<&str>) -> Result {
    let e = open(root, runroot)?;
    let c = e.find(container).map_err(daemon(1))?;
    let published = e.published(&c.id).map_err(daemon(1))?;
    match which {
        Some(w) => {
            // As Docker 20.10: the number must parse; an unknown protocol
            // simply has nothing published.
            let (num, proto) = w.split_once('/').unwrap_or((w, "tcp"));
            let port = parse_port_number(num).map_err(|msg| Failure { code: 1, msg })?;
            let mine: Vec<_> = published
                .iter()
                .filter(|p| p.port == port && p.proto == proto)
                .collect();
            if mine.is_empty() {
                return Err(Failure {
                    code: 1,
                    msg: format!(
                        "Error: No public port '{port}/{proto}' published for {container}"
                    ),
                });
            }
            for p in mine {
                println!("{}:{}", p.host_ip, p.host_port);
            }
        }
        None => {
            for p in &published {
                println!("{}/{} -> {}:{}", p.port, p.proto, p.host_ip, p.host_port);
            }
        }
    }
    Ok(())
}
