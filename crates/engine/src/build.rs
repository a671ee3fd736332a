//! `build`: the builder (`skiff-build`) on this engine's image store, its
//! base images through `ensure_image` and its RUN steps through the runtime
//! in this process (no container record, no supervisor).

use crate::images::{PullOptions, PullPolicy};
use crate::model::Container;
use crate::{Engine, Error, ErrorKind, Result};
use serde_json::json;
use skiff_build::host::ExtraMount;
use skiff_build::{Host, HostError, Network, RunRequest};
use skiff_image::digest::Digest;
use std::io::Read;
use std::os::fd::AsRawFd;

pub use skiff_build::progress::{Event, Progress};
pub use skiff_build::{BuildOptions, Built};

struct BuildHost<'e> {
    engine: &'e Engine,
    pull: PullOptions,
}

/// The OCI mount of a step's extra mount.
fn oci_mount(m: &ExtraMount) -> serde_json::Value {
    match m {
        ExtraMount::Bind {
            source,
            target,
            readonly,
        } => json!({"destination": target, "type": "bind", "source": source,
            "options": ["rbind", "rprivate", if *readonly { "ro" } else { "rw" }]}),
        ExtraMount::Tmpfs { target, size } => {
            let mut options = vec!["nosuid".to_string(), "nodev".into()];
            if let Some(s) = size {
                options.push(format!("size={s}"));
            }
            json!({"destination": target, "type": "tmpfs", "source": "tmpfs", "options": options})
        }
    }
}

