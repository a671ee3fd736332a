//! Container state on disk: `<root>/<id>/state.json`, and the status derived from it.
//!
//! The status is never stored: it is computed from the init process (alive? the same
//! process, by its start time?), the exec fifo (still waiting for `start`?) and the
//! freezer, so it stays true after any process was killed.

use crate::spec::Spec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container {0:?} already exists")]
    Exists(String),
    #[error("invalid container id {0:?}: {1}")]
    BadId(String, &'static str),
    #[error("{op} {path}: {err}")]
    Io {
        op: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("state file {path} is corrupt: {err}")]
    Corrupt {
        path: PathBuf,
        err: serde_json::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the runtime remembers about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    /// Host pid of the container's init; 0 while creating.
    pub pid: i32,
    /// Start time of that pid (field 22 of /proc/PID/stat), to detect pid reuse.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    pub cgroup_path: String,
    pub systemd_cgroup: bool,
    pub config: Spec,
}

/// The state JSON the runtime-spec defines, as `state` prints it and hooks read it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: Status,
    pub pid: i32,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
}

pub const SPEC_VERSION: &str = "1.2.0";

/// Container ids become directory names: keep them to a safe alphabet.
pub fn check_id(id: &str) -> Result<(), StateError> {
    let bad = |why| Err(StateError::BadId(id.to_string(), why));
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > 1024 {
        return bad("it is longer than 1024 bytes");
    }
    if id.contains('/') {
        return bad("it contains '/'");
    }
    if id.contains("..") || id == "." {
        return bad("it contains '..'");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
    {
        return bad("only letters, digits and _ + - . are allowed");
    }
    Ok(())
}

pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

impl State {
    pub fn path(root: &Path, id: &str) -> PathBuf {
        dir(root, id).join("state.json")
    }

    /// The saved state. A save writes over the file that was state.json
    /// one save before (see [`State::save_in`]): a reader that opened it
    /// then and read it across two saves gets a mix, and reads again.
    pub fn load(root: &Path, id: &str) -> Result<State, StateError> {
        let mut tries = 0;
        loop {
            match Self::load_once(root, id) {
                Err(StateError::Corrupt { .. }) if tries < 2 => tries += 1,
                r => return r,
            }
        }
    }

    fn load_once(root: &Path, id: &str) -> Result<State, StateError> {
        check_id(id)?;
        let path = Self::path(root, id);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotFound(id.to_string()))
            }
            Err(err) => {
                return Err(StateError::Io {
                    op: "reading",
                    path,
                    err,
                })
            }
        };
        serde_json::from_slice(&data).map_err(|err| StateError::Corrupt { path, err })
    }

    /// Write state.json atomically.
    pub fn save(&self, root: &Path) -> Result<(), StateError> {
        self.save_in(&dir(root, &self.id))
    }

    /// Write the state of a new container: into a directory from the pool
    /// ([`prepare_dir`]), which then takes the container's name
    /// ([`publish_dir`]), so that whoever finds the directory finds its
    /// state. Fails with `Exists` if the name is taken.
    pub fn save_new(&self, root: &Path) -> Result<(), StateError> {
        let new_dir = prepare_dir(root)?;
        if let Err(e) = self.save_in(&new_dir) {
            let _ = std::fs::remove_dir_all(&new_dir);
            return Err(e);
        }
        publish_dir(&new_dir, root, &self.id)
    }

    /// Write `dir`/state.json atomically: the new state is written over
    /// state.json.tmp, which then trades names with state.json
    /// (`RENAME_EXCHANGE`). Nothing is freed, where a rename over the old
    /// file would free its block (see [`prepare_dir`]); the old state stays
    /// behind as state.json.tmp. Saves of one container take turns (a lock
    /// on the directory).
    pub fn save_in(&self, dir: &Path) -> Result<(), StateError> {
        let path = dir.join("state.json");
        let tmp = dir.join("state.json.tmp");
        let io = |op, err| StateError::Io {
            op,
            path: tmp.clone(),
            err,
        };
        let data = serde_json::to_vec(self).expect("state serializes");
        let lock = std::fs::File::open(dir).map_err(|e| io("opening", e))?;
        // SAFETY: flock on an fd we own; released when `lock` is closed.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } < 0 {
            return Err(io("locking", std::io::Error::last_os_error()));
        }
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&tmp)
            .map_err(|e| io("creating", e))?;
        f.write_all_at(&data, 0).map_err(|e| io("writing", e))?;
        f.set_len(data.len() as u64).map_err(|e| io("writing", e))?;
        drop(f);
        match rename2(&tmp, &path, libc::RENAME_EXCHANGE) {
            Ok(()) => Ok(()),
            // No state yet, or a file system that cannot exchange names.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINVAL)) => {
                std::fs::rename(&tmp, &path).map_err(|e| io("renaming", e))
            }
            Err(e) => Err(io("renaming", e)),
        }
    }

    pub fn fifo_path(root: &Path, id: &str) -> PathBuf {
        dir(root, id).join("exec.fifo")
    }

    /// The current status, read off the system.
    pub fn status(&self, root: &Path, frozen: impl FnOnce() -> bool) -> Status {
        if self.pid <= 0 {
            return Status::Creating;
        }
        if !process_alive(self.pid, self.pid_start) {
            return Status::Stopped;
        }
        if Self::fifo_path(root, &self.id).exists() {
            return Status::Created;
        }
        if frozen() {
            return Status::Paused;
        }
        Status::Running
    }

    pub fn oci<'a>(&'a self, status: Status) -> OciState<'a> {
        OciState {
            oci_version: SPEC_VERSION,
            id: &self.id,
            status,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
            annotations: &self.config.annotations,
        }
    }
}

