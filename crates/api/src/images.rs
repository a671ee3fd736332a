//! `/images/json`, `/images/{name}/json`.

use crate::http::{Request, Response};
use crate::{engine, Answer};
use serde_json::json;
use skiff_engine::Engine;

/// Seconds since the epoch of an RFC 3339 time (0 when it does not parse).
pub(crate) fn unix_seconds(rfc3339: &str) -> i64 {
    skiff_engine::time::parse_rfc3339_nanos(rfc3339).map_or(0, |n| n / 1_000_000_000)
}

pub fn list(e: &Engine, req: &Request) -> Answer {
    let _ = req;
    let list = engine(e.image_list(None))?;
    let out: Vec<serde_json::Value> = list
        .iter()
        .map(|i| {
            let tags: Vec<String> = i
                .repo_tags
                .iter()
                .filter(|(_, t)| t != "<none>")
                .map(|(r, t)| format!("{r}:{t}"))
                .collect();
            json!({
                "Id": i.id.to_string(),
                "ParentId": "",
                "RepoTags": tags,
                "RepoDigests": [],
                "Created": unix_seconds(&i.created),
                "Size": i.size,
                "SharedSize": -1,
                "VirtualSize": i.size,
                "Labels": {},
                "Containers": -1,
            })
        })
        .collect();
    Ok(Response::json(200, &json!(out)))
}

pub fn inspect(e: &Engine, name: &str) -> Answer {
    let v = engine(e.image_inspect(name))?;
    Ok(Response::json(200, &v))
}
