//! Seccomp: `linux.seccomp` compiled to a classic-BPF program and loaded with seccomp(2).
//!
//! The work is split in two because of where each half runs:
//!
//! * [`compile`] runs in the runtime's parent process, before any fork. It validates the
//!   configuration (every action, operator, architecture, flag and syscall name), builds
//!   the filter with libseccomp, exports the BPF and keeps it in a [`Program`] together
//!   with the seccomp(2) flags to use. Every error names the bad value.
//! * [`Program::load`] runs in the container's init process right before execve, where
//!   only async-signal-safe work is allowed: it allocates nothing and calls nothing in
//!   libseccomp, only the raw seccomp(2) syscall. It does not set `no_new_privs`; the
//!   caller does that when `process.noNewPrivileges` asks for it (a process with
//!   `CAP_SYS_ADMIN` may install a filter without it).
//!
//! Rules follow runc's semantics: arguments with distinct indexes are ANDed in one rule,
//! while an index that appears more than once turns every argument into a rule of its
//! own (ORed); a rule whose action equals the default action is skipped. A syscall name
//! that libseccomp knows on some architecture but not on the filter's ones (Docker's
//! default profile lists arm- and s390-only calls) is skipped, as is a real syscall that
//! is newer than the linked libseccomp; a name that is no syscall at all is an error.

use crate::spec::{Seccomp, Syscall, SyscallArg};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use nix::errno::Errno;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::RawFd;

/// The kernel's limit on the length of a classic-BPF program (`BPF_MAXINSNS`).
const MAX_INSTRUCTIONS: usize = 4096;

/// Why a `linux.seccomp` configuration could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("unknown syscall {0:?} in linux.seccomp.syscalls")]
    UnknownSyscall(String),
    #[error("unknown seccomp action {0:?}")]
    UnknownAction(String),
    #[error("unknown seccomp operator {0:?} in linux.seccomp.syscalls[].args")]
    UnknownOperator(String),
    #[error("unknown seccomp architecture {0:?} in linux.seccomp.architectures")]
    UnknownArchitecture(String),
    #[error("unknown seccomp flag {0:?} in linux.seccomp.flags")]
    UnknownFlag(String),
    #[error("seccomp argument index {index} for syscall {syscall:?} is out of range (0 to 5)")]
    ArgIndex { syscall: String, index: u32 },
    #[error("errno {value} for {action} is out of range (at most 65535)")]
    ErrnoRange { action: String, value: u32 },
    #[error("SCMP_ACT_NOTIFY cannot be the default seccomp action")]
    NotifyAsDefault,
    #[error("an entry of linux.seccomp.syscalls has no names")]
    NoNames,
    #[error("libseccomp: {what}: {source}")]
    Libseccomp {
        what: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("exporting the seccomp BPF program: {0}")]
    Export(std::io::Error),
    #[error("the seccomp BPF program has {0} instructions, more than the kernel's limit of 4096")]
    TooLong(usize),
}

fn scmp_err(
    what: impl Into<String>,
) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    let what = what.into();
    move |source| SeccompError::Libseccomp { what, source }
}

fn rule_err(name: &str) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError + '_ {
    move |source| SeccompError::Libseccomp {
        what: format!("adding a rule for syscall {name:?}"),
        source,
    }
}

/// A compiled seccomp filter, ready to be installed with [`Program::load`].
#[derive(Clone)]
pub struct Program {
    filter: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
    listener: bool,
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Program")
            .field("instructions", &self.filter.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("listener", &self.listener)
            .finish()
    }
}

impl Program {
    /// The BPF instructions.
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.filter
    }

    /// The `flags` argument given to seccomp(2) (`SECCOMP_FILTER_FLAG_*`).
    pub fn flags(&self) -> libc::c_ulong {
        self.flags
    }

    /// Whether a rule uses `SCMP_ACT_NOTIFY`, so that [`Program::load`] returns a
    /// listener fd to hand to the seccomp agent at `linux.seccomp.listenerPath`.
    pub fn wants_listener(&self) -> bool {
        self.listener
    }

    /// Install the filter on the calling thread (and on all threads with
    /// `SECCOMP_FILTER_FLAG_TSYNC`).
    ///
    /// Async-signal-safe: no allocation, no libseccomp call. Returns the notify listener
    /// fd when [`Program::wants_listener`]. The caller must either have set
    /// `no_new_privs` or hold `CAP_SYS_ADMIN`, else the kernel answers `EACCES`.
    pub fn load(&self) -> Result<Option<RawFd>, Errno> {
        // `compile` refuses programs longer than 4096 instructions, so this fits in u16.
        let len = u16::try_from(self.filter.len()).map_err(|_| Errno::EINVAL)?;
        let prog = libc::sock_fprog {
            len,
            filter: self.filter.as_ptr().cast_mut(),
        };
        // SAFETY: `prog` points at `self.filter`, which outlives the call; the kernel
        // only reads the program (and copies it) during the syscall.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            return Err(Errno::last());
        }
        if self.listener {
            Ok(Some(rc as RawFd))
        } else {
            Ok(None)
        }
    }
}

