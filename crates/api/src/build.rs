//! `POST /build`: the legacy builder's API (what the docker CLI uses when
//! the server's `Builder-Version` is 1) on skiff's builder: the body is the
//! context as a tar, read as it comes into a directory of the engine's;
//! progress goes out as dockerd's JSON lines (`stream`), the image's ID as
//! `aux`, a failure as `error`.

use crate::http::{Request, Response};
use crate::{engine, error_line, json_lines, line, message, Answer};
use serde_json::json;
use skiff_engine::build::{BuildIo, BuildOptions, Event, Progress};
use skiff_engine::Engine;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// The build's events as `stream` lines on a channel (none with `q`).
struct Lines(Sender<Vec<u8>>, bool);

impl Progress for Lines {
    fn event(&mut self, e: Event<'_>) {
        if self.1 {
            return;
        }
        let text = match e {
            Event::Start { name, .. } => format!("{name}\n"),
            Event::Cached { .. } => " ---> Using cache\n".into(),
            Event::Output { data, .. } => String::from_utf8_lossy(data).into_owned(),
            Event::Status { text, .. } => format!(" ---> {text}\n"),
            Event::Done { .. } | Event::Failed { .. } => return,
            Event::Warning { text } => format!("WARNING: {text}\n"),
        };
        let _ = self.0.send(line(json!({ "stream": text })));
    }
}

/// A JSON map from the query (`buildargs`, `labels`).
fn map(req: &Request, key: &str) -> Result<BTreeMap<String, String>, Response> {
    match req.query(key).filter(|v| !v.is_empty()) {
        None => Ok(BTreeMap::new()),
        Some(v) => {
            let m: BTreeMap<String, Option<String>> = serde_json::from_str(v)
                .map_err(|e| message(400, &format!("invalid {key}: {e}")))?;
            Ok(m.into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect())
        }
    }
}

/// Removes the unpacked context when the build is over.
struct Context(PathBuf);

impl Drop for Context {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn build(e: &Arc<Engine>, req: &Request, body: &mut dyn std::io::Read) -> Answer {
    if req.query("remote").is_some_and(|r| !r.is_empty()) {
        return Err(message(
            400,
            "a remote build context is not served: send the context as a tar",
        ));
    }
    let dir = engine(e.paths().temp("build-context"))?;
    std::fs::create_dir(&dir).map_err(|err| message(500, &format!("{}: {err}", dir.display())))?;
    let ctx = Context(dir.clone());
    skiff_build::context::unpack_tar(body, &dir).map_err(|err| message(400, &err.to_string()))?;
    let name = req
        .query("dockerfile")
        .filter(|d| !d.is_empty())
        .unwrap_or("Dockerfile")
        .to_string();
    let df_path = dir.join(&name);
    let dockerfile = std::fs::read_to_string(&df_path).map_err(|err| {
        message(
            400,
            &format!("Cannot locate specified Dockerfile: {name} ({err})"),
        )
    })?;
    let context = skiff_build::context::Tree::context(dir.clone(), Some(&df_path))
        .map_err(|err| message(400, &err.to_string()))?;
    let network = match req.query("networkmode").unwrap_or("default") {
        "" | "default" | "none" => skiff_build::Network::None,
        "host" => skiff_build::Network::Host,
        other => {
            return Err(message(
                400,
                &format!("network mode {other:?} not supported"),
            ))
        }
    };
    let tags: Vec<String> = req.query_all("t").into_iter().map(String::from).collect();
    let o = BuildOptions {
        dockerfile,
        dockerfile_name: name,
        context: Some(context),
        tags: tags.clone(),
        build_args: map(req, "buildargs")?,
        target: req
            .query("target")
            .filter(|t| !t.is_empty())
            .map(String::from),
        no_cache: req.flag("nocache"),
        pull: req.flag("pull"),
        labels: map(req, "labels")?,
        network,
        secrets: BTreeMap::new(),
        cache_from: Vec::new(),
    };
    let quiet = req.flag("q");
    let e = e.clone();
    Ok(json_lines(move |tx| {
        let _ctx = ctx;
        let mut progress = Lines(tx.clone(), quiet);
        let built = e.build(o, Default::default(), &BuildIo::default(), &mut progress);
        let last = match built {
            // Quiet: the ID alone, as dockerd sends it.
            Ok(b) if quiet => {
                let mut v = line(json!({"aux": {"ID": b.id.to_string()}}));
                v.extend(line(json!({"stream": format!("{}\n", b.id)})));
                v
            }
            Ok(b) => {
                let mut v = line(json!({"aux": {"ID": b.id.to_string()}}));
                v.extend(line(
                    json!({"stream": format!("Successfully built {}\n", &b.id.hex()[..12])}),
                ));
                for n in &b.names {
                    let n = skiff_image::service::familiar(n);
                    v.extend(line(
                        json!({"stream": format!("Successfully tagged {n}\n")}),
                    ));
                }
                v
            }
            Err(err) => error_line(&err.to_string()),
        };
        let _ = tx.send(last);
    }))
}
