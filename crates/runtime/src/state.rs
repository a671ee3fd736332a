//! Container state on disk: `<root>/<id>/state.json`, and the status derived from it.
//!
//! The status is never stored: it is computed from the init process (alive? the same
//! process, by its start time?), the exec fifo (still waiting for `start`?) and the
//! freezer, so it stays true after any process was killed.

use crate::spec::Spec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
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

    pub fn load(root: &Path, id: &str) -> Result<State, StateError> {
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

    /// Write state.json atomically (temp file + rename).
    pub fn save(&self, root: &Path) -> Result<(), StateError> {
        let path = Self::path(root, &self.id);
        let tmp = path.with_extension("json.tmp");
        let io = |op, err| StateError::Io {
            op,
            path: tmp.clone(),
            err,
        };
        let data = serde_json::to_vec(self).expect("state serializes");
        let mut f = std::fs::File::create(&tmp).map_err(|e| io("creating", e))?;
        f.write_all(&data).map_err(|e| io("writing", e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| io("renaming", e))
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

    #[test]
    fn timestamp_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
