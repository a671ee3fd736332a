//! One pod's life as kubelet drives it through the CRI, with what kubelet
//! checks at each step. `run_pod` returns the observations (IDs and names
//! replaced by placeholders) that two handlers must share.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use skiff_cri_check::stream::{Output, Session};
use skiff_cri_check::{api, built_binary, pods, Cri, Node, NodeOptions, Status};
use skiff_testkit::registry::{start_registry_in, Registry};
use skiff_testkit::NetNs;

type R<T> = Result<T, String>;

macro_rules! ensure {
    ($c:expr, $($f:tt)+) => {
        if !$c {
            return Err(format!($($f)+));
        }
    };
}

mod pod;
pub use pod::{run_pod, stop_right_after_exit};

fn st(what: &str) -> impl Fn(Status) -> String + '_ {
    move |s| format!("{what}: {:?} {}", s.code(), s.message())
}

/// A private containerd in a network namespace of the test's own, with a
/// registry beside it holding busybox. Dropped in this order: the client,
/// containerd (and its shims), the registry, the namespace.
pub struct Env {
    pub cri: Cri,
    pub node: Node,
    _registry: Registry,
    pub ns: NetNs,
    pub image: String,
    pub systemd: bool,
    /// This environment's number in the test process: pod names and cgroup
    /// parents apart from those of the tests running beside it.
    n: u32,
}

