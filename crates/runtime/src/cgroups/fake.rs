//! Stand-in cgroup trees in ordinary directories, for tests that cannot or
//! should not touch the host's cgroups.
//!
//! [`Layout::fake_v1`], [`Layout::fake_v2`] and [`Layout::fake_hybrid`] lay
//! out mountpoints below a directory the way a host would, with the root
//! files the code reads (`cpuset.cpus`, `cgroup.controllers`, ...).
//! [`Layout::populate_fake`] then creates a cgroup's directories and the
//! control files the kernel would create in them, holding the kernel's
//! defaults, so that [`super::Manager`] can run against the tree and the test
//! can read back what was written. A plain file keeps only the last write,
//! so for files written line by line (`devices.allow`, `io.max`, ...) only
//! the last line is visible. Nothing here emulates the kernel's checks.

use std::io;
use std::path::{Path, PathBuf};

use super::{Hierarchy, Layout, Unified};

const UNLIMITED: &str = "9223372036854771712";

/// The files a v1 controller has in every cgroup, with their initial contents.
fn v1_files(controller: &str) -> &'static [(&'static str, &'static str)] {
    match controller {
        "cpu" => &[
            ("cpu.shares", "1024"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "-1"),
            ("cpu.cfs_burst_us", "0"),
            ("cpu.rt_period_us", "1000000"),
            ("cpu.rt_runtime_us", "0"),
            ("cpu.idle", "0"),
        ],
        "cpuacct" => &[
            ("cpuacct.usage", "0"),
            ("cpuacct.usage_user", "0\n"),
            ("cpuacct.usage_sys", "0\n"),
            ("cpuacct.stat", "user 0\nsystem 0\n"),
        ],
        "cpuset" => &[("cpuset.cpus", ""), ("cpuset.mems", "")],
        "memory" => &[
            ("memory.limit_in_bytes", UNLIMITED),
            ("memory.memsw.limit_in_bytes", UNLIMITED),
            ("memory.soft_limit_in_bytes", UNLIMITED),
            ("memory.swappiness", "60"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            ),
            ("memory.usage_in_bytes", "0\n"),
            ("memory.stat", "cache 0\nrss 0\ntotal_inactive_file 0\n"),
        ],
        "devices" => &[
            ("devices.allow", ""),
            ("devices.deny", ""),
            ("devices.list", "a *:* rwm\n"),
        ],
        "freezer" => &[("freezer.state", "THAWED\n")],
        "blkio" => &[
            ("blkio.weight", "500"),
            ("blkio.leaf_weight", "500"),
            ("blkio.weight_device", ""),
            ("blkio.leaf_weight_device", ""),
            ("blkio.throttle.read_bps_device", ""),
            ("blkio.throttle.write_bps_device", ""),
            ("blkio.throttle.read_iops_device", ""),
            ("blkio.throttle.write_iops_device", ""),
            ("blkio.throttle.io_service_bytes", "Total 0\n"),
            ("blkio.throttle.io_service_bytes_recursive", "Total 0\n"),
        ],
        "pids" => &[("pids.max", "max\n"), ("pids.current", "0\n")],
        "hugetlb" => &[
            ("hugetlb.2MB.limit_in_bytes", UNLIMITED),
            ("hugetlb.1GB.limit_in_bytes", UNLIMITED),
        ],
        "net_cls" => &[("net_cls.classid", "0")],
        "net_prio" => &[("net_prio.ifpriomap", "")],
        "rdma" => &[("rdma.max", "")],
        _ => &[],
    }
}

/// The files a v2 controller has in every non-root cgroup.
fn v2_files(controller: &str) -> &'static [(&'static str, &'static str)] {
    match controller {
        "memory" => &[
            ("memory.max", "max\n"),
            ("memory.swap.max", "max\n"),
            ("memory.low", "0\n"),
            ("memory.high", "max\n"),
            ("memory.current", "0\n"),
            ("memory.stat", "anon 0\nfile 0\ninactive_file 0\n"),
            ("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"),
        ],
        "cpu" => &[
            ("cpu.weight", "100\n"),
            ("cpu.max", "max 100000\n"),
            ("cpu.max.burst", "0\n"),
            ("cpu.idle", "0\n"),
        ],
        "cpuset" => &[("cpuset.cpus", ""), ("cpuset.mems", "")],
        "io" => &[
            ("io.weight", "default 100\n"),
            ("io.max", ""),
            ("io.stat", ""),
        ],
        "pids" => &[("pids.max", "max\n"), ("pids.current", "0\n")],
        "hugetlb" => &[("hugetlb.2MB.max", "max\n"), ("hugetlb.1GB.max", "max\n")],
        "rdma" => &[("rdma.max", "")],
        _ => &[],
    }
}

/// The files of every non-root v2 cgroup.
const V2_CORE: &[(&str, &str)] = &[
    ("cgroup.procs", ""),
    ("cgroup.controllers", ""),
    ("cgroup.subtree_control", ""),
    ("cgroup.freeze", "0\n"),
    ("cgroup.events", "populated 0\nfrozen 0\n"),
    ("cgroup.kill", ""),
    ("cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"),
];

