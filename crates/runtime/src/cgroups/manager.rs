//! One container's cgroup ([`Manager`]): its directory in every hierarchy,
//! creating and removing them, moving processes in, listing, freezing and
//! signalling them. Writing limits lives in `resources` and `devices`.

use std::io;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{read, write, write_if_exists, CgroupError, Layout};

/// How long `destroy` keeps retrying directories that are still busy.
const DESTROY_TIMEOUT: Duration = Duration::from_secs(1);
/// How long `freeze`/`thaw` wait for the kernel to report the new state.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest sleep between polls.
const MAX_POLL_DELAY: Duration = Duration::from_millis(10);

/// Where a controller's files are for this container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target<'a> {
    /// The container's directory in the v1 hierarchy holding the controller.
    V1(&'a Path),
    /// The container's directory in the unified hierarchy.
    V2(&'a Path),
}

/// The cgroup of one container, in every hierarchy of a [`Layout`].
#[derive(Debug, Clone)]
pub struct Manager {
    layout: Layout,
    path: String,
    /// The container's directory in each `layout.v1` hierarchy, same order.
    v1_dirs: Vec<PathBuf>,
    /// The container's directory in the unified hierarchy.
    unified_dir: Option<PathBuf>,
}

impl Manager {
    /// The cgroup `path` (as from [`super::resolve_path`]) in every hierarchy
    /// of `layout`. Touches nothing on disk.
    pub fn new(layout: Layout, path: &str) -> Manager {
        let relative = path.trim_start_matches('/');
        let v1_dirs = layout
            .v1
            .iter()
            .map(|h| h.mountpoint.join(relative))
            .collect();
        let unified_dir = layout.unified.as_ref().map(|u| u.mountpoint.join(relative));
        Manager {
            path: format!("/{relative}"),
            layout,
            v1_dirs,
            unified_dir,
        }
    }

    /// The cgroup path, e.g. `/system.slice/skiff-x.scope`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The container's directory in each hierarchy, named as the hierarchy's
    /// directory under `/sys/fs/cgroup` would be (`memory`, `cpu,cpuacct`,
    /// `systemd`), the unified one as `""`. This is what to bind-mount at
    /// `/sys/fs/cgroup` inside the container.
    pub fn dirs(&self) -> Vec<(String, PathBuf)> {
        let mut out: Vec<(String, PathBuf)> = self
            .layout
            .v1
            .iter()
            .zip(&self.v1_dirs)
            .map(|(h, d)| (h.label(), d.clone()))
            .collect();
        if let Some(dir) = &self.unified_dir {
            out.push((String::new(), dir.clone()));
        }
        out
    }

    /// The directory holding `controller`'s files: its v1 hierarchy, else the
    /// unified hierarchy if that offers it.
    pub fn dir_for(&self, controller: &str) -> Option<&Path> {
        match self.target(controller, controller, "") {
            Ok(Target::V1(d) | Target::V2(d)) => Some(d),
            Err(_) => None,
        }
    }

    /// Where the files of a controller (named `v1` in v1 and `v2` in v2) are.
    pub(super) fn target(&self, v1: &str, v2: &str, what: &str) -> Result<Target<'_>, CgroupError> {
        if let Some(i) = self.layout.v1.iter().position(|h| h.has(v1)) {
            return Ok(Target::V1(&self.v1_dirs[i]));
        }
        if let Some(dir) = &self.unified_dir {
            if self.layout.unified_has(v2) {
                return Ok(Target::V2(dir));
            }
        }
        Err(CgroupError::MissingController {
            controller: if v1 == v2 {
                v1.to_string()
            } else {
                format!("{v1} (v1) / {v2} (v2)")
            },
            what: what.to_string(),
        })
    }

    pub(super) fn unified_dir(&self) -> Option<&Path> {
        self.unified_dir.as_deref()
    }

    fn all_dirs(&self) -> impl Iterator<Item = &Path> {
        self.v1_dirs
            .iter()
            .chain(self.unified_dir.as_ref())
            .map(PathBuf::as_path)
    }

    /// Create the cgroup in every hierarchy (`mkdir -p`). In a v1 cpuset
    /// hierarchy each new level gets its parent's `cpuset.cpus`/`cpuset.mems`
    /// (a cpuset cgroup with none refuses tasks). In the unified hierarchy all
    /// its controllers are enabled in `cgroup.subtree_control` of every
    /// ancestor; a controller an ancestor cannot enable is skipped, and a
    /// limit needing it then fails naming its file.
    pub fn create(&self) -> Result<(), CgroupError> {
        for (h, dir) in self.layout.v1.iter().zip(&self.v1_dirs) {
            let created = mkdir_p(dir, &h.mountpoint)?;
            if h.has("cpuset") {
                init_cpuset(dir, &h.mountpoint, &created)?;
            }
        }
        if let (Some(u), Some(dir)) = (&self.layout.unified, &self.unified_dir) {
            mkdir_p(dir, &u.mountpoint)?;
            enable_controllers(&u.mountpoint, dir, &u.controllers);
        }
        Ok(())
    }

    /// Move process `pid` into the cgroup in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        let value = pid.to_string();
        for dir in self.all_dirs() {
            write(dir, "cgroup.procs", &value)?;
        }
        Ok(())
    }

    /// The directory whose `cgroup.procs` lists the container's processes:
    /// the pids hierarchy, else the unified one, else the first v1 one.
    fn procs_dir(&self) -> Option<&Path> {
        if let Some(i) = self.layout.v1.iter().position(|h| h.has("pids")) {
            return Some(&self.v1_dirs[i]);
        }
        self.unified_dir
            .as_deref()
            .or(self.v1_dirs.first().map(PathBuf::as_path))
    }

    /// The processes in the cgroup itself (not in child cgroups).
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let Some(dir) = self.procs_dir() else {
            return Ok(Vec::new());
        };
        parse_procs(dir)
    }

    fn freezer(&self) -> Result<Target<'_>, CgroupError> {
        if let Some(i) = self.layout.v1.iter().position(|h| h.has("freezer")) {
            return Ok(Target::V1(&self.v1_dirs[i]));
        }
        // cgroup.freeze is a core file of every non-root v2 cgroup.
        match &self.unified_dir {
            Some(dir) => Ok(Target::V2(dir)),
            None => Err(CgroupError::MissingController {
                controller: "freezer".into(),
                what: "freezing".into(),
            }),
        }
    }

    /// Freeze every process in the cgroup and wait until the kernel says they
    /// are. On timeout the cgroup is thawed again and an error returned.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.set_frozen(true)
    }

    /// Thaw the cgroup and wait until the kernel says it is.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let (dir, file, value, state_file, expected) = match self.freezer()? {
            Target::V1(dir) => {
                let state = if frozen { "FROZEN" } else { "THAWED" };
                (dir, "freezer.state", state, "freezer.state", state)
            }
            Target::V2(dir) => {
                let (value, expected) = if frozen {
                    ("1", "frozen 1")
                } else {
                    ("0", "frozen 0")
                };
                (dir, "cgroup.freeze", value, "cgroup.events", expected)
            }
        };
        write(dir, file, value)?;
        let result = wait_for_state(dir, state_file, expected, || write(dir, file, value));
        if result.is_err() && frozen {
            // Do not leave the container half frozen.
            let undo = if file == "freezer.state" {
                "THAWED"
            } else {
                "0"
            };
            let _ = write(dir, file, undo);
        }
        result
    }

    /// Whether the cgroup is (completely) frozen.
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        Ok(match self.freezer()? {
            Target::V1(dir) => read(dir, "freezer.state")? == "FROZEN",
            Target::V2(dir) => has_line(&read(dir, "cgroup.events")?, "frozen 1"),
        })
    }

    /// Send `signal` to every process in the cgroup and its child cgroups.
    ///
    /// SIGKILL uses `cgroup.kill` where the kernel has it (5.14+). Otherwise
    /// the cgroup is frozen while the processes are listed and signalled, so
    /// none can fork behind our back; a cgroup that cannot be frozen is
    /// signalled anyway; a paused container is thawed after a SIGKILL so its
    /// processes can die. A cgroup that no longer exists has no processes.
    pub fn kill_all(&self, signal: Signal) -> Result<(), CgroupError> {
        if signal == Signal::SIGKILL {
            if let Some(dir) = &self.unified_dir {
                match write_if_exists(dir, "cgroup.kill", "1") {
                    Ok(true) if self.layout.is_unified_only() => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let Some(dir) = self.procs_dir() else {
            return Ok(());
        };
        if !dir.exists() {
            return Ok(());
        }
        let was_frozen = self.is_frozen();
        let froze = matches!(was_frozen, Ok(false)) && self.freeze().is_ok();
        let mut pids = Vec::new();
        let listed = collect_pids(dir, &mut pids);
        let mut errors = Vec::new();
        if let Err(e) = listed {
            errors.push(e);
        }
        for pid in pids {
            match nix::sys::signal::kill(Pid::from_raw(pid), signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(err) => errors.push(CgroupError::Signal {
                    pid,
                    signal: signal.as_str().to_string(),
                    err,
                }),
            }
        }
        // Frozen tasks act on SIGKILL only once thawed, so a paused
        // container is thawed to let it die.
        let paused_kill = signal == Signal::SIGKILL && matches!(was_frozen, Ok(true));
        if froze || paused_kill {
            if let Err(e) = self.thaw() {
                errors.push(e);
            }
        }
        CgroupError::from_list(errors)
    }

    /// Remove the cgroup from every hierarchy. Directories already gone are
    /// fine; busy ones (processes still exiting, child cgroups) are retried
    /// for up to a second, removing child cgroups first. Every failure is
    /// reported, not just the first.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(1);
        let mut pending: Vec<&Path> = self.all_dirs().collect();
        let mut errors = Vec::new();
        loop {
            let mut busy = Vec::new();
            for dir in pending {
                match std::fs::remove_dir(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => busy.push((dir, e)),
                    Err(err) => errors.push(CgroupError::Rmdir {
                        path: dir.to_path_buf(),
                        err,
                    }),
                }
            }
            if busy.is_empty() {
                break;
            }
            if start.elapsed() >= DESTROY_TIMEOUT {
                errors.extend(busy.into_iter().map(|(dir, err)| CgroupError::Rmdir {
                    path: dir.to_path_buf(),
                    err,
                }));
                break;
            }
            for (dir, _) in &busy {
                remove_child_cgroups(dir);
            }
            sleep(delay);
            delay = (delay * 2).min(MAX_POLL_DELAY * 2);
            pending = busy.into_iter().map(|(dir, _)| dir).collect();
        }
        CgroupError::from_list(errors)
    }
}

/// `mkdir -p dir` below `mount`, one `mkdir` when the parent exists. Returns
/// the directories it created, outermost first.
fn mkdir_p(dir: &Path, mount: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let mkdir_err = |err| CgroupError::Mkdir {
        path: dir.to_path_buf(),
        err,
    };
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(vec![dir.to_path_buf()]),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Vec::new()),
        Err(e) if e.kind() == io::ErrorKind::NotFound && dir != mount => {
            let parent = match dir.parent() {
                Some(p) if p.starts_with(mount) => p,
                _ => return Err(mkdir_err(e)),
            };
            let mut created = mkdir_p(parent, mount)?;
            match std::fs::create_dir(dir) {
                Ok(()) => created.push(dir.to_path_buf()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(mkdir_err(e)),
            }
            Ok(created)
        }
        Err(e) => Err(mkdir_err(e)),
    }
}

