//! Starting container processes through the library, as an engine does:
//! `container::create_child` + `start` and `exec::spawn` with explicit stdio,
//! and the typed error (`Error::Exec`) when the command cannot be executed.
//! They need root.
//!
//! The runtime refuses multi-threaded callers and libtest runs tests on
//! threads, so this file has no libtest harness: `main` runs each case in a
//! fresh, single-threaded copy of this binary and captures its stdout and
//! stderr, which must not show anything the containers printed.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::OFlag;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use skiff_runtime::container::{self, CreateOpts};
use skiff_runtime::exec::{self, ExecOpts};
use skiff_runtime::spec::Process;
use skiff_runtime::{Error, ExecCause};
use skiff_testkit::{state_root, unique_id, Bundle};
use tempfile::TempDir;

/// What every container of these tests prints, so the harness can tell
/// whether any of it reached a test process's own stdout or stderr.
const MARK: &str = "container-output-7f3a";

/// Which case a copy of this binary runs.
const CASE_VAR: &str = "SKIFF_START_TEST_CASE";

type Case = (&'static str, fn());

const CASES: &[Case] = &[
    (
        "create_child_stdio_goes_to_pipes",
        create_child_stdio_goes_to_pipes,
    ),
    (
        "exec_spawn_stdio_goes_to_pipes",
        exec_spawn_stdio_goes_to_pipes,
    ),
    ("stdio_may_name_fds_0_to_2", stdio_may_name_fds_0_to_2),
    ("stdio_fd_not_open_is_refused", stdio_fd_not_open_is_refused),
    (
        "create_exec_failures_are_typed",
        create_exec_failures_are_typed,
    ),
    (
        "spawn_exec_failures_are_typed",
        spawn_exec_failures_are_typed,
    ),
    (
        "other_init_failures_stay_init",
        other_init_failures_stay_init,
    ),
];

fn main() {
    if let Ok(name) = std::env::var(CASE_VAR) {
        let (_, case) = CASES.iter().find(|(n, _)| *n == name).expect("a case");
        case();
        return;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let me = std::env::current_exe().unwrap();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, _) in CASES {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        let child = Command::new(&me)
            .env(CASE_VAR, name)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let case_pid = child.id();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let leaked = stdout.contains(MARK) || stderr.contains(MARK);
        let cgroups = cgroups_left(case_pid);
        if out.status.success() && !leaked && cgroups.is_empty() {
            println!("test {name} ... ok");
        } else {
            println!("test {name} ... FAILED ({})", out.status);
            if leaked {
                println!("  container output reached the test process's own stdout/stderr");
            }
            for dir in cgroups {
                println!("  cgroup left behind: {}", dir.display());
            }
            println!("  stdout:\n{stdout}\n  stderr:\n{stderr}");
            failed.push(*name);
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        ran - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(1);
    }
}

/// Cgroups of the containers a case process `pid` made (their ids, from
/// `unique_id`, hold its pid) that are still there.
fn cgroups_left(pid: u32) -> Vec<PathBuf> {
    let infix = format!("-{pid}-");
    let mut left = Vec::new();
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for entry in std::fs::read_dir(hierarchy.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name();
            if name.to_string_lossy().contains(&infix) && entry.path().is_dir() {
                left.push(entry.path());
            }
        }
    }
    left
}

/// A pipe, both ends close-on-exec: (read, write).
fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap()
}

/// Everything until EOF, with `MARK` shown as "MARK" (so that a failed
/// assertion does not print the mark and look like a leak).
fn read_all(fd: OwnedFd) -> String {
    let mut s = String::new();
    File::from(fd).read_to_string(&mut s).unwrap();
    s.replace(MARK, "MARK")
}

fn dev_null() -> OwnedFd {
    File::open("/dev/null").unwrap().into()
}

/// (device, inode) of this process's fds 0, 1 and 2.
fn own_stdio() -> Vec<(u64, u64)> {
    (0..3)
        .map(|fd| {
            let md = std::fs::metadata(format!("/proc/self/fd/{fd}")).unwrap();
            (md.dev(), md.ino())
        })
        .collect()
}

fn exit_code(pid: i32) -> i32 {
    match waitpid(Pid::from_raw(pid), None).unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}"),
    }
}

/// A test's container: a state root and an id. Dropping it force-deletes
/// the container (killing its processes, removing its cgroup), however the
/// test ends.
struct Ctr {
    root: TempDir,
    id: String,
}

impl Ctr {
    fn new(tag: &str) -> Ctr {
        Ctr {
            root: state_root(),
            id: unique_id(tag),
        }
    }

    fn root(&self) -> &Path {
        self.root.path()
    }

