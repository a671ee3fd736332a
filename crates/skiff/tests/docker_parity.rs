//! Docker parity: the same commands against skiff and against Docker 20.10
//! (Debian's docker.io, with a dockerd of the test's own), comparing what a
//! user sees: exit codes and stdout exactly (after normalizing what
//! legitimately differs: container IDs, random names, times, durations,
//! "skiff"/"docker" in messages), stderr by the phrase a user would look for.
//!
//! One test runs a table of scenarios against one dockerd and one skiff
//! store, each scenario's Docker and skiff sides in parallel, and reports
//! every scenario that differs at the end rather than stopping at the first.
//! `PARITY_ONLY=word,word` runs only the scenarios whose name holds a word.
//!
//! Where Docker itself cannot do something on this host (`--privileged` and
//! `--cap-add ALL` fail because the host lacks CAP_SYS_RESOURCE), the
//! scenario asserts skiff's documented behaviour instead and says so.
//!
//! Only 127.0.0.1 is ever contacted: the unknown image scenario names a
//! registry on 127.0.0.1:9, so Docker's pull attempt stays on this host.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Debian's docker client (matching Debian's dockerd), not any newer one
/// elsewhere on PATH.
const DOCKER: &str = "/usr/bin/docker";
/// The busybox image both engines have, under the same name.
const IMG: &str = "parity/busybox:1";
/// The same root filesystem with ENV, WORKDIR and CMD in its config.
const IMG_CFG: &str = "parity/busybox:cfg";

/// Shorthands in command lines: skiff's run without --network is `none`,
/// so both always get `--network none`.
const SHORTHANDS: [(&str, &str); 5] = [
    ("RUN", "run --rm --network none"),
    ("DRUN", "run -d --network none"),
    ("CREATE", "create --network none"),
    ("IMG_CFG", IMG_CFG),
    ("IMG", IMG),
];

/// A command line's words: the shorthands expanded, then split at spaces
/// ('...' and "..." keep their spaces, no escapes inside), then `{NAME}` in
/// each word replaced by the given value (which stays one word).
fn words(line: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let mut l = line.to_string();
    for (k, v) in SHORTHANDS {
        l = l.replace(&format!("{{{k}}}"), v);
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut quoted = false;
    for ch in l.chars() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => cur.push(ch),
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                quoted = true;
            }
            None if ch == ' ' => {
                if quoted || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                quoted = false;
            }
            None => cur.push(ch),
        }
    }
    assert!(quote.is_none(), "unclosed quote in {line:?}");
    if quoted || !cur.is_empty() {
        out.push(cur);
    }
    for w in &mut out {
        for (k, v) in vars {
            *w = w.replace(&format!("{{{k}}}"), v);
        }
    }
    out
}

/// `cl!("{RUN} --name {n} {IMG} true", n)`: the words of a command line,
/// with variables (String or &str) by name.
macro_rules! cl {
    ($line:expr $(, $v:ident)* $(,)?) => {
        words($line, &[$((stringify!($v), AsRef::<str>::as_ref(&$v))),*])
    };
}

// ---------------------------------------------------------------------------
// dockerd of the test's own

/// A dockerd of the test's own: its data root, exec root, pid file and socket
/// all under one short temporary directory; no bridge, no iptables, no
/// forwarding, so nothing of the host's network is changed. Stopped (and its
/// containerd, mounts and directory removed) when dropped, also on failure.
struct Dockerd {
    child: Option<Child>,
    sock: String,
    dir: PathBuf,
}

