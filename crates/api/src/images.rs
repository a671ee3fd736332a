//! `/images/json`, `/images/{name}/json`.

use crate::http::{Request, Response};
use crate::{engine, error_line, json_lines, line, message, Answer};
use serde_json::json;
use skiff_engine::Engine;
use std::sync::Arc;

/// Seconds since the epoch of an RFC 3339 time (0 when it does not parse).
pub(crate) fn unix_seconds(rfc3339: &str) -> i64 {
    skiff_engine::time::parse_rfc3339_nanos(rfc3339).map_or(0, |n| n / 1_000_000_000)
}

/// `GET /images/json?filters=`: `reference` (a repository, with its tag
/// when given; `docker images REPO` sends it) and `dangling`.
pub fn list(e: &Engine, req: &Request) -> Answer {
    let f = crate::filters(req)?;
    engine(f.check_keys(&["reference", "dangling"]))?;
    let reference = f.get("reference").first().map(String::as_str);
    let dangling = engine(f.bool_value("dangling"))?;
    let list = engine(e.image_list(reference))?;
    let out: Vec<serde_json::Value> = list
        .iter()
        .filter(|i| {
            let untagged = i.repo_tags.iter().all(|(_, t)| t == "<none>");
            dangling.is_none_or(|d| d == untagged)
        })
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

pub fn tag(e: &Engine, name: &str, req: &Request) -> Answer {
    let repo = req
        .query("repo")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| message(400, "repo is required"))?;
    let target = match req.query("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_string(),
    };
    engine(e.image_tag(name, &target))?;
    Ok(Response::empty(201))
}

pub fn remove(e: &Engine, name: &str, req: &Request) -> Answer {
    let removed = engine(e.image_remove(name, req.flag("force")))?;
    let out: Vec<serde_json::Value> = removed
        .iter()
        .map(|r| match r {
            skiff_image::service::Removed::Untagged(n) => json!({ "Untagged": n }),
            skiff_image::service::Removed::Deleted(d) => json!({ "Deleted": d.to_string() }),
        })
        .collect();
    Ok(Response::json(200, &json!(out)))
}

/// `POST /images/create?fromImage=NAME&tag=TAG`: a pull, its progress as
/// dockerd streams it (JSON lines per layer), an error as the last line.
pub fn create(e: &Arc<Engine>, req: &Request) -> Answer {
    let Some(from) = req.query("fromImage").filter(|f| !f.is_empty()) else {
        return Err(message(
            400,
            "fromImage is required (importing with fromSrc is not served)",
        ));
    };
    let reference = match req.query("tag").filter(|t| !t.is_empty()) {
        // A tag, or a digest (`tag=sha256:...`).
        Some(t) if t.contains(':') => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None => from.to_string(),
    };
    let credentials = registry_auth(req)?;
    let e = e.clone();
    Ok(json_lines(move |tx| {
        use skiff_image::pull::PullEvent as P;
        let short = |d: &skiff_image::digest::Digest| d.hex()[..12].to_string();
        let progress_tx = std::sync::Mutex::new(tx.clone());
        let fresh = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let fresh_set = fresh.clone();
        let progress = move |ev: P| {
            let v = match ev {
                P::Start { tag, repository } => {
                    json!({"status": format!("Pulling from {repository}"), "id": tag})
                }
                P::LayerWaiting(d) => {
                    json!({"status": "Pulling fs layer", "progressDetail": {}, "id": short(&d)})
                }
                P::LayerExists(d) => {
                    json!({"status": "Already exists", "progressDetail": {}, "id": short(&d)})
                }
                P::LayerBytes {
                    digest,
                    done,
                    total,
                } => json!({"status": "Downloading",
                    "progressDetail": {"current": done, "total": total}, "id": short(&digest)}),
                P::LayerDone(d) => {
                    json!({"status": "Pull complete", "progressDetail": {}, "id": short(&d)})
                }
                P::Digest(d) => json!({"status": format!("Digest: {d}")}),
                P::Finished { downloaded } => {
                    fresh_set.store(downloaded, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
            };
            let _ = progress_tx.lock().expect("progress").send(line(v));
        };
        let o = skiff_engine::images::PullOptions {
            progress: Arc::new(progress),
            credentials,
            ..Default::default()
        };
        let last = match e.pull(&reference, &o) {
            Ok((full, _)) => {
                let name = skiff_image::service::familiar(&full);
                match fresh.load(std::sync::atomic::Ordering::Relaxed) {
                    true => json!({"status": format!("Status: Downloaded newer image for {name}")}),
                    false => json!({"status": format!("Status: Image is up to date for {name}")}),
                }
            }
            Err(err) => {
                let _ = tx.send(error_line(&err.to_string()));
                return;
            }
        };
        let _ = tx.send(line(last));
    }))
}

pub fn history(e: &Engine, name: &str) -> Answer {
    let (id, lines) = engine(e.image_history(name))?;
    let out: Vec<serde_json::Value> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            // The newest step carries the image's ID, the others none.
            let id = if i == 0 {
                id.to_string()
            } else {
                "<missing>".to_string()
            };
            json!({"Id": id, "Created": unix_seconds(&l.created), "CreatedBy": l.created_by,
                "Tags": null, "Size": l.size, "Comment": l.comment})
        })
        .collect();
    Ok(Response::json(200, &json!(out)))
}

