//! `skiff pull` against a real registry (Debian's docker-registry on 127.0.0.1,
//! started by the test): Docker's output, the image in `images`, and pulls
//! killed with SIGKILL at random points leaving a store the next pull completes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use skiff_testkit::registry::{start_registry, start_registry_with, Registry};

fn skiff(root: &Path, args: &[&str]) -> Output {
    // Credentials live next to the root; Docker's own file is never read.
    Command::new(env!("CARGO_BIN_EXE_skiff"))
        .env("SKIFF_AUTH_FILE", root.with_extension("auth.json"))
        .env("DOCKER_CONFIG", root.with_extension("docker"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

fn ok(root: &Path, args: &[&str]) -> String {
    let o = skiff(root, args);
    assert!(
        o.status.success(),
        "skiff {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Import busybox into `src` and push it to the registry as `repo:tag`.
fn push_busybox(dir: &Path, reg: &Registry, repo: &str, tag: &str) -> String {
    use skiff_image::service::Images;
    let rootfs = dir.join("rootfs");
    skiff_testkit::make_busybox_rootfs(&rootfs);
    let tar = dir.join("rootfs.tar");
    skiff_testkit::write_tar(&rootfs, &tar);
    let src: PathBuf = dir.join("src");
    let id = ok(&src, &["import", tar.to_str().unwrap()])
        .trim()
        .to_string();
    let imgs = Images::open(&src).unwrap();
    let d = imgs.resolve(&id).unwrap();
    let rec = imgs.catalog.get(&d).unwrap().unwrap();
    let (m, _) = imgs.load(&rec).unwrap();
    let client = skiff_image::registry::Client::new(Default::default()).unwrap();
    let r = skiff_image::registry::Repo::new(reg.host.clone(), repo);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for dg in [&m.config.digest, &m.layers[0].digest] {
            let bytes = imgs.store.read_to_vec(dg, 1 << 30).unwrap();
            client.upload_blob_bytes(&r, dg, bytes).await.unwrap();
        }
        let mb = imgs.store.read_to_vec(&rec.manifest, 1 << 20).unwrap();
        client
            .put_manifest(&r, tag, skiff_image::manifest::OCI_MANIFEST, mb)
            .await
            .unwrap();
    });
    id
}

#[test]
fn pull_prints_like_docker_and_lists_the_image() {
    let reg = start_registry();
    let d = tempfile::tempdir().unwrap();
    let id = push_busybox(d.path(), &reg, "skiff/busybox", "v1");
    let root = d.path().join("dst");
    let name = format!("{}/skiff/busybox:v1", reg.host);
    let out = ok(&root, &["pull", &name]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "v1: Pulling from skiff/busybox");
    assert!(
        lines.iter().any(|l| l.ends_with(": Pull complete")),
        "{out}"
    );
    assert!(lines.iter().any(|l| l.starts_with("Digest: sha256:")));
    assert!(out.contains(&format!("Status: Downloaded newer image for {name}")));
    assert_eq!(*lines.last().unwrap(), name);
    let images = ok(&root, &["images"]);
    assert!(images.contains(&format!("{}/skiff/busybox", reg.host)) && images.contains(&id[7..19]));
    // again: up to date; -q prints the name only
    let out = ok(&root, &["pull", &name]);
    assert!(
        out.contains("Already exists") && out.contains("Image is up to date"),
        "{out}"
    );
    assert_eq!(ok(&root, &["pull", "-q", &name]), format!("{name}\n"));
    // push it back under another name with the CLI, and pull that
    let other = format!("{}/skiff/again:v2", reg.host);
    ok(&root, &["tag", &name, &other]);
    let out = ok(&root, &["push", &other]);
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{}/skiff/again]",
            reg.host
        )),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("v2: digest: sha256:"),
        "{out}"
    );
    let root2 = d.path().join("dst2");
    ok(&root2, &["pull", "-q", &other]);
    // A plain-HTTP registry needs no certificates: a pull works on a host
    // without any (the roots are read when a server's certificate is
    // checked, not before).
    let o = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .env("SSL_CERT_FILE", d.path().join("no-such-bundle.pem"))
        .env("SSL_CERT_DIR", d.path().join("no-such-dir"))
        .arg("--root")
        .arg(d.path().join("dst3"))
        .args(["pull", "-q", &other])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(ok(&root2, &["images", "-q", "--no-trunc"]).trim(), id);
    // an unknown tag: exit 1 and an error naming the repository
    let o = skiff(
        &root,
        &["pull", &format!("{}/skiff/busybox:nope", reg.host)],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("skiff/busybox"));
}