/// Field 22 of /proc/PID/stat (start time in clock ticks), and the state letter.
pub fn proc_stat(pid: i32) -> Option<(u64, u8)> {
    let data = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = data.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&data[close + 2..]).ok()?;
    let mut fields = rest.split(' ');
    let state = fields.next()?.as_bytes().first().copied()?;
    // After the state come fields 4.. ; start time is field 22, i.e. 19 more.
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state))
}

/// The parent of `pid` (field 4 of /proc/PID/stat).
pub fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Is `pid` the same live (not zombie) process that started at `start`?
pub fn process_alive(pid: i32, start: u64) -> bool {
    match proc_stat(pid) {
        Some((s, st)) => s == start && st != b'Z' && st != b'X',
        None => false,
    }
}

/// RFC 3339 UTC time with nanoseconds, as runc writes `created`.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339_nanos(now.as_nanos() as i64)
}

/// `nanos` since the epoch as RFC 3339 in UTC with nanoseconds
/// (`2026-11-22T03:04:05.123456789Z`), as runc and Docker write times.
pub fn rfc3339_nanos(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}

/// Where retired state directories wait to be used again: '#' is not in
/// the id alphabet, so no container can have this name.
const SPARES: &str = "#spare";
/// Prepared directories in the pool carry this prefix until they are named.
const NEW: &str = "new-";
/// Beyond this many spares, a retired directory is removed.
const MAX_SPARES: usize = 32;

/// State directories are recycled. Removing a directory and its state file
/// frees their blocks, and ext4 mounted with `discard` and without a journal
/// waits for the disk to discard each freed block before the call returns
/// (0.1-0.8 ms per container on a virtual disk). So `delete` moves a container's directory into `<root>/#spare`
/// ([`retire_dir`]) and `create` takes one from there: this function claims
/// one (or makes one), the caller writes the state into it
/// ([`State::save_in`]) and [`publish_dir`] gives it the container's name,
/// so that a reader never sees a directory without its state.
fn prepare_dir(root: &Path) -> Result<PathBuf, StateError> {
    let pool = root.join(SPARES);
    let mine = pool.join(format!("{NEW}{}", unique_name()));
    if let Ok(entries) = std::fs::read_dir(&pool) {
        for e in entries.flatten() {
            // Another create's, unless that create's process is gone (killed
            // between here and naming the directory).
            if let Some(rest) = e.file_name().as_bytes().strip_prefix(NEW.as_bytes()) {
                if preparer_alive(rest) {
                    continue;
                }
            }
            // Another create may claim the same one: whoever renames it first.
            if std::fs::rename(e.path(), &mine).is_ok() {
                return Ok(mine);
            }
        }
    }
    let io = |err| StateError::Io {
        op: "creating",
        path: mine.clone(),
        err,
    };
    match std::fs::create_dir(&mine) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&pool).map_err(io)?;
            std::fs::create_dir(&mine).map_err(io)
        }
        r => r.map_err(io),
    }?;
    Ok(mine)
}

