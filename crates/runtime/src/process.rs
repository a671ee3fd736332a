//! Turning `process` of the spec into what the container process applies before
//! exec: rlimits, argv/envp as C strings, the executable looked up in the
//! container's PATH, user and group ids, and the final exec.

use crate::caps::{self, CapSets};
use crate::seccomp::Program;
use crate::spec::{Process, Rlimit};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("unknown rlimit type {0:?}")]
    UnknownRlimit(String),
    #[error("rlimit {name}: soft limit {soft} is above hard limit {hard}")]
    RlimitOrder { name: String, soft: u64, hard: u64 },
    #[error("process.args or env contain a NUL byte")]
    Nul,
    #[error("process.args is empty")]
    NoArgs,
}

const RLIMITS: [(&str, libc::__rlimit_resource_t); 16] = [
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
];

/// Why the container process could not execute its command. Docker makes
/// `NotFound` exit code 127 and `PermissionDenied` 126.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecCause {
    /// No such file (ENOENT), or not found in `$PATH`.
    NotFound,
    /// Not executable, a directory, or access denied (EACCES).
    PermissionDenied,
    /// Anything else (ENOEXEC, ENOTDIR, ELOOP, ...).
    Other,
}

impl ExecCause {
    /// The cause an errno of `stat` or `execve` stands for.
    pub fn from_errno(errno: i32) -> ExecCause {
        match errno {
            libc::ENOENT => ExecCause::NotFound,
            libc::EACCES => ExecCause::PermissionDenied,
            _ => ExecCause::Other,
        }
    }

    fn from_io(err: &std::io::Error) -> ExecCause {
        err.raw_os_error()
            .map_or(ExecCause::Other, ExecCause::from_errno)
    }

    /// The byte that carries the cause over the sync channel.
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            ExecCause::NotFound => b'n',
            ExecCause::PermissionDenied => b'p',
            ExecCause::Other => b'o',
        }
    }

    pub(crate) fn from_byte(b: u8) -> ExecCause {
        match b {
            b'n' => ExecCause::NotFound,
            b'p' => ExecCause::PermissionDenied,
            _ => ExecCause::Other,
        }
    }
}

/// The command could not be executed: why, and the message runc would show
/// (`exec: "x": executable file not found in $PATH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecFailure {
    pub cause: ExecCause,
    pub msg: String,
}

/// Why [`Prepared::exec_command`] returned (it returns only on failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecStepError {
    /// A step before `execve` failed (no_new_privs, AppArmor, seccomp).
    Setup(String),
    /// `execve` itself failed.
    Exec(ExecFailure),
}

/// One rlimit, checked and resolved to its resource number.
#[derive(Debug, Clone)]
pub struct Limit {
    pub name: String,
    pub resource: libc::__rlimit_resource_t,
    pub soft: u64,
    pub hard: u64,
}

pub fn parse_rlimits(list: &[Rlimit]) -> Result<Vec<Limit>, ProcessError> {
    list.iter()
        .map(|r| {
            let resource = RLIMITS
                .iter()
                .find(|(n, _)| *n == r.typ)
                .map(|(_, v)| *v)
                .ok_or_else(|| ProcessError::UnknownRlimit(r.typ.clone()))?;
            if r.soft > r.hard {
                return Err(ProcessError::RlimitOrder {
                    name: r.typ.clone(),
                    soft: r.soft,
                    hard: r.hard,
                });
            }
            Ok(Limit {
                name: r.typ.clone(),
                resource,
                soft: r.soft,
                hard: r.hard,
            })
        })
        .collect()
}

/// Everything about the user process, prepared in the runtime before fork.
#[derive(Debug)]
pub struct Prepared {
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub path_env: Option<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub caps: CapSets,
    pub rlimits: Vec<Limit>,
    pub no_new_privileges: bool,
    pub seccomp: Option<Program>,
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    /// AppArmor profile to switch to at exec (checked to be supported).
    pub apparmor_profile: Option<CString>,
}

/// Is AppArmor enabled in the running kernel?
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false)
}

