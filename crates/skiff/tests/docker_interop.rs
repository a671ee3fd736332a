//! Docker (Debian's docker.io, with its own dockerd started by the test) and
//! skiff exchange images: through a registry (Debian's docker-registry on
//! 127.0.0.1) in both directions, and as docker-archive tarballs
//! (`docker save` / `skiff load`, `skiff save` / `docker load`). Each way
//! the image keeps its ID (the config digest). dockerd, the registry and
//! skiff's registry commands share a network namespace of the test's own.

use std::path::Path;
use std::process::Output;

use skiff_testkit::dockerd::Dockerd;
use skiff_testkit::registry::start_registry_in;
use skiff_testkit::NetNs;

/// `docker ARGS` against the test's dockerd; its stdout, which must succeed.
fn dk(d: &Dockerd, args: &[&str]) -> String {
    let o = d.docker().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "docker {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn dk_id(d: &Dockerd, image: &str) -> String {
    dk(d, &["image", "inspect", "--format", "{{.Id}}", image])
        .trim()
        .to_string()
}

/// skiff in the namespace dockerd and the registry run in.
fn skiff(ns: &NetNs, root: &Path, args: &[&str]) -> Output {
    // Credentials live next to the root; Docker's own file is never read.
    ns.command(env!("CARGO_BIN_EXE_skiff"))
        .env("SKIFF_AUTH_FILE", root.with_extension("auth.json"))
        .env("DOCKER_CONFIG", root.with_extension("docker"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

fn ok(ns: &NetNs, root: &Path, args: &[&str]) -> String {
    let o = skiff(ns, root, args);
    assert!(
        o.status.success(),
        "skiff {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The image's ID as `skiff image inspect` shows it.
fn skiff_id(ns: &NetNs, root: &Path, image: &str) -> String {
    let out = ok(ns, root, &["image", "inspect", image]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["Id"].as_str().unwrap().to_string()
}

/// busybox imported into the skiff store `root` as `name`; its ID.
fn import_busybox(ns: &NetNs, dir: &Path, root: &Path, name: &str) -> String {
    let rootfs = dir.join("rootfs");
    skiff_testkit::make_busybox_rootfs(&rootfs);
    let tar = dir.join("rootfs.tar");
    skiff_testkit::write_tar(&rootfs, &tar);
    let id = ok(ns, root, &["import", tar.to_str().unwrap(), name])
        .trim()
        .to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    id
}

#[test]
fn docker_and_skiff_exchange_images() {
    let docker = Dockerd::start("sd", NetNs::new("skiff-interop"));
    let ns = docker.netns();
    let reg = start_registry_in(Some(ns), None);
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("r");

    // 1. skiff pushes, docker pulls: the same image ID
    let name = format!("{}/skiff/busybox:v1", reg.host);
    let id = import_busybox(ns, d.path(), &root, &name);
    assert_eq!(skiff_id(ns, &root, &name), id);
    ok(ns, &root, &["push", "-q", &name]);
    dk(&docker, &["pull", "-q", &name]);
    assert_eq!(dk_id(&docker, &name), id, "docker pull of skiff's push");

    // 2a. docker save, skiff load (into an empty store): the same image ID
    let from_docker = d.path().join("from-docker.tar");
    dk(
        &docker,
        &["save", &name, "-o", from_docker.to_str().unwrap()],
    );
    let root2 = d.path().join("r2");
    ok(ns, &root2, &["load", "-i", from_docker.to_str().unwrap()]);
    assert_eq!(skiff_id(ns, &root2, &name), id, "skiff load of docker save");
    assert_eq!(ok(ns, &root2, &["images", "-q", "--no-trunc"]).trim(), id);

    // 2b. skiff save, docker load (the image removed from docker first)
    let saved_name = "skiff/saved:v2";
    ok(ns, &root, &["tag", &name, saved_name]);
    dk(&docker, &["rmi", &name]);
    let from_skiff = d.path().join("from-skiff.tar");
    ok(
        ns,
        &root,
        &[
            "save",
            "-o",
            from_skiff.to_str().unwrap(),
            "--format",
            "docker-archive",
            saved_name,
        ],
    );
    let out = dk(&docker, &["load", "-i", from_skiff.to_str().unwrap()]);
    assert!(out.contains(saved_name), "{out}");
    assert_eq!(dk_id(&docker, saved_name), id, "docker load of skiff save");

    // 3. docker pushes (127.0.0.1 is an insecure registry to it), skiff pulls
    let pushed = format!("{}/docker/busybox:v3", reg.host);
    dk(&docker, &["tag", saved_name, &pushed]);
    dk(&docker, &["push", &pushed]);
    let root3 = d.path().join("r3");
    ok(ns, &root3, &["pull", "-q", &pushed]);
    assert_eq!(
        skiff_id(ns, &root3, &pushed),
        id,
        "skiff pull of docker push"
    );
    assert_eq!(ok(ns, &root3, &["images", "-q", "--no-trunc"]).trim(), id);
}

/// A Dockerfile whose image shows at run time what the build made: files
/// with their owners and modes, the environment, the working directory,
/// the user, ENTRYPOINT and CMD.
pub const BUILT: &str = r#"FROM base:1
RUN mkdir -p /srv/data && echo made-by-run > /srv/data/run.txt && chmod 600 /srv/data/run.txt
COPY --chown=1:2 --chmod=640 app.txt /srv/app.txt
ENV GREETING=hello
WORKDIR /srv
USER 1:2
ENTRYPOINT ["sh", "-c", "echo $GREETING $(id -u):$(id -g) $(pwd) \"$@\"; ls -ln /srv /srv/data | sed 1d | sed -e '/^total/d' -e '/^$/d' -e 's/  */ /g' | cut -d' ' -f1,3,4,5,9", "--"]
CMD ["default-arg"]
"#;

#[test]
fn docker_runs_an_image_skiff_built_and_pushed() {
    let docker = Dockerd::start("sb", NetNs::new("skiff-built"));
    let ns = docker.netns();
    let reg = start_registry_in(Some(ns), None);
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("r");
    import_busybox(ns, d.path(), &root, "base:1");
    let ctx = d.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), BUILT).unwrap();
    std::fs::write(ctx.join("app.txt"), "app\n").unwrap();
    let name = format!("{}/skiff/built:v1", reg.host);
    ok(
        ns,
        &root,
        &["build", "-q", "-t", &name, ctx.to_str().unwrap()],
    );
    let id = skiff_id(ns, &root, &name);
    let want = ok(ns, &root, &["run", "--rm", "--network", "none", &name, "x"]);
    assert!(
        want.starts_with("hello 1:2 /srv x\n") && want.contains("-rw-r----- 1 2 4 app.txt"),
        "{want}"
    );
    ok(ns, &root, &["push", "-q", &name]);
    dk(&docker, &["pull", "-q", &name]);
    assert_eq!(dk_id(&docker, &name), id);
    let got = dk(&docker, &["run", "--rm", "--network", "none", &name, "x"]);
    assert_eq!(got, want, "docker run of the image skiff built");
}