const V1_CORE: &[(&str, &str)] = &[("cgroup.procs", ""), ("tasks", "")];

fn create_files(dir: &Path, files: &[(&str, &str)]) -> io::Result<()> {
    for (name, content) in files {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(path, content)?;
        }
    }
    Ok(())
}

fn v1_hierarchy(root: &Path, label: &str) -> Hierarchy {
    let (controllers, name) = match label.strip_prefix("name=") {
        Some(name) => (Vec::new(), Some(name.to_string())),
        None => (label.split(',').map(str::to_string).collect(), None),
    };
    let dir = name.clone().unwrap_or_else(|| label.to_string());
    Hierarchy {
        controllers,
        name,
        mountpoint: root.join(dir),
    }
}

fn v1_layout(root: &Path, labels: &[&str]) -> Vec<Hierarchy> {
    labels.iter().map(|l| v1_hierarchy(root, l)).collect()
}

fn unified(mountpoint: PathBuf, controllers: &[&str]) -> Unified {
    Unified {
        mountpoint,
        controllers: controllers.iter().map(|c| c.to_string()).collect(),
    }
}

impl Layout {
    /// A cgroup v1 host below `root`: `cpu,cpuacct`, `cpuset`, `memory`,
    /// `devices`, `freezer`, `blkio`, `pids`, `hugetlb`, `net_cls,net_prio`,
    /// `rdma` and a named `systemd` hierarchy.
    pub fn fake_v1(root: &Path) -> io::Result<Layout> {
        let layout = Layout {
            v1: v1_layout(
                root,
                &[
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
                    "name=systemd",
                ],
            ),
            unified: None,
        };
        layout.create_fake_roots()?;
        Ok(layout)
    }

    /// A pure cgroup v2 host: `root` is the cgroup2 mount with the cpuset,
    /// cpu, io, memory, hugetlb, pids and rdma controllers.
    pub fn fake_v2(root: &Path) -> io::Result<Layout> {
        let layout = Layout {
            v1: Vec::new(),
            unified: Some(unified(
                root.to_path_buf(),
                &["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma"],
            )),
        };
        layout.create_fake_roots()?;
        Ok(layout)
    }

    /// A hybrid host like systemd's: v1 `cpu`, `cpuacct`, `cpuset`,
    /// `memory`, `devices`, `freezer`, `blkio`, `pids`, named `systemd`, and
    /// cgroup2 at `unified` holding only hugetlb.
    pub fn fake_hybrid(root: &Path) -> io::Result<Layout> {
        let layout = Layout {
            v1: v1_layout(
                root,
                &[
                    "cpu",
                    "cpuacct",
                    "cpuset",
                    "memory",
                    "devices",
                    "freezer",
                    "blkio",
                    "pids",
                    "name=systemd",
                ],
            ),
            unified: Some(unified(root.join("unified"), &["hugetlb"])),
        };
        layout.create_fake_roots()?;
        Ok(layout)
    }

    fn create_fake_roots(&self) -> io::Result<()> {
        for h in &self.v1 {
            std::fs::create_dir_all(&h.mountpoint)?;
            create_files(&h.mountpoint, V1_CORE)?;
            if h.has("cpuset") {
                create_files(
                    &h.mountpoint,
                    &[("cpuset.cpus", "0-3\n"), ("cpuset.mems", "0\n")],
                )?;
            }
        }
        if let Some(u) = &self.unified {
            std::fs::create_dir_all(&u.mountpoint)?;
            let list = u.controllers.join(" ") + "\n";
            create_files(
                &u.mountpoint,
                &[
                    ("cgroup.procs", ""),
                    ("cgroup.controllers", &list),
                    ("cgroup.subtree_control", ""),
                ],
            )?;
        }
        Ok(())
    }

    /// Create cgroup `path` in every hierarchy of a fake layout, with the
    /// control files the kernel would put in each level (existing files are
    /// left alone).
    pub fn populate_fake(&self, path: &str) -> io::Result<()> {
        let relative = path.trim_start_matches('/');
        for h in &self.v1 {
            let leaf = h.mountpoint.join(relative);
            std::fs::create_dir_all(&leaf)?;
            for level in levels(&h.mountpoint, &leaf) {
                create_files(&level, V1_CORE)?;
                for c in &h.controllers {
                    create_files(&level, v1_files(c))?;
                }
            }
        }
        if let Some(u) = &self.unified {
            let leaf = u.mountpoint.join(relative);
            std::fs::create_dir_all(&leaf)?;
            for level in levels(&u.mountpoint, &leaf) {
                create_files(&level, V2_CORE)?;
                for c in &u.controllers {
                    create_files(&level, v2_files(c))?;
                }
            }
        }
        Ok(())
    }
}

/// The directories from just below `mount` down to `leaf`.
fn levels(mount: &Path, leaf: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dir = mount.to_path_buf();
    if let Ok(relative) = leaf.strip_prefix(mount) {
        for c in relative.components() {
            dir.push(c);
            out.push(dir.clone());
        }
    }
    out
}
