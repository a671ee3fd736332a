//! runc's command line, as containerd's runc shim, podman and conmon call it.
//!
//! A small hand-written parser: Go-style flags (`--flag value`, `--flag=value`,
//! `-flag value`, boolean `--flag=false`), the global flags before the command,
//! then one library call per command.

use crate::container::{self, CreateOpts};
use crate::exec::{self, ExecOpts};
use crate::log;
use crate::spec::{Process, Resources};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A flag a command accepts: its names (without dashes) and whether it takes a value.
struct Flag(&'static [&'static str], bool);

const GLOBAL: &[Flag] = &[
    Flag(&["root"], true),
    Flag(&["log"], true),
    Flag(&["log-format"], true),
    Flag(&["debug"], false),
    Flag(&["systemd-cgroup"], false),
    Flag(&["criu"], true),
    Flag(&["rootless"], true),
    Flag(&["version", "v"], false),
    Flag(&["help", "h"], false),
];

const CREATE: &[Flag] = &[
    Flag(&["bundle", "b"], true),
    Flag(&["console-socket"], true),
    Flag(&["pid-file"], true),
    Flag(&["no-pivot"], false),
    Flag(&["no-new-keyring"], false),
    Flag(&["preserve-fds"], true),
    Flag(&["pidfd-socket"], true),
    Flag(&["detach", "d"], false),
    Flag(&["keep"], false),
];

const EXEC: &[Flag] = &[
    Flag(&["process", "p"], true),
    Flag(&["detach", "d"], false),
    Flag(&["pid-file"], true),
    Flag(&["console-socket"], true),
    Flag(&["tty", "t"], false),
    Flag(&["cwd"], true),
    Flag(&["env", "e"], true),
    Flag(&["user", "u"], true),
    Flag(&["additional-gids", "g"], true),
    Flag(&["cap", "c"], true),
    Flag(&["no-new-privs"], false),
    Flag(&["preserve-fds"], true),
    Flag(&["process-label"], true),
    Flag(&["apparmor"], true),
    Flag(&["cgroup"], true),
    Flag(&["ignore-paused"], false),
    Flag(&["pidfd-socket"], true),
];

const UPDATE: &[Flag] = &[
    Flag(&["resources", "r"], true),
    Flag(&["memory"], true),
    Flag(&["memory-swap"], true),
    Flag(&["memory-reservation"], true),
    Flag(&["cpu-shares"], true),
    Flag(&["cpu-quota"], true),
    Flag(&["cpu-period"], true),
    Flag(&["cpuset-cpus"], true),
    Flag(&["cpuset-mems"], true),
    Flag(&["pids-limit"], true),
    Flag(&["blkio-weight"], true),
];

#[derive(Debug, Default)]
struct Parsed {
    /// flag name (first alias) -> values in order
    flags: HashMap<&'static str, Vec<String>>,
    args: Vec<String>,
}

impl Parsed {
    fn get(&self, k: &str) -> Option<&str> {
        self.flags.get(k).and_then(|v| v.last()).map(String::as_str)
    }
    fn all(&self, k: &str) -> Vec<String> {
        self.flags.get(k).cloned().unwrap_or_default()
    }
    fn on(&self, k: &str) -> bool {
        self.get(k).is_some_and(|v| v != "false")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

/// Parse flags from `args`. With `stop_at_positional`, the first positional ends
/// flag parsing (the rest is a command line, as for `exec ID CMD...`).
fn parse(args: &[String], spec: &[Flag], stop_at_positional: bool) -> Result<Parsed, Usage> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            p.args.extend(args[i + 1..].iter().cloned());
            break;
        }
        if a.len() > 1 && a.starts_with('-') {
            let body = a.trim_start_matches('-');
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let f = spec
                .iter()
                .find(|f| f.0.contains(&name))
                .ok_or_else(|| Usage(format!("flag provided but not defined: -{name}")))?;
            let value = if f.1 {
                match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| Usage(format!("flag needs an argument: -{name}")))?
                    }
                }
            } else {
                inline.unwrap_or_else(|| "true".into())
            };
            p.flags.entry(f.0[0]).or_default().push(value);
        } else {
            if stop_at_positional {
                p.args.extend(args[i..].iter().cloned());
                break;
            }
            p.args.push(a.clone());
        }
        i += 1;
    }
    Ok(p)
}

