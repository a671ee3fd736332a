//! A real registry for tests: Debian's docker-registry on 127.0.0.1 with a free
//! port and its own storage, optionally behind htpasswd basic auth; in the
//! test's network namespace when given one (then only that namespace
//! reaches it).

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Debian's docker-registry serving on 127.0.0.1, killed (and its storage
/// removed) on drop.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A registry without authentication.
pub fn start_registry() -> Registry {
    start_registry_with(None)
}

/// A registry; with `Some((user, password))`, behind htpasswd basic auth.
pub fn start_registry_with(basic: Option<(&str, &str)>) -> Registry {
    start_registry_in(None, basic)
}

/// A registry on 127.0.0.1 of network namespace `ns` (the host's when None).
pub fn start_registry_in(ns: Option<&crate::NetNs>, basic: Option<(&str, &str)>) -> Registry {
    // Sockets of the registry's namespace: the free port and the probe.
    let in_ns = |f: &(dyn Fn() -> bool + Sync)| match ns {
        Some(ns) => ns.enter(f),
        None => f(),
    };
    let bin = ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"]
        .iter()
        .find(|p| Path::new(p).exists())
        .expect("docker-registry is not installed: apt-get install docker-registry");
    let dir = tempfile::tempdir().unwrap();
    let auth = match basic {
        None => String::new(),
        Some((u, p)) => {
            let out = Command::new("htpasswd")
                .args(["-nbB", u, p])
                .output()
                .expect("htpasswd (apache2-utils) is needed");
            assert!(out.status.success());
            let f = dir.path().join("htpasswd");
            std::fs::write(&f, &out.stdout).unwrap();
            format!(
                "auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n",
                f.display()
            )
        }
    };
    for _ in 0..5 {
        let port = std::sync::atomic::AtomicU16::new(0);
        in_ns(&|| {
            let p = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            port.store(p, std::sync::atomic::Ordering::Relaxed);
            true
        });
        let port = port.into_inner();
        let cfg = dir.path().join("config.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let mut child = match ns {
            Some(ns) => ns.command(bin),
            None => Command::new(bin),
        }
        .arg("serve")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        for _ in 0..100 {
            if in_ns(&|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()) {
                return Registry {
                    child,
                    host: format!("127.0.0.1:{port}"),
                    _dir: dir,
                };
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("docker-registry did not start");
}
