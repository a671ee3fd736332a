//! Tests on the host's real cgroups (they need root, as CI runs them):
//! create a uniquely named cgroup, apply limits and read them back, move a
//! process in, freeze, thaw and kill it, and remove the cgroup. A guard
//! kills the process and removes the cgroups even when an assertion fails.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sys::signal::Signal;

use super::{Layout, Manager, Unified};
use crate::spec::Resources;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("/skiff-test-{}-{tag}-{n}", std::process::id())
}

/// Kills the child and removes the cgroups (innermost first) on drop.
struct Guard {
    managers: Vec<Manager>,
    children: Vec<Child>,
}

impl Guard {
    fn new(managers: Vec<Manager>) -> Guard {
        Guard {
            managers,
            children: Vec::new(),
        }
    }

    fn m(&self) -> &Manager {
        &self.managers[0]
    }

    fn spawn_sleep(&mut self) -> i32 {
        let child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id() as i32;
        self.children.push(child);
        pid
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for child in &mut self.children {
            if let Some(m) = self.managers.first() {
                let _ = m.thaw();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for m in &self.managers {
            let _ = m.destroy();
        }
    }
}

fn resources(json: &str) -> Resources {
    serde_json::from_str(json).unwrap()
}

fn read(m: &Manager, controller: &str, file: &str) -> String {
    let dir = m.dir_for(controller).unwrap();
    std::fs::read_to_string(dir.join(file))
        .unwrap()
        .trim_end()
        .to_string()
}

fn is_v1(m: &Manager, controller: &str) -> bool {
    m.layout().v1_hierarchy(controller).is_some()
}

#[test]
fn host_lifecycle() {
    let layout = Layout::detect().unwrap();
    let mut g = Guard::new(vec![Manager::new(layout, &unique("life"))]);
    g.m().create().unwrap();
    let m = g.m().clone();
    for (name, dir) in m.dirs() {
        assert!(dir.is_dir(), "{name}: {}", dir.display());
    }

    let mem_v1 = is_v1(&m, "memory");
    let swap = if mem_v1 {
        m.dir_for("memory")
            .unwrap()
            .join("memory.memsw.limit_in_bytes")
            .exists()
    } else {
        m.dir_for("memory")
            .is_some_and(|d| d.join("memory.swap.max").exists())
    };
    let memory = |limit: u64, total: u64| {
        if swap {
            format!(r#""memory": {{"limit": {limit}, "swap": {total}}}"#)
        } else {
            format!(r#""memory": {{"limit": {limit}}}"#)
        }
    };
    let check_memory = |limit: u64, total: u64| {
        if mem_v1 {
            assert_eq!(
                read(&m, "memory", "memory.limit_in_bytes"),
                limit.to_string()
            );
            if swap {
                assert_eq!(
                    read(&m, "memory", "memory.memsw.limit_in_bytes"),
                    total.to_string()
                );
            }
        } else {
            assert_eq!(read(&m, "memory", "memory.max"), limit.to_string());
            if swap {
                assert_eq!(
                    read(&m, "memory", "memory.swap.max"),
                    (total - limit).to_string()
                );
            }
        }
    };
    const MIB: u64 = 1 << 20;
    let json = format!(
        r#"{{ {}, "pids": {{"limit": 32}},
             "cpu": {{"shares": 512, "quota": 20000, "period": 100000, "cpus": "0"}} }}"#,
        memory(64 * MIB, 128 * MIB)
    );
    m.apply(&resources(&json)).unwrap();
    check_memory(64 * MIB, 128 * MIB);
    assert_eq!(read(&m, "pids", "pids.max"), "32");
    assert_eq!(read(&m, "cpuset", "cpuset.cpus"), "0");
    if is_v1(&m, "cpu") {
        assert_eq!(read(&m, "cpu", "cpu.shares"), "512");
        assert_eq!(read(&m, "cpu", "cpu.cfs_quota_us"), "20000");
        assert_eq!(read(&m, "cpu", "cpu.cfs_period_us"), "100000");
    } else {
        assert_eq!(read(&m, "cpu", "cpu.weight"), "20");
        assert_eq!(read(&m, "cpu", "cpu.max"), "20000 100000");
    }
    // Growing past the old memory+swap limit, then shrinking below the old
    // memory limit: v1 needs the two writes in opposite orders.
    m.apply(&resources(&format!(
        "{{ {} }}",
        memory(256 * MIB, 512 * MIB)
    )))
    .unwrap();
    check_memory(256 * MIB, 512 * MIB);
    m.apply(&resources(&format!("{{ {} }}", memory(32 * MIB, 48 * MIB))))
        .unwrap();
    check_memory(32 * MIB, 48 * MIB);

    // hugetlb, where the kernel has 2MB pages (unified-only on hybrid hosts).
    if PathBuf::from("/sys/kernel/mm/hugepages/hugepages-2048kB").exists()
        && m.dir_for("hugetlb").is_some()
    {
        m.apply(&resources(
            r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#,
        ))
        .unwrap();
        let file = if is_v1(&m, "hugetlb") {
            "hugetlb.2MB.limit_in_bytes"
        } else {
            "hugetlb.2MB.max"
        };
        assert_eq!(read(&m, "hugetlb", file), "4194304");
    }

    if is_v1(&m, "devices") {
        m.apply(&resources(
            r#"{"devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                {"allow": true, "type": "c", "major": 136, "access": "rw"}
            ]}"#,
        ))
        .unwrap();
        assert_eq!(read(&m, "devices", "devices.list"), "c 1:3 rwm\nc 136:* rw");
    }