/// Give a directory from [`prepare_dir`] the container's name; if the name is
/// taken, the directory goes back to the pool and the error says so.
fn publish_dir(prepared: &Path, root: &Path, id: &str) -> Result<(), StateError> {
    let to = dir(root, id);
    let res = match rename2(prepared, &to, libc::RENAME_NOREPLACE) {
        // A file system without RENAME_NOREPLACE: a rename onto a container's
        // directory, which is never empty, fails too.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => std::fs::rename(prepared, &to),
        r => r,
    };
    match res {
        Ok(()) => Ok(()),
        Err(e) => {
            let name = prepared.file_name().unwrap_or_default().as_bytes();
            let back =
                prepared.with_file_name(OsStr::from_bytes(&name[NEW.len().min(name.len())..]));
            if std::fs::rename(prepared, &back).is_err() {
                let _ = std::fs::remove_dir_all(prepared);
            }
            if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) {
                Err(StateError::Exists(id.to_string()))
            } else {
                Err(StateError::Io {
                    op: "creating",
                    path: to,
                    err: e,
                })
            }
        }
    }
}

/// Take a container's directory away and keep it as a spare for the next
/// `create`, with nothing in it but the state files (anything else is
/// removed first; the container's name goes with one rename); past
/// [`MAX_SPARES`], or if something in it cannot be removed, it is removed.
pub fn retire_dir(root: &Path, id: &str) -> std::io::Result<()> {
    let d = dir(root, id);
    let pool = root.join(SPARES);
    let spares = std::fs::read_dir(&pool)
        .map(|r| {
            r.flatten()
                .filter(|e| !e.file_name().as_bytes().starts_with(NEW.as_bytes()))
                .count()
        })
        .unwrap_or(0);
    if spares < MAX_SPARES {
        let mut clean = true;
        for e in std::fs::read_dir(&d)?.flatten() {
            let name = e.file_name();
            if name != "state.json" && name != "state.json.tmp" {
                let p = e.path();
                clean &= std::fs::remove_file(&p)
                    .or_else(|_| std::fs::remove_dir_all(&p))
                    .is_ok();
            }
        }
        if !clean {
            return std::fs::remove_dir_all(&d);
        }
        let spare = pool.join(unique_name());
        let _ = std::fs::create_dir(&pool);
        if std::fs::rename(&d, &spare).is_ok() {
            return Ok(());
        }
    }
    std::fs::remove_dir_all(&d)
}

/// Is the process that named a prepared directory `new-<pid>-...` alive?
fn preparer_alive(rest: &[u8]) -> bool {
    let pid = std::str::from_utf8(rest)
        .ok()
        .and_then(|r| r.split('-').next())
        .and_then(|p| p.parse::<i32>().ok());
    match pid {
        Some(pid) if pid > 0 => {
            // SAFETY: kill with signal 0 only checks that the process exists.
            let rc = unsafe { libc::kill(pid, 0) };
            rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
        }
        _ => false,
    }
}

/// A name no other process makes: this one's pid and the time.
fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

