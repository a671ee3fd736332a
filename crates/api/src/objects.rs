//! `/volumes/...` and `/networks/...`: create, list (with filters),
//! inspect, remove, prune; networks' connect and disconnect.

use crate::http::{Request, Response};
use crate::{body, engine, message, Answer};
use serde::Deserialize;
use serde_json::json;
use skiff_engine::Engine;
use std::collections::BTreeMap;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct VolumeBody {
    name: Option<String>,
    driver: Option<String>,
    labels: Option<BTreeMap<String, String>>,
}

pub fn volume_create(e: &Engine, req: &Request) -> Answer {
    let b: VolumeBody = body(req)?;
    if let Some(d) = b
        .driver
        .as_deref()
        .filter(|d| !d.is_empty() && *d != "local")
    {
        return Err(message(
            400,
            &format!("volume driver {d:?} is not supported: local only"),
        ));
    }
    let name = b.name.filter(|n| !n.is_empty());
    let v = engine(e.volume_create(name.as_deref(), b.labels.unwrap_or_default(), false))?;
    Ok(Response::json(201, &e.volume_inspect(&v)))
}

pub fn volume_list(e: &Engine, req: &Request) -> Answer {
    let list = engine(e.volumes(&crate::filters(req)?))?;
    let vols: Vec<serde_json::Value> = list.iter().map(|v| e.volume_inspect(v)).collect();
    Ok(Response::json(
        200,
        &json!({"Volumes": vols, "Warnings": null}),
    ))
}

pub fn volume_inspect(e: &Engine, name: &str) -> Answer {
    match engine(e.volume_get(name))? {
        Some(v) => Ok(Response::json(200, &e.volume_inspect(&v))),
        None => Err(message(404, &format!("get {name}: no such volume"))),
    }
}

pub fn volume_remove(e: &Engine, name: &str, req: &Request) -> Answer {
    engine(e.volume_remove(name, req.flag("force")))?;
    Ok(Response::empty(204))
}

pub fn volume_prune(e: &Engine) -> Answer {
    let (names, bytes) = engine(e.volume_prune())?;
    Ok(Response::json(
        200,
        &json!({"VolumesDeleted": names, "SpaceReclaimed": bytes}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NetworkBody {
    name: Option<String>,
    driver: Option<String>,
    internal: Option<bool>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "IPAM")]
    ipam: Option<IpamBody>,
    check_duplicate: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct IpamBody {
    config: Option<Vec<IpamConfig>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct IpamConfig {
    subnet: Option<String>,
    gateway: Option<String>,
}

pub fn network_create(e: &Engine, req: &Request) -> Answer {
    let b: NetworkBody = body(req)?;
    let name = b
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| message(400, "network name is required"))?;
    let _ = b.check_duplicate;
    let cfg = b
        .ipam
        .and_then(|i| i.config)
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_default();
    let o = skiff_engine::network::CreateNetwork {
        driver: b.driver.filter(|d| !d.is_empty()),
        subnet: cfg.subnet.filter(|s| !s.is_empty()),
        gateway: cfg.gateway.filter(|s| !s.is_empty()),
        internal: b.internal.unwrap_or(false),
        labels: b.labels.unwrap_or_default(),
    };
    let n = engine(e.network_create(&name, &o))?;
    Ok(Response::json(201, &json!({"Id": n.id, "Warning": ""})))
}

pub fn network_list(e: &Engine, req: &Request) -> Answer {
    let list = engine(e.networks(&crate::filters(req)?))?;
    let mut out = Vec::new();
    for n in &list {
        out.push(engine(e.network_inspect(n))?);
    }
    Ok(Response::json(200, &json!(out)))
}

pub fn network_inspect(e: &Engine, what: &str) -> Answer {
    let n = engine(e.network_find(what))?;
    Ok(Response::json(200, &engine(e.network_inspect(&n))?))
}

pub fn network_remove(e: &Engine, what: &str) -> Answer {
    engine(e.network_remove(what))?;
    Ok(Response::empty(204))
}

pub fn network_prune(e: &Engine) -> Answer {
    let names = engine(e.network_prune())?;
    Ok(Response::json(200, &json!({"NetworksDeleted": names})))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectBody {
    container: Option<String>,
    endpoint_config: Option<EndpointBody>,
    force: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct EndpointBody {
    aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<EndpointIpam>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EndpointIpam {
    #[serde(rename = "IPv4Address")]
    ipv4: Option<String>,
}

pub fn network_connect(e: &Engine, net: &str, req: &Request) -> Answer {
    let b: ConnectBody = body(req)?;
    let c = b
        .container
        .ok_or_else(|| message(400, "a container is required"))?;
    let ep = b.endpoint_config.unwrap_or_default();
    let ip = ep
        .ipam_config
        .and_then(|i| i.ipv4)
        .filter(|s| !s.is_empty());
    engine(e.network_connect(net, &c, &ep.aliases.unwrap_or_default(), ip.as_deref()))?;
    Ok(Response::empty(200))
}

pub fn network_disconnect(e: &Engine, net: &str, req: &Request) -> Answer {
    let b: ConnectBody = body(req)?;
    let _ = b.force;
    let c = b
        .container
        .ok_or_else(|| message(400, "a container is required"))?;
    engine(e.network_disconnect(net, &c))?;
    Ok(Response::empty(200))
}
