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
