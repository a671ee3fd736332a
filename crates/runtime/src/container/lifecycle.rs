//! `start`, `kill`, `delete`, `pause`/`resume`, and `run` (create, start, wait,
//! delete).

use super::create::create_inner;
use super::{hook_state, io_err, load, manager_for, CreateOpts};
use crate::cgroups::Manager;
use crate::state::{self, State, Status};
use crate::Error;
use std::path::Path;

/// `start`: release the process waiting at the barrier, run poststart hooks.
pub fn start(root: &Path, id: &str) -> Result<(), Error> {
    crate::log::timing("start: begin");
    let (st, status) = load(root, id)?;
    if status != Status::Created {
        return Err(Error::BadStatus {
            id: id.into(),
            op: "start",
            status,
        });
    }
    release(root, &st)
}

/// Release a created container's process from the barrier.
fn release(root: &Path, st: &State) -> Result<(), Error> {
    let fifo = State::fifo_path(root, &st.id);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags_nonblock()
        .open(&fifo)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ENXIO) {
                Error::Init("container process is not waiting to start".into())
            } else {
                io_err("opening exec fifo", &fifo)(e)
            }
        })?;
    use std::io::Write;
    (&f).write_all(&[0])
        .map_err(io_err("writing exec fifo", &fifo))?;
    drop(f);
    let _ = std::fs::remove_file(&fifo);
    crate::log::timing("start: released");
    if let Some(h) = &st.config.hooks {
        if !h.poststart.is_empty() {
            let json = hook_state(st, Status::Running);
            crate::hooks::run_all_warn("poststart", &h.poststart, &json);
        }
    }
    Ok(())
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}

/// `kill`: send a signal to the init process (or, with `all`, every process of
/// the container's cgroup).
pub fn kill(root: &Path, id: &str, sig: i32, all: bool) -> Result<(), Error> {
    let (st, status) = load(root, id)?;
    if status == Status::Stopped && !all {
        return Err(Error::NotRunning { id: id.into() });
    }
    if all {
        let cg = manager_for(&st)?;
        for pid in cg.pids().unwrap_or_default() {
            // SAFETY: kill with a pid and signal number.
            unsafe { libc::kill(pid, sig) };
        }
        if sig == libc::SIGKILL && status == Status::Paused {
            let _ = cg.thaw();
        }
        return Ok(());
    }
    // SAFETY: kill with a pid and signal number.
    if unsafe { libc::kill(st.pid, sig) } < 0 {
        return Err(Error::Sys {
            op: "sending signal to container",
            err: nix::errno::Errno::last(),
        });
    }
    if sig == libc::SIGKILL && status == Status::Paused {
        manager_for(&st)?.thaw()?;
    }
    Ok(())
}

/// Wait (up to `limit`) until `pid` is gone or a zombie.
fn wait_gone(pid: i32, start: u64, limit: std::time::Duration) -> bool {
    let t = std::time::Instant::now();
    while state::process_alive(pid, start) {
        // SAFETY: a non-blocking reap in case the process is our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        if t.elapsed() > limit {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    true
}

/// `delete`: remove a stopped container (any container with `force`).
pub fn delete(root: &Path, id: &str, force: bool) -> Result<(), Error> {
    let st = match State::load(root, id) {
        Ok(st) => st,
        Err(state::StateError::NotFound(_)) if force => {
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let cg = manager_for(&st)?;
    delete_with(root, &st, &cg, force)
}

fn delete_with(root: &Path, st: &State, cg: &Manager, force: bool) -> Result<(), Error> {
    let id = st.id.as_str();
    let status = st.status(root, || cg.is_frozen().unwrap_or(false));
    match status {
        Status::Stopped | Status::Creating => {}
        Status::Created => {
            // A created container never ran: delete kills it, as runc does.
            kill_and_wait(st, cg);
        }
        Status::Running | Status::Paused if force => kill_and_wait(st, cg),
        _ => {
            return Err(Error::BadStatus {
                id: id.into(),
                op: "delete",
                status,
            })
        }
    }
    let mut errors = Vec::new();
    // Kill stragglers left in the cgroup (daemonized children of the container).
    if let Ok(pids) = cg.pids() {
        if !pids.is_empty() {
            let _ = cg.thaw();
            for p in pids {
                // SAFETY: kill with a pid and signal number.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
    }
    crate::log::timing("delete: stragglers checked");
    if let Err(e) = cg.destroy() {
        errors.push(e.to_string());
    }
    crate::log::timing("delete: cgroups removed");
    if let Some(h) = &st.config.hooks {
        if !h.poststop.is_empty() {
            let json = hook_state(st, Status::Stopped);
            // The container is gone either way: a poststop failure is a warning,
            // and the remaining poststop hooks still run.
            crate::hooks::run_all_warn("poststop", &h.poststop, &json);
        }
    }
    if let Err(e) = state::retire_dir(root, id) {
        errors.push(format!("removing {}: {e}", state::dir(root, id).display()));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Teardown(errors.join("; ")))
    }
}

fn kill_and_wait(st: &State, cg: &Manager) {
    let _ = cg.thaw();
    // SAFETY: kill with a pid and signal number.
    unsafe { libc::kill(st.pid, libc::SIGKILL) };
    wait_gone(st.pid, st.pid_start, std::time::Duration::from_secs(10));
}

/// `pause` and `resume` through the freezer.
pub fn pause(root: &Path, id: &str) -> Result<(), Error> {
    let (st, status) = load(root, id)?;
    if status != Status::Running && status != Status::Created {
        return Err(Error::BadStatus {
            id: id.into(),
            op: "pause",
            status,
        });
    }
    Ok(manager_for(&st)?.freeze()?)
}

pub fn resume(root: &Path, id: &str) -> Result<(), Error> {
    let (st, status) = load(root, id)?;
    if status != Status::Paused {
        return Err(Error::BadStatus {
            id: id.into(),
            op: "resume",
            status,
        });
    }
    Ok(manager_for(&st)?.thaw()?)
}

/// `run`: create, start, and (unless detached) wait; returns the exit code and
/// deletes the container. Waits with [`crate::signals::wait_forwarding`],
/// which takes over the process's signal handlers: for the runc CLI.
pub fn run(opts: &CreateOpts, detach: bool) -> Result<i32, Error> {
    let (st, cg) = create_inner(opts, true)?;
    crate::log::timing("start: begin");
    if let Err(e) = release(&opts.root, &st) {
        let _ = delete_with(&opts.root, &st, &cg, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let code = crate::signals::wait_forwarding(st.pid);
    crate::log::timing("run: container exited");
    if let Err(e) = delete_with(&opts.root, &st, &cg, true) {
        crate::log::warn(&e.to_string());
    }
    crate::log::timing("run: deleted");
    Ok(code)
}
