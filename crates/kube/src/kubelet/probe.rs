//! Probes (startup, liveness, readiness), run from outside the container:
//! `httpGet` and `tcpSocket` connect to the pod's IP from the host (the pod
//! network is routed here), so an image needs no curl; `exec` runs in the
//! container through the engine. Kubernetes' fields and defaults:
//! `initialDelaySeconds`, `periodSeconds`, `timeoutSeconds`,
//! `successThreshold`, `failureThreshold`; startup gates the other two;
//! liveness failing `failureThreshold` times in a row kills the container
//! (the kubelet then restarts it as the pod's restartPolicy says).

use super::spec::PodRef;
use k8s_openapi::api::core::v1::{Container as PodContainer, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use skiff_engine::container::{ExecIo, ExecOptions};
use skiff_engine::model::Container;
use skiff_engine::Engine;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Startup,
    Liveness,
    Readiness,
}

#[derive(Debug, Clone)]
struct Track {
    next: Instant,
    successes: i32,
    failures: i32,
    /// The probe's verdict so far (readiness starts false, liveness and
    /// startup true... until they fail).
    ok: bool,
}

/// One container's probes.
#[derive(Debug, Clone)]
struct State {
    container_id: String,
    startup: Option<Track>,
    liveness: Option<Track>,
    readiness: Option<Track>,
    /// Startup passed (or there is no startup probe).
    started: bool,
    /// The last failure's message, for the pod's events.
    pub last_failure: Option<String>,
}

#[derive(Default)]
pub struct Prober {
    states: HashMap<(String, String), State>,
}

fn track(p: &Option<Probe>, start: Instant, initially: bool) -> Option<Track> {
    p.as_ref().map(|p| Track {
        next: start + Duration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64),
        successes: 0,
        failures: 0,
        ok: initially,
    })
}

impl Prober {
    /// Run the container's due probes (a new container starts them over).
    pub fn track(
        &mut self,
        e: &Engine,
        p: &PodRef<'_>,
        k: &PodContainer,
        c: &Container,
        pod_ip: &str,
    ) -> Vec<(&'static str, String)> {
        let key = (p.uid.to_string(), k.name.clone());
        let now = Instant::now();
        let fresh = self.states.get(&key).is_none_or(|s| s.container_id != c.id);
        if fresh {
            self.states.insert(
                key.clone(),
                State {
                    container_id: c.id.clone(),
                    startup: track(&k.startup_probe, now, false),
                    liveness: track(&k.liveness_probe, now, true),
                    readiness: track(&k.readiness_probe, now, false),
                    started: k.startup_probe.is_none(),
                    last_failure: None,
                },
            );
        }
        let st = self.states.get_mut(&key).expect("inserted above");
        let mut events = Vec::new();
        for which in [Which::Startup, Which::Liveness, Which::Readiness] {
            let probe = match which {
                Which::Startup => &k.startup_probe,
                Which::Liveness => &k.liveness_probe,
                Which::Readiness => &k.readiness_probe,
            };
            let Some(probe) = probe else { continue };
            if which != Which::Startup && !st.started {
                continue;
            }
            if which == Which::Startup && st.started {
                continue;
            }
            let t = match which {
                Which::Startup => st.startup.as_mut(),
                Which::Liveness => st.liveness.as_mut(),
                Which::Readiness => st.readiness.as_mut(),
            };
            let Some(t) = t else { continue };
            if now < t.next {
                continue;
            }
            let result = run(e, probe, k, c, pod_ip);
            t.next = Instant::now()
                + Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64);
            match result {
                Ok(()) => {
                    t.failures = 0;
                    t.successes += 1;
                    if t.successes >= probe.success_threshold.unwrap_or(1).max(1) {
                        t.ok = true;
                    }
                }
                Err(msg) => {
                    t.successes = 0;
                    t.failures += 1;
                    let what = match which {
                        Which::Startup => "Startup",
                        Which::Liveness => "Liveness",
                        Which::Readiness => "Readiness",
                    };
                    events.push(("Unhealthy", format!("{what} probe failed: {msg}")));
                    st.last_failure = Some(msg);
                    if t.failures >= probe.failure_threshold.unwrap_or(3).max(1) {
                        t.ok = false;
                    }
                }
            }
            match which {
                Which::Startup if t.ok => st.started = true,
                Which::Startup | Which::Liveness if !t.ok && t.failures > 0 => {
                    // Failed for good: the container is killed; the
                    // kubelet restarts it as the restartPolicy says.
                    let what = if which == Which::Startup {
                        "startup"
                    } else {
                        "liveness"
                    };
                    events.push((
                        "Killing",
                        format!(
                            "Container {} failed {what} probe, will be restarted",
                            k.name
                        ),
                    ));
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(c.state.pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                _ => {}
            }
        }
        events
    }

    /// The container stopped: not ready until its next run passes again.
    pub fn stopped(&mut self, uid: &str, name: &str) {
        self.states.remove(&(uid.to_string(), name.to_string()));
    }

    pub fn forget(&mut self, uid: &str) {
        self.states.retain(|(u, _), _| u != uid);
    }

    /// Ready: running with its readiness probe passed (or none).
    pub fn ready(&self, uid: &str, name: &str) -> bool {
        match self.states.get(&(uid.to_string(), name.to_string())) {
            Some(s) => s.started && s.readiness.as_ref().is_none_or(|t| t.ok),
            None => false,
        }
    }

    pub fn started(&self, uid: &str, name: &str) -> bool {
        self.states
            .get(&(uid.to_string(), name.to_string()))
            .is_some_and(|s| s.started)
    }

    /// When the pod's next probe is due.
    pub fn due(&self, uid: &str) -> Option<Instant> {
        self.states
            .iter()
            .filter(|((u, _), _)| u == uid)
            .flat_map(|(_, s)| [&s.startup, &s.liveness, &s.readiness])
            .flatten()
            .map(|t| t.next)
            .min()
    }
}

/// A probe's port: a number, or the name of one of the container's ports.
fn port(p: &IntOrString, k: &PodContainer) -> Result<u16, String> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
        IntOrString::String(name) => k
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name))
            .and_then(|cp| u16::try_from(cp.container_port).ok())
            .ok_or_else(|| format!("port {name:?} not found in the container's ports")),
    }
}

