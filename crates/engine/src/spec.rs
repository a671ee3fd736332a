//! The OCI runtime config for a container, with Docker's defaults: its
//! capability set, masked and read-only paths, mounts, devices, and skiff's
//! default seccomp profile.

use crate::model::Container;
use serde_json::{json, Value};
use std::path::Path;

/// Docker's default capabilities.
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

pub const MASKED: [&str; 10] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

pub const READONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("invalid capability {0:?}")]
    BadCap(String),
    #[error("invalid --security-opt {0:?}")]
    BadSecurityOpt(String),
    #[error("opening seccomp profile {path}: {err}")]
    SeccompFile { path: String, err: String },
}

/// The capabilities of the host's bounding set (what `--privileged` grants).
pub fn host_caps() -> Vec<String> {
    let mut out = Vec::new();
    for c in caps::all() {
        if caps::has_cap(None, caps::CapSet::Bounding, c).unwrap_or(false) {
            out.push(c.to_string());
        }
    }
    out.sort();
    out
}

/// The container's capability set from Docker's defaults, `--cap-add` and
/// `--cap-drop` (`ALL` in either), or the host's with `--privileged`.
pub fn capabilities(c: &Container) -> Result<Vec<String>, SpecError> {
    if c.host.privileged {
        return Ok(host_caps());
    }
    // Docker's spellings: with or without CAP_, any case, or ALL.
    let norm = |s: &str| -> Result<String, SpecError> {
        if s.eq_ignore_ascii_case("ALL") || s.eq_ignore_ascii_case("CAP_ALL") {
            return Ok("ALL".into());
        }
        skiff_runtime::caps::parse(s)
            .map(|n| skiff_runtime::caps::name(n).to_string())
            .ok_or_else(|| SpecError::BadCap(s.to_string()))
    };
    let adds = c
        .host
        .cap_add
        .iter()
        .map(|s| norm(s))
        .collect::<Result<Vec<_>, _>>()?;
    let drops = c
        .host
        .cap_drop
        .iter()
        .map(|s| norm(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut set: Vec<String> = if drops.iter().any(|d| d == "ALL") {
        Vec::new()
    } else {
        DEFAULT_CAPS
            .iter()
            .map(|s| s.to_string())
            .filter(|s| !drops.contains(s))
            .collect()
    };
    if adds.iter().any(|a| a == "ALL") {
        set = skiff_runtime::caps::NAMES
            .iter()
            .map(|c| c.to_string())
            .collect();
    } else {
        for a in adds {
            if !set.contains(&a) {
                set.push(a);
            }
        }
    }
    set.sort();
    Ok(set)
}

/// The uid, gid and additional gids for `user` (`name|uid[:group|gid]`),
/// looked up in the container's /etc/passwd and /etc/group.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), SpecError> {
    resolve_user_home(rootfs, user, &[]).map(|(u, g, x, _)| (u, g, x))
}

/// [`resolve_user`] and the user's home directory (`/` when passwd has no
/// entry), as Docker sets HOME.
pub fn resolve_user_home(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
) -> Result<(u32, u32, Vec<u32>, String), SpecError> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let mut name = None;
    let mut home = "/".to_string();
    let root_entry = || {
        passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 6 && f[2] == "0")
            .map(|f| (f[0].to_string(), f[5].to_string()))
    };
    let (uid, mut gid) = if u.is_empty() {
        if let Some((n, h)) = root_entry() {
            name = Some(n);
            home = h;
        }
        (0, 0)
    } else {
        let entry = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 4 && (f[0] == u || (u.parse::<u32>().is_ok() && f[2] == u)));
        match (entry, u.parse::<u32>()) {
            (Some(f), _) => {
                name = Some(f[0].to_string());
                if let Some(h) = f.get(5).filter(|h| !h.is_empty()) {
                    home = h.to_string();
                }
                (f[2].parse().unwrap_or(0), f[3].parse().unwrap_or(0))
            }
            (None, Ok(n)) => (n, 0),
            (None, Err(_)) => return Err(SpecError::NoUser(u.to_string())),
        }
    };
    if let Some(g) = g {
        gid = match group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 3 && (f[0] == g || f[2] == g))
        {
            Some(f) => f[2].parse().unwrap_or(0),
            None => g.parse().map_err(|_| SpecError::NoGroup(g.to_string()))?,
        };
    }
    // The groups: the primary one, then those listing the user by name
    // (Docker's runtime sets both).
    let mut extra = vec![gid];
    if let Some(n) = &name {
        for l in group.lines() {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 4 && f[3].split(',').any(|m| m == n) {
                if let Ok(id) = f[2].parse::<u32>() {
                    if !extra.contains(&id) {
                        extra.push(id);
                    }
                }
            }
        }
    }
    // `--group-add` (and a pod's supplemental groups), for the process and
    // every exec.
    for g in group_add {
        let id = group_id(rootfs, g)?;
        if !extra.contains(&id) {
            extra.push(id);
        }
    }
    Ok((uid, gid, extra, home))
}

