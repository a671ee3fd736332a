//! Test fixtures made offline: busybox root filesystems and OCI bundles.
//!
//! Every crate's tests build their images and bundles through this one helper, from
//! Debian's busybox-static (`/bin/busybox`), so no registry is ever needed.

pub mod dockerd;
pub mod registry;

use serde_json::{json, Value};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the static busybox binary lives on the test machine.
pub fn busybox_path() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        let p = PathBuf::from(p);
        if p.exists() {
            return p;
        }
    }
    panic!("busybox-static is not installed (apt-get install busybox-static)");
}

/// Populate `dir` with a minimal busybox root filesystem: /bin/busybox plus a
/// symlink for every applet, and the usual top-level directories.
pub fn make_busybox_rootfs(dir: &Path) {
    for d in [
        "bin", "dev", "etc", "proc", "sys", "tmp", "root", "var", "usr/bin", "run",
    ] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let bb = dir.join("bin/busybox");
    std::fs::copy(busybox_path(), &bb).unwrap();
    std::fs::set_permissions(&bb, std::fs::Permissions::from_mode(0o755)).unwrap();
    for applet in applets() {
        let link = dir.join("bin").join(&applet);
        if applet != "busybox" && !link.exists() {
            symlink("busybox", &link).unwrap();
        }
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nnobody:x:65534:\n").unwrap();
}

fn applets() -> Vec<String> {
    static LIST: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        let out = Command::new(busybox_path())
            .arg("--list")
            .output()
            .expect("running busybox --list");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    })
    .clone()
}

/// An OCI bundle in a temporary directory: `rootfs/` (busybox) and `config.json`.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub config: Value,
}

impl Bundle {
    /// A busybox bundle whose process runs `args`, with the default config.
    pub fn busybox(args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("skiff-bundle-")
            .tempdir()
            .unwrap();
        make_busybox_rootfs(&dir.path().join("rootfs"));
        let config = default_config(args);
        let b = Bundle { dir, config };
        b.write();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Change the config with `f` and write it out again.
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) {
        f(&mut self.config);
        self.write();
    }

    pub fn write(&self) {
        std::fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }
}

/// The default configuration `skiff-runtime spec` writes (runc's default), with
/// `args` as the process and no terminal.
pub fn default_config(args: &[&str]) -> Value {
    let mut c: Value = serde_json::from_str(&skiff_runtime::runc_cli::default_spec(false))
        .expect("the default spec is JSON");
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(args);
    c
}

/// A fresh state root for a test, removed on drop.
pub fn state_root() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("skiff-root-")
        .tempdir()
        .unwrap()
}

/// A unique container id for a test.
pub fn unique_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Write a tar archive of the contents of `dir` (its entries at the archive's top
/// level, owned by root) to `out`, with the system `tar`.
pub fn write_tar(dir: &Path, out: &Path) {
    let st = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .arg(".")
        .status()
        .expect("running tar");
    assert!(st.success(), "tar of {} failed: {st}", dir.display());
}

/// The `sha256:<hex>` digest of a file, with the system `sha256sum`.
pub fn sha256_digest(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("running sha256sum");
    assert!(out.status.success(), "sha256sum {} failed", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.split_whitespace().next().expect("sha256sum output");
    format!("sha256:{hex}")
}

/// The OCI/Go name of this machine's architecture (`amd64`, `arm64`, ...).
pub fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Write an OCI image layout tarball (`oci-layout`, `index.json`, `blobs/sha256/...`)
/// holding one image whose single gzip layer is the tree `rootfs`, to `out`.
/// `index.json` names the image `name` (annotations `io.containerd.image.name`
/// and `org.opencontainers.image.ref.name`), so `ctr images import` and
/// `podman load` accept it. `cmd` becomes the image's default command.
pub fn write_oci_image_archive(rootfs: &Path, name: &str, cmd: &[&str], out: &Path) {
    let work = tempfile::Builder::new()
        .prefix("skiff-oci-")
        .tempdir()
        .unwrap();
    let layout = work.path().join("layout");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    // Store a file as a blob under its digest; returns (digest, size).
    let put = |src: &Path| -> (String, u64) {
        let digest = sha256_digest(src);
        let size = std::fs::metadata(src).unwrap().len();
        let hex = digest.strip_prefix("sha256:").unwrap();
        std::fs::copy(src, blobs.join(hex)).unwrap();
        (digest, size)
    };
    let put_json = |v: &Value, file: &str| -> (String, u64) {
        let p = work.path().join(file);
        std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
        put(&p)
    };

    let layer_tar = work.path().join("layer.tar");
    write_tar(rootfs, &layer_tar);
    let diff_id = sha256_digest(&layer_tar);
    let st = Command::new("gzip")
        .args(["-n", "-f"])
        .arg(&layer_tar)
        .status()
        .expect("running gzip");
    assert!(st.success(), "gzip failed: {st}");
    let (layer_digest, layer_size) = put(&work.path().join("layer.tar.gz"));

    let config = json!({
        "architecture": oci_arch(),
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": cmd,
            "WorkingDir": "/"
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "skiff-testkit"}]
    });
    let (config_digest, config_size) = put_json(&config, "config.json");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": layer_size
        }]
    });
    let (manifest_digest, manifest_size) = put_json(&manifest, "manifest.json");
    let tag = name
        .rsplit_once(':')
        .filter(|(_, t)| !t.contains('/'))
        .map_or("latest", |(_, t)| t);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "platform": {"architecture": oci_arch(), "os": "linux"},
            "annotations": {
                "io.containerd.image.name": name,
                "org.opencontainers.image.ref.name": tag
            }
        }]
    });
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        serde_json::to_vec(&json!({"imageLayoutVersion": "1.0.0"})).unwrap(),
    )
    .unwrap();
    write_tar(&layout, out);
}

/// A network namespace of a test's own (`ip netns add`), with `lo` up;
/// deleted, with every bridge, veth and nftables rule made in it, when
/// dropped. Commands run in it through `nsenter --net`, which leaves the
/// mount namespace alone (unlike `ip netns exec`), so processes inside see
/// the same mounts as the test.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new(prefix: &str) -> NetNs {
        let name = unique_id(prefix);
        let name: String = name.chars().take(30).collect();
        let ok = std::process::Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "ip netns add {name} failed");
        let ns = NetNs { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// /run/netns/NAME.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// `program` run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut c = std::process::Command::new("nsenter");
        c.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(program);
        c
    }

    /// Run `f` on a thread of its own that has entered the namespace, so
    /// sockets it opens (a connect to 127.0.0.1, a bind) are the
    /// namespace's; the caller's thread is never switched.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = self.path();
        std::thread::scope(|s| {
            s.spawn(move || {
                let ns = std::fs::File::open(&path).expect("opening the netns");
                // SAFETY: setns with an fd we hold open; it switches only this
                // thread, which runs nothing but `f` and then ends.
                let r = unsafe {
                    libc::setns(std::os::fd::AsRawFd::as_raw_fd(&ns), libc::CLONE_NEWNET)
                };
                assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .expect("the thread in the netns panicked")
        })
    }

    /// `ip -n NAME args...`; panics on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let o = std::process::Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .expect("running ip");
        assert!(
            o.status.success(),
            "ip -n {} {args:?}: {}",
            self.name,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
