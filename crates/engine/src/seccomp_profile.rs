//! skiff's default seccomp profile for containers.
//!
//! The profile is an allow list: anything not named here fails with `EPERM`. It lets
//! through and keeps out the same syscalls as Docker 20.10's default profile, so images
//! that run under Docker run unchanged under skiff:
//!
//! * the ordinary syscalls every program needs (files, memory, processes, signals,
//!   time, sockets, IPC, ...) are always allowed; where one of them is privileged in
//!   some uses (`setuid`, `mknod`, `adjtimex`, ...) the kernel's capability check is
//!   what stops an unprivileged container;
//! * `personality` is allowed only for the handful of execution domains ordinary
//!   programs ask for;
//! * `clone` is allowed only without namespace flags and `clone3` (whose flags live in
//!   memory a filter cannot read) answers `ENOSYS`, so that libc falls back to `clone`;
//!   both are unrestricted with `CAP_SYS_ADMIN`;
//! * syscalls that only make sense with a capability (mounting, tracing, loading
//!   modules, rebooting, setting the clock, ...) are allowed only when the container's
//!   bounding set holds that capability;
//! * some syscalls are never allowed, whatever the capabilities: `kexec_load`,
//!   `pivot_root`, `swapon`, the keyring calls, `userfaultfd`, and every syscall the
//!   lists below do not name.
//!
//! `ptrace` is allowed without `CAP_SYS_PTRACE`, as Docker allows it on kernels 4.8
//! and later (where seccomp can no longer be bypassed through it), so `strace` and
//! debuggers work in containers; the other cross-process calls still need it.
//!
//! The profile targets x86_64 hosts and also filters 32-bit x86 and x32 binaries.
//! Names the linked libseccomp does not know are left out when the profile is built.

use skiff_runtime::seccomp::known_syscall;
use skiff_runtime::spec::{Seccomp, Syscall, SyscallArg};

const ALLOW: &str = "SCMP_ACT_ALLOW";
const ERRNO: &str = "SCMP_ACT_ERRNO";

/// The ABIs a container's programs may use on an x86_64 host.
const ARCHITECTURES: &[&str] = &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];

// ---------------------------------------------------------------------------------
// Always allowed, grouped by purpose. 32-bit variants (`*32`, `*64`, `*_time64`) sit
// next to the call they extend.
// ---------------------------------------------------------------------------------

/// Starting, replacing, leaving and waiting for processes; process and session ids.
/// `clone` and `clone3` are handled apart (see [`default_profile`]).
const PROCESSES: &[&str] = &[
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "vfork",
    "wait4",
    "waitid",
    "waitpid",
    "restart_syscall",
    // Tracing one's own children (strace, gdb); safe with seccomp since 4.8.
    "ptrace",
    "getpid",
    "getppid",
    "gettid",
    "getpgid",
    "getpgrp",
    "setpgid",
    "getsid",
    "setsid",
];

/// User and group ids and capabilities of the calling process. Changing them is
/// checked by the kernel against CAP_SETUID, CAP_SETGID and CAP_SETPCAP.
const CREDENTIALS: &[&str] = &[
    "getuid",
    "getuid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getegid",
    "getegid32",
    "getresuid",
    "getresuid32",
    "getresgid",
    "getresgid32",
    "getgroups",
    "getgroups32",
    "setuid",
    "setuid32",
    "setgid",
    "setgid32",
    "setreuid",
    "setreuid32",
    "setregid",
    "setregid32",
    "setresuid",
    "setresuid32",
    "setresgid",
    "setresgid32",
    "setfsuid",
    "setfsuid32",
    "setfsgid",
    "setfsgid32",
    "setgroups",
    "setgroups32",
    "capget",
    "capset",
];

/// Sending, handling, masking and waiting for signals, including through pidfds.
const SIGNALS: &[&str] = &[
    "kill",
    "tkill",
    "tgkill",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "sigaltstack",
    "sigprocmask",
    "sigreturn",
    "signalfd",
    "signalfd4",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
];