impl Prepared {
    pub fn new(
        p: &Process,
        caps: CapSets,
        seccomp: Option<Program>,
    ) -> Result<Prepared, crate::Error> {
        if p.args.is_empty() {
            return Err(ProcessError::NoArgs.into());
        }
        let cs = |s: &String| CString::new(s.as_bytes()).map_err(|_| ProcessError::Nul);
        let argv = p.args.iter().map(cs).collect::<Result<Vec<_>, _>>()?;
        let mut envp = p.env.iter().map(cs).collect::<Result<Vec<_>, _>>()?;
        if !p.env.iter().any(|e| e.starts_with("HOME=")) {
            // runc sets HOME for the user when the config does not.
            envp.push(CString::new("HOME=/").expect("no NUL"));
        }
        let path_env = p
            .env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .map(str::to_string);
        Ok(Prepared {
            argv,
            envp,
            path_env,
            cwd: PathBuf::from(if p.cwd.is_empty() { "/" } else { &p.cwd }),
            uid: p.user.uid,
            gid: p.user.gid,
            additional_gids: p.user.additional_gids.clone(),
            umask: p.user.umask,
            caps,
            rlimits: parse_rlimits(&p.rlimits)?,
            no_new_privileges: p.no_new_privileges,
            seccomp,
            terminal: p.terminal,
            console_size: p.console_size.map(|c| (c.height, c.width)),
            apparmor_profile: p
                .apparmor_profile
                .as_ref()
                .filter(|s| !s.is_empty())
                .map(|s| CString::new(format!("exec {s}")))
                .transpose()
                .map_err(|_| ProcessError::Nul)?,
        })
    }

    /// Find the executable as the container will: `argv[0]` if it has a slash,
    /// else each directory of PATH. Runs inside the container's root. The
    /// error is the message of [`Prepared::locate_executable`].
    pub fn find_executable(&self) -> Result<CString, String> {
        self.locate_executable().map_err(|f| f.msg)
    }

    /// [`Prepared::find_executable`], saying why the command cannot run.
    pub fn locate_executable(&self) -> Result<CString, ExecFailure> {
        let arg0 = Path::new(std::ffi::OsStr::from_bytes(self.argv[0].as_bytes()));
        let name = arg0.display().to_string();
        let denied = || ExecFailure {
            cause: ExecCause::PermissionDenied,
            msg: format!("exec: {name:?}: permission denied"),
        };
        let check = |p: &Path| -> Result<(), ExecFailure> {
            use std::os::unix::fs::PermissionsExt;
            match std::fs::metadata(p) {
                // runc reports a directory as EACCES.
                Ok(md) if md.is_dir() => Err(denied()),
                Ok(md) if md.permissions().mode() & 0o111 == 0 => Err(denied()),
                Ok(_) => Ok(()),
                Err(e) => Err(ExecFailure {
                    cause: ExecCause::from_io(&e),
                    msg: format!("exec: {name:?}: {e}"),
                }),
            }
        };
        if arg0.as_os_str().as_bytes().contains(&b'/') {
            let full = if arg0.is_absolute() {
                arg0.to_path_buf()
            } else {
                self.cwd.join(arg0)
            };
            check(&full)?;
            return Ok(self.argv[0].clone());
        }
        let path = self
            .path_env
            .as_deref()
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        for dir in path.split(':').filter(|d| !d.is_empty()) {
            let cand = Path::new(dir).join(arg0);
            if check(&cand).is_ok() {
                return Ok(CString::new(cand.as_os_str().as_bytes()).expect("no NUL"));
            }
        }
        Err(ExecFailure {
            cause: ExecCause::NotFound,
            msg: format!("exec: {name:?}: executable file not found in $PATH"),
        })
    }

    /// Set rlimits. EPERM on raising a hard limit names the missing capability.
    pub fn apply_rlimits(&self) -> Result<(), String> {
        for l in &self.rlimits {
            let r = libc::rlimit {
                rlim_cur: l.soft,
                rlim_max: l.hard,
            };
            // SAFETY: setrlimit reads one rlimit struct.
            if unsafe { libc::setrlimit(l.resource, &r) } < 0 {
                let e = std::io::Error::last_os_error();
                let hint = if e.raw_os_error() == Some(libc::EPERM) {
                    " (raising a hard limit needs CAP_SYS_RESOURCE, which this runtime does not have)"
                } else {
                    ""
                };
                return Err(format!(
                    "setting {} to soft {} hard {}: {e}{hint}",
                    l.name, l.soft, l.hard
                ));
            }
        }
        Ok(())
    }