    fn opts(&self, b: &Bundle) -> CreateOpts {
        CreateOpts {
            id: self.id.clone(),
            bundle: b.path().to_path_buf(),
            root: self.root().to_path_buf(),
            ..Default::default()
        }
    }

    fn exec_opts(&self, process: Process, stdio: [RawFd; 3]) -> ExecOpts {
        ExecOpts {
            root: self.root().to_path_buf(),
            id: self.id.clone(),
            process,
            stdio: Some(stdio),
            ..Default::default()
        }
    }

    /// No state directory is left.
    fn assert_no_state(&self) {
        assert!(!self.root().join(&self.id).exists(), "state left behind");
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = container::delete(self.root.path(), &self.id, true);
    }
}

/// The bundle's process with `argv` as its command.
fn process(b: &Bundle, argv: &[&str]) -> Process {
    let mut p: Process = serde_json::from_value(b.config["process"].clone()).unwrap();
    p.args = argv.iter().map(|a| a.to_string()).collect();
    p
}

fn create_child_stdio_goes_to_pipes() {
    let before = own_stdio();
    let script = format!("echo out-{MARK}; echo err-{MARK} >&2; read line; echo got:$line");
    let b = Bundle::busybox(&["sh", "-c", &script]);
    let c = Ctr::new("stdio");
    let (in_r, in_w) = pipe();
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let mut o = c.opts(&b);
    o.stdio = Some([in_r.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()]);
    let pid = container::create_child(&o).unwrap();
    container::start(c.root(), &c.id).unwrap();
    drop((in_r, out_w, err_w));
    File::from(in_w).write_all(b"hello\n").unwrap();
    assert_eq!(read_all(out_r), "out-MARK\ngot:hello\n");
    assert_eq!(read_all(err_r), "err-MARK\n");
    assert_eq!(exit_code(pid), 0);
    assert_eq!(own_stdio(), before);
    container::delete(c.root(), &c.id, false).unwrap();
}

fn exec_spawn_stdio_goes_to_pipes() {
    let before = own_stdio();
    let b = Bundle::busybox(&["sleep", "100"]);
    let c = Ctr::new("exec");
    let null = dev_null();
    let mut o = c.opts(&b);
    o.stdio = Some([null.as_raw_fd(); 3]);
    container::create_child(&o).unwrap();
    container::start(c.root(), &c.id).unwrap();

    let script = format!("echo out-{MARK}; echo err-{MARK} >&2; cat");
    let (in_r, in_w) = pipe();
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let stdio = [in_r.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()];
    let eo = c.exec_opts(process(&b, &["sh", "-c", &script]), stdio);
    let pid = exec::spawn(&eo).unwrap();
    drop((in_r, out_w, err_w));
    File::from(in_w).write_all(b"via cat\n").unwrap();
    assert_eq!(read_all(out_r), "out-MARK\nvia cat\n");
    assert_eq!(read_all(err_r), "err-MARK\n");
    assert_eq!(exit_code(pid), 0);
    assert_eq!(own_stdio(), before);
}

/// Saves fds 1 and 2 on creation and puts them back on drop.
struct SavedStdio([OwnedFd; 2]);

impl SavedStdio {
    fn save() -> SavedStdio {
        let dup = |fd: RawFd| nix::unistd::dup(std_fd(fd)).unwrap();
        SavedStdio([dup(1), dup(2)])
    }
}

impl Drop for SavedStdio {
    fn drop(&mut self) {
        for (target, fd) in [1, 2].into_iter().zip(&self.0) {
            // SAFETY: dup2 from an fd we own onto 1 or 2.
            unsafe { libc::dup2(fd.as_raw_fd(), target) };
        }
    }
}

