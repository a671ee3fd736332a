//! Linux capabilities: the five sets of `process.capabilities`, compiled to bitmasks
//! in the runtime process and applied in the container process with raw syscalls
//! (no allocation between fork and exec).

use crate::spec::Capabilities;

#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("unknown capability {0:?} in process.capabilities.{1}")]
    Unknown(String, &'static str),
}

/// Capability names indexed by number, as the kernel numbers them.
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Parse a capability name ("CAP_CHOWN"; also accepted without the prefix and in
/// lower case, as Docker's --cap-add does).
pub fn parse(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

pub fn name(cap: u32) -> &'static str {
    NAMES.get(cap as usize).copied().unwrap_or("CAP_UNKNOWN")
}

fn mask(list: &Option<Vec<String>>, set: &'static str) -> Result<u64, CapsError> {
    let mut m = 0u64;
    for n in list.iter().flatten() {
        let c = parse(n).ok_or_else(|| CapsError::Unknown(n.clone(), set))?;
        m |= 1 << c;
    }
    Ok(m)
}

/// The five sets as bitmasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub permitted: u64,
    pub ambient: u64,
}

impl CapSets {
    pub fn from_spec(c: Option<&Capabilities>) -> Result<CapSets, CapsError> {
        let Some(c) = c else {
            return Ok(CapSets::default());
        };
        Ok(CapSets {
            bounding: mask(&c.bounding, "bounding")?,
            effective: mask(&c.effective, "effective")?,
            inheritable: mask(&c.inheritable, "inheritable")?,
            permitted: mask(&c.permitted, "permitted")?,
            ambient: mask(&c.ambient, "ambient")?,
        })
    }

    /// Keep only what this process can grant (its own bounding set): the host may
    /// lack some capabilities (CAP_SYS_RESOURCE, say); a container cannot get them.
    /// Every capability any set names.
    pub fn union(&self) -> u64 {
        self.bounding | self.effective | self.inheritable | self.permitted | self.ambient
    }

    pub fn limit_to(&mut self, available: u64) {
        self.bounding &= available;
        self.effective &= available;
        self.inheritable &= available;
        self.permitted &= available;
        self.ambient &= available;
    }
}

/// Which of the capabilities in `wanted` the calling process's bounding set
/// holds, read with PR_CAPBSET_READ.
pub fn bounding_of(wanted: u64) -> u64 {
    let mut m = 0u64;
    for c in 0..64u32 {
        if wanted & (1 << c) == 0 {
            continue;
        }
        // SAFETY: PR_CAPBSET_READ only reads; no memory is passed.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_READ, c as libc::c_ulong, 0, 0, 0) };
        if rc < 0 {
            break;
        }
        if rc == 1 {
            m |= 1 << c;
        }
    }
    m
}

/// Highest capability number the kernel knows: the numbers it knows run
/// from 0 without a gap, so a binary search finds the last in six reads
/// (a container's start drops the bounding set once, in stage 2).
fn last_cap() -> u32 {
    // SAFETY: PR_CAPBSET_READ only reads.
    let known =
        |c: u32| unsafe { libc::prctl(libc::PR_CAPBSET_READ, c as libc::c_ulong, 0, 0, 0) } >= 0;
    let (mut lo, mut hi) = (0u32, 64u32);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if known(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

fn capset(eff: u64, perm: u64, inh: u64) -> Result<(), nix::errno::Errno> {
    let hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: eff as u32,
            permitted: perm as u32,
            inheritable: inh as u32,
        },
        CapData {
            effective: (eff >> 32) as u32,
            permitted: (perm >> 32) as u32,
            inheritable: (inh >> 32) as u32,
        },
    ];
    // SAFETY: header and two data structs laid out as the v3 ABI requires.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) };
    nix::errno::Errno::result(rc).map(drop)
}

/// Drop every capability from the bounding set that `sets.bounding` lacks.
/// Runs in the container process before it changes uid. Async-signal-safe.
pub fn drop_bounding(sets: &CapSets) -> Result<(), nix::errno::Errno> {
    let last = last_cap();
    for c in 0..=last {
        if sets.bounding & (1 << c) == 0 {
            // SAFETY: PR_CAPBSET_DROP takes a capability number; no memory.
            let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, c as libc::c_ulong, 0, 0, 0) };
            if rc < 0 {
                let e = nix::errno::Errno::last();
                if e != nix::errno::Errno::EINVAL {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Set effective, permitted and inheritable, then raise the ambient set.
/// Runs after the uid change (with PR_SET_KEEPCAPS set before it). Async-signal-safe.
pub fn apply(sets: &CapSets) -> Result<(), nix::errno::Errno> {
    capset(sets.effective, sets.permitted, sets.inheritable)?;
    // SAFETY: plain prctl with integer arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
    for c in 0..64u32 {
        if sets.ambient & (1 << c) != 0 {
            // SAFETY: plain prctl with integer arguments.
            let rc = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE,
                    c as libc::c_ulong,
                    0,
                    0,
                )
            };
            if rc < 0 {
                // The kernel refuses ambient caps that are not permitted and
                // inheritable; runc ignores those too.
                continue;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_capability_is_the_kernels() {
        let want: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(last_cap(), want);
    }

    #[test]
    fn names_parse_with_and_without_prefix() {
        assert_eq!(parse("CAP_CHOWN"), Some(0));
        assert_eq!(parse("net_admin"), Some(12));
        assert_eq!(parse("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(parse("CAP_BOGUS"), None);
    }

    #[test]
    fn unknown_capability_is_named() {
        let c = Capabilities {
            effective: Some(vec!["CAP_KILL".into(), "CAP_NOPE".into()]),
            ..Default::default()
        };
        let err = CapSets::from_spec(Some(&c)).unwrap_err().to_string();
        assert!(
            err.contains("CAP_NOPE") && err.contains("effective"),
            "{err}"
        );
    }
}