/// Entry point of `skiff-runtime`: returns the process exit code.
pub fn main(argv: Vec<String>) -> i32 {
    match run(argv) {
        Ok(code) => code,
        Err(e) => {
            log::error(&e.to_string());
            1
        }
    }
}

fn one_id(p: &Parsed, cmd: &str) -> Result<String, anyhow_lite::Error> {
    match p.args.first() {
        Some(id) if !id.is_empty() => Ok(id.clone()),
        _ => Err(Usage(format!("{cmd}: a container id is required")).into()),
    }
}

mod anyhow_lite {
    /// The CLI's own error: a usage problem or a runtime error.
    #[derive(Debug, thiserror::Error)]
    pub enum Error {
        #[error(transparent)]
        Usage(#[from] super::Usage),
        #[error(transparent)]
        Runtime(#[from] crate::Error),
        #[error("{0}")]
        Other(String),
    }
}

use anyhow_lite::Error as CliError;

fn run(argv: Vec<String>) -> Result<i32, CliError> {
    let args: Vec<String> = argv.into_iter().skip(1).collect();
    // Global flags come before the command.
    let cmd_pos = {
        let mut i = 0;
        loop {
            let Some(a) = args.get(i) else { break None };
            if !a.starts_with('-') {
                break Some(i);
            }
            let name = a.trim_start_matches('-');
            let takes = GLOBAL
                .iter()
                .find(|f| f.0.contains(&name.split('=').next().unwrap_or("")))
                .map(|f| f.1 && !name.contains('='))
                .unwrap_or(false);
            i += if takes { 2 } else { 1 };
        }
    };
    let (gargs, rest) = match cmd_pos {
        Some(i) => (&args[..i], &args[i..]),
        None => (&args[..], &[][..]),
    };
    let g = parse(gargs, GLOBAL, false)?;
    let json = g.get("log-format") == Some("json");
    let _ = log::init(g.get("log").map(std::path::Path::new), json, g.on("debug"));
    if g.on("version") {
        println!(
            "skiff-runtime version {VERSION}\nspec: {}",
            crate::state::SPEC_VERSION
        );
        return Ok(0);
    }
    let root = PathBuf::from(g.get("root").unwrap_or("/run/skiff-runtime"));
    let systemd = g.on("systemd-cgroup");
    let Some((cmd, cargs)) = rest.split_first() else {
        println!("{}", HELP);
        return Ok(if g.on("help") { 0 } else { 1 });
    };
    match cmd.as_str() {
        "create" | "run" => {
            let p = parse(cargs, CREATE, false)?;
            let id = one_id(&p, cmd)?;
            let opts = CreateOpts {
                id,
                bundle: PathBuf::from(p.get("bundle").unwrap_or(".")),
                pid_file: p.get("pid-file").map(PathBuf::from),
                console_socket: p.get("console-socket").map(PathBuf::from),
                no_pivot: p.on("no-pivot"),
                no_new_keyring: p.on("no-new-keyring"),
                preserve_fds: parse_num(p.get("preserve-fds").unwrap_or("0"), "preserve-fds")?,
                systemd_cgroup: systemd,
                // Engines hand every container the same large profile.
                seccomp_cache: Some(root.join(".seccomp-cache")),
                root,
                stdio: None,
            };
            if cmd == "create" {
                container::create(&opts)?;
                Ok(0)
            } else {
                Ok(container::run(&opts, p.on("detach"))?)
            }
        }
        "start" => {
            let p = parse(cargs, &[], false)?;
            container::start(&root, &one_id(&p, cmd)?)?;
            Ok(0)
        }
        "state" => {
            let p = parse(cargs, &[], false)?;
            println!("{}", container::state_json(&root, &one_id(&p, cmd)?)?);
            Ok(0)
        }
        "kill" => {
            let p = parse(cargs, &[Flag(&["all", "a"], false)], false)?;
            let id = one_id(&p, cmd)?;
            let sig = p.args.get(1).map(String::as_str).unwrap_or("SIGTERM");
            let n = crate::signals::parse(sig)
                .ok_or_else(|| CliError::Other(format!("unknown signal {sig:?}")))?;
            container::kill(&root, &id, n, p.on("all"))?;
            Ok(0)
        }
        "delete" => {
            let p = parse(cargs, &[Flag(&["force", "f"], false)], false)?;
            container::delete(&root, &one_id(&p, cmd)?, p.on("force"))?;
            Ok(0)
        }
        "pause" => {
            let p = parse(cargs, &[], false)?;
            container::pause(&root, &one_id(&p, cmd)?)?;
            Ok(0)
        }
        "resume" => {
            let p = parse(cargs, &[], false)?;
            container::resume(&root, &one_id(&p, cmd)?)?;
            Ok(0)
        }
        "ps" => {
            let p = parse(cargs, &[Flag(&["format", "f"], true)], true)?;
            let id = one_id(&p, cmd)?;
            let pids = container::pids(&root, &id)?;
            if p.get("format") == Some("json") {
                println!("{}", serde_json::to_string(&pids).expect("json"));
            } else {
                print_ps_table(&pids, &p.args[1..])?;
            }
            Ok(0)
        }
        "exec" => cmd_exec(cargs, root),
        "update" => cmd_update(cargs, root),
        "list" => {
            let p = parse(
                cargs,
                &[Flag(&["format", "f"], true), Flag(&["quiet", "q"], false)],
                false,
            )?;
            cmd_list(&root, p.get("format") == Some("json"), p.on("quiet"));
            Ok(0)
        }
        "features" => {
            println!("{}", features_json());
            Ok(0)
        }
        "spec" => {
            let p = parse(
                cargs,
                &[Flag(&["bundle", "b"], true), Flag(&["rootless"], false)],
                false,
            )?;
            let dir = PathBuf::from(p.get("bundle").unwrap_or("."));
            let path = dir.join("config.json");
            if path.exists() {
                return Err(CliError::Other(format!(
                    "File {} exists. Remove it first",
                    path.display()
                )));
            }
            std::fs::write(&path, default_spec(p.on("rootless"))).map_err(|err| {
                crate::Error::Io {
                    op: "writing",
                    path: path.clone(),
                    err,
                }
            })?;
            Ok(0)
        }
        "help" => {
            println!("{HELP}");
            Ok(0)
        }
        other => Err(Usage(format!(
            "unknown command {other:?}; run 'skiff-runtime help'"
        ))
        .into()),
    }
}

fn parse_num<T: std::str::FromStr>(s: &str, flag: &str) -> Result<T, CliError> {
    s.parse()
        .map_err(|_| CliError::Other(format!("invalid value {s:?} for --{flag}")))
}

fn cmd_exec(cargs: &[String], root: PathBuf) -> Result<i32, CliError> {
    let p = parse(cargs, EXEC, true)?;
    let id = one_id(&p, "exec")?;
    let process = match p.get("process") {
        Some(f) => {
            let data = std::fs::read(f).map_err(|err| crate::Error::Io {
                op: "reading process file",
                path: f.into(),
                err,
            })?;
            serde_json::from_slice::<Process>(&data)
                .map_err(|e| CliError::Other(format!("process file {f} is not valid: {e}")))?
        }
        None => {
            let st = crate::state::State::load(&root, &id).map_err(crate::Error::from)?;
            let mut proc = st.config.process.clone().unwrap_or_default();
            proc.args = p.args[1..].to_vec();
            if proc.args.is_empty() {
                return Err(Usage("exec: a command is required (or --process FILE)".into()).into());
            }
            proc.terminal = p.on("tty");
            if let Some(cwd) = p.get("cwd") {
                proc.cwd = cwd.to_string();
            }
            for kv in p.all("env") {
                let key = kv.split('=').next().unwrap_or("").to_string();
                proc.env
                    .retain(|e| e.split('=').next() != Some(key.as_str()));
                proc.env.push(kv);
            }
            if let Some(u) = p.get("user") {
                let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
                proc.user.uid = parse_num(uid, "user")?;
                proc.user.gid = parse_num(gid, "user")?;
            }
            for g in p.all("additional-gids") {
                proc.user
                    .additional_gids
                    .push(parse_num(&g, "additional-gids")?);
            }
            let caps_add = p.all("cap");
            if !caps_add.is_empty() {
                let c = proc.capabilities.get_or_insert_with(Default::default);
                for set in [
                    &mut c.bounding,
                    &mut c.effective,
                    &mut c.permitted,
                    &mut c.ambient,
                ] {
                    set.get_or_insert_with(Vec::new)
                        .extend(caps_add.iter().cloned());
                }
            }
            if p.on("no-new-privs") {
                proc.no_new_privileges = true;
            }
            proc
        }
    };
    let opts = ExecOpts {
        seccomp_cache: Some(root.join(".seccomp-cache")),
        root,
        id,
        process,
        detach: p.on("detach"),
        pid_file: p.get("pid-file").map(PathBuf::from),
        console_socket: p.get("console-socket").map(PathBuf::from),
        preserve_fds: parse_num(p.get("preserve-fds").unwrap_or("0"), "preserve-fds")?,
        stdio: None,
    };
    Ok(exec::exec(&opts)?)
}

fn cmd_update(cargs: &[String], root: PathBuf) -> Result<i32, CliError> {
    let p = parse(cargs, UPDATE, false)?;
    let id = one_id(&p, "update")?;
    let mut res: Resources = match p.get("resources") {
        Some(src) => {
            let mut data = Vec::new();
            if src == "-" {
                std::io::stdin()
                    .read_to_end(&mut data)
                    .map_err(|e| CliError::Other(format!("reading resources from stdin: {e}")))?;
            } else {
                data = std::fs::read(src)
                    .map_err(|e| CliError::Other(format!("reading {src}: {e}")))?;
            }
            serde_json::from_slice(&data)
                .map_err(|e| CliError::Other(format!("resources JSON is not valid: {e}")))?
        }
        None => Resources::default(),
    };
    let mem = |r: &mut Resources| r.memory.get_or_insert_with(Default::default).clone();
    if let Some(v) = p.get("memory") {
        let mut m = mem(&mut res);
        m.limit = Some(parse_size(v)?);
        res.memory = Some(m);
    }
    if let Some(v) = p.get("memory-swap") {
        let mut m = mem(&mut res);
        m.swap = Some(parse_size(v)?);
        res.memory = Some(m);
    }
    if let Some(v) = p.get("memory-reservation") {
        let mut m = mem(&mut res);
        m.reservation = Some(parse_size(v)?);
        res.memory = Some(m);
    }
    {
        let cpu = res.cpu.get_or_insert_with(Default::default);
        let mut touched = false;
        if let Some(v) = p.get("cpu-shares") {
            cpu.shares = Some(parse_num(v, "cpu-shares")?);
            touched = true;
        }
        if let Some(v) = p.get("cpu-quota") {
            cpu.quota = Some(parse_num(v, "cpu-quota")?);
            touched = true;
        }
        if let Some(v) = p.get("cpu-period") {
            cpu.period = Some(parse_num(v, "cpu-period")?);
            touched = true;
        }
        if let Some(v) = p.get("cpuset-cpus") {
            cpu.cpus = Some(v.to_string());
            touched = true;
        }
        if let Some(v) = p.get("cpuset-mems") {
            cpu.mems = Some(v.to_string());
            touched = true;
        }
        if !touched && p.get("resources").is_none() {
            res.cpu = None;
        }
    }
    if let Some(v) = p.get("pids-limit") {
        res.pids = Some(crate::spec::Pids {
            limit: parse_num(v, "pids-limit")?,
        });
    }
    if let Some(v) = p.get("blkio-weight") {
        res.block_io.get_or_insert_with(Default::default).weight =
            Some(parse_num(v, "blkio-weight")?);
    }
    container::update(&root, &id, &res)?;
    Ok(0)
}

/// "512m", "1g", "1024", "-1".
fn parse_size(s: &str) -> Result<i64, CliError> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('b') => (&t[..t.len() - 1], 1),
        _ => (&t[..], 1),
    };
    let n: i64 = parse_num(num, "memory")?;
    Ok(if n < 0 { n } else { n * mul })
}

