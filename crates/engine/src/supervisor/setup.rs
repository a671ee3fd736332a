//! What the supervisor sets up around a container and the small system
//! helpers it uses: /etc files, the working directory, /etc/mtab, pipes and
//! /dev/null, reaping, giving back memory before idling, the OOM check, and
//! giving back network addresses when a run ends.

use crate::model::Container;
use crate::proc::alive;
use crate::Engine;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Wait for child `pid` to exit; its wait status.
pub(super) fn reap_blocking(pid: i32) -> Option<i32> {
    let mut st = 0;
    // SAFETY: waitpid on our child.
    let r = unsafe { libc::waitpid(pid, &mut st, 0) };
    (r == pid).then_some(st)
}

/// The exit status of child `pid` if it has exited.
pub(super) fn reap(pid: i32) -> Option<i32> {
    let mut st = 0;
    // SAFETY: waitpid on our child, without blocking.
    let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
    if r == pid {
        Some(st)
    } else if r < 0 {
        // Not our child any more (or never): treat as gone.
        (!alive(pid, 0)).then_some(0)
    } else {
        None
    }
}

pub(super) fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

pub(super) fn dup_cloexec(fd: RawFd) -> Result<OwnedFd, String> {
    // SAFETY: fcntl F_DUPFD_CLOEXEC on one of our open fds.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if r < 0 {
        return Err(format!("dup {fd}: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: r is a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// Whether `fd` is /dev/null (a detached client's stdin).
pub(super) fn is_dev_null(fd: RawFd) -> bool {
    // SAFETY: fd is one of our standard fds, open for the call.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    match nix::sys::stat::fstat(fd) {
        Ok(st) => st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3),
        Err(_) => true,
    }
}

pub(super) fn open_null() -> Result<OwnedFd, String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|e| format!("/dev/null: {e}"))
}

/// Docker's init layer has /etc/mtab -> /proc/mounts.
pub(super) fn make_mtab(rootfs: &Path) {
    use skiff_runtime::rootfs::resolve::{resolve_in_root, Create};
    if let Ok(etc) = resolve_in_root(rootfs, "/etc", Some(Create::Dir)) {
        let mtab = etc.join("mtab");
        if std::fs::symlink_metadata(&mtab).is_err() {
            let _ = std::os::unix::fs::symlink("/proc/mounts", &mtab);
        }
    }
}

/// Docker makes a missing working directory, owned by the container's user.
pub(super) fn make_workdir(c: &Container, rootfs: &Path) -> Result<(), String> {
    let wd = &c.config.working_dir;
    if wd.is_empty() || wd == "/" {
        return Ok(());
    }
    use skiff_runtime::rootfs::resolve::{resolve_in_root, Create};
    let existed = resolve_in_root(rootfs, wd, None)
        .map(|p| p.exists())
        .unwrap_or(false);
    let p = resolve_in_root(rootfs, wd, Some(Create::Dir))
        .map_err(|e| format!("working directory {wd}: {e}"))?;
    if !existed {
        if let Ok((uid, gid, _)) = crate::spec::resolve_user(rootfs, &c.config.user) {
            let _ = std::os::unix::fs::lchown(&p, Some(uid), Some(gid));
        }
    }
    Ok(())
}

/// /etc/hostname, /etc/hosts and /etc/resolv.conf for the container, as
/// Docker writes them; returns (destination, source) pairs to bind-mount.
pub(super) fn write_etc_files(
    c: &Container,
    dir: &Path,
    net: &crate::network::Wiring,
) -> Result<Vec<(String, PathBuf)>, String> {
    let hostname = crate::spec::hostname(c);
    let w = |name: &str, text: String| -> Result<PathBuf, String> {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
        Ok(p)
    };
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    // Joined to another container's network: its names and resolver too
    // (found by its ID; a name given to --network falls through).
    let joined = c
        .host
        .network_mode
        .strip_prefix("container:")
        .and_then(|other| dir.parent().map(|d| d.join(other)))
        .and_then(|d| {
            let hosts = std::fs::read_to_string(d.join("hosts")).ok()?;
            let resolv = std::fs::read_to_string(d.join("resolv.conf")).ok()?;
            Some((hosts, resolv))
        });
    let (hosts, resolv) = if let Some(j) = joined {
        j
    } else if c.host.network_mode == "host" {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        (hosts, host_resolv)
    } else {
        let mut hosts = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n",
        );
        for e in &c.host.extra_hosts {
            if let Some((name, ip)) = e.split_once(':') {
                hosts.push_str(&format!("{ip}\t{name}\n"));
            }
        }
        if let Some(ip) = net.endpoints.first().and_then(|e| e.ip) {
            hosts.push_str(&format!("{ip}\t{hostname}\n"));
        }
        let user_network = net.endpoints.iter().any(|e| e.network.name != "bridge");
        (
            hosts,
            crate::network::resolv_conf(&host_resolv, &c.host, user_network && !c.host.dns_direct),
        )
    };
    Ok(vec![
        (
            "/etc/hostname".into(),
            w("hostname", format!("{hostname}\n"))?,
        ),
        ("/etc/hosts".into(), w("hosts", hosts)?),
        ("/etc/resolv.conf".into(), w("resolv.conf", resolv)?),
    ])
}

