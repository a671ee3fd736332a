//! Exec instances, as a server keeps them between `POST
//! /containers/{id}/exec` and `POST /exec/{id}/start`: made for a running
//! container, started once, their exit code kept until the container goes.

use super::exec::{ExecHandle, ExecIo, ExecOptions};
use super::*;

/// One exec instance.
#[derive(Debug, Clone)]
pub struct ExecInstance {
    pub id: String,
    /// The container's ID.
    pub container: String,
    pub options: ExecOptions,
    /// Which of its streams the starting client takes (stdin, stdout,
    /// stderr).
    pub attach: (bool, bool, bool),
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: i32,
    /// Its pty's master while it runs with a TTY (for resizes).
    pub pty: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

impl Engine {
    fn no_such_exec(id: &str) -> Error {
        Error::not_found(crate::Object::Exec, format!("No such exec instance: {id}"))
    }

    /// A new exec instance of the running container `what`; its ID.
    pub fn exec_create(
        &self,
        what: &str,
        options: ExecOptions,
        attach: (bool, bool, bool),
    ) -> Result<String> {
        let c = self.exec_target(what)?;
        if options.cmd.is_empty() {
            return Err(Error::Invalid("No exec command specified".into()));
        }
        let id = crate::names::new_id();
        let e = ExecInstance {
            id: id.clone(),
            container: c.id,
            options,
            attach,
            running: false,
            exit_code: None,
            pid: 0,
            pty: None,
        };
        self.exec_instances
            .lock()
            .expect("exec instances")
            .insert(id.clone(), e);
        Ok(id)
    }

    /// The exec instance `id`.
    pub fn exec_instance(&self, id: &str) -> Result<ExecInstance> {
        self.exec_instances
            .lock()
            .expect("exec instances")
            .get(id)
            .cloned()
            .ok_or_else(|| Self::no_such_exec(id))
    }

    /// Start the exec instance `id` (once) with `io` (see
    /// [`Engine::exec_start`]); the process's handle. Its exit is recorded
    /// with [`Engine::exec_instance_exited`].
    pub fn exec_instance_start(&self, id: &str, io: Option<ExecIo>) -> Result<ExecHandle> {
        let e = {
            let mut all = self.exec_instances.lock().expect("exec instances");
            let e = all.get_mut(id).ok_or_else(|| Self::no_such_exec(id))?;
            if e.running || e.exit_code.is_some() {
                return Err(Error::Conflict(format!(
                    "Exec {id} has already been started"
                )));
            }
            e.running = true;
            e.clone()
        };
        match self.exec_start(&e.container, &e.options, io) {
            Ok(h) => {
                if let Some(e) = self
                    .exec_instances
                    .lock()
                    .expect("exec instances")
                    .get_mut(id)
                {
                    e.pid = h.pid;
                    e.pty = h
                        .pty
                        .as_ref()
                        .and_then(|p| p.try_clone().ok())
                        .map(std::sync::Arc::new);
                }
                Ok(h)
            }
            Err(err) => {
                self.exec_instance_exited(id, 126);
                Err(err)
            }
        }
    }

    /// The exec instance `id` exited with `code`.
    pub fn exec_instance_exited(&self, id: &str, code: i32) {
        if let Some(e) = self
            .exec_instances
            .lock()
            .expect("exec instances")
            .get_mut(id)
        {
            e.running = false;
            e.exit_code = Some(code);
            e.pty = None;
        }
    }

    /// Resize the pty of the running exec instance `id` to `rows` x `cols`.
    pub fn exec_instance_resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        let i = self.exec_instance(id)?;
        if !i.running {
            return Err(Error::Conflict(format!("Exec {id} is not running")));
        }
        let Some(pty) = i.pty else {
            return Err(Error::Invalid(format!("Exec {id} has no TTY to resize")));
        };
        use std::os::fd::AsRawFd;
        crate::tty::set_terminal_size(pty.as_raw_fd(), rows, cols)
            .map_err(|e| Error::Internal(format!("resizing exec {id}: {e}")))
    }

    /// Forget the exec instances of the container `id` (it is removed).
    pub(crate) fn forget_exec_instances(&self, id: &str) {
        self.exec_instances
            .lock()
            .expect("exec instances")
            .retain(|_, e| e.container != id);
    }
}