/// `POST /images/load`: a tar (docker-archive or OCI) read as it comes;
/// what was loaded, as dockerd's JSON lines.
pub fn load(e: &Engine, req: &Request, body: &mut dyn std::io::Read) -> Answer {
    let _ = req;
    let loaded = engine(e.image_load(body))?;
    let mut out = Vec::new();
    for (names, id) in loaded {
        if names.is_empty() {
            out.extend(line(json!({"stream": format!("Loaded image ID: {id}\n")})));
        }
        for n in names {
            let n = skiff_image::service::familiar(&n);
            out.extend(line(json!({"stream": format!("Loaded image: {n}\n")})));
        }
    }
    let mut r = Response::text(200, "");
    r.content_type = "application/json";
    r.body = crate::http::Body::Bytes(out);
    Ok(r)
}

/// `GET /images/get?names=...` and `GET /images/{name}/get`: the images
/// as a docker-archive tar, streamed.
pub fn get(e: &Arc<Engine>, names: Vec<String>) -> Answer {
    if names.is_empty() {
        return Err(message(400, "no image names given"));
    }
    // An image that is not there is a 404 before the tar starts.
    for n in &names {
        engine(e.image_inspect(n))?;
    }
    let e = e.clone();
    Ok(Response::stream("application/x-tar", move |out| {
        e.image_save(
            &names,
            skiff_engine::images::ArchiveFormat::DockerArchive,
            out,
        )
        .map_err(|err| std::io::Error::other(err.to_string()))
    }))
}

/// The credentials of an `X-Registry-Auth` header (base64url JSON with
/// `username` and `password`); None without one, or an empty one.
pub(crate) fn registry_auth(
    req: &Request,
) -> Result<Option<skiff_image::registry::Credentials>, Response> {
    use base64::Engine as _;
    let Some(h) = req.header("X-Registry-Auth").filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(h.trim_end_matches('='))
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h.trim_end_matches('='))
        })
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(h))
        .map_err(|_| message(400, "invalid X-Registry-Auth header"))?;
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Auth {
        username: String,
        password: String,
    }
    let a: Auth = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok((!a.username.is_empty())
        .then(|| skiff_image::registry::Credentials::basic(a.username, a.password)))
}

