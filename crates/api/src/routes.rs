//! Which handler answers a request: the method and the path, with or
//! without a `/v1.NN` prefix.

use crate::http::{Request, Response};
use crate::{containers, images, message, objects, system, Answer};
use skiff_engine::Engine;
use std::sync::Arc;

/// The API version a path asks for (`/v1.41/...`), if it names one.
pub(crate) fn api_version(path: &str) -> Option<(u32, u32)> {
    let v = path.strip_prefix("/v")?.split('/').next()?;
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The path without its API version prefix; an error for a version this
/// server does not serve.
fn unversioned(path: &str) -> Result<&str, Response> {
    let Some(asked) = api_version(path) else {
        return Ok(path);
    };
    let (v, rest) = path[2..].split_once('/').unwrap_or((&path[2..], ""));
    let parse = |v: &str| api_version(&format!("/v{v}")).expect("a version");
    let (min, max) = (parse(crate::MIN_API_VERSION), parse(crate::API_VERSION));
    if asked < min {
        return Err(message(
            400,
            &format!(
                "client version {v} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
                crate::MIN_API_VERSION
            ),
        ));
    }
    if asked > max {
        return Err(message(
            400,
            &format!(
                "client version {v} is too new. Maximum supported API version is {}",
                crate::API_VERSION
            ),
        ));
    }
    Ok(&path[path.len() - rest.len() - 1..])
}

pub fn route(engine: &Arc<Engine>, req: &Request) -> Response {
    let answer = || -> Answer {
        let path = unversioned(&req.path)?;
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let m = req.method.as_str();
        match (m, segs.as_slice()) {
            ("GET" | "HEAD", ["_ping"]) => Ok(system::ping()),
            ("GET", ["version"]) => system::version(engine),
            ("GET", ["info"]) => system::info(engine),
            ("GET", ["events"]) => system::events(engine, req),
            ("GET", ["system", "df"]) => system::df(engine),
            ("POST", ["auth"]) => system::auth(engine, req),
            ("GET", ["containers", "json"]) => containers::list(engine, req),
            ("POST", ["containers", "create"]) => crate::create::create(engine, req),
            ("GET", ["containers", id, "json"]) => containers::inspect(engine, id),
            ("POST", ["containers", id, "start"]) => containers::start(engine, id),
            ("POST", ["containers", id, "stop"]) => containers::stop(engine, id, req),
            ("POST", ["containers", id, "restart"]) => containers::restart(engine, id, req),
            ("POST", ["containers", id, "kill"]) => containers::kill(engine, id, req),
            ("POST", ["containers", id, "wait"]) => containers::wait(engine, id, req),
            ("GET", ["containers", id, "logs"]) => containers::logs(engine, id, req),
            ("POST", ["containers", id, "attach"]) => crate::attach::attach(engine, id, req),
            ("GET", ["containers", id, "attach", "ws"]) => {
                crate::attach::attach_ws(engine, id, req)
            }
            ("POST", ["containers", id, "exec"]) => crate::exec::create(engine, id, req),
            ("POST", ["exec", id, "start"]) => crate::exec::start(engine, id, req),
            ("GET", ["exec", id, "json"]) => crate::exec::inspect(engine, id),
            ("POST", ["exec", id, "resize"]) => crate::exec::resize(engine, id, req),
            ("DELETE", ["containers", id]) => containers::remove(engine, id, req),
            ("POST", ["containers", "prune"]) => containers::prune(engine, req),
            ("POST", ["images", "prune"]) => images::prune(engine, req),
            ("POST", ["build", "prune"]) => images::build_prune(engine, req),
            ("GET", ["images", "search"]) => Err(message(
                404,
                "search is not served: skiff reaches no registry index (pull by name from a registry instead)",
            )),
            ("POST", ["containers", id, "pause"]) => containers::pause(engine, id),
            ("POST", ["containers", id, "unpause"]) => containers::unpause(engine, id),
            ("POST", ["containers", id, "rename"]) => containers::rename(engine, id, req),
            ("POST", ["containers", id, "resize"]) => containers::resize(engine, id, req),
            ("POST", ["containers", id, "update"]) => crate::create::update(engine, id, req),
            ("GET", ["containers", id, "top"]) => containers::top(engine, id, req),
            ("GET", ["containers", id, "changes"]) => containers::changes(engine, id),
            ("GET", ["containers", id, "stats"]) => crate::stats::stats(engine, id, req),
            ("GET", ["containers", id, "archive"]) => crate::archive::get(engine, id, req),
            ("HEAD", ["containers", id, "archive"]) => crate::archive::head(engine, id, req),
            ("GET", ["containers", id, "export"]) => crate::archive::export(engine, id),
            ("POST", ["commit"]) => containers::commit(engine, req),
            ("GET", ["images", "json"]) => images::list(engine, req),
            ("POST", ["images", "create"]) => images::create(engine, req),
            // Image names hold slashes: /images/{name}/tag, DELETE /images/{name}.
            ("POST", ["images", name @ .., "push"]) if !name.is_empty() => {
                images::push(engine, &name.join("/"), req)
            }
            ("POST", ["images", name @ .., "tag"]) if !name.is_empty() => {
                images::tag(engine, &name.join("/"), req)
            }
            ("DELETE", ["images", name @ ..]) if !name.is_empty() => {
                images::remove(engine, &name.join("/"), req)
            }
            ("POST", ["volumes", "create"]) => objects::volume_create(engine, req),
            ("GET", ["volumes"]) => objects::volume_list(engine, req),
            ("POST", ["volumes", "prune"]) => objects::volume_prune(engine),
            ("GET", ["volumes", name]) => objects::volume_inspect(engine, name),
            ("DELETE", ["volumes", name]) => objects::volume_remove(engine, name, req),
            ("POST", ["networks", "create"]) => objects::network_create(engine, req),
            ("GET", ["networks"]) => objects::network_list(engine, req),
            ("POST", ["networks", "prune"]) => objects::network_prune(engine),
            ("GET", ["networks", id]) => objects::network_inspect(engine, id),
            ("DELETE", ["networks", id]) => objects::network_remove(engine, id),
            ("POST", ["networks", id, "connect"]) => objects::network_connect(engine, id, req),
            ("POST", ["networks", id, "disconnect"]) => {
                objects::network_disconnect(engine, id, req)
            }
            // Image names hold slashes: /images/{name}/json.
            ("GET", ["images", "get"]) => images::get(
                engine,
                req.query_all("names")
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ),
            ("GET", ["images", name @ .., "get"]) if !name.is_empty() => {
                images::get(engine, vec![name.join("/")])
            }
            ("GET", ["images", name @ .., "history"]) if !name.is_empty() => {
                images::history(engine, &name.join("/"))
            }
            ("GET", ["images", name @ .., "json"]) if !name.is_empty() => {
                images::inspect(engine, &name.join("/"))
            }
            _ => Err(message(404, "page not found")),
        }
    };
    answer().unwrap_or_else(|r| r)
}

/// Whether the request's body is streamed to its handler (a tar of
/// images, a build context) rather than read first.
pub fn streams_body(req: &Request) -> bool {
    let Ok(path) = unversioned(&req.path) else {
        return false;
    };
    (req.method == "POST" && matches!(path, "/images/load" | "/build"))
        || (req.method == "POST" && path == "/images/create" && req.query("fromSrc").is_some())
        || (req.method == "PUT" && path.starts_with("/containers/") && path.ends_with("/archive"))
}

/// The handlers of [`streams_body`]'s requests.
pub fn route_streaming(
    engine: &Arc<Engine>,
    req: &Request,
    body: &mut dyn std::io::Read,
) -> Response {
    let mut answer = || -> Answer {
        let path = unversioned(&req.path)?;
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segs.as_slice() {
            ["images", "load"] => images::load(engine, req, body),
            ["images", "create"] => images::import(engine, req, body),
            ["build"] => crate::build::build(engine, req, body),
            ["containers", id, "archive"] => crate::archive::put(engine, id, req, body),
            _ => Err(message(404, "page not found")),
        }
    };
    answer().unwrap_or_else(|r| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            unversioned("/v1.41/containers/json").ok(),
            Some("/containers/json")
        );
        assert_eq!(unversioned("/v1.24/_ping").ok(), Some("/_ping"));
        assert_eq!(
            unversioned("/containers/json").ok(),
            Some("/containers/json")
        );
        assert!(unversioned("/v1.12/info").is_err());
        assert!(unversioned("/v1.99/info").is_err());
    }
}
