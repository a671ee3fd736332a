//! The drop-in tests' engines and helpers: a podman and a containerd each
//! confined to a temporary directory and a cgroup of their own, guards that
//! undo everything they made, and running commands with a timeout.

#![allow(dead_code)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub fn runtime() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_skiff-runtime"))
}

/// Fail unless the test runs as root: both engines are run rootful.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the drop-in tests run podman and containerd as root"
    );
}

/// The path of `tool` on $PATH (or in the sbin directories), or a failure that
/// names the Debian package to install.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from));
    for dir in dirs {
        let p = dir.join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{tool}` is not installed; install it with `apt-get install {package}`");
}

/// What a command did: its status (None if it was killed at the deadline) and output.
pub struct Out {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn describe(&self, what: &str) -> String {
        let status = match self.status {
            Some(s) => s.to_string(),
            None => "timed out and was killed".to_string(),
        };
        format!(
            "{what}: {status}\n--- stdout ---\n{}\n--- stderr (last lines) ---\n{}",
            self.stdout,
            tail(&self.stderr, 80)
        )
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Run `cmd` with stdin closed and output captured through files, not pipes: the
/// daemons an engine starts (conmon, the shim) may inherit them and keep them
/// open. The command is killed if it runs longer than `timeout`.
pub fn run(cmd: &mut Command, timeout: Duration) -> Out {
    let dir = tempfile::Builder::new()
        .prefix("skiff-dropin-out-")
        .tempdir()
        .unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let status = wait_deadline(&mut child, timeout);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    Out {
        status,
        stdout: String::from_utf8_lossy(&std::fs::read(&out_path).unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned(),
    }
}

/// Wait for `child` until `timeout`; None if it is still running then.
pub fn wait_deadline(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("waiting for a child") {
            return Some(st);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A name unique to this test run and call (the tests of this file run at
/// once, each with podman's cgroups of its own), for cgroups, containers
/// and images.
pub fn unique(what: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("skiff-dropin-{what}-{}-{n}", std::process::id())
}

/// Whether `dir` is on an overlay filesystem, where the overlay storage drivers
/// and snapshotters cannot work; the copying ones (vfs, native) are used then.
pub fn on_overlayfs(dir: &Path) -> bool {
    const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
    let c = CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: an all-zero statfs is a valid value for statfs(2) to overwrite.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is NUL-terminated and st is a valid statfs to fill in.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == OVERLAYFS_SUPER_MAGIC
}

/// One line of /proc/self/mountinfo: (mount point, filesystem type).
pub fn mounts() -> Vec<(PathBuf, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mount_point = pre.split(' ').nth(4)?;
            let fstype = post.split(' ').next()?;
            Some((PathBuf::from(unescape(mount_point)), fstype.to_string()))
        })
        .collect()
}

/// Undo mountinfo's octal escapes (`\040` for a space and so on).
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Detach every mount at or below `dir`, the deepest first.
pub fn unmount_under(dir: &Path) {
    let mut points: Vec<PathBuf> = mounts()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    for p in points {
        let c = CString::new(p.as_os_str().as_bytes()).unwrap();
        // SAFETY: c is a NUL-terminated path; a failed umount2 changes nothing.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// The processes (other than this one) whose command line mentions `needle`: the
/// daemons an engine started for this test, which name the test's unique
/// temporary directory in their arguments.
pub fn processes_mentioning(needle: &Path) -> Vec<libc::pid_t> {
    let needle = needle.as_os_str().as_bytes();
    let me = std::process::id() as libc::pid_t;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<libc::pid_t>().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            (pid != me && cmdline.windows(needle.len()).any(|w| w == needle)).then_some(pid)
        })
        .collect()
}

pub fn kill_all(pids: &[libc::pid_t]) {
    for &pid in pids {
        // SAFETY: kill(2) with a pid and a signal number.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// The paths of the listening unix sockets that the processes `pids` hold open
/// and that lie outside `own_dir`: those an engine put at a fixed place on the
/// host (containerd 1.6's shims listen in /run/containerd/s/), to remove when a
/// killed shim could not.
pub fn host_sockets_of(pids: &[libc::pid_t], own_dir: &Path) -> Vec<PathBuf> {
    let mut inodes = Vec::new();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let t = target.to_string_lossy();
            if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                inodes.push(inode.to_string());
            }
        }
    }
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (inode, path) = (f.get(6)?, PathBuf::from(f.get(7)?));
            (inodes.iter().any(|i| i == inode) && path.is_absolute() && !path.starts_with(own_dir))
                .then_some(path)
        })
        .collect()
}

/// Remove the cgroup `rel` (a path below each hierarchy's root, created for and
/// used only by this test) with everything below it, in every mounted cgroup
/// hierarchy. Processes still in it are this test's containers and monitors;
/// they are killed first.
pub fn remove_cgroup_tree(rel: &str) {
    let rel = rel.trim_start_matches('/');
    let mut roots: Vec<PathBuf> = mounts()
        .into_iter()
        .filter(|(_, t)| t == "cgroup" || t == "cgroup2")
        .map(|(p, _)| p)
        .collect();
    roots.dedup();
    for root in roots {
        let top = root.join(rel);
        if !top.is_dir() {
            continue;
        }
        let mut dirs = Vec::new();
        collect_dirs(&top, &mut dirs);
        // The deepest first, so that each directory is empty when removed.
        dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for d in dirs {
            let start = Instant::now();
            while std::fs::remove_dir(&d).is_err() && d.exists() {
                if start.elapsed() > Duration::from_secs(10) {
                    eprintln!("could not remove cgroup {}", d.display());
                    break;
                }
                let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: kill(2) with a pid and a signal number.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

pub fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

/// Host directories that an engine creates at a fixed place whatever it is told
/// (containerd 1.6 puts its shims' sockets in /run/containerd/s). Those that do
/// not exist before the test are removed after it, if empty.
pub struct HostDirs(pub Vec<PathBuf>);

impl HostDirs {
    pub fn record(paths: &[&str]) -> HostDirs {
        HostDirs(
            paths
                .iter()
                .map(PathBuf::from)
                .filter(|p| !p.exists())
                .collect(),
        )
    }
}

impl Drop for HostDirs {
    fn drop(&mut self) {
        let mut dirs = self.0.clone();
        dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for d in dirs {
            // Only ever an empty directory: remove_dir fails on anything else.
            let _ = std::fs::remove_dir(&d);
        }
    }
}

/// The RLIMIT_{NOFILE,NPROC} values to ask podman for. Podman 4.3 as root sets
/// NOFILE to 1048576 and NPROC to 1048576 (or kernel.pid_max) unless told
/// otherwise, also with `--ulimit host` (its validation puts the defaults back
/// when the list is empty), and without CAP_SYS_RESOURCE no runtime can raise a
/// hard limit above the one it inherits. Podman itself lowers its NPROC limit to
/// pid_max when it can, so the container asks for no more than the smaller.
pub fn podman_ulimits() -> [String; 2] {
    let get = |res| {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills in the rlimit struct it is given.
        assert_eq!(unsafe { libc::getrlimit(res, &mut r) }, 0);
        (r.rlim_cur, r.rlim_max)
    };
    let (nofile_soft, nofile_hard) = get(libc::RLIMIT_NOFILE);
    let (_, nproc_hard) = get(libc::RLIMIT_NPROC);
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX);
    let nproc = nproc_hard.min(pid_max);
    [
        format!("nofile={nofile_soft}:{nofile_hard}"),
        format!("nproc={nproc}:{nproc}"),
    ]
}

/// A podman confined to a temporary directory: storage, run root, tmp dir,
/// locks, events, volumes, network config, the runtime's own root and log.
pub struct Podman {
    pub podman: PathBuf,
    pub dir: tempfile::TempDir,
    pub driver: &'static str,
    pub cgroup_parent: String,
}

impl Podman {
    pub fn new() -> Podman {
        require_root();
        let podman = require_tool("podman", "podman");
        require_tool("conmon", "conmon");
        let dir = tempfile::Builder::new()
            .prefix("skiff-dropin-podman-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for sub in ["root", "runroot", "tmp", "net", "volumes", "rt", "copytmp"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let driver = if on_overlayfs(d) { "vfs" } else { "overlay" };
        let p = |sub: &str| d.join(sub).display().to_string();
        // CONTAINERS_CONF replaces every other containers.conf. The CNI backend keeps
        // its state in tmp_dir; netavark as root always uses /run/containers/networks.
        // File locks live in tmp_dir too, not in a shared /dev/shm segment.
        std::fs::write(
            d.join("containers.conf"),
            format!(
                r#"[network]
network_backend = "cni"
network_config_dir = "{net}"

[engine]
tmp_dir = "{tmp}"
static_dir = "{statics}"
volume_path = "{volumes}"
image_copy_tmp_dir = "{copytmp}"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{events}"
lock_type = "file"
"#,
                net = p("net"),
                tmp = p("tmp"),
                statics = p("root/libpod"),
                volumes = p("volumes"),
                copytmp = p("copytmp"),
                events = p("events.log"),
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"{driver}\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                p("root"),
                p("runroot")
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("registries.conf"),
            "unqualified-search-registries = []\n",
        )
        .unwrap();
        Podman {
            podman,
            driver,
            cgroup_parent: format!("/{}", unique("podman")),
            dir,
        }
    }

    /// podman with the global options and environment that confine it.
    pub fn cmd(&self) -> Command {
        let d = self.dir.path();
        let mut c = Command::new(&self.podman);
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", d.join("storage.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", d.join("registries.conf"))
            .env("TMPDIR", d.join("tmp"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--storage-driver", self.driver])
            .args(["--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"]);
        c
    }

    /// `podman import` a rootfs tarball as `image`.
    ///
    /// Podman 4.3 as root always records copied blobs in
    /// /var/lib/containers/cache/blob-info-cache-v1.boltdb (c/image has no option
    /// for it that podman exposes), so the import runs in a mount namespace of its
    /// own where that directory is a private tmpfs, gone when podman exits.
    pub fn import(&self, tarball: &Path, image: &str) {
        let mut args = vec!["import".to_string(), tarball.display().to_string()];
        args.push(image.to_string());
        let out = self.isolated(&args);
        assert!(out.success(), "{}", out.describe("podman import"));
    }

    /// Run podman with `args` in a mount namespace where the host's
    /// /var/lib/containers (its blob-info cache) is a private tmpfs.
    pub fn isolated(&self, args: &[String]) -> Out {
        let target = if Path::new("/var/lib/containers").is_dir() {
            "/var/lib/containers"
        } else {
            // The mount point must exist; create nothing on the host.
            "/var/lib"
        };
        let target = CString::new(target).unwrap();
        let tmpfs = CString::new("tmpfs").unwrap();
        let root = CString::new("/").unwrap();
        let opts = CString::new("mode=0755,size=64m").unwrap();
        let mut cmd = self.cmd();
        cmd.args(args);
        // SAFETY: the closure only makes raw syscalls on memory allocated before the
        // fork (the CStrings it captures), which is what pre_exec allows.
        unsafe {
            cmd.pre_exec(move || {
                if libc::unshare(libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let none = std::ptr::null();
                if libc::mount(
                    none,
                    root.as_ptr(),
                    none,
                    libc::MS_REC | libc::MS_PRIVATE,
                    none as _,
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::mount(
                    tmpfs.as_ptr(),
                    target.as_ptr(),
                    tmpfs.as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    opts.as_ptr().cast(),
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        run(&mut cmd, Duration::from_secs(120))
    }

    pub fn runtime_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("runtime.log")).unwrap_or_default()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Whatever a failed test left: its containers (stopped and removed by podman,
        // which also unmounts their storage), then any monitor still running, mounts
        // and the cgroups under the test's cgroup parent.
        let _ = run(
            self.cmd()
                .args(["--runtime"])
                .arg(runtime())
                .arg("--runtime-flag")
                .arg(format!("root={}", self.dir.path().join("rt").display()))
                .args(["rm", "--all", "--force", "--time", "0"]),
            Duration::from_secs(60),
        );
        kill_all(&processes_mentioning(self.dir.path()));
        unmount_under(self.dir.path());
        remove_cgroup_tree(&self.cgroup_parent);
    }
}

/// A containerd of the test's own: socket, root, state, plugin dir and config in
/// a temporary directory, the CRI plugin (the one that sets up networks) off.
pub struct Containerd {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub sock: PathBuf,
    pub ctr: PathBuf,
    pub cgroup_parent: String,
    pub _host_dirs: HostDirs,
}

impl Containerd {
    pub fn start() -> Containerd {
        require_root();
        let containerd = require_tool("containerd", "containerd");
        let ctr = require_tool("ctr", "containerd");
        require_tool("containerd-shim-runc-v2", "containerd");
        let host_dirs = HostDirs::record(&["/run/containerd", "/run/containerd/s"]);
        let dir = tempfile::Builder::new()
            .prefix("skiff-dropin-containerd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for sub in ["root", "state", "opt", "runc", "fifo"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let sock = d.join("containerd.sock");
        std::fs::write(
            d.join("config.toml"),
            format!(
                r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{sock}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
                root = d.join("root").display(),
                state = d.join("state").display(),
                sock = sock.display(),
                opt = d.join("opt").display(),
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let child = Command::new(containerd)
            .arg("--config")
            .arg(d.join("config.toml"))
            .arg("--address")
            .arg(&sock)
            .arg("--root")
            .arg(d.join("root"))
            .arg("--state")
            .arg(d.join("state"))
            .args(["--log-level", "debug"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting containerd");
        let mut c = Containerd {
            dir,
            child: Some(child),
            sock,
            ctr,
            cgroup_parent: format!("/{}", unique("containerd")),
            _host_dirs: host_dirs,
        };
        c.wait_ready();
        c
    }

    pub fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("containerd exited: {st}\n{}", self.log());
            }
            if self.sock.exists()
                && run(self.ctr().arg("version"), Duration::from_secs(10)).success()
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "containerd did not come up\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn ctr(&self) -> Command {
        let mut c = Command::new(&self.ctr);
        c.arg("--address").arg(&self.sock);
        c
    }

    pub fn log(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default();
        format!("--- containerd log (last lines) ---\n{}", tail(&log, 60))
    }

    /// The snapshotter for this temporary directory's filesystem.
    pub fn snapshotter(&self) -> &'static str {
        if on_overlayfs(self.dir.path()) {
            "native"
        } else {
            "overlayfs"
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Shims still running (after a failure) are found by the containerd socket
        // in their arguments; note their sockets before they die.
        let shims = processes_mentioning(self.dir.path());
        let sockets = host_sockets_of(&shims, self.dir.path());
        // The containers' processes (all in the test's cgroup) first, then
        // containerd, then whatever it started and left.
        remove_cgroup_tree(&self.cgroup_parent);
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on the pid of the containerd this guard started.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            if wait_deadline(&mut child, Duration::from_secs(10)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        kill_all(&processes_mentioning(self.dir.path()));
        for s in sockets {
            if std::fs::symlink_metadata(&s).is_ok_and(|m| m.file_type().is_socket()) {
                let _ = std::fs::remove_file(&s);
            }
        }
        unmount_under(self.dir.path());
        remove_cgroup_tree(&self.cgroup_parent);
    }
}

pub fn skiff(root: &Path, args: &[&str]) -> Out {
    run(
        Command::new(env!("CARGO_BIN_EXE_skiff"))
            .arg("--root")
            .arg(root)
            .args(args),
        Duration::from_secs(120),
    )
}