#[test]
fn pulls_killed_at_random_points_leave_a_usable_store() {
    let reg = start_registry();
    let d = tempfile::tempdir().unwrap();
    let id = push_busybox(d.path(), &reg, "skiff/crash", "v1");
    let root = d.path().join("dst");
    let name = format!("{}/skiff/crash:v1", reg.host);
    let mut seed = std::process::id() as u64;
    for _ in 0..12 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = (seed >> 33) % 120;
        let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .arg("--root")
            .arg(&root)
            .args(["pull", "-q", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        // whatever state the kill left, listing works
        let o = skiff(&root, &["images"]);
        assert!(
            o.status.success(),
            "images after a killed pull: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    ok(&root, &["pull", "-q", &name]);
    assert_eq!(ok(&root, &["images", "-q", "--no-trunc"]).trim(), id);
    // no partial blob or snapshot is left behind once the store was opened again
    let ingest = root.join("image/ingest");
    let leftovers = std::fs::read_dir(&ingest).map(|r| r.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "temp files left in {}", ingest.display());
    let tmp_snaps = std::fs::read_dir(root.join("image/snapshots"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("tmp-"))
        .count();
    assert_eq!(tmp_snaps, 0);
}

#[test]
fn login_logout_with_basic_auth() {
    let reg = start_registry_with(Some(("alice", "wonderland")));
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("r");
    let name = format!("{}/skiff/private:v1", reg.host);
    // anonymous: refused, with the registry named
    let o = skiff(&root, &["pull", &name]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains(&reg.host), "{err}");
    // wrong password: refused, nothing saved
    let o = skiff(&root, &["login", "-u", "alice", "-p", "nope", &reg.host]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!root.with_extension("auth.json").exists());
    assert_eq!(
        ok(
            &root,
            &["login", "-u", "alice", "-p", "wonderland", &reg.host]
        ),
        "Login Succeeded\n"
    );
    let saved = std::fs::read_to_string(root.with_extension("auth.json")).unwrap();
    assert!(
        saved.contains(&reg.host) && saved.contains("\"auth\""),
        "{saved}"
    );
    // logged in: an image can be imported, pushed and pulled back
    let rootfs = d.path().join("rootfs");
    skiff_testkit::make_busybox_rootfs(&rootfs);
    let tar = d.path().join("rootfs.tar");
    skiff_testkit::write_tar(&rootfs, &tar);
    ok(&root, &["import", tar.to_str().unwrap(), &name]);
    ok(&root, &["push", "-q", &name]);
    let root2 = d.path().join("r2");
    std::fs::copy(
        root.with_extension("auth.json"),
        root2.with_extension("auth.json"),
    )
    .unwrap();
    ok(&root2, &["pull", "-q", &name]);
    assert_eq!(
        ok(&root, &["logout", &reg.host]),
        format!("Removing login credentials for {}\n", reg.host)
    );
    assert!(!skiff(&root, &["push", &name]).status.success());
}

#[test]
fn skopeo_and_skiff_exchange_images_through_a_registry() {
    let skopeo = ["/usr/bin/skopeo", "/bin/skopeo"]
        .iter()
        .find(|p| Path::new(p).exists())
        .expect("skopeo is not installed: apt-get install skopeo");
    let reg = start_registry();
    let d = tempfile::tempdir().unwrap();
    // skopeo's own policy file, so nothing under /etc/containers is needed
    let policy = d.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let sk = |args: &[&str]| {
        let o = Command::new(skopeo)
            .arg("--policy")
            .arg(&policy)
            .args(args)
            .env("REGISTRY_AUTH_FILE", d.path().join("skopeo-auth.json"))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "skopeo {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    // skiff pushes, skopeo pulls into an OCI layout
    let id = push_busybox(d.path(), &reg, "skiff/x", "v1");
    let root = d.path().join("r");
    ok(&root, &["pull", "-q", &format!("{}/skiff/x:v1", reg.host)]);
    let from_skiff = format!("{}/skiff/fromskiff:v1", reg.host);
    ok(&root, &["tag", &id, &from_skiff]);
    ok(&root, &["push", "-q", &from_skiff]);
    let layout = d.path().join("layout");
    sk(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{from_skiff}"),
        &format!("oci:{}:v1", layout.display()),
    ]);
    assert!(layout.join("index.json").is_file());
    // skopeo pushes that layout under another name (as Docker v2s2), skiff pulls it
    let from_skopeo = format!("{}/skiff/fromskopeo:v1", reg.host);
    sk(&[
        "copy",
        "--dest-tls-verify=false",
        "--format",
        "v2s2",
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{from_skopeo}"),
    ]);
    let root2 = d.path().join("r2");
    ok(&root2, &["pull", "-q", &from_skopeo]);
    let v: serde_json::Value =
        serde_json::from_str(&ok(&root2, &["image", "inspect", &from_skopeo])).unwrap();
    assert_eq!(
        v[0]["Id"],
        serde_json::json!(id),
        "the config (image ID) survives the round trip"
    );
    assert_eq!(v[0]["Os"], serde_json::json!("linux"));
}

/// Push an index with an amd64 and an arm64/v8 image (each one uncompressed
/// tar layer holding `/etc/arch` with its architecture); returns the image
/// IDs (config digests) by architecture.
fn push_multi_arch(dir: &Path, reg: &Registry, repo: &str, tag: &str) -> Vec<(String, String)> {
    use serde_json::json;
    use skiff_image::digest::Digest;
    let client = skiff_image::registry::Client::new(Default::default()).unwrap();
    let r = skiff_image::registry::Repo::new(reg.host.clone(), repo);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut entries = Vec::new();
    let mut ids = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let tree = dir.join(format!("tree-{arch}"));
        std::fs::create_dir_all(tree.join("etc")).unwrap();
        std::fs::write(tree.join("etc/arch"), arch).unwrap();
        let tar = dir.join(format!("{arch}.tar"));
        skiff_testkit::write_tar(&tree, &tar);
        let layer = std::fs::read(&tar).unwrap();
        let layer_digest = Digest::of(&layer);
        let mut config = json!({
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["cat", "/etc/arch"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest.to_string()]},
        });
        if let Some(v) = variant {
            config["variant"] = json!(v);
        }
        let config = serde_json::to_vec(&config).unwrap();
        let config_digest = Digest::of(&config);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": skiff_image::manifest::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest.to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest.to_string(), "size": layer.len()}],
        }))
        .unwrap();
        let mut platform = json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            platform["variant"] = json!(v);
        }
        let len = manifest.len();
        let manifest_digest = rt.block_on(async {
            client
                .upload_blob_bytes(&r, &layer_digest, layer)
                .await
                .unwrap();
            client
                .upload_blob_bytes(&r, &config_digest, config)
                .await
                .unwrap();
            client
                .put_manifest(
                    &r,
                    &config_digest.hex()[..12],
                    skiff_image::manifest::OCI_MANIFEST,
                    manifest,
                )
                .await
                .unwrap()
        });
        entries.push(json!({
            "mediaType": skiff_image::manifest::OCI_MANIFEST,
            "digest": manifest_digest.to_string(), "size": len, "platform": platform,
        }));
        ids.push((arch.to_string(), config_digest.to_string()));
    }
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .unwrap();
    rt.block_on(async {
        client
            .put_manifest(&r, tag, "application/vnd.oci.image.index.v1+json", index)
            .await
            .unwrap()
    });
    ids
}