impl Dockerd {
    fn start() -> Dockerd {
        for bin in [DOCKER, "/usr/sbin/dockerd"] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: apt-get install docker.io"
            );
        }
        // Short: the exec root's containerd socket path must fit in 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("pd")
            .tempdir_in("/tmp")
            .unwrap()
            .keep();
        let sock = format!("unix://{}", dir.join("docker.sock").display());
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("/usr/sbin/dockerd")
            .arg("--data-root")
            .arg(dir.join("docker"))
            .arg("--exec-root")
            .arg(dir.join("de"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(&sock)
            .args(["--bridge=none", "--iptables=false", "--ip-forward=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut d = Dockerd {
            child: Some(child),
            sock,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = Command::new(DOCKER)
                .args(["-H", &d.sock, "version"])
                .env("DOCKER_CONFIG", d.dir.join("config"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if up {
                return d;
            }
            let exited = d.child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(d.dir.join("dockerd.log")).unwrap_or_default();
                panic!("dockerd did not start ({exited:?}):\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Processes whose parent is `ppid` (from /proc).
fn children_of(ppid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ..."; comm may hold spaces and parentheses
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) == Some(ppid) {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: i32) -> bool {
    // a zombie counts as gone
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rfind(')')
            .map(|i| s[i + 1..].trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// SIGTERM, up to `secs` seconds to exit, then SIGKILL.
fn terminate(pid: i32, secs: u64) {
    // SAFETY: kill(2) takes no pointers.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(secs);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        // SAFETY: kill(2) takes no pointers.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Unmount everything mounted below `dir`, deepest first.
fn unmount_below(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = format!("{}/", dir.display());
    let mut targets: Vec<String> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|t| t.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    targets.sort();
    targets.dedup();
    for t in targets.iter().rev() {
        let c = std::ffi::CString::new(t.as_str()).unwrap();
        // SAFETY: `c` is a NUL-terminated path that outlives both calls.
        if unsafe { libc::umount2(c.as_ptr(), 0) } != 0 {
            // SAFETY: as above.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as i32;
            // dockerd's own containerd (and its shims, if any): noted before
            // dockerd goes, as they are reparented after it
            let mut kids = children_of(pid);
            for k in kids.clone() {
                kids.extend(children_of(k));
            }
            terminate(pid, 30);
            let _ = child.wait();
            for k in kids {
                if alive(k) {
                    terminate(k, 10);
                }
            }
        }
        unmount_below(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// skiff's store of the test's own

/// A skiff --root and --runroot under one temporary directory; every
/// container in it removed, and anything mounted below it unmounted, when
/// dropped.
struct Skiff {
    dir: tempfile::TempDir,
    root: PathBuf,
    runroot: PathBuf,
}

impl Skiff {
    fn new() -> Skiff {
        let dir = tempfile::Builder::new()
            .prefix("skiff-parity-")
            .tempdir()
            .unwrap();
        Skiff {
            root: dir.path().join("root"),
            runroot: dir.path().join("run"),
            dir,
        }
    }

    fn cmd<S: AsRef<str>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_skiff"));
        c.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .args(args.iter().map(|a| a.as_ref()))
            .stdin(Stdio::null());
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.cmd(args).output().unwrap();
        assert!(
            o.status.success(),
            "skiff {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Skiff {
    fn drop(&mut self) {
        if let Ok(o) = self.cmd(&["ps", "-aq", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = self.cmd(&["rm", "-f", id]).output();
            }
        }
        end_strays(&self.root);
        unmount_below(self.dir.path());
    }
}

/// Processes still there with our store's root in their command line (a
/// supervisor, or a container's init that never exec'd and that skiff lost
/// track of) are ours: ended, and their emptied cgroups under /skiff
/// removed.
fn end_strays(root: &Path) {
    let needle = root.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    let mut ids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if pid == me || !String::from_utf8_lossy(&cmdline).contains(needle.as_str()) {
            continue;
        }
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        for l in cg.lines() {
            if let Some(id) = l.split(':').nth(2).and_then(|p| p.strip_prefix("/skiff/")) {
                ids.push(id.to_string());
            }
        }
        eprintln!(
            "docker_parity: ending pid {pid} left by skiff: {}",
            String::from_utf8_lossy(&cmdline).replace('\0', " ")
        );
        // SAFETY: kill(2) takes no pointers.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        pids.push(pid);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    ids.sort();
    ids.dedup();
    for id in ids.iter().filter(|id| !id.is_empty() && !id.contains('/')) {
        if let Ok(dirs) = std::fs::read_dir("/sys/fs/cgroup") {
            for d in dirs.flatten() {
                let _ = std::fs::remove_dir(d.path().join("skiff").join(id));
            }
        }
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup/skiff").join(id));
    }
}

// ---------------------------------------------------------------------------
// Both engines, with the same image under the same name

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Docker,
    Skiff,
}

impl Side {
    fn idx(self) -> usize {
        match self {
            Side::Docker => 0,
            Side::Skiff => 1,
        }
    }
    fn label(self) -> &'static str {
        match self {
            Side::Docker => "docker",
            Side::Skiff => "skiff",
        }
    }
}

const SIDES: [Side; 2] = [Side::Docker, Side::Skiff];

struct Engines {
    // skiff first: its containers go before dockerd does
    skiff: Skiff,
    docker: Dockerd,
    /// Files the scenarios pass to both (env file, seccomp profile).
    files: tempfile::TempDir,
}

impl Engines {
    fn new() -> Engines {
        let docker = Dockerd::start();
        let skiff = Skiff::new();
        let files = tempfile::Builder::new()
            .prefix("skiff-parity-files-")
            .tempdir()
            .unwrap();
        let e = Engines {
            skiff,
            docker,
            files,
        };
        e.load_images();
        std::fs::write(
            e.file("env.list"),
            "A=1\n# a comment\nB=two words\n\nPARITY_FROM_FILE\nPARITY_NOT_SET\n",
        )
        .unwrap();
        std::fs::write(
            e.file("deny-mkdir.json"),
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
        )
        .unwrap();
        e
    }

    fn file(&self, name: &str) -> String {
        self.files.path().join(name).to_string_lossy().into_owned()
    }

    /// busybox with passwd and group entries, imported into skiff twice (plain,
    /// and with a config), saved by skiff and loaded into Docker.
    fn load_images(&self) {
        let work = self.files.path();
        let rootfs = work.join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\nstaff:x:50:nobody\n",
        )
        .unwrap();
        let tar = work.join("rootfs.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        let tar = tar.to_str().unwrap();
        self.skiff.ok(&["import", tar, IMG]);
        self.skiff.ok(&[
            "import",
            "-c",
            "ENV IMGVAR=fromimage",
            "-c",
            "ENV PATH=/bin:/usr/bin",
            "-c",
            "WORKDIR /tmp",
            "-c",
            r#"CMD ["sh","-c","echo image-cmd; pwd; echo $IMGVAR"]"#,
            tar,
            IMG_CFG,
        ]);
        for (i, img) in [IMG, IMG_CFG].iter().enumerate() {
            let archive = work.join(format!("image{i}.tar"));
            let archive = archive.to_str().unwrap();
            self.skiff.ok(&["save", "-o", archive, img]);
            let o = self
                .cmd(Side::Docker, &["load", "-i", archive])
                .output()
                .unwrap();
            assert!(
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains(img),
                "docker load of {img}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let _ = std::fs::remove_dir_all(&rootfs);
    }

    fn cmd<S: AsRef<str>>(&self, side: Side, args: &[S]) -> Command {
        let mut c = match side {
            Side::Docker => {
                let mut c = Command::new(DOCKER);
                c.env("DOCKER_CONFIG", self.docker.dir.join("config"))
                    .args(["-H", &self.docker.sock])
                    .args(args.iter().map(|a| a.as_ref()))
                    .stdin(Stdio::null());
                c
            }
            Side::Skiff => self.skiff.cmd(args),
        };
        // for `-e PARITY_FROM_HOST` and --env-file's bare names
        c.env("PARITY_FROM_HOST", "hostval")
            .env("PARITY_FROM_FILE", "fileval")
            .env_remove("PARITY_NOT_SET")
            .env_remove("PARITY_NOT_SET2");
        c
    }
}

// ---------------------------------------------------------------------------
// Normalizing what legitimately differs

/// Container IDs (64 hex digits, or their 12-digit short form), times,
/// durations, Docker's client log lines, and "skiff" where Docker says
/// "docker".
fn normalize(side: Side, s: &str) -> String {
    let mut lines = String::with_capacity(s.len());
    for l in s.split_inclusive('\n') {
        // the docker client's own logging ("error waiting for container")
        if l.starts_with("time=\"") && l.contains(" level=") {
            continue;
        }
        if side == Side::Skiff {
            let l = match l.strip_prefix("skiff: ") {
                Some(rest) => format!("docker: {rest}"),
                None => l.to_string(),
            };
            lines.push_str(&l.replace("'skiff ", "'docker "));
        } else {
            lines.push_str(l);
        }
    }
    replace_durations(&replace_times(&replace_ids(&lines)))
}

fn replace_ids(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphanumeric() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let w = &s[start..i];
            let hex = w
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
            if hex && w.len() == 64 {
                out.push_str("<id>");
            } else if hex && w.len() == 12 && w.bytes().any(|c| c.is_ascii_alphabetic()) {
                out.push_str("<id12>");
            } else {
                out.push_str(w);
            }
        } else {
            let ch = s[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn digits_at(b: &[u8], i: usize, n: usize) -> bool {
    i + n <= b.len() && b[i..i + n].iter().all(u8::is_ascii_digit)
}

/// `YYYY-MM-DDTHH:MM:SS` at `i`.
fn datetime_at(b: &[u8], i: usize, sep: u8) -> bool {
    digits_at(b, i, 4)
        && b.get(i + 4) == Some(&b'-')
        && digits_at(b, i + 5, 2)
        && b.get(i + 7) == Some(&b'-')
        && digits_at(b, i + 8, 2)
        && b.get(i + 10) == Some(&sep)
        && digits_at(b, i + 11, 2)
        && b.get(i + 13) == Some(&b':')
        && digits_at(b, i + 14, 2)
        && b.get(i + 16) == Some(&b':')
        && digits_at(b, i + 17, 2)
}

/// Length of an RFC 3339 time with a fraction at `i` (`<time>`), or of Go's
/// `2006-01-02 15:04:05 -0700 MST` (`<gotime>`). Times without a fraction
/// (Docker's zero time `0001-01-01T00:00:00Z`) are kept.
fn time_at(b: &[u8], i: usize) -> Option<(usize, &'static str)> {
    if datetime_at(b, i, b'T') && b.get(i + 19) == Some(&b'.') {
        let mut j = i + 20;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j == i + 20 {
            return None;
        }
        if b.get(j) == Some(&b'Z') {
            return Some((j + 1 - i, "<time>"));
        }
        if matches!(b.get(j), Some(b'+' | b'-'))
            && digits_at(b, j + 1, 2)
            && b.get(j + 3) == Some(&b':')
            && digits_at(b, j + 4, 2)
        {
            return Some((j + 6 - i, "<time>"));
        }
        return None;
    }
    if datetime_at(b, i, b' ')
        && b.get(i + 19) == Some(&b' ')
        && matches!(b.get(i + 20), Some(b'+' | b'-'))
        && digits_at(b, i + 21, 4)
        && b.get(i + 25) == Some(&b' ')
    {
        let mut j = i + 26;
        while j < b.len() && b[j].is_ascii_uppercase() {
            j += 1;
        }
        if j > i + 26 {
            return Some((j - i, "<gotime>"));
        }
    }
    None
}

fn replace_times(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if let Some((n, token)) = time_at(b, i) {
            out.push_str(token);
            i += n;
            continue;
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Docker's human durations ("Less than a second", "3 seconds", "About a
/// minute") become `<dur>`.
fn replace_durations(s: &str) -> String {
    let mut s = s.to_string();
    for p in ["Less than a second", "About a minute", "About an hour"] {
        s = s.replace(p, "<dur>");
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let rest = &s[j..];
            let unit = ["seconds", "second", "minutes", "minute", "hours", "hour"]
                .iter()
                .find(|u| {
                    rest.starts_with(' ')
                        && rest[1..].starts_with(**u)
                        && !rest[1 + u.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
                });
            match unit {
                Some(u) => {
                    out.push_str("<dur>");
                    i = j + 1 + u.len();
                }
                None => {
                    out.push_str(&s[i..j]);
                    i = j;
                }
            }
            continue;
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// A table's columns with their padding collapsed (widths depend on the
/// durations shown): runs of two or more spaces become " | ".
fn cols(s: &str) -> String {
    s.lines()
        .map(|l| {
            let parts: Vec<&str> = l.split("  ").filter(|p| !p.is_empty()).collect();
            parts
                .iter()
                .map(|p| p.trim())
                .collect::<Vec<_>>()
                .join(" | ")
                + "\n"
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Running a scenario

#[derive(Clone, Debug, Default)]
struct Out {
    code: Option<i32>,
    /// normalized
    out: String,
    err: String,
    raw_out: String,
    raw_err: String,
    secs: f64,
}

/// How stderr is compared.
#[derive(Clone, Copy)]
enum E<'a> {
    /// The same after normalizing.
    Exact,
    /// Each phrase (case-insensitive) in both.
    Has(&'a [&'a str]),
    /// Not compared.
    Any,
}

struct Ctx<'a> {
    e: &'a Engines,
    failures: Mutex<Vec<String>>,
    names: Mutex<Vec<String>>,
    ids: Mutex<[Vec<String>; 2]>,
}

fn show(s: &str) -> String {
    if s.is_empty() {
        "(empty)".into()
    } else {
        format!("{s:?}")
    }
}

impl<'a> Ctx<'a> {
    fn new(e: &'a Engines) -> Ctx<'a> {
        Ctx {
            e,
            failures: Mutex::new(Vec::new()),
            names: Mutex::new(Vec::new()),
            ids: Mutex::new([Vec::new(), Vec::new()]),
        }
    }

    fn fail(&self, msg: String) {
        self.failures.lock().unwrap().push(msg);
    }

    /// `px-BASE`, removed from both engines when the scenario ends.
    fn name(&self, base: &str) -> String {
        let n = format!("px-{base}");
        self.names.lock().unwrap().push(n.clone());
        n
    }

    /// A container known by ID only, removed when the scenario ends.
    fn track(&self, side: Side, id: &str) {
        self.ids.lock().unwrap()[side.idx()].push(id.trim().to_string());
    }

    fn cleanup(&self) {
        let names = self.names.lock().unwrap().clone();
        let ids = self.ids.lock().unwrap().clone();
        self.each(|s| {
            let mut all = vec!["rm".to_string(), "-f".to_string()];
            all.extend(names.iter().cloned());
            all.extend(ids[s.idx()].iter().cloned());
            if all.len() > 2 {
                let _ = self.e.cmd(s, &all).output();
            }
        });
    }

    fn exec_in(&self, side: Side, args: &[String], stdin: Option<&str>) -> Out {
        let mut c = self.e.cmd(side, args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        let t = Instant::now();
        let mut child = c.spawn().unwrap();
        if let Some(input) = stdin {
            let mut w = child.stdin.take().unwrap();
            let input = input.to_string();
            // a writer of its own: the container may not read it all
            std::thread::spawn(move || {
                let _ = w.write_all(input.as_bytes());
            });
        }
        let o = child.wait_with_output().unwrap();
        let secs = t.elapsed().as_secs_f64();
        let raw_out = String::from_utf8_lossy(&o.stdout).into_owned();
        let raw_err = String::from_utf8_lossy(&o.stderr).into_owned();
        Out {
            code: o.status.code(),
            out: normalize(side, &raw_out),
            err: normalize(side, &raw_err),
            raw_out,
            raw_err,
            secs,
        }
    }

    fn exec(&self, side: Side, args: &[String]) -> Out {
        self.exec_in(side, args, None)
    }

    /// `f` for Docker (on a thread of its own) and skiff at once.
    fn each<T: Send>(&self, f: impl Fn(Side) -> T + Sync) -> [T; 2] {
        std::thread::scope(|sc| {
            let h = sc.spawn(|| f(Side::Docker));
            let s = f(Side::Skiff);
            [h.join().unwrap(), s]
        })
    }

    fn both(&self, args: &[String]) -> [Out; 2] {
        self.each(|s| self.exec(s, args))
    }

    /// Run on both and compare.
    fn same(&self, step: &str, args: &[String], e: E) -> [Out; 2] {
        let o = self.both(args);
        self.check(step, args, &o, e);
        o
    }

    /// Run on both with `stdin` and compare.
    fn same_in(&self, step: &str, args: &[String], stdin: &str, e: E) -> [Out; 2] {
        let o = self.each(|s| self.exec_in(s, args, Some(stdin)));
        self.check(step, args, &o, e);
        o
    }

    fn check(&self, step: &str, args: &[String], o: &[Out; 2], e: E) {
        let [dk, sk] = o;
        let what = format!("{step} ({})", args.join(" "));
        if dk.code != sk.code {
            self.fail(format!(
                "{what}: exit code: docker {:?}, skiff {:?}\n      docker stderr: {}\n      skiff stderr:  {}",
                dk.code,
                sk.code,
                show(dk.err.trim_end()),
                show(sk.err.trim_end())
            ));
        }
        if dk.out != sk.out {
            self.fail(format!(
                "{what}: stdout differs\n      docker: {}\n      skiff:  {}",
                show(&dk.out),
                show(&sk.out)
            ));
        }
        match e {
            E::Exact => {
                if dk.err != sk.err {
                    self.fail(format!(
                        "{what}: stderr differs\n      docker: {}\n      skiff:  {}",
                        show(&dk.err),
                        show(&sk.err)
                    ));
                }
            }
            E::Has(phrases) => {
                for p in phrases {
                    let p = p.to_lowercase();
                    for (side, out) in SIDES.iter().zip(o) {
                        if !out.err.to_lowercase().contains(&p) {
                            let who = if *side == Side::Docker {
                                "docker (the test's expectation of Docker is wrong)"
                            } else {
                                "skiff"
                            };
                            self.fail(format!(
                                "{what}: {who}'s stderr lacks {p:?}\n      docker: {}\n      skiff:  {}",
                                show(dk.err.trim_end()),
                                show(sk.err.trim_end())
                            ));
                        }
                    }
                }
            }
            E::Any => {}
        }
    }

    /// What Docker is expected to show (so that a scenario documents the
    /// target; skiff is compared with Docker by `same`).
    fn want(&self, step: &str, o: &[Out; 2], code: i32, stdout: &str) {
        let dk = &o[0];
        if dk.code != Some(code) || dk.out != stdout {
            self.fail(format!(
                "{step}: docker itself shows exit {:?} and {} (the test expected {code} and {})",
                dk.code,
                show(&dk.out),
                show(stdout)
            ));
        }
    }

    /// `same`, then `want` for Docker's exit code and stdout.
    fn same_want(&self, step: &str, args: &[String], e: E, code: i32, stdout: &str) -> [Out; 2] {
        let o = self.same(step, args, e);
        self.want(step, &o, code, stdout);
        o
    }

    /// A check on one side's value.
    fn expect(&self, side: Side, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.fail(format!("{}: {}", side.label(), msg()));
        }
    }

    fn ok(&self, side: Side, args: &[String]) -> Out {
        let o = self.exec(side, args);
        if o.code != Some(0) {
            self.fail(format!(
                "{} {}: exit {:?}: {}",
                side.label(),
                args.join(" "),
                o.code,
                o.raw_err.trim_end()
            ));
        }
        o
    }

    /// A set-up step both must succeed in; their raw stdout.
    fn setup(&self, args: &[String]) -> [String; 2] {
        self.each(|s| self.ok(s, args).raw_out)
    }

    fn inspect(&self, side: Side, what: &str, fmt: &str) -> String {
        self.exec(side, &cl!("inspect -f {fmt} {what}", fmt, what))
            .raw_out
            .trim_end()
            .to_string()
    }

    fn logs(&self, side: Side, what: &str) -> String {
        self.exec(side, &cl!("logs {what}", what)).raw_out
    }

    /// Poll `f` until it holds; false (and a failure) after `secs`.
    fn until(&self, side: Side, secs: u64, what: &str, f: impl Fn() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(secs);
        while !f() {
            if Instant::now() > end {
                self.fail(format!(
                    "{}: timed out after {secs}s waiting for {what}",
                    side.label()
                ));
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// Wait on both sides until `f(side)` holds.
    fn until_both(&self, what: &str, f: impl Fn(Side) -> bool + Sync) {
        self.each(|s| self.until(s, 20, what, || f(s)));
    }

    /// Wait on both sides until the container has exited.
    fn until_exited(&self, name: &str) {
        self.until_both(&format!("{name} to exit"), |s| {
            self.inspect(s, name, "{{.State.Status}}") == "exited"
        });
    }

    /// Wait on both sides until the container's log holds `text`.
    fn until_logged(&self, name: &str, text: &str) {
        self.until_both(&format!("{text:?} in the log of {name}"), |s| {
            self.logs(s, name).contains(text)
        });
    }
}

/// The host's bounding set, as /proc shows it.
fn host_cap_bnd() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string()
}

fn now_unix() -> String {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

// ---------------------------------------------------------------------------
// Scenarios: exit codes and output

fn exit_codes_and_streams(c: &Ctx) {
    let o = c.same_want(
        "exit 3",
        &cl!("{RUN} {IMG} sh -c 'echo out; echo err >&2; exit 3'"),
        E::Exact,
        3,
        "out\n",
    );
    c.expect(Side::Docker, o[0].err == "err\n", || {
        format!("stderr {:?}", o[0].err)
    });
    c.same_want("true", &cl!("{RUN} {IMG} true"), E::Exact, 0, "");
    c.same_want("false", &cl!("{RUN} {IMG} false"), E::Exact, 1, "");
}

fn exit_127_command_not_found(c: &Ctx) {
    c.same_want(
        "unknown command",
        &cl!("{RUN} {IMG} nosuchcmd"),
        E::Has(&[r#"exec: "nosuchcmd": executable file not found in $PATH"#]),
        127,
        "",
    );
}

fn exit_126_not_executable(c: &Ctx) {
    c.same_want(
        "a file without x bits",
        &cl!("{RUN} {IMG} /etc/passwd"),
        E::Has(&[r#"exec: "/etc/passwd": permission denied"#]),
        126,
        "",
    );
}

fn exit_126_directory(c: &Ctx) {
    // runc reports exec of a directory as EACCES: 126, "permission denied".
    c.same_want(
        "a directory as the command",
        &cl!("{RUN} {IMG} /etc"),
        E::Has(&[r#"exec: "/etc": permission denied"#]),
        126,
        "",
    );
}

fn failed_start_leaves_created_container(c: &Ctx) {
    let n = c.name("failstart");
    c.same_want(
        "run without --rm of an unknown command",
        &cl!("run --network none --name {n} {IMG} nosuchcmd", n),
        E::Has(&["executable file not found"]),
        127,
        "",
    );
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}' {n}",
            n
        ),
        E::Exact,
        0,
        "created 127 false\n",
    );
    c.same_want(
        "ps",
        &cl!(
            "ps -a --filter name={n} --format '{{.Names}} {{.Status}}'",
            n
        ),
        E::Exact,
        0,
        &format!("{n} Created\n"),
    );
}

fn exit_125_unknown_image(c: &Ctx) {
    // A registry on 127.0.0.1:9 (nothing listens there): a pull attempt
    // stays on this host.
    let img = "127.0.0.1:9/parity/nosuch:1";
    let n = c.name("noimage");
    c.same_want(
        "unknown image",
        &cl!("run --network none --name {n} {img} true", n, img),
        E::Has(&[img]),
        125,
        "",
    );
    c.same_want(
        "nothing created",
        &cl!("ps -aq --filter name={n}", n),
        E::Exact,
        0,
        "",
    );
}

fn exit_125_unknown_flag(c: &Ctx) {
    for cmd in ["run", "create"] {
        c.same_want(
            cmd,
            &cl!("{cmd} --bogus-flag {IMG} true", cmd),
            E::Has(&["--bogus-flag"]),
            125,
            "",
        );
    }
}

fn exit_125_name_in_use(c: &Ctx) {
    let n = c.name("dup");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    let phrase =
        format!(r#"Conflict. The container name "/{n}" is already in use by container "<id>""#);
    c.same_want(
        "run with a name in use",
        &cl!("{RUN} --name {n} {IMG} true", n),
        E::Has(&[&phrase]),
        125,
        "",
    );
    c.same_want(
        "the other container untouched",
        &cl!(
            "ps -a --filter name={n} --format '{{.Names}} {{.Status}}'",
            n
        ),
        E::Exact,
        0,
        &format!("{n} Created\n"),
    );
}

fn daemon_errors_read_as_dockers(c: &Ctx) {
    // The whole message after normalizing, for errors the daemon reports
    // at run: Docker's wording, one final period.
    let n = c.name("dup2");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    for (step, a) in [
        ("name in use", cl!("{RUN} --name {n} {IMG} true", n)),
        ("unknown user", cl!("{RUN} -u nosuchuser {IMG} true")),
        (
            "unknown group",
            cl!("{RUN} -u nobody:nosuchgroup {IMG} true"),
        ),
        ("invalid name", cl!("{RUN} --name bad/name {IMG} true")),
    ] {
        c.same(step, &a, E::Exact);
    }
}

fn run_stdin(c: &Ctx) {
    let o = c.same_in(
        "run -i",
        &cl!("{RUN} -i {IMG} sh -c 'cat; echo done'"),
        "line1\nline2\n",
        E::Exact,
    );
    c.want("run -i", &o, 0, "line1\nline2\ndone\n");
    let o = c.same_in(
        "run without -i",
        &cl!("{RUN} {IMG} sh -c 'cat; echo done'"),
        "line1\n",
        E::Exact,
    );
    c.want("run without -i", &o, 0, "done\n");
}

fn run_detached_prints_id(c: &Ctx) {
    let n = c.name("detached");
    let o = c.same_want(
        "run -d",
        &cl!("{DRUN} --name {n} {IMG} sleep 60", n),
        E::Exact,
        0,
        "<id>\n",
    );
    for s in SIDES {
        let id = c.inspect(s, &n, "{{.Id}}");
        c.expect(s, o[s.idx()].raw_out.trim() == id, || {
            format!(
                "run -d printed {:?}, inspect .Id {id:?}",
                o[s.idx()].raw_out
            )
        });
    }
    let n2 = c.name("created-id");
    c.same_want(
        "create",
        &cl!("{CREATE} --name {n2} {IMG} true", n2),
        E::Exact,
        0,
        "<id>\n",
    );
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
}

fn random_names(c: &Ctx) {
    let ids = c.each(|s| {
        let o = c.ok(s, &cl!("{DRUN} {IMG} true"));
        c.track(s, &o.raw_out);
        o.raw_out.trim().to_string()
    });
    for s in SIDES {
        let id = &ids[s.idx()];
        let name = c.inspect(s, id, "{{.Name}}");
        let ok = name
            .strip_prefix('/')
            .and_then(|n| n.split_once('_'))
            .is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_lowercase())
                    && b.bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        c.expect(s, ok, || {
            format!("random name {name:?} is not /adjective_surname")
        });
        c.expect(
            s,
            id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            || format!("ID {id:?}"),
        );
    }
}

// ---------------------------------------------------------------------------
// Environment, working directory, user, hostname, entrypoint

fn env_flags(c: &Ctx) {
    // HOME is compared by home_from_passwd.
    let envf = c.e.file("env.list");
    let flags = "-e X=1 -e PARITY_FROM_HOST -e PARITY_NOT_SET2 --env-file {envf}";
    c.same_want(
        "-e, -e KEY, --env-file",
        &cl!(
            &format!("{{RUN}} {flags} {{IMG}} sh -c \"env | grep -v '^HOME=' | sort\""),
            envf
        ),
        E::Exact,
        0,
        "A=1\nB=two words\nHOSTNAME=<id12>\nPARITY_FROM_FILE=fileval\nPARITY_FROM_HOST=hostval\n\
         PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nPWD=/\nSHLVL=1\nX=1\n",
    );
    // Config.Env, sorted (Docker's order varies when a bare name is kept):
    // a name the client's environment lacks is kept bare from -e and
    // dropped from --env-file.
    let n = c.name("envinspect");
    c.setup(&cl!(
        &format!("{{CREATE}} --name {{n}} {flags} {{IMG}} true"),
        n,
        envf
    ));
    let o = c.both(&cl!(
        "inspect -f '{{range .Config.Env}}{{println .}}{{end}}' {n}",
        n
    ));
    let o = o.map(|mut x| {
        let mut lines: Vec<&str> = x.out.lines().filter(|l| !l.is_empty()).collect();
        lines.sort();
        x.out = lines.iter().map(|l| format!("{l}\n")).collect();
        x
    });
    c.check(
        "inspect Config.Env, sorted",
        &cl!("inspect {n}", n),
        &o,
        E::Exact,
    );
    c.want(
        "Config.Env",
        &o,
        0,
        "A=1\nB=two words\nPARITY_FROM_FILE=fileval\nPARITY_FROM_HOST=hostval\nPARITY_NOT_SET2\nX=1\n",
    );
}

fn env_file_missing(c: &Ctx) {
    c.same_want(
        "--env-file that does not exist",
        &cl!("{RUN} --env-file /nonexistent-parity.env {IMG} true"),
        E::Has(&["/nonexistent-parity.env", "no such file or directory"]),
        125,
        "",
    );
}

fn home_from_passwd(c: &Ctx) {
    for (u, home) in [("root", "/root"), ("nobody", "/home"), ("1234", "/")] {
        c.same_want(
            &format!("HOME of -u {u}"),
            &cl!("{RUN} -u {u} {IMG} sh -c 'echo $HOME'", u),
            E::Exact,
            0,
            &format!("{home}\n"),
        );
    }
}

fn image_config_and_overrides(c: &Ctx) {
    c.same_want(
        "the image's CMD, WORKDIR, ENV",
        &cl!("{RUN} {IMG_CFG}"),
        E::Exact,
        0,
        "image-cmd\n/tmp\nfromimage\n",
    );
    c.same_want(
        "-e over the image's ENV",
        &cl!("{RUN} -e IMGVAR=over {IMG_CFG} sh -c 'echo $IMGVAR $PATH; pwd'"),
        E::Exact,
        0,
        "over /bin:/usr/bin\n/tmp\n",
    );
    c.same_want(
        "-w over WORKDIR",
        &cl!("{RUN} -w / {IMG_CFG} pwd"),
        E::Exact,
        0,
        "/\n",
    );
    let n = c.name("imgcfg");
    c.setup(&cl!("{CREATE} --name {n} {IMG_CFG}", n));
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{json .Config.Cmd}} {{json .Config.Env}} {{.Config.WorkingDir}} {{.Path}} {{json .Args}}' {n}",
            n
        ),
        E::Exact,
        0,
        "[\"sh\",\"-c\",\"echo image-cmd; pwd; echo $IMGVAR\"] [\"IMGVAR=fromimage\",\"PATH=/bin:/usr/bin\"] \
         /tmp sh [\"-c\",\"echo image-cmd; pwd; echo $IMGVAR\"]\n",
    );
}

fn workdir(c: &Ctx) {
    for w in ["/tmp", "/root", "/"] {
        c.same_want(
            &format!("-w {w}"),
            &cl!("{RUN} -w {w} {IMG} pwd", w),
            E::Exact,
            0,
            &format!("{w}\n"),
        );
    }
    // Docker makes a missing working directory.
    c.same_want(
        "-w to a missing directory",
        &cl!("{RUN} -w /tmp/new/sub {IMG} sh -c 'pwd; ls -ld . | cut -c1-10'"),
        E::Exact,
        0,
        "/tmp/new/sub\ndrwxr-xr-x\n",
    );
}

fn user_uid_gid(c: &Ctx) {
    for (u, want) in [
        ("root", "0 0"),
        ("nobody", "65534 65534"),
        ("1234", "1234 0"),
        ("1234:50", "1234 50"),
        ("nobody:staff", "65534 50"),
        ("0:nogroup", "0 65534"),
    ] {
        c.same_want(
            &format!("-u {u}"),
            &cl!("{RUN} -u {u} {IMG} sh -c 'echo $(id -u) $(id -g)'", u),
            E::Exact,
            0,
            &format!("{want}\n"),
        );
    }
    let n = c.name("userinspect");
    c.setup(&cl!("{CREATE} --name {n} -u nobody:staff {IMG} true", n));
    c.same_want(
        "inspect",
        &cl!("inspect -f '{{.Config.User}}' {n}", n),
        E::Exact,
        0,
        "nobody:staff\n",
    );
}

fn user_supplementary_groups(c: &Ctx) {
    // Docker's process holds its primary group among its groups too.
    for (u, want) in [
        ("root", "uid=0(root) gid=0(root) groups=0(root)\nGroups:\t0 \n"),
        (
            "nobody",
            "uid=65534(nobody) gid=65534(nogroup) groups=50(staff),65534(nogroup)\nGroups:\t50 65534 \n",
        ),
        ("1234:50", "uid=1234 gid=50(staff) groups=50(staff)\nGroups:\t50 \n"),
    ] {
        c.same_want(
            &format!("id of -u {u}"),
            &cl!("{RUN} -u {u} {IMG} sh -c 'id; grep Groups /proc/self/status'", u),
            E::Exact,
            0,
            want,
        );
    }
}

fn user_unknown(c: &Ctx) {
    c.same_want(
        "unknown user",
        &cl!("{RUN} -u nosuchuser {IMG} true"),
        E::Has(&["unable to find user nosuchuser: no matching entries in passwd file"]),
        125,
        "",
    );
    c.same_want(
        "unknown group",
        &cl!("{RUN} -u nobody:nosuchgroup {IMG} true"),
        E::Has(&["unable to find group nosuchgroup: no matching entries in group file"]),
        125,
        "",
    );
}

fn hostname_flag(c: &Ctx) {
    c.same_want(
        "-h",
        &cl!("{RUN} -h myhost {IMG} sh -c 'hostname; echo $HOSTNAME; cat /etc/hostname'"),
        E::Exact,
        0,
        "myhost\nmyhost\nmyhost\n",
    );
}

fn hostname_default_is_short_id(c: &Ctx) {
    let n = c.name("hostname");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c 'hostname; echo $HOSTNAME; cat /etc/hostname'",
        n
    ));
    c.until_exited(&n);
    let o = c.same_want(
        "logs",
        &cl!("logs {n}", n),
        E::Exact,
        0,
        "<id12>\n<id12>\n<id12>\n",
    );
    for s in SIDES {
        let id = c.inspect(s, &n, "{{.Id}}");
        let h = c.inspect(s, &n, "{{.Config.Hostname}}");
        let short = id.get(..12).unwrap_or("");
        c.expect(s, h == short, || {
            format!("Config.Hostname {h:?}, ID {id:?}")
        });
        c.expect(
            s,
            o[s.idx()].raw_out == format!("{short}\n{short}\n{short}\n"),
            || format!("hostname output {:?}, ID {id}", o[s.idx()].raw_out),
        );
    }
}

fn network_none_files(c: &Ctx) {
    let o = c.same(
        "/etc/hosts, interfaces, /etc/resolv.conf",
        &cl!("{RUN} {IMG} sh -c 'cat /etc/hosts; echo ---; ls /sys/class/net; echo ---; cat /etc/resolv.conf'"),
        E::Exact,
    );
    let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
                 ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n---\nlo\n---\n";
    c.expect(Side::Docker, o[0].out.starts_with(hosts), || {
        format!("docker shows {:?}", o[0].out)
    });
    let n = c.name("netnone");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    c.same_want(
        "NetworkMode",
        &cl!("inspect -f '{{.HostConfig.NetworkMode}}' {n}", n),
        E::Exact,
        0,
        "none\n",
    );
}

fn network_host(c: &Ctx) {
    // The host's network namespace: its interfaces, its /etc/hosts, and its
    // hostname (Docker gives a --network host container the host's name).
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let o = c.same(
        "--network host",
        &cl!(
            "run --rm --network host {IMG} sh -c \
             'ls /sys/class/net | md5sum; md5sum < /etc/hosts; hostname; echo $HOSTNAME; cat /etc/hostname'"
        ),
        E::Exact,
    );
    c.expect(
        Side::Docker,
        o[0].out.ends_with(&format!("{host}\n{host}\n{host}\n")),
        || format!("docker shows {:?}, the host is {host:?}", o[0].out),
    );
    c.same_want(
        "--network host -h",
        &cl!("run --rm --network host -h other {IMG} hostname"),
        E::Exact,
        0,
        "other\n",
    );
}

fn entrypoint(c: &Ctx) {
    c.same_want(
        "--entrypoint echo",
        &cl!("{RUN} --entrypoint echo {IMG} hello world"),
        E::Exact,
        0,
        "hello world\n",
    );
    c.same_want(
        "--entrypoint ''",
        &cl!("{RUN} --entrypoint '' {IMG} echo hi"),
        E::Exact,
        0,
        "hi\n",
    );
}

fn args_after_image_belong_to_the_command(c: &Ctx) {
    // Docker stops reading flags at the image: `-c`, `--rm`, `-m` after it
    // are the command's.
    c.same_want(
        "--entrypoint sh IMAGE -c ...",
        &cl!("{RUN} --entrypoint sh {IMG} -c 'echo hi'"),
        E::Exact,
        0,
        "hi\n",
    );
    c.same_want(
        "--entrypoint echo IMAGE --rm -m 1",
        &cl!("{RUN} --entrypoint echo {IMG} --rm -m 1"),
        E::Exact,
        0,
        "--rm -m 1\n",
    );
}

// ---------------------------------------------------------------------------
// Labels and ps

fn labels(c: &Ctx) {
    let (a, b, n3) = (c.name("lab1"), c.name("lab2"), c.name("lab3"));
    c.setup(&cl!(
        "{CREATE} --name {a} -l app=web -l tier=front -l empty= {IMG} true",
        a
    ));
    c.setup(&cl!("{CREATE} --name {b} --label app=db {IMG} true", b));
    c.setup(&cl!("{CREATE} --name {n3} {IMG} true", n3));
    c.same_want(
        "Config.Labels",
        &cl!("inspect -f '{{json .Config.Labels}}' {a}", a),
        E::Exact,
        0,
        "{\"app\":\"web\",\"empty\":\"\",\"tier\":\"front\"}\n",
    );
    c.same_want(
        "index",
        &cl!("inspect -f '{{index .Config.Labels \"tier\"}}' {a}", a),
        E::Exact,
        0,
        "front\n",
    );
    for (filters, want) in [
        ("--filter label=app", format!("{b}\n{a}\n")),
        ("--filter label=app=web", format!("{a}\n")),
        ("--filter label=app --filter label=tier", format!("{a}\n")),
    ] {
        c.same_want(
            filters,
            &cl!(&format!("ps -a {filters} --format '{{{{.Names}}}}'")),
            E::Exact,
            0,
            &want,
        );
    }
}

fn ps_filter_without_all(c: &Ctx) {
    // Without -a, Docker lists running containers only, whatever the
    // filters; a status filter is the exception.
    let (run, ex, cr) = (c.name("fa-run"), c.name("fa-exit"), c.name("fa-new"));
    c.setup(&cl!("{DRUN} --name {run} -l fa=1 {IMG} sleep 60", run));
    c.setup(&cl!(
        "run --network none --name {ex} -l fa=1 {IMG} true",
        ex
    ));
    c.setup(&cl!("{CREATE} --name {cr} -l fa=1 {IMG} true", cr));
    for (filter, want) in [
        ("name=px-fa-", format!("{run}\n")),
        ("label=fa", format!("{run}\n")),
        ("exited=0", String::new()),
        ("status=exited", format!("{ex}\n")),
        ("status=created", format!("{cr}\n")),
    ] {
        c.same_want(
            &format!("ps --filter {filter}"),
            &cl!("ps --filter {filter} --format '{{.Names}}'", filter),
            E::Exact,
            0,
            &want,
        );
    }
    c.same("stop", &cl!("stop -t 1 {run}", run), E::Exact);
}

/// Four containers `px-P-ok` (exit 0), `-bad` (exit 1), `-run` (running),
/// `-new` (created), made in that order.
fn make_ps_set(c: &Ctx, p: &str) -> [String; 4] {
    let [ok, bad, run, new] = ["ok", "bad", "run", "new"].map(|k| c.name(&format!("{p}-{k}")));
    c.setup(&cl!("run --network none --name {ok} {IMG} true", ok));
    c.same(
        "exit 1",
        &cl!("run --network none --name {bad} {IMG} false", bad),
        E::Exact,
    );
    c.setup(&cl!("{DRUN} --name {run} {IMG} sleep 60", run));
    c.setup(&cl!("{CREATE} --name {new} {IMG} echo hi", new));
    [ok, bad, run, new]
}

/// Table padding collapsed (column widths follow the durations shown).
fn collapsed(o: [Out; 2]) -> [Out; 2] {
    o.map(|mut x| {
        x.out = cols(&x.out);
        x
    })
}

fn ps_columns(c: &Ctx) {
    let [ok, bad, run, new] = make_ps_set(c, "ps");
    c.same_want(
        "ps --format",
        &cl!(
            "ps -a --filter name=px-ps- --format \
             '{{.Names}}|{{.Status}}|{{.State}}|{{.Command}}|{{.Image}}|{{.Ports}}|{{.RunningFor}}|{{.Networks}}'"
        ),
        E::Exact,
        0,
        &format!(
            "{new}|Created|created|\"echo hi\"|{IMG}||<dur> ago|none\n\
             {run}|Up <dur>|running|\"sleep 60\"|{IMG}||<dur> ago|none\n\
             {bad}|Exited (1) <dur> ago|exited|\"false\"|{IMG}||<dur> ago|none\n\
             {ok}|Exited (0) <dur> ago|exited|\"true\"|{IMG}||<dur> ago|none\n"
        ),
    );
    // The default table, its padding collapsed.
    let a = cl!("ps -a --filter name=px-ps-");
    let o = collapsed(c.both(&a));
    c.check("ps -a table", &a, &o, E::Exact);
    c.want(
        "ps -a table",
        &o,
        0,
        &format!(
            "CONTAINER ID | IMAGE | COMMAND | CREATED | STATUS | PORTS | NAMES\n\
             <id12> | {IMG} | \"echo hi\" | <dur> ago | Created | {new}\n\
             <id12> | {IMG} | \"sleep 60\" | <dur> ago | Up <dur> | {run}\n\
             <id12> | {IMG} | \"false\" | <dur> ago | Exited (1) <dur> ago | {bad}\n\
             <id12> | {IMG} | \"true\" | <dur> ago | Exited (0) <dur> ago | {ok}\n"
        ),
    );
    let a = cl!("ps");
    let o = collapsed(c.both(&a));
    c.check("ps table (running only)", &a, &o, E::Exact);
    c.want(
        "ps",
        &o,
        0,
        &format!(
            "CONTAINER ID | IMAGE | COMMAND | CREATED | STATUS | PORTS | NAMES\n\
             <id12> | {IMG} | \"sleep 60\" | <dur> ago | Up <dur> | {run}\n"
        ),
    );
    c.same("stop", &cl!("stop -t 1 {run}", run), E::Exact);
}

fn ps_table_widths(c: &Ctx) {
    // Docker's tables: columns at least 10 wide (tabwriter minwidth), then
    // 3 spaces of padding.
    c.same_want(
        "header only",
        &cl!("ps -a --filter name=px-nomatch"),
        E::Exact,
        0,
        "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n",
    );
    let n = c.name("tw");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    c.same_want(
        "table format",
        &cl!(
            "ps -a --filter name={n} --format 'table {{.Names}}\t{{.State}}\t{{.Image}}'",
            n
        ),
        E::Exact,
        0,
        &format!("NAMES     STATE     IMAGE\n{n}     created   {IMG}\n"),
    );
}

fn ps_command_quoting(c: &Ctx) {
    // Docker's COMMAND quotes arguments holding spaces.
    let n = c.name("quote");
    c.setup(&cl!("{CREATE} --name {n} {IMG} sh -c 'exit 3'", n));
    for extra in ["", " --no-trunc"] {
        c.same_want(
            &format!("COMMAND{extra}"),
            &cl!(
                &format!("ps -a --filter name={{n}} --format '{{{{.Command}}}}'{extra}"),
                n
            ),
            E::Exact,
            0,
            "\"sh -c 'exit 3'\"\n",
        );
    }
}

fn ps_quiet_latest_last(c: &Ctx) {
    let (a, b) = (c.name("q1"), c.name("q2"));
    c.setup(&cl!("{CREATE} --name {a} {IMG} true", a));
    c.setup(&cl!("{CREATE} --name {b} {IMG} true", b));
    c.same_want(
        "ps -a -q",
        &cl!("ps -a -q --filter name=px-q"),
        E::Exact,
        0,
        "<id12>\n<id12>\n",
    );
    let o = c.same_want(
        "ps -a -q --no-trunc",
        &cl!("ps -a -q --no-trunc --filter name=px-q"),
        E::Exact,
        0,
        "<id>\n<id>\n",
    );
    for s in SIDES {
        let ids = format!(
            "{}\n{}\n",
            c.inspect(s, &b, "{{.Id}}"),
            c.inspect(s, &a, "{{.Id}}")
        );
        c.expect(s, o[s.idx()].raw_out == ids, || {
            format!(
                "ps -q --no-trunc {:?}, IDs newest first {ids:?}",
                o[s.idx()].raw_out
            )
        });
    }
    c.same_want(
        "ps -l",
        &cl!("ps -l --format '{{.Names}}'"),
        E::Exact,
        0,
        &format!("{b}\n"),
    );
    c.same_want(
        "ps -n 2",
        &cl!("ps -n 2 --format '{{.Names}}'"),
        E::Exact,
        0,
        &format!("{b}\n{a}\n"),
    );
    c.same_want("ps -l -q", &cl!("ps -l -q"), E::Exact, 0, "<id12>\n");
}

fn ps_filters(c: &Ctx) {
    let [ok, bad, run, new] = make_ps_set(c, "f");
    for (filters, want) in [
        ("name=px-f- status=exited", format!("{bad}\n{ok}\n")),
        ("name=px-f- status=running", format!("{run}\n")),
        ("name=px-f- status=created", format!("{new}\n")),
        ("name=px-f- exited=1", format!("{bad}\n")),
        ("name=px-f- exited=0", format!("{ok}\n")),
        ("name=px-f-ok", format!("{ok}\n")),
        // the same key twice: either
        ("name=px-f-ok name=px-f-bad", format!("{bad}\n{ok}\n")),
    ] {
        let mut a = cl!("ps -a --format '{{.Names}}'");
        for f in filters.split(' ') {
            a.extend(["--filter".to_string(), f.to_string()]);
        }
        c.same_want(filters, &a, E::Exact, 0, &want);
    }
    // id= with each side's own ID prefix
    let o = c.each(|s| {
        let id = c.inspect(s, &ok, "{{.Id}}");
        let prefix = id.get(..8).unwrap_or("");
        c.exec(
            s,
            &cl!("ps -a --filter id={prefix} --format '{{.Names}}'", prefix),
        )
    });
    c.check("id=", &cl!("ps -a --filter id=PREFIX"), &o, E::Exact);
    c.want("id=", &o, 0, &format!("{ok}\n"));
    c.same_want(
        "unknown filter",
        &cl!("ps --filter bogus=1"),
        E::Has(&["Invalid filter 'bogus'"]),
        1,
        "",
    );
    c.same("stop", &cl!("stop -t 1 {run}", run), E::Exact);
}

fn ps_format_json_and_labels(c: &Ctx) {
    // (one label: Docker's {{.Labels}} follows Go's random map order)
    let n = c.name("fmt");
    c.setup(&cl!("{CREATE} --name {n} -l tier=front {IMG} true", n));
    c.same_want(
        "{{json .Names}} {{.Labels}} {{.State}}",
        &cl!(
            "ps -a --filter name={n} --format '{{json .Names}} {{.Labels}} {{.State}}'",
            n
        ),
        E::Exact,
        0,
        &format!("\"{n}\" tier=front created\n"),
    );
}

fn ps_format_label_function(c: &Ctx) {
    let n = c.name("fmtlabel");
    c.setup(&cl!("{CREATE} --name {n} -l tier=front {IMG} true", n));
    c.same_want(
        "{{.Label \"tier\"}}",
        &cl!("ps -a --filter name={n} --format '{{.Label \"tier\"}}'", n),
        E::Exact,
        0,
        "front\n",
    );
}

fn ps_format_created_at(c: &Ctx) {
    // Docker prints CreatedAt as Go's time.String: "2006-01-02 15:04:05 -0700 MST".
    let n = c.name("createdat");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    c.same_want(
        "{{.CreatedAt}}",
        &cl!("ps -a --filter name={n} --format '{{.CreatedAt}}'", n),
        E::Exact,
        0,
        "<gotime>\n",
    );
}

// ---------------------------------------------------------------------------
// Security: read-only root, capabilities, seccomp, no-new-privileges, masks

fn read_only(c: &Ctx) {
    c.same_want(
        "--read-only",
        &cl!("{RUN} --read-only {IMG} sh -c \
             'touch /x; echo $?; touch /tmp/y; echo $?; touch /dev/shm/z && echo shm-ok'"),
        E::Exact,
        0,
        "1\n1\nshm-ok\n",
    );
    let n = c.name("ro");
    c.setup(&cl!("{CREATE} --name {n} --read-only {IMG} true", n));
    c.same_want(
        "ReadonlyRootfs",
        &cl!("inspect -f '{{.HostConfig.ReadonlyRootfs}}' {n}", n),
        E::Exact,
        0,
        "true\n",
    );
}

fn caps_default(c: &Ctx) {
    c.same_want(
        "root",
        &cl!("{RUN} {IMG} grep Cap /proc/self/status"),
        E::Exact,
        0,
        "CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n\
         CapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n",
    );
    c.same_want(
        "nobody",
        &cl!("{RUN} -u nobody {IMG} grep Cap /proc/self/status"),
        E::Exact,
        0,
        "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n\
         CapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n",
    );
}

fn caps_add_drop(c: &Ctx) {
    for (flags, eff) in [
        ("--cap-add SYS_ADMIN --cap-drop NET_RAW", "00000000a82405fb"),
        ("--cap-drop ALL", "0000000000000000"),
        ("--cap-drop ALL --cap-add chown", "0000000000000001"),
        ("--cap-add CAP_NET_ADMIN", "00000000a80435fb"),
    ] {
        c.same_want(
            flags,
            &cl!(&format!(
                "{{RUN}} {flags} {{IMG}} grep -E 'CapEff|CapBnd' /proc/self/status"
            )),
            E::Exact,
            0,
            &format!("CapEff:\t{eff}\nCapBnd:\t{eff}\n"),
        );
    }
    let n = c.name("capinspect");
    c.setup(&cl!(
        "{CREATE} --name {n} --cap-add net_admin --cap-drop CAP_CHOWN {IMG} true",
        n
    ));
    c.same_want(
        "CapAdd/CapDrop",
        &cl!(
            "inspect -f '{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}}' {n}",
            n
        ),
        E::Exact,
        0,
        "[\"net_admin\"] [\"CAP_CHOWN\"]\n",
    );
}

/// Docker cannot grant every capability on this host (it lacks
/// CAP_SYS_RESOURCE, and runc refuses one outside its bounding set); skiff's
/// documented behaviour is checked instead: the capabilities of its own
/// bounding set (docs/engine.md, "Choices that differ from Docker").
fn skiff_grants_its_bounding_set(c: &Ctx, o: &[Out; 2], seccomp: &str) {
    c.expect(
        Side::Docker,
        o[0].err.contains("unable to apply caps"),
        || {
            format!(
                "fails for another reason than the host's bounding set: {}",
                o[0].err
            )
        },
    );
    let bnd = host_cap_bnd();
    c.expect(Side::Skiff, o[1].code == Some(0), || {
        format!("exit {:?}: {}", o[1].code, o[1].err)
    });
    c.expect(
        Side::Skiff,
        o[1].out == format!("CapEff:\t{bnd}\nCapBnd:\t{bnd}\n{seccomp}"),
        || format!("shows {:?}, the host's bounding set is {bnd}", o[1].out),
    );
}

fn caps_add_all(c: &Ctx) {
    let a = cl!("{RUN} --cap-add ALL {IMG} grep -E '^(CapEff|CapBnd):' /proc/self/status");
    let o = c.both(&a);
    if o[0].code == Some(0) {
        c.check("--cap-add ALL", &a, &o, E::Any);
    } else {
        skiff_grants_its_bounding_set(c, &o, "");
    }
}

fn privileged(c: &Ctx) {
    let a = cl!("{RUN} --privileged {IMG} grep -E '^(CapEff|CapBnd|Seccomp):' /proc/self/status");
    let o = c.both(&a);
    if o[0].code == Some(0) {
        c.check("--privileged", &a, &o, E::Any);
    } else {
        // and no seccomp filter
        skiff_grants_its_bounding_set(c, &o, "Seccomp:\t0\n");
    }
    let n = c.name("priv");
    c.setup(&cl!("{CREATE} --name {n} --privileged {IMG} true", n));
    c.same_want(
        "Privileged",
        &cl!("inspect -f '{{.HostConfig.Privileged}}' {n}", n),
        E::Exact,
        0,
        "true\n",
    );
}

fn cap_unknown(c: &Ctx) {
    c.same_want(
        "--cap-add BOGUS",
        &cl!("{RUN} --cap-add BOGUS {IMG} true"),
        E::Has(&["capability", "BOGUS"]),
        125,
        "",
    );
}

fn seccomp_default_and_unconfined(c: &Ctx) {
    c.same_want(
        "default",
        &cl!("{RUN} {IMG} grep -E '^(Seccomp|NoNewPrivs)' /proc/self/status"),
        E::Exact,
        0,
        "NoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\n",
    );
    c.same_want(
        "unconfined",
        &cl!("{RUN} --security-opt seccomp=unconfined {IMG} grep -E '^(Seccomp|NoNewPrivs)' /proc/self/status"),
        E::Exact,
        0,
        "NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n",
    );
    // the default profile refuses what Docker's refuses
    c.same_want(
        "unshare and mount refused",
        &cl!("{RUN} {IMG} sh -c 'unshare -m true; echo $?; mount -t tmpfs t /mnt; echo $?'"),
        E::Exact,
        0,
        "1\n1\n",
    );
}

fn seccomp_file(c: &Ctx) {
    let prof = c.e.file("deny-mkdir.json");
    c.same_want(
        "seccomp=FILE",
        &cl!(
            "{RUN} --security-opt seccomp={prof} {IMG} sh -c 'mkdir /tmp/d; echo $?; grep ^Seccomp: /proc/self/status'",
            prof
        ),
        E::Exact,
        0,
        "1\nSeccomp:\t2\n",
    );
    let missing = "/nonexistent-parity-seccomp.json";
    let phrase = format!("opening seccomp profile ({missing}) failed");
    c.same_want(
        "seccomp=missing file",
        &cl!("{RUN} --security-opt seccomp={missing} {IMG} true", missing),
        E::Has(&[&phrase, "no such file or directory"]),
        125,
        "",
    );
}

fn no_new_privileges(c: &Ctx) {
    c.same_want(
        "no-new-privileges",
        &cl!("{RUN} --security-opt no-new-privileges {IMG} grep NoNewPrivs /proc/self/status"),
        E::Exact,
        0,
        "NoNewPrivs:\t1\n",
    );
    let n = c.name("nnp");
    c.setup(&cl!(
        "{CREATE} --name {n} --security-opt no-new-privileges {IMG} true",
        n
    ));
    c.same_want(
        "SecurityOpt",
        &cl!("inspect -f '{{json .HostConfig.SecurityOpt}}' {n}", n),
        E::Exact,
        0,
        "[\"no-new-privileges\"]\n",
    );
    c.same_want(
        "unknown --security-opt",
        &cl!("{RUN} --security-opt bogus {IMG} true"),
        E::Has(&["invalid --security-opt: \"bogus\""]),
        125,
        "",
    );
}

fn masked_paths(c: &Ctx) {
    // Nothing here writes outside the container: the domain name is the
    // container's UTS namespace's, the rest only reads.
    let o = c.same(
        "masked and read-only /proc and /sys",
        &cl!(
            "{RUN} {IMG} sh -c \"wc -c < /proc/kcore; cat /proc/timer_list | wc -c; ls /sys/firmware | wc -l; \
             echo x > /proc/sys/kernel/domainname; echo $?; \
             grep -E ' /proc/(bus|fs|irq|sys|sysrq-trigger) ' /proc/mounts | cut -d' ' -f2,4 | cut -c1-40\""
        ),
        E::Exact,
    );
    c.expect(Side::Docker, o[0].code == Some(0), || format!("{:?}", o[0]));
}

// ---------------------------------------------------------------------------
// Resources

/// Compare a cgroup file read from inside when Docker shows it; else check
/// skiff shows the value expected.
fn cgroup_value(c: &Ctx, step: &str, a: &[String], want: &str) {
    let o = c.both(a);
    if o[0].code == Some(0) {
        c.check(step, a, &o, E::Exact);
        c.want(step, &o, 0, want);
    } else {
        // Docker's container does not show this cgroup v1 file here.
        c.expect(
            Side::Skiff,
            o[1].code == Some(0) && o[1].out == want,
            || {
                format!(
                    "{step}: exit {:?}, {:?} (expected {want:?})",
                    o[1].code, o[1].out
                )
            },
        );
    }
}

fn memory_limits_inside(c: &Ctx) {
    let cat = "{IMG} cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes";
    for (flags, want) in [
        ("-m 32m", "33554432\n67108864\n"),
        ("-m 32m --memory-swap 48m", "33554432\n50331648\n"),
        ("-m 32m --memory-swap -1", "33554432\n9223372036854771712\n"),
    ] {
        cgroup_value(c, flags, &cl!(&format!("{{RUN}} {flags} {cat}")), want);
    }
    let n = c.name("meminspect");
    c.setup(&cl!(
        "{CREATE} --name {n} -m 32m --memory-swap 48m {IMG} true",
        n
    ));
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}' {n}",
            n
        ),
        E::Exact,
        0,
        "33554432 50331648\n",
    );
}

fn oom_kill(c: &Ctx) {
    let n = c.name("oom");
    c.same_want(
        "tail /dev/zero under 16m",
        &cl!(
            "run --network none --name {n} -m 16m --memory-swap 16m {IMG} tail /dev/zero",
            n
        ),
        E::Any,
        137,
        "",
    );
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}}' {n}",
            n
        ),
        E::Exact,
        0,
        "true 137 exited\n",
    );
    c.same_want(
        "ps --filter exited=137",
        &cl!(
            "ps -a --filter exited=137 --filter name={n} --format '{{.Names}} {{.Status}}'",
            n
        ),
        E::Exact,
        0,
        &format!("{n} Exited (137) <dur> ago\n"),
    );
}

fn memory_validation(c: &Ctx) {
    for (flags, phrase) in [
        ("-m lots", "invalid size: 'lots'"),
        ("-m 1m", "Minimum memory limit allowed is 6MB"),
        (
            "-m 10m --memory-swap 5m",
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            "--memory-swap 10m",
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
    ] {
        c.same_want(
            flags,
            &cl!(&format!("{{RUN}} {flags} {{IMG}} true")),
            E::Has(&[phrase]),
            125,
            "",
        );
    }
}

fn pids_limit(c: &Ctx) {
    c.same_want(
        "--pids-limit 5",
        &cl!(
            "{RUN} --pids-limit 5 {IMG} sh -c 'cat /sys/fs/cgroup/pids/pids.max; \
             i=0; while [ $i -lt 10 ]; do sleep 5 & i=$((i+1)); done; echo survived'"
        ),
        E::Has(&["can't fork"]),
        2,
        "5\n",
    );
    let n = c.name("pids");
    c.setup(&cl!("{CREATE} --name {n} --pids-limit 50 {IMG} true", n));
    c.same_want(
        "PidsLimit",
        &cl!("inspect -f '{{.HostConfig.PidsLimit}}' {n}", n),
        E::Exact,
        0,
        "50\n",
    );
}

fn cpu_settings(c: &Ctx) {
    cgroup_value(
        c,
        "inside",
        &cl!(
            "{RUN} --cpus 1.5 --cpu-shares 512 --cpuset-cpus 0 {IMG} cat \
             /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us \
             /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpuset/cpuset.cpus"
        ),
        "150000\n100000\n512\n0\n",
    );
    let n = c.name("cpu");
    c.setup(&cl!(
        "{CREATE} --name {n} --cpus 1.5 -c 512 --cpuset-cpus 0 {IMG} true",
        n
    ));
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}}' {n}",
            n
        ),
        E::Exact,
        0,
        "1500000000 512 0\n",
    );
}

fn cpu_validation(c: &Ctx) {
    // Docker checks the CPUs asked for against the host's, and creates
    // nothing when they are not there.
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let many = (ncpu + 3).to_string();
    let n = c.name("cpus-many");
    c.same_want(
        "--cpus above the host's",
        &cl!(
            "run --network none --name {n} --cpus {many} {IMG} true",
            n,
            many
        ),
        E::Has(&["Range of CPUs is from 0.01 to"]),
        125,
        "",
    );
    let n2 = c.name("cpuset-99");
    c.same_want(
        "--cpuset-cpus 99",
        &cl!(
            "run --network none --name {n2} --cpuset-cpus 99 {IMG} true",
            n2
        ),
        E::Has(&["Requested CPUs are not available - requested 99"]),
        125,
        "",
    );
    c.same_want(
        "nothing created",
        &cl!("ps -aq --filter name=px-cpus"),
        E::Exact,
        0,
        "",
    );
}

fn ulimits_inside(c: &Ctx) {
    c.same_want(
        "--ulimit",
        &cl!(
            "{RUN} --ulimit nofile=512:1024 --ulimit nproc=100 {IMG} sh -c \
             'ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu'"
        ),
        E::Exact,
        0,
        "512\n1024\n100\n100\n",
    );
    c.same(
        "defaults",
        &cl!("{RUN} {IMG} sh -c 'ulimit -n; ulimit -Hn; ulimit -u; ulimit -c; ulimit -s'"),
        E::Exact,
    );
}

fn ulimits_inspect(c: &Ctx) {
    let n = c.name("ulimitinspect");
    c.setup(&cl!(
        "{CREATE} --name {n} --ulimit nofile=512:1024 {IMG} true",
        n
    ));
    c.same_want(
        "HostConfig.Ulimits",
        &cl!(
            "inspect -f '{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}}{{end}}' {n}",
            n
        ),
        E::Exact,
        0,
        "nofile=512:1024\n",
    );
}

fn ulimit_validation(c: &Ctx) {
    for (u, phrase) in [
        (
            "nofile=10:5",
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5",
        ),
        ("bogus", "invalid ulimit argument: bogus"),
    ] {
        c.same_want(
            u,
            &cl!("{RUN} --ulimit {u} {IMG} true", u),
            E::Has(&[phrase]),
            125,
            "",
        );
    }
}

// ---------------------------------------------------------------------------
// Stopping, killing, restarting

fn stop_ignoring_pid1(c: &Ctx) {
    let n = c.name("stop");
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    let o = c.same_want(
        "stop -t 1",
        &cl!("stop -t 1 {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    for s in SIDES {
        let t = o[s.idx()].secs;
        c.expect(s, (0.8..5.0).contains(&t), || {
            format!("stop -t 1 took {t:.2}s")
        });
    }
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.State.ExitCode}} {{.State.OOMKilled}}' {n}",
            n
        ),
        E::Exact,
        0,
        "exited false 0 137 false\n",
    );
    c.same_want("wait", &cl!("wait {n}", n), E::Exact, 0, "137\n");
}

fn stop_trapping_shell(c: &Ctx) {
    let n = c.name("trapterm");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c \"trap 'echo term; exit 143' TERM; echo ready; while true; do sleep 0.1; done\"",
        n
    ));
    c.until_logged(&n, "ready");
    let o = c.same("stop", &cl!("stop {n}", n), E::Exact);
    for s in SIDES {
        let t = o[s.idx()].secs;
        c.expect(s, t < 5.0, || {
            format!("stop of a shell trapping TERM took {t:.2}s")
        });
    }
    c.same_want(
        "exit code",
        &cl!("inspect -f '{{.State.ExitCode}}' {n}", n),
        E::Exact,
        0,
        "143\n",
    );
    c.same_want("logs", &cl!("logs {n}", n), E::Exact, 0, "ready\nterm\n");
}

fn stop_signal(c: &Ctx) {
    let n = c.name("stopsig");
    c.setup(&cl!(
        "{DRUN} --name {n} --stop-signal USR1 {IMG} sh -c \
         \"trap 'echo got USR1; exit 7' USR1; echo ready; while true; do sleep 0.1; done\"",
        n
    ));
    c.until_logged(&n, "ready");
    c.same("stop", &cl!("stop {n}", n), E::Exact);
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.ExitCode}} {{.Config.StopSignal}}' {n}",
            n
        ),
        E::Exact,
        0,
        "7 USR1\n",
    );
    c.same_want(
        "logs",
        &cl!("logs {n}", n),
        E::Exact,
        0,
        "ready\ngot USR1\n",
    );
    c.same_want(
        "unknown --stop-signal",
        &cl!("{RUN} --stop-signal BOGUS {IMG} true"),
        E::Has(&["Invalid signal: BOGUS"]),
        125,
        "",
    );
}

fn stop_timeout(c: &Ctx) {
    let n = c.name("stoptimeout");
    c.setup(&cl!(
        "{DRUN} --name {n} --stop-timeout 1 {IMG} sleep 100",
        n
    ));
    let o = c.same("stop (no -t)", &cl!("stop {n}", n), E::Exact);
    for s in SIDES {
        let t = o[s.idx()].secs;
        c.expect(s, (0.8..5.0).contains(&t), || {
            format!("stop with --stop-timeout 1 took {t:.2}s")
        });
    }
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.ExitCode}} {{.Config.StopTimeout}}' {n}",
            n
        ),
        E::Exact,
        0,
        "137 1\n",
    );
}

