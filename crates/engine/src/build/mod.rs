//! `build`: the builder (`skiff-build`) on this engine's image store, its
//! base images through `ensure_image` and its RUN steps through the runtime
//! in this process (no container record, no supervisor).

use crate::images::{PullOptions, PullPolicy};
use crate::model::Container;
use crate::{Engine, ErrorKind, Result};
use serde_json::json;
use skiff_build::host::ExtraMount;
use skiff_build::{Host, HostError, Network, RunRequest};
use skiff_image::digest::Digest;
use std::io::Read;
use std::os::fd::AsRawFd;

pub use skiff_build::progress::{Event, Progress};
pub use skiff_build::{BuildOptions, Built};

mod cache;
mod output;

pub use cache::{parse_cache_from, parse_cache_to, CachePruned, CacheRef, CacheTo};
pub use output::{parse_output, Dest, Output};

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
        crate::images::download(url, to).map_err(|e| HostError::Other(format!("ADD {url}: {e}")))
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
            joins: Vec::new(),
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

/// What a build reads and writes besides the store: `-o`, `--cache-from`,
/// `--cache-to`.
#[derive(Debug, Clone, Default)]
pub struct BuildIo {
    pub outputs: Vec<Output>,
    pub cache_from: Vec<CacheRef>,
    pub cache_to: Vec<CacheTo>,
    /// Verify TLS of the registries caches are in.
    pub tls_verify: bool,
}

/// A front end's progress, with the builder's vertices numbered after the
/// engine's own (the caches imported) and the highest number kept.
struct Numbered<'a> {
    inner: &'a mut dyn Progress,
    offset: usize,
    last: usize,
}

impl Progress for Numbered<'_> {
    fn event(&mut self, e: Event<'_>) {
        let e = e.map_id(|id| id + self.offset);
        if let Event::Start { id, .. } = e {
            self.last = self.last.max(id);
        }
        self.inner.event(e);
    }
}

impl Numbered<'_> {
    /// A vertex of the engine's own: `name`, done by `f`.
    fn vertex<T>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.last += 1;
        let id = self.last;
        self.inner.event(Event::Start { id, name });
        let t0 = std::time::Instant::now();
        let r = f(self);
        let elapsed = t0.elapsed();
        match &r {
            Ok(_) => self.inner.event(Event::Done { id, elapsed }),
            Err(e) => self.inner.event(Event::Failed {
                id,
                elapsed,
                message: &e.to_string(),
            }),
        }
        r
    }
}

impl Engine {
    /// `build`: the Dockerfile in `o`, built on this engine's store; base
    /// images are pulled with `pull` when missing (or always, `o.pull`).
    /// Steps the store lacks come from `io.cache_from`; the image is also
    /// written to each of `io.outputs` (`-o`) and its steps' cache to
    /// `io.cache_to`.
    pub fn build(
        &self,
        mut o: BuildOptions,
        pull: PullOptions,
        io: &BuildIo,
        progress: &mut dyn Progress,
    ) -> Result<Built> {
        let mut p = Numbered {
            inner: progress,
            offset: 0,
            last: 0,
        };
        for at in &io.cache_from {
            let imported = p.vertex(&format!("importing cache manifest from {at}"), |p| {
                self.import_caches(std::slice::from_ref(at), io.tls_verify, &mut |w| {
                    p.inner.event(Event::Warning { text: &w })
                })
            })?;
            o.cache_from.extend(imported);
        }
        p.offset = p.last;
        let host = BuildHost { engine: self, pull };
        let built = skiff_build::build(&self.paths.root, &host, &o, &mut p)?;
        for out in &io.outputs {
            self.export_build(&built.id, out)?;
        }
        for to in &io.cache_to {
            p.vertex(&format!("exporting cache to {}", to.at), |_| {
                self.export_cache(&built, to, io.tls_verify)
            })?;
        }
        Ok(built)
    }
}
