//! `serve`: the Docker Engine API on sockets (`skiff-api`) and the
//! Kubernetes controllers (`skiff-kube`), on this process's engine, until
//! it is stopped. One per --root: it holds `ROOT/serve.lock` while it runs
//! (and writes its pid to `RUNROOT/serve.pid`); `kube` commands that
//! change objects start one in the background when none runs.

use clap::Args;
use std::path::Path;

#[derive(Args)]
pub struct ServeArgs {
    /// Where to listen: unix:///PATH or tcp://127.0.0.1:PORT (repeatable;
    /// default unix://RUNROOT/skiff.sock, /run/skiff/skiff.sock).
    #[arg(short = 'H', long = "host")]
    host: Vec<String>,
    /// Also listen on /var/run/docker.sock, where Docker's clients look.
    #[arg(long = "docker-socket")]
    docker_socket: bool,
    /// The group that may use the unix sockets (their mode is 0660).
    #[arg(long, default_value = "docker")]
    group: String,
    /// How often the HorizontalPodAutoscalers are evaluated.
    #[arg(long = "hpa-sync-period", default_value = "15s")]
    hpa_sync_period: String,
}

type Result = std::result::Result<(), super::Failure>;

fn fail(msg: impl std::fmt::Display) -> super::Failure {
    super::Failure {
        code: 1,
        msg: format!("skiff serve: {msg}"),
    }
}

/// A unix socket at `path` (a stale one replaced), mode 0660, owned by
/// `group` when it exists.
fn unix_listener(path: &Path, group: &str) -> std::result::Result<skiff_api::Listener, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(format!("{} is in use by a running server", path.display()));
    }
    let _ = std::fs::remove_file(path);
    let l = std::os::unix::net::UnixListener::bind(path)
        .map_err(|e| format!("listening on {}: {e}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660));
    if let Ok(Some(g)) = nix::unistd::Group::from_name(group) {
        let _ = std::os::unix::fs::chown(path, None, Some(g.gid.as_raw()));
    }
    Ok(skiff_api::Listener::Unix(l))
}

fn lock_path(root: &Path) -> std::path::PathBuf {
    root.join("serve.lock")
}

/// `ROOT/serve.lock`, opened for a POSIX record lock on the whole file: a
/// lock another process can test without taking it (F_GETLK), and that
/// names its holder.
fn open_lock(root: &Path) -> std::result::Result<std::fs::File, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let p = lock_path(root);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| format!("{}: {e}", p.display()))
}

fn whole_file(kind: libc::c_short) -> libc::flock {
    // SAFETY: an all-zero flock is valid; the fields that matter are set.
    let mut l: libc::flock = unsafe { std::mem::zeroed() };
    l.l_type = kind;
    l.l_whence = libc::SEEK_SET as libc::c_short;
    l
}

/// The serve lock of `root`, taken (None: another serve holds it). Held
/// while the returned file stays open in this process.
fn take_lock(root: &Path) -> std::result::Result<Option<std::fs::File>, String> {
    let f = open_lock(root)?;
    use std::os::fd::AsRawFd;
    let l = whole_file(libc::F_WRLCK as libc::c_short);
    // SAFETY: F_SETLK with a valid flock on a descriptor we own.
    let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &l) };
    Ok((r == 0).then_some(f))
}

/// The pid of the serve that holds `root`'s lock, found without taking it.
fn holder(root: &Path) -> Option<i32> {
    let f = open_lock(root).ok()?;
    use std::os::fd::AsRawFd;
    let mut l = whole_file(libc::F_WRLCK as libc::c_short);
    // SAFETY: F_GETLK fills the flock it is given.
    let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETLK, &mut l) };
    (r == 0 && l.l_type != libc::F_UNLCK as libc::c_short).then_some(l.l_pid)
}

/// Whether a serve runs for `root`.
pub(crate) fn running(root: &Path) -> bool {
    holder(root).is_some()
}

