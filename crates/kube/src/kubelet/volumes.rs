//! A pod's volumes on the host, made ready before its containers start:
//! emptyDir (a directory of the pod's, a tmpfs for `medium: Memory`),
//! hostPath, configMap and secret (their keys as files, with `items` and
//! `defaultMode`), downwardAPI (the pod's fields and its containers'
//! resources as files), and persistentVolumeClaim (the claim's skiff
//! volume, which outlives the pod). With the pod's `fsGroup`, emptyDirs
//! belong to that group (setgid, as the kubelet leaves them). Beside the
//! volumes, the pod's /dev/shm: a tmpfs of 64 MiB its containers share.

use super::spec::{PodRef, Waiting};
use crate::cluster::Cluster;
use crate::kinds::Kind;
use crate::object::Object;
use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, Volume};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The engine volume that backs a claim.
pub fn claim_volume(claim_uid: &str) -> String {
    format!("pvc-{claim_uid}")
}

/// What a container's bind mounts for `v`: a host path or a volume name.
pub fn source(p: &PodRef<'_>, c: &Cluster<'_>, v: &Volume) -> String {
    if let Some(h) = &v.host_path {
        return h.path.clone();
    }
    if let Some(claim) = &v.persistent_volume_claim {
        if let Ok(Some(Object::PersistentVolumeClaim(pvc))) =
            c.get(Kind::PersistentVolumeClaim, p.namespace, &claim.claim_name)
        {
            return claim_volume(pvc.metadata.uid.as_deref().unwrap_or(""));
        }
    }
    p.volumes_dir(c).join(&v.name).display().to_string()
}

fn config_error(message: String) -> Waiting {
    Waiting {
        reason: "CreateContainerConfigError",
        message,
    }
}

/// Make every volume of the pod ready (again: ConfigMap and Secret files
/// are rewritten as their objects are).
pub fn prepare(p: &PodRef<'_>, c: &Cluster<'_>) -> Result<(), Waiting> {
    let dir = p.volumes_dir(c);
    let shm = p.shm_dir(c);
    if !mounted(&shm) {
        std::fs::create_dir_all(&shm)
            .and_then(|()| tmpfs(&shm, "mode=1777,size=67108864"))
            .map_err(|e| config_error(format!("the pod's /dev/shm: {e}")))?;
    }
    let fs_group = p.spec().security_context.as_ref().and_then(|s| s.fs_group);
    for v in p.spec().volumes.iter().flatten() {
        let here = dir.join(&v.name);
        let io = |e: std::io::Error| config_error(format!("volume {}: {e}", v.name));
        if let Some(e) = &v.empty_dir {
            // (A Memory one is made again after a reboot took its tmpfs.)
            let memory = e.medium.as_deref() == Some("Memory");
            if !here.exists() || (memory && !mounted(&here)) {
                std::fs::create_dir_all(&here).map_err(io)?;
                std::fs::set_permissions(&here, std::fs::Permissions::from_mode(0o777))
                    .map_err(io)?;
                if memory {
                    let size = e
                        .size_limit
                        .as_ref()
                        .and_then(|q| crate::quantity::bytes(&q.0))
                        .map(|b| format!(",size={b}"))
                        .unwrap_or_default();
                    tmpfs(&here, &format!("mode=777{size}")).map_err(|e| {
                        config_error(format!("volume {}: mounting a tmpfs: {e}", v.name))
                    })?;
                }
                if let Some(g) = fs_group {
                    std::os::unix::fs::chown(&here, None, Some(g as u32)).map_err(io)?;
                    std::fs::set_permissions(&here, std::fs::Permissions::from_mode(0o2777))
                        .map_err(io)?;
                }
            }
        } else if let Some(d) = &v.downward_api {
            let mut data = BTreeMap::new();
            let mut items = Vec::new();
            for f in d.items.iter().flatten() {
                data.insert(f.path.clone(), downward_value(p, f)?.into_bytes());
                items.push(KeyToPath {
                    key: f.path.clone(),
                    path: f.path.clone(),
                    mode: f.mode,
                });
            }
            write_keys(&here, &data, Some(&items), d.default_mode.unwrap_or(0o644)).map_err(io)?;
        } else if let Some(h) = &v.host_path {
            let path = Path::new(&h.path);
            match h.type_.as_deref().unwrap_or("") {
                "DirectoryOrCreate" => std::fs::create_dir_all(path).map_err(io)?,
                "FileOrCreate" if !path.exists() => {
                    std::fs::File::create(path).map_err(io)?;
                }
                "Directory" if !path.is_dir() => {
                    return Err(config_error(format!(
                        "hostPath type check failed: {} is not a directory",
                        h.path
                    )))
                }
                "File" if !path.is_file() => {
                    return Err(config_error(format!(
                        "hostPath type check failed: {} is not a file",
                        h.path
                    )))
                }
                _ => {}
            }
        } else if let Some(cm) = &v.config_map {
            let data = match c.get(Kind::ConfigMap, p.namespace, &cm.name) {
                Ok(Some(Object::ConfigMap(o))) => {
                    let mut d: BTreeMap<String, Vec<u8>> = o
                        .data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.into_bytes()))
                        .collect();
                    d.extend(
                        o.binary_data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, v.0)),
                    );
                    d
                }
                _ if cm.optional == Some(true) => BTreeMap::new(),
                _ => return Err(config_error(format!("configmap \"{}\" not found", cm.name))),
            };
            write_keys(
                &here,
                &data,
                cm.items.as_deref(),
                cm.default_mode.unwrap_or(0o644),
            )
            .map_err(io)?;
        } else if let Some(s) = &v.secret {
            let name = s.secret_name.clone().unwrap_or_default();
            let data = match c.get(Kind::Secret, p.namespace, &name) {
                Ok(Some(Object::Secret(o))) => o
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect(),
                _ if s.optional == Some(true) => BTreeMap::new(),
                _ => return Err(config_error(format!("secret \"{name}\" not found"))),
            };
            write_keys(
                &here,
                &data,
                s.items.as_deref(),
                s.default_mode.unwrap_or(0o644),
            )
            .map_err(io)?;
        } else if let Some(claim) = &v.persistent_volume_claim {
            match c.get(Kind::PersistentVolumeClaim, p.namespace, &claim.claim_name) {
                Ok(Some(Object::PersistentVolumeClaim(pvc))) => {
                    let bound =
                        pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
                    if !bound {
                        return Err(Waiting {
                            reason: "ContainerCreating",
                            message: format!(
                                "persistentvolumeclaim \"{}\" is not bound",
                                claim.claim_name
                            ),
                        });
                    }
                }
                _ => {
                    return Err(config_error(format!(
                        "persistentvolumeclaim \"{}\" not found",
                        claim.claim_name
                    )))
                }
            }
        }
    }
    Ok(())
}