/// renameat2(2) with `flags`.
fn rename2(from: &Path, to: &Path, flags: libc::c_uint) -> std::io::Result<()> {
    let (f, t) = (
        std::ffi::CString::new(from.as_os_str().as_bytes())?,
        std::ffi::CString::new(to.as_os_str().as_bytes())?,
    );
    // SAFETY: two valid C string paths relative to the current directory.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            flags,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Ids of all containers under a state root.
pub fn list_ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("state.json").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        for bad in ["", "a/b", "..", "x..y", "a b", "."] {
            assert!(check_id(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["abc", "a-b_c.d+1", "0123"] {
            check_id(good).unwrap();
        }
    }

    #[test]
    fn own_process_is_alive_and_start_time_matters() {
        let me = std::process::id() as i32;
        let (start, _) = proc_stat(me).unwrap();
        assert!(process_alive(me, start));
        assert!(!process_alive(me, start + 1));
    }

    fn state(id: &str) -> State {
        State {
            id: id.into(),
            pid: 0,
            pid_start: 0,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            owner: String::new(),
            cgroup_path: format!("/{id}"),
            systemd_cgroup: false,
            config: serde_json::from_str("{}").unwrap(),
        }
    }

    fn spares(root: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(root.join(SPARES))
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn state_directories_are_recycled() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let mut a = state("a");
        a.save_new(root).unwrap();
        assert_eq!(State::load(root, "a").unwrap().id, "a");
        // A second save trades names with the first: both files stay.
        a.pid = 42;
        a.save(root).unwrap();
        assert_eq!(State::load(root, "a").unwrap().pid, 42);
        let inode = std::fs::metadata(dir(root, "a")).unwrap().ino();
        // The name is taken: the prepared directory goes back to the pool.
        assert!(matches!(
            state("a").save_new(root),
            Err(StateError::Exists(_))
        ));
        assert_eq!(spares(root).len(), 1);
        std::fs::write(dir(root, "a").join("exec.fifo"), "").unwrap();
        retire_dir(root, "a").unwrap();
        assert!(!dir(root, "a").exists());
        assert_eq!(spares(root).len(), 2);
        for s in spares(root) {
            let mut names: Vec<_> = std::fs::read_dir(&s)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().into_string().unwrap())
                .collect();
            names.retain(|n| n != "state.json" && n != "state.json.tmp");
            assert!(names.is_empty(), "{} keeps {names:?}", s.display());
        }
        assert_eq!(list_ids(root), Vec::<String>::new());
        // The next containers take the spares, a's directory among them,
        // each with its own state.
        state("b").save_new(root).unwrap();
        state("c").save_new(root).unwrap();
        assert!(spares(root).is_empty());
        let inodes: Vec<u64> = ["b", "c"]
            .iter()
            .map(|id| std::fs::metadata(dir(root, id)).unwrap().ino())
            .collect();
        assert!(inodes.contains(&inode), "a's directory was not used again");
        assert_eq!(State::load(root, "b").unwrap().id, "b");
        assert_eq!(State::load(root, "c").unwrap().pid, 0);
        assert_eq!(list_ids(root), vec!["b".to_string(), "c".to_string()]);
        // A directory prepared by a process that died before naming it is
        // taken by the next create; one a live process prepares is not.
        let dead = root.join(SPARES).join(format!("{NEW}999999999-1"));
        let live = root
            .join(SPARES)
            .join(format!("{NEW}{}-1", std::process::id()));
        std::fs::create_dir(&dead).unwrap();
        std::fs::create_dir(&live).unwrap();
        state("d").save_new(root).unwrap();
        assert!(!dead.exists(), "a dead create's directory was left");
        assert!(live.exists());
        std::fs::remove_dir(&live).unwrap();
        retire_dir(root, "d").unwrap();
        // Past MAX_SPARES, retired directories are removed.
        for i in 0..MAX_SPARES + 3 {
            let id = format!("n{i}");
            state(&id).save_new(root).unwrap();
            retire_dir(root, &id).unwrap();
        }
        // Each make took the one spare the retire before it left.
        assert_eq!(spares(root).len(), 1);
        for i in 0..MAX_SPARES + 3 {
            state(&format!("m{i}")).save_new(root).unwrap();
        }
        for i in 0..MAX_SPARES + 3 {
            retire_dir(root, &format!("m{i}")).unwrap();
        }
        assert_eq!(spares(root).len(), MAX_SPARES);
    }

    #[test]
    fn timestamp_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