/// A borrowed view of fd 0, 1 or 2, which stay open for the whole test.
fn std_fd(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    assert!((0..3).contains(&fd));
    // SAFETY: fds 0-2 of this process stay open for its lifetime.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// The caller's fds 0-2 may themselves be what it passes, in any order: the
/// container's stdout is the caller's fd 2 and its stderr the caller's fd 1.
/// (Installing them in order with plain dup2 would make both the same.)
fn stdio_may_name_fds_0_to_2() {
    let b = Bundle::busybox(&["sh", "-c", &format!("echo out-{MARK}; echo err-{MARK} >&2")]);
    let c = Ctr::new("swap");
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let null = dev_null();
    let (created, started) = {
        let _saved = SavedStdio::save();
        // SAFETY: dup2 onto this process's own 1 and 2, restored by `_saved`.
        unsafe {
            libc::dup2(out_w.as_raw_fd(), 2);
            libc::dup2(err_w.as_raw_fd(), 1);
        }
        let mut o = c.opts(&b);
        o.stdio = Some([null.as_raw_fd(), 2, 1]);
        let created = container::create_child(&o);
        let started = created.is_ok().then(|| container::start(c.root(), &c.id));
        (created, started)
    };
    let pid = created.unwrap();
    started.unwrap().unwrap();
    drop((out_w, err_w));
    assert_eq!(read_all(out_r), "out-MARK\n");
    assert_eq!(read_all(err_r), "err-MARK\n");
    assert_eq!(exit_code(pid), 0);
}

fn stdio_fd_not_open_is_refused() {
    let b = Bundle::busybox(&["true"]);
    let c = Ctr::new("badfd");
    let mut o = c.opts(&b);
    o.stdio = Some([0, 1, 987]);
    match container::create_child(&o).unwrap_err() {
        Error::Stdio { fd: 987, err } => assert_eq!(err, nix::errno::Errno::EBADF),
        e => panic!("{e}"),
    }
    c.assert_no_state();
}

/// The error of a create whose command is `argv`.
fn create_error(argv: &[&str]) -> Error {
    let b = Bundle::busybox(argv);
    let c = Ctr::new("cmd");
    let e = container::create_child(&c.opts(&b)).unwrap_err();
    c.assert_no_state();
    e
}

/// `e` is an `Error::Exec` for `cause` with exactly the message `msg`,
/// shown with the same text an init failure has.
fn check_exec(e: &Error, cause: ExecCause, msg: &str) {
    match e {
        Error::Exec { cause: c, msg: m } => {
            assert_eq!((*c, m.as_str()), (cause, msg));
        }
        e => panic!("not an exec error: {e:?}"),
    }
    assert_eq!(e.exec_cause(), Some(cause));
    assert_eq!(e.to_string(), format!("container init: {msg}"));
}

fn create_exec_failures_are_typed() {
    let e = create_error(&["nosuchcmd"]);
    let msg = r#"exec: "nosuchcmd": executable file not found in $PATH"#;
    check_exec(&e, ExecCause::NotFound, msg);
    let msg = r#"exec: "/etc/passwd": permission denied"#;
    check_exec(
        &create_error(&["/etc/passwd"]),
        ExecCause::PermissionDenied,
        msg,
    );
    let msg = r#"exec: "/etc": permission denied"#;
    check_exec(&create_error(&["/etc"]), ExecCause::PermissionDenied, msg);
    let msg = r#"exec: "/nonexistent": No such file or directory (os error 2)"#;
    check_exec(&create_error(&["/nonexistent"]), ExecCause::NotFound, msg);
    let msg = r#"exec: "/etc/passwd/x": Not a directory (os error 20)"#;
    check_exec(&create_error(&["/etc/passwd/x"]), ExecCause::Other, msg);
}

fn spawn_exec_failures_are_typed() {
    let b = Bundle::busybox(&["sleep", "100"]);
    // Executable files execve refuses: a missing interpreter and no format.
    let bin = b.rootfs().join("bin");
    std::fs::write(bin.join("orphan-script"), "#!/no/such/interpreter\n").unwrap();
    std::fs::write(bin.join("garbage"), "this is not a program\n").unwrap();
    for f in ["orphan-script", "garbage"] {
        std::fs::set_permissions(bin.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let c = Ctr::new("spawn");
    let null = dev_null();
    let mut o = c.opts(&b);
    o.stdio = Some([null.as_raw_fd(); 3]);
    container::create_child(&o).unwrap();
    container::start(c.root(), &c.id).unwrap();
    let spawn = |argv: &[&str]| {
        let eo = c.exec_opts(process(&b, argv), [null.as_raw_fd(); 3]);
        exec::spawn(&eo).unwrap_err()
    };
    let msg = r#"exec: "nosuchcmd": executable file not found in $PATH"#;
    check_exec(&spawn(&["nosuchcmd"]), ExecCause::NotFound, msg);
    let msg = r#"exec: "/etc/passwd": permission denied"#;
    check_exec(&spawn(&["/etc/passwd"]), ExecCause::PermissionDenied, msg);
    let msg = r#"exec "/bin/orphan-script": No such file or directory (os error 2)"#;
    check_exec(&spawn(&["orphan-script"]), ExecCause::NotFound, msg);
    let msg = r#"exec "/bin/garbage": Exec format error (os error 8)"#;
    check_exec(&spawn(&["garbage"]), ExecCause::Other, msg);
}

fn other_init_failures_stay_init() {
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| {
        c["process"]["rlimits"] = serde_json::json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": u64::MAX - 1}
        ])
    });
    let c = Ctr::new("init");
    match container::create_child(&c.opts(&b)).unwrap_err() {
        Error::Init(msg) => assert!(msg.starts_with("setting RLIMIT_NOFILE"), "{msg}"),
        e => panic!("{e:?}"),
    }
    c.assert_no_state();
}