#[test]
fn platform_picks_one_image_of_a_multi_arch_index() {
    let reg = start_registry();
    let d = tempfile::tempdir().unwrap();
    let ids = push_multi_arch(d.path(), &reg, "skiff/multi", "1");
    let name = format!("{}/skiff/multi:1", reg.host);
    let arch_of = |root: &Path| {
        ok(
            root,
            &["image", "inspect", "--format", "{{.Architecture}}", &name],
        )
        .trim()
        .to_string()
    };

    // No --platform: this host's (linux/amd64).
    let host = d.path().join("host");
    ok(&host, &["pull", "-q", &name]);
    assert_eq!(arch_of(&host), skiff_testkit::oci_arch());
    let want = &ids
        .iter()
        .find(|(a, _)| a == skiff_testkit::oci_arch())
        .unwrap()
        .1;
    assert_eq!(ok(&host, &["images", "-q", "--no-trunc"]).trim(), want);

    // --platform linux/arm64 (the index says arm64/v8: a missing variant matches).
    let arm = d.path().join("arm");
    ok(&arm, &["pull", "-q", "--platform", "linux/arm64", &name]);
    assert_eq!(arch_of(&arm), "arm64");
    assert_eq!(ok(&arm, &["images", "-q", "--no-trunc"]).trim(), ids[1].1);
    let snapshot_arch = std::fs::read_dir(arm.join("image/snapshots"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path().join("fs/etc/arch")).ok())
        .collect::<Vec<_>>();
    assert_eq!(snapshot_arch, ["arm64"]);

    // A platform the index lacks: exit 1, an error naming it, nothing stored.
    let none = d.path().join("none");
    let o = skiff(&none, &["pull", "--platform", "linux/s390x", &name]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("linux/s390x"), "{err}");
    assert_eq!(ok(&none, &["images", "-q"]), "");
    // A malformed platform is refused before anything is fetched.
    let o = skiff(&none, &["pull", "--platform", "linux", &name]);
    assert_ne!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("platform"));
}