/// The serve that holds `root`'s lock, once it is ready: it wrote its pid
/// to `RUNROOT/serve.pid` after binding its sockets and opening the engine.
fn ready(root: &Path, runroot: &Path) -> Option<i32> {
    let written = std::fs::read_to_string(runroot.join("serve.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    holder(root).filter(|h| written == Some(*h))
}

/// Start a serve for `root` in the background unless one runs, and wait
/// (a few seconds at most) until it is ready. Its output goes to
/// `RUNROOT/serve.log`. When another serve (started by a command at the
/// same time) is the one that became ready, ours is stopped: no serve is
/// left running that no pid file names.
pub(crate) fn ensure_running(root: &Path, runroot: &Path) -> std::result::Result<(), String> {
    if ready(root, runroot).is_some() {
        return Ok(());
    }
    std::fs::create_dir_all(runroot).map_err(|e| format!("{}: {e}", runroot.display()))?;
    let log_path = runroot.join("serve.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("finding skiff: {e}"))?;
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new(exe)
        .arg("--root")
        .arg(root)
        .arg("--runroot")
        .arg(runroot)
        .arg("serve")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting skiff serve: {e}"))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut exited = None;
    while std::time::Instant::now() < deadline {
        if let Some(pid) = ready(root, runroot) {
            if pid as u32 == child.id() {
                // Reaped by init once we are gone; not waited for here.
                std::mem::forget(child);
            } else {
                let _ = child.kill();
                let _ = child.wait();
            }
            return Ok(());
        }
        if exited.is_none() {
            exited = child.try_wait().ok().flatten();
        }
        // Gone, and no other serve (one that won the race for the lock)
        // on its way either.
        if let Some(st) = exited.filter(|_| !running(root)) {
            return Err(format!(
                "skiff serve exited ({st}); see {}",
                log_path.display()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Err(format!(
        "skiff serve did not start; see {}",
        log_path.display()
    ))
}

pub fn serve(root: &Path, runroot: &Path, a: ServeArgs) -> Result {
    let Some(lock) = take_lock(root).map_err(fail)? else {
        return Err(fail(format!(
            "another skiff serve runs for {}",
            root.display()
        )));
    };
    let mut hosts = a.host.clone();
    if hosts.is_empty() {
        hosts.push(format!("unix://{}", runroot.join("skiff.sock").display()));
    }
    if a.docker_socket {
        hosts.push("unix:///var/run/docker.sock".into());
    }
    let mut listeners = Vec::new();
    for h in &hosts {
        let l = if let Some(p) = h.strip_prefix("unix://") {
            unix_listener(Path::new(p), &a.group).map_err(fail)?
        } else if let Some(addr) = h.strip_prefix("tcp://") {
            let l = std::net::TcpListener::bind(addr)
                .map_err(|e| fail(format!("listening on {addr}: {e}")))?;
            skiff_api::Listener::Tcp(l)
        } else {
            return Err(fail(format!(
                "invalid host {h:?}: unix:///PATH or tcp://ADDRESS:PORT"
            )));
        };
        listeners.push(l);
    }
    let engine = std::sync::Arc::new(skiff_engine::Engine::open(root, runroot).map_err(fail)?);
    let _ = std::fs::create_dir_all(runroot);
    let _ = std::fs::write(
        runroot.join("serve.pid"),
        format!("{}\n", std::process::id()),
    );
    // The notifier's watcher thread now, not at the controllers' first
    // wait: the server's threads are then the same from its start on.
    engine.notifier().map_err(fail)?;
    let controllers = engine.clone();
    let opts = skiff_kube::controllers::Options {
        hpa_sync_period: super::kube::duration(&a.hpa_sync_period)
            .map_err(|f| fail(f.msg))?
            .max(std::time::Duration::from_millis(100)),
    };
    std::thread::Builder::new()
        .name("controllers".into())
        .spawn(move || skiff_kube::controllers::run(&controllers, &Default::default(), &opts))
        .map_err(|e| fail(format!("starting the controllers: {e}")))?;
    skiff_api::serve(engine, listeners);
    drop(lock);
    Ok(())
}