fn stop_start_not_running_or_missing(c: &Ctx) {
    let n = c.name("stopped");
    c.setup(&cl!("run --network none --name {n} {IMG} true", n));
    c.same_want(
        "stop of an exited container",
        &cl!("stop -t 1 {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    for cmd in ["stop", "start", "kill", "wait", "logs"] {
        c.same_want(
            &format!("{cmd} of a missing container"),
            &cl!("{cmd} px-nosuch", cmd),
            E::Has(&["No such container: px-nosuch"]),
            1,
            "",
        );
    }
}

fn kill_signals(c: &Ctx) {
    let n = c.name("killhup");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c \"trap 'echo hup; exit 5' HUP; echo ready; while true; do sleep 0.1; done\"",
        n
    ));
    c.until_logged(&n, "ready");
    c.same_want(
        "kill -s HUP",
        &cl!("kill -s HUP {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    c.same_want("wait", &cl!("wait {n}", n), E::Exact, 0, "5\n");
    c.same_want("logs", &cl!("logs {n}", n), E::Exact, 0, "ready\nhup\n");
    c.same_want(
        "kill of a stopped container",
        &cl!("kill {n}", n),
        E::Has(&["is not running"]),
        1,
        "",
    );
    let n2 = c.name("killdefault");
    c.setup(&cl!("{DRUN} --name {n2} {IMG} sleep 100", n2));
    c.same_want(
        "kill -s BOGUS",
        &cl!("kill -s BOGUS {n2}", n2),
        E::Has(&["Invalid signal: BOGUS"]),
        1,
        "",
    );
    c.same_want(
        "kill (SIGKILL)",
        &cl!("kill {n2}", n2),
        E::Exact,
        0,
        &format!("{n2}\n"),
    );
    c.until_exited(&n2);
    c.same_want(
        "exit code",
        &cl!("inspect -f '{{.State.ExitCode}}' {n2}", n2),
        E::Exact,
        0,
        "137\n",
    );
}

fn pid1_ignores_term(c: &Ctx) {
    // PID 1 without a handler: the kernel drops SIGTERM.
    let n = c.name("ignoreterm");
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    c.same("kill -s TERM", &cl!("kill -s TERM {n}", n), E::Exact);
    std::thread::sleep(Duration::from_millis(500));
    c.same_want(
        "still running",
        &cl!("inspect -f '{{.State.Running}}' {n}", n),
        E::Exact,
        0,
        "true\n",
    );
    c.same("kill", &cl!("kill {n}", n), E::Exact);
}

fn restart_on_failure(c: &Ctx) {
    let n = c.name("onfailure");
    c.setup(&cl!(
        "{DRUN} --name {n} --restart on-failure:2 {IMG} sh -c 'echo run; exit 3'",
        n
    ));
    c.until_both("two restarts, then exited", |s| {
        c.inspect(s, &n, "{{.State.Status}} {{.RestartCount}}") == "exited 2"
    });
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}} \
             {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}' {n}",
            n
        ),
        E::Exact,
        0,
        "2 exited 3 on-failure 2\n",
    );
    c.same_want("logs", &cl!("logs {n}", n), E::Exact, 0, "run\nrun\nrun\n");
    // on-failure and a success: no restart
    let n2 = c.name("onfailure-ok");
    c.setup(&cl!(
        "{DRUN} --name {n2} --restart on-failure {IMG} true",
        n2
    ));
    c.until_exited(&n2);
    std::thread::sleep(Duration::from_millis(300));
    c.same_want(
        "on-failure after exit 0",
        &cl!(
            "inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' {n2}",
            n2
        ),
        E::Exact,
        0,
        "0 exited 0\n",
    );
}