/// `POST /images/{name}/push?tag=`: the push's progress as dockerd's JSON
/// lines, the digest as `aux`, a failure as the last line's `error`.
pub fn push(e: &Arc<Engine>, name: &str, req: &Request) -> Answer {
    let reference = match req.query("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{name}:{t}"),
        None => name.to_string(),
    };
    // The image must be there (a 404 before the stream starts).
    engine(e.image_inspect(&reference))?;
    let creds = registry_auth(req)?;
    let e = e.clone();
    Ok(json_lines(move |tx| {
        use skiff_image::push::PushEvent as P;
        let short = |d: &skiff_image::digest::Digest| d.hex()[..12].to_string();
        let progress_tx = std::sync::Mutex::new(tx.clone());
        let progress = move |ev: P| {
            let v = match ev {
                P::Start { repository } => {
                    json!({"status": format!("The push refers to repository [{repository}]")})
                }
                P::BlobExists(d) => {
                    json!({"status": "Layer already exists", "progressDetail": {}, "id": short(&d)})
                }
                P::BlobMounted { digest, from } => {
                    json!({"status": format!("Mounted from {from}"), "progressDetail": {}, "id": short(&digest)})
                }
                P::BlobBytes {
                    digest,
                    done,
                    total,
                } => json!({"status": "Pushing",
                    "progressDetail": {"current": done, "total": total}, "id": short(&digest)}),
                P::BlobPushed(d) => {
                    json!({"status": "Pushed", "progressDetail": {}, "id": short(&d)})
                }
                P::Done { tag, digest, size } => {
                    let mut v =
                        line(json!({"status": format!("{tag}: digest: {digest} size: {size}")}));
                    v.extend(line(json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest.to_string(), "Size": size}})));
                    let _ = progress_tx.lock().expect("progress").send(v);
                    return;
                }
            };
            let _ = progress_tx.lock().expect("progress").send(line(v));
        };
        if let Err(err) = e.push(&reference, true, creds, Arc::new(progress)) {
            let _ = tx.send(error_line(&err.to_string()));
        }
    }))
}

/// `POST /images/create?fromSrc=-&repo=&tag=&message=&changes=`: a root file
/// system tar (the body; or at `fromSrc`, an http(s) URL), plain or
/// compressed, as an image, as `docker import` sends it.
pub fn import(e: &Engine, req: &Request, body: &mut dyn std::io::Read) -> Answer {
    let src = req.query("fromSrc").unwrap_or("-");
    let url = (src != "-").then_some(src);
    if url.is_some_and(|u| !u.starts_with("http://") && !u.starts_with("https://")) {
        return Err(message(
            400,
            &format!("import from {src}: not an http(s) URL"),
        ));
    }
    let name = req.repo_tag();
    let config = skiff_image::import::config_from_changes(&crate::containers::change_lines(req))
        .map_err(|e| message(400, &e))?;
    let o = skiff_image::import::ImportOptions {
        config,
        comment: req
            .query("message")
            .filter(|m| !m.is_empty())
            .map(String::from),
        ..Default::default()
    };
    let id = match url {
        Some(u) => engine(e.image_import_url(u, name.as_deref(), &o))?,
        None => engine(e.image_import(body, name.as_deref(), &o))?,
    };
    let mut r = Response::text(200, "");
    r.content_type = "application/json";
    r.body = crate::http::Body::Bytes(line(json!({ "status": id.to_string() })));
    Ok(r)
}

/// `POST /images/prune?filters=`: dangling images, or (`dangling=false`)
/// every image no container uses; what went and the bytes reclaimed.
pub fn prune(e: &Engine, req: &Request) -> Answer {
    let f = crate::filters(req)?;
    engine(f.check_keys(&["dangling"]))?;
    let all = engine(f.bool_value("dangling"))? == Some(false);
    let p = engine(e.image_prune(all))?;
    let deleted: Vec<serde_json::Value> = p
        .removed
        .iter()
        .map(|id| json!({ "Deleted": id }))
        .collect();
    Ok(Response::json(
        200,
        &json!({
            "ImagesDeleted": if deleted.is_empty() { serde_json::Value::Null } else { json!(deleted) },
            "SpaceReclaimed": p.bytes,
        }),
    ))
}

/// `POST /build/prune?all=&filters=`: the build cache (`until` in the
/// filters: only entries unused for that long).
pub fn build_prune(e: &Engine, req: &Request) -> Answer {
    let f = crate::filters(req)?;
    engine(f.check_keys(&["until"]))?;
    let older_than = match f.get("until").first() {
        Some(d) => {
            let ns = skiff_engine::units::parse_go_duration(d)
                .map_err(|err| message(400, &err.to_string()))?;
            Some(std::time::Duration::from_nanos(ns.max(0) as u64))
        }
        None => None,
    };
    let p = engine(e.builder_prune(req.flag("all"), older_than))?;
    Ok(Response::json(
        200,
        &json!({ "CachesDeleted": p.removed, "SpaceReclaimed": p.bytes }),
    ))
}