/// Give new v1 cpuset cgroups their parent's cpus and mems. `created` are the
/// levels `mkdir_p` made (outermost first); if it made none, the existing
/// `dir` is checked and filled only if empty.
fn init_cpuset(dir: &Path, mount: &Path, created: &[PathBuf]) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        match created.first().and_then(|d| d.parent()) {
            Some(parent) => {
                let value = cpuset_value(parent, mount, file)?;
                for level in created {
                    write(level, file, &value)?;
                }
            }
            None => {
                cpuset_value(dir, mount, file)?;
            }
        }
    }
    Ok(())
}

/// The value of `file` in `dir`, filling it from the nearest non-empty
/// ancestor first if it is empty.
fn cpuset_value(dir: &Path, mount: &Path, file: &str) -> Result<String, CgroupError> {
    let value = read(dir, file)?;
    if !value.trim().is_empty() || dir == mount {
        return Ok(value);
    }
    let Some(parent) = dir.parent().filter(|p| p.starts_with(mount)) else {
        return Ok(value);
    };
    let inherited = cpuset_value(parent, mount, file)?;
    write(dir, file, &inherited)?;
    Ok(inherited)
}

/// Enable `controllers` in `cgroup.subtree_control` of every ancestor of
/// `dir`, from the mount root down. One write per level; if a level refuses
/// the whole set, each controller is tried alone and failures are skipped.
fn enable_controllers(mount: &Path, dir: &Path, controllers: &[String]) {
    if controllers.is_empty() {
        return;
    }
    let Ok(relative) = dir.strip_prefix(mount) else {
        return;
    };
    let all: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
    let all = all.join(" ");
    let mut level = mount.to_path_buf();
    let mut components = relative.components().peekable();
    while let Some(component) = components.next() {
        if write(&level, "cgroup.subtree_control", &all).is_err() {
            for c in controllers {
                let _ = write(&level, "cgroup.subtree_control", &format!("+{c}"));
            }
        }
        if components.peek().is_none() {
            break;
        }
        level.push(component);
    }
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l.trim() == line)
}

