//! OCI hooks: run a hook program with the container state JSON on its stdin,
//! enforce its timeout, and turn a failure into an error naming the hook.

use crate::spec::Hook;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{kind} hook {path}: cannot start it: {err}")]
    Spawn {
        kind: &'static str,
        path: String,
        err: std::io::Error,
    },
    #[error("{kind} hook {path} failed: {status}{stderr}")]
    Failed {
        kind: &'static str,
        path: String,
        status: String,
        stderr: String,
    },
    #[error("{kind} hook {path} timed out after {secs}s and was killed")]
    Timeout {
        kind: &'static str,
        path: String,
        secs: i64,
    },
    #[error("{kind} hook {path}: timeout must be positive, got {secs}")]
    BadTimeout {
        kind: &'static str,
        path: String,
        secs: i64,
    },
}

/// Run each hook in order; stop at the first failure.
pub fn run_all(kind: &'static str, hooks: &[Hook], state_json: &[u8]) -> Result<(), HookError> {
    for h in hooks {
        run(kind, h, state_json)?;
    }
    Ok(())
}

/// Run every hook in order; a failure is logged as a warning and the rest still
/// run (runtime-spec: poststart and poststop failures do not stop the lifecycle).
pub fn run_all_warn(kind: &'static str, hooks: &[Hook], state_json: &[u8]) {
    for h in hooks {
        if let Err(e) = run(kind, h, state_json) {
            crate::log::warn(&e.to_string());
        }
    }
}

/// Check hook definitions before anything is created.
pub fn validate(kind: &'static str, hooks: &[Hook]) -> Result<(), HookError> {
    for h in hooks {
        if let Some(t) = h.timeout {
            if t <= 0 {
                return Err(HookError::BadTimeout {
                    kind,
                    path: h.path.clone(),
                    secs: t,
                });
            }
        }
    }
    Ok(())
}

pub fn run(kind: &'static str, h: &Hook, state_json: &[u8]) -> Result<(), HookError> {
    let spawn_err = |err| HookError::Spawn {
        kind,
        path: h.path.clone(),
        err,
    };
    let mut cmd = Command::new(&h.path);
    if let Some((first, rest)) = h.args.split_first() {
        cmd.arg0(first).args(rest);
    }
    cmd.env_clear();
    for kv in &h.env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its stdin; that is not an error.
        let _ = stdin.write_all(state_json);
    }
    let timeout = h.timeout.map(|s| Duration::from_secs(s as u64));
    let status = match wait_timeout(child.id() as i32, timeout) {
        Ok(true) => child.wait().map_err(spawn_err)?,
        Ok(false) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookError::Timeout {
                kind,
                path: h.path.clone(),
                secs: h.timeout.unwrap_or(0),
            });
        }
        Err(e) => return Err(spawn_err(e)),
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let stderr = stderr.trim();
    let status = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    };
    Err(HookError::Failed {
        kind,
        path: h.path.clone(),
        status,
        stderr: if stderr.is_empty() {
            String::new()
        } else {
            format!(": {stderr}")
        },
    })
}

/// Wait until `pid` exits (true) or the timeout passes (false), without reaping it.
fn wait_timeout(pid: i32, timeout: Option<Duration>) -> std::io::Result<bool> {
    // SAFETY: pidfd_open takes a pid and flags; returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the fd was just returned by pidfd_open and is ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                left.as_millis().min(i32::MAX as u128) as i32 + 1
            }
        };
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut p, 1, ms) };
        if rc > 0 {
            return Ok(true);
        }
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(script: &str, timeout: Option<i64>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: vec!["FOO=bar".into()],
            timeout,
        }
    }

    #[test]
    fn hook_gets_state_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(
            &format!("cat > {0}; echo \"$FOO\" >> {0}", out.display()),
            None,
        );
        run("prestart", &h, b"{\"id\":\"x\"}").unwrap();
        assert_eq!(std::fs::read_to_string(out).unwrap(), "{\"id\":\"x\"}bar\n");
    }

    #[test]
    fn failing_hook_names_itself() {
        let err = run("poststart", &hook("echo oops >&2; exit 3", None), b"{}")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("poststart hook /bin/sh failed: exit status 3: oops"),
            "{err}"
        );
    }

    #[test]
    fn slow_hook_times_out() {
        let t = Instant::now();
        let err = run("createRuntime", &hook("sleep 30", Some(1)), b"{}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("timed out after 1s"), "{err}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
