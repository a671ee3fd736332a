//! Health checks, run by the supervisor: the container's check command is
//! started in the container (as `exec` would) every interval; its exit code
//! and first 4 KiB of output are recorded in the container's `State.Health`
//! (last 5 results), with Docker's rules: `starting` until the first
//! success, `unhealthy` after `retries` failures in a row (failures in the
//! start period do not count), `healthy` after any success.

use crate::container::ExecOptions;
use crate::model::{Container, Health, HealthConfig, HealthResult};
use crate::time::now;
use crate::Engine;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: i64 = 3;
const MAX_OUTPUT: usize = 4096;
const MAX_LOG: usize = 5;

fn dur(ns: i64, default: Duration) -> Duration {
    if ns > 0 {
        Duration::from_nanos(ns as u64)
    } else {
        default
    }
}

/// A check in flight.
struct Running {
    pid: i32,
    pidfd: OwnedFd,
    out: Option<OwnedFd>,
    output: Vec<u8>,
    start: String,
    deadline: Instant,
}

/// The supervisor's health checker for one run of a container.
pub struct Checker {
    cmd: Vec<String>,
    interval: Duration,
    timeout: Duration,
    retries: i64,
    start_period_end: Instant,
    next: Instant,
    running: Option<Running>,
    health: Health,
}

impl Checker {
    /// A checker for `c`, or None when it has no (or a `NONE`) check.
    pub fn new(c: &Container) -> Option<Checker> {
        let h: &HealthConfig = c.config.healthcheck.as_ref()?;
        let cmd = match h.test.first().map(String::as_str) {
            Some("CMD") => h.test[1..].to_vec(),
            Some("CMD-SHELL") => {
                vec!["/bin/sh".into(), "-c".into(), h.test[1..].join(" ")]
            }
            _ => return None,
        };
        if cmd.is_empty() {
            return None;
        }
        let now = Instant::now();
        let interval = dur(h.interval, DEFAULT_INTERVAL);
        Some(Checker {
            cmd,
            interval,
            timeout: dur(h.timeout, DEFAULT_TIMEOUT),
            retries: if h.retries > 0 {
                h.retries
            } else {
                DEFAULT_RETRIES
            },
            start_period_end: now + dur(h.start_period, Duration::ZERO),
            next: now + interval,
            running: None,
            health: Health {
                status: "starting".into(),
                ..Default::default()
            },
        })
    }

    /// The state to record when the container starts.
    pub fn initial(&self) -> Health {
        self.health.clone()
    }

    /// How long the supervisor may sleep before [`Checker::tick`] is due.
    pub fn wait(&self) -> Duration {
        let until = match &self.running {
            Some(r) => r.deadline,
            None => self.next,
        };
        // Rounded up to the next millisecond, so a poll does not wake early
        // and spin.
        let d = until.saturating_duration_since(Instant::now());
        if d.is_zero() {
            d
        } else {
            Duration::from_millis(d.as_millis() as u64 + 1)
        }
    }