/// Whether a file system is mounted at `p` (it lies on another device than
/// its parent).
fn mounted(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(p), p.parent().map(std::fs::metadata)) {
        (Ok(a), Some(Ok(b))) => a.dev() != b.dev(),
        _ => false,
    }
}

fn tmpfs(at: &Path, options: &str) -> std::io::Result<()> {
    nix::mount::mount(
        Some("tmpfs"),
        at,
        Some("tmpfs"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
        Some(options),
    )
    .map_err(std::io::Error::from)
}

/// A downwardAPI file's content: a field of the pod's (labels and
/// annotations as `key="value"` lines) or a container's resource, as the
/// kubelet writes them.
fn downward_value(p: &PodRef<'_>, f: &DownwardAPIVolumeFile) -> Result<String, Waiting> {
    let meta = &p.pod.metadata;
    let pairs = |m: &Option<BTreeMap<String, String>>| {
        m.iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v:?}\n"))
            .collect::<String>()
    };
    if let Some(r) = &f.field_ref {
        return Ok(match r.field_path.as_str() {
            "metadata.name" => p.name.to_string(),
            "metadata.namespace" => p.namespace.to_string(),
            "metadata.uid" => p.uid.to_string(),
            "metadata.labels" => pairs(&meta.labels),
            "metadata.annotations" => pairs(&meta.annotations),
            path => {
                let one = |prefix: &str, m: &Option<BTreeMap<String, String>>| {
                    path.strip_prefix(prefix)
                        .and_then(|r| r.strip_suffix("']"))
                        .map(|k| {
                            m.as_ref()
                                .and_then(|m| m.get(k))
                                .cloned()
                                .unwrap_or_default()
                        })
                };
                match one("metadata.labels['", &meta.labels)
                    .or_else(|| one("metadata.annotations['", &meta.annotations))
                {
                    Some(v) => v,
                    None => {
                        return Err(config_error(format!(
                            "unsupported fieldPath in downwardAPI volume: {path}"
                        )))
                    }
                }
            }
        });
    }
    if let Some(r) = &f.resource_field_ref {
        let k = p
            .spec()
            .containers
            .iter()
            .find(|k| Some(&k.name) == r.container_name.as_ref())
            .or_else(|| p.spec().containers.first())
            .ok_or_else(|| config_error("the pod has no containers".into()))?;
        return resource_value(k, &r.resource, r.divisor.as_ref().map(|d| d.0.as_str()));
    }
    Err(config_error(format!(
        "downwardAPI item {} has neither fieldRef nor resourceFieldRef",
        f.path
    )))
}