    let pid = g.spawn_sleep();
    m.add_pid(pid).unwrap();
    assert_eq!(m.pids().unwrap(), [pid]);
    for (name, dir) in m.dirs() {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert_eq!(procs.trim(), pid.to_string(), "{name}");
    }

    m.freeze().unwrap();
    assert!(m.is_frozen().unwrap());
    m.thaw().unwrap();
    assert!(!m.is_frozen().unwrap());

    // Busy: every directory reported, none removed.
    let err = m.destroy().unwrap_err().to_string();
    assert!(err.contains("Device or resource busy"), "{err}");
    assert!(m.dirs().iter().all(|(_, d)| d.is_dir()));

    // Killing a paused container thaws it so the kill takes effect.
    m.freeze().unwrap();
    m.kill_all(Signal::SIGKILL).unwrap();
    let status = g.children[0].wait().unwrap();
    assert!(!m.is_frozen().unwrap());
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));

    m.destroy().unwrap();
    for (name, dir) in m.dirs() {
        assert!(!dir.exists(), "{name}: {} still exists", dir.display());
    }
    // Gone already: fine.
    m.destroy().unwrap();
}

#[test]
fn host_nested_create_inherits_cpuset() {
    let layout = Layout::detect().unwrap();
    let top = unique("nest");
    let leaf = format!("{top}/inner/ctr");
    let mut g = Guard::new(vec![
        Manager::new(layout.clone(), &leaf),
        Manager::new(layout.clone(), &format!("{top}/inner")),
        Manager::new(layout.clone(), &top),
    ]);
    g.m().create().unwrap();
    if let Some(h) = layout.v1_hierarchy("cpuset") {
        let root_cpus = std::fs::read_to_string(h.mountpoint.join("cpuset.cpus")).unwrap();
        for level in [top.as_str(), &format!("{top}/inner"), &leaf] {
            let dir = h.mountpoint.join(level.trim_start_matches('/'));
            let cpus = std::fs::read_to_string(dir.join("cpuset.cpus")).unwrap();
            assert_eq!(cpus, root_cpus, "{}", dir.display());
            assert!(!std::fs::read_to_string(dir.join("cpuset.mems"))
                .unwrap()
                .trim()
                .is_empty());
        }
    }
    // A task is accepted everywhere (an empty v1 cpuset would refuse it).
    let pid = g.spawn_sleep();
    g.m().add_pid(pid).unwrap();
    g.m().kill_all(Signal::SIGTERM).unwrap();
    g.children[0].wait().unwrap();
    for m in &g.managers {
        m.destroy().unwrap();
    }
    for (name, dir) in g.managers[2].dirs() {
        assert!(!dir.exists(), "{name}: {}", dir.display());
    }
}

/// A layout of only the host's cgroup2 mount: pure v2 as far as the code
/// can tell (on a hybrid host, the device filter and freezer of the unified
/// hierarchy work all the same).
fn unified_only() -> Option<Layout> {
    let unified = Layout::detect().unwrap().unified?;
    Some(Layout {
        v1: Vec::new(),
        unified: Some(Unified {
            mountpoint: unified.mountpoint,
            controllers: Vec::new(),
        }),
    })
}

