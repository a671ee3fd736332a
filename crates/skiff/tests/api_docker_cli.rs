//! The Docker Engine API (`skiff serve`) driven by Debian's docker CLI
//! 20.10 (`DOCKER_HOST=unix://...`, a socket of the test's own): version,
//! images, create/start/wait/logs/inspect/ps/stop/rm, what the CLI prints
//! and its exit codes; and the skiff CLI on the same --root seeing what
//! the API made.

mod build_env;

use build_env::Env;
use std::path::PathBuf;
use std::process::{Child, Command, Output};

const DOCKER: &str = "/usr/bin/docker";

struct Server {
    child: Child,
    sock: PathBuf,
    config: tempfile::TempDir,
}

impl Server {
    fn start(e: &Env) -> Server {
        let sock = e.dir.path().join("api.sock");
        let child = e
            .skiff_cmd(&["serve", "-H", &format!("unix://{}", sock.display())])
            .spawn()
            .expect("starting skiff serve");
        for _ in 0..200 {
            if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Server {
            child,
            sock,
            config: tempfile::tempdir().unwrap(),
        }
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.config.path())
            .args(args)
            .output()
            .expect("running the docker CLI")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_docker_cli_drives_containers_through_skiff_serve() {
    let e = Env::new();
    let s = Server::start(&e);
    assert_eq!(
        s.ok(&["version", "--format", "{{.Server.APIVersion}}"]),
        "1.41\n"
    );
    assert!(s
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .contains("bb:base"));

    let id = s.ok(&[
        "create",
        "--name",
        "c1",
        "--network",
        "none",
        "-e",
        "WHO=api",
        "bb:base",
        "sh",
        "-c",
        "echo out $WHO; echo err >&2; exit 3",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    assert_eq!(
        s.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]),
        "c1 Created\n"
    );
    s.ok(&["start", "c1"]);
    assert_eq!(s.ok(&["wait", "c1"]), "3\n");
    let logs = s.docker(&["logs", "c1"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "out api\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "err\n");
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.State.ExitCode}} {{.Name}}", "c1"]),
        "3 /c1\n"
    );
    let ps = s.ok(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}} {{.Status}} {{.Command}}",
    ]);
    assert!(
        ps.starts_with("c1 Exited (3) ") && ps.contains("\"sh -c 'echo out"),
        "{ps}"
    );

    // run -d, then the skiff CLI on the same root sees it running.
    let id2 = s.ok(&[
        "run",
        "-d",
        "--name",
        "c2",
        "--network",
        "none",
        "bb:base",
        "sleep",
        "60",
    ]);
    assert_eq!(s.ok(&["ps", "--format", "{{.Names}}"]), "c2\n");
    assert!(e
        .ok(&["ps", "--format", "{{.ID}} {{.Names}}"])
        .contains(&format!("{} c2", &id2[..12])));
    s.ok(&["stop", "-t", "1", "c2"]);
    assert!(s
        .ok(&["inspect", "-f", "{{.State.Status}}", "c2"])
        .starts_with("exited"));

    // Errors as the docker CLI shows dockerd's.
    let o = s.docker(&["inspect", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("No such object: nope"),
        "{o:?}"
    );
    let o = s.docker(&["start", "nope"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("No such container: nope"),
        "{o:?}"
    );
    let o = s.docker(&["create", "--name", "c1", "bb:base", "true"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is already in use"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    s.ok(&["rm", "c1", "c2"]);
    assert_eq!(s.ok(&["ps", "-a", "-q"]), "");
    assert_eq!(e.ok(&["ps", "-a", "-q"]), "");
}
