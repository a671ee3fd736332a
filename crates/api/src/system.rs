//! `/_ping`, `/version`, `/info`.

use crate::http::Response;
use crate::{engine, Answer, API_VERSION, MIN_API_VERSION};
use serde_json::json;
use skiff_engine::Engine;

pub fn ping() -> Response {
    let mut r = Response::text(200, "OK");
    r.headers.push((
        "Cache-Control".into(),
        "no-cache, no-store, must-revalidate".into(),
    ));
    r.headers.push(("Pragma".into(), "no-cache".into()));
    r.headers.push(("Builder-Version".into(), "1".into()));
    r
}

pub fn version(e: &Engine) -> Answer {
    let info = engine(e.info())?;
    let version = env!("CARGO_PKG_VERSION");
    let arch = match info.architecture.as_str() {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    Ok(Response::json(
        200,
        &json!({
            "Platform": {"Name": "skiff"},
            "Components": [{
                "Name": "Engine",
                "Version": version,
                "Details": {
                    "ApiVersion": API_VERSION,
                    "Arch": arch,
                    "KernelVersion": info.kernel_version,
                    "MinAPIVersion": MIN_API_VERSION,
                    "Os": "linux",
                },
            }],
            "Version": version,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "",
            "Os": "linux",
            "Arch": arch,
            "KernelVersion": info.kernel_version,
            "BuildTime": "",
        }),
    ))
}

pub fn info(e: &Engine) -> Answer {
    let info = engine(e.info())?;
    let mut v = serde_json::to_value(&info).expect("info serializes");
    v["ID"] = json!(info.name);
    Ok(Response::json(200, &v))
}

/// `GET /events`: what was recorded since `since` (nothing before now
/// without it), then each event as it is recorded, until `until` passes or
/// the client goes; one JSON object per line.
pub fn events(e: &std::sync::Arc<Engine>, req: &crate::http::Request) -> Answer {
    let time = |k: &str| crate::query_time(req, k);
    let filters = crate::filters(req)?;
    let o = skiff_engine::events::EventOptions {
        since: time("since")?,
        until: time("until")?,
        filters,
    };
    engine(o.check())?;
    let e = e.clone();
    Ok(Response::stream("application/json", move |out| {
        let (cancel, _watch) = crate::hangup::watch(&e, out.peer());
        let mut failed = None;
        let mut sink = |ev: &skiff_engine::store::Event| {
            let mut line = serde_json::to_vec(&skiff_engine::events::api_json(ev)).expect("JSON");
            line.push(b'\n');
            match out.send(&line) {
                Ok(()) => true,
                Err(err) => {
                    failed = Some(err);
                    false
                }
            }
        };
        let _ = e.subscribe(&o, &cancel, &mut sink);
        failed.map_or(Ok(()), Err)
    }))
}

/// `GET /system/df`: each image, container, volume and build cache entry
/// with its share, from which the docker CLI adds up its rows as the
/// engine's own `system df` does.
pub fn df(e: &Engine) -> Answer {
    let d = engine(e.disk_usage_detail())?;
    let list = engine(e.image_list(None))?;
    let images: Vec<serde_json::Value> = d
        .images
        .iter()
        .map(|i| {
            let info = list.iter().find(|l| l.id.to_string() == i.id);
            let tags: Vec<String> = info
                .map(|l| {
                    l.repo_tags
                        .iter()
                        .filter(|(_, t)| t != "<none>")
                        .map(|(r, t)| format!("{r}:{t}"))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "Id": i.id, "ParentId": "", "RepoTags": tags, "RepoDigests": [],
                "Created": info.map_or(0, |l| crate::images::unix_seconds(&l.created)),
                "Size": i.size, "SharedSize": i.shared, "VirtualSize": i.size,
                "Labels": {}, "Containers": i.containers,
            })
        })
        .collect();
    let containers: Vec<serde_json::Value> = d
        .containers
        .iter()
        .map(|(c, size)| {
            json!({
                "Id": c.id, "Names": [format!("/{}", c.name)], "Image": c.config.image,
                "ImageID": c.image_id, "Command": skiff_engine::container::command_text(c),
                "Created": crate::images::unix_seconds(&c.created), "SizeRw": size,
                "SizeRootFs": size, "Labels": c.config.labels, "State": c.state.status.as_str(),
                "Status": skiff_engine::container::status_text(c), "Mounts": [],
            })
        })
        .collect();
    let volumes: Vec<serde_json::Value> = d
        .volumes
        .iter()
        .map(|(v, size, users)| {
            let mut j = e.volume_inspect(v);
            j["UsageData"] = json!({"Size": size, "RefCount": users});
            j
        })
        .collect();
    let cache: Vec<serde_json::Value> = d
        .build_cache
        .iter()
        .map(|c| {
            json!({
                "ID": &c.key.trim_start_matches("sha256:")[..12.min(c.key.len())], "Parent": "",
                "Type": "regular", "Description": "", "InUse": c.in_use, "Shared": false,
                "Size": c.size, "CreatedAt": c.created, "LastUsedAt": c.last_used, "UsageCount": 1,
            })
        })
        .collect();
    Ok(Response::json(
        200,
        &json!({
            "LayersSize": d.layers_size,
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": cache,
        }),
    ))
}

/// `POST /auth`: the credentials checked against the registry (nothing
/// kept: the client keeps them), as dockerd answers.
pub fn auth(e: &Engine, req: &crate::http::Request) -> Answer {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Body {
        username: String,
        password: String,
        serveraddress: String,
    }
    let b: Body = crate::body(req)?;
    let server = Some(b.serveraddress.as_str()).filter(|s| !s.is_empty());
    engine(e.check_login(server, &b.username, &b.password, true))?;
    Ok(Response::json(
        200,
        &json!({"Status": "Login Succeeded", "IdentityToken": ""}),
    ))
}