#[test]
fn host_v2_device_filter() {
    let Some(layout) = unified_only() else {
        return;
    };
    let mut g = Guard::new(vec![Manager::new(layout, &unique("bpf"))]);
    let m = g.m().clone();
    m.create().unwrap();
    let rules = r#"{"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"}
    ]}"#;
    m.apply(&resources(rules)).unwrap();
    // Applying again replaces the filter rather than stacking a second one.
    m.apply(&resources(rules)).unwrap();
    let dir = std::fs::File::open(&m.dirs()[0].1).unwrap();
    let (ids, _) = super::bpf::query(dir.as_raw_fd() as u32).unwrap();
    assert_eq!(ids.len(), 1, "{ids:?}");

    let script = r#"read go
for d in /dev/null /dev/zero; do
  if (exec 3<"$d") 2>&-; then echo "$d read ok"; else echo "$d read denied"; fi
done
if (exec 3>/dev/zero) 2>&-; then echo "zero write ok"; else echo "zero write denied"; fi"#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    g.children.push(child);
    m.add_pid(pid).unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    g.children[0].wait().unwrap();
    assert_eq!(
        out,
        "/dev/null read denied\n/dev/zero read ok\nzero write denied\n"
    );
    m.destroy().unwrap();
}

#[test]
fn host_v2_freeze_and_kill() {
    let Some(layout) = unified_only() else {
        return;
    };
    let mut g = Guard::new(vec![Manager::new(layout, &unique("v2"))]);
    let m = g.m().clone();
    m.create().unwrap();
    let pid = g.spawn_sleep();
    m.add_pid(pid).unwrap();
    assert_eq!(m.pids().unwrap(), [pid]);
    m.freeze().unwrap();
    assert!(m.is_frozen().unwrap());
    m.thaw().unwrap();
    assert!(!m.is_frozen().unwrap());
    m.kill_all(Signal::SIGKILL).unwrap();
    g.children[0].wait().unwrap();
    m.destroy().unwrap();
    assert!(!m.dirs()[0].1.exists());
}

#[test]
fn host_stats_count_cpu_and_tasks() {
    let layout = Layout::detect().unwrap();
    let mut g = Guard::new(vec![Manager::new(layout, &unique("stats"))]);
    let m = g.m().clone();
    m.create().unwrap();
    let idle = m.stats().unwrap();
    assert_eq!(idle.cpu.usage_ns, 0, "{idle:?}");
    assert_eq!(idle.pids.current, 0, "{idle:?}");
    // Waits to be moved in, burns CPU for 200 ms, says so and stays.
    let script = "read go; timeout 0.2 sh -c 'while :; do :; done'; echo burnt; exec sleep 1000";
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    g.children.push(child);
    m.add_pid(pid).unwrap();
    stdin.write_all(b"go\n").unwrap();
    let mut line = [0u8; 6];
    stdout.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"burnt\n");
    let s = m.stats().unwrap();
    // At least 10 ms of the 200 even on a loaded machine.
    assert!(s.cpu.usage_ns > 10_000_000, "{s:?}");
    assert!(s.pids.current >= 1, "{s:?}");
    assert!(s.memory.usage > 0, "{s:?}");
    m.kill_all(Signal::SIGKILL).unwrap();
    g.children[0].wait().unwrap();
    m.destroy().unwrap();
    assert!(m.stats().is_err(), "stats of a removed cgroup");
}

/// The layout kept in a runroot file is the detected one; a file naming a
/// mount point that is no cgroup file system (or no JSON) is replaced by a
/// fresh detection.
#[test]
fn layout_kept_in_a_file_is_checked_before_use() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("cgroup-layout.json");
    let detected = Layout::detect().unwrap();
    assert_eq!(Layout::kept_in(&file).unwrap(), detected);
    let kept: Layout = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(kept, detected);
    // Read back from the file: a layout only the file has is used.
    let mut stale = detected.clone();
    stale.v1.retain(|h| !h.has("pids"));
    stale.unified = stale.unified.take().filter(|_| stale.v1.is_empty());
    std::fs::write(&file, serde_json::to_vec(&stale).unwrap()).unwrap();
    assert_eq!(Layout::kept_in(&file).unwrap(), stale);
    // A hierarchy that is no longer a cgroup mount: detected again.
    let mut moved = detected.clone();
    match moved.v1.first_mut() {
        Some(h) => h.mountpoint = d.path().to_path_buf(),
        None => moved.unified.as_mut().unwrap().mountpoint = d.path().to_path_buf(),
    }
    std::fs::write(&file, serde_json::to_vec(&moved).unwrap()).unwrap();
    assert_eq!(Layout::kept_in(&file).unwrap(), detected);
    // Not JSON: detected again, and the file repaired.
    std::fs::write(&file, "{").unwrap();
    assert_eq!(Layout::kept_in(&file).unwrap(), detected);
    let kept: Layout = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(kept, detected);
}
