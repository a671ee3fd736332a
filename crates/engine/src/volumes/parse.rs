//! `-v`, `--mount` and `--tmpfs` as Docker parses them, and Docker's rule
//! for volume names.

use crate::model::MountPoint;
use crate::{Error, Result};

/// Docker's rule for volume names.
pub fn check_volume_name(name: &str) -> Result<()> {
    let ok = name.len() >= 2
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

/// Parse `-v SRC:DST[:OPTS]` or `-v DST` (an anonymous volume).
pub fn parse_volume_flag(v: &str) -> Result<MountPoint> {
    let parts: Vec<&str> = v.split(':').collect();
    let bad = || Error::Invalid(format!("invalid volume specification: '{v}'"));
    let (src, dst, opts) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] if d.starts_with('/') => (*s, *d, ""),
        [s, d] if !s.starts_with('/') => (*s, *d, ""),
        [d, o] if d.starts_with('/') => ("", *d, *o),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(bad()),
    };
    if !dst.starts_with('/') {
        let kind = if src.starts_with('/') {
            "bind"
        } else {
            "volume"
        };
        return Err(Error::Invalid(format!(
            "invalid volume specification: '{v}': invalid mount config for type \"{kind}\": invalid mount path: '{dst}' mount path must be absolute"
        )));
    }
    if dst == "/" && src.is_empty() {
        return Err(bad());
    }
    let mut read_only = false;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" | "z" | "Z" | "private" | "rprivate" | "nocopy" => {}
            _ => return Err(Error::Invalid(format!("invalid mode: {o}"))),
        }
    }
    let kind = if src.is_empty() {
        "volume"
    } else if src.starts_with('/') {
        "bind"
    } else {
        check_volume_name(src)?;
        "volume"
    };
    Ok(MountPoint {
        kind: kind.into(),
        source: src.into(),
        target: clean_target(dst),
        read_only,
        options: String::new(),
        create_host_path: kind == "bind",
        mode: if !opts.is_empty() {
            opts.to_string()
        } else if kind == "volume" {
            "z".into()
        } else {
            String::new()
        },
        from_mount_flag: false,
        subpath: String::new(),
    })
}

/// Parse `--mount type=bind|volume|tmpfs,source=,target=,readonly,...`.
pub fn parse_mount_flag(v: &str) -> Result<MountPoint> {
    let mut m = MountPoint {
        kind: "volume".into(),
        from_mount_flag: true,
        ..Default::default()
    };
    let mut tmpfs_opts = Vec::new();
    for field in v.split(',') {
        let (k, val) = match field.split_once('=') {
            Some((k, val)) => (k.trim(), Some(val.trim())),
            None => (field.trim(), None),
        };
        match (k, val) {
            ("type", Some(t)) if matches!(t, "bind" | "volume" | "tmpfs") => m.kind = t.into(),
            ("type", Some(t)) => {
                return Err(Error::Invalid(format!(
                    "invalid mount config for type \"{t}\": mount type unknown"
                )))
            }
            ("source" | "src", Some(s)) => m.source = s.into(),
            ("target" | "destination" | "dst", Some(t)) => m.target = clean_target(t),
            ("readonly" | "ro", None) => m.read_only = true,
            ("readonly" | "ro", Some(b)) => m.read_only = matches!(b, "1" | "true"),
            ("tmpfs-size", Some(s)) => tmpfs_opts.push(format!("size={s}")),
            ("tmpfs-mode", Some(s)) => tmpfs_opts.push(format!("mode={s}")),
            ("volume-subpath", Some(p)) => m.subpath = p.into(),
            ("bind-propagation" | "consistency" | "volume-nocopy", _) => {}
            _ => {
                return Err(Error::Invalid(format!(
                "invalid argument \"{v}\" for \"--mount\" flag: unexpected key '{k}' in '{field}'"
            )))
            }
        }
    }
    if m.target.is_empty() {
        return Err(Error::Invalid(format!(
            "invalid argument \"{v}\" for \"--mount\" flag: target is required"
        )));
    }
    check_mount(m, tmpfs_opts)
}

/// A mount as the API's `HostConfig.Mounts` gives it (`Type`, `Source`,
/// `Target`, `ReadOnly`, the tmpfs options as `size=`/`mode=`), checked
/// as `--mount` is.
pub fn api_mount(
    kind: &str,
    source: &str,
    target: &str,
    read_only: bool,
    tmpfs_opts: Vec<String>,
) -> Result<MountPoint> {
    if !matches!(kind, "bind" | "volume" | "tmpfs") {
        return Err(Error::Invalid(format!(
            "invalid mount config for type \"{kind}\": mount type unknown"
        )));
    }
    if target.is_empty() {
        return Err(Error::Invalid(format!(
            "invalid mount config for type \"{kind}\": field Target must not be empty"
        )));
    }
    let m = MountPoint {
        kind: kind.into(),
        source: source.into(),
        target: clean_target(target),
        read_only,
        from_mount_flag: true,
        ..Default::default()
    };
    check_mount(m, tmpfs_opts)
}

/// What every `--mount` (and API mount) must be, and what follows from
/// its type.
fn check_mount(mut m: MountPoint, tmpfs_opts: Vec<String>) -> Result<MountPoint> {
    match m.kind.as_str() {
        "bind" if !m.source.starts_with('/') => {
            return Err(Error::Invalid(format!(
                "invalid mount config for type \"bind\": invalid mount path: '{}' mount path must be absolute",
                m.source
            )))
        }
        _ if !m.subpath.is_empty() && m.kind != "volume" => {
            return Err(Error::Invalid(format!(
                "invalid mount config for type \"{}\": volume-subpath must not be specified",
                m.kind
            )))
        }
        "volume" if !m.source.is_empty() => {
            if m.source.len() < 2 {
                return Err(Error::Invalid(
                    "volume name is too short, names should be at least two alphanumeric characters"
                        .into(),
                ));
            }
            check_volume_name(&m.source)?;
            m.mode = "z".into();
        }
        "tmpfs" if !m.source.is_empty() => {
            return Err(Error::Invalid(
                "invalid mount config for type \"tmpfs\": field Source must not be specified"
                    .into(),
            ))
        }
        "tmpfs" => m.options = tmpfs_opts.join(","),
        _ => {}
    }
    Ok(m)
}

/// Parse `--tmpfs /path[:opts]`.
pub fn parse_tmpfs_flag(v: &str) -> Result<MountPoint> {
    let (t, opts) = v.split_once(':').unwrap_or((v, ""));
    if !t.starts_with('/') {
        return Err(Error::Invalid(format!(
            "invalid mount path: '{t}' mount path must be absolute"
        )));
    }
    Ok(MountPoint {
        kind: "tmpfs".into(),
        target: clean_target(t),
        options: opts.into(),
        ..Default::default()
    })
}

pub(super) fn clean_target(t: &str) -> String {
    let trimmed = t.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.into()
    }
}
