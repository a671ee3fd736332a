//! Probes (startup, liveness, readiness), run from outside the container:
//! `httpGet`, `tcpSocket` and `grpc` (`grpc.rs`) connect to the pod's IP
//! from the host (the pod network is routed here), so an image needs no
//! curl; `exec` runs in the
//! container through the engine. Kubernetes' fields and defaults:
//! `initialDelaySeconds`, `periodSeconds`, `timeoutSeconds`,
//! `successThreshold`, `failureThreshold`; startup gates the other two;
//! liveness failing `failureThreshold` times in a row kills the container
//! (the kubelet then restarts it as the pod's restartPolicy says).

use super::spec::PodRef;
use k8s_openapi::api::core::v1::{Container as PodContainer, HTTPGetAction, Probe};
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

/// Probes after a pod's first are due on a grid of this step, so the
/// probes of many pods come due together: one pass of the kubelet runs
/// them all, where probes at scattered times would each wake a pass over
/// every pod (with 50 pods probed every second, 20% of a core against 3%).
const GRID: Duration = Duration::from_millis(250);

/// `t` rounded up to the probe grid.
fn on_grid(t: Instant) -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    let since = t.saturating_duration_since(base).as_nanos();
    let step = GRID.as_nanos();
    let up = since.div_ceil(step) * step;
    base + Duration::from_nanos(up as u64)
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
            t.next = on_grid(
                Instant::now()
                    + Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64),
            );
            let mut gave_up = false;
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
                        gave_up = true;
                    }
                }
            }
            match which {
                Which::Startup if t.ok => st.started = true,
                Which::Startup | Which::Liveness if gave_up => {
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
        return http_get(h, k, pod_ip, timeout);
    }
    if let Some(e) = &p.exec {
        return exec(engine, c, e.command.clone().unwrap_or_default(), timeout);
    }
    if let Some(g) = &p.grpc {
        let port = u16::try_from(g.port).map_err(|_| format!("invalid port {}", g.port))?;
        return super::grpc::check(addr(port)?, g.service.as_deref().unwrap_or(""), timeout);
    }
    Err("the probe has no handler".into())
}

/// An HTTP GET to the pod (a probe's or a hook's): Ok for a status from
/// 200 to 399.
pub(super) fn http_get(
    h: &HTTPGetAction,
    k: &PodContainer,
    pod_ip: &str,
    timeout: Duration,
) -> Result<(), String> {
    let a: SocketAddr = format!("{pod_ip}:{}", port(&h.port, k)?)
        .parse()
        .map_err(|_| "the pod has no IP".to_string())?;
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
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {code}"))
    }
}

/// An exec probe: the command in the container, its exit code the verdict,
/// killed when it outlives the timeout.
fn exec(e: &Engine, c: &Container, cmd: Vec<String>, timeout: Duration) -> Result<(), String> {
    let mut run = Exec::start(e, c, cmd)?;
    let done = run.wait_for(timeout);
    run.finish(e, done)
}

/// A command running in a container for a probe or a hook, its output
/// (up to 4 KiB of it) kept for the message.
pub(super) struct Exec {
    handle: skiff_engine::container::ExecHandle,
    out: std::fs::File,
    said: Vec<u8>,
    cmd: Vec<String>,
}

impl Exec {
    pub(super) fn start(e: &Engine, c: &Container, cmd: Vec<String>) -> Result<Exec, String> {
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
        let handle = e
            .exec_start(&c.id, &o, Some(io))
            .map_err(|e| e.to_string())?;
        let out = std::fs::File::from(out_r);
        let _ = nix::fcntl::fcntl(
            &out,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        Ok(Exec {
            handle,
            out,
            said: Vec::new(),
            cmd,
        })
    }

    /// Whether the command ended within `timeout` (zero: has it ended).
    pub(super) fn wait_for(&mut self, timeout: Duration) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let ms = PollTimeout::try_from(timeout.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.handle.exit_fd(), PollFlags::POLLIN)];
        let done = matches!(poll(&mut fds, ms), Ok(n) if n > 0);
        self.drain();
        done
    }

    /// Read what the command wrote so far (a chatty command never fills
    /// the pipe and blocks); the first 4 KiB are kept.
    fn drain(&mut self) {
        let mut buf = [0u8; 8192];
        while let Ok(n) = (&self.out).read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = 4096usize.saturating_sub(self.said.len());
            self.said.extend_from_slice(&buf[..n.min(room)]);
        }
    }

    /// The verdict once it ended (`done`), else it is killed as timed out.
    pub(super) fn finish(mut self, e: &Engine, done: bool) -> Result<(), String> {
        self.drain();
        let cmd = self.cmd;
        if !done {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.handle.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let code = self.handle.wait(e).map_err(|e| e.to_string())?;
        if !done {
            return Err(format!("command {cmd:?} timed out"));
        }
        if code == 0 {
            return Ok(());
        }
        // As the kubelet reports it: what the command wrote, else its status.
        let said = String::from_utf8_lossy(&self.said).trim().to_string();
        Err(if said.is_empty() {
            format!("command {cmd:?} exited with {code}")
        } else {
            said
        })
    }
}