/// Threads and their synchronisation: futexes, robust lists, restartable sequences,
/// thread-local storage.
const THREADS: &[&str] = &[
    "futex",
    "futex_time64",
    "futex_waitv",
    "set_robust_list",
    "get_robust_list",
    "set_tid_address",
    "rseq",
    "membarrier",
    "get_thread_area",
    "set_thread_area",
];

/// The process's own memory: mappings, protections, locking, anonymous files.
const MEMORY: &[&str] = &[
    "brk",
    "mmap",
    "mmap2",
    "munmap",
    "mremap",
    "remap_file_pages",
    "mprotect",
    "madvise",
    "mincore",
    "msync",
    "mlock",
    "mlock2",
    "mlockall",
    "munlock",
    "munlockall",
    "memfd_create",
    "memfd_secret",
    "process_mrelease",
];

/// Opening files and moving data through file descriptors.
const FILE_IO: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "read",
    "readv",
    "pread64",
    "preadv",
    "preadv2",
    "write",
    "writev",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "lseek",
    "_llseek",
    "sendfile",
    "sendfile64",
    "splice",
    "tee",
    "vmsplice",
    "copy_file_range",
    "readahead",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "truncate",
    "truncate64",
    "ftruncate",
    "ftruncate64",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "sync",
    "syncfs",
    "flock",
];

/// Managing the descriptor table itself; `ioctl` is left to the device drivers.
const DESCRIPTORS: &[&str] = &[
    "dup", "dup2", "dup3", "fcntl", "fcntl64", "ioctl", "pipe", "pipe2",
];

/// File attributes: status, permissions, ownership, timestamps, file handles.
const FILE_METADATA: &[&str] = &[
    "stat",
    "stat64",
    "lstat",
    "lstat64",
    "fstat",
    "fstat64",
    "fstatat64",
    "newfstatat",
    "statx",
    "statfs",
    "statfs64",
    "fstatfs",
    "fstatfs64",
    "access",
    "faccessat",
    "faccessat2",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "chown32",
    "fchown",
    "fchown32",
    "fchownat",
    "lchown",
    "lchown32",
    "umask",
    "utime",
    "utimes",
    "utimensat",
    "utimensat_time64",
    "futimesat",
    // Producing a handle is harmless; opening one (open_by_handle_at) needs
    // CAP_DAC_READ_SEARCH, see CAPABILITY_GATED.
    "name_to_handle_at",
];

/// Extended attributes.
const XATTRS: &[&str] = &[
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
];

/// Walking and changing the directory tree. Device nodes are checked by the kernel
/// against CAP_MKNOD.
const DIRECTORY_TREE: &[&str] = &[
    "chdir",
    "fchdir",
    "getcwd",
    "getdents",
    "getdents64",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "rmdir",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "readlink",
    "readlinkat",
];

/// Waiting on many descriptors and event sources. Creating a fanotify group needs
/// CAP_SYS_ADMIN (see CAPABILITY_GATED); marking files on an existing one does not.
const EVENTS: &[&str] = &[
    "select",
    "_newselect",
    "pselect6",
    "pselect6_time64",
    "poll",
    "ppoll",
    "ppoll_time64",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_wait",
    "epoll_wait_old",
    "epoll_pwait",
    "epoll_pwait2",
    "eventfd",
    "eventfd2",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    "fanotify_mark",
];

/// Asynchronous I/O: Linux AIO and io_uring.
const ASYNC_IO: &[&str] = &[
    "io_setup",
    "io_destroy",
    "io_submit",
    "io_cancel",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
];

/// Reading clocks, sleeping and timers. `adjtimex` and `clock_adjtime` only read the
/// clock without CAP_SYS_TIME; setting it is gated below.
const TIME: &[&str] = &[
    "time",
    "gettimeofday",
    "clock_gettime",
    "clock_gettime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "nanosleep",
    "adjtimex",
    "clock_adjtime",
    "clock_adjtime64",
    "times",
    "alarm",
    "getitimer",
    "setitimer",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
];