impl Host for BuildHost<'_> {
    fn image(&self, name: &str, pull: bool) -> std::result::Result<Digest, HostError> {
        let policy = if pull {
            PullPolicy::Always
        } else {
            PullPolicy::Missing
        };
        self.engine
            .ensure_image(name, policy, &self.pull)
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => HostError::NoSuchImage(e.to_string()),
                _ => HostError::Other(e.to_string()),
            })
    }

    fn fetch(&self, url: &str, to: &std::path::Path) -> std::result::Result<(), HostError> {
        let fail = |e: &dyn std::fmt::Display| HostError::Other(format!("ADD {url}: {e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(&e))?;
        rt.block_on(async {
            let mut resp = reqwest::get(url).await.map_err(|e| fail(&e))?;
            if !resp.status().is_success() {
                return Err(fail(&format!("invalid response status {}", resp.status())));
            }
            let mut f = std::fs::File::create(to).map_err(|e| fail(&e))?;
            while let Some(chunk) = resp.chunk().await.map_err(|e| fail(&e))? {
                std::io::Write::write_all(&mut f, &chunk).map_err(|e| fail(&e))?;
            }
            Ok(())
        })
    }

    fn run(
        &self,
        req: &RunRequest<'_>,
        output: &mut dyn FnMut(&[u8]),
    ) -> std::result::Result<i32, HostError> {
        let other = |e: &dyn std::fmt::Display| HostError::Other(e.to_string());
        let mut c = Container {
            id: crate::names::new_id(),
            name: String::new(),
            created: String::new(),
            image_id: String::new(),
            config: Default::default(),
            host: Default::default(),
            state: Default::default(),
        };
        c.config.env = req.env.clone();
        c.config.cmd = req.args.clone();
        c.config.user = req.user.clone();
        c.config.working_dir = req.cwd.clone();
        c.host.network_mode = match req.network {
            Network::None => "none".into(),
            Network::Host => "host".into(),
        };
        let input = crate::spec::SpecInput {
            rootfs: req.rootfs,
            etc_files: &req.etc_files,
            mounts: req.mounts.iter().map(oci_mount).collect(),
            init: None,
            console_size: None,
            netns_path: None,
        };
        let spec = crate::spec::build(&c, &input).map_err(|e| other(&e))?;
        std::fs::write(
            req.scratch.join("config.json"),
            serde_json::to_vec(&spec).expect("a spec serializes"),
        )
        .map_err(|e| other(&e))?;
        let paths = &self.engine.paths;
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| other(&e))?;
        let null = std::fs::File::open("/dev/null").map_err(|e| other(&e))?;
        let opts = skiff_runtime::container::CreateOpts {
            id: format!("build-{}", &c.id[..16]),
            bundle: req.scratch.to_path_buf(),
            root: paths.runtime_root(),
            seccomp_cache: Some(paths.runroot.join("seccomp")),
            stdio: Some([null.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()]),
            ..Default::default()
        };
        let created = skiff_runtime::container::create_child(&opts);
        drop(w);
        let pid = match created {
            Ok(pid) => pid,
            Err(e) => {
                let code = match e.exec_cause() {
                    Some(skiff_runtime::ExecCause::NotFound) => 127,
                    Some(skiff_runtime::ExecCause::PermissionDenied) => 126,
                    _ => return Err(other(&e)),
                };
                return Err(HostError::Exec {
                    code,
                    message: e.to_string(),
                });
            }
        };
        let started = skiff_runtime::container::start(&opts.root, &opts.id);
        if started.is_err() {
            // SAFETY: killing the container init we just made.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let mut reader = std::fs::File::from(r);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => output(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let mut status = 0;
        // SAFETY: waitpid on the child create_child made.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let _ = skiff_runtime::container::delete(&opts.root, &opts.id, true);
        started.map_err(|e| other(&e))?;
        Ok(skiff_runtime::signals::exit_code(status))
    }
}

impl Engine {
    /// `build`: the Dockerfile in `o`, built on this engine's store; base
    /// images are pulled with `pull` when missing (or always, `o.pull`).
    pub fn build(
        &self,
        o: &BuildOptions,
        pull: PullOptions,
        progress: &mut dyn Progress,
    ) -> Result<Built> {
        let host = BuildHost { engine: self, pull };
        skiff_build::build(&self.paths.root, &host, o, progress).map_err(Error::from)
    }
}

/// What `builder prune` removed: the cache entries' keys and the bytes
/// reclaimed.
#[derive(Debug, Clone, Default)]
pub struct CachePruned {
    pub removed: Vec<String>,
    pub bytes: u64,
}

impl Engine {
    /// `builder prune`: cache entries holding layers no image uses (every
    /// entry with `all`), only those unused for `older_than` when given;
    /// then whatever nothing holds any more.
    pub fn builder_prune(
        &self,
        all: bool,
        older_than: Option<std::time::Duration>,
    ) -> Result<CachePruned> {
        let mut images = self.images()?;
        let (image_blobs, _) = images.used_by_images()?;
        let cutoff = older_than.map(|d| crate::time::now_nanos() - d.as_nanos() as i64);
        let mut out = CachePruned::default();
        for e in images.catalog.cache_entries()? {
            if let Some(c) = cutoff {
                match crate::time::parse_rfc3339_nanos(&e.last_used) {
                    Some(t) if t >= c => continue,
                    _ => {}
                }
            }
            if !all && e.blobs.iter().all(|b| image_blobs.contains(b)) {
                continue;
            }
            images.catalog.cache_remove(&e.key)?;
            out.removed.push(e.key);
        }
        out.bytes = images.collect()?;
        let _ = std::fs::remove_dir_all(images.root().join("build-cache-mounts"));
        Ok(out)
    }

    /// `system df`'s build cache row: entries, those whose layers an image
    /// uses (active), the bytes of the layers the cache alone holds.
    pub(crate) fn build_cache_usage(&self) -> Result<crate::system::Usage> {
        let images = self.images()?;
        let (image_blobs, _) = images.used_by_images()?;
        let mut u = crate::system::Usage::default();
        let mut counted = std::collections::HashSet::new();
        for e in images.catalog.cache_entries()? {
            u.total += 1;
            if e.blobs.iter().all(|b| image_blobs.contains(b)) {
                u.active += 1;
            }
            for b in e.blobs.iter().filter(|b| !image_blobs.contains(*b)) {
                if counted.insert(b.clone()) {
                    let s = images.store.size(b).unwrap_or(0);
                    u.size += s;
                    u.reclaimable += s;
                }
            }
        }
        Ok(u)
    }
}
