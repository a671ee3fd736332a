//! Starting a program without waiting for its exec.
//!
//! `std::process::Command::spawn` returns only once the child has exec'd
//! (it reads a close-on-exec pipe, or vforks): to know an exec failed. For
//! the supervisor that wait was half a millisecond of every `run`, in which
//! the caller could have opened its store. [`Detached::spawn`] forks and
//! returns; the child execs on its own, and a failed exec is an exit with
//! 127, which the caller sees as its status pipe's end.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How many fds a child can be given.
const MAX_FDS: usize = 8;

/// A child forked by [`Detached::spawn`], to be reaped with [`Detached::wait`].
#[derive(Debug)]
pub(crate) struct Detached {
    pid: libc::pid_t,
    reaped: bool,
}

fn cstring(s: &OsStr) -> std::io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} has a NUL byte", s.to_string_lossy()),
        )
    })
}

impl Detached {
    /// Run `exe` with `args` (after argv\[0\]) and the caller's environment
    /// with `env` set, its fd `to` a copy of our `from` for each of `fds`
    /// (all other fds of ours being close-on-exec).
    pub(crate) fn spawn(
        exe: &Path,
        args: &[&OsStr],
        env: &[(&str, &OsStr)],
        fds: &[(RawFd, RawFd)],
    ) -> std::io::Result<Detached> {
        // Everything the child needs is made before the fork: between fork
        // and exec it only calls async-signal-safe functions.
        let path = cstring(exe.as_os_str())?;
        let mut argv = vec![path.clone()];
        for a in args {
            argv.push(cstring(a)?);
        }
        let mut envp = Vec::new();
        for (k, v) in std::env::vars_os() {
            if env.iter().all(|(name, _)| OsStr::new(name) != k) {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                envp.push(cstring(&kv)?);
            }
        }
        for (k, v) in env {
            let mut kv = OsString::from(k);
            kv.push("=");
            kv.push(v);
            envp.push(cstring(&kv)?);
        }
        let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_p.push(std::ptr::null());
        let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
        envp_p.push(std::ptr::null());
        if fds.len() > MAX_FDS {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "too many fds to pass",
            ));
        }
        let fds: Vec<(RawFd, RawFd)> = fds.to_vec();
        // Past every target, so that moving one fd never overwrites
        // another's source.
        let above = fds.iter().map(|&(_, to)| to).max().unwrap_or(2) + 1;

        // SAFETY: the child runs only async-signal-safe calls on memory
        // made before the fork, then execs or exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: in the child; see above.
            unsafe { child(&path, &argv_p, &envp_p, &fds, above) }
        }
        Ok(Detached { pid, reaped: false })
    }

    /// Wait for the child to end (once; later calls return at once).
    pub(crate) fn wait(&mut self) {
        while !self.reaped {
            // SAFETY: waitpid on our own child, no status pointer kept.
            let r = unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), 0) };
            if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                self.reaped = true;
            }
        }
    }
}

/// The forked child: a clean signal state, the fds in place, exec.
///
/// # Safety
/// Only in a child just forked, with pointers to memory made before the
/// fork.
unsafe fn child(
    path: &CString,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    fds: &[(RawFd, RawFd)],
    above: RawFd,
) -> ! {
    // SAFETY: async-signal-safe calls only, on memory made before the fork.
    unsafe {
        // As Command does: no blocked signal, SIGPIPE as a program expects
        // it (Rust ignores it in its own processes).
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut moved = [0 as RawFd; MAX_FDS];
        for (i, &(from, _)) in fds.iter().enumerate() {
            moved[i] = libc::fcntl(from, libc::F_DUPFD_CLOEXEC, above);
            if moved[i] < 0 {
                libc::_exit(127);
            }
        }
        for (i, &(_, to)) in fds.iter().enumerate() {
            if libc::dup2(moved[i], to) < 0 {
                libc::_exit(127);
            }
        }
        libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        libc::_exit(127)
    }
}

impl Drop for Detached {
    /// Reaped, so that no zombie stays with a long-lived caller.
    fn drop(&mut self) {
        self.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    #[test]
    fn the_child_gets_its_args_env_and_fds_and_a_failed_exec_is_127() {
        let (mut r, w) = std::io::pipe().unwrap();
        let mut c = Detached::spawn(
            Path::new("/bin/sh"),
            &[
                OsStr::new("-c"),
                OsStr::new("echo \"$1 $SPAWN_TEST\" >&3; echo out"),
                OsStr::new("sh"),
                OsStr::new("arg"),
            ],
            &[("SPAWN_TEST", OsStr::new("env"))],
            &[(w.as_raw_fd(), 3), (w.as_raw_fd(), 1)],
        )
        .unwrap();
        drop(w);
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        c.wait();
        assert_eq!(got, "arg env\nout\n");

        let mut status = 0;
        let bad = Detached::spawn(Path::new("/nonexistent/program"), &[], &[], &[]).unwrap();
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(bad.pid, &mut status, 0) };
        assert_eq!(r, bad.pid);
        assert!(libc::WIFEXITED(status));
        assert_eq!(libc::WEXITSTATUS(status), 127);
        drop(bad);
    }
}