fn restart_always(c: &Ctx) {
    let n = c.name("always");
    c.setup(&cl!(
        "{DRUN} --name {n} --restart always {IMG} sleep 100",
        n
    ));
    // The container's process killed from the host: brought back.
    c.each(|s| {
        let pid: i32 = c.inspect(s, &n, "{{.State.Pid}}").parse().unwrap_or(0);
        c.expect(s, pid > 0, || format!("State.Pid {pid}"));
        if pid > 0 {
            // SAFETY: kill(2) takes no pointers; the pid is the container's.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    c.until_both("a restart", |s| {
        c.inspect(s, &n, "{{.RestartCount}} {{.State.Status}}") == "1 running"
    });
    c.same_want(
        "restarted",
        &cl!(
            "inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.Running}} {{.HostConfig.RestartPolicy.Name}}' {n}",
            n
        ),
        E::Exact,
        0,
        "1 running true always\n",
    );
    c.same_want(
        "ps",
        &cl!("ps --filter name={n} --format '{{.Names}} {{.Status}}'", n),
        E::Exact,
        0,
        &format!("{n} Up <dur>\n"),
    );
    // stop ends it
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
    std::thread::sleep(Duration::from_millis(800));
    c.same_want(
        "stopped for good",
        &cl!(
            "inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' {n}",
            n
        ),
        E::Exact,
        0,
        "1 exited 137\n",
    );
}

fn restart_always_kill_command(c: &Ctx) {
    let n = c.name("always-kill");
    c.setup(&cl!(
        "{DRUN} --name {n} --restart always {IMG} sleep 100",
        n
    ));
    c.same("kill", &cl!("kill {n}", n), E::Exact);
    c.until_exited(&n);
    std::thread::sleep(Duration::from_millis(800));
    c.same_want(
        "not brought back",
        &cl!(
            "inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' {n}",
            n
        ),
        E::Exact,
        0,
        "0 exited 137\n",
    );
}

fn restart_validation(c: &Ctx) {
    for (flags, phrases) in [
        ("--restart bogus", &["invalid restart policy", "bogus"][..]),
        (
            "--restart always:3",
            &["maximum retry count cannot be used with restart policy 'always'"][..],
        ),
        (
            "--rm --restart always",
            &["Conflicting options: --restart and --rm"][..],
        ),
    ] {
        c.same_want(
            flags,
            &cl!(&format!("run --network none {flags} {{IMG}} true")),
            E::Has(phrases),
            125,
            "",
        );
    }
}

fn restart_command(c: &Ctx) {
    let n = c.name("restartcmd");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c 'echo start; sleep 100'",
        n
    ));
    c.until_logged(&n, "start");
    c.same_want(
        "restart -t 1 (running)",
        &cl!("restart -t 1 {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    c.until_logged(&n, "start\nstart\n");
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}' {n}",
            n
        ),
        E::Exact,
        0,
        "running 0 0\n",
    );
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
    c.same_want(
        "restart (stopped)",
        &cl!("restart -t 1 {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    c.same_want(
        "running again",
        &cl!("inspect -f '{{.State.Status}}' {n}", n),
        E::Exact,
        0,
        "running\n",
    );
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
}