/// Scheduling policy, priorities and CPU affinity. Raising priorities is checked by
/// the kernel against CAP_SYS_NICE.
const SCHEDULING: &[&str] = &[
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getattr",
    "sched_setattr",
    "sched_getparam",
    "sched_setparam",
    "sched_getscheduler",
    "sched_setscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "getpriority",
    "setpriority",
    "ioprio_get",
    "ioprio_set",
    "getcpu",
];

/// Resource limits and usage, system information, randomness. Raising a hard limit is
/// checked by the kernel against CAP_SYS_RESOURCE, so no rule depends on it.
const LIMITS_AND_INFO: &[&str] = &[
    "getrlimit",
    "ugetrlimit",
    "setrlimit",
    "prlimit64",
    "getrusage",
    "sysinfo",
    "uname",
    "getrandom",
];

/// System V and POSIX IPC (scoped by the container's IPC namespace).
const IPC: &[&str] = &[
    "ipc",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "semctl",
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_notify",
    "mq_getsetattr",
];

/// Sockets (scoped by the container's network namespace).
const NETWORK: &[&str] = &[
    "socket",
    "socketpair",
    "socketcall",
    "bind",
    "connect",
    "listen",
    "accept",
    "accept4",
    "getsockname",
    "getpeername",
    "getsockopt",
    "setsockopt",
    "send",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "recv",
    "recvfrom",
    "recvmsg",
    "recvmmsg",
    "recvmmsg_time64",
    "shutdown",
];

/// A process may restrict itself further: process attributes (prctl), its own seccomp
/// filters, Landlock rulesets.
const SELF_RESTRICTION: &[&str] = &[
    "prctl",
    "seccomp",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
];

/// x86-specific process setup: the FS/GS base for thread-local storage and the
/// per-process LDT (used by 32-bit and emulated code).
const X86_SPECIFIC: &[&str] = &["arch_prctl", "modify_ldt"];

/// Every group of syscalls allowed whatever the capabilities.
const ALWAYS_ALLOWED: &[&[&str]] = &[
    PROCESSES,
    CREDENTIALS,
    SIGNALS,
    THREADS,
    MEMORY,
    FILE_IO,
    DESCRIPTORS,
    FILE_METADATA,
    XATTRS,
    DIRECTORY_TREE,
    EVENTS,
    ASYNC_IO,
    TIME,
    SCHEDULING,
    LIMITS_AND_INFO,
    IPC,
    NETWORK,
    SELF_RESTRICTION,
    X86_SPECIFIC,
];

// ---------------------------------------------------------------------------------
// Allowed only with a capability.
// ---------------------------------------------------------------------------------

