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
//! `PARITY_VIA_API=1` runs skiff's side through the Docker Engine API: the
//! same docker CLI against `skiff serve` on the store (its own CI tier).
//!
//! Where Docker itself cannot do something on this host (`--privileged`,
//! `exec --privileged` and `--cap-add ALL` fail because the host lacks
//! CAP_SYS_RESOURCE), the scenario asserts skiff's documented behaviour
//! instead and says so.
//!
//! Scenarios that make volumes or images name them with `Ctx::vol` and
//! `Ctx::track_image`; they are removed when the scenario ends, and
//! containers go with `rm -f -v`, so that the prune and `system df`
//! scenarios see only their own.
//!
//! Only 127.0.0.1 is ever contacted: the unknown image scenario names a
//! registry on 127.0.0.1:9, so Docker's pull attempt stays on this host.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use skiff_testkit::dockerd::{alive, unmount_below, Dockerd};
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
// skiff's store of the test's own

/// A skiff --root and --runroot under one temporary directory; every
/// container in it removed, and anything mounted below it unmounted, when
/// dropped.
struct Skiff {
    dir: tempfile::TempDir,
    root: PathBuf,
    runroot: PathBuf,
    /// skiff's bridges and rules live in a namespace of the test's own.
    ns: skiff_testkit::NetNs,
    /// With `PARITY_VIA_API=1`: `skiff serve` on this store, which the
    /// scenarios reach through Docker's own CLI (its socket).
    api: Option<(std::process::Child, PathBuf)>,
}