/// Whether `name` is a Linux syscall on some architecture (as far as libseccomp, or the
/// short list of syscalls newer than the linked libseccomp, knows).
pub fn known_syscall(name: &str) -> bool {
    ScmpSyscall::from_name(name).is_ok() || known_elsewhere(name)
}

/// Every architecture libseccomp has a syscall table for.
const ALL_ARCHES: &[ScmpArch] = &[
    ScmpArch::X86,
    ScmpArch::X8664,
    ScmpArch::X32,
    ScmpArch::Arm,
    ScmpArch::Aarch64,
    ScmpArch::Loongarch64,
    ScmpArch::M68k,
    ScmpArch::Mips,
    ScmpArch::Mips64,
    ScmpArch::Mips64N32,
    ScmpArch::Mipsel,
    ScmpArch::Mipsel64,
    ScmpArch::Mipsel64N32,
    ScmpArch::Ppc,
    ScmpArch::Ppc64,
    ScmpArch::Ppc64Le,
    ScmpArch::S390,
    ScmpArch::S390X,
    ScmpArch::Parisc,
    ScmpArch::Parisc64,
    ScmpArch::Riscv64,
    ScmpArch::Sheb,
    ScmpArch::Sh,
];

/// Syscalls (Linux 5.15 and later) that an older libseccomp may not know by name.
/// A profile naming one of them is valid; with such a libseccomp the name is skipped.
const RECENT_SYSCALLS: &[&str] = &[
    "process_mrelease",
    "futex_waitv",
    "set_mempolicy_home_node",
    "cachestat",
    "fchmodat2",
    "map_shadow_stack",
    "futex_wake",
    "futex_wait",
    "futex_requeue",
    "statmount",
    "listmount",
    "lsm_get_self_attr",
    "lsm_set_self_attr",
    "lsm_list_modules",
    "mseal",
    "setxattrat",
    "getxattrat",
    "listxattrat",
    "removexattrat",
    "open_tree_attr",
    "file_getattr",
    "file_setattr",
    "uretprobe",
];

/// A name the native resolver did not know: is it a syscall somewhere else?
fn known_elsewhere(name: &str) -> bool {
    RECENT_SYSCALLS.contains(&name)
        || ALL_ARCHES
            .iter()
            .any(|&arch| ScmpSyscall::from_name_by_arch(name, arch).is_ok())
}

/// Resolve a syscall name for the filter; `None` means "a real syscall, but not one
/// this filter can name", which is skipped.
fn resolve(name: &str) -> Result<Option<ScmpSyscall>, SeccompError> {
    // libseccomp answers a pseudo (negative) number for a syscall it knows on another
    // architecture only; rules on such numbers are added where the syscall exists.
    match ScmpSyscall::from_name(name) {
        Ok(nr) => Ok(Some(nr)),
        Err(_) if known_elsewhere(name) => Ok(None),
        Err(_) => Err(SeccompError::UnknownSyscall(name.to_owned())),
    }
}

fn errno_data(action: &str, value: Option<u32>) -> Result<u16, SeccompError> {
    let value = value.unwrap_or(libc::EPERM as u32);
    u16::try_from(value).map_err(|_| SeccompError::ErrnoRange {
        action: action.to_owned(),
        value,
    })
}

/// Parse an `SCMP_ACT_*` name; `errno_ret` is the value for ERRNO and TRACE (EPERM
/// when absent) and is ignored by the other actions, as runc does.
fn parse_action(name: &str, errno_ret: Option<u32>) -> Result<ScmpAction, SeccompError> {
    Ok(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(i32::from(errno_data(name, errno_ret)?)),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno_data(name, errno_ret)?),
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_NOTIFY" => ScmpAction::Notify,
        _ => return Err(SeccompError::UnknownAction(name.to_owned())),
    })
}

