//! How long a pod takes to start through containerd's CRI with each
//! runtime handler: RunPodSandbox + CreateContainer + StartContainer until
//! the container is running, skiff-runtime against runc, in one run
//! (alternating, so both see the same machine), medians of RUNS.
//!
//! The floor is what containerd and its shim cost whatever the runtime: the
//! same starts through handlers whose runtime binary is this program in its
//! timing role (`timed-NAME`: it runs the real runtime and appends the time
//! of each invocation to a log); a start's time minus its runtime
//! invocations' time is containerd's and the shim's part.
//!
//! Usage: cri-bench [RUNS]   (run by bench/cri.sh, which builds it)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use skiff_cri_check::{api, pods, Cri, Node, NodeOptions};

fn main() {
    let argv0 = std::env::args().next().unwrap_or_default();
    let me = Path::new(&argv0)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(name) = me.strip_prefix("timed-") {
        std::process::exit(timed(Path::new(&argv0), name));
    }
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    if let Err(e) = bench(runs) {
        eprintln!("cri-bench: {e}");
        std::process::exit(1);
    }
}

/// The timing role: run the runtime named in `PATH.target` with our
/// arguments, append `SECONDS ARGS` to `PATH.log`, exit as it exited.
fn timed(link: &Path, name: &str) -> i32 {
    let target = std::fs::read_to_string(link.with_extension("target"))
        .unwrap_or_else(|_| panic!("no target for timed-{name}"));
    let t0 = Instant::now();
    let st = std::process::Command::new(target.trim())
        .args(std::env::args_os().skip(1))
        .status();
    let took = t0.elapsed();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(link.with_extension("log"))
    {
        let _ = writeln!(f, "{:.6} {}", took.as_secs_f64(), args.join(" "));
    }
    match st {
        Ok(s) => s.code().unwrap_or(1),
        Err(_) => 127,
    }
}

fn bench(runs: usize) -> Result<(), String> {
    let ns = skiff_testkit::NetNs::new("cribench");
    let node = Node::start(&NodeOptions {
        netns: Some(ns.name.clone()),
        extra_handlers: vec![
            ("timed-skiff".into(), timed_link(&ns, "skiff")?),
            ("timed-runc".into(), timed_link(&ns, "runc")?),
        ],
        ..Default::default()
    })?;
    let cri = Cri::connect(&node.socket)?;
    let logs = node.dir.path().join("pods");
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let handlers = ["skiff", "runc", "timed-skiff", "timed-runc"];
    let mut times: Vec<Vec<Duration>> = vec![vec![]; handlers.len()];
    let mut runtime_part: Vec<Vec<Duration>> = vec![vec![]; handlers.len()];
    // One warm-up start per handler, then RUNS each, alternating.
    for round in 0..=runs {
        for (h, handler) in handlers.iter().enumerate() {
            let log = timing_log(&ns, handler);
            let _ = std::fs::remove_file(&log);
            let took = start_pod(&cri, handler, &logs, round)?;
            let spent: Duration = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split(' ').next()?.parse::<f64>().ok())
                .map(Duration::from_secs_f64)
                .sum();
            if round > 0 {
                times[h].push(took);
                runtime_part[h].push(spent);
            }
            remove_pods(&cri);
        }
    }
    let _ = std::fs::remove_dir_all(timers(&ns));
    let med = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1000.0
    };
    println!("pod start through the CRI (RunPodSandbox + CreateContainer + StartContainer), median of {runs}");
    println!("{:<12} {:>10}", "handler", "ms");
    for (h, handler) in handlers.iter().enumerate().take(2) {
        println!("{:<12} {:>10.1}", handler, med(&times[h]));
    }
    let (s, r) = (med(&times[0]), med(&times[1]));
    println!("ratio skiff/runc: {:.2} (target <= 0.7)", s / r);
    println!("through the timing wrapper (one more fork+exec per runtime call):");
    println!(
        "{:<12} {:>10} {:>14} {:>22}",
        "handler", "total ms", "in runtime ms", "containerd+shim ms"
    );
    for (h, handler) in handlers.iter().enumerate().skip(2) {
        let total = med(&times[h]);
        let inside = med(&runtime_part[h]);
        let rest: Vec<Duration> = times[h]
            .iter()
            .zip(&runtime_part[h])
            .map(|(t, r)| t.saturating_sub(*r))
            .collect();
        println!(
            "{:<12} {:>10.1} {:>14.1} {:>22.1}",
            handler,
            total,
            inside,
            med(&rest)
        );
    }
    Ok(())
}