// ---------------------------------------------------------------------------
// logs

fn logs_tail(c: &Ctx) {
    let n = c.name("tail");
    c.setup(&cl!(
        "run --network none --name {n} {IMG} sh -c 'for i in 1 2 3 4 5; do echo out$i; done'",
        n
    ));
    for (flags, want) in [
        ("--tail 2", "out4\nout5\n"),
        ("--tail 0", ""),
        ("-n 1", "out5\n"),
        ("--tail all", "out1\nout2\nout3\nout4\nout5\n"),
        ("--tail 9", "out1\nout2\nout3\nout4\nout5\n"),
    ] {
        c.same_want(
            flags,
            &cl!(&format!("logs {flags} {{n}}"), n),
            E::Exact,
            0,
            want,
        );
    }
}

fn logs_tail_not_a_number(c: &Ctx) {
    // Docker's daemon takes a --tail it cannot read as "all".
    let n = c.name("tailnan");
    c.setup(&cl!(
        "run --network none --name {n} {IMG} sh -c 'echo a; echo b'",
        n
    ));
    c.same_want(
        "--tail bogus",
        &cl!("logs --tail bogus {n}", n),
        E::Exact,
        0,
        "a\nb\n",
    );
}

fn logs_streams(c: &Ctx) {
    let n = c.name("streams");
    c.setup(&cl!(
        "run --network none --name {n} {IMG} sh -c 'echo o1; echo e1 >&2'",
        n
    ));
    let o = c.same_want("logs", &cl!("logs {n}", n), E::Exact, 0, "o1\n");
    c.expect(Side::Docker, o[0].err == "e1\n", || {
        format!("stderr {:?}", o[0].err)
    });
}

