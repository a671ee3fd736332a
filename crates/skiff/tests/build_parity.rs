//! Build parity: the same Dockerfiles built by skiff and by Docker 20.10
//! (its own dockerd; BuildKit, or the legacy builder where a case says so),
//! comparing what a user sees: whether the build succeeds, the line or exit
//! code an error names, what the image's command prints, the files a case
//! lists (modes, owners, sizes, link targets), the image's configuration
//! (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels,
//! StopSignal, Healthcheck, OnBuild, Shell) and its history (how many rows,
//! which made a layer).
//!
//! Every case runs and the differences are reported together at the end.
//! `PARITY_ONLY=word,word` runs only the cases whose name holds a word.
//! Only 127.0.0.1 is contacted (the ADD-of-a-URL case serves its file there).

mod build_cases;

use build_cases::{Case, CASES};
use serde_json::Value;
use skiff_testkit::dockerd::{unmount_below, Dockerd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// The base image both engines have, under the same name.
pub const BASE: &str = "bp/busybox:1";

struct Engines {
    docker: Dockerd,
    dir: tempfile::TempDir,
}

impl Engines {
    fn new() -> Engines {
        let docker = Dockerd::start("bp", skiff_testkit::NetNs::new("build-parity"));
        let dir = tempfile::Builder::new()
            .prefix("skiff-build-parity-")
            .tempdir()
            .unwrap();
        let e = Engines { docker, dir };
        let rootfs = e.dir.path().join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\nstaff:x:50:app\napp:x:1000:\n",
        )
        .unwrap();
        let tar = e.dir.path().join("rootfs.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        let tar = tar.to_str().unwrap();
        ok(e.skiff(&[
            "import",
            "-c",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            tar,
            BASE,
        ]));
        let archive = e.dir.path().join("base.tar");
        ok(e.skiff(&["save", "-o", archive.to_str().unwrap(), BASE]));
        ok(e.docker(&["load", "-i", archive.to_str().unwrap()], false));
        e
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn skiff_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_skiff"));
        c.arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn skiff(&self, args: &[&str]) -> Output {
        self.skiff_cmd(args).output().unwrap()
    }

    fn docker(&self, args: &[&str], legacy: bool) -> Output {
        self.docker
            .docker()
            .env("DOCKER_BUILDKIT", if legacy { "0" } else { "1" })
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Run `args` on one side.
    fn on(&self, docker: bool, args: &[&str], legacy: bool) -> Output {
        if docker {
            self.docker(args, legacy)
        } else {
            self.skiff(args)
        }
    }
}

impl Drop for Engines {
    fn drop(&mut self) {
        unmount_below(self.dir.path());
    }
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// What a failed build's error points at: `line N` of a parse error, or a
/// RUN's `exit code: N`.
fn error_mark(out: &str) -> String {
    for pat in ["line ", "exit code: "] {
        if let Some(i) = out.find(pat) {
            let n: String = out[i + pat.len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if !n.is_empty() {
                return format!("{pat}{n}");
            }
        }
    }
    "no line or exit code".into()
}

/// Empty values compare equal whatever their JSON shape.
fn norm(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::Array(a) if a.is_empty() => Value::Null,
        Value::Object(o) if o.is_empty() => Value::Null,
        Value::String(s) if s.is_empty() => Value::Null,
        other => other.clone(),
    }
}

const CONFIG_FIELDS: [&str; 12] = [
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "OnBuild",
    "Shell",
];

/// Write the case's context into `dir`.
fn write_context(dir: &Path, c: &Case, url: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), c.dockerfile.replace("{URL}", url)).unwrap();
    for (path, content) in c.files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        if let Some(target) = content.strip_prefix("symlink:") {
            std::os::unix::fs::symlink(target, &p).unwrap();
        } else {
            std::fs::write(&p, content).unwrap();
        }
    }
    for (path, mode) in c.modes {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(path), std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    for (name, bytes) in build_cases::archives() {
        if c.dockerfile.contains(name) {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

/// One case: the differences between the two sides.
fn compare(e: &Engines, c: &Case, url: &str) -> Vec<String> {
    let mut diffs = Vec::new();
    let tag = format!("bp-{}:1", c.name);
    let ctx = e.dir.path().join("ctx").join(c.name);
    write_context(&ctx, c, url);
    let ctx = ctx.to_str().unwrap();
    let mut build = vec!["build", "-t", tag.as_str()];
    build.extend(c.flags);
    build.push(ctx);
    let built: Vec<Output> = [true, false]
        .iter()
        .map(|d| e.on(*d, &build, c.legacy))
        .collect();
    let (d, s) = (&built[0], &built[1]);
    if d.status.success() != s.status.success() {
        diffs.push(format!(
            "build: docker {} skiff {}\n--- docker:\n{}\n--- skiff:\n{}",
            d.status,
            s.status,
            text(d),
            text(s)
        ));
        return diffs;
    }
    if !d.status.success() {
        let (dm, sm) = (error_mark(&text(d)), error_mark(&text(s)));
        if dm != sm && c.differs.is_empty() {
            diffs.push(format!(
                "error: docker says {dm:?}, skiff {sm:?}\n--- docker:\n{}\n--- skiff:\n{}",
                text(d),
                text(s)
            ));
        }
        if s.status.code() != Some(1) {
            diffs.push(format!(
                "skiff build exited {} (docker build exits 1)",
                s.status
            ));
        }
        return diffs;
    }
    // What the image runs, and what the case lists.
    let mut runs: Vec<Vec<&str>> = Vec::new();
    if c.run_default {
        runs.push(vec![]);
    }
    for r in c.runs {
        runs.push(vec!["sh", "-c", r]);
    }
    for r in runs {
        let mut args = vec!["run", "--rm", "--network", "none", tag.as_str()];
        args.extend(r.iter().copied());
        let outs: Vec<String> = [true, false]
            .iter()
            .map(|d| text(&e.on(*d, &args, false)))
            .collect();
        if outs[0] != outs[1] {
            diffs.push(format!(
                "run {r:?}:\n--- docker:\n{}--- skiff:\n{}",
                outs[0], outs[1]
            ));
        }
    }
    let configs: Vec<Value> = [true, false]
        .iter()
        .map(|d| {
            let out = ok(e.on(
                *d,
                &["image", "inspect", "-f", "{{json .Config}}", &tag],
                false,
            ));
            serde_json::from_str(&out).unwrap_or(Value::Null)
        })
        .collect();
    for f in CONFIG_FIELDS {
        let (a, b) = (norm(&configs[0][f]), norm(&configs[1][f]));
        if a != b {
            diffs.push(format!("Config.{f}: docker {a} skiff {b}"));
        }
    }
    // History: as many rows, the same ones making layers.
    let hist: Vec<String> = [true, false]
        .iter()
        .map(|d| {
            let out = ok(e.on(*d, &["history", "--format", "{{.Size}}", &tag], false));
            out.lines()
                .map(|l| if l.trim() == "0B" { "0" } else { "L" })
                .collect::<Vec<_>>()
                .join("")
        })
        .collect();
    if hist[0] != hist[1] {
        diffs.push(format!(
            "history (L = a layer, 0 = none, newest first): docker {} skiff {}",
            hist[0], hist[1]
        ));
    }
    diffs
}

/// Answer HTTP requests on `l`: every path with its own name as the body.
fn answer(l: std::net::TcpListener) {
    use std::io::{BufRead, BufReader, Write};
    for s in l.incoming().flatten() {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        let path = line.split(' ').nth(1).unwrap_or("/").to_string();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).map(|n| n == 0).unwrap_or(true) || h == "\r\n" {
                break;
            }
        }
        let body = format!("served {path}\n");
        let mut s = s;
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

/// A file server for ADD of URLs on 127.0.0.1:PORT, both where skiff runs
/// and in dockerd's network namespace (each has its own loopback), so the
/// one URL works for both.
fn serve(e: &Engines) -> String {
    let here = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = here.local_addr().unwrap().port();
    let there = e
        .docker
        .netns()
        .enter(move || std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
    std::thread::spawn(move || answer(here));
    std::thread::spawn(move || answer(there));
    format!("http://127.0.0.1:{port}")
}

/// An image skiff built (with a layer skiff made: uncompressed, OCI) runs
/// under Docker after `save` / `docker load`, as it does under skiff.
fn runs_under_docker(e: &Engines) -> Result<(), String> {
    let ctx = e.dir.path().join("ctx-export");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bp/busybox:1 AS b\nRUN echo built > /f\nFROM bp/busybox:1\nCOPY --from=b /f /g\nCMD [\"cat\", \"/g\"]\n",
    )
    .unwrap();
    ok(e.skiff(&["build", "-t", "bp-export:1", ctx.to_str().unwrap()]));
    let archive = e.dir.path().join("export.tar");
    ok(e.skiff(&["save", "-o", archive.to_str().unwrap(), "bp-export:1"]));
    ok(e.docker(&["load", "-i", archive.to_str().unwrap()], false));
    let docker = text(&e.docker(&["run", "--rm", "--network", "none", "bp-export:1"], false));
    let skiff = text(&e.skiff(&["run", "--rm", "--network", "none", "bp-export:1"]));
    if docker != "built\n" || skiff != docker {
        return Err(format!("docker says {docker:?}, skiff {skiff:?}"));
    }
    Ok(())
}

#[test]
fn build_parity() {
    let started = Instant::now();
    let e = Engines::new();
    let url = serve(&e);
    let only: Vec<String> = std::env::var("PARITY_ONLY")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let mut failed = Vec::new();
    let mut ran = 0;
    for c in CASES {
        if !only.is_empty() && !only.iter().any(|w| c.name.contains(w.as_str())) {
            continue;
        }
        ran += 1;
        let t = Instant::now();
        let diffs = compare(&e, c, &url);
        let secs = t.elapsed().as_secs_f64();
        if diffs.is_empty() {
            eprintln!("PASS {} ({secs:.1}s)", c.name);
        } else {
            eprintln!("FAIL {} ({secs:.1}s)", c.name);
            for d in &diffs {
                eprintln!("    - {d}");
            }
            failed.push(c.name);
        }
    }
    eprintln!(
        "=== build parity: {ran} Dockerfiles, {} differ, {:.1}s ===",
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(ran > 0, "no case ran");
    if only.is_empty() {
        if let Err(d) = runs_under_docker(&e) {
            failed.push("skiff-built image under Docker");
            eprintln!("FAIL skiff-built image under Docker: {d}");
        }
    }
    assert!(
        failed.is_empty(),
        "differ from Docker: {}",
        failed.join(", ")
    );
}
