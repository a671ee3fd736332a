//! `serve`: the Docker Engine API on sockets (`skiff-api`), on this
//! process's engine, until it is stopped.

use clap::Args;
use std::path::Path;

#[derive(Args)]
pub struct ServeArgs {
    /// Where to listen: unix:///PATH or tcp://127.0.0.1:PORT (repeatable;
    /// default unix:///run/skiff/skiff.sock).
    #[arg(short = 'H', long = "host")]
    host: Vec<String>,
    /// Also listen on /var/run/docker.sock, where Docker's clients look.
    #[arg(long = "docker-socket")]
    docker_socket: bool,
    /// The group that may use the unix sockets (their mode is 0660).
    #[arg(long, default_value = "docker")]
    group: String,
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

pub fn serve(root: &Path, runroot: &Path, a: ServeArgs) -> Result {
    let mut hosts = a.host.clone();
    if hosts.is_empty() {
        hosts.push("unix:///run/skiff/skiff.sock".into());
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
    let engine = skiff_engine::Engine::open(root, runroot).map_err(fail)?;
    skiff_api::serve(std::sync::Arc::new(engine), listeners);
    Ok(())
}
