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
        let mut spec = crate::spec::build(&c, &input).map_err(|e| other(&e))?;
        // A RUN gets the user's own group only, as BuildKit runs it.
        if let Some(u) = spec["process"]["user"].as_object_mut() {
            u.remove("additionalGids");
        }
        std::fs::write(
            req.scratch.join("config.json"),
            serde_json::to_vec(&spec).expect("a spec serializes"),
        )
        .map_err(|e| other(&e))?;
        let paths = &self.engine.paths;
        run_in_helper(
            &self.engine.supervisor_exe,
            &[
                paths.runtime_root().to_string_lossy().as_ref(),
                &format!("build-{}", &c.id[..16]),
                req.scratch.to_string_lossy().as_ref(),
                paths.runroot.join("seccomp").to_string_lossy().as_ref(),
            ],
            output,
        )
    }
}

/// Run a bundle through `__run-bundle` in a process of its own (the
/// runtime forks and must do so from a single-threaded process; a build's
/// stages run on threads, and a server is threaded): its stdout and stderr
/// to `output` as they come, its result from the status pipe (fd 3).
fn run_in_helper(
    exe: &std::path::Path,
    args: &[&str],
    output: &mut dyn FnMut(&[u8]),
) -> std::result::Result<i32, HostError> {
    use std::os::fd::OwnedFd;
    use std::os::unix::process::CommandExt;
    let other = |e: &dyn std::fmt::Display| HostError::Other(e.to_string());
    let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
    let (r, w) = nix::unistd::pipe2(cloexec).map_err(|e| other(&e))?;
    let (status_r, status_w) = nix::unistd::pipe2(cloexec).map_err(|e| other(&e))?;
    let w2: OwnedFd = w.try_clone().map_err(|e| other(&e))?;
    let status_fd = status_w.as_raw_fd();
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("__run-bundle")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(w))
        .stderr(std::process::Stdio::from(w2));
    // SAFETY: dup2 is async-signal-safe; it puts the status pipe on fd 3
    // of the child only (dup2 clears close-on-exec on the copy).
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(status_fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| other(&format!("{}: {e}", exe.display())))?;
    // The parent's copies of the write ends go, so EOF comes when the
    // helper and the container are gone.
    drop(cmd);
    drop(status_w);
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
    let _ = child.wait();
    let mut status = String::new();
    let _ = std::fs::File::from(status_r).read_to_string(&mut status);
    let (kind, rest) = status.split_once(' ').unwrap_or((status.as_str(), ""));
    match kind {
        "exit" => rest
            .trim()
            .parse()
            .map_err(|_| other(&format!("bad status {status:?}"))),
        "exec" => {
            let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
            Err(HostError::Exec {
                code: code.parse().unwrap_or(126),
                message: message.to_string(),
            })
        }
        "error" => Err(HostError::Other(rest.to_string())),
        _ => Err(other(&"the build step's runner died")),
    }
}