    /// Change to the process's user and groups, keeping the configured capabilities.
    pub fn apply_user(&self) -> Result<(), String> {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
        caps::drop_bounding(&self.caps)
            .map_err(|e| format!("dropping bounding capabilities: {e}"))?;
        let gids: Vec<libc::gid_t> = self.additional_gids.clone();
        // SAFETY: setgroups reads gids.len() gid_t values.
        if unsafe { libc::setgroups(gids.len(), gids.as_ptr()) } < 0 {
            let e = std::io::Error::last_os_error();
            // In a user namespace with setgroups denied, only an empty list is possible.
            if !(gids.is_empty() && e.raw_os_error() == Some(libc::EPERM)) {
                return Err(format!("setgroups {gids:?}: {e}"));
            }
        }
        // SAFETY: plain id syscalls.
        if unsafe { libc::setresgid(self.gid, self.gid, self.gid) } < 0 {
            return Err(format!(
                "setting gid {}: {}",
                self.gid,
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: plain id syscalls.
        if unsafe { libc::setresuid(self.uid, self.uid, self.uid) } < 0 {
            return Err(format!(
                "setting uid {}: {}",
                self.uid,
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
        caps::apply(&self.caps).map_err(|e| format!("setting capabilities: {e}"))?;
        if let Some(m) = self.umask {
            // SAFETY: umask cannot fail.
            unsafe { libc::umask(m as libc::mode_t) };
        }
        Ok(())
    }

    /// The last steps: no_new_privs, fds, seccomp, execve. Returns only on
    /// failure, with the message of [`Prepared::exec_command`].
    pub fn exec(&self, exe: &CString, keep_fds: u32) -> String {
        match self.exec_command(exe, keep_fds) {
            ExecStepError::Setup(msg) | ExecStepError::Exec(ExecFailure { msg, .. }) => msg,
        }
    }

    /// [`Prepared::exec`], telling a failed `execve` from a failed step
    /// before it.
    pub fn exec_command(&self, exe: &CString, keep_fds: u32) -> ExecStepError {
        let setup = ExecStepError::Setup;
        if self.no_new_privileges {
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
                return setup(format!(
                    "setting no_new_privs: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        if let Some(label) = &self.apparmor_profile {
            // Takes effect at execve; /proc is the container's own here.
            if let Err(e) = std::fs::write("/proc/thread-self/attr/apparmor/exec", label.as_bytes())
                .or_else(|_| std::fs::write("/proc/thread-self/attr/exec", label.as_bytes()))
            {
                return setup(format!("setting apparmor profile: {e}"));
            }
        }
        close_fds_from(3 + keep_fds);
        let mut argv: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const libc::c_char> = self.envp.iter().map(|a| a.as_ptr()).collect();
        envp.push(std::ptr::null());
        if let Some(prog) = self.seccomp.as_ref().filter(|_| self.no_new_privileges) {
            if let Err(e) = prog.load() {
                return setup(format!("loading seccomp filter: {e}"));
            }
        }
        // SAFETY: NUL-terminated arrays of pointers into live CStrings.
        unsafe { libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        let err = std::io::Error::last_os_error();
        ExecStepError::Exec(ExecFailure {
            cause: ExecCause::from_io(&err),
            msg: format!("exec {exe:?}: {err}"),
        })
    }
}

/// Mark every fd from `first` on close-on-exec (preserved fds stay open).
pub fn close_fds_from(first: u32) {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc < 0 {
        for fd in first..1024 {
            // SAFETY: setting FD_CLOEXEC on a possibly-closed fd is harmless.
            unsafe { libc::fcntl(fd as i32, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// Clear close-on-exec on fds 3..3+n so they reach the container process.
pub fn preserve_fds(n: u32) {
    for fd in 3..3 + n {
        // SAFETY: clearing FD_CLOEXEC on an fd number; harmless if not open.
        unsafe { libc::fcntl(fd as i32, libc::F_SETFD, 0) };
    }
}