fn parse_arch(name: &str) -> Result<ScmpArch, SeccompError> {
    Ok(match name {
        "SCMP_ARCH_X86" => ScmpArch::X86,
        "SCMP_ARCH_X86_64" => ScmpArch::X8664,
        "SCMP_ARCH_X32" => ScmpArch::X32,
        "SCMP_ARCH_ARM" => ScmpArch::Arm,
        "SCMP_ARCH_AARCH64" => ScmpArch::Aarch64,
        "SCMP_ARCH_LOONGARCH64" => ScmpArch::Loongarch64,
        "SCMP_ARCH_M68K" => ScmpArch::M68k,
        "SCMP_ARCH_MIPS" => ScmpArch::Mips,
        "SCMP_ARCH_MIPS64" => ScmpArch::Mips64,
        "SCMP_ARCH_MIPS64N32" => ScmpArch::Mips64N32,
        "SCMP_ARCH_MIPSEL" => ScmpArch::Mipsel,
        "SCMP_ARCH_MIPSEL64" => ScmpArch::Mipsel64,
        "SCMP_ARCH_MIPSEL64N32" => ScmpArch::Mipsel64N32,
        "SCMP_ARCH_PPC" => ScmpArch::Ppc,
        "SCMP_ARCH_PPC64" => ScmpArch::Ppc64,
        "SCMP_ARCH_PPC64LE" => ScmpArch::Ppc64Le,
        "SCMP_ARCH_S390" => ScmpArch::S390,
        "SCMP_ARCH_S390X" => ScmpArch::S390X,
        "SCMP_ARCH_PARISC" => ScmpArch::Parisc,
        "SCMP_ARCH_PARISC64" => ScmpArch::Parisc64,
        "SCMP_ARCH_RISCV64" => ScmpArch::Riscv64,
        "SCMP_ARCH_SH" => ScmpArch::Sh,
        "SCMP_ARCH_SHEB" => ScmpArch::Sheb,
        _ => return Err(SeccompError::UnknownArchitecture(name.to_owned())),
    })
}

fn parse_flag(name: &str) -> Result<libc::c_ulong, SeccompError> {
    Ok(match name {
        "SECCOMP_FILTER_FLAG_TSYNC" => libc::SECCOMP_FILTER_FLAG_TSYNC,
        "SECCOMP_FILTER_FLAG_LOG" => libc::SECCOMP_FILTER_FLAG_LOG,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        _ => return Err(SeccompError::UnknownFlag(name.to_owned())),
    })
}

fn parse_arg(syscall: &Syscall, arg: &SyscallArg) -> Result<ScmpArgCompare, SeccompError> {
    if arg.index > 5 {
        return Err(SeccompError::ArgIndex {
            syscall: syscall.names.first().cloned().unwrap_or_default(),
            index: arg.index,
        });
    }
    let op = match arg.op.as_str() {
        "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
        "SCMP_CMP_LT" => ScmpCompareOp::Less,
        "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
        "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
        "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
        "SCMP_CMP_GT" => ScmpCompareOp::Greater,
        // The spec's `value` is the mask and `valueTwo` the value compared with.
        "SCMP_CMP_MASKED_EQ" => {
            return Ok(ScmpArgCompare::new(
                arg.index,
                ScmpCompareOp::MaskedEqual(arg.value),
                arg.value_two,
            ))
        }
        other => return Err(SeccompError::UnknownOperator(other.to_owned())),
    };
    Ok(ScmpArgCompare::new(arg.index, op, arg.value))
}

const CACHE_MAGIC: &[u8; 8] = b"SKBPF\x00\x01\x00";

impl Program {
    /// The program and the profile it was compiled from, as [`compile_cached`]
    /// stores them.
    fn to_cache_bytes(&self, profile: &[u8]) -> Vec<u8> {
        let mut b = Vec::with_capacity(32 + profile.len() + self.filter.len() * 8);
        b.extend_from_slice(CACHE_MAGIC);
        b.extend_from_slice(&self.flags.to_le_bytes());
        b.push(self.listener as u8);
        b.extend_from_slice(&(profile.len() as u32).to_le_bytes());
        b.extend_from_slice(profile);
        b.extend_from_slice(&(self.filter.len() as u32).to_le_bytes());
        for i in &self.filter {
            b.extend_from_slice(&i.code.to_le_bytes());
            b.push(i.jt);
            b.push(i.jf);
            b.extend_from_slice(&i.k.to_le_bytes());
        }
        b
    }

    /// The program in `b`, if `b` was made from exactly `profile`.
    fn from_cache_bytes(b: &[u8], profile: &[u8]) -> Option<Program> {
        let rest = b.strip_prefix(CACHE_MAGIC)?;
        let (flags, rest) = rest.split_at_checked(std::mem::size_of::<libc::c_ulong>())?;
        let (&listener, rest) = rest.split_first()?;
        let (plen, rest) = rest.split_at_checked(4)?;
        let plen = u32::from_le_bytes(plen.try_into().ok()?) as usize;
        let (stored, rest) = rest.split_at_checked(plen)?;
        if stored != profile {
            return None;
        }
        let (n, rest) = rest.split_at_checked(4)?;
        let n = u32::from_le_bytes(n.try_into().ok()?) as usize;
        if n > MAX_INSTRUCTIONS || rest.len() != n * 8 {
            return None;
        }
        let filter = rest
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Some(Program {
            filter,
            flags: libc::c_ulong::from_le_bytes(flags.try_into().ok()?),
            listener: listener != 0,
        })
    }
}