/// Give back what setting up the container cost in memory, before idling:
/// free heap pages go back to the kernel, and the pages of our executable's
/// read-only mappings that nothing changed (code and constants the setup
/// ran through) are dropped from our page tables, as is the stack below us;
/// what the idle loop needs faults back in.
/// Mappings with any private (changed) page, such as relocated data, are
/// left alone: dropping those would lose the changes.
pub(super) fn trim_memory(engine: &Engine) {
    engine.store.checkpoint_over(super::QUIET_CHECKPOINT);
    engine.store.close_idle();
    extern "C" {
        fn malloc_trim(pad: libc::size_t) -> libc::c_int;
    }
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe { malloc_trim(0) };
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let mi = unsafe { libc::mallinfo2() };
    skiff_runtime::log::timing(&format!(
        "supervisor: heap in use {} B, free {} B, arena {} B",
        mi.uordblks, mi.fordblks, mi.arena
    ));
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut cur: Option<(usize, usize, bool)> = None; // start, end, droppable
    let mut drop_ranges = Vec::new();
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            if let Some((s, e, true)) = cur.take() {
                drop_ranges.push((s, e));
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            let perms = f.get(1).copied().unwrap_or("");
            let path = f.get(5).copied().unwrap_or("");
            let (Ok(s), Ok(e)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                continue;
            };
            // File-backed, private, not writable.
            let ok = path.starts_with('/')
                && perms.len() == 4
                && !perms.contains('w')
                && perms.ends_with('p');
            cur = Some((s, e, ok));
        } else if let Some((_, _, ok)) = &mut cur {
            let mut kv = line.split_whitespace();
            let (k, v) = (kv.next().unwrap_or(""), kv.next().unwrap_or("0"));
            if matches!(k, "Anonymous:" | "Private_Dirty:" | "Shared_Dirty:") && v != "0" {
                *ok = false;
            }
        }
    }
    if let Some((s, e, true)) = cur {
        drop_ranges.push((s, e));
    }
    if let Some(r) = stack_below_us(&smaps) {
        drop_ranges.push(r);
    }
    for (s, e) in drop_ranges {
        // SAFETY: the range is either a whole mapping of ours holding only
        // clean, unmodified file pages (read again from the file on next
        // access, unchanged) or stack below every live frame (no frame is
        // there to lose; it reads as zeros when used again).
        unsafe { libc::madvise(s as *mut libc::c_void, e - s, libc::MADV_DONTNEED) };
    }
}

/// The part of the main thread's stack well below this frame (which deep
/// calls of the setup touched and nothing uses now): dropped, it reads as
/// zeros again when a later call reaches that deep. A margin of 16 KiB below
/// this frame stays, for the calls that drop it.
fn stack_below_us(smaps: &str) -> Option<(usize, usize)> {
    const MARGIN: usize = 16 << 10;
    let here = 0u8;
    let sp = std::hint::black_box(&here) as *const u8 as usize;
    let line = smaps.lines().find(|l| l.ends_with("[stack]"))?;
    let (a, b) = line.split_whitespace().next()?.split_once('-')?;
    let (start, end) = (
        usize::from_str_radix(a, 16).ok()?,
        usize::from_str_radix(b, 16).ok()?,
    );
    let top = sp.checked_sub(MARGIN)? & !(4095usize);
    (start < top && sp < end).then_some((start, top))
}

/// Did the kernel's OOM killer kill a process of the container's cgroup?
pub(super) fn oom_killed(id: &str) -> bool {
    crate::container::cgroup(id)
        .and_then(|m| m.oom_kills().ok())
        .is_some_and(|n| n > 0)
}

/// Gives a container's addresses and ports back when its run ends, however
/// it ends.
pub(super) struct ReleaseOnDrop<'a> {
    pub(super) engine: &'a Engine,
    pub(super) id: String,
    pub(super) armed: bool,
}

impl ReleaseOnDrop<'_> {
    pub(super) fn now(&mut self) {
        if std::mem::take(&mut self.armed) {
            self.engine.release_network(&self.id);
        }
    }
}

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.now();
    }
}
