//! The engine and its host as a whole: `info` (Docker's document, with its
//! field names), `system df` (what images, containers and volumes take and
//! what a prune would give back, with Docker's accounting) and `system
//! prune`.

use crate::filters::Filters;
use crate::images::Pruned;
use crate::model::Container;
use crate::model::Status;
use crate::{Engine, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The host's memory in bytes (MemTotal of /proc/meminfo).
pub fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        })
        .map_or(0, |kb| kb * 1024)
}

/// The kernel's release, machine and node name.
fn uname() -> (String, String, String) {
    // SAFETY: utsname is plain bytes; all zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct it is given and keeps no pointer.
    unsafe { libc::uname(&mut u) };
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (field(&u.release), field(&u.machine), field(&u.nodename))
}

/// PRETTY_NAME and VERSION_ID from os-release, as Docker reads them.
fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let pretty = get("PRETTY_NAME");
    (
        if pretty.is_empty() {
            "Linux".into()
        } else {
            pretty
        },
        get("VERSION_ID"),
    )
}

/// Docker's `Plugins` of `info`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Plugins {
    pub volume: Vec<String>,
    pub network: Vec<String>,
    pub authorization: Option<Vec<String>>,
    pub log: Vec<String>,
}

/// A runtime `info` lists.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeInfo {
    pub path: String,
}

/// `info`: the engine and its host, with Docker's field names.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    pub containers: usize,
    pub containers_running: usize,
    pub containers_paused: usize,
    pub containers_stopped: usize,
    pub images: usize,
    pub driver: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    pub cgroup_version: String,
    pub plugins: Plugins,
    pub runtimes: BTreeMap<String, RuntimeInfo>,
    pub default_runtime: String,
    pub init_binary: String,
    pub security_options: Vec<String>,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    #[serde(rename = "NCPU")]
    pub ncpu: usize,
    pub mem_total: u64,
    pub name: String,
    pub docker_root_dir: String,
    pub server_version: String,
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    pub debug: bool,
    pub experimental_build: bool,
    pub live_restore_enabled: bool,
    pub labels: Vec<String>,
    pub warnings: Option<Vec<String>>,
}

/// One row of `system df`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// `system df`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DiskUsage {
    pub images: Usage,
    pub containers: Usage,
    pub volumes: Usage,
    pub build_cache: Usage,
}

/// One image's share of the disk: the bytes of its layers, those of them
/// other images share, the containers that use it.
#[derive(Debug, Clone)]
pub struct ImageDisk {
    pub id: String,
    pub size: u64,
    pub shared: u64,
    pub containers: usize,
}

/// One build cache entry's share: the bytes of its layers no image holds
/// (counted once over the entries), whether images hold all its layers.
#[derive(Debug, Clone)]
pub struct CacheDisk {
    pub key: String,
    pub size: u64,
    pub in_use: bool,
    pub created: String,
    pub last_used: String,
}

/// `system df` object by object.
#[derive(Debug, Clone)]
pub struct DiskUsageDetail {
    /// Every image layer's bytes, each layer once.
    pub layers_size: u64,
    pub images: Vec<ImageDisk>,
    /// Each container with the bytes of its writable layer.
    pub containers: Vec<(Container, u64)>,
    /// Each volume with its bytes and how many containers use it.
    pub volumes: Vec<(crate::volumes::Volume, u64, usize)>,
    pub build_cache: Vec<CacheDisk>,
}

impl DiskUsageDetail {
    /// The rows of `system df`, with Docker's accounting.
    pub fn totals(&self) -> DiskUsage {
        let images = Usage {
            total: self.images.len(),
            active: self.images.iter().filter(|i| i.containers > 0).count(),
            size: self.layers_size,
            reclaimable: self.layers_size.saturating_sub(
                self.images
                    .iter()
                    .filter(|i| i.containers > 0)
                    .map(|i| i.size - i.shared)
                    .sum(),
            ),
        };
        let running = |c: &Container| matches!(c.state.status, Status::Running | Status::Paused);
        let containers = Usage {
            total: self.containers.len(),
            active: self.containers.iter().filter(|(c, _)| running(c)).count(),
            size: self.containers.iter().map(|(_, s)| s).sum(),
            reclaimable: self
                .containers
                .iter()
                .filter(|(c, _)| !running(c))
                .map(|(_, s)| s)
                .sum(),
        };
        let volumes = Usage {
            total: self.volumes.len(),
            active: self.volumes.iter().filter(|(_, _, u)| *u > 0).count(),
            size: self.volumes.iter().map(|(_, s, _)| s).sum(),
            reclaimable: self
                .volumes
                .iter()
                .filter(|(_, _, u)| *u == 0)
                .map(|(_, s, _)| s)
                .sum(),
        };
        let build_cache = Usage {
            total: self.build_cache.len(),
            active: self.build_cache.iter().filter(|e| e.in_use).count(),
            size: self.build_cache.iter().map(|e| e.size).sum(),
            reclaimable: self
                .build_cache
                .iter()
                .filter(|e| !e.in_use)
                .map(|e| e.size)
                .sum(),
        };
        DiskUsage {
            images,
            containers,
            volumes,
            build_cache,
        }
    }
}

