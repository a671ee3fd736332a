//! Tests against fake cgroup trees (see `fake`): what `create`, `apply`,
//! `add_pid`, `pids`, `freeze` and `destroy` write, file by file.

use std::fs;
use std::path::Path;

use tempfile::TempDir;

use super::{CgroupError, Layout, Manager};
use crate::spec::Resources;

const PATH: &str = "/pod/ctr";

fn resources(json: &str) -> Resources {
    serde_json::from_str(json).unwrap()
}

/// A fake tree of the given kind with cgroup `PATH` populated and created.
fn setup(make: fn(&Path) -> std::io::Result<Layout>) -> (TempDir, Manager) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = make(tmp.path()).unwrap();
    layout.populate_fake(PATH).unwrap();
    let m = Manager::new(layout, PATH);
    m.create().unwrap();
    (tmp, m)
}

/// The contents of `<root>/<hierarchy>/pod/ctr/<file>`, trailing newline removed.
fn read(tmp: &TempDir, hierarchy: &str, file: &str) -> String {
    let path = tmp.path().join(hierarchy).join("pod/ctr").join(file);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.trim_end().to_string()
}

fn exists(tmp: &TempDir, hierarchy: &str, file: &str) -> bool {
    tmp.path()
        .join(hierarchy)
        .join("pod/ctr")
        .join(file)
        .exists()
}

#[test]
fn v1_apply_writes_each_file() {
    let (tmp, m) = setup(Layout::fake_v1);
    m.apply(&resources(
        r#"{
        "memory": {"limit": 1048576, "reservation": 524288, "swap": 2097152,
                   "swappiness": 10, "disableOOMKiller": true, "kernel": 1000},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000,
                "realtimeRuntime": 1000, "realtimePeriod": 10000,
                "cpus": "0-1", "mems": "0", "idle": 1},
        "pids": {"limit": 0},
        "blockIO": {"weight": 300, "leafWeight": 200,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 100, "leafWeight": 50}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 30}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
        "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
        "rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 100}}
    }"#,
    ))
    .unwrap();
    let expect = [
        ("memory", "memory.limit_in_bytes", "1048576"),
        ("memory", "memory.memsw.limit_in_bytes", "2097152"),
        ("memory", "memory.soft_limit_in_bytes", "524288"),
        ("memory", "memory.swappiness", "10"),
        ("memory", "memory.oom_control", "1"),
        ("cpu,cpuacct", "cpu.shares", "512"),
        ("cpu,cpuacct", "cpu.cfs_quota_us", "50000"),
        ("cpu,cpuacct", "cpu.cfs_period_us", "100000"),
        ("cpu,cpuacct", "cpu.cfs_burst_us", "1000"),
        ("cpu,cpuacct", "cpu.rt_runtime_us", "1000"),
        ("cpu,cpuacct", "cpu.rt_period_us", "10000"),
        ("cpu,cpuacct", "cpu.idle", "1"),
        ("cpu,cpuacct", "cpuacct.usage", "0"),
        ("cpuset", "cpuset.cpus", "0-1"),
        ("cpuset", "cpuset.mems", "0"),
        ("pids", "pids.max", "max"),
        ("blkio", "blkio.weight", "300"),
        ("blkio", "blkio.leaf_weight", "200"),
        ("blkio", "blkio.weight_device", "8:0 100"),
        ("blkio", "blkio.leaf_weight_device", "8:0 50"),
        ("blkio", "blkio.throttle.read_bps_device", "8:0 1000"),
        ("blkio", "blkio.throttle.write_bps_device", ""),
        ("blkio", "blkio.throttle.write_iops_device", "8:16 30"),
        ("hugetlb", "hugetlb.2MB.limit_in_bytes", "4194304"),
        (
            "hugetlb",
            "hugetlb.1GB.limit_in_bytes",
            "9223372036854771712",
        ),
        ("devices", "devices.deny", "a *:* rwm"),
        ("devices", "devices.allow", "c 1:3 rwm"),
        ("net_cls,net_prio", "net_cls.classid", "1048577"),
        ("net_cls,net_prio", "net_prio.ifpriomap", "eth0 5"),
        ("rdma", "rdma.max", "mlx5_0 hca_handle=3 hca_object=100"),
    ];
    for (h, file, value) in expect {
        assert_eq!(read(&tmp, h, file), value, "{h}/{file}");
    }
    // Kernel memory files absent: ignored, not created.
    assert!(!exists(&tmp, "memory", "memory.kmem.limit_in_bytes"));
}