impl Skiff {
    fn new() -> Skiff {
        let dir = tempfile::Builder::new()
            .prefix("skiff-parity-")
            .tempdir()
            .unwrap();
        let mut s = Skiff {
            root: dir.path().join("root"),
            runroot: dir.path().join("run"),
            ns: skiff_testkit::NetNs::new("skiff-parity"),
            dir,
            api: None,
        };
        if std::env::var_os("PARITY_VIA_API").is_some() {
            let sock = s.dir.path().join("api.sock");
            let child = s
                .cli(&["serve", "-H", &format!("unix://{}", sock.display())])
                .spawn()
                .expect("starting skiff serve");
            for _ in 0..200 {
                if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            s.api = Some((child, sock));
        }
        s
    }

    /// A scenario's command: skiff's CLI, or with `PARITY_VIA_API` the
    /// docker CLI against `skiff serve`.
    fn cmd<S: AsRef<str>>(&self, args: &[S]) -> Command {
        let Some((_, sock)) = &self.api else {
            return self.cli(args);
        };
        let mut c = Command::new("/usr/bin/docker");
        c.env("DOCKER_HOST", format!("unix://{}", sock.display()))
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .args(args.iter().map(|a| a.as_ref()))
            .stdin(Stdio::null());
        c
    }

    /// skiff's own CLI on this store (the setup, the cleanup).
    fn cli<S: AsRef<str>>(&self, args: &[S]) -> Command {
        let mut c = self.ns.command(env!("CARGO_BIN_EXE_skiff"));
        c.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .args(args.iter().map(|a| a.as_ref()))
            .stdin(Stdio::null());
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.cli(args).output().unwrap();
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
        if let Some((mut child, _)) = self.api.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Ok(o) = self.cli(&["ps", "-aq", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = self.cli(&["rm", "-f", id]).output();
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
        let docker = Dockerd::start("pd", skiff_testkit::NetNs::new("docker-parity"));
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
        // host files for binds and cp (read by both engines, never written)
        let f = e.files.path();
        std::fs::create_dir_all(f.join("bind-src")).unwrap();
        std::fs::write(f.join("bind-src/h.txt"), "hostfile\n").unwrap();
        std::fs::create_dir_all(f.join("cp/src/sub")).unwrap();
        std::fs::write(f.join("cp/src/a.txt"), "a\n").unwrap();
        std::fs::write(f.join("cp/src/sub/b.txt"), "b\n").unwrap();
        std::fs::write(f.join("cp/file.txt"), "f\n").unwrap();
        e
    }

    fn file(&self, name: &str) -> String {
        self.files.path().join(name).to_string_lossy().into_owned()
    }

    /// Where an engine keeps its volumes (`<root>/volumes/NAME/_data`):
    /// Docker's data root, skiff's --root.
    fn root(&self, side: Side) -> String {
        match side {
            Side::Docker => self.docker.dir.join("docker"),
            Side::Skiff => self.skiff.root.clone(),
        }
        .to_string_lossy()
        .into_owned()
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
                let mut c = self.docker.docker();
                c.args(args.iter().map(|a| a.as_ref())).stdin(Stdio::null());
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
            } else if hex && w.len() == 12 {
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
/// `2006-01-02 15:04:05[.999999999] -0700 MST` (`<gotime>`). RFC 3339 times without a fraction
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
    if datetime_at(b, i, b' ') {
        // Go's time.String: a fraction only when there is one
        let mut k = i + 19;
        if b.get(k) == Some(&b'.') {
            k += 1;
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
        }
        if !(b.get(k) == Some(&b' ')
            && matches!(b.get(k + 1), Some(b'+' | b'-'))
            && digits_at(b, k + 2, 4)
            && b.get(k + 6) == Some(&b' '))
        {
            return None;
        }
        let mut j = k + 7;
        while j < b.len() && b[j].is_ascii_uppercase() {
            j += 1;
        }
        if j > k + 7 {
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
    /// Volumes and images to remove when the scenario ends, per side.
    vols: Mutex<[Vec<String>; 2]>,
    images: Mutex<[Vec<String>; 2]>,
    /// Networks to remove when the scenario ends (after its containers).
    nets: Mutex<Vec<String>>,
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
            vols: Mutex::new([Vec::new(), Vec::new()]),
            images: Mutex::new([Vec::new(), Vec::new()]),
            nets: Mutex::new(Vec::new()),
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

    /// A volume `px-BASE`, removed from both engines when the scenario ends.
    fn vol(&self, base: &str) -> String {
        let n = format!("px-{base}");
        let mut v = self.vols.lock().unwrap();
        v[0].push(n.clone());
        v[1].push(n.clone());
        n
    }

    /// A volume known on one side only (an anonymous one), removed when the
    /// scenario ends.
    fn track_vol(&self, side: Side, name: &str) {
        self.vols.lock().unwrap()[side.idx()].push(name.trim().to_string());
    }

    /// A network `px-BASE`, removed from both engines when the scenario ends.
    fn net(&self, base: &str) -> String {
        let n = format!("px-{base}");
        self.nets.lock().unwrap().push(n.clone());
        n
    }

    /// An image (name or ID) removed when the scenario ends.
    fn track_image(&self, side: Side, image: &str) {
        self.images.lock().unwrap()[side.idx()].push(image.trim().to_string());
    }

    fn cleanup(&self) {
        let names = self.names.lock().unwrap().clone();
        let ids = self.ids.lock().unwrap().clone();
        let vols = self.vols.lock().unwrap().clone();
        let images = self.images.lock().unwrap().clone();
        let nets = self.nets.lock().unwrap().clone();
        self.each(|s| {
            // -v: the containers' anonymous volumes go with them
            for (cmd, list) in [
                (
                    &["rm", "-f", "-v"][..],
                    [&names[..], &ids[s.idx()][..]].concat(),
                ),
                (&["volume", "rm", "-f"][..], vols[s.idx()].clone()),
                (&["rmi", "-f"][..], images[s.idx()].clone()),
                (&["network", "rm"][..], nets.clone()),
            ] {
                if !list.is_empty() {
                    let mut all: Vec<String> = cmd.iter().map(|w| w.to_string()).collect();
                    all.extend(list);
                    let o = self.exec(s, &all);
                    // `rm -f` of what a scenario names and never made is fine.
                    if o.code != Some(0) && cmd[0] == "rm" && !o.err.contains("No such container") {
                        self.fail(format!(
                            "cleanup on {s:?}: `{}` exited {:?}: {}",
                            all.join(" "),
                            o.code,
                            show(o.err.trim_end())
                        ));
                    }
                }
            }
        });
        // Whatever is still there spoils the scenarios after (`system df`,
        // `ps -aq`): named here, then removed, so it spoils nothing else.
        self.each(|s| {
            let left = self.exec(s, &cl!("ps -a --format {{.ID}}:{{.Names}}:{{.Status}}"));
            if !left.raw_out.trim().is_empty() {
                self.fail(format!(
                    "left behind on {s:?}: {}",
                    show(left.raw_out.trim_end())
                ));
                let ids = self.exec(s, &cl!("ps -aq"));
                let mut all = cl!("rm -f -v");
                all.extend(ids.raw_out.split_whitespace().map(str::to_string));
                let _ = self.exec(s, &all);
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

    /// Run on both, apply `f` to each side's (normalized) stdout, compare.
    fn same_map(
        &self,
        step: &str,
        args: &[String],
        e: E,
        f: impl Fn(Side, &str) -> String,
    ) -> [Out; 2] {
        let o = map_out(self.both(args), f);
        self.check(step, args, &o, e);
        o
    }

    /// Per-side command lines (a host path or an ID of each side's own),
    /// shown as `shown`: each side's values in `subst` replaced by their
    /// token in its stdout and stderr, then compared.
    fn same_each(
        &self,
        step: &str,
        shown: &[String],
        args: impl Fn(Side) -> Vec<String> + Sync,
        subst: impl Fn(Side) -> Vec<(String, String)> + Sync,
        e: E,
    ) -> [Out; 2] {
        let o = self.each(|s| {
            let mut x = self.exec(s, &args(s));
            for (from, to) in subst(s) {
                if !from.is_empty() {
                    x.out = x.out.replace(&from, &to);
                    x.err = x.err.replace(&from, &to);
                }
            }
            x
        });
        self.check(step, shown, &o, e);
        o
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
                show(dk.raw_err.trim_end()),
                show(sk.raw_err.trim_end())
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

mod parity;
use parity::*;

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
    ("cli_flag_errors", cli_flag_errors),
    ("info_command", info_command),
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
    ("blkio_weight", blkio_weight),
    (
        "cpu_period_quota_reservation_and_update",
        cpu_period_quota_reservation_and_update,
    ),
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
    // volumes, binds, tmpfs
    ("volume_named_persists", volume_named_persists),
    ("volume_commands", volume_commands),
    ("volume_prune", volume_prune),
    ("volume_anonymous_rm", volume_anonymous_rm),
    ("volume_mounts_inspect", volume_mounts_inspect),
    (
        "volume_binds_and_tmpfs_inside",
        volume_binds_and_tmpfs_inside,
    ),
    ("volume_copy_up", volume_copy_up),
    ("etc_mtab_symlink", etc_mtab_symlink),
    ("inspect_json_indent", inspect_json_indent),
    ("volume_flag_validation", volume_flag_validation),
    // exec, pause, top, stats
    ("exec_output_and_codes", exec_output_and_codes),
    ("exec_not_running", exec_not_running),
    ("exec_privileged", exec_privileged),
    ("pause_unpause", pause_unpause),
    ("top_command", top_command),
    ("stats_no_stream", stats_no_stream),
    ("stats_cpu_and_block_io", stats_cpu_and_block_io),
    // diff, commit, cp, prune, system df
    ("diff_changes", diff_changes),
    ("commit_image", commit_image),
    ("commit_changes", commit_changes),
    ("cp_both_ways", cp_both_ways),
    ("container_prune", container_prune),
    ("system_df", system_df),
    // --init, health checks, -t, events
    ("init_flag", init_flag),
    ("healthcheck", healthcheck),
    ("run_tty", run_tty),
    ("events_actions", events_actions),
    // networking
    ("ipc_pid_and_groups", ipc_pid_and_groups),
    ("network_default_bridge", network_default_bridge),
    ("port_command", port_command),
    ("network_create_inspect", network_create_inspect),
    ("user_network_names", user_network_names),
    ("static_addresses", static_addresses),
    ("network_flag_validation", network_flag_validation),
    ("network_prune", network_prune),
    ("flags_given_twice", flags_given_twice),
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
