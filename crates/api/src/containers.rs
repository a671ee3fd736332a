//! `/containers/...`: list, inspect, start, stop, restart, kill, wait,
//! logs, remove, pause, unpause, rename, resize, top, changes, prune, and
//! `/commit` (create is `create.rs`'s).

use crate::http::{Request, Response};
use crate::images::unix_seconds;
use crate::{engine, message, Answer};
use serde_json::json;
use skiff_engine::container::{ListOptions, WaitCondition};
use skiff_engine::Engine;
use std::sync::Arc;

pub fn list(e: &Engine, req: &Request) -> Answer {
    let filters = crate::filters(req)?;
    let limit = req
        .query("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .filter(|l| *l > 0);
    let o = ListOptions {
        all: req.flag("all"),
        last: limit.map(|l| l as usize),
        filters,
    };
    let rows = engine(e.list_containers(&o))?;
    // With `size`: the writable layer's bytes, and with the image's.
    let image_sizes: Option<std::collections::HashMap<String, u64>> = match req.flag("size") {
        true => Some(
            engine(e.image_list(None))?
                .into_iter()
                .map(|i| (i.id.to_string(), i.size))
                .collect(),
        ),
        false => None,
    };
    let out: Vec<serde_json::Value> = rows
        .iter()
        .map(|s| {
            let c = &s.container;
            let ports: Vec<serde_json::Value> = s
                .ports
                .iter()
                .map(|p| match &p.host {
                    Some((ip, port)) => json!({"IP": ip, "PrivatePort": p.port,
                        "PublicPort": port, "Type": p.proto}),
                    None => json!({"PrivatePort": p.port, "Type": p.proto}),
                })
                .collect();
            let networks: serde_json::Map<String, serde_json::Value> =
                s.networks.iter().map(|n| (n.clone(), json!({}))).collect();
            let mut v = json!({
                "Id": c.id,
                "Names": [format!("/{}", c.name)],
                "Image": c.config.image,
                "ImageID": c.image_id,
                "Command": s.command,
                "Created": unix_seconds(&c.created),
                "Ports": ports,
                "Labels": c.config.labels,
                "State": c.state.status.as_str(),
                "Status": s.status,
                "HostConfig": {"NetworkMode": if c.host.network_mode.is_empty() { "default" } else { c.host.network_mode.as_str() }},
                "NetworkSettings": {"Networks": networks},
                "Mounts": [],
            });
            if let Some(sizes) = &image_sizes {
                let rw = e.rw_size(c);
                v["SizeRw"] = json!(rw);
                v["SizeRootFs"] = json!(rw + sizes.get(&c.image_id).copied().unwrap_or(0));
            }
            v
        })
        .collect();
    Ok(Response::json(200, &json!(out)))
}

pub fn inspect(e: &Engine, id: &str) -> Answer {
    let c = engine(e.find(id))?;
    Ok(Response::json(200, &e.inspect(&c)))
}

pub fn start(e: &Engine, id: &str) -> Answer {
    let started = engine(e.start(id, None))?;
    started.detach();
    Ok(Response::empty(204))
}

/// `t` (seconds) from the query.
fn timeout(req: &Request) -> Option<i64> {
    req.query("t").and_then(|t| t.parse().ok())
}

pub fn stop(e: &Engine, id: &str, req: &Request) -> Answer {
    engine(e.stop(id, timeout(req)))?;
    Ok(Response::empty(204))
}

pub fn restart(e: &Engine, id: &str, req: &Request) -> Answer {
    engine(e.restart(id, timeout(req)))?;
    Ok(Response::empty(204))
}

pub fn kill(e: &Engine, id: &str, req: &Request) -> Answer {
    let signal = match req.query("signal").filter(|s| !s.is_empty()) {
        Some(s) => engine(skiff_engine::units::parse_signal(s))?,
        None => libc::SIGKILL,
    };
    engine(e.kill(id, signal))?;
    Ok(Response::empty(204))
}

/// `wait`: the 200 and its headers at once, the status when the condition
/// is met (dockerd does the same, so a client knows it waits).
pub fn wait(e: &Arc<Engine>, id: &str, req: &Request) -> Answer {
    let condition: WaitCondition = engine(req.query("condition").unwrap_or("").parse())?;
    // Where the wait starts is taken now, before the headers go: a client
    // starts the container once it has them.
    let from = engine(e.wait_begin(id))?;
    let e = e.clone();
    Ok(Response::stream("application/json", move |out| {
        let (cancel, _watch) = crate::hangup::watch(&e, out.peer());
        let v = match e.wait_from(&from, condition, &cancel) {
            Ok(code) => json!({"StatusCode": code, "Error": null}),
            Err(err) => json!({"StatusCode": -1, "Error": {"Message": err.to_string()}}),
        };
        let mut b = serde_json::to_vec(&v).expect("JSON");
        b.push(b'\n');
        out.send(&b)
    }))
}

/// `logs`: the records the query selects; multiplexed (an 8-byte header
/// per record: the stream, then the length) unless the container has a
/// TTY; with `follow`, until it stops or the client goes.
pub fn logs(e: &Arc<Engine>, id: &str, req: &Request) -> Answer {
    let c = engine(e.find(id))?;
    let (stdout, stderr) = (req.flag("stdout"), req.flag("stderr"));
    if !stdout && !stderr {
        return Err(message(
            400,
            "Bad parameters: you must choose at least one stream",
        ));
    }
    // (0 is no bound, as the docker CLI sends it.)
    let time = |k: &str| Ok::<_, Response>(crate::query_time(req, k)?.filter(|t| *t != 0));
    let o = skiff_engine::logs::LogOptions {
        since: time("since")?,
        until: time("until")?,
        // A tail that is not a number is `all`, as dockerd reads it.
        tail: req.query("tail").and_then(|n| n.parse().ok()),
        follow: req.flag("follow"),
    };
    let (timestamps, tty) = (req.flag("timestamps"), c.config.tty);
    let (e, id) = (e.clone(), c.id.clone());
    let kind = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(Response::stream(kind, move |out| {
        let (cancel, _watch) = crate::hangup::watch(&e, out.peer());
        let mut failed = None;
        let mut sink = |r: &skiff_engine::logs::Record| {
            if (r.stream == 1 && !stdout) || (r.stream == 2 && !stderr) {
                return true;
            }
            let mut data = Vec::new();
            if timestamps {
                data.extend_from_slice(r.time.as_bytes());
                data.push(b' ');
            }
            data.extend_from_slice(r.data.as_bytes());
            let mut frame = Vec::with_capacity(data.len() + 8);
            if !tty {
                frame.extend_from_slice(&[r.stream, 0, 0, 0]);
                frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
            }
            frame.extend_from_slice(&data);
            match out.send(&frame) {
                Ok(()) => true,
                Err(err) => {
                    failed = Some(err);
                    false
                }
            }
        };
        let _ = e.logs(&id, &o, &cancel, &mut sink);
        match failed {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }))
}

pub fn remove(e: &Engine, id: &str, req: &Request) -> Answer {
    engine(e.remove(id, req.flag("force"), req.flag("v")))?;
    Ok(Response::empty(204))
}

pub fn pause(e: &Engine, id: &str) -> Answer {
    engine(e.pause(id))?;
    Ok(Response::empty(204))
}

pub fn unpause(e: &Engine, id: &str) -> Answer {
    engine(e.unpause(id))?;
    Ok(Response::empty(204))
}

pub fn rename(e: &Engine, id: &str, req: &Request) -> Answer {
    let name = req
        .query("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| message(400, "name is required"))?;
    engine(e.rename(id, name))?;
    Ok(Response::empty(204))
}

/// `top`: `ps_args` as `docker top` passes them (one string, split on
/// spaces).
pub fn top(e: &Engine, id: &str, req: &Request) -> Answer {
    let args: Vec<String> = req
        .query("ps_args")
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect();
    let (titles, rows) = engine(e.top(id, &args))?;
    Ok(Response::json(
        200,
        &json!({"Titles": titles, "Processes": rows}),
    ))
}

/// `changes`: Docker's kinds, 0 modified, 1 added, 2 deleted.
pub fn changes(e: &Engine, id: &str) -> Answer {
    let diff = engine(e.diff(id))?;
    let out: Vec<serde_json::Value> = diff
        .iter()
        .map(|(k, p)| {
            let kind = match k {
                'A' => 1,
                'D' => 2,
                _ => 0,
            };
            json!({"Path": p, "Kind": kind})
        })
        .collect();
    Ok(Response::json(200, &json!(out)))
}

pub fn prune(e: &Engine, req: &Request) -> Answer {
    let filters = crate::filters(req)?;
    let p = engine(e.prune_containers(&filters))?;
    Ok(Response::json(
        200,
        &json!({"ContainersDeleted": p.removed, "SpaceReclaimed": p.bytes}),
    ))
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`.
pub fn commit(e: &Engine, req: &Request) -> Answer {
    let id = req
        .query("container")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| message(400, "container is required"))?;
    let name = req.repo_tag();
    let o = skiff_engine::container::CommitOptions {
        author: req
            .query("author")
            .filter(|a| !a.is_empty())
            .map(String::from),
        message: req
            .query("comment")
            .filter(|c| !c.is_empty())
            .map(String::from),
        pause: req.query("pause").is_none_or(|p| p != "0" && p != "false"),
        changes: change_lines(req),
    };
    let image = engine(e.commit(id, name.as_deref(), &o))?;
    Ok(Response::json(201, &json!({"Id": image.to_string()})))
}

/// `changes` of a commit or an import: repeated, or lines of one value.
pub(crate) fn change_lines(req: &Request) -> Vec<String> {
    req.query_all("changes")
        .iter()
        .flat_map(|c| c.lines())
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

/// `resize`: the container's pty to `h` rows and `w` columns.
pub fn resize(e: &Engine, id: &str, req: &Request) -> Answer {
    let (h, w) = size(req)?;
    engine(e.resize(id, h, w))?;
    Ok(Response::empty(200))
}

/// A resize's `h` and `w`.
pub(crate) fn size(req: &Request) -> Result<(u16, u16), Response> {
    let n = |k: &str| req.query(k).and_then(|v| v.parse::<u16>().ok());
    match (n("h"), n("w")) {
        (Some(h), Some(w)) => Ok((h, w)),
        _ => Err(message(400, "h and w are required")),
    }
}