#[test]
fn v1_create_fills_empty_cpuset_and_lists_dirs() {
    let (tmp, m) = setup(Layout::fake_v1);
    for level in ["pod", "pod/ctr"] {
        let dir = tmp.path().join("cpuset").join(level);
        assert_eq!(
            fs::read_to_string(dir.join("cpuset.cpus")).unwrap().trim(),
            "0-3"
        );
        assert_eq!(
            fs::read_to_string(dir.join("cpuset.mems")).unwrap().trim(),
            "0"
        );
    }
    let dirs = m.dirs();
    let names: Vec<&str> = dirs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "cpu,cpuacct",
            "cpuset",
            "memory",
            "devices",
            "freezer",
            "blkio",
            "pids",
            "hugetlb",
            "net_cls,net_prio",
            "rdma",
            "systemd"
        ]
    );
    assert_eq!(dirs[2].1, tmp.path().join("memory/pod/ctr"));
}

#[test]
fn v1_pids_freeze_and_add_pid() {
    let (tmp, m) = setup(Layout::fake_v1);
    m.add_pid(4242).unwrap();
    for (name, dir) in m.dirs() {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert_eq!(procs, "4242", "{name}");
    }
    fs::write(tmp.path().join("pids/pod/ctr/cgroup.procs"), "12\n34\n").unwrap();
    assert_eq!(m.pids().unwrap(), [12, 34]);
    assert!(!m.is_frozen().unwrap());
    m.freeze().unwrap();
    assert_eq!(read(&tmp, "freezer", "freezer.state"), "FROZEN");
    assert!(m.is_frozen().unwrap());
    m.thaw().unwrap();
    assert_eq!(read(&tmp, "freezer", "freezer.state"), "THAWED");
}

