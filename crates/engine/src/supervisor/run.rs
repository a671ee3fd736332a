//! One run of the container: its rootfs, /etc files, config and network
//! made ready, the container created and started through the runtime with
//! pipes (or a pty) for its stdio, its output pumped until it exits, and the
//! exit recorded.

use super::pump::PumpIo;
use super::server::Server;
use super::setup::{
    make_mtab, make_workdir, oom_killed, open_null, pipe, reap_blocking, write_etc_files,
    ReleaseOnDrop,
};
use super::sink::Sink;
use super::{fail, start_failure_code, Fail, Supervisor};
use crate::model::{Container, Status};
use crate::mount::{mount_rootfs, unmount};
use crate::time::now;
use crate::Engine;
use std::os::fd::{AsRawFd, OwnedFd};

use skiff_runtime::log::timing;

impl Supervisor {
    /// One run of the container; returns its exit code.
    pub(super) fn run_once(
        &mut self,
        engine: &Engine,
        c: &mut Container,
        first: bool,
    ) -> Result<i32, Fail> {
        let paths = &engine.paths;
        // The host's cgroup hierarchies, as the supervisor before us saw
        // them: reading the host's mountinfo instead costs milliseconds once
        // many containers (an overlay mount each) run. Whoever needs the
        // layout in this process (the spec, the runtime, the exit) gets it
        // from here; a failure shows where it is needed.
        let _ = skiff_runtime::cgroups::Layout::detect_kept_in(
            &paths.runroot.join("cgroup-layout.json"),
        );
        let dir = paths.container_dir(&c.id);
        let rootfs = dir.join("rootfs");
        unmount(&rootfs);
        let _ = skiff_runtime::container::delete(&paths.runtime_root(), &c.id, true);
        mount_rootfs(paths, c, &dir, self.lower.take()).map_err(fail(125))?;
        timing("supervisor: rootfs mounted");
        // `--network|--ipc|--pid container:X` join X's namespace (X must
        // run).
        let mut joins = Vec::new();
        for (typ, proc_name, what, mode) in [
            ("network", "net", "network", &c.host.network_mode),
            ("ipc", "ipc", "IPC", &c.host.ipc_mode),
            ("pid", "pid", "PID", &c.host.pid_mode),
        ] {
            let Some(other) = mode.strip_prefix("container:") else {
                continue;
            };
            let o = engine.find(other).map_err(|e| (125, e.to_string()))?;
            if !matches!(o.state.status, Status::Running | Status::Paused) {
                return Err((
                    125,
                    format!("cannot join {what} of a non running container: {other}"),
                ));
            }
            // Another container's IPC namespace is joined only when it was
            // made shareable (dockerd's rule).
            if typ == "ipc" && o.host.ipc_mode != "shareable" {
                return Err((
                    125,
                    format!(
                        "can't join IPC of container {}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
                        o.id
                    ),
                ));
            }
            joins.push((typ, format!("/proc/{}/ns/{proc_name}", o.state.pid)));
        }
        let mut wiring = engine.prepare_wiring(c).map_err(|e| (125, e.to_string()))?;
        let mut release = ReleaseOnDrop {
            engine,
            id: c.id.clone(),
            armed: wiring.holds,
        };
        timing("supervisor: addresses and ports");
        let etc = write_etc_files(c, &dir, &wiring).map_err(fail(125))?;
        make_workdir(c, &rootfs).map_err(fail(125))?;
        make_mtab(&rootfs);
        let mounts = engine
            .oci_mounts(c, &rootfs)
            .map_err(|e| (125, e.to_string()))?;
        let init_exe = engine.supervisor_exe.clone();
        let input = crate::spec::SpecInput {
            rootfs: &rootfs,
            etc_files: &etc,
            mounts,
            init: c.host.init.then_some(init_exe.as_path()),
            console_size: if first {
                crate::tty::terminal_size(1)
            } else {
                None
            },
            joins,
        };
        let spec = crate::spec::build(c, &input).map_err(|e| (125, e.to_string()))?;
        let cfg = dir.join("config.json");
        std::fs::write(&cfg, serde_json::to_vec(&spec).expect("spec serializes"))
            .map_err(|e| (125, format!("writing {}: {e}", cfg.display())))?;
        // Not kept while the container runs (the seccomp profile alone is
        // tens of KiB of heap).
        drop(spec);
        timing("supervisor: config written");

        // With -t the container's pty is made in its own /dev/pts and its
        // master comes back over a console socket; else stdout and stderr
        // are pipes we read.
        let console = if c.config.tty {
            let path = paths
                .runroot
                .join("console")
                .join(format!("{}.sock", &c.id[..12]));
            Some(crate::tty::ConsoleSocket::listen(&path).map_err(fail(125))?)
        } else {
            None
        };
        let (out_r, out_w) = pipe().map_err(fail(125))?;
        let (err_r, err_w) = pipe().map_err(fail(125))?;
        let null = open_null().map_err(fail(125))?;
        // The client's terminal input (`run -it`), read by us into the pty.
        let client_in = if c.config.tty && c.config.open_stdin && first {
            Some(super::setup::dup_cloexec(0).map_err(fail(125))?)
        } else {
            None
        };
        // `-i` without `-t` and without a client's stdin (`run -d -i`, a
        // restart): the container reads a pipe we hold open, which attach
        // clients write to, as Docker keeps such a stdin open.
        let client_stdin = first && !super::setup::is_dev_null(0);
        let mut stdin_pipe: Option<OwnedFd> = None;
        let stdin_fd = if c.config.open_stdin && !c.config.tty && !client_stdin {
            let (r, w) = pipe().map_err(fail(125))?;
            stdin_pipe = Some(w);
            Some(r)
        } else {
            None
        };
        let stdin_raw = match (&stdin_fd, first) {
            (Some(r), _) => r.as_raw_fd(),
            (None, true) => 0,
            (None, false) => null.as_raw_fd(),
        };
        // Clients can attach from the moment the container starts.
        let server = Server::listen(
            &crate::tty::attach_socket(&paths.runroot, &c.id),
            c.config.tty,
        );
        let opts = skiff_runtime::container::CreateOpts {
            id: c.id.clone(),
            bundle: dir.clone(),
            root: paths.runtime_root(),
            seccomp_cache: Some(paths.runroot.join("seccomp")),
            console_socket: console.as_ref().map(|s| s.path.clone()),
            stdio: Some([stdin_raw, out_w.as_raw_fd(), err_w.as_raw_fd()]),
            ..Default::default()
        };
        let created = skiff_runtime::container::create_child(&opts)
            .map_err(|e| (start_failure_code(&e), e.to_string()))
            .and_then(|pid| {
                // Made, not started: it joins its networks now.
                timing("supervisor: created");
                match engine.wire(c, &mut wiring, pid) {
                    Ok(()) => Ok(pid),
                    Err(e) => {
                        // SAFETY: killing the init we just made.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        let _ = reap_blocking(pid);
                        Err((125, e.to_string()))
                    }
                }
            })
            .and_then(|pid| {
                timing("supervisor: network wired");
                skiff_runtime::container::start(&opts.root, &c.id)
                    .map(|_| pid)
                    .map_err(|e| (start_failure_code(&e), e.to_string()))
            });
        drop(out_w);
        drop(err_w);
        drop(stdin_fd);
        // The client's stdout and stderr, for us to write to; then our own
        // stdio holds nothing of the client's or the container's.
        let client = if first {
            [Sink::foreground(1), Sink::foreground(2)]
        } else {
            [None, None]
        };
        for fd in 0..3 {
            // SAFETY: dup2 onto our own standard fds.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
        let pid = match created {
            Ok(pid) => pid,
            Err(fail) => {
                unmount(&rootfs);
                return Err(fail);
            }
        };
        let master = match &console {
            Some(sock) => Some(sock.receive().map_err(fail(125))?),
            None => None,
        };
        drop(console);
        self.record_started(engine, c, pid)?;
        self.say(&format!("started {pid}"));
        timing("supervisor: running");

        let log = crate::logs::LogWriter::open(
            crate::logs::log_path(&dir, &c.id),
            c.host.log_max_size,
            c.host.log_max_file.unwrap_or(1),
        )
        .ok();
        let mut checker = crate::health::Checker::new(c);
        if let Some(ch) = &checker {
            let h = ch.initial();
            let _ = engine
                .store
                .update_state(&c.id, |s| s.health = Some(h.clone()));
        }
        // With a pty: its master is the output and takes the input.
        let (outputs, container_in) = match master {
            Some(m) => {
                let w = m.try_clone().map_err(|e| (125, format!("pty: {e}")))?;
                ([Some(m), None], Some(w))
            }
            None => ([Some(out_r), Some(err_r)], stdin_pipe),
        };
        let mut server = server;
        if let Some(s) = &mut server {
            s.has_input = container_in.is_some();
        }
        let lookup = engine.dns_lookup(&c.id);
        let io = PumpIo {
            outputs,
            client,
            client_in,
            input: container_in.map(Sink::input),
            server: server.as_mut(),
            log,
            dns: wiring
                .dns
                .take()
                .map(|r| (r, &lookup as &dyn skiff_net::dns::Lookup)),
        };
        let status = self.pump(pid, io, engine, c, checker.as_mut());
        // Its addresses and ports are free again (before an `--rm` removes
        // the record, so the port rules go with them).
        drop(wiring);
        release.now();
        if let Some(ch) = &mut checker {
            ch.stop();
        }
        let code = skiff_runtime::signals::exit_code(status);
        timing("supervisor: exited");
        let oom = oom_killed(&c.id);
        timing("supervisor: oom checked");
        if let Some(s) = &mut server {
            s.finish(engine, c);
        }
        if c.host.auto_remove {
            // `--rm` (never with a restart policy): the record goes first and
            // the client hears of the exit at once; the files follow. Should
            // we die in between, `container prune` removes what is left.
            let attrs = |extra: &[(&str, String)]| crate::container::event_attributes(c, extra);
            let mut events = Vec::new();
            if oom {
                events.push(("oom", attrs(&[])));
            }
            events.push(("die", attrs(&[("exitCode", code.to_string())])));
            events.push(("destroy", attrs(&[])));
            let _ = engine.store.remove_with_events(&c.id, &events);
            // Anonymous volumes go with it before the client hears (cheap,
            // and `volume ls` right after must not list them).
            engine.remove_anonymous_volumes(c);
            if let Some(s) = &mut server {
                s.exited(code);
            }
            self.say(&format!("exit {code}"));
            self.status = None;
            timing("supervisor: removed");
            let unmounted = engine.cleanup_runtime(c);
            // The record is gone: nothing starts it again, and its lock
            // file is kept with the directory only when nobody holds it.
            self.lock = None;
            let _ = paths.remove_container_dir(&c.id, unmounted);
            timing("supervisor: files removed");
            engine.store.checkpoint_over(super::QUIET_CHECKPOINT);
            return Ok(code);
        }
        let _ = skiff_runtime::container::delete(&paths.runtime_root(), &c.id, true);
        timing("supervisor: runtime state deleted");
        unmount(&rootfs);
        timing("supervisor: unmounted");
        let finished = now();
        // The exit and its events in one transaction: whoever sees it
        // stopped (`stop` records its own event then) sees `die` first.
        let attrs = |extra: &[(&str, String)]| crate::container::event_attributes(c, extra);
        let mut events = Vec::new();
        if oom {
            events.push(("oom", attrs(&[])));
        }
        events.push(("die", attrs(&[("exitCode", code.to_string())])));
        let _ = engine.store.update_state_with_events(
            &c.id,
            |s| {
                s.status = Status::Exited;
                s.exit_code = code;
                s.finished_at = finished.clone();
                s.oom_killed = oom;
                s.pid = 0;
            },
            &events,
        );
        if let Some(s) = &mut server {
            s.exited(code);
        }
        timing("supervisor: exit recorded");
        engine.store.checkpoint_over(super::QUIET_CHECKPOINT);
        Ok(code)
    }

    /// Record `c` running with init `pid` under this supervisor.
    fn record_started(&mut self, engine: &Engine, c: &mut Container, pid: i32) -> Result<(), Fail> {
        let pid_start = skiff_runtime::state::proc_stat(pid)
            .map(|s| s.0)
            .unwrap_or(0);
        let me = std::process::id() as i32;
        let me_start = skiff_runtime::state::proc_stat(me)
            .map(|s| s.0)
            .unwrap_or(0);
        let started_at = now();
        *c = engine.store.find(&c.id).map_err(|e| (125, e.to_string()))?;
        c.state = engine
            .store
            .update_state(&c.id, |s| {
                s.status = Status::Running;
                s.pid = pid;
                s.pid_start = pid_start;
                s.supervisor_pid = me;
                s.supervisor_start = me_start;
                s.started_at = started_at.clone();
                s.error.clear();
                s.exit_code = 0;
                s.oom_killed = false;
            })
            .map_err(|e| (125, e.to_string()))?;
        engine.event(c, "start", &[]);
        Ok(())
    }
}