impl Env {
    pub fn new(systemd: bool) -> Env {
        let ns = NetNs::new("cri");
        let registry = start_registry_in(Some(&ns), None);
        let image = format!("{}/cri/busybox:1", registry.host);
        push_busybox(&ns, &image);
        let node = Node::start(&NodeOptions {
            systemd_cgroup: systemd,
            registry: Some(registry.host.clone()),
            netns: Some(ns.name.clone()),
            subnet: Some("10.88.0.0/16".into()),
            extra_handlers: vec![],
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let cri = Cri::connect(&node.socket).unwrap_or_else(|e| panic!("{e}"));
        Env {
            cri,
            node,
            _registry: registry,
            ns,
            image,
            systemd,
            n: {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
        }
    }

    /// The start of this environment's pod names.
    fn pod_prefix(&self) -> String {
        format!("skiffcri{}n{}x", std::process::id(), self.n)
    }

    fn pod_name(&self, handler: &str) -> String {
        // Apart per test (they run in one process at once): a cleanup
        // removes the cgroup parents its prefix names.
        format!("{}{handler}", self.pod_prefix())
    }

    fn cgroup_parent(&self, handler: &str) -> String {
        pods::cgroup_parent(&self.pod_name(handler), self.systemd)
    }

    /// A TCP connection to `url`'s host, made in the namespace.
    fn connect(&self, url: &str) -> R<TcpStream> {
        let host = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        self.ns
            .enter(move || TcpStream::connect(&host))
            .map_err(|e| format!("connecting to {url}: {e}"))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Containers a failed step left die with the node; then their
        // cgroup parents can go.
        self.node.stop();
        skiff_cri_check::remove_cgroup_parents(&self.pod_prefix());
    }
}

/// Busybox, made offline, pushed to the registry as `image` by skiff.
fn push_busybox(ns: &NetNs, image: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    skiff_testkit::make_busybox_rootfs(&rootfs);
    let tar = tmp.path().join("rootfs.tar");
    skiff_testkit::write_tar(&rootfs, &tar);
    let skiff = built_binary("skiff");
    let root = ["--root", "--runroot"].map(|f| (f, tmp.path().join(&f[2..])));
    let run = |mut c: std::process::Command, args: &[&str]| {
        for (f, p) in &root {
            c.arg(f).arg(p);
        }
        let out = c.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "skiff {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        std::process::Command::new(&skiff),
        &["import", tar.to_str().unwrap(), image],
    );
    run(ns.command(&skiff), &["push", image]);
}

fn image_spec(image: &str) -> Option<api::ImageSpec> {
    Some(api::ImageSpec {
        image: image.into(),
        ..Default::default()
    })
}

/// Stop and remove whatever `handler`'s pods left (a step failed half-way),
/// and the pods' cgroup parents.
pub fn cleanup(env: &Env, handler: &str) {
    env.cri.remove_pods(|p| p.runtime_handler == handler);
    skiff_cri_check::remove_cgroup_parents(&env.pod_name(handler));
}

fn wait_for(timeout: Duration, what: &str, mut f: impl FnMut() -> R<bool>) -> R<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if f()? {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn container_status(cri: &Cri, id: &str) -> R<api::ContainerStatusResponse> {
    cri.block(cri.rs().container_status(api::ContainerStatusRequest {
        container_id: id.into(),
        verbose: true,
    }))
    .map_err(st("ContainerStatus"))
}

fn sandbox_status(cri: &Cri, pod: &str) -> R<api::PodSandboxStatus> {
    cri.block(cri.rs().pod_sandbox_status(api::PodSandboxStatusRequest {
        pod_sandbox_id: pod.into(),
        verbose: false,
    }))
    .map_err(st("PodSandboxStatus"))?
    .status
    .ok_or_else(|| "PodSandboxStatus: no status".to_string())
}

fn containers_of(cri: &Cri, pod: &str) -> R<Vec<api::Container>> {
    Ok(cri
        .block(cri.rs().list_containers(api::ListContainersRequest {
            filter: Some(api::ContainerFilter {
                pod_sandbox_id: pod.into(),
                ..Default::default()
            }),
        }))
        .map_err(st("ListContainers"))?
        .containers)
}

fn exec_sync(cri: &Cri, id: &str, cmd: &[&str]) -> Result<api::ExecSyncResponse, Status> {
    cri.block(cri.rs().exec_sync(api::ExecSyncRequest {
        container_id: id.into(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        timeout: 10,
    }))
}

fn exec_text(cri: &Cri, id: &str, cmd: &[&str]) -> R<String> {
    let r = exec_sync(cri, id, cmd).map_err(st("ExecSync"))?;
    ensure!(
        r.exit_code == 0,
        "ExecSync {cmd:?}: exit {} {}",
        r.exit_code,
        String::from_utf8_lossy(&r.stderr)
    );
    Ok(String::from_utf8_lossy(&r.stdout).into_owned())
}

/// The lines of a CRI log file (`TIMESTAMP STREAM TAG TEXT`), each checked
/// for the format kubelet parses, without their timestamps.
fn log_lines(path: &Path) -> R<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = vec![];
    for line in text.lines() {
        let mut f = line.splitn(4, ' ');
        let (ts, stream, tag) = (f.next(), f.next(), f.next());
        let rest = f.next().unwrap_or("");
        let ok_ts = ts.is_some_and(|t| t.len() >= 20 && t.as_bytes()[10] == b'T');
        ensure!(
            ok_ts && matches!(stream, Some("stdout" | "stderr")) && matches!(tag, Some("F" | "P")),
            "{}: not a CRI log line: {line:?}",
            path.display()
        );
        out.push(format!("{} {} {rest}", stream.unwrap(), tag.unwrap()));
    }
    Ok(out)
}

/// Log lines, stdout's before stderr's, each stream's in order (the order
/// between the two streams is the order two pipes happened to be read in).
fn by_stream(lines: Vec<String>) -> Vec<String> {
    let (mut out, err): (Vec<String>, Vec<String>) =
        lines.into_iter().partition(|l| l.starts_with("stdout "));
    out.extend(err);
    out
}

/// Attach to container `id`'s stdin, stdout and stderr through the
/// streaming URL containerd returns.
fn attach(env: &Env, id: &str) -> R<Session> {
    let cri = &env.cri;
    let url = cri
        .block(cri.rs().attach(api::AttachRequest {
            container_id: id.into(),
            stdin: true,
            tty: false,
            stdout: true,
            stderr: true,
        }))
        .map_err(st("Attach"))?
        .url;
    Session::open(&url, env.connect(&url)?)
}

fn attach_and_say(env: &Env, id: &str, word: &str) -> R<Output> {
    let mut s = attach(env, id)?;
    s.send_stdin(format!("{word}\n").as_bytes())?;
    let (out, err) = (format!("got:{word}\n"), format!("err:{word}\n"));
    let got = s
        .read_until(Duration::from_secs(10), |o| {
            o.stdout_text().contains(&out) && o.stderr_text().contains(&err)
        })?
        .clone();
    s.close();
    Ok(got)
}

/// The cgroup (v1 memory hierarchy) of a process in the container, as
/// /proc/self/cgroup inside it names it.
fn memory_cgroup(cri: &Cri, id: &str) -> R<String> {
    let text = exec_text(cri, id, &["cat", "/proc/self/cgroup"])?;
    text.lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
            ctl.split(',')
                .any(|c| c == "memory")
                .then(|| path.to_string())
        })
        .ok_or_else(|| format!("no memory cgroup in {text:?}"))
}

/// Which runtime wrote a container's `state.json`: skiff-runtime keeps the
/// init's start time (`pid_start`), runc its `init_process_pid`.
fn runtime_writer(dir: &Path) -> R<&'static str> {
    let p = dir.join("state.json");
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
    if v.get("pid_start").is_some() {
        Ok("skiff")
    } else if v.get("init_process_pid").is_some() {
        Ok("runc")
    } else {
        Err(format!("{}: neither runtime's state", p.display()))
    }
}

fn read_trim(p: impl AsRef<Path>) -> R<String> {
    std::fs::read_to_string(p.as_ref())
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{}: {e}", p.as_ref().display()))
}

/// A pod sandbox of `handler`'s, its logs in `NODE/LOGS/HANDLER`: its ID,
/// configuration and log directory.
fn run_sandbox(
    env: &Env,
    handler: &str,
    logs: &str,
) -> R<(String, api::PodSandboxConfig, PathBuf)> {
    let cri = &env.cri;
    let name = env.pod_name(handler);
    let log_dir = env.node.dir.path().join(logs).join(handler);
    std::fs::create_dir_all(&log_dir).map_err(|e| e.to_string())?;
    let uid = format!("uid-{logs}-{name}");
    let cfg = pods::sandbox(&name, &uid, &log_dir, &env.cgroup_parent(handler));
    let pod = cri
        .block(cri.rs().run_pod_sandbox(api::RunPodSandboxRequest {
            config: Some(cfg.clone()),
            runtime_handler: handler.into(),
        }))
        .map_err(st("RunPodSandbox"))?
        .pod_sandbox_id;
    Ok((pod, cfg, log_dir))
}