/// Run a probe once: Ok when it passes, else why not.
fn run(
    engine: &Engine,
    p: &Probe,
    k: &PodContainer,
    c: &Container,
    pod_ip: &str,
) -> Result<(), String> {
    let timeout = Duration::from_secs(p.timeout_seconds.unwrap_or(1).max(1) as u64);
    let addr = |port: u16| -> Result<SocketAddr, String> {
        format!("{pod_ip}:{port}")
            .parse()
            .map_err(|_| "the pod has no IP".to_string())
    };
    if let Some(t) = &p.tcp_socket {
        let a = addr(port(&t.port, k)?)?;
        return TcpStream::connect_timeout(&a, timeout)
            .map(drop)
            .map_err(|e| format!("dial tcp {a}: {e}"));
    }
    if let Some(h) = &p.http_get {
        let a = addr(port(&h.port, k)?)?;
        let mut s = TcpStream::connect_timeout(&a, timeout).map_err(|e| {
            format!(
                "Get \"http://{a}{}\": dial tcp {a}: {e}",
                h.path.as_deref().unwrap_or("/")
            )
        })?;
        let _ = s.set_read_timeout(Some(timeout));
        let _ = s.set_write_timeout(Some(timeout));
        let path = h.path.clone().unwrap_or_else(|| "/".into());
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {a}\r\nUser-Agent: kube-probe/1.35\r\nAccept: */*\r\nConnection: close\r\n");
        for hd in h.http_headers.iter().flatten() {
            req.push_str(&format!("{}: {}\r\n", hd.name, hd.value));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut head = [0u8; 64];
        let n = s
            .read(&mut head)
            .map_err(|e| format!("Get \"http://{a}{path}\": {e}"))?;
        let line = String::from_utf8_lossy(&head[..n]);
        let code: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("Get \"http://{a}{path}\": malformed HTTP response"))?;
        return if (200..400).contains(&code) {
            Ok(())
        } else {
            Err(format!("HTTP probe failed with statuscode: {code}"))
        };
    }
    if let Some(e) = &p.exec {
        return exec(engine, c, e.command.clone().unwrap_or_default(), timeout);
    }
    Err("this probe's handler (grpc) is not supported by skiff yet".into())
}

/// An exec probe: the command in the container, its exit code the verdict,
/// killed when it outlives the timeout.
fn exec(e: &Engine, c: &Container, cmd: Vec<String>, timeout: Duration) -> Result<(), String> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let null = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
    let (out_r, out_w) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    let io = ExecIo {
        stdin: null.into(),
        stdout: out_w.try_clone().map_err(|e| e.to_string())?,
        stderr: out_w,
    };
    let o = ExecOptions {
        cmd: cmd.clone(),
        ..Default::default()
    };
    let h = e
        .exec_start(&c.id, &o, Some(io))
        .map_err(|e| e.to_string())?;
    let ms = PollTimeout::try_from(timeout.as_millis().min(i32::MAX as u128) as i32)
        .unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(h.exit_fd(), PollFlags::POLLIN)];
    let done = matches!(poll(&mut fds, ms), Ok(n) if n > 0);
    if !done {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(h.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let code = h.wait(e).map_err(|e| e.to_string())?;
    if !done {
        return Err(format!("command {cmd:?} timed out"));
    }
    if code == 0 {
        return Ok(());
    }
    let mut out = Vec::new();
    let mut f = std::fs::File::from(out_r);
    let _ = nix::fcntl::fcntl(
        &f,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    let _ = (&mut f).take(4096).read_to_end(&mut out);
    // As the kubelet reports it: what the command wrote, else its status.
    let said = String::from_utf8_lossy(&out).trim().to_string();
    Err(if said.is_empty() {
        format!("command {cmd:?} exited with {code}")
    } else {
        said
    })
}