fn logs_timestamps(c: &Ctx) {
    let n = c.name("ts");
    c.setup(&cl!(
        "run --network none --name {n} {IMG} sh -c 'echo a; echo b'",
        n
    ));
    let o = c.same_want(
        "logs -t",
        &cl!("logs -t {n}", n),
        E::Exact,
        0,
        "<time> a\n<time> b\n",
    );
    // RFC 3339 with nine digits of nanoseconds, always
    for s in SIDES {
        for l in o[s.idx()].raw_out.lines() {
            let b = l.as_bytes();
            let ok = datetime_at(b, 0, b'T')
                && b.get(19) == Some(&b'.')
                && digits_at(b, 20, 9)
                && b.get(29) == Some(&b'Z')
                && b.get(30) == Some(&b' ');
            c.expect(s, ok, || format!("logs -t line {l:?}"));
        }
    }
    c.same_want(
        "logs -t --tail 1",
        &cl!("logs -t --tail 1 {n}", n),
        E::Exact,
        0,
        "<time> b\n",
    );
}

fn logs_since_until(c: &Ctx) {
    let n = c.name("since");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c 'echo a; sleep 1.5; echo b'",
        n
    ));
    // T: after "a", before "b", on each side
    let t = c.each(|s| {
        c.until(s, 10, "a", || c.logs(s, &n).contains('a'));
        now_unix()
    });
    c.until_exited(&n);
    for (flag, want) in [("--since", "b\n"), ("--until", "a\n")] {
        let o = c.each(|s| {
            let t = &t[s.idx()];
            c.exec(s, &cl!("logs {flag} {t} {n}", flag, t, n))
        });
        c.check(
            &format!("{flag} T"),
            &cl!("logs {flag} T {n}", flag, n),
            &o,
            E::Exact,
        );
        c.want(&format!("{flag} T"), &o, 0, want);
    }
    for (flags, want) in [
        ("--since 1h", "a\nb\n"),
        ("--since 2099-01-01T00:00:00Z", ""),
        ("--until 2000-01-01T00:00:00Z", ""),
        ("--until 1h", ""),
    ] {
        c.same_want(
            flags,
            &cl!(&format!("logs {flags} {{n}}"), n),
            E::Exact,
            0,
            want,
        );
    }
}

