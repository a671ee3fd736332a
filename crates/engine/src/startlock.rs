//! One supervisor per container. `start` takes an open-file-description
//! lock on `supervisor.lock` in the container's directory and hands the
//! locked descriptor to the supervisor it spawns, which keeps it for as long
//! as it lives and writes its pid into the file. So a second `start` of a
//! container that is still being started (its state still reads `created`)
//! cannot spawn a second supervisor that would mount over the first one's
//! rootfs, and `prune` and `rm` can tell a container being started from one
//! that merely sits created.
//!
//! The lock is an OFD lock (`F_OFD_SETLK`), not `flock`: `F_OFD_GETLK` asks
//! who holds it without taking it, so asking never makes a concurrent
//! `start` fail.

use crate::proc::alive;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

const FILE: &str = "supervisor.lock";

fn open(dir: &Path, create: bool) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .custom_flags(libc::O_CLOEXEC)
        .open(dir.join(FILE))
}

/// `fcntl(cmd)` with a write lock over the whole file.
fn ofd(f: &File, cmd: libc::c_int) -> std::io::Result<libc::flock> {
    // SAFETY: a zeroed flock is a valid value (whole file from offset 0).
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: fcntl with a valid fd and a pointer to a live flock.
    if unsafe { libc::fcntl(f.as_raw_fd(), cmd, &mut fl) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fl)
}

/// Take the lock of the container whose directory is `dir`, for a
/// supervisor about to be spawned; `None` if something holds it: a live
/// supervisor, a start in progress, or (see `holder`) a created init whose
/// supervisor died, which inherited the descriptor until it would exec.
pub(crate) fn acquire(dir: &Path) -> std::io::Result<Option<File>> {
    let f = open(dir, true)?;
    match ofd(&f, libc::F_OFD_SETLK) {
        Ok(_) => {}
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => return Ok(None),
        Err(e) => return Err(e),
    }
    // Blank: "being started"; the supervisor writes its pid.
    put(&f, "")?;
    Ok(Some(f))
}

/// Record the supervisor holding the lock in the locked file.
pub(crate) fn record(f: &mut File, pid: i32, start: u64) -> std::io::Result<()> {
    put(f, &format!("{pid} {start}"))
}

/// Width of the file's one record: a pid and a start time, padded with
/// blanks.
const RECORD: usize = 40;

/// Overwrite the file's record in place with `text`, padded to `RECORD`
/// bytes. Never shortened: on a file system mounted with `discard`, a
/// truncation that frees the file's block waits for the disk, and this
/// runs in every start.
fn put(f: &File, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = [b' '; RECORD];
    buf[..text.len()].copy_from_slice(text.as_bytes());
    f.write_all_at(&buf, 0)
}

/// Who holds the lock of the container whose directory is `dir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// Nobody, or only what a dead supervisor left (a created init).
    None,
    /// A `start` that has not yet spawned its supervisor.
    Starting,
    /// A live supervisor: pid and start time.
    Supervisor(i32, u64),
}

/// Whether anyone holds the lock of the container whose directory is `dir`.
pub(crate) fn locked(dir: &Path) -> bool {
    let Ok(f) = open(dir, false) else {
        return false;
    };
    matches!(ofd(&f, libc::F_OFD_GETLK), Ok(fl) if fl.l_type != libc::F_UNLCK as libc::c_short)
}

pub(crate) fn holder(dir: &Path) -> Holder {
    let Ok(mut f) = open(dir, false) else {
        return Holder::None;
    };
    match ofd(&f, libc::F_OFD_GETLK) {
        Ok(fl) if fl.l_type == libc::F_UNLCK as libc::c_short => return Holder::None,
        Ok(_) => {}
        Err(_) => return Holder::None,
    }
    let mut text = String::new();
    let _ = f.read_to_string(&mut text);
    let mut words = text.split_whitespace();
    match (words.next(), words.next()) {
        (None, _) => Holder::Starting,
        (Some(p), Some(s)) => match (p.parse(), s.parse()) {
            (Ok(pid), Ok(start)) if alive(pid, start) => Holder::Supervisor(pid, start),
            _ => Holder::None,
        },
        _ => Holder::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_taker_and_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), Holder::None);
        let mut first = acquire(dir.path()).unwrap().expect("free");
        assert_eq!(holder(dir.path()), Holder::Starting);
        assert!(acquire(dir.path()).unwrap().is_none(), "taken twice");
        let me = std::process::id() as i32;
        let start = skiff_runtime::state::proc_stat(me).unwrap().0;
        record(&mut first, me, start).unwrap();
        assert_eq!(holder(dir.path()), Holder::Supervisor(me, start));
        // A holder recorded as a process that is gone counts as nobody.
        record(&mut first, me, start + 1).unwrap();
        assert_eq!(holder(dir.path()), Holder::None);
        drop(first);
        assert_eq!(holder(dir.path()), Holder::None);
        assert!(acquire(dir.path()).unwrap().is_some());
    }
}
