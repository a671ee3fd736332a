//! The rest of a container's life: kill, stop, remove, rename, pause and
//! unpause, and `system boot`.

use super::*;

impl Engine {
    /// `kill`: send `signal` to the container's main process.
    pub fn kill(&self, what: &str, signal: i32) -> Result<Container> {
        let c = self.find(what)?;
        if !matches!(c.state.status, Status::Running | Status::Paused)
            || !alive(c.state.pid, c.state.pid_start)
        {
            return Err(Error::NotRunning(c.id));
        }
        self.store
            .update_state(&c.id, |s| s.stopped_by_user = true)?;
        // SAFETY: kill with a pid checked alive above (start time matched).
        if unsafe { libc::kill(c.state.pid, signal) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(Error::Internal(format!(
                    "Cannot kill container {}: {e}",
                    c.id
                )));
            }
        }
        if c.state.status == Status::Paused && signal == libc::SIGKILL {
            let _ = skiff_runtime::container::resume(&self.paths.runtime_root(), &c.id);
        }
        self.event(&c, "kill", &[("signal", signal.to_string())]);
        Ok(c)
    }

    /// `stop`: the stop signal, then SIGKILL after `timeout` seconds; returns
    /// once the supervisor recorded the exit.
    pub fn stop(&self, what: &str, timeout: Option<i64>) -> Result<Container> {
        let c = self.find(what)?;
        if !matches!(
            c.state.status,
            Status::Running | Status::Paused | Status::Restarting
        ) {
            return Ok(c);
        }
        self.store
            .update_state(&c.id, |s| s.stopped_by_user = true)?;
        if c.state.status == Status::Paused {
            let _ = skiff_runtime::container::resume(&self.paths.runtime_root(), &c.id);
        }
        let sig = match &c.config.stop_signal {
            Some(s) => parse_signal(s)?,
            None => libc::SIGTERM,
        };
        let t = timeout.or(c.config.stop_timeout).unwrap_or(10).max(0) as u64;
        if alive(c.state.pid, c.state.pid_start) {
            self.event(&c, "kill", &[("signal", sig.to_string())]);
            // SAFETY: kill of the container's checked pid.
            unsafe { libc::kill(c.state.pid, sig) };
            if !wait_gone(c.state.pid, c.state.pid_start, Duration::from_secs(t)) {
                self.event(&c, "kill", &[("signal", libc::SIGKILL.to_string())]);
                // SAFETY: as above.
                unsafe { libc::kill(c.state.pid, libc::SIGKILL) };
                wait_gone(c.state.pid, c.state.pid_start, Duration::from_secs(10));
            }
        }
        self.wait_recorded(&c.id, Duration::from_secs(10))?;
        self.event(&c, "stop", &[]);
        self.find(&c.id)
    }

    /// `restart`: stop (as `stop`), then start again (detached); a restart
    /// policy applies again afterwards.
    pub fn restart(&self, what: &str, timeout: Option<i64>) -> Result<()> {
        let c = self.stop(what, timeout)?;
        self.store
            .update_state(&c.id, |s| s.stopped_by_user = false)?;
        self.start(&c.id, None).map(|s| s.detach())
    }

    /// `rm`: remove a container (`force`: kill it first).
    pub fn remove(&self, what: &str, force: bool, volumes: bool) -> Result<Container> {
        let c = self.find(what)?;
        self.settle(&c);
        if matches!(
            c.state.status,
            Status::Running | Status::Paused | Status::Restarting
        ) {
            if !force {
                if c.state.status == Status::Paused {
                    return Err(Error::Conflict(format!(
                        "You cannot remove a paused container {}. Unpause and then stop the container before attempting removal or force remove",
                        c.id
                    )));
                }
                return Err(Error::RemoveRunning(c.id));
            }
            self.store
                .update_state(&c.id, |s| s.stopped_by_user = true)?;
            if c.state.status == Status::Paused {
                let _ = skiff_runtime::container::resume(&self.paths.runtime_root(), &c.id);
            }
            if alive(c.state.pid, c.state.pid_start) {
                // SAFETY: kill of the container's checked pid.
                unsafe { libc::kill(c.state.pid, libc::SIGKILL) };
                wait_gone(c.state.pid, c.state.pid_start, Duration::from_secs(10));
            }
            if let Err(e) = self.wait_recorded(&c.id, Duration::from_secs(10)) {
                // A supervisor that does not record the exit (stuck, not
                // reaping its child): `rm -f` removes the container all the
                // same, as the record of a supervisor that died.
                if !alive(c.state.supervisor_pid, c.state.supervisor_start) {
                    return Err(e);
                }
                // SAFETY: kill of the container's checked supervisor.
                unsafe { libc::kill(c.state.supervisor_pid, libc::SIGKILL) };
                wait_gone(
                    c.state.supervisor_pid,
                    c.state.supervisor_start,
                    Duration::from_secs(5),
                );
                self.wait_recorded(&c.id, Duration::from_secs(5))?;
            }
            // A restart policy's supervisor must not bring it back.
            if alive(c.state.supervisor_pid, c.state.supervisor_start) {
                wait_gone(
                    c.state.supervisor_pid,
                    c.state.supervisor_start,
                    Duration::from_secs(5),
                );
            }
        } else if self.being_started(&c) {
            if !force {
                return Err(Error::RemoveRunning(c.id));
            }
            self.stop_starting(&c);
        }
        self.destroy(&c)?;
        // A client attached for a start that will not come: its streams end.
        self.pending_attach
            .lock()
            .expect("pending attaches")
            .remove(&c.id);
        self.forget_exec_instances(&c.id);
        if volumes {
            self.remove_anonymous_volumes(&c);
        }
        Ok(c)
    }

    /// When `c`'s exit is recorded but its supervisor still holds the start
    /// lock (it lets go once it decided not to restart it, a moment later),
    /// wait for it, so a start or remove right after a wait or stop does not
    /// take it for being started.
    pub(crate) fn settle(&self, c: &Container) {
        if c.state.status != Status::Exited {
            return;
        }
        let dir = self.paths.container_dir(&c.id);
        if let crate::startlock::Holder::Supervisor(pid, _) = crate::startlock::holder(&dir) {
            if let Ok(fd) = skiff_runtime::pidfd::Pidfd::open(pid) {
                let _ = fd.wait(Some(Duration::from_secs(10)));
            }
        }
    }

    /// Whether a supervisor is starting `c` (which still reads as created).
    pub(crate) fn being_started(&self, c: &Container) -> bool {
        crate::startlock::holder(&self.paths.container_dir(&c.id)) != crate::startlock::Holder::None
    }

    /// Kill the supervisor that is starting `c` (what it made, the rootfs
    /// mount and a created init, `destroy` then removes).
    pub(crate) fn stop_starting(&self, c: &Container) {
        use crate::startlock::{holder, Holder};
        let dir = self.paths.container_dir(&c.id);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match holder(&dir) {
                Holder::None => break,
                Holder::Starting => std::thread::sleep(Duration::from_millis(5)),
                Holder::Supervisor(pid, start) => {
                    // SAFETY: kill of the checked pid of the supervisor.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    wait_gone(pid, start, Duration::from_secs(5));
                }
            }
        }
    }

    /// Remove a stopped container's runtime state, mount, files and record.
    pub(crate) fn destroy(&self, c: &Container) -> Result<()> {
        let unmounted = self.cleanup_runtime(c);
        timing("destroy: runtime cleaned");
        let dir = self.paths.container_dir(&c.id);
        self.paths
            .remove_container_dir(&c.id, unmounted)
            .map_err(io_err("removing", &dir))?;
        timing("destroy: files removed");
        self.store.remove(&c.id)?;
        self.event(c, "destroy", &[]);
        Ok(())
    }

    /// `rename`.
    pub fn rename(&self, what: &str, new_name: &str) -> Result<()> {
        let c = self.find(what)?;
        let n = crate::names::check_name(new_name).map_err(Error::Invalid)?;
        if n == c.name {
            return Err(Error::Invalid(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        self.store.rename(&c.id, &n)?;
        let mut renamed = c.clone();
        renamed.name = n;
        self.event(&renamed, "rename", &[("oldName", format!("/{}", c.name))]);
        Ok(())
    }

    /// `pause`: freeze every process of the container.
    pub fn pause(&self, what: &str) -> Result<()> {
        let c = self.find(what)?;
        match c.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::Conflict(format!(
                    "Container {} is already paused",
                    c.id
                )))
            }
            _ => return Err(Error::NotRunning(c.id)),
        }
        skiff_runtime::container::pause(&self.paths.runtime_root(), &c.id)
            .map_err(|e| Error::Internal(format!("Cannot pause container {}: {e}", c.id)))?;
        self.store
            .update_state(&c.id, |s| s.status = Status::Paused)?;
        self.event(&c, "pause", &[]);
        Ok(())
    }

    /// `unpause`.
    pub fn unpause(&self, what: &str) -> Result<()> {
        let c = self.find(what)?;
        if c.state.status != Status::Paused {
            return Err(Error::Conflict(format!("Container {} is not paused", c.id)));
        }
        skiff_runtime::container::resume(&self.paths.runtime_root(), &c.id)
            .map_err(|e| Error::Internal(format!("Cannot unpause container {}: {e}", c.id)))?;
        self.store
            .update_state(&c.id, |s| s.status = Status::Running)?;
        self.event(&c, "unpause", &[]);
        Ok(())
    }
}

impl Engine {
    /// `system boot`: after a reboot (or a crash of everything), bring back
    /// the containers whose restart policy says so: `always` unless the user
    /// stopped them, `unless-stopped` likewise; containers recorded running
    /// whose processes are gone are recorded exited first. Returns the IDs
    /// started.
    pub fn boot(&self) -> Result<Vec<String>> {
        let mut started = Vec::new();
        for c in self.list()? {
            let policy = c.host.restart_policy.name.as_str();
            let wants = matches!(policy, "always" | "unless-stopped") && !c.state.stopped_by_user;
            if !wants || matches!(c.state.status, Status::Running | Status::Paused) {
                continue;
            }
            // Leftovers of the last boot: the runtime's state and the mount.
            self.cleanup_runtime(&c);
            match self.start(&c.id, None) {
                Ok(s) => {
                    s.detach();
                    started.push(c.id);
                }
                Err(e) => {
                    let _ = self.store.update_state(&c.id, |s| s.error = e.to_string());
                }
            }
        }
        Ok(started)
    }
}
