//! The build cache beyond one store: `--cache-to` writes the steps of a
//! build (a directory in the OCI image layout, or a manifest in a registry
//! on 127.0.0.1) and `--cache-from` lets a second store, which has only the
//! same base image, take them instead of running them.

mod build_env;

use build_env::Env;
use std::path::Path;

/// Two stages; each RUN records a value only running it makes (the time
/// in nanoseconds), so a step taken from a cache shows the first build's.
const DOCKERFILE: &str = r#"FROM bb:base AS tool
RUN date +%s%N > /tool-made

FROM bb:base
COPY app.txt /app.txt
RUN date +%s%N > /made && cat /app.txt >> /made
COPY --from=tool /tool-made /tool-made
CMD ["cat", "/made", "/tool-made"]
"#;

fn build(e: &Env, ctx: &Path, extra: &[&str]) -> (String, String) {
    let mut args = vec!["build", "--progress", "plain", "-t", "app:1"];
    args.extend_from_slice(extra);
    args.push(ctx.to_str().unwrap());
    let o = e.skiff(&args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "skiff {args:?}: {stderr}");
    let id = e
        .ok(&["images", "-q", "--no-trunc", "app:1"])
        .trim()
        .to_string();
    (id, stderr)
}

/// The plain progress's `#N [stage n/m] INSTRUCTION` lines followed by
/// `#N CACHED`: the instructions taken from a cache.
fn cached_steps(progress: &str) -> Vec<String> {
    let lines: Vec<&str> = progress.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some((id, rest)) = l.split_once(' ') else {
            continue;
        };
        if rest.starts_with('[') && lines[i + 1..].iter().any(|n| *n == format!("{id} CACHED")) {
            out.push(rest.split_once("] ").map_or(rest, |(_, r)| r).to_string());
        }
    }
    out
}

fn run_output(e: &Env) -> String {
    e.ok(&["run", "--rm", "app:1"])
}

#[test]
fn a_cache_in_a_directory_serves_another_store() {
    let a = Env::new();
    let ctx = a.context("ctx", &[("Dockerfile", DOCKERFILE), ("app.txt", "v1\n")]);
    let min = a.dir.path().join("cache-min");
    let max = a.dir.path().join("cache-max");
    let (id_a, progress) = build(
        &a,
        &ctx,
        &[
            "--cache-to",
            &format!("type=local,dest={}", min.display()),
            "--cache-to",
            &format!("type=local,dest={},mode=max", max.display()),
        ],
    );
    assert!(progress.contains("exporting cache to"), "{progress}");
    assert!(max.join("index.json").is_file() && max.join("oci-layout").is_file());
    let made_a = run_output(&a);

    // mode=max: every step of both stages comes from the cache, and the
    // image is the same image.
    let b = Env::sharing_base_with(&a);
    let (id_b, progress) = build(
        &b,
        &ctx,
        &["--cache-from", &format!("type=local,src={}", max.display())],
    );
    assert_eq!(
        cached_steps(&progress),
        [
            "RUN date +%s%N > /tool-made",
            "COPY app.txt /app.txt",
            "RUN date +%s%N > /made && cat /app.txt >> /made",
            "COPY --from=tool /tool-made /tool-made",
        ],
        "{progress}"
    );
    assert_eq!(id_b, id_a);
    assert_eq!(run_output(&b), made_a);
    b.assert_clean();

    // mode=min: only the steps of the image's own layers; the first stage
    // runs again (what it makes is keyed by its steps, so the COPY of it
    // still comes from the cache: see docs/build.md).
    let c = Env::sharing_base_with(&a);
    let (id_c, progress) = build(
        &c,
        &ctx,
        &["--cache-from", &format!("type=local,src={}", min.display())],
    );
    assert_eq!(
        cached_steps(&progress),
        [
            "COPY app.txt /app.txt",
            "RUN date +%s%N > /made && cat /app.txt >> /made",
            "COPY --from=tool /tool-made /tool-made",
        ],
        "{progress}"
    );
    assert!(progress.contains("[tool 2/2] RUN date"), "{progress}");
    assert_eq!(id_c, id_a);

    // A changed source: the steps after it run; the cache is updated in
    // place and the next store takes the new steps.
    std::fs::write(ctx.join("app.txt"), "v2\n").unwrap();
    let (_, progress) = build(
        &c,
        &ctx,
        &[
            "--cache-from",
            &format!("type=local,src={}", max.display()),
            "--cache-to",
            &format!("type=local,dest={},mode=max", max.display()),
        ],
    );
    assert_eq!(
        cached_steps(&progress),
        ["RUN date +%s%N > /tool-made"],
        "{progress}"
    );
    let made_v2 = run_output(&c);
    let d = Env::sharing_base_with(&a);
    build(
        &d,
        &ctx,
        &["--cache-from", &format!("type=local,src={}", max.display())],
    );
    assert_eq!(run_output(&d), made_v2);

    // A cache that is not there yet is a warning, as BuildKit's.
    let (_, progress) = build(
        &d,
        &ctx,
        &[
            "--cache-from",
            &format!("type=local,src={}", a.dir.path().join("none").display()),
        ],
    );
    assert!(
        progress.contains("WARNING: cache") && progress.contains("not found"),
        "{progress}"
    );
}