/// Docker's environment: `PATH` (unless set), `HOSTNAME`, `TERM` on a
/// terminal, then the container's own (which the image and `-e` made).
pub fn environment(c: &Container, hostname: &str) -> Vec<String> {
    environment_with_home(c, hostname, None)
}

/// [`environment`], with HOME (unless the container's env sets it).
pub fn environment_with_home(c: &Container, hostname: &str, home: Option<&str>) -> Vec<String> {
    let mut env = Vec::new();
    if !c.config.env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(DEFAULT_PATH.to_string());
    }
    env.push(format!("HOSTNAME={hostname}"));
    if c.config.tty {
        env.push("TERM=xterm".into());
    }
    for e in &c.config.env {
        let key = e.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    if let Some(h) = home {
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={h}"));
        }
    }
    env
}

/// Whether the container gets interfaces on bridge networks (not none,
/// host or another container's namespace).
pub fn bridged(c: &Container) -> bool {
    let m = c.host.network_mode.as_str();
    !(m == "none" || m == "host" || m.starts_with("container:"))
}

/// The container's host name: `-h`, the host's own with `--network host`,
/// else the short ID.
pub fn hostname(c: &Container) -> String {
    if !c.config.hostname.is_empty() {
        c.config.hostname.clone()
    } else if c.host.network_mode == "host" {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| c.id[..12].to_string())
    } else {
        c.id[..12].to_string()
    }
}

/// A `--group-add` value: a number, or a group of the image's /etc/group.
fn group_id(rootfs: &Path, g: &str) -> Result<u32, SpecError> {
    if let Ok(n) = g.parse() {
        return Ok(n);
    }
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[0] == g)
        .and_then(|f| f[2].parse().ok())
        .ok_or_else(|| SpecError::NoGroup(g.to_string()))
}

/// Everything [`build`] needs beside the container.
pub struct SpecInput<'a> {
    /// The container's mounted root filesystem.
    pub rootfs: &'a Path,
    /// Host files bind-mounted to /etc/hostname, /etc/hosts, /etc/resolv.conf.
    pub etc_files: &'a [(String, std::path::PathBuf)],
    /// Extra mounts (volumes, binds, tmpfs) as OCI mount objects.
    pub mounts: Vec<Value>,
    /// The path of the init binary bind-mounted for `--init`.
    pub init: Option<&'a Path>,
    /// (rows, columns) of the client's terminal, for `-t`.
    pub console_size: Option<(u16, u16)>,
    /// Namespaces joined from another container (`--network`, `--ipc`,
    /// `--pid container:X`): the OCI type ("network", "ipc", "pid") and the
    /// path to join.
    pub joins: Vec<(&'static str, String)>,
}