/// `__run-bundle RUNTIME_ROOT ID BUNDLE SECCOMP_CACHE`: create, start and
/// wait for one container on our stdio, then delete it; the result on fd
/// 3 (`exit N`, `exec CODE MESSAGE`, `error MESSAGE`).
pub fn run_bundle_main(args: &[String]) -> i32 {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let [root, id, bundle, seccomp] = args else {
        eprintln!("usage: __run-bundle RUNTIME_ROOT ID BUNDLE SECCOMP_CACHE");
        return 2;
    };
    // SAFETY: fd 3 is the status pipe our parent set up for us.
    let mut status = unsafe { std::fs::File::from_raw_fd(3) };
    let opts = skiff_runtime::container::CreateOpts {
        id: id.clone(),
        bundle: bundle.into(),
        root: root.into(),
        seccomp_cache: Some(seccomp.into()),
        stdio: Some([0, 1, 2]),
        ..Default::default()
    };
    let pid = match skiff_runtime::container::create_child(&opts) {
        Ok(pid) => pid,
        Err(e) => {
            let _ = match e.exec_cause() {
                Some(skiff_runtime::ExecCause::NotFound) => write!(status, "exec 127 {e}"),
                Some(skiff_runtime::ExecCause::PermissionDenied) => write!(status, "exec 126 {e}"),
                _ => write!(status, "error {e}"),
            };
            return 125;
        }
    };
    // Our stdio stays with the container only.
    let null = std::fs::File::open("/dev/null").ok();
    if let Some(n) = &null {
        for fd in 0..3 {
            // SAFETY: dup2 onto our own standard fds.
            unsafe { libc::dup2(n.as_raw_fd(), fd) };
        }
    }
    let started = skiff_runtime::container::start(&opts.root, &opts.id);
    if started.is_err() {
        // SAFETY: killing the container init we just made.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let mut st = 0;
    // SAFETY: waitpid on the child create_child made.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    let _ = skiff_runtime::container::delete(&opts.root, &opts.id, true);
    let code = skiff_runtime::signals::exit_code(st);
    let _ = match started {
        Ok(()) => write!(status, "exit {code}"),
        Err(e) => write!(status, "error {e}"),
    };
    code
}

impl Engine {
    /// `build`: the Dockerfile in `o`, built on this engine's store; base
    /// images are pulled with `pull` when missing (or always, `o.pull`).
    /// The image is also written to each of `outputs` (`-o`).
    pub fn build(
        &self,
        o: &BuildOptions,
        pull: PullOptions,
        outputs: &[Output],
        progress: &mut dyn Progress,
    ) -> Result<Built> {
        let host = BuildHost { engine: self, pull };
        let built = skiff_build::build(&self.paths.root, &host, o, progress)?;
        for out in outputs {
            self.export_build(&built.id, out)?;
        }
        Ok(built)
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
        if all {
            let _ = std::fs::remove_dir_all(skiff_build::statcache::dir(images.root()));
        }
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

/// Where a build's result goes besides the image store (`-o`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `type=docker|oci`: an image archive, as `save` writes it.
    Archive(crate::images::ArchiveFormat, Dest),
    /// `type=tar`: the image's files as one tar.
    Tar(Dest),
    /// `type=local`: the image's files in a directory.
    Local(std::path::PathBuf),
}

/// A file, or standard output (`dest=-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    File(std::path::PathBuf),
    Stdout,
}

/// `-o` as docker build takes it: `type=TYPE,dest=PATH`, or a bare path (a
/// directory, `type=local`); `-` alone is a tar on standard output.
pub fn parse_output(spec: &str) -> Result<Output> {
    if !spec.contains('=') {
        return Ok(match spec {
            "-" => Output::Tar(Dest::Stdout),
            dir => Output::Local(dir.into()),
        });
    }
    let mut kind = None;
    let mut dest = None;
    for part in spec.split(',') {
        match part.split_once('=') {
            Some(("type", t)) => kind = Some(t.to_string()),
            Some(("dest", d)) => dest = Some(d.to_string()),
            _ => return Err(Error::Invalid(format!("invalid output {spec:?}"))),
        }
    }
    let dest = dest.ok_or_else(|| Error::Invalid(format!("output {spec:?}: dest is required")))?;
    let file = || {
        if dest == "-" {
            Dest::Stdout
        } else {
            Dest::File(dest.clone().into())
        }
    };
    Ok(match kind.as_deref() {
        Some("local") => Output::Local(dest.clone().into()),
        Some("tar") => Output::Tar(file()),
        Some("docker") => Output::Archive(crate::images::ArchiveFormat::DockerArchive, file()),
        Some("oci") => Output::Archive(crate::images::ArchiveFormat::OciArchive, file()),
        other => {
            return Err(Error::Invalid(format!(
                "output {spec:?}: unsupported type {}",
                other.unwrap_or("(none)")
            )))
        }
    })
}

impl Engine {
    /// Write the built image `id` to `out`.
    fn export_build(&self, id: &Digest, out: &Output) -> Result<()> {
        let open = |d: &Dest| -> Result<Box<dyn std::io::Write>> {
            Ok(match d {
                Dest::Stdout => Box::new(std::io::stdout().lock()),
                Dest::File(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p).map_err(crate::io_err("creating", p))?,
                )),
            })
        };
        match out {
            Output::Archive(format, d) => self.image_save(&[id.to_string()], *format, open(d)?),
            Output::Tar(d) => self.with_image_files(id, |root| {
                let mut b = tar::Builder::new(open(d)?);
                b.follow_symlinks(false);
                b.append_dir_all(".", root)
                    .and_then(|()| b.into_inner().map(|_| ()))
                    .map_err(|e| Error::Internal(format!("writing the image's files: {e}")))
            }),
            Output::Local(dir) => self.with_image_files(id, |root| {
                std::fs::create_dir_all(dir).map_err(crate::io_err("creating", dir))?;
                // Through a tar, which keeps modes, owners, times and links.
                let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                    .map_err(|e| Error::Internal(format!("pipe: {e}")))?;
                let (r, w) = (std::fs::File::from(r), std::fs::File::from(w));
                std::thread::scope(|s| {
                    let writer = s.spawn(move || {
                        let mut b = tar::Builder::new(w);
                        b.follow_symlinks(false);
                        b.append_dir_all(".", root).and_then(|()| b.finish())
                    });
                    let mut a = tar::Archive::new(r);
                    a.set_preserve_permissions(true);
                    a.set_preserve_ownerships(true);
                    a.set_preserve_mtime(true);
                    a.set_overwrite(true);
                    let unpacked = a.unpack(dir);
                    drop(a);
                    let written = writer.join().expect("a tar writer panicked");
                    unpacked
                        .and(written)
                        .map_err(|e| Error::Internal(format!("writing {}: {e}", dir.display())))
                })
            }),
        }
    }

    /// Run `f` on the image's files: its only layer's directory, or its
    /// layers mounted read-only, unmounted after.
    fn with_image_files<T>(
        &self,
        id: &Digest,
        f: impl FnOnce(&std::path::Path) -> Result<T>,
    ) -> Result<T> {
        let dirs = self.images()?.layer_dirs(id)?;
        if let [only] = dirs.as_slice() {
            return f(only);
        }
        let at = tempfile_dir(&self.paths.root)?;
        if dirs.is_empty() {
            let r = f(&at);
            let _ = std::fs::remove_dir_all(&at);
            return r;
        }
        let spec = skiff_image::overlay::OverlaySpec {
            lower: dirs,
            upper: None,
            work: None,
            volatile: false,
        };
        skiff_image::overlay::mount(&spec, &at).map_err(|e| Error::Internal(e.to_string()))?;
        let r = f(&at);
        crate::mount::unmount(&at);
        let _ = std::fs::remove_dir_all(&at);
        r
    }
}

/// A new empty directory under `<root>/tmp`.
fn tempfile_dir(root: &std::path::Path) -> Result<std::path::PathBuf> {
    let d = root
        .join("tmp")
        .join(format!("export-{}", crate::names::new_id()));
    std::fs::create_dir_all(&d).map_err(crate::io_err("creating", &d))?;
    Ok(d)
}
