//! `/containers/{id}/archive` (`docker cp`): GET a path as a tar with its
//! stat in `X-Docker-Container-Path-Stat`, HEAD the stat alone, PUT a tar
//! into a directory; and `/containers/{id}/export`, the whole file system.

use crate::http::{Request, Response};
use crate::{engine, message, Answer};
use serde_json::json;
use skiff_engine::Engine;
use std::sync::Arc;

/// The stat header of `path` in the container.
fn stat_header(e: &Engine, id: &str, path: &str) -> Result<(String, String), Response> {
    let st = engine(e.path_stat(id, path))?;
    let v = json!({
        "name": st.name,
        "size": st.size,
        "mode": st.mode,
        "mtime": st.mtime,
        "linkTarget": st.link_target,
    });
    Ok(("X-Docker-Container-Path-Stat".into(), {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_string(&v).expect("JSON"))
    }))
}

fn path_of(req: &Request) -> Result<String, Response> {
    req.query("path")
        .filter(|p| !p.is_empty())
        .map(String::from)
        .ok_or_else(|| message(400, "path is required"))
}

pub fn head(e: &Engine, id: &str, req: &Request) -> Answer {
    let path = path_of(req)?;
    let mut r = Response::empty(200);
    r.headers.push(stat_header(e, id, &path)?);
    Ok(r)
}

pub fn get(e: &Arc<Engine>, id: &str, req: &Request) -> Answer {
    let path = path_of(req)?;
    let header = stat_header(e, id, &path)?;
    let (e, id) = (e.clone(), id.to_string());
    let mut r = Response::stream("application/x-tar", move |out| {
        e.copy_out_tar(&id, &path, false, out)
            .map_err(|err| std::io::Error::other(err.to_string()))
    });
    r.headers.push(header);
    Ok(r)
}

pub fn put(e: &Engine, id: &str, req: &Request, body: &mut dyn std::io::Read) -> Answer {
    let path = path_of(req)?;
    engine(e.copy_in_tar(body, id, &path))?;
    Ok(Response::empty(200))
}

pub fn export(e: &Arc<Engine>, id: &str) -> Answer {
    let c = engine(e.find(id))?;
    let e = e.clone();
    Ok(Response::stream("application/x-tar", move |out| {
        e.export(&c.id, out)
            .map_err(|err| std::io::Error::other(err.to_string()))
    }))
}
