//! Which cgroup hierarchies the host has and where they are mounted
//! ([`Layout`]), read from `/proc/self/mountinfo`.
//!
//! A v1 hierarchy is a `cgroup` mount whose super-block options name its
//! controllers (`rw,cpu,cpuacct`) and, for named hierarchies, `name=systemd`.
//! The unified hierarchy is the first `cgroup2` mount; the controllers it
//! offers are read from its root `cgroup.controllers` by [`Layout::detect`].

use std::path::{Path, PathBuf};

use super::CgroupError;

/// Super-block options of a v1 cgroup mount that are not controllers.
const NON_CONTROLLER_OPTIONS: &[&str] = &[
    "rw",
    "ro",
    "noprefix",
    "clone_children",
    "xattr",
    "cpuset_v2_mode",
    "favordynmods",
    "nofavordynmods",
    "all",
    "none",
];

/// One cgroup v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hierarchy {
    /// The controllers bound to it, e.g. `["cpu", "cpuacct"]`; empty for a
    /// named hierarchy without controllers.
    pub controllers: Vec<String>,
    /// The `name=` of a named hierarchy (e.g. `systemd`).
    pub name: Option<String>,
    /// Where it is mounted, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub mountpoint: PathBuf,
}

impl Hierarchy {
    /// The hierarchy's name as used for its directory under `/sys/fs/cgroup`:
    /// the controllers joined by `,` (`cpu,cpuacct`), or the `name=` of a
    /// named hierarchy (`systemd`).
    pub fn label(&self) -> String {
        if self.controllers.is_empty() {
            self.name.clone().unwrap_or_default()
        } else {
            self.controllers.join(",")
        }
    }

    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The cgroup v2 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unified {
    pub mountpoint: PathBuf,
    /// The controllers listed in the root `cgroup.controllers` (on a hybrid
    /// host only those no v1 hierarchy has taken).
    pub controllers: Vec<String>,
}

/// This process's view, once detected (see [`Layout::detect_once`]).
static HOST: std::sync::OnceLock<Layout> = std::sync::OnceLock::new();

/// The cgroup hierarchies of the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Layout {
    pub v1: Vec<Hierarchy>,
    pub unified: Option<Unified>,
}