#[test]
fn v1_rejects_what_it_cannot_do() {
    let (_tmp, m) = setup(Layout::fake_v1);
    let err = m
        .apply(&resources(r#"{"unified": {"memory.max": "1"}}"#))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cgroup v2") && err.contains("unified"),
        "{err}"
    );
    let err = m
        .apply(&resources(r#"{"memory": {"limit": 2000, "swap": 1000}}"#))
        .unwrap_err()
        .to_string();
    assert!(err.contains("memory.swap") && err.contains("1000"), "{err}");
    let err = m
        .apply(&resources(
            r#"{"hugepageLimits": [{"pageSize": "../x", "limit": 1}]}"#,
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"../x\""), "{err}");
}

#[test]
fn v1_write_error_names_file_and_value() {
    let (tmp, m) = setup(Layout::fake_v1);
    fs::remove_file(tmp.path().join("pids/pod/ctr/pids.max")).unwrap();
    let err = m
        .apply(&resources(r#"{"pids": {"limit": 77}}"#))
        .unwrap_err()
        .to_string();
    let file = tmp.path().join("pids/pod/ctr/pids.max");
    assert_eq!(
        err,
        format!(
            "writing 77 to {}: No such file or directory",
            file.display()
        )
    );
}

#[test]
fn destroy_reports_every_failure() {
    // Fake cgroup directories hold regular files, so rmdir fails everywhere.
    let (_tmp, m) = setup(Layout::fake_hybrid);
    let err = m.destroy().unwrap_err();
    let CgroupError::Multiple(errors) = &err else {
        panic!("{err}");
    };
    assert_eq!(errors.len(), m.dirs().len());
    let text = err.to_string();
    for (_, dir) in m.dirs() {
        assert!(text.contains(&dir.display().to_string()), "{text}");
    }
    // A cgroup that is already gone is not an error.
    let tmp = tempfile::tempdir().unwrap();
    let m = Manager::new(Layout::fake_v2(tmp.path()).unwrap(), "/never/made");
    m.destroy().unwrap();
}

#[test]
fn v2_apply_writes_each_file() {
    let (tmp, m) = setup(Layout::fake_v2);
    m.apply(&resources(
        r#"{
        "memory": {"limit": 1048576, "reservation": 524288, "swap": 3145728,
                   "swappiness": 10, "disableOOMKiller": true},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 500,
                "cpus": "1", "mems": "0", "idle": 0},
        "pids": {"limit": 100},
        "blockIO": {"weight": 500,
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                    "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
                    "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}]},
        "hugepageLimits": [{"pageSize": "1GB", "limit": 1073741824}],
        "rdma": {"mlx5_0": {"hcaHandles": 3}},
        "unified": {"memory.high": "2000000"}
    }"#,
    ))
    .unwrap();
    let expect = [
        ("memory.max", "1048576"),
        ("memory.swap.max", "2097152"),
        ("memory.low", "524288"),
        ("memory.high", "2000000"),
        ("cpu.weight", "39"),
        ("cpu.max", "50000 100000"),
        ("cpu.max.burst", "500"),
        ("cpu.idle", "0"),
        ("cpuset.cpus", "1"),
        ("cpuset.mems", "0"),
        ("pids.max", "100"),
        ("io.weight", "4950"),
        ("io.max", "8:0 rbps=1000 wbps=max riops=10"),
        ("hugetlb.1GB.max", "1073741824"),
        ("hugetlb.2MB.max", "max"),
        ("rdma.max", "mlx5_0 hca_handle=3"),
    ];
    for (file, value) in expect {
        assert_eq!(read(&tmp, "", file), value, "{file}");
    }
    // Root-level controllers enabled for the children, at each ancestor.
    let all = "+cpuset +cpu +io +memory +hugetlb +pids +rdma";
    for level in ["", "pod"] {
        let got = fs::read_to_string(tmp.path().join(level).join("cgroup.subtree_control"));
        assert_eq!(got.unwrap(), all, "level {level:?}");
    }
    assert_eq!(
        fs::read_to_string(tmp.path().join("pod/ctr/cgroup.subtree_control")).unwrap(),
        ""
    );
}

#[test]
fn v2_value_forms() {
    let (tmp, m) = setup(Layout::fake_v2);
    let cases = [
        (
            r#"{"memory": {"limit": -1, "swap": -1, "reservation": -1}}"#,
            "memory.max",
            "max",
        ),
        (
            r#"{"memory": {"limit": -1, "swap": -1}}"#,
            "memory.swap.max",
            "max",
        ),
        (r#"{"memory": {"reservation": -1}}"#, "memory.low", "max"),
        (r#"{"cpu": {"period": 20000}}"#, "cpu.max", "max 20000"),
        (
            r#"{"cpu": {"quota": -1, "period": 10000}}"#,
            "cpu.max",
            "max 10000",
        ),
        (r#"{"cpu": {"quota": 5000}}"#, "cpu.max", "5000"),
        (r#"{"cpu": {"shares": 2}}"#, "cpu.weight", "1"),
        (r#"{"pids": {"limit": -1}}"#, "pids.max", "max"),
        (r#"{"blockIO": {"weight": 10}}"#, "io.weight", "1"),
        (
            r#"{"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 100}]}}"#,
            "io.weight",
            "8:0 910",
        ),
    ];
    for (json, file, value) in cases {
        m.apply(&resources(json)).unwrap();
        assert_eq!(read(&tmp, "", file), value, "{json}");
    }
    // BFQ in use: its file takes the weight unconverted.
    fs::write(tmp.path().join("pod/ctr/io.bfq.weight"), "100").unwrap();
    m.apply(&resources(r#"{"blockIO": {"weight": 300}}"#))
        .unwrap();
    assert_eq!(read(&tmp, "", "io.bfq.weight"), "300");
}

#[test]
fn v2_rejects_what_it_cannot_do() {
    let (_tmp, m) = setup(Layout::fake_v2);
    let cases = [
        (r#"{"cpu": {"realtimeRuntime": 100}}"#, "not supported"),
        (r#"{"memory": {"swap": 1000}}"#, "needs a memory limit"),
        (
            r#"{"network": {"classID": 1}}"#,
            "net_cls cgroup controller is not available",
        ),
        (r#"{"unified": {"../x": "1"}}"#, "\"../x\""),
    ];
    for (json, text) in cases {
        let err = m.apply(&resources(json)).unwrap_err().to_string();
        assert!(err.contains(text), "{json}: {err}");
    }
    // An empty section asks for nothing, so needs no controller.
    m.apply(&resources(
        r#"{"network": {}, "memory": {"disableOOMKiller": false}}"#,
    ))
    .unwrap();
}

#[test]
fn v2_create_from_scratch_and_freeze() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::fake_v2(tmp.path()).unwrap();
    let m = Manager::new(layout, "/a/b/c");
    m.create().unwrap();
    assert!(tmp.path().join("a/b/c").is_dir());
    assert_eq!(
        fs::read_to_string(tmp.path().join("cgroup.subtree_control")).unwrap(),
        "+cpuset +cpu +io +memory +hugetlb +pids +rdma"
    );
    // Existing directories are fine.
    m.create().unwrap();

    let (tmp, m) = setup(Layout::fake_v2);
    fs::write(tmp.path().join("pod/ctr/cgroup.procs"), "7\n").unwrap();
    assert_eq!(m.pids().unwrap(), [7]);
    // The kernel would flip cgroup.events; the fake says frozen already.
    fs::write(
        tmp.path().join("pod/ctr/cgroup.events"),
        "populated 1\nfrozen 1\n",
    )
    .unwrap();
    m.freeze().unwrap();
    assert_eq!(read(&tmp, "", "cgroup.freeze"), "1");
    assert!(m.is_frozen().unwrap());
}

#[test]
fn hybrid_puts_each_controller_where_it_lives() {
    let (tmp, m) = setup(Layout::fake_hybrid);
    m.apply(&resources(
        r#"{
        "memory": {"limit": 1048576},
        "cpu": {"shares": 256, "cpus": "2"},
        "pids": {"limit": 10},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
        "unified": {"hugetlb.1GB.max": "0"}
    }"#,
    ))
    .unwrap();
    assert_eq!(read(&tmp, "memory", "memory.limit_in_bytes"), "1048576");
    assert_eq!(read(&tmp, "cpu", "cpu.shares"), "256");
    assert_eq!(read(&tmp, "cpuset", "cpuset.cpus"), "2");
    assert_eq!(read(&tmp, "pids", "pids.max"), "10");
    assert_eq!(read(&tmp, "unified", "hugetlb.2MB.max"), "2097152");
    assert_eq!(read(&tmp, "unified", "hugetlb.1GB.max"), "0");
    assert!(!exists(&tmp, "unified", "memory.max"));
    assert_eq!(
        fs::read_to_string(tmp.path().join("unified/cgroup.subtree_control")).unwrap(),
        "+hugetlb"
    );
    let names: Vec<String> = m.dirs().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.last().map(String::as_str), Some(""));
    assert!(names.contains(&"cpuacct".to_string()));
    // Controllers that are nowhere.
    let err = m
        .apply(&resources(r#"{"rdma": {"mlx5_0": {"hcaHandles": 1}}}"#))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "rdma limits requested but the rdma cgroup controller is not available"
    );
    // The freezer is the v1 one.
    m.freeze().unwrap();
    assert_eq!(read(&tmp, "freezer", "freezer.state"), "FROZEN");
    assert_eq!(read(&tmp, "unified", "cgroup.freeze"), "0");
    m.thaw().unwrap();
}