/// What `system prune` removes besides stopped containers, unused networks
/// and dangling images.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemPruneOptions {
    /// Every image no container uses, not only unnamed ones.
    pub all_images: bool,
    /// Volumes no container uses.
    pub volumes: bool,
}

/// What `system prune` removed, and the bytes it gave back.
#[derive(Debug, Clone, Default)]
pub struct SystemPruned {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
    pub bytes: u64,
}

impl Engine {
    /// `info`.
    pub fn info(&self) -> Result<Info> {
        let list = self.list()?;
        let count = |f: fn(&Status) -> bool| list.iter().filter(|c| f(&c.state.status)).count();
        let running = count(|s| matches!(s, Status::Running | Status::Restarting));
        let paused = count(|s| matches!(s, Status::Paused));
        let (release, machine, nodename) = uname();
        let (os, os_version) = os_release();
        // Docker's "Cgroup Version" is 2 only on a host without v1 controllers.
        let cgroup2 =
            skiff_runtime::cgroups::Layout::detect_once().is_ok_and(|l| l.is_unified_only());
        let mut security = vec!["name=seccomp,profile=default".to_string()];
        if cgroup2 {
            security.push("name=cgroupns".into());
        }
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Ok(Info {
            containers: list.len(),
            containers_running: running,
            containers_paused: paused,
            containers_stopped: list.len() - running - paused,
            images: self.image_ids()?.len(),
            driver: "overlay".into(),
            logging_driver: "json-file".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: if cgroup2 { "2" } else { "1" }.into(),
            plugins: Plugins {
                volume: strings(&["local"]),
                network: strings(&["bridge", "host", "null"]),
                authorization: None,
                log: strings(&["json-file"]),
            },
            runtimes: BTreeMap::from([(
                "skiff-runtime".to_string(),
                RuntimeInfo {
                    path: self.supervisor_exe.display().to_string(),
                },
            )]),
            default_runtime: "skiff-runtime".into(),
            init_binary: "docker-init".into(),
            security_options: security,
            kernel_version: release,
            operating_system: os,
            os_version,
            os_type: "linux".into(),
            architecture: machine,
            ncpu: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_total: mem_total(),
            name: nodename,
            docker_root_dir: self.paths.root.display().to_string(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            ipv4_forwarding: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                .is_ok_and(|v| v.trim() == "1"),
            debug: false,
            experimental_build: false,
            live_restore_enabled: false,
            labels: Vec::new(),
            warnings: None,
        })
    }

    /// `system df`, with Docker's accounting: layers shared between images
    /// count once; an image in use keeps what only it has.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        Ok(self.disk_usage_detail()?.totals())
    }

    /// What [`disk_usage`](Self::disk_usage) adds up, object by object (what
    /// the API's `/system/df` lists).
    pub fn disk_usage_detail(&self) -> Result<DiskUsageDetail> {
        let containers = self.list()?;
        let imgs = self.images()?;
        let ids = self.image_ids()?;
        let mut layer_size: BTreeMap<PathBuf, u64> = BTreeMap::new();
        let mut layer_users: BTreeMap<PathBuf, usize> = BTreeMap::new();
        let mut image_layers = Vec::new();
        for id in &ids {
            let dirs = imgs.layer_dirs(id).unwrap_or_default();
            for d in &dirs {
                *layer_users.entry(d.clone()).or_default() += 1;
                layer_size
                    .entry(d.clone())
                    .or_insert_with(|| crate::volumes::dir_size(d));
            }
            image_layers.push((id.to_string(), dirs));
        }
        let images = image_layers
            .iter()
            .map(|(id, dirs)| ImageDisk {
                id: id.clone(),
                size: dirs.iter().map(|d| layer_size[d]).sum(),
                shared: dirs
                    .iter()
                    .filter(|d| layer_users[*d] > 1)
                    .map(|d| layer_size[d])
                    .sum(),
                containers: containers.iter().filter(|c| c.image_id == *id).count(),
            })
            .collect();
        let sized = containers
            .into_iter()
            .map(|c| {
                let s = self.rw_size(&c);
                (c, s)
            })
            .collect();
        let mut volumes = Vec::new();
        for v in self.volume_list()? {
            let s = crate::volumes::dir_size(&self.volume_data(&v.name));
            let users = self.volume_users(&v.name)?.len();
            volumes.push((v, s, users));
        }
        Ok(DiskUsageDetail {
            layers_size: layer_size.values().sum(),
            images,
            containers: sized,
            volumes,
            build_cache: self.build_cache_detail()?,
        })
    }

    /// `system prune`: stopped containers, networks no container uses,
    /// dangling images (every unused one with `all_images`) and, with
    /// `volumes`, volumes no container uses.
    pub fn system_prune(&self, o: &SystemPruneOptions) -> Result<SystemPruned> {
        let mut out = SystemPruned::default();
        let c = self.prune_containers(&Filters::default())?;
        out.containers = c.removed;
        out.bytes += c.bytes;
        out.networks = self.network_prune()?;
        if o.volumes {
            let (gone, bytes) = self.volume_prune()?;
            out.volumes = gone;
            out.bytes += bytes;
        }
        let Pruned { removed, bytes } = self.image_prune(o.all_images)?;
        out.images = removed;
        out.bytes += bytes;
        Ok(out)
    }
}