impl Layout {
    /// The hierarchies this process sees, from `/proc/self/mountinfo` and the
    /// unified root's `cgroup.controllers`.
    pub fn detect() -> Result<Layout, CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = std::fs::read_to_string(path).map_err(|err| CgroupError::Read {
            path: path.to_path_buf(),
            err,
        })?;
        let mut layout = Layout::from_mountinfo(&text)?;
        if let Some(unified) = &mut layout.unified {
            let list = super::read(&unified.mountpoint, "cgroup.controllers")?;
            unified.controllers = list.split_whitespace().map(str::to_string).collect();
        }
        Ok(layout)
    }

    /// [`Layout::detect`], once per process. `/proc/self/mountinfo` grows
    /// with every mount on the host, an overlay per running container (at
    /// 1,000 containers it is 480 KB and takes ~4.5 ms to read), while the
    /// cgroup hierarchies stay where they were mounted at boot: a start, an
    /// exec, a stats sample or an exit in a long-lived process reads it
    /// once. A failed detection is not kept.
    pub fn detect_once() -> Result<Layout, CgroupError> {
        if let Some(l) = HOST.get() {
            return Ok(l.clone());
        }
        let l = Layout::detect()?;
        Ok(HOST.get_or_init(|| l).clone())
    }

    /// [`Layout::detect_once`], with the layout kept for the next processes
    /// in `file` (JSON, under a runroot that a reboot empties): read from it
    /// when each hierarchy it names is still a cgroup file system at its
    /// mount point (one statfs each), else detected and the file rewritten.
    /// A hierarchy mounted after the file was written is not seen until it
    /// is removed.
    pub fn detect_kept_in(file: &Path) -> Result<Layout, CgroupError> {
        if let Some(l) = HOST.get() {
            return Ok(l.clone());
        }
        let l = Layout::kept_in(file)?;
        Ok(HOST.get_or_init(|| l).clone())
    }

    /// The layout kept in `file` if it still holds, else detected and kept
    /// there (see [`Layout::detect_kept_in`]).
    pub(crate) fn kept_in(file: &Path) -> Result<Layout, CgroupError> {
        let kept = std::fs::read(file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Layout>(&b).ok())
            .filter(Layout::still_mounted);
        let l = match kept {
            Some(l) => l,
            None => {
                let l = Layout::detect()?;
                // A cache only: a file that cannot be written is detected
                // again next time.
                let tmp = file.with_extension(format!("tmp{}", std::process::id()));
                let body = serde_json::to_vec(&l).expect("a layout serializes");
                if std::fs::write(&tmp, body).is_ok() && std::fs::rename(&tmp, file).is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                l
            }
        };
        Ok(l)
    }

    /// Is every hierarchy still a cgroup file system where it was mounted?
    fn still_mounted(&self) -> bool {
        const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
        const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
        let is = |p: &Path, magic: i64| {
            nix::sys::statfs::statfs(p).is_ok_and(|s| s.filesystem_type().0 == magic)
        };
        (!self.v1.is_empty() || self.unified.is_some())
            && self
                .v1
                .iter()
                .all(|h| is(&h.mountpoint, CGROUP_SUPER_MAGIC))
            && self
                .unified
                .as_ref()
                .is_none_or(|u| is(&u.mountpoint, CGROUP2_SUPER_MAGIC))
    }

    /// Parse mountinfo text. Pure: the unified hierarchy's controllers are
    /// left empty (see [`Layout::detect`]).
    pub fn from_mountinfo(text: &str) -> Result<Layout, CgroupError> {
        let mut layout = Layout::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry = parse_line(line).map_err(|reason| CgroupError::Parse {
                what: format!("mountinfo line {}: {line:?}", n + 1),
                reason,
            })?;
            match entry.fstype {
                // A second cgroup2 mount is the same hierarchy again.
                "cgroup2" if layout.unified.is_none() => {
                    layout.unified = Some(Unified {
                        mountpoint: entry.mountpoint,
                        controllers: Vec::new(),
                    });
                }
                "cgroup" => {
                    let mut controllers = Vec::new();
                    let mut name = None;
                    for opt in entry.super_options.split(',') {
                        if let Some(n) = opt.strip_prefix("name=") {
                            name = Some(n.to_string());
                        } else if !opt.is_empty()
                            && !opt.contains('=')
                            && !NON_CONTROLLER_OPTIONS.contains(&opt)
                        {
                            controllers.push(opt.to_string());
                        }
                    }
                    if controllers.is_empty() && name.is_none() {
                        continue;
                    }
                    // The same hierarchy mounted twice: the first mount wins.
                    let seen = layout
                        .v1
                        .iter()
                        .any(|h| h.controllers == controllers && h.name == name);
                    if !seen {
                        layout.v1.push(Hierarchy {
                            controllers,
                            name,
                            mountpoint: entry.mountpoint,
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(layout)
    }

    /// The v1 hierarchy holding `controller`.
    pub fn v1_hierarchy(&self, controller: &str) -> Option<&Hierarchy> {
        self.v1.iter().find(|h| h.has(controller))
    }

    /// Whether the unified hierarchy offers `controller`.
    pub fn unified_has(&self, controller: &str) -> bool {
        self.unified
            .as_ref()
            .is_some_and(|u| u.controllers.iter().any(|c| c == controller))
    }

    /// Pure cgroup v2: a unified hierarchy and no v1 controllers.
    pub fn is_unified_only(&self) -> bool {
        self.unified.is_some() && self.v1.iter().all(|h| h.controllers.is_empty())
    }
}

struct MountEntry<'a> {
    mountpoint: PathBuf,
    fstype: &'a str,
    super_options: &'a str,
}

/// One mountinfo line:
/// `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS`.
fn parse_line(line: &str) -> Result<MountEntry<'_>, String> {
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields
        .iter()
        .skip(6)
        .position(|f| *f == "-")
        .map(|p| p + 6)
        .ok_or("no \" - \" separator after the optional fields")?;
    if fields.len() < sep + 4 {
        return Err("missing fields after the \" - \" separator".into());
    }
    Ok(MountEntry {
        mountpoint: PathBuf::from(unescape(fields[4])),
        fstype: fields[sep + 1],
        super_options: fields[sep + 3],
    })
}

/// Undo the kernel's octal escaping of mountinfo paths (`\040` for space).
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes.get(i + 1..i + 4);
        if bytes[i] == b'\\' {
            if let Some(d) = digits.filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b))) {
                let value = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                if let Ok(v) = u8::try_from(value) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Debian host booted with systemd.unified_cgroup_hierarchy=0
    /// (plus a cpu,cpuacct hierarchy as most distributions mount it).
    const HYBRID: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
34 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpuset,clone_children
37 31 0:34 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
38 31 0:35 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
39 31 0:36 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,devices
40 31 0:37 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,freezer
41 31 0:38 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,blkio
42 31 0:39 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,hugetlb,release_agent=/x
77 34 0:31 / /mnt/again rw,relatime - cgroup cgroup rw,cpu,cpuacct
";

    const PURE_V2: &str = "\
24 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
25 24 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
29 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
30 25 0:27 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:5 - pstore pstore rw
";

    #[test]
    fn hybrid_mountinfo() {
        let layout = Layout::from_mountinfo(HYBRID).unwrap();
        let labels: Vec<String> = layout.v1.iter().map(Hierarchy::label).collect();
        assert_eq!(
            labels,
            [
                "systemd",
                "cpu,cpuacct",
                "memory",
                "cpuset",
                "net_cls,net_prio",
                "pids",
                "devices",
                "freezer",
                "blkio",
                "hugetlb"
            ]
        );
        assert_eq!(
            layout.v1_hierarchy("cpuacct").unwrap().mountpoint,
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(layout.v1[0].name.as_deref(), Some("systemd"));
        assert!(layout.v1[0].controllers.is_empty());
        let unified = layout.unified.as_ref().unwrap();
        assert_eq!(unified.mountpoint, Path::new("/sys/fs/cgroup/unified"));
        assert!(unified.controllers.is_empty());
        assert!(!layout.is_unified_only());
    }

    #[test]
    fn pure_v2_mountinfo() {
        let layout = Layout::from_mountinfo(PURE_V2).unwrap();
        assert!(layout.v1.is_empty());
        assert_eq!(
            layout.unified.as_ref().unwrap().mountpoint,
            Path::new("/sys/fs/cgroup")
        );
        assert!(layout.is_unified_only());
    }

    #[test]
    fn escaped_mountpoint_and_no_cgroups() {
        let text = "50 22 0:40 / /mnt/my\\040cg rw - cgroup2 none rw\n";
        let layout = Layout::from_mountinfo(text).unwrap();
        assert_eq!(layout.unified.unwrap().mountpoint, Path::new("/mnt/my cg"));
        let layout = Layout::from_mountinfo("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n").unwrap();
        assert_eq!(layout, Layout::default());
    }

    #[test]
    fn malformed_mountinfo_names_the_line() {
        let err = Layout::from_mountinfo("22 1 8:1 / / rw ext4\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mountinfo line 1") && err.contains("separator"),
            "{err}"
        );
    }

    #[test]
    fn detect_this_host() {
        // Whatever the host is, detection must succeed and find some cgroups.
        let layout = Layout::detect().unwrap();
        assert!(
            !layout.v1.is_empty() || layout.unified.is_some(),
            "{layout:?}"
        );
    }
}
