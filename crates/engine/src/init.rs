//! `--init`: a minimal init for PID 1 of a container, as Docker's
//! docker-init (tini) is. The skiff binary is static, so the engine
//! bind-mounts it at /sbin/docker-init and runs `docker-init -- CMD...`.
//! It starts the command, forwards every signal it gets to it, reaps every
//! zombie that is reparented to it, and exits as the command did (128+N
//! after signal N).
//!
//! `docker-init -- --pause` runs no command: it holds the container's
//! namespaces (a Kubernetes pod's infra container, as the `pause` image
//! does), reaps what is reparented to it, and exits 0 on SIGTERM or SIGINT.

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{execvp, fork, ForkResult, Pid};
use std::ffi::CString;

/// Entry point; `args` is what follows `docker-init` (a leading `--` is
/// dropped). Returns the exit status.
pub fn main(args: &[String]) -> i32 {
    let args: Vec<&String> = args.iter().skip_while(|a| *a == "--").collect();
    if args.is_empty() {
        eprintln!("docker-init: no command given");
        return 1;
    }
    let all = SigSet::all();
    let mut old = SigSet::empty();
    if nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&all), Some(&mut old))
        .is_err()
    {
        return 1;
    }
    if args.len() == 1 && args[0] == PAUSE {
        return pause(&all);
    }
    let cargs: Vec<CString> = match args.iter().map(|a| CString::new(a.as_bytes())).collect() {
        Ok(v) => v,
        Err(_) => {
            eprintln!("docker-init: an argument holds a NUL byte");
            return 1;
        }
    };
    // SAFETY: single-threaded; the child only restores its signal mask and execs.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            let e = execvp(&cargs[0], &cargs).unwrap_err();
            eprintln!("docker-init: exec {}: {e}", args[0]);
            // SAFETY: leaving the forked child without running destructors.
            unsafe {
                libc::_exit(if e == nix::errno::Errno::ENOENT {
                    127
                } else {
                    126
                })
            };
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            eprintln!("docker-init: fork: {e}");
            return 1;
        }
    };
    loop {
        let sig = match all.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig != Signal::SIGCHLD {
            // Forward; signals meant to stop a TTY job go as they are.
            let _ = kill(child, sig);
            continue;
        }
        if let Some(code) = reap(child) {
            return code;
        }
    }
}

/// The argument that makes docker-init hold its namespaces, running nothing.
pub const PAUSE: &str = "--pause";

/// Wait for SIGTERM or SIGINT, reaping orphans meanwhile.
fn pause(all: &SigSet) -> i32 {
    loop {
        match all.wait() {
            Ok(Signal::SIGTERM | Signal::SIGINT) => return 0,
            Ok(Signal::SIGCHLD) => {
                reap(Pid::from_raw(0));
            }
            _ => {}
        }
    }
}

/// Reap every exited child; the main child's exit status once it is gone.
fn reap(main: Pid) -> Option<i32> {
    let mut result = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == main => result = Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => result = Some(128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => break,
            Ok(_) => {}
        }
    }
    result
}