fn print_ps_table(pids: &[i32], ps_args: &[String]) -> Result<(), CliError> {
    let (header, lines) = crate::ps::lines_of(pids, ps_args).map_err(CliError::Other)?;
    println!("{header}");
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

fn cmd_list(root: &std::path::Path, json: bool, quiet: bool) {
    let all = container::list(root);
    if quiet {
        for (st, _) in &all {
            println!("{}", st.id);
        }
        return;
    }
    if json {
        let v: Vec<serde_json::Value> = all
            .iter()
            .map(|(st, status)| {
                serde_json::json!({
                    "ociVersion": crate::state::SPEC_VERSION,
                    "id": st.id, "pid": if *status == crate::state::Status::Stopped { 0 } else { st.pid },
                    "status": status, "bundle": st.bundle, "rootfs": st.rootfs,
                    "created": st.created, "owner": st.owner,
                    "annotations": st.config.annotations,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return;
    }
    let mut rows = vec![[
        "ID".to_string(),
        "PID".into(),
        "STATUS".into(),
        "BUNDLE".into(),
        "CREATED".into(),
        "OWNER".into(),
    ]];
    for (st, status) in &all {
        let pid = if *status == crate::state::Status::Stopped {
            0
        } else {
            st.pid
        };
        rows.push([
            st.id.clone(),
            pid.to_string(),
            status.to_string(),
            st.bundle.display().to_string(),
            st.created.clone(),
            if st.owner.is_empty() {
                "root".into()
            } else {
                st.owner.clone()
            },
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c == 5 {
                    v.clone()
                } else {
                    format!("{v:<w$}", w = widths[c] + 3)
                }
            })
            .collect();
        println!("{}", line.concat());
    }
}

fn features_json() -> String {
    let caps: Vec<&str> = crate::caps::NAMES.to_vec();
    serde_json::to_string_pretty(&serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::state::SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
            "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "nolazytime",
            "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime",
            "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared",
            "silent", "slave", "strictatime", "suid", "sync", "unbindable", "rro", "rrw",
            "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnoatime", "ratime",
            "rnodiratime", "rdiratime", "rrelatime", "rnorelatime", "rstrictatime",
            "rnostrictatime", "rnosymfollow", "rsymfollow"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM",
                    "SCMP_ARCH_AARCH64"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                    "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                    "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {"org.opencontainers.runtime-spec.features": "skiff-runtime"}
    }))
    .expect("json")
}

/// The config `spec` writes: runc's default, a shell on a terminal.
pub fn default_spec(rootless: bool) -> String {
    let caps = serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut ns = vec![
        serde_json::json!({"type": "pid"}),
        serde_json::json!({"type": "network"}),
        serde_json::json!({"type": "ipc"}),
        serde_json::json!({"type": "uts"}),
        serde_json::json!({"type": "mount"}),
        serde_json::json!({"type": "cgroup"}),
    ];
    let mut linux = serde_json::json!({
        "resources": {"devices": [{"allow": false, "access": "rwm"}]},
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
            "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    });
    if rootless {
        ns.push(serde_json::json!({"type": "user"}));
        // SAFETY: getuid/getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        linux["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    }
    linux["namespaces"] = serde_json::Value::Array(ns);
    serde_json::to_string_pretty(&serde_json::json!({
        "ociVersion": crate::state::SPEC_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "skiff",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": linux
    }))
    .expect("json")
}

const HELP: &str = "skiff-runtime: an OCI runtime with runc's command line

usage: skiff-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug]
                     [--systemd-cgroup] COMMAND [OPTIONS] ID

commands:
  create    create a container (its process waits for start)
  start     start a created container
  run       create and start a container, wait for it unless --detach
  state     print a container's state as JSON
  kill      send a signal to a container (--all: every process)
  delete    delete a container (--force: even if running)
  exec      run a new process in a container
  ps        list a container's processes (--format json)
  pause     freeze a container
  resume    thaw a container
  update    change a container's resource limits (--resources FILE|-)
  list      list containers
  features  print the runtime's features as JSON
  spec      write a default config.json";

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn go_style_flags() {
        let p = parse(
            &s(&["--bundle", "/b", "-pid-file=/p", "--no-pivot", "id1"]),
            CREATE,
            false,
        )
        .unwrap();
        assert_eq!(p.get("bundle"), Some("/b"));
        assert_eq!(p.get("pid-file"), Some("/p"));
        assert!(p.on("no-pivot"));
        assert_eq!(p.args, vec!["id1"]);
    }

    #[test]
    fn exec_stops_at_command() {
        let p = parse(&s(&["-e", "A=1", "c1", "sh", "-c", "echo hi"]), EXEC, true).unwrap();
        assert_eq!(p.all("env"), vec!["A=1"]);
        assert_eq!(p.args, s(&["c1", "sh", "-c", "echo hi"]));
    }

    #[test]
    fn unknown_flag_is_named() {
        let e = parse(&s(&["--bogus"]), CREATE, false).unwrap_err();
        assert!(e.to_string().contains("-bogus"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("-1").unwrap(), -1);
    }
}