    /// The fds to poll: the check's pidfd and its output pipe.
    pub fn fds(&self) -> Vec<i32> {
        match &self.running {
            Some(r) => std::iter::once(r.pidfd.as_raw_fd())
                .chain(r.out.as_ref().map(|o| o.as_raw_fd()))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Do what is due: start a check, read its output, finish it.
    pub fn tick(&mut self, engine: &Engine, c: &Container) {
        if self.running.is_none() {
            // Never into a container whose init is gone.
            if Instant::now() >= self.next && crate::proc::alive(c.state.pid, c.state.pid_start) {
                self.start(engine, c);
            }
            return;
        }
        let r = self.running.as_mut().expect("running");
        // Output.
        if let Some(out) = &r.out {
            let mut buf = [0u8; 4096];
            loop {
                // SAFETY: reading into our buffer from our nonblocking pipe.
                let n = unsafe { libc::read(out.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    let room = MAX_OUTPUT.saturating_sub(r.output.len());
                    r.output.extend_from_slice(&buf[..(n as usize).min(room)]);
                    continue;
                }
                if n == 0 {
                    r.out = None;
                }
                break;
            }
        }
        // Exit, or timeout.
        let mut st = 0;
        // SAFETY: waitpid on the check, our child.
        let done = unsafe { libc::waitpid(r.pid, &mut st, libc::WNOHANG) } == r.pid;
        let timed_out = !done && Instant::now() >= r.deadline;
        if !done && !timed_out {
            return;
        }
        if timed_out {
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(r.pid, libc::SIGKILL);
                libc::waitpid(r.pid, &mut st, 0);
            }
        }
        let r = self.running.take().expect("running");
        let (code, output) = if timed_out {
            (
                -1,
                format!(
                    "Health check exceeded timeout ({})",
                    crate::units::go_duration(self.timeout)
                ),
            )
        } else {
            (
                skiff_runtime::signals::exit_code(st) as i64,
                String::from_utf8_lossy(&r.output).into_owned(),
            )
        };
        self.record(engine, c, r.start, code, output);
    }

    fn start(&mut self, engine: &Engine, c: &Container) {
        self.next = Instant::now() + self.interval;
        let start = now();
        let o = ExecOptions {
            cmd: self.cmd.clone(),
            ..Default::default()
        };
        let spawned = (|| -> Result<(i32, OwnedFd), String> {
            let process = engine.exec_process(c, &o).map_err(|e| e.to_string())?;
            let opts = engine.exec_opts(c, process, true);
            let (r, w) =
                nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
            // Our end only is non-blocking: the check writes as it likes.
            nix::fcntl::fcntl(
                &r,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            )
            .map_err(|e| e.to_string())?;
            let null = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
            // The check's stdout and stderr: our pipe; its stdin: nothing.
            let mut opts = opts;
            opts.stdio = Some([null.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()]);
            let pid = skiff_runtime::exec::spawn(&opts);
            drop(w);
            Ok((pid.map_err(|e| e.to_string())?, r))
        })();
        match spawned {
            Ok((pid, out)) => {
                let Ok(pidfd) = skiff_runtime::pidfd::Pidfd::open(pid) else {
                    // No pidfd: wait for it here.
                    let mut st = 0;
                    // SAFETY: waitpid on our child.
                    unsafe { libc::waitpid(pid, &mut st, 0) };
                    let code = skiff_runtime::signals::exit_code(st) as i64;
                    self.record(engine, c, start, code, String::new());
                    return;
                };
                self.running = Some(Running {
                    pid,
                    pidfd: pidfd.into(),
                    out: Some(out),
                    output: Vec::new(),
                    start,
                    deadline: Instant::now() + self.timeout,
                });
            }
            Err(msg) => self.record(engine, c, start, -1, msg),
        }
    }

    fn record(&mut self, engine: &Engine, c: &Container, start: String, code: i64, output: String) {
        let h = &mut self.health;
        let before = h.status.clone();
        if code == 0 {
            h.failing_streak = 0;
            h.status = "healthy".into();
        } else if Instant::now() >= self.start_period_end || h.status != "starting" {
            h.failing_streak += 1;
            if h.failing_streak >= self.retries {
                h.status = "unhealthy".into();
            }
        }
        h.log.push(HealthResult {
            start,
            end: now(),
            exit_code: code,
            output,
        });
        if h.log.len() > MAX_LOG {
            h.log.remove(0);
        }
        let health = h.clone();
        let _ = engine
            .store
            .update_state(&c.id, |s| s.health = Some(health.clone()));
        if before != self.health.status {
            engine.event(c, &format!("health_status: {}", self.health.status), &[]);
        }
    }

    /// The container stopped: end a check in flight.
    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            // SAFETY: kill our own child, then reap it without blocking for
            // long (it died with the container's pid namespace, or now).
            unsafe { libc::kill(r.pid, libc::SIGKILL) };
            for _ in 0..100 {
                // SAFETY: waitpid on our child, without blocking.
                let rc = unsafe { libc::waitpid(r.pid, std::ptr::null_mut(), libc::WNOHANG) };
                if rc != 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