/// The OCI config for `c`.
pub fn build(c: &Container, input: &SpecInput<'_>) -> Result<Value, SpecError> {
    let hostname = hostname(c);
    let (uid, gid, extra, home) =
        resolve_user_home(input.rootfs, &c.config.user, &c.host.group_add)?;
    let caps = capabilities(c)?;
    let mut args: Vec<String> = c.config.entrypoint.clone();
    args.extend(c.config.cmd.iter().cloned());
    if input.init.is_some() {
        args.insert(0, "--".into());
        args.insert(0, "/sbin/docker-init".into());
    }
    let cwd = if c.config.working_dir.is_empty() {
        "/".to_string()
    } else {
        c.config.working_dir.clone()
    };
    let mut rlimits = Vec::new();
    for u in &c.host.ulimits {
        rlimits.push(json!({
            "type": format!("RLIMIT_{}", u.name.to_ascii_uppercase()),
            "soft": u.soft, "hard": u.hard,
        }));
    }
    let no_new_privs = c.host.security_opt.iter().any(|o| {
        matches!(
            o.as_str(),
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true"
        )
    });
    let mut process = json!({
        "terminal": c.config.tty,
        "user": {"uid": uid, "gid": gid},
        "args": args,
        "env": environment_with_home(c, &hostname, Some(&home)),
        "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": no_new_privs,
        "oomScoreAdj": 0,
    });
    if !extra.is_empty() {
        process["user"]["additionalGids"] = json!(extra);
    }
    if let (true, Some((rows, cols))) = (c.config.tty, input.console_size) {
        process["consoleSize"] = json!({"height": rows, "width": cols});
    }
    if !rlimits.is_empty() {
        process["rlimits"] = Value::Array(rlimits);
    }

    let sys_ro = if c.host.privileged { "rw" } else { "ro" };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", sys_ro]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": ["nosuid", "noexec", "nodev", "relatime", sys_ro]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
    ];
    // A mount of the container's own on /dev/shm replaces the default one.
    if input.mounts.iter().any(|m| m["destination"] == "/dev/shm") {
        mounts.retain(|m| m["destination"] != "/dev/shm");
    }
    if let Some(init) = input.init {
        mounts.push(json!({"destination": "/sbin/docker-init", "type": "bind",
            "source": init, "options": ["bind", "ro"]}));
    }
    mounts.extend(input.mounts.iter().cloned());
    // After the volumes, as Docker: a volume on /etc still shows them.
    for (dest, src) in input.etc_files {
        mounts.push(json!({"destination": dest, "type": "bind",
            "source": src, "options": ["rbind", "rprivate"]}));
    }

    let mut namespaces = vec![json!({"type": "uts"}), json!({"type": "mount"})];
    for (typ, mode) in [
        ("pid", &c.host.pid_mode),
        ("ipc", &c.host.ipc_mode),
        ("network", &c.host.network_mode),
    ] {
        match input.joins.iter().find(|(t, _)| *t == typ) {
            Some((_, p)) => namespaces.push(json!({"type": typ, "path": p})),
            None if mode != "host" => namespaces.push(json!({"type": typ})),
            None => {}
        }
    }
    // Docker makes a private cgroup namespace where cgroup v2 is the only
    // hierarchy, and shares the host's elsewhere.
    if skiff_runtime::cgroups::Layout::detect_once()
        .map(|l| l.v1.is_empty() && l.unified.is_some())
        .unwrap_or(false)
    {
        namespaces.push(json!({"type": "cgroup"}));
    }

    let mut resources = resources(c);
    if !c.host.privileged {
        resources["devices"] = json!([{"allow": false, "access": "rwm"}]);
    }

    let mut linux = json!({
        "namespaces": namespaces,
        "resources": resources,
        "cgroupsPath": format!("/skiff/{}", c.id),
    });
    if !c.host.privileged {
        linux["maskedPaths"] = json!(MASKED);
        linux["readonlyPaths"] = json!(READONLY);
    }
    if let Some(s) = seccomp(c, &caps)? {
        linux["seccomp"] = s;
    }
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": input.rootfs, "readonly": c.host.read_only_rootfs},
        "hostname": hostname,
        "mounts": mounts,
        "linux": linux,
    }))
}

/// The seccomp profile: skiff's default, a file's (`seccomp=FILE`), or none
/// (`seccomp=unconfined`, `--privileged`).
fn seccomp(c: &Container, caps: &[String]) -> Result<Option<Value>, SpecError> {
    if c.host.privileged {
        return Ok(None);
    }
    for o in &c.host.security_opt {
        let Some(v) = o
            .strip_prefix("seccomp=")
            .or_else(|| o.strip_prefix("seccomp:"))
        else {
            continue;
        };
        if v == "unconfined" {
            return Ok(None);
        }
        // The file's content was read when the container was created.
        let profile: Value = serde_json::from_str(v).map_err(|e| SpecError::SeccompFile {
            path: "(stored)".into(),
            err: e.to_string(),
        })?;
        return Ok(Some(profile));
    }
    let p = crate::seccomp_profile::default_profile(caps);
    Ok(Some(serde_json::to_value(p).expect("seccomp serializes")))
}

/// The OCI `linux.resources` of the container's limits (memory, CPU,
/// pids), as at its start and at an `update`.
pub(crate) fn resources(c: &Container) -> serde_json::Value {
    let mut resources = json!({});
    if c.host.memory > 0 {
        resources["memory"] = json!({"limit": c.host.memory});
        match c.host.memory_swap {
            0 => resources["memory"]["swap"] = json!(c.host.memory * 2),
            -1 => resources["memory"]["swap"] = json!(-1),
            s => resources["memory"]["swap"] = json!(s),
        }
    }
    if c.host.nano_cpus > 0 {
        let period = 100_000i64;
        resources["cpu"] =
            json!({"quota": c.host.nano_cpus * period / 1_000_000_000, "period": period});
    }
    if c.host.cpu_period > 0 {
        resources["cpu"]["period"] = json!(c.host.cpu_period);
    }
    if c.host.cpu_quota > 0 {
        resources["cpu"]["quota"] = json!(c.host.cpu_quota);
    }
    if c.host.cpu_shares > 0 {
        resources["cpu"]["shares"] = json!(c.host.cpu_shares);
    }
    if !c.host.cpuset_cpus.is_empty() {
        resources["cpu"]["cpus"] = json!(c.host.cpuset_cpus);
    }
    if !c.host.cpuset_mems.is_empty() {
        resources["cpu"]["mems"] = json!(c.host.cpuset_mems);
    }
    if c.host.blkio_weight > 0 {
        resources["blockIO"] = json!({"weight": c.host.blkio_weight});
    }
    if c.host.memory_reservation > 0 {
        resources["memory"]["reservation"] = json!(c.host.memory_reservation);
    }
    if c.host.pids_limit > 0 {
        resources["pids"] = json!({"limit": c.host.pids_limit});
    }
    resources
}