/// Syscalls allowed only when the bounding set holds the capability they are listed
/// under. A syscall may appear under several capabilities; any one of them allows it.
const CAPABILITY_GATED: &[(&str, &[&str])] = &[
    (
        // Mounts, namespaces, hostnames, quotas, BPF, perf, kernel log, fanotify
        // groups; also lifts the restrictions on clone and clone3.
        "CAP_SYS_ADMIN",
        &[
            "mount",
            "mount_setattr",
            "umount",
            "umount2",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "move_mount",
            "open_tree",
            "unshare",
            "setns",
            "clone",
            "clone3",
            "sethostname",
            "setdomainname",
            "quotactl",
            "quotactl_fd",
            "bpf",
            "perf_event_open",
            "fanotify_init",
            "lookup_dcookie",
            "syslog",
        ],
    ),
    // Opening a file from a handle bypasses directory permissions.
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    // Inspecting and changing other processes.
    (
        "CAP_SYS_PTRACE",
        &[
            "process_vm_readv",
            "process_vm_writev",
            "process_madvise",
            "pidfd_getfd",
            "kcmp",
        ],
    ),
    // Kernel modules.
    (
        "CAP_SYS_MODULE",
        &["init_module", "finit_module", "delete_module"],
    ),
    // Rebooting (inside a PID namespace, reboot ends the namespace's init).
    ("CAP_SYS_BOOT", &["reboot"]),
    // Changing the root directory (in Docker's default set).
    ("CAP_SYS_CHROOT", &["chroot"]),
    // Setting the system clock.
    ("CAP_SYS_TIME", &["settimeofday", "stime", "clock_settime"]),
    // Process accounting.
    ("CAP_SYS_PACCT", &["acct"]),
    // Raw port I/O.
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    // NUMA memory placement.
    ("CAP_SYS_NICE", &["get_mempolicy", "set_mempolicy", "mbind"]),
    // The kernel log.
    ("CAP_SYSLOG", &["syslog"]),
    // Hanging up the terminal.
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    // The split-out capabilities for BPF and performance monitoring (Linux 5.8).
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

// ---------------------------------------------------------------------------------
// Argument-restricted syscalls.
// ---------------------------------------------------------------------------------

/// The execution domains a container may switch to with `personality(2)`: Linux,
/// 32-bit Linux, the "2.6" uname emulation alone and with 32-bit, and the query value
/// 0xffffffff that only reads the current personality.
const PERSONALITIES: &[u64] = &[
    0x0000_0000, // PER_LINUX
    0x0000_0008, // PER_LINUX32
    0x0002_0000, // UNAME26
    0x0002_0008, // UNAME26 | PER_LINUX32
    0xffff_ffff, // query
];

/// The `clone(2)` flags that create namespaces; a container without CAP_SYS_ADMIN may
/// clone only with all of them clear.
const NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// The default seccomp profile for a container whose bounding set is `caps` (OCI
/// names, such as `CAP_SYS_ADMIN`).
pub fn default_profile(caps: &[String]) -> Seccomp {
    let has = |cap: &str| caps.iter().any(|c| c.eq_ignore_ascii_case(cap));
    let sys_admin = has("CAP_SYS_ADMIN");

    // Everything allowed without conditions, as one rule.
    let mut allowed: Vec<&str> = ALWAYS_ALLOWED
        .iter()
        .flat_map(|g| g.iter())
        .copied()
        .collect();
    for (cap, names) in CAPABILITY_GATED {
        if has(cap) {
            allowed.extend_from_slice(names);
        }
    }
    allowed.sort_unstable();
    allowed.dedup();

    let mut syscalls: Vec<Syscall> = rule(&allowed, ALLOW, None, Vec::new())
        .into_iter()
        .collect();

    // personality(2): a fixed set of execution domains.
    syscalls.extend(PERSONALITIES.iter().filter_map(|&persona| {
        rule(
            &["personality"],
            ALLOW,
            None,
            vec![arg(0, "SCMP_CMP_EQ", persona, 0)],
        )
    }));

    if !sys_admin {
        // clone(2) without namespace flags: (flags & NAMESPACE_FLAGS) == 0.
        syscalls.extend(rule(
            &["clone"],
            ALLOW,
            None,
            vec![arg(0, "SCMP_CMP_MASKED_EQ", NAMESPACE_FLAGS, 0)],
        ));
        // clone3(2) passes its flags in memory, out of a filter's reach. ENOSYS rather
        // than EPERM makes libc retry with clone(2), which the rule above checks.
        syscalls.extend(rule(
            &["clone3"],
            ERRNO,
            Some(libc::ENOSYS as u32),
            Vec::new(),
        ));
    }

    Seccomp {
        default_action: ERRNO.into(),
        default_errno_ret: Some(libc::EPERM as u32),
        architectures: ARCHITECTURES.iter().map(|a| (*a).to_owned()).collect(),
        syscalls,
        ..Default::default()
    }
}

/// A rule for those of `names` the seccomp compiler knows; `None` when none is left.
fn rule(
    names: &[&str],
    action: &str,
    errno_ret: Option<u32>,
    args: Vec<SyscallArg>,
) -> Option<Syscall> {
    let names: Vec<String> = names
        .iter()
        .filter(|name| known_syscall(name))
        .map(|name| (*name).to_owned())
        .collect();
    (!names.is_empty()).then(|| Syscall {
        names,
        action: action.to_owned(),
        errno_ret,
        args,
    })
}

/// A condition on argument `index`; for `SCMP_CMP_MASKED_EQ`, `value` is the mask and
/// `value_two` what the masked argument must equal.
fn arg(index: u32, op: &str, value: u64, value_two: u64) -> SyscallArg {
    SyscallArg {
        index,
        value,
        value_two,
        op: op.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};
    use skiff_runtime::seccomp::{compile, Program};

    /// The capabilities Docker gives a container by default.
    /// Docker's default set, and every capability Linux defines.
    const DOCKER_DEFAULT_CAPS: &[&str] = &crate::spec::DEFAULT_CAPS;
    const ALL_CAPS: &[&str] = &skiff_runtime::caps::NAMES;

    /// Syscalls no capability unlocks.
    const NEVER_ALLOWED: &[&str] = &[
        "kexec_load",
        "kexec_file_load",
        "pivot_root",
        "swapon",
        "swapoff",
        "add_key",
        "request_key",
        "keyctl",
        "userfaultfd",
        "nfsservctl",
        "uselib",
        "create_module",
        "get_kernel_syms",
        "query_module",
    ];

    fn caps(base: &[&str], extra: &[&str]) -> Vec<String> {
        base.iter().chain(extra).map(|c| (*c).to_owned()).collect()
    }

    fn docker_default() -> Seccomp {
        default_profile(&caps(DOCKER_DEFAULT_CAPS, &[]))
    }

    fn allow_rules<'a>(p: &'a Seccomp, name: &'a str) -> impl Iterator<Item = &'a Syscall> {
        p.syscalls
            .iter()
            .filter(move |r| r.action == ALLOW && r.names.iter().any(|n| n == name))
    }

    /// Allowed at least for some arguments.
    fn allowed(p: &Seccomp, name: &str) -> bool {
        allow_rules(p, name).next().is_some()
    }

    /// Allowed whatever the arguments.
    fn allowed_always(p: &Seccomp, name: &str) -> bool {
        allow_rules(p, name).any(|r| r.args.is_empty())
    }

    #[test]
    fn profiles_compile() {
        for (what, profile) in [
            ("Docker's default capabilities", docker_default()),
            ("all capabilities", default_profile(&caps(ALL_CAPS, &[]))),
            ("no capabilities", default_profile(&[])),
        ] {
            let prog = compile(&profile)
                .unwrap_or_else(|e| panic!("profile for {what} does not compile: {e}"));
            assert!(!prog.instructions().is_empty(), "{what}");
            assert!(!prog.wants_listener(), "{what}");
        }
    }

    #[test]
    fn denies_with_eperm_on_x86_abis() {
        let p = docker_default();
        assert_eq!(p.default_action, "SCMP_ACT_ERRNO");
        assert_eq!(p.default_errno_ret, Some(1));
        assert_eq!(
            p.architectures,
            ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        );
        assert!(p.flags.is_empty());
        assert!(p.listener_path.is_none());
    }

    #[test]
    fn default_caps_allow_ordinary_syscalls_and_block_privileged_ones() {
        let p = docker_default();
        for name in [
            "read",
            "write",
            "openat",
            "execve",
            "futex",
            "chroot",
            "mmap",
            "socket",
            "wait4",
            "getpid",
            "arch_prctl",
            "ptrace",
        ] {
            assert!(allowed_always(&p, name), "{name} should be allowed");
        }
        assert!(allowed(&p, "clone"), "clone should be allowed");
        for name in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "process_vm_readv",
            "reboot",
            "init_module",
            "finit_module",
            "kexec_load",
            "bpf",
            "perf_event_open",
            "open_by_handle_at",
            "settimeofday",
            "syslog",
            "acct",
            "iopl",
            "vhangup",
            "mbind",
        ] {
            assert!(!allowed(&p, name), "{name} should not be allowed");
        }
    }

    #[test]
    fn clone_is_limited_to_no_namespace_flags_without_sys_admin() {
        assert_eq!(NAMESPACE_FLAGS, 0x7e02_0000);
        let p = docker_default();
        let rules: Vec<_> = allow_rules(&p, "clone").collect();
        assert_eq!(rules.len(), 1, "{rules:?}");
        let [cond] = rules[0].args.as_slice() else {
            panic!("clone should have one condition: {:?}", rules[0]);
        };
        assert_eq!(
            (cond.index, cond.op.as_str(), cond.value, cond.value_two),
            (0, "SCMP_CMP_MASKED_EQ", NAMESPACE_FLAGS, 0)
        );

        let clone3: Vec<_> = p
            .syscalls
            .iter()
            .filter(|r| r.names.iter().any(|n| n == "clone3"))
            .collect();
        assert_eq!(clone3.len(), 1, "{clone3:?}");
        assert_eq!(clone3[0].action, "SCMP_ACT_ERRNO");
        assert_eq!(clone3[0].errno_ret, Some(38));
        assert!(clone3[0].args.is_empty());
    }

    #[test]
    fn personality_only_for_known_domains() {
        let p = docker_default();
        assert!(!allowed_always(&p, "personality"));
        let mut values: Vec<u64> = allow_rules(&p, "personality")
            .map(|r| {
                let [cond] = r.args.as_slice() else {
                    panic!("one condition per personality rule: {r:?}");
                };
                assert_eq!((cond.index, cond.op.as_str()), (0, "SCMP_CMP_EQ"));
                cond.value
            })
            .collect();
        values.sort_unstable();
        assert_eq!(values, [0, 8, 0x20000, 0x20008, 0xffff_ffff]);
    }

    #[test]
    fn sys_admin_unlocks_mounts_namespaces_and_clone3() {
        let p = default_profile(&caps(DOCKER_DEFAULT_CAPS, &["CAP_SYS_ADMIN"]));
        for name in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "clone",
            "clone3",
            "bpf",
            "sethostname",
        ] {
            assert!(allowed_always(&p, name), "{name} should be allowed");
        }
        assert!(
            !p.syscalls.iter().any(|r| r.action == ERRNO),
            "no errno rule with CAP_SYS_ADMIN"
        );
        // Still not: those belong to other capabilities.
        for name in ["process_vm_readv", "reboot", "init_module", "kexec_load"] {
            assert!(!allowed(&p, name), "{name} should not be allowed");
        }
    }

    #[test]
    fn each_capability_unlocks_its_syscalls() {
        for (cap, name) in [
            ("CAP_SYS_PTRACE", "process_vm_writev"),
            ("CAP_SYS_PTRACE", "kcmp"),
            ("CAP_SYS_MODULE", "init_module"),
            ("CAP_SYS_MODULE", "delete_module"),
            ("CAP_SYS_BOOT", "reboot"),
            ("CAP_SYS_TIME", "settimeofday"),
            ("CAP_SYS_TIME", "clock_settime"),
            ("CAP_SYS_PACCT", "acct"),
            ("CAP_SYS_RAWIO", "iopl"),
            ("CAP_SYS_NICE", "mbind"),
            ("CAP_SYSLOG", "syslog"),
            ("CAP_SYS_TTY_CONFIG", "vhangup"),
            ("CAP_BPF", "bpf"),
            ("CAP_PERFMON", "perf_event_open"),
            ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
        ] {
            assert!(!allowed(&docker_default(), name), "{name} without {cap}");
            let p = default_profile(&caps(DOCKER_DEFAULT_CAPS, &[cap]));
            assert!(allowed_always(&p, name), "{name} with {cap}");
        }
        // chroot comes with CAP_SYS_CHROOT, which Docker's default set holds.
        assert!(!allowed(&default_profile(&[]), "chroot"));
    }

    #[test]
    fn some_syscalls_are_never_allowed() {
        let all = default_profile(&caps(ALL_CAPS, &[]));
        for name in NEVER_ALLOWED {
            assert!(!allowed(&all, name), "{name} should never be allowed");
        }
    }

    #[test]
    fn names_are_known_and_listed_once() {
        for profile in [docker_default(), default_profile(&caps(ALL_CAPS, &[]))] {
            for r in &profile.syscalls {
                for name in &r.names {
                    assert!(known_syscall(name), "{name}");
                }
            }
            let unconditional: Vec<&String> = profile
                .syscalls
                .iter()
                .filter(|r| r.args.is_empty())
                .flat_map(|r| &r.names)
                .collect();
            let mut unique = unconditional.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), unconditional.len());
        }
    }

    // -----------------------------------------------------------------------------
    // The filter in a real process.
    // -----------------------------------------------------------------------------

    /// Exit codes of the checks run in the forked child.
    const OK: i32 = 0;
    const NO_NEW_PRIVS_FAILED: i32 = 1;
    const LOAD_FAILED: i32 = 2;
    const UNSHARE_NOT_DENIED: i32 = 10;
    const UNSHARE_WRONG_ERRNO: i32 = 11;
    const CLONE3_NOT_DENIED: i32 = 20;
    const CLONE3_WRONG_ERRNO: i32 = 21;
    const CLONE_NEWUTS_NOT_DENIED: i32 = 30;
    const CLONE_NEWUTS_WRONG_ERRNO: i32 = 31;
    const PLAIN_CLONE_FAILED: i32 = 40;
    const PLAIN_CLONE_CHILD_LOST: i32 = 41;
    const GETPID_FAILED: i32 = 50;
    const UNSHARE_FAILED: i32 = 60;
    const CLONE3_NOT_PASSED_ON: i32 = 61;

    fn describe(code: i32) -> &'static str {
        match code {
            OK => "ok",
            NO_NEW_PRIVS_FAILED => "prctl(PR_SET_NO_NEW_PRIVS) failed",
            LOAD_FAILED => "loading the filter failed",
            UNSHARE_NOT_DENIED => "unshare(CLONE_NEWUTS) was not denied",
            UNSHARE_WRONG_ERRNO => "unshare(CLONE_NEWUTS) failed, but not with EPERM",
            CLONE3_NOT_DENIED => "clone3 was not denied",
            CLONE3_WRONG_ERRNO => "clone3 failed, but not with ENOSYS",
            CLONE_NEWUTS_NOT_DENIED => "clone(CLONE_NEWUTS) was not denied",
            CLONE_NEWUTS_WRONG_ERRNO => "clone(CLONE_NEWUTS) failed, but not with EPERM",
            PLAIN_CLONE_FAILED => "clone(SIGCHLD) failed",
            PLAIN_CLONE_CHILD_LOST => "the clone(SIGCHLD) child did not exit as expected",
            GETPID_FAILED => "getpid failed",
            UNSHARE_FAILED => "unshare(CLONE_NEWUTS) failed with CAP_SYS_ADMIN's profile",
            CLONE3_NOT_PASSED_ON => "clone3 did not reach the kernel (EINVAL expected)",
            _ => "unexpected exit code",
        }
    }

    /// Fork; in the child set no_new_privs, load `prog` and exit with `checks`'s code.
    /// The program is compiled by the caller, before the fork: the child of this
    /// multithreaded test runner makes only raw, async-signal-safe calls.
    fn run_filtered(prog: &Program, checks: fn() -> i32) -> i32 {
        // SAFETY: the child calls only prctl, Program::load (no allocation), raw
        // syscalls and _exit.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                // SAFETY: prctl with integer arguments has no memory-safety preconditions.
                let code = if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                    NO_NEW_PRIVS_FAILED
                } else if prog.load().is_err() {
                    LOAD_FAILED
                } else {
                    checks()
                };
                // SAFETY: leaves the forked child without running the test runner's code.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => match waitpid(child, None).expect("waitpid") {
                WaitStatus::Exited(_, code) => code,
                other => panic!("filtered child did not exit normally: {other:?}"),
            },
        }
    }

    /// The raw return value and errno of clone3(NULL, 0). Unfiltered, the kernel
    /// refuses the zero size with EINVAL before creating anything.
    fn clone3_nothing() -> (libc::c_long, i32) {
        // SAFETY: a null clone_args with size 0 is rejected without being read.
        let rc = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) };
        (rc, Errno::last_raw())
    }

    fn default_caps_checks() -> i32 {
        // unshare(2) of a namespace: EPERM from the filter.
        // SAFETY: unshare takes plain flags.
        if unsafe { libc::unshare(libc::CLONE_NEWUTS) } != -1 {
            return UNSHARE_NOT_DENIED;
        }
        if Errno::last_raw() != libc::EPERM {
            return UNSHARE_WRONG_ERRNO;
        }

        // clone3(2): ENOSYS, so that libc falls back to clone(2).
        match clone3_nothing() {
            (-1, libc::ENOSYS) => {}
            (-1, _) => return CLONE3_WRONG_ERRNO,
            _ => return CLONE3_NOT_DENIED,
        }

        // clone(2) with a namespace flag: EPERM. Stack 0 means "like fork".
        let flags = (libc::CLONE_NEWUTS | libc::SIGCHLD) as libc::c_long;
        // SAFETY: a fork-like clone; a child, if one were created, exits at once.
        let rc = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
        if rc == 0 {
            // SAFETY: leaving the unexpected grandchild immediately.
            unsafe { libc::_exit(0) }
        }
        if rc > 0 {
            // SAFETY: reaping the grandchild just created; a null status is allowed.
            unsafe { libc::waitpid(rc as libc::pid_t, std::ptr::null_mut(), 0) };
            return CLONE_NEWUTS_NOT_DENIED;
        }
        if Errno::last_raw() != libc::EPERM {
            return CLONE_NEWUTS_WRONG_ERRNO;
        }

        // clone(2) without namespace flags works (this is what fork does).
        // SAFETY: a fork-like clone; the child exits at once.
        let pid =
            unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_long, 0, 0, 0, 0) };
        if pid == 0 {
            // SAFETY: leaving the grandchild immediately.
            unsafe { libc::_exit(7) }
        }
        if pid < 0 {
            return PLAIN_CLONE_FAILED;
        }
        let mut status = 0;
        // SAFETY: `status` is a valid place for the wait status.
        let waited = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        if waited != pid as libc::pid_t
            || !libc::WIFEXITED(status)
            || libc::WEXITSTATUS(status) != 7
        {
            return PLAIN_CLONE_CHILD_LOST;
        }

        // And ordinary syscalls still work.
        // SAFETY: getpid has no preconditions.
        if unsafe { libc::syscall(libc::SYS_getpid) } <= 0 {
            return GETPID_FAILED;
        }
        OK
    }

    fn sys_admin_checks() -> i32 {
        // SAFETY: unshare takes plain flags; only this child's UTS namespace changes.
        if unsafe { libc::unshare(libc::CLONE_NEWUTS) } != 0 {
            return UNSHARE_FAILED;
        }
        match clone3_nothing() {
            (-1, libc::EINVAL) => {}
            _ => return CLONE3_NOT_PASSED_ON,
        }
        OK
    }

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    #[test]
    fn filter_denies_namespaces_and_clone3_in_a_real_process() {
        let prog = compile(&docker_default()).expect("compiles");
        let code = run_filtered(&prog, default_caps_checks);
        assert_eq!(code, OK, "{}", describe(code));
    }

    #[test]
    fn filter_with_sys_admin_lets_unshare_and_clone3_through() {
        // The suite runs as root (README); without it this test would
        // check nothing, so it fails instead of passing.
        assert!(
            is_root(),
            "unshare(CLONE_NEWUTS) needs root: run the tests as root"
        );
        let prog = compile(&default_profile(&caps(
            DOCKER_DEFAULT_CAPS,
            &["CAP_SYS_ADMIN"],
        )))
        .expect("compiles");
        let code = run_filtered(&prog, sys_admin_checks);
        assert_eq!(code, OK, "{}", describe(code));
    }
}
