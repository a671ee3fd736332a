//! `skiff serve` on a socket of a test's own (in a network namespace of
//! the test's when asked), and Docker's clients pointed at it.

#![allow(dead_code)]

use crate::build_env::Env;
use std::path::PathBuf;
use std::process::{Child, Command, Output};

const DOCKER: &str = "/usr/bin/docker";

pub struct Server {
    child: Child,
    pub sock: PathBuf,
    pub config: tempfile::TempDir,
}

impl Server {
    pub fn start(e: &Env) -> Server {
        Self::start_in(e, None)
    }

    /// The server in the network namespace `ns` (where the networks it
    /// makes are), its socket on the file system as always.
    pub fn start_in(e: &Env, ns: Option<&skiff_testkit::NetNs>) -> Server {
        Self::start_with(e, ns, &[])
    }

    /// The server in `ns`, also listening on `hosts` (`tcp://...`).
    pub fn start_with(e: &Env, ns: Option<&skiff_testkit::NetNs>, hosts: &[&str]) -> Server {
        let sock = e.dir.path().join("api.sock");
        let unix = format!("unix://{}", sock.display());
        let mut args = vec!["serve", "-H", &unix];
        for h in hosts {
            args.extend(["-H", h]);
        }
        let serve = e.skiff_cmd(&args);
        let mut cmd = match ns {
            Some(ns) => ns.command(serve.get_program()),
            None => Command::new(serve.get_program()),
        };
        let child = cmd
            .args(serve.get_args())
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

    /// The docker CLI on this server, with its own config directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(DOCKER);
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.config.path())
            .args(args);
        c
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running the docker CLI")
    }

    pub fn ok(&self, args: &[&str]) -> String {
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

impl Server {
    /// `docker ARGS` with `input` on its stdin.
    pub fn docker_with_input(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running the docker CLI");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

impl Server {
    /// A container `name` that sleeps a minute (no network), started.
    pub fn sleeper(&self, name: &str) {
        self.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "none",
            "bb:base",
            "sleep",
            "60",
        ]);
    }

    /// SIGKILL the server (its socket file stays, as a killed server's does).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The names of the server's threads.
    pub fn thread_names(&self) -> Vec<String> {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .map(|d| {
                d.flatten()
                    .map(|t| {
                        std::fs::read_to_string(t.path().join("comm"))
                            .unwrap_or_default()
                            .trim()
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many threads the server has (one per connection it serves).
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// The server's threads once they are `baseline` or fewer (or after
    /// 10 s, as they are then: a loaded machine finishes a connection's
    /// last work late).
    pub fn threads_down_to(&self, baseline: usize) -> usize {
        let mut threads = self.threads();
        for _ in 0..200 {
            if threads <= baseline {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            threads = self.threads();
        }
        threads
    }

    /// `docker-compose ARGS` in the project directory `dir`, on this server.
    pub fn compose(&self, dir: &std::path::Path, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .current_dir(dir)
            .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.config.path())
            .args(args)
            .output()
            .expect("running docker-compose (apt-get install docker-compose)")
    }

    pub fn compose_ok(&self, dir: &std::path::Path, args: &[&str]) -> String {
        let o = self.compose(dir, args);
        assert!(
            o.status.success(),
            "docker-compose {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }
}
