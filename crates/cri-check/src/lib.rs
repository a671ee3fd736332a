//! Drive containerd's CRI the way kubelet does, to check skiff-runtime as a
//! Kubernetes node's OCI runtime (a RuntimeClass handler under containerd's
//! runc v2 shim) and to compare it with runc.
//!
//! [`Node`] is a private containerd set up by `scripts/containerd-node.sh`
//! (its own socket, root, state, CNI configuration, network namespace and
//! an offline sandbox image); [`Cri`] is a blocking client of its CRI gRPC
//! API; [`stream`] speaks Kubernetes' channel protocol to the streaming
//! exec and attach URLs containerd serves.

pub mod pods;
pub mod stream;

use std::path::{Path, PathBuf};
use std::process::Command;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

pub use k8s_cri::v1 as api;
pub use tonic::Code;

/// The repository's root (where `scripts/` is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/cri-check is two levels below the root")
        .to_path_buf()
}

/// The skiff binaries built beside this crate (`skiff`, `skiff-runtime`):
/// the directory of the running test or bench executable's profile.
pub fn built_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/PROFILE/deps/test-HASH or target/PROFILE/bench-name
    for dir in exe.ancestors().skip(1).take(2) {
        let p = dir.join(name);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "{name} is not built next to {}: cargo build -p skiff first",
        exe.display()
    )
}

/// Options of a private containerd.
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    /// The handlers' `SystemdCgroup` option.
    pub systemd_cgroup: bool,
    /// A registry served over plain HTTP (`HOST:PORT`).
    pub registry: Option<String>,
    /// A network namespace (`ip netns add NAME`) for containerd.
    pub netns: Option<String>,
    /// The pods' subnet.
    pub subnet: Option<String>,
    /// More runtime handlers: (name, runtime binary).
    pub extra_handlers: Vec<(String, PathBuf)>,
}

/// A private containerd with the `skiff` and `runc` runtime handlers;
/// stopped, with everything it made, when dropped.
pub struct Node {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl Node {
    pub fn start(o: &NodeOptions) -> Result<Node, String> {
        let dir = tempfile::Builder::new()
            .prefix("skiff-cri-")
            .tempdir_in("/var/tmp")
            .map_err(|e| e.to_string())?;
        let mut c = Command::new("bash");
        c.arg(repo_root().join("scripts/containerd-node.sh"))
            .arg("up")
            .arg(dir.path())
            .env("SKIFF", built_binary("skiff"))
            .env("SKIFF_RUNTIME", built_binary("skiff-runtime"))
            .env("SYSTEMD_CGROUP", o.systemd_cgroup.to_string());
        if let Some(r) = &o.registry {
            c.env("REGISTRY", r);
        }
        if let Some(n) = &o.netns {
            c.env("NETNS", n);
        }
        if let Some(s) = &o.subnet {
            c.env("SUBNET", s);
        }
        let extra: Vec<String> = o
            .extra_handlers
            .iter()
            .map(|(n, b)| format!("{n}={}", b.display()))
            .collect();
        c.env("EXTRA_HANDLERS", extra.join(" "));
        let out = c.output().map_err(|e| format!("containerd-node.sh: {e}"))?;
        let node = Node {
            socket: dir.path().join("containerd.sock"),
            dir,
        };
        if !out.status.success() {
            return Err(format!(
                "containerd-node.sh up failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(node)
    }

    /// containerd's log so far (for a failure's message).
    pub fn log_tail(&self, lines: usize) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Node {
    /// Stop containerd, its shims and whatever containers they left, and
    /// remove the node's directory (again on drop, then a no-op).
    pub fn stop(&self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("scripts/containerd-node.sh"))
            .arg("down")
            .arg(self.dir.path())
            .status();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A blocking client of a CRI endpoint's RuntimeService and ImageService:
/// `cri.block(cri.rs().version(VersionRequest::default()))`.
pub struct Cri {
    rt: tokio::runtime::Runtime,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

/// A CRI call's failure: its gRPC status code and message.
pub type Status = tonic::Status;

impl Cri {
    pub fn connect(socket: &Path) -> Result<Cri, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let path = socket.to_path_buf();
        let channel = rt
            .block_on(async move {
                Endpoint::try_from("http://[::]:0")?
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let path = path.clone();
                        async move {
                            Ok::<_, std::io::Error>(TokioIo::new(
                                tokio::net::UnixStream::connect(path).await?,
                            ))
                        }
                    }))
                    .await
            })
            .map_err(|e| format!("connecting to {}: {e}", socket.display()))?;
        Ok(Cri {
            rt,
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        })
    }

    /// The RuntimeService (a cheap handle on the one connection).
    pub fn rs(&self) -> RuntimeServiceClient<Channel> {
        self.runtime.clone()
    }

    /// The ImageService.
    pub fn is(&self) -> ImageServiceClient<Channel> {
        self.images.clone()
    }

    /// Run one call to completion.
    pub fn block<T>(
        &self,
        call: impl std::future::Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, Status> {
        self.rt.block_on(call).map(|r| r.into_inner())
    }

    /// Stop and remove the pod sandboxes `which` picks (with their
    /// containers), ignoring failures: cleanup after a run.
    pub fn remove_pods(&self, which: impl Fn(&api::PodSandbox) -> bool) {
        let Ok(list) = self.block(
            self.rs()
                .list_pod_sandbox(api::ListPodSandboxRequest::default()),
        ) else {
            return;
        };
        for p in list.items.into_iter().filter(|p| which(p)) {
            let _ = self.block(self.rs().stop_pod_sandbox(api::StopPodSandboxRequest {
                pod_sandbox_id: p.id.clone(),
            }));
            let _ = self.block(self.rs().remove_pod_sandbox(api::RemovePodSandboxRequest {
                pod_sandbox_id: p.id,
            }));
        }
    }
}

/// Remove the pods' cgroup parents whose names start with `prefix` in every
/// hierarchy (containerd leaves them), and what a slice holds (the scopes
/// systemd would have made).
pub fn remove_cgroup_parents(prefix: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in hierarchies.flatten() {
        let Ok(dirs) = std::fs::read_dir(h.path()) else {
            continue;
        };
        for d in dirs.flatten() {
            if !d.file_name().to_string_lossy().starts_with(prefix) || !d.path().is_dir() {
                continue;
            }
            if let Ok(inner) = std::fs::read_dir(d.path()) {
                for i in inner.flatten().filter(|i| i.path().is_dir()) {
                    let _ = std::fs::remove_dir(i.path());
                }
            }
            let _ = std::fs::remove_dir(d.path());
        }
    }
}