#[test]
fn a_cache_in_a_registry_serves_another_store() {
    let reg = skiff_testkit::registry::start_registry_in(None, None);
    let cache = format!("{}/build-cache/app:main", reg.host);
    let a = Env::new();
    let ctx = a.context("ctx", &[("Dockerfile", DOCKERFILE), ("app.txt", "v1\n")]);
    let (id_a, _) = build(
        &a,
        &ctx,
        &["--cache-to", &format!("type=registry,ref={cache},mode=max")],
    );
    let b = Env::sharing_base_with(&a);
    // A bare reference is a registry's, as buildx takes it.
    let (id_b, progress) = build(&b, &ctx, &["--cache-from", &cache]);
    assert_eq!(cached_steps(&progress).len(), 4, "{progress}");
    assert_eq!(id_b, id_a);
    assert_eq!(run_output(&b), run_output(&a));
    let (_, progress) = build(
        &b,
        &ctx,
        &[
            "--no-cache",
            "--cache-from",
            &format!("{}/build-cache/app:none", reg.host),
        ],
    );
    assert!(progress.contains("not found"), "{progress}");
    assert!(cached_steps(&progress).is_empty(), "--no-cache: {progress}");
}

#[test]
fn a_cache_that_lies_is_refused_and_leaves_nothing() {
    let a = Env::new();
    let ctx = a.context("ctx", &[("Dockerfile", DOCKERFILE), ("app.txt", "v1\n")]);
    let dir = a.dir.path().join("cache");
    build(
        &a,
        &ctx,
        &[
            "--cache-to",
            &format!("type=local,dest={},mode=max", dir.display()),
        ],
    );
    // Every layer blob the steps made is replaced by other bytes.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let blob = |d: &str| {
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert!(layers.len() >= 4, "{manifest}");
    for l in layers {
        let p = blob(l["digest"].as_str().unwrap());
        let len = std::fs::metadata(&p).unwrap().len() as usize;
        std::fs::write(&p, vec![b'x'; len]).unwrap();
    }
    let b = Env::sharing_base_with(&a);
    let before = b.ok(&["system", "df"]);
    let o = b.skiff(&[
        "build",
        "--cache-from",
        &format!("type=local,src={}", dir.display()),
        ctx.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ERROR:")
            && err.contains(&dir.display().to_string())
            && err.contains("sha256:"),
        "{err}"
    );
    b.assert_clean();
    assert_eq!(
        b.ok(&["system", "df"]),
        before,
        "the failed build stored something"
    );
    let ingest: Vec<_> = std::fs::read_dir(b.root().join("image/ingest"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(ingest.is_empty(), "half-written blobs: {ingest:?}");

    // A spec that names no known type is refused before anything is built.
    for bad in ["type=s3,ref=x", "type=local", "type=local,dest=/x,mode=all"] {
        let o = b.skiff(&["build", "--cache-to", bad, ctx.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{bad}: {err}");
        assert!(
            err.contains("invalid cache") && !err.contains("#1"),
            "{bad}: {err}"
        );
    }
}
