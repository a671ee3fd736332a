//! A pod's volumes on the host, made ready before its containers start:
//! emptyDir (a directory of the pod's, a tmpfs for `medium: Memory`),
//! hostPath, configMap and secret (their keys as files, with `items` and
//! `defaultMode`), and persistentVolumeClaim (the claim's skiff volume,
//! which outlives the pod).

use super::spec::{PodRef, Waiting};
use crate::cluster::Cluster;
use crate::kinds::Kind;
use crate::object::Object;
use k8s_openapi::api::core::v1::{KeyToPath, Volume};
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
    for v in p.spec().volumes.iter().flatten() {
        let here = dir.join(&v.name);
        let io = |e: std::io::Error| config_error(format!("volume {}: {e}", v.name));
        if let Some(e) = &v.empty_dir {
            if !here.exists() {
                std::fs::create_dir_all(&here).map_err(io)?;
                std::fs::set_permissions(&here, std::fs::Permissions::from_mode(0o777))
                    .map_err(io)?;
                if e.medium.as_deref() == Some("Memory") {
                    let size = e
                        .size_limit
                        .as_ref()
                        .and_then(|q| crate::quantity::bytes(&q.0))
                        .map(|b| format!(",size={b}"))
                        .unwrap_or_default();
                    nix::mount::mount(
                        Some("tmpfs"),
                        &here,
                        Some("tmpfs"),
                        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
                        Some(format!("mode=777{size}").as_str()),
                    )
                    .map_err(|e| {
                        config_error(format!("volume {}: mounting a tmpfs: {e}", v.name))
                    })?;
                }
            }
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
    let _ = std::fs::remove_dir_all(dir);
}