fn logs_follow(c: &Ctx) {
    let n = c.name("follow");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c 'echo a; sleep 1; echo b; echo c >&2; exit 2'",
        n
    ));
    let o = c.same_want("logs -f", &cl!("logs -f {n}", n), E::Exact, 0, "a\nb\n");
    c.expect(Side::Docker, o[0].err == "c\n", || {
        format!("stderr {:?}", o[0].err)
    });
    c.same_want("wait", &cl!("wait {n}", n), E::Exact, 0, "2\n");
}

fn log_rotation(c: &Ctx) {
    // max-size=1k, max-file=2: Docker rotates once a file has reached
    // max-size (it may pass it by one entry), so each file holds 10 of these
    // ~104-byte entries and `logs` shows the last 20 lines.
    let n = c.name("rotate");
    c.setup(&cl!(
        "run --network none --name {n} --log-opt max-size=1k --log-opt max-file=2 {IMG} sh -c \
         'i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done'",
        n
    ));
    let a = cl!("logs {n}", n);
    let o = c.both(&a).map(|mut x| {
        let lines: Vec<&str> = x.out.lines().collect();
        x.out = format!(
            "{} lines, first {:?}, last {:?}\n",
            lines.len(),
            lines.first().unwrap_or(&""),
            lines.last().unwrap_or(&"")
        );
        x
    });
    c.check("logs after rotation", &a, &o, E::Exact);
    c.want(
        "logs after rotation",
        &o,
        0,
        "20 lines, first \"line-280-xxxxxxxxxxxxxxxxxxxxxxxx\", last \"line-299-xxxxxxxxxxxxxxxxxxxxxxxx\"\n",
    );
    c.same_want(
        "LogConfig.Type",
        &cl!("inspect -f '{{.HostConfig.LogConfig.Type}}' {n}", n),
        E::Exact,
        0,
        "json-file\n",
    );
    c.same_want(
        "unknown --log-opt",
        &cl!("{RUN} --log-opt foo=bar {IMG} true"),
        E::Has(&["unknown log opt", "foo"]),
        125,
        "",
    );
}

// ---------------------------------------------------------------------------
// wait, create/start, rm, rename

fn wait_codes(c: &Ctx) {
    let (a, b) = (c.name("wait3"), c.name("wait0"));
    c.setup(&cl!("{DRUN} --name {a} {IMG} sh -c 'sleep 0.5; exit 3'", a));
    c.setup(&cl!("{DRUN} --name {b} {IMG} true", b));
    c.same_want(
        "wait a b",
        &cl!("wait {a} {b}", a, b),
        E::Exact,
        0,
        "3\n0\n",
    );
    c.same_want(
        "wait with a missing one",
        &cl!("wait {a} px-nosuch", a),
        E::Has(&["No such container: px-nosuch"]),
        1,
        "3\n",
    );
}