/// A container's limit or request (a limit not set is the node's
/// allocatable), in units of `divisor`, rounded up.
pub(super) fn resource_value(
    k: &k8s_openapi::api::core::v1::Container,
    resource: &str,
    divisor: Option<&str>,
) -> Result<String, Waiting> {
    let (which, name) = resource
        .split_once('.')
        .ok_or_else(|| config_error(format!("unsupported resource: {resource}")))?;
    let r = k.resources.clone().unwrap_or_default();
    let map = match which {
        "limits" => &r.limits,
        "requests" => &r.requests,
        _ => return Err(config_error(format!("unsupported resource: {resource}"))),
    };
    let q = map.as_ref().and_then(|m| m.get(name)).map(|q| q.0.clone());
    let (cpu, mem) = crate::controllers::node::allocatable();
    let (have, unit) = match name {
        "cpu" => (
            q.as_deref()
                .and_then(crate::quantity::millicores)
                .unwrap_or(if which == "limits" { cpu } else { 0 }),
            divisor
                .and_then(crate::quantity::millicores)
                .unwrap_or(1000),
        ),
        "memory" | "ephemeral-storage" => (
            q.as_deref()
                .and_then(crate::quantity::bytes)
                .unwrap_or(if which == "limits" { mem } else { 0 }),
            divisor.and_then(crate::quantity::bytes).unwrap_or(1),
        ),
        _ => return Err(config_error(format!("unsupported resource: {resource}"))),
    };
    Ok(((have + unit.max(1) - 1) / unit.max(1)).to_string())
}

/// A ConfigMap's or Secret's keys as files in `dir` (only `items` when
/// given, at their paths and modes). Runs on every pass: a file is written
/// only when its content or mode differs (to a temporary name, then renamed
/// over the old one, so a reader in a container never sees it missing or
/// half-written), and files no longer wanted go.
fn write_keys(
    dir: &Path,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    mode: i32,
) -> std::io::Result<()> {
    let files: Vec<(String, &Vec<u8>, u32)> = match items {
        Some(items) => items
            .iter()
            .filter_map(|i| {
                data.get(&i.key)
                    .map(|v| (i.path.clone(), v, i.mode.unwrap_or(mode) as u32 & 0o7777))
            })
            .collect(),
        None => data
            .iter()
            .map(|(k, v)| (k.clone(), v, mode as u32 & 0o7777))
            .collect(),
    };
    let files: Vec<_> = files
        .into_iter()
        .filter(|(p, _, _)| !p.split('/').any(|c| c == ".." || c.is_empty()))
        .collect();
    std::fs::create_dir_all(dir)?;
    for (path, value, mode) in &files {
        let f = dir.join(path);
        let same = std::fs::read(&f).is_ok_and(|have| &have == *value)
            && std::fs::metadata(&f).is_ok_and(|m| m.permissions().mode() & 0o7777 == *mode);
        if same {
            continue;
        }
        let parent = f.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent)?;
        let tmp = parent.join(format!(
            ".{}.new",
            f.file_name().unwrap_or_default().to_string_lossy()
        ));
        std::fs::write(&tmp, value)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(*mode))?;
        std::fs::rename(&tmp, &f)?;
    }
    // What is there but not wanted.
    let wanted: std::collections::HashSet<std::path::PathBuf> =
        files.iter().map(|(p, _, _)| dir.join(p)).collect();
    fn sweep(
        d: &Path,
        wanted: &std::collections::HashSet<std::path::PathBuf>,
    ) -> std::io::Result<bool> {
        let mut keep = false;
        for e in std::fs::read_dir(d)? {
            let p = e?.path();
            if p.is_dir() {
                if sweep(&p, wanted)? {
                    keep = true;
                } else {
                    std::fs::remove_dir(&p)?;
                }
            } else if wanted.contains(&p) {
                keep = true;
            } else {
                std::fs::remove_file(&p)?;
            }
        }
        Ok(keep)
    }
    sweep(dir, &wanted)?;
    Ok(())
}

/// Remove what a pod's volumes left on the host (its emptyDirs and copies
/// of ConfigMaps and Secrets; claims' volumes stay).
pub fn cleanup(c: &Cluster<'_>, uid: &str) {
    let dir = c.engine().paths().root.join("kube/pods").join(uid);
    if let Ok(entries) = std::fs::read_dir(dir.join("volumes")) {
        for e in entries.flatten() {
            let _ = nix::mount::umount2(&e.path(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _ = nix::mount::umount2(&dir.join("shm"), nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir_all(dir);
}