/// A `timed-NAME` link to this program, with the real runtime as its
/// target, in a directory named after the bench's namespace.
fn timed_link(ns: &skiff_testkit::NetNs, name: &str) -> Result<PathBuf, String> {
    let dir = timers(ns);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let link = dir.join(format!("timed-{name}"));
    let _ = std::fs::remove_file(&link);
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(&me, &link).map_err(|e| e.to_string())?;
    let target = match name {
        "skiff" => skiff_cri_check::built_binary("skiff-runtime"),
        _ => which("runc")?,
    };
    std::fs::write(link.with_extension("target"), target.display().to_string())
        .map_err(|e| e.to_string())?;
    Ok(link)
}

/// Where the timing links and their logs are, named after the bench's
/// namespace.
fn timers(ns: &skiff_testkit::NetNs) -> PathBuf {
    Path::new("/var/tmp").join(format!("{}-timers", ns.name))
}

fn timing_log(ns: &skiff_testkit::NetNs, handler: &str) -> PathBuf {
    timers(ns).join(format!("{handler}.log"))
}

fn which(name: &str) -> Result<PathBuf, String> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .chain([PathBuf::from("/usr/sbin").join(name)])
        .find(|p| p.exists())
        .ok_or_else(|| format!("{name} is not installed"))
}

/// One pod of one container, started and seen running; the time it took.
fn start_pod(cri: &Cri, handler: &str, logs: &Path, round: usize) -> Result<Duration, String> {
    let name = format!("{}r{round}{}", pod_prefix(), handler.replace('-', ""));
    let cfg = pods::sandbox(&name, &name, logs, &pods::cgroup_parent(&name, false));
    let err =
        |what: &'static str| move |s: skiff_cri_check::Status| format!("{what}: {}", s.message());
    let t0 = Instant::now();
    let pod = cri
        .block(cri.rs().run_pod_sandbox(api::RunPodSandboxRequest {
            config: Some(cfg.clone()),
            runtime_handler: handler.into(),
        }))
        .map_err(err("RunPodSandbox"))?
        .pod_sandbox_id;
    let id = cri
        .block(cri.rs().create_container(api::CreateContainerRequest {
            pod_sandbox_id: pod,
            config: Some(pods::container("c", pods::SANDBOX_IMAGE, &[], false)),
            sandbox_config: Some(cfg),
        }))
        .map_err(err("CreateContainer"))?
        .container_id;
    cri.block(cri.rs().start_container(api::StartContainerRequest {
        container_id: id.clone(),
    }))
    .map_err(err("StartContainer"))?;
    let running = cri
        .block(cri.rs().container_status(api::ContainerStatusRequest {
            container_id: id,
            verbose: false,
        }))
        .map_err(err("ContainerStatus"))?
        .status
        .is_some_and(|s| s.state == api::ContainerState::ContainerRunning as i32);
    let took = t0.elapsed();
    if !running {
        return Err(format!(
            "{handler}: the container is not running after StartContainer"
        ));
    }
    Ok(took)
}

/// The start of this run's pod names (and cgroup parents).
fn pod_prefix() -> String {
    format!("skiffcribench{}", std::process::id())
}

fn remove_pods(cri: &Cri) {
    cri.remove_pods(|_| true);
    skiff_cri_check::remove_cgroup_parents(&pod_prefix());
}