/// [`compile`], with compiled programs kept in directory `dir` (a tmpfs
/// suits): compiling a large profile with libseccomp takes milliseconds,
/// reading it back microseconds. A cached program is used only when the
/// profile it was made from is byte for byte the same; anything unreadable
/// is compiled again.
pub fn compile_cached(cfg: &Seccomp, dir: &std::path::Path) -> Result<Program, SeccompError> {
    use std::hash::{Hash, Hasher};
    let profile = serde_json::to_vec(cfg).unwrap_or_default();
    let mut h = std::hash::DefaultHasher::new();
    profile.hash(&mut h);
    libseccomp::ScmpVersion::current()
        .map(|v| (v.major, v.minor, v.micro))
        .unwrap_or_default()
        .hash(&mut h);
    let path = dir.join(format!("{:016x}.bpf", h.finish()));
    if let Ok(b) = std::fs::read(&path) {
        if let Some(p) = Program::from_cache_bytes(&b, &profile) {
            return Ok(p);
        }
    }
    let p = compile(cfg)?;
    // Best effort: a cache that cannot be written only costs time.
    if std::fs::create_dir_all(dir).is_ok() {
        let tmp = dir.join(format!(".{:016x}.{}", h.finish(), std::process::id()));
        if std::fs::write(&tmp, p.to_cache_bytes(&profile)).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(p)
}

/// Validate `linux.seccomp` and compile it into a BPF [`Program`].
pub fn compile(cfg: &Seccomp) -> Result<Program, SeccompError> {
    let default = parse_action(&cfg.default_action, cfg.default_errno_ret)?;
    if default == ScmpAction::Notify {
        return Err(SeccompError::NotifyAsDefault);
    }
    let mut flags: libc::c_ulong = 0;
    for flag in &cfg.flags {
        flags |= parse_flag(flag)?;
    }
    let arches = cfg
        .architectures
        .iter()
        .map(|a| parse_arch(a).map(|arch| (a, arch)))
        .collect::<Result<Vec<_>, _>>()?;

    let mut ctx = ScmpFilterContext::new(default).map_err(scmp_err("creating the filter"))?;
    // The caller decides about no_new_privs; the filter is exported, never loaded here.
    ctx.set_ctl_nnp(false)
        .map_err(scmp_err("clearing the no_new_privs attribute"))?;
    for (name, arch) in arches {
        // The native architecture is in the filter from the start (EEXIST is ignored).
        ctx.add_arch(arch)
            .map_err(scmp_err(format!("adding architecture {name}")))?;
    }

    let mut listener = false;
    for rule in &cfg.syscalls {
        if rule.names.is_empty() {
            return Err(SeccompError::NoNames);
        }
        let action = parse_action(&rule.action, rule.errno_ret)?;
        let conds = rule
            .args
            .iter()
            .map(|arg| parse_arg(rule, arg))
            .collect::<Result<Vec<_>, _>>()?;
        let repeated_index = rule
            .args
            .iter()
            .enumerate()
            .any(|(i, a)| rule.args[..i].iter().any(|b| b.index == a.index));
        // Resolve every name even when the rule is skipped: a bad name is always an error.
        for name in &rule.names {
            let Some(nr) = resolve(name)? else { continue };
            // libseccomp refuses rules whose action is the default one; they are no-ops.
            if action == default {
                continue;
            }
            if conds.is_empty() {
                ctx.add_rule(action, nr).map_err(rule_err(name))?;
            } else if !repeated_index {
                ctx.add_rule_conditional(action, nr, &conds)
                    .map_err(rule_err(name))?;
            } else {
                for cond in &conds {
                    ctx.add_rule_conditional(action, nr, std::slice::from_ref(cond))
                        .map_err(rule_err(name))?;
                }
            }
            listener |= action == ScmpAction::Notify;
        }
    }

    let filter = export(&ctx)?;
    // The kernel refuses WAIT_KILLABLE_RECV without a listener (EINVAL); like
    // libseccomp, ask for it only when there is one.
    if !listener {
        flags &= !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    } else {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        // TSYNC and NEW_LISTENER both use the return value; TSYNC_ESRCH makes a
        // TSYNC failure an ESRCH so that the return value is the listener fd.
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    Ok(Program {
        filter,
        flags,
        listener,
    })
}

/// Export the filter's BPF through a memfd and decode it into `sock_filter`s.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, SeccompError> {
    use nix::sys::memfd::{memfd_create, MFdFlags};

    let fd = memfd_create(c"skiff-seccomp", MFdFlags::MFD_CLOEXEC)
        .map_err(|e| SeccompError::Export(e.into()))?;
    ctx.export_bpf(&fd).map_err(scmp_err("exporting the BPF"))?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(SeccompError::Export)?;

    const INSN: usize = std::mem::size_of::<libc::sock_filter>();
    if bytes.len() % INSN != 0 {
        return Err(SeccompError::Export(std::io::Error::other(format!(
            "{} bytes is not a whole number of BPF instructions",
            bytes.len()
        ))));
    }
    let filter: Vec<libc::sock_filter> = bytes
        .chunks_exact(INSN)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    if filter.len() > MAX_INSTRUCTIONS {
        return Err(SeccompError::TooLong(filter.len()));
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};
    use serde_json::json;

    fn config(value: serde_json::Value) -> Seccomp {
        serde_json::from_value(value).expect("valid linux.seccomp")
    }

    fn compile_json(value: serde_json::Value) -> Program {
        compile(&config(value)).expect("compiles")
    }

    fn compile_err(value: serde_json::Value) -> String {
        compile(&config(value)).expect_err("must fail").to_string()
    }

    fn same(a: &Program, b: &Program) -> bool {
        a.flags == b.flags
            && a.listener == b.listener
            && a.filter.len() == b.filter.len()
            && a.filter
                .iter()
                .zip(&b.filter)
                .all(|(x, y)| (x.code, x.jt, x.jf, x.k) == (y.code, y.jt, y.jf, y.k))
    }

    #[test]
    fn cached_programs_are_the_compiled_ones_and_only_for_their_profile() {
        let d = tempfile::tempdir().unwrap();
        let a = config(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}));
        let b = config(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2}]}));
        let first = compile_cached(&a, d.path()).unwrap();
        assert!(same(&first, &compile(&a).unwrap()));
        let files: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        // Read back from the cache: the same program.
        assert!(same(&compile_cached(&a, d.path()).unwrap(), &first));
        // The cache file of `a` put where `b`'s would be is not used for `b`.
        let pb = compile_cached(&b, d.path()).unwrap();
        let b_file = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| *p != files[0])
            .unwrap();
        std::fs::copy(&files[0], &b_file).unwrap();
        assert!(same(&compile_cached(&b, d.path()).unwrap(), &pb));
        assert!(!same(&pb, &first));
        // A corrupt cache file is compiled again.
        std::fs::write(&files[0], b"SKBPF\x00\x01\x00garbage").unwrap();
        assert!(same(&compile_cached(&a, d.path()).unwrap(), &first));
    }

    /// Fork, load `prog` in the child, run `body` there and return the child's wait
    /// status; a filter never touches the (multithreaded) test runner. The child makes
    /// raw syscalls only; `body`'s result is the exit code (100 if load failed).
    fn run_filtered(prog: &Program, body: fn(Option<RawFd>) -> i32) -> WaitStatus {
        // SAFETY: the child only calls async-signal-safe code (prctl, Program::load,
        // raw syscalls) before _exit.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                // SAFETY: geteuid and prctl have no memory-safety preconditions.
                unsafe {
                    // As root (CI) load without no_new_privs, which is what the runtime
                    // does; elsewhere the kernel requires it.
                    if libc::geteuid() != 0 {
                        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                    }
                }
                let code = match prog.load() {
                    Ok(fd) => body(fd),
                    Err(_) => 100,
                };
                // SAFETY: leaving the forked child without running the runner's code.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => waitpid(child, None).expect("waitpid"),
        }
    }

    fn exited(status: WaitStatus) -> i32 {
        match status {
            WaitStatus::Exited(_, code) => code,
            other => panic!("child did not exit normally: {other:?}"),
        }
    }

    fn assert_sigsys(status: WaitStatus) {
        assert!(
            matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
            "expected death by SIGSYS, got {status:?}"
        );
    }

    /// 0 when the raw syscall succeeded, else its errno.
    fn result(rc: libc::c_long) -> i32 {
        if rc >= 0 {
            0
        } else {
            Errno::last_raw()
        }
    }

    fn getcwd() -> i32 {
        let mut buf = [0u8; 512];
        // SAFETY: `buf` is writable for its whole length.
        result(unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) })
    }

    fn socket(domain: i32, ty: i32) -> i32 {
        // SAFETY: socket(2) takes plain integers.
        let rc = unsafe { libc::syscall(libc::SYS_socket, domain, ty, 0) };
        if rc >= 0 {
            // SAFETY: `rc` is the descriptor just opened here.
            unsafe { libc::close(rc as i32) };
        }
        result(rc)
    }

    #[test]
    fn errno_rule_returns_its_errno() {
        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]
        }));
        assert!(!prog.wants_listener());
        assert_eq!(exited(run_filtered(&prog, |_| getcwd())), 42);

        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]
        }));
        assert_eq!(exited(run_filtered(&prog, |_| getcwd())), libc::EPERM);
    }

    #[test]
    fn default_errno_uses_default_errno_ret() {
        let allow =
            json!([{"names": ["exit", "exit_group", "getpid"], "action": "SCMP_ACT_ALLOW"}]);
        let body: fn(Option<RawFd>) -> i32 = |_| {
            // SAFETY: getpid has no preconditions.
            if result(unsafe { libc::syscall(libc::SYS_getpid) }) != 0 {
                return 99;
            }
            getcwd()
        };
        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 61, "syscalls": allow
        }));
        assert_eq!(exited(run_filtered(&prog, body)), 61);
        let prog = compile_json(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": allow}));
        assert_eq!(exited(run_filtered(&prog, body)), libc::EPERM);
    }

    #[test]
    fn rule_with_the_default_action_is_skipped() {
        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["exit_group", "exit"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}
            ]
        }));
        assert_eq!(exited(run_filtered(&prog, |_| getcwd())), 5);
    }

    #[test]
    fn eq_rule_matches_only_its_value() {
        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 71,
                "args": [{"index": 0, "value": libc::AF_INET, "op": "SCMP_CMP_EQ"}]}]
        }));
        let body: fn(Option<RawFd>) -> i32 = |_| {
            if socket(libc::AF_INET, libc::SOCK_STREAM) != 71 {
                return 1;
            }
            if socket(libc::AF_UNIX, libc::SOCK_STREAM) != 0 {
                return 2;
            }
            0
        };
        assert_eq!(exited(run_filtered(&prog, body)), 0);
    }

    #[test]
    fn masked_eq_uses_value_as_mask_and_value_two_as_datum() {
        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 72,
                "args": [{"index": 1, "value": 0xf, "valueTwo": libc::SOCK_DGRAM,
                          "op": "SCMP_CMP_MASKED_EQ"}]}]
        }));
        let body: fn(Option<RawFd>) -> i32 = |_| {
            if socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC) != 72 {
                return 1;
            }
            if socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC) != 0 {
                return 2;
            }
            if socket(libc::AF_UNIX, libc::SOCK_SEQPACKET) != 0 {
                return 3;
            }
            0
        };
        assert_eq!(exited(run_filtered(&prog, body)), 0);
    }

    #[test]
    fn distinct_indexes_are_anded_repeated_indexes_ored() {
        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 73,
                "args": [{"index": 0, "value": libc::AF_UNIX, "op": "SCMP_CMP_EQ"},
                         {"index": 1, "value": libc::SOCK_DGRAM, "op": "SCMP_CMP_EQ"}]}]
        }));
        let body: fn(Option<RawFd>) -> i32 = |_| {
            if socket(libc::AF_UNIX, libc::SOCK_DGRAM) != 73 {
                return 1;
            }
            if socket(libc::AF_UNIX, libc::SOCK_STREAM) != 0 {
                return 2;
            }
            if socket(libc::AF_INET, libc::SOCK_DGRAM) == 73 {
                return 3;
            }
            0
        };
        assert_eq!(exited(run_filtered(&prog, body)), 0);

        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 74,
                "args": [{"index": 0, "value": libc::AF_INET, "op": "SCMP_CMP_EQ"},
                         {"index": 0, "value": libc::AF_INET6, "op": "SCMP_CMP_EQ"}]}]
        }));
        let body: fn(Option<RawFd>) -> i32 = |_| {
            if socket(libc::AF_INET, libc::SOCK_STREAM) != 74 {
                return 1;
            }
            if socket(libc::AF_INET6, libc::SOCK_STREAM) != 74 {
                return 2;
            }
            if socket(libc::AF_UNIX, libc::SOCK_STREAM) != 0 {
                return 3;
            }
            0
        };
        assert_eq!(exited(run_filtered(&prog, body)), 0);
    }

    #[test]
    fn ordering_operators() {
        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 75,
                 "args": [{"index": 0, "value": libc::AF_INET, "op": "SCMP_CMP_GT"},
                          {"index": 1, "value": libc::SOCK_DGRAM, "op": "SCMP_CMP_LE"}]},
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 76,
                 "args": [{"index": 1, "value": 16, "op": "SCMP_CMP_LT"}]},
                {"names": ["dup"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
                 "args": [{"index": 0, "value": 1000, "op": "SCMP_CMP_GE"}]}
            ]
        }));
        let body: fn(Option<RawFd>) -> i32 = |_| {
            if socket(libc::AF_INET6, libc::SOCK_STREAM) != 75 {
                return 1;
            }
            if socket(libc::AF_UNIX, libc::SOCK_STREAM) != 0 {
                return 2;
            }
            if socket(libc::AF_INET6, libc::SOCK_RAW) == 75 {
                return 3;
            }
            let mut buf = [0u8; 8];
            // SAFETY: the size passed is within `buf`.
            if result(unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), 8) }) != 76 {
                return 4;
            }
            if getcwd() != 0 {
                return 5;
            }
            // SAFETY: dup(2) of an fd number; a new fd is closed right away.
            let fd = unsafe { libc::syscall(libc::SYS_dup, 0) };
            if fd < 0 {
                return 6;
            }
            // SAFETY: `fd` was opened just above.
            unsafe { libc::close(fd as i32) };
            // SAFETY: as above; this one is refused by the filter.
            if result(unsafe { libc::syscall(libc::SYS_dup, 1000) }) != 77 {
                return 7;
            }
            0
        };
        assert_eq!(exited(run_filtered(&prog, body)), 0);
    }

    #[test]
    fn kill_actions_and_trap_end_the_child_with_sigsys() {
        for action in [
            "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL",
            "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_TRAP",
        ] {
            let prog = compile_json(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getcwd"], "action": action}]
            }));
            assert_sigsys(run_filtered(&prog, |_| getcwd()));
        }
    }

    #[test]
    fn log_allows_and_trace_without_tracer_is_enosys() {
        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_LOG"},
                         {"names": ["socket"], "action": "SCMP_ACT_TRACE", "errnoRet": 3}]
        }));
        let body: fn(Option<RawFd>) -> i32 = |_| {
            if getcwd() != 0 {
                return 1;
            }
            if socket(libc::AF_UNIX, libc::SOCK_STREAM) != libc::ENOSYS {
                return 2;
            }
            0
        };
        assert_eq!(exited(run_filtered(&prog, body)), 0);
    }

    #[test]
    fn notify_returns_a_listener_fd() {
        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"}]
        }));
        assert!(prog.wants_listener());
        let want = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
            | libc::SECCOMP_FILTER_FLAG_TSYNC
            | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH
            | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        assert_eq!(prog.flags(), want);
        let body: fn(Option<RawFd>) -> i32 = |fd| match fd {
            // SAFETY: F_GETFD only inspects the descriptor.
            Some(fd) if fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 => 0,
            Some(_) => 1,
            None => 2,
        };
        assert_eq!(exited(run_filtered(&prog, body)), 0);
    }

    #[test]
    fn flags_are_passed_to_seccomp() {
        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9}]
        }));
        // WAIT_KILLABLE_RECV only goes with a listener.
        let want = libc::SECCOMP_FILTER_FLAG_LOG | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        assert_eq!(prog.flags(), want);
        assert_eq!(exited(run_filtered(&prog, |_| getcwd())), 9);
    }

    #[test]
    fn native_architecture_is_always_included() {
        // Another little-endian architecture (libseccomp cannot mix byte orders).
        let foreign = if ScmpArch::native() == ScmpArch::Aarch64 {
            "SCMP_ARCH_X86_64"
        } else {
            "SCMP_ARCH_AARCH64"
        };
        let prog = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": [foreign],
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7}]
        }));
        assert_eq!(exited(run_filtered(&prog, |_| getcwd())), 7);
    }

    #[test]
    fn bad_values_are_errors_naming_them() {
        let rule = |names: serde_json::Value, action: &str, op: &str| {
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": names,
                "action": action, "args": [{"index": 0, "value": 1, "op": op}]}]})
        };
        let err = compile_err(rule(
            json!(["read", "no_such_call"]),
            "SCMP_ACT_ERRNO",
            "SCMP_CMP_EQ",
        ));
        assert_eq!(
            err,
            r#"unknown syscall "no_such_call" in linux.seccomp.syscalls"#
        );
        // Even in a rule that is skipped for having the default action.
        let err = compile_err(rule(
            json!(["no_such_call"]),
            "SCMP_ACT_ALLOW",
            "SCMP_CMP_EQ",
        ));
        assert!(err.contains("\"no_such_call\""), "{err}");
        let err = compile_err(rule(json!(["read"]), "SCMP_ACT_BOGUS", "SCMP_CMP_EQ"));
        assert_eq!(err, r#"unknown seccomp action "SCMP_ACT_BOGUS""#);
        let err = compile_err(rule(json!(["read"]), "SCMP_ACT_ERRNO", "SCMP_CMP_BOGUS"));
        assert!(
            err.starts_with(r#"unknown seccomp operator "SCMP_CMP_BOGUS""#),
            "{err}"
        );
        let err = compile_err(json!({"defaultAction": "SCMP_ACT_NOPE"}));
        assert!(err.contains("\"SCMP_ACT_NOPE\""), "{err}");
        let err = compile_err(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]}));
        assert!(
            err.starts_with(r#"unknown seccomp architecture "SCMP_ARCH_VAX""#),
            "{err}"
        );
        let err = compile_err(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}));
        assert!(
            err.starts_with(r#"unknown seccomp flag "SECCOMP_FILTER_FLAG_BOGUS""#),
            "{err}"
        );
        let err = compile_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
        assert!(err.contains("index 6"), "{err}");
        let err = compile_err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}));
        assert!(err.contains("70000"), "{err}");
        let err = compile_err(json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
        assert!(err.contains("SCMP_ACT_NOTIFY"), "{err}");
    }

    #[test]
    fn known_syscall_names() {
        assert!(known_syscall("read"));
        assert!(known_syscall("arm_fadvise64_64"));
        assert!(known_syscall("s390_pci_mmio_read"));
        assert!(known_syscall("statmount"));
        assert!(!known_syscall("no_such_call"));
        assert!(!known_syscall(""));
    }

    /// The shape of Docker's default profile as rendered into config.json, trimmed:
    /// foreign-architecture names, argument rules, and an ERRNO override.
    fn docker_like_profile() -> serde_json::Value {
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["accept", "accept4", "access", "brk", "close", "chown32",
                           "clock_gettime64", "epoll_ctl_old", "execve", "exit", "exit_group",
                           "fcntl64", "futex", "futex_time64", "futex_waitv", "getcwd", "getpid",
                           "ipc", "_llseek", "mmap", "mmap2", "_newselect", "openat", "read",
                           "recv", "rt_sigreturn", "send", "sigreturn", "socketcall",
                           "statx", "ugetrlimit", "waitpid", "write", "statmount", "mseal"],
                 "action": "SCMP_ACT_ALLOW"},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]},
                {"names": ["sync_file_range2", "swapcontext"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["arm_fadvise64_64", "arm_sync_file_range", "breakpoint",
                           "cacheflush", "set_tls"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["arch_prctl", "modify_ldt"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"],
                 "action": "SCMP_ACT_ALLOW"},
                {"names": ["riscv_flush_icache"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288u64, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]
        })
    }

    #[test]
    fn docker_like_profile_compiles_and_works() {
        let prog = compile_json(docker_like_profile());
        let body: fn(Option<RawFd>) -> i32 = |_| {
            if getcwd() != 0 {
                return 1;
            }
            // SAFETY: with these arguments reboot(2) is refused before it does anything.
            let rc = unsafe { libc::syscall(libc::SYS_reboot, 0, 0, 0, 0) };
            if result(rc) != libc::EPERM {
                return 2;
            }
            // SAFETY: clone3 is refused by the filter before the kernel reads the args.
            let rc = unsafe { libc::syscall(libc::SYS_clone3, 0, 0) };
            if result(rc) != libc::ENOSYS {
                return 3;
            }
            if socket(40, libc::SOCK_STREAM) != libc::EPERM {
                return 4;
            }
            if socket(libc::AF_UNIX, libc::SOCK_STREAM) != 0 {
                return 5;
            }
            // SAFETY: personality(0xffffffff) only queries the persona.
            if result(unsafe { libc::syscall(libc::SYS_personality, 0xffff_ffffu64) }) != 0 {
                return 6;
            }
            // SAFETY: personality(8) would change the persona but is refused here.
            if result(unsafe { libc::syscall(libc::SYS_personality, 8) }) != libc::EPERM {
                return 7;
            }
            0
        };
        assert_eq!(exited(run_filtered(&prog, body)), 0);
    }

    /// Not a benchmark harness, but prints what compile() costs for a large allowlist.
    #[test]
    fn compile_time_of_a_350_syscall_allowlist() {
        let names: Vec<String> = (0..1024)
            .filter_map(|nr| ScmpSyscall::from(nr).get_name().ok())
            .filter(|name| !matches!(name.as_str(), "getcwd"))
            .take(350)
            .collect();
        assert_eq!(names.len(), 350);
        for arches in [
            json!([]),
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
        ] {
            let cfg = config(json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "architectures": arches,
                "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
            }));
            let start = std::time::Instant::now();
            let runs = 10;
            let mut prog = None;
            for _ in 0..runs {
                prog = Some(compile(&cfg).expect("compiles"));
            }
            let per_run = start.elapsed() / runs;
            let prog = prog.expect("ran");
            eprintln!(
                "compile(): 350 syscalls, architectures {arches}: {per_run:?} per run, {} BPF instructions",
                prog.instructions().len()
            );
            assert!(per_run < std::time::Duration::from_secs(1), "{per_run:?}");
            assert_eq!(exited(run_filtered(&prog, |_| getcwd())), libc::EPERM);
        }
    }
}