fn create_then_start_attach(c: &Ctx) {
    let n = c.name("attach");
    c.setup(&cl!(
        "{CREATE} --name {n} {IMG} sh -c 'echo created-out; echo created-err >&2; exit 4'",
        n
    ));
    c.same_want(
        "inspect created",
        &cl!(
            "inspect -f '{{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.State.ExitCode}} \
             {{.State.StartedAt}} {{.State.FinishedAt}}' {n}",
            n
        ),
        E::Exact,
        0,
        "created false 0 0 0001-01-01T00:00:00Z 0001-01-01T00:00:00Z\n",
    );
    c.same_want(
        "start -a",
        &cl!("start -a {n}", n),
        E::Exact,
        4,
        "created-out\n",
    );
    c.same_want(
        "start -a again",
        &cl!("start -a {n}", n),
        E::Exact,
        4,
        "created-out\n",
    );
    c.same_want(
        "inspect exited",
        &cl!("inspect -f '{{.State.Status}} {{.State.ExitCode}}' {n}", n),
        E::Exact,
        0,
        "exited 4\n",
    );
    c.same_want(
        "logs",
        &cl!("logs {n}", n),
        E::Any,
        0,
        "created-out\ncreated-out\n",
    );
    // start without -a prints the name
    c.same_want(
        "start",
        &cl!("start {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
}

fn start_attach_stdin(c: &Ctx) {
    let n = c.name("stdin");
    c.setup(&cl!("{CREATE} -i --name {n} {IMG} cat", n));
    let o = c.same_in(
        "start -a -i",
        &cl!("start -a -i {n}", n),
        "hello\n",
        E::Exact,
    );
    c.want("start -a -i", &o, 0, "hello\n");
    c.same_want(
        "OpenStdin",
        &cl!("inspect -f '{{.Config.OpenStdin}}' {n}", n),
        E::Exact,
        0,
        "true\n",
    );
}

fn start_running(c: &Ctx) {
    let n = c.name("startrunning");
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    c.same_want(
        "start of a running container",
        &cl!("start {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
}

fn rm_running(c: &Ctx) {
    let n = c.name("rmrunning");
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    c.same_want(
        "rm without -f",
        &cl!("rm {n}", n),
        E::Has(&["You cannot remove a running container <id>. Stop the container before attempting removal or force remove"]),
        1,
        "",
    );
    c.same_want(
        "rm -f",
        &cl!("rm -f {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    c.same_want("gone", &cl!("ps -aq --filter name={n}", n), E::Exact, 0, "");
    c.same_want(
        "rm of a missing container",
        &cl!("rm px-nosuch"),
        E::Has(&["No such container: px-nosuch"]),
        1,
        "",
    );
}

fn rm_force_missing(c: &Ctx) {
    // Docker's rm -f of a container that is not there: a message, exit 0.
    c.same_want(
        "rm -f of a missing container",
        &cl!("rm -f px-nosuch"),
        E::Has(&["No such container: px-nosuch"]),
        0,
        "",
    );
}

fn run_rm(c: &Ctx) {
    let n = c.name("autoremove");
    c.setup(&cl!("run -d --rm --network none --name {n} {IMG} true", n));
    c.until_both("the --rm container to go", |s| {
        c.exec(s, &cl!("ps -aq --filter name={n}", n))
            .raw_out
            .is_empty()
    });
    let n2 = c.name("autoremove-inspect");
    c.setup(&cl!("{CREATE} --rm --name {n2} {IMG} true", n2));
    c.same_want(
        "AutoRemove",
        &cl!("inspect -f '{{.HostConfig.AutoRemove}}' {n2}", n2),
        E::Exact,
        0,
        "true\n",
    );
}

fn rename(c: &Ctx) {
    let (old, new, other) = (c.name("ren-old"), c.name("ren-new"), c.name("ren-other"));
    c.setup(&cl!("{CREATE} --name {old} {IMG} true", old));
    c.setup(&cl!("{CREATE} --name {other} {IMG} true", other));
    c.same_want(
        "rename",
        &cl!("rename {old} {new}", old, new),
        E::Exact,
        0,
        "",
    );
    c.same_want(
        "ps",
        &cl!("ps -a --filter name=px-ren- --format '{{.Names}}'"),
        E::Exact,
        0,
        &format!("{other}\n{new}\n"),
    );
    c.same_want(
        "inspect",
        &cl!("inspect -f '{{.Name}}' {new}", new),
        E::Exact,
        0,
        &format!("/{new}\n"),
    );
    c.same_want(
        "rename of a missing container",
        &cl!("rename px-nosuch px-x"),
        E::Has(&["No such container: px-nosuch"]),
        1,
        "",
    );
    let phrase = format!("The container name \"/{other}\" is already in use");
    c.same_want(
        "rename to a name in use",
        &cl!("rename {new} {other}", new, other),
        E::Has(&[&phrase]),
        1,
        "",
    );
}

fn rename_to_own_name(c: &Ctx) {
    let n = c.name("ren-same");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    c.same_want(
        "rename to its own name",
        &cl!("rename {n} {n}", n),
        E::Has(&["Renaming a container with the same name as its current name"]),
        1,
        "",
    );
}

// ---------------------------------------------------------------------------
// inspect

fn inspect_state(c: &Ctx) {
    let n = c.name("state");
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    let f = "{{.State.Status}} {{.State.Running}} {{.State.Paused}} {{.State.Restarting}} {{.State.Dead}} \
             {{.State.OOMKilled}} {{.State.ExitCode}} [{{.State.Error}}] {{.State.StartedAt}} \
             {{.State.FinishedAt}} {{.Created}}";
    c.same_want(
        "running",
        &cl!("inspect -f {f} {n}", f, n),
        E::Exact,
        0,
        "running true false false false false 0 [] <time> 0001-01-01T00:00:00Z <time>\n",
    );
    for s in SIDES {
        let pid: i64 = c.inspect(s, &n, "{{.State.Pid}}").parse().unwrap_or(0);
        c.expect(
            s,
            pid > 0 && Path::new(&format!("/proc/{pid}")).exists(),
            || format!("State.Pid {pid}"),
        );
    }
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
    c.same_want(
        "exited",
        &cl!("inspect -f {f} {n}", f, n),
        E::Exact,
        0,
        "exited false false false false false 137 [] <time> <time> <time>\n",
    );
    c.same_want(
        "Name, Image, Platform, Driver, RestartCount",
        &cl!(
            "inspect -f '{{.Name}} {{.Config.Image}} {{.Platform}} {{.Driver}} {{.RestartCount}}' {n}",
            n
        ),
        E::Exact,
        0,
        &format!("/{n} {IMG} linux overlay2 0\n"),
    );
}

fn inspect_config(c: &Ctx) {
    let n = c.name("config");
    c.setup(&cl!(
        "{CREATE} --name {n} -e A=1 -w /tmp -u nobody -h hh -l x=y --entrypoint echo {IMG} hello world",
        n
    ));
    c.same_want(
        "Config",
        &cl!(
            "inspect -f '{{json .Config.Cmd}} {{json .Config.Entrypoint}} {{json .Config.Env}} \
             {{.Config.WorkingDir}} {{.Config.User}} {{json .Config.Labels}} {{.Config.Hostname}} \
             {{.Config.Image}} {{.Path}} {{json .Args}} {{.Config.OpenStdin}} {{.Config.Tty}}' {n}",
            n
        ),
        E::Exact,
        0,
        &format!(
            "[\"hello\",\"world\"] [\"echo\"] [\"A=1\"] /tmp nobody {{\"x\":\"y\"}} hh {IMG} echo \
             [\"hello\",\"world\"] false false\n"
        ),
    );
}

fn inspect_host_config(c: &Ctx) {
    let n = c.name("hostconfig");
    c.setup(&cl!(
        "{CREATE} --name {n} --rm --read-only --cap-add SYS_ADMIN --cap-drop NET_RAW -m 64m \
         --memory-swap -1 --cpus 0.5 --pids-limit 50 --security-opt no-new-privileges \
         --stop-signal SIGUSR1 --stop-timeout 3 {IMG} true",
        n
    ));
    c.same_want(
        "HostConfig",
        &cl!(
            "inspect -f '{{.HostConfig.NetworkMode}} {{.HostConfig.AutoRemove}} {{.HostConfig.ReadonlyRootfs}} \
             {{.HostConfig.Privileged}} {{index .HostConfig.CapAdd 0}} {{index .HostConfig.CapDrop 0}} \
             {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} \
             {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}} \
             {{.Config.StopSignal}} {{.Config.StopTimeout}}' {n}",
            n
        ),
        E::Exact,
        0,
        "none true true false SYS_ADMIN NET_RAW 67108864 -1 500000000 50 no 0 SIGUSR1 3\n",
    );
    let n2 = c.name("restartpolicy");
    c.setup(&cl!(
        "{CREATE} --name {n2} --restart on-failure:4 {IMG} true",
        n2
    ));
    c.same_want(
        "RestartPolicy",
        &cl!(
            "inspect -f '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}' {n2}",
            n2
        ),
        E::Exact,
        0,
        "on-failure:4\n",
    );
}

fn inspect_json_objects(c: &Ctx) {
    // {{json}} of an object: its keys in the order of Docker's Go struct.
    let n = c.name("jsonobjects");
    c.setup(&cl!(
        "{CREATE} --name {n} --restart on-failure:4 {IMG} true",
        n
    ));
    c.same_want(
        "{{json .HostConfig.RestartPolicy}}",
        &cl!("inspect -f '{{json .HostConfig.RestartPolicy}}' {n}", n),
        E::Exact,
        0,
        "{\"Name\":\"on-failure\",\"MaximumRetryCount\":4}\n",
    );
    c.same_want(
        "{{json .HostConfig.LogConfig}}",
        &cl!("inspect -f '{{json .HostConfig.LogConfig}}' {n}", n),
        E::Exact,
        0,
        "{\"Type\":\"json-file\",\"Config\":{}}\n",
    );
}

fn inspect_log_config_as_given(c: &Ctx) {
    let n = c.name("logconfig");
    c.setup(&cl!(
        "{CREATE} --name {n} --log-opt max-size=1m --log-opt max-file=2 {IMG} true",
        n
    ));
    c.same_want(
        "LogConfig.Config",
        &cl!(
            "inspect -f '{{index .HostConfig.LogConfig.Config \"max-size\"}} {{index .HostConfig.LogConfig.Config \"max-file\"}}' {n}",
            n
        ),
        E::Exact,
        0,
        "1m 2\n",
    );
}

fn inspect_unset_values(c: &Ctx) {
    // Docker's templates see Go values: an empty list prints [], an unset
    // string nothing, an unset pointer <nil>.
    let n = c.name("unset");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    c.same_want(
        "empty lists",
        &cl!(
            "inspect -f '{{.HostConfig.CapAdd}}|{{.Config.Entrypoint}}|{{.HostConfig.SecurityOpt}}|{{.HostConfig.PidsLimit}}' {n}",
            n
        ),
        E::Exact,
        0,
        "[]|[]|[]|<nil>\n",
    );
    c.same_want(
        "unset stop signal and timeout",
        &cl!(
            "inspect -f '{{.Config.StopSignal}}|{{.Config.StopTimeout}}' {n}",
            n
        ),
        E::Exact,
        0,
        "|<nil>\n",
    );
}

fn inspect_unknown_field(c: &Ctx) {
    // A field the document does not have is an error, not "<no value>".
    let n = c.name("unknownfield");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    for f in ["{{.Nope}}", "{{.HostConfig.Nope}}"] {
        c.same_want(
            f,
            &cl!("inspect -f {f} {n}", f, n),
            E::Has(&["map has no entry for key \"Nope\""]),
            1,
            "\n",
        );
    }
}

fn inspect_template_range_variables(c: &Ctx) {
    let n = c.name("rangevars");
    c.setup(&cl!("{CREATE} --name {n} -l a=1 -l b=2 {IMG} true", n));
    for (f, want) in [
        (
            "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
            "a=1;b=2;",
        ),
        (
            "{{range $i, $e := .Config.Cmd}}{{$i}}:{{$e}}{{end}}",
            "0:true",
        ),
        ("{{$n := .Name}}{{$n}}", &format!("/{n}")),
    ] {
        c.same_want(
            f,
            &cl!("inspect -f {f} {n}", f, n),
            E::Exact,
            0,
            &format!("{want}\n"),
        );
    }
}

fn inspect_template_functions(c: &Ctx) {
    let n = c.name("funcs");
    c.setup(&cl!("{CREATE} --name {n} -l a=1 {IMG} true", n));
    for (f, want) in [
        ("{{index .Config.Labels \"a\"}}", "1"),
        ("{{.Config.Labels.a}}", "1"),
        ("{{range .Config.Cmd}}[{{.}}]{{end}}", "[true]"),
        ("{{len .Config.Cmd}}", "1"),
        ("{{if .State.Running}}run{{else}}stopped{{end}}", "stopped"),
        ("{{upper .Name}}", &format!("/{}", n.to_uppercase())),
        ("{{join .Config.Cmd \",\"}}", "true"),
        ("{{json .Config.Labels}}", "{\"a\":\"1\"}"),
        (
            "{{printf \"%s-%d\" .Name .RestartCount}}",
            &format!("/{n}-0"),
        ),
        ("{{eq .State.Status \"created\"}}", "true"),
        ("{{.State.Status | upper}}", "CREATED"),
        ("{{title .State.Status}}", "Created"),
    ] {
        c.same_want(
            f,
            &cl!("inspect -f {f} {n}", f, n),
            E::Exact,
            0,
            &format!("{want}\n"),
        );
    }
    c.same_want(
        "two containers",
        &cl!("inspect -f '{{.Name}}' {n} {n}", n),
        E::Exact,
        0,
        &format!("/{n}\n/{n}\n"),
    );
}

fn inspect_missing(c: &Ctx) {
    c.same_want(
        "inspect of a missing container",
        &cl!("inspect px-nosuch"),
        E::Has(&["Error: No such object: px-nosuch"]),
        1,
        "[]\n",
    );
}

fn inspect_document_keys(c: &Ctx) {
    // The keys of Docker's document (top level, State, Config, HostConfig,
    // NetworkSettings) that templates and scripts reach for.
    let n = c.name("keys");
    c.setup(&cl!(
        "{CREATE} --name {n} --ulimit nofile=512:1024 {IMG} true",
        n
    ));
    let docs = c.each(|s| {
        let o = c.ok(s, &cl!("inspect {n}", n));
        serde_json::from_str::<serde_json::Value>(&o.raw_out).unwrap_or_default()[0].clone()
    });
    let keys = |v: &serde_json::Value, path: &str| -> Vec<String> {
        let v = if path.is_empty() { v } else { &v[path] };
        let mut k: Vec<String> = v
            .as_object()
            .map(|m| {
                m.keys()
                    .map(|k| {
                        if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        k.sort();
        k
    };
    for path in ["", "State", "Config", "HostConfig", "NetworkSettings"] {
        let dk = keys(&docs[0], path);
        let sk = keys(&docs[1], path);
        let missing: Vec<&String> = dk.iter().filter(|k| !sk.contains(k)).collect();
        let extra: Vec<&String> = sk.iter().filter(|k| !dk.contains(k)).collect();
        if !missing.is_empty() || !extra.is_empty() {
            c.fail(format!(
                "inspect {}: skiff lacks {missing:?}; skiff has, Docker not: {extra:?}",
                if path.is_empty() { "(top level)" } else { path }
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// The table and the runner

type Scenario = (&'static str, fn(&Ctx));

const SCENARIOS: &[Scenario] = &[
    ("exit_codes_and_streams", exit_codes_and_streams),
    ("exit_127_command_not_found", exit_127_command_not_found),
    ("exit_126_not_executable", exit_126_not_executable),
    ("exit_126_directory", exit_126_directory),
    (
        "failed_start_leaves_created_container",
        failed_start_leaves_created_container,
    ),
    ("exit_125_unknown_image", exit_125_unknown_image),
    ("exit_125_unknown_flag", exit_125_unknown_flag),
    ("exit_125_name_in_use", exit_125_name_in_use),
    (
        "daemon_errors_read_as_dockers",
        daemon_errors_read_as_dockers,
    ),
    ("run_stdin", run_stdin),
    ("run_detached_prints_id", run_detached_prints_id),
    ("random_names", random_names),
    ("env_flags", env_flags),
    ("env_file_missing", env_file_missing),
    ("home_from_passwd", home_from_passwd),
    ("image_config_and_overrides", image_config_and_overrides),
    ("workdir", workdir),
    ("user_uid_gid", user_uid_gid),
    ("user_supplementary_groups", user_supplementary_groups),
    ("user_unknown", user_unknown),
    ("hostname_flag", hostname_flag),
    ("hostname_default_is_short_id", hostname_default_is_short_id),
    ("network_none_files", network_none_files),
    ("network_host", network_host),
    ("entrypoint", entrypoint),
    (
        "args_after_image_belong_to_the_command",
        args_after_image_belong_to_the_command,
    ),
    ("labels", labels),
    ("ps_filter_without_all", ps_filter_without_all),
    ("ps_columns", ps_columns),
    ("ps_table_widths", ps_table_widths),
    ("ps_command_quoting", ps_command_quoting),
    ("ps_quiet_latest_last", ps_quiet_latest_last),
    ("ps_filters", ps_filters),
    ("ps_format_json_and_labels", ps_format_json_and_labels),
    ("ps_format_label_function", ps_format_label_function),
    ("ps_format_created_at", ps_format_created_at),
    ("read_only", read_only),
    ("caps_default", caps_default),
    ("caps_add_drop", caps_add_drop),
    ("caps_add_all", caps_add_all),
    ("privileged", privileged),
    ("cap_unknown", cap_unknown),
    (
        "seccomp_default_and_unconfined",
        seccomp_default_and_unconfined,
    ),
    ("seccomp_file", seccomp_file),
    ("no_new_privileges", no_new_privileges),
    ("masked_paths", masked_paths),
    ("memory_limits_inside", memory_limits_inside),
    ("oom_kill", oom_kill),
    ("memory_validation", memory_validation),
    ("pids_limit", pids_limit),
    ("cpu_settings", cpu_settings),
    ("cpu_validation", cpu_validation),
    ("ulimits_inside", ulimits_inside),
    ("ulimits_inspect", ulimits_inspect),
    ("ulimit_validation", ulimit_validation),
    ("stop_ignoring_pid1", stop_ignoring_pid1),
    ("stop_trapping_shell", stop_trapping_shell),
    ("stop_signal", stop_signal),
    ("stop_timeout", stop_timeout),
    (
        "stop_start_not_running_or_missing",
        stop_start_not_running_or_missing,
    ),
    ("kill_signals", kill_signals),
    ("pid1_ignores_term", pid1_ignores_term),
    ("restart_on_failure", restart_on_failure),
    ("restart_always", restart_always),
    ("restart_always_kill_command", restart_always_kill_command),
    ("restart_validation", restart_validation),
    ("restart_command", restart_command),
    ("logs_tail", logs_tail),
    ("logs_tail_not_a_number", logs_tail_not_a_number),
    ("logs_streams", logs_streams),
    ("logs_timestamps", logs_timestamps),
    ("logs_since_until", logs_since_until),
    ("logs_follow", logs_follow),
    ("log_rotation", log_rotation),
    ("wait_codes", wait_codes),
    ("create_then_start_attach", create_then_start_attach),
    ("start_attach_stdin", start_attach_stdin),
    ("start_running", start_running),
    ("rm_running", rm_running),
    ("rm_force_missing", rm_force_missing),
    ("run_rm", run_rm),
    ("rename", rename),
    ("rename_to_own_name", rename_to_own_name),
    ("inspect_state", inspect_state),
    ("inspect_config", inspect_config),
    ("inspect_host_config", inspect_host_config),
    ("inspect_json_objects", inspect_json_objects),
    ("inspect_log_config_as_given", inspect_log_config_as_given),
    ("inspect_unset_values", inspect_unset_values),
    ("inspect_unknown_field", inspect_unknown_field),
    (
        "inspect_template_range_variables",
        inspect_template_range_variables,
    ),
    ("inspect_template_functions", inspect_template_functions),
    ("inspect_missing", inspect_missing),
    ("inspect_document_keys", inspect_document_keys),
];

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

#[test]
fn docker_parity() {
    let started = Instant::now();
    let e = Engines::new();
    let setup = started.elapsed().as_secs_f64();
    let only: Vec<String> = std::env::var("PARITY_ONLY")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let mut report = Vec::new();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, f) in SCENARIOS {
        if !only.is_empty() && !only.iter().any(|w| name.contains(w.as_str())) {
            continue;
        }
        ran += 1;
        let ctx = Ctx::new(&e);
        let t = Instant::now();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(&ctx))) {
            ctx.fail(format!("panicked: {}", panic_text(&*p)));
        }
        ctx.cleanup();
        let secs = t.elapsed().as_secs_f64();
        let fails = ctx.failures.lock().unwrap().clone();
        if fails.is_empty() {
            report.push(format!("PASS {name} ({secs:.1}s)"));
        } else {
            report.push(format!("FAIL {name} ({secs:.1}s)"));
            for f in &fails {
                report.push(format!("    - {f}"));
            }
            failed.push(*name);
        }
        eprintln!("{}", report[report.len() - 1 - fails.len()]);
    }
    println!(
        "\n=== docker parity: {ran} scenarios, {} pass, {} fail (set-up {setup:.1}s, total {:.1}s) ===",
        ran - failed.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    for l in &report {
        println!("{l}");
    }
    drop(e);
    assert!(
        failed.is_empty(),
        "{} of {ran} scenarios differ from Docker: {}",
        failed.len(),
        failed.join(", ")
    );
}
