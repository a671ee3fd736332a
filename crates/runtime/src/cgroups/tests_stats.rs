//! Tests of `Manager::stats` against fake cgroup trees (see `fake`): which
//! file each figure comes from on v1, v2 and hybrid hosts, and what a missing
//! controller, file or directory gives.

use std::fs;
use std::path::Path;

use tempfile::TempDir;

use super::stats::{BlkioStats, CpuStats, MemoryStats, PidsStats, Stats};
use super::{CgroupError, Layout, Manager};

const PATH: &str = "/pod/ctr";

/// A fake tree made by `make`, trimmed by `trim`, with cgroup `PATH` in it.
fn setup_with(
    make: fn(&Path) -> std::io::Result<Layout>,
    trim: impl FnOnce(&mut Layout),
) -> (TempDir, Manager) {
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = make(tmp.path()).unwrap();
    trim(&mut layout);
    layout.populate_fake(PATH).unwrap();
    let m = Manager::new(layout, PATH);
    m.create().unwrap();
    (tmp, m)
}

fn setup(make: fn(&Path) -> std::io::Result<Layout>) -> (TempDir, Manager) {
    setup_with(make, |_| {})
}

/// Overwrite `<root>/<hierarchy>/pod/ctr/<file>` (`hierarchy` "" for a pure
/// v2 tree, whose root is the mount).
fn put(tmp: &TempDir, hierarchy: &str, file: &str, text: &str) {
    let path = tmp.path().join(hierarchy).join("pod/ctr").join(file);
    assert!(path.exists(), "{} is not in the fake tree", path.display());
    fs::write(path, text).unwrap();
}

fn remove(tmp: &TempDir, hierarchy: &str, file: &str) {
    fs::remove_file(tmp.path().join(hierarchy).join("pod/ctr").join(file)).unwrap();
}

const V1_SERVICE_BYTES: &str = "8:0 Read 1000\n8:0 Write 2000\n8:0 Sync 3000\n8:0 Async 0\n\
8:0 Discard 0\n8:0 Total 3000\n8:16 Read 30\n8:16 Write 40\n8:16 Total 70\nTotal 3070\n";

fn fill_v1(tmp: &TempDir, cpu: &str) {
    put(tmp, cpu, "cpuacct.usage", "123456789\n");
    put(tmp, cpu, "cpuacct.usage_user", "100000000\n");
    put(tmp, cpu, "cpuacct.usage_sys", "23456789\n");
    put(tmp, "memory", "memory.usage_in_bytes", "10485760\n");
    put(tmp, "memory", "memory.limit_in_bytes", "8388608\n");
    // The cgroup's own inactive_file must not be taken for the total.
    put(
        tmp,
        "memory",
        "memory.stat",
        "cache 5\ninactive_file 7\ntotal_cache 9\ntotal_inactive_file 1048576\n",
    );
    put(
        tmp,
        "memory",
        "memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
    );
    put(tmp, "pids", "pids.current", "4\n");
    put(tmp, "pids", "pids.max", "100\n");
    put(
        tmp,
        "blkio",
        "blkio.throttle.io_service_bytes_recursive",
        V1_SERVICE_BYTES,
    );
    put(
        tmp,
        "blkio",
        "blkio.throttle.io_service_bytes",
        "8:0 Read 1\n8:0 Write 2\nTotal 3\n",
    );
}

fn v1_expected() -> Stats {
    Stats {
        cpu: CpuStats {
            usage_ns: 123_456_789,
            user_ns: Some(100_000_000),
            system_ns: Some(23_456_789),
        },
        memory: MemoryStats {
            usage: 10_485_760,
            limit: Some(8_388_608),
            inactive_file: 1_048_576,
            oom_kills: 3,
        },
        pids: PidsStats {
            current: 4,
            limit: Some(100),
        },
        blkio: BlkioStats {
            read_bytes: 1030,
            write_bytes: 2040,
        },
    }
}

#[test]
fn v1_reads_each_controller() {
    let (tmp, m) = setup(Layout::fake_v1);
    fill_v1(&tmp, "cpu,cpuacct");
    let s = m.stats().unwrap();
    assert_eq!(s, v1_expected());
    assert_eq!(s.mem_usage_minus_cache(), 10_485_760 - 1_048_576);
}

#[test]
fn v1_fallbacks_and_unlimited() {
    let (tmp, m) = setup(Layout::fake_v1);
    fill_v1(&tmp, "cpu,cpuacct");
    // Without the recursive file, the cgroup's own one.
    remove(&tmp, "blkio", "blkio.throttle.io_service_bytes_recursive");
    // Without usage_user/usage_sys, cpuacct.stat in clock ticks.
    remove(&tmp, "cpu,cpuacct", "cpuacct.usage_user");
    remove(&tmp, "cpu,cpuacct", "cpuacct.usage_sys");
    put(&tmp, "cpu,cpuacct", "cpuacct.stat", "user 5\nsystem 7\n");
    // The kernel's "no limit", and pids.max "max".
    put(
        &tmp,
        "memory",
        "memory.limit_in_bytes",
        "9223372036854771712\n",
    );
    put(&tmp, "pids", "pids.max", "max\n");
    // An older kernel without oom_kill in memory.oom_control.
    put(
        &tmp,
        "memory",
        "memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\n",
    );
    let s = m.stats().unwrap();
    // SAFETY: sysconf only reads a system constant.
    let tick = 1_000_000_000 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    assert_eq!(s.cpu.user_ns, Some(5 * tick));
    assert_eq!(s.cpu.system_ns, Some(7 * tick));
    assert_eq!(s.cpu.usage_ns, 123_456_789);
    assert_eq!(
        s.blkio,
        BlkioStats {
            read_bytes: 1,
            write_bytes: 2
        }
    );
    assert_eq!(s.memory.limit, None);
    assert_eq!(s.memory.oom_kills, 0);
    assert_eq!(s.pids.limit, None);
}