/// Poll `dir/file` until it has the line `expected`, backing off from 20µs
/// to 10ms; `retrigger` is called every tenth poll (a v1 freeze can stall
/// in FREEZING while tasks fork).
fn wait_for_state(
    dir: &Path,
    file: &str,
    expected: &str,
    mut retrigger: impl FnMut() -> Result<(), CgroupError>,
) -> Result<(), CgroupError> {
    let start = Instant::now();
    let mut delay = Duration::from_micros(20);
    for poll in 1u32.. {
        let got = read(dir, file)?;
        if has_line(&got, expected) {
            return Ok(());
        }
        if start.elapsed() >= FREEZE_TIMEOUT {
            return Err(CgroupError::Timeout {
                path: dir.join(file),
                expected: expected.to_string(),
                got,
                ms: FREEZE_TIMEOUT.as_millis(),
            });
        }
        sleep(delay);
        delay = (delay * 2).min(MAX_POLL_DELAY);
        if poll % 10 == 0 {
            retrigger()?;
        }
    }
    unreachable!("the poll counter does not run out before the timeout")
}

fn parse_procs(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let text = read(dir, "cgroup.procs")?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim().parse().map_err(|_| CgroupError::Parse {
                what: dir.join("cgroup.procs").display().to_string(),
                reason: format!("{l:?} is not a pid"),
            })
        })
        .collect()
}

/// The pids in `dir` and, recursively, its child cgroups. A cgroup that
/// vanished meanwhile has none.
fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    match parse_procs(dir) {
        Ok(pids) => out.extend(pids),
        Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_pids(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// Remove the child cgroups of `dir`, deepest first; failures are left for
/// the caller's next `rmdir` of `dir` to report.
fn remove_child_cgroups(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let child = entry.path();
            remove_child_cgroups(&child);
            let _ = std::fs::remove_dir(&child);
        }
    }
}