#[test]
fn v2_reads_each_controller() {
    let (tmp, m) = setup(Layout::fake_v2);
    put(
        &tmp,
        "",
        "cpu.stat",
        "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n",
    );
    put(&tmp, "", "memory.current", "20971520\n");
    put(
        &tmp,
        "",
        "memory.stat",
        "anon 4096\nfile 8192\nactive_file 4096\ninactive_file 2097152\n",
    );
    put(
        &tmp,
        "",
        "memory.events",
        "low 0\nhigh 0\nmax 5\noom 4\noom_kill 2\noom_group_kill 0\n",
    );
    put(&tmp, "", "pids.current", "3\n");
    put(
        &tmp,
        "",
        "io.stat",
        "8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n\
         253:1 rbytes=30 wbytes=40 rios=3 wios=4 dbytes=512 dios=1\n",
    );
    let s = m.stats().unwrap();
    assert_eq!(
        s,
        Stats {
            cpu: CpuStats {
                usage_ns: 1_500_000,
                user_ns: Some(1_000_000),
                system_ns: Some(500_000),
            },
            memory: MemoryStats {
                usage: 20_971_520,
                limit: None,
                inactive_file: 2_097_152,
                oom_kills: 2,
            },
            pids: PidsStats {
                current: 3,
                limit: None,
            },
            blkio: BlkioStats {
                read_bytes: 1030,
                write_bytes: 2040,
            },
        }
    );
    assert_eq!(s.mem_usage_minus_cache(), 20_971_520 - 2_097_152);
    put(&tmp, "", "memory.max", "1073741824\n");
    put(&tmp, "", "pids.max", "64\n");
    let s = m.stats().unwrap();
    assert_eq!(s.memory.limit, Some(1 << 30));
    assert_eq!(s.pids.limit, Some(64));
}

#[test]
fn hybrid_reads_v1_controllers() {
    let (tmp, m) = setup(Layout::fake_hybrid);
    fill_v1(&tmp, "cpuacct");
    // The unified hierarchy's cpu.stat is there too; cpuacct wins.
    put(&tmp, "unified", "cpu.stat", "usage_usec 1\nuser_usec 1\n");
    assert_eq!(m.stats().unwrap(), v1_expected());
}

#[test]
fn missing_controllers_and_files_read_as_zero() {
    // v1 without memory, pids and blkio hierarchies.
    let (tmp, m) = setup_with(Layout::fake_v1, |l| {
        l.v1.retain(|h| !(h.has("memory") || h.has("pids") || h.has("blkio")));
    });
    put(&tmp, "cpu,cpuacct", "cpuacct.usage", "42\n");
    let s = m.stats().unwrap();
    assert_eq!(s.cpu.usage_ns, 42);
    assert_eq!(s.memory, MemoryStats::default());
    assert_eq!(s.pids, PidsStats::default());
    assert_eq!(s.blkio, BlkioStats::default());

    // v2 with no controller enabled: cpu.stat is a core file all the same.
    let (tmp, m) = setup_with(Layout::fake_v2, |l| {
        l.unified.as_mut().unwrap().controllers.clear();
    });
    put(&tmp, "", "cpu.stat", "usage_usec 7\n");
    let s = m.stats().unwrap();
    assert_eq!(
        s.cpu,
        CpuStats {
            usage_ns: 7000,
            user_ns: None,
            system_ns: None,
        }
    );
    assert_eq!(
        Stats {
            cpu: CpuStats::default(),
            ..s
        },
        Stats::default()
    );

    // Files a kernel may lack: none of the stats files at all.
    let (tmp, m) = setup(Layout::fake_v2);
    for file in [
        "cpu.stat",
        "memory.current",
        "memory.stat",
        "memory.events",
        "pids.current",
        "io.stat",
    ] {
        remove(&tmp, "", file);
    }
    assert_eq!(m.stats().unwrap(), Stats::default());
}

#[test]
fn removed_cgroup_and_bad_file_are_errors() {
    let (tmp, m) = setup(Layout::fake_v2);
    put(&tmp, "", "memory.current", "lots\n");
    match m.stats().unwrap_err() {
        CgroupError::Parse { what, reason } => {
            assert!(what.ends_with("pod/ctr/memory.current"), "{what}");
            assert_eq!(reason, r#""lots" is not a number"#);
        }
        e => panic!("{e}"),
    }
    fs::remove_dir_all(tmp.path().join("pod/ctr")).unwrap();
    let err = m.stats().unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENOENT), "{err}");
    assert!(err.to_string().contains("pod/ctr"), "{err}");
}

#[test]
fn usage_minus_cache_keeps_usage_when_cache_is_larger() {
    let mut s = Stats::default();
    s.memory.usage = 100;
    s.memory.inactive_file = 100;
    assert_eq!(s.mem_usage_minus_cache(), 100);
    s.memory.inactive_file = 30;
    assert_eq!(s.mem_usage_minus_cache(), 70);
}
