//! From `linux.cgroupsPath` to the container's cgroup path, the path below
//! each hierarchy's mountpoint (always absolute, e.g. `/system.slice/skiff-x.scope`).
//!
//! Two conventions exist, chosen by the `--systemd-cgroup` flag:
//!
//! * cgroupfs: the value is a path; relative paths are taken from the root;
//!   no value means `/<container id>`.
//! * systemd: the value is `slice:prefix:name`, naming the transient unit
//!   systemd would create. No systemd is contacted here: the value is mapped
//!   onto the cgroupfs path systemd would give that unit
//!   (`a-b.slice` lives in `a.slice/a-b.slice`, the unit is `prefix-name.scope`).

use super::CgroupError;

/// The slice used when a systemd cgroupsPath leaves it empty.
const DEFAULT_SLICE: &str = "system.slice";
/// The scope prefix used when the config has no cgroupsPath in systemd mode.
const DEFAULT_PREFIX: &str = "skiff";

/// The cgroup path (absolute, `/`-separated) of container `id`.
///
/// An empty `cgroups_path` counts as none. In cgroupfs mode `..` components
/// and paths that resolve to the root cgroup are refused, as the container
/// would otherwise escape or take over a cgroup it does not own.
pub fn resolve_path(
    cgroups_path: Option<&str>,
    id: &str,
    systemd: bool,
) -> Result<String, CgroupError> {
    let given = cgroups_path.filter(|p| !p.is_empty());
    if systemd {
        match given {
            Some(value) => systemd_path(value),
            None => systemd_path(&format!("{DEFAULT_SLICE}:{DEFAULT_PREFIX}:{id}")),
        }
    } else {
        match given {
            Some(value) => clean_path(value),
            None => clean_path(&format!("/{id}")),
        }
    }
}

fn invalid(value: &str, reason: impl Into<String>) -> CgroupError {
    CgroupError::InvalidPath {
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Normalise a cgroupfs path: absolute, no empty or `.` components, no `..`.
fn clean_path(value: &str) -> Result<String, CgroupError> {
    let mut out = String::with_capacity(value.len() + 1);
    for part in value.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(invalid(value, "\"..\" is not allowed")),
            _ => {
                out.push('/');
                out.push_str(part);
            }
        }
    }
    if out.is_empty() {
        return Err(invalid(value, "it names the root cgroup"));
    }
    Ok(out)
}

/// `slice:prefix:name` to the path systemd would give the unit.
fn systemd_path(value: &str) -> Result<String, CgroupError> {
    let parts: Vec<&str> = value.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(invalid(
            value,
            "systemd cgroupsPath must have the form \"slice:prefix:name\"",
        ));
    };
    if name.is_empty() {
        return Err(invalid(value, "the unit name is empty"));
    }
    if name.contains('/') || prefix.contains('/') {
        return Err(invalid(value, "unit prefix and name must not contain '/'"));
    }
    let parent = expand_slice(if slice.is_empty() {
        DEFAULT_SLICE
    } else {
        slice
    })
    .map_err(|reason| invalid(value, reason))?;
    let unit = if name.ends_with(".slice") {
        // A slice unit: validated like the parent, but kept as one level.
        expand_slice(name).map_err(|reason| invalid(value, reason))?;
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    if parent.is_empty() {
        Ok(format!("/{unit}"))
    } else {
        Ok(format!("/{parent}/{unit}"))
    }
}

/// `a-b-c.slice` to `a.slice/a-b.slice/a-b-c.slice`; the root slice `-.slice`
/// to the empty path.
fn expand_slice(slice: &str) -> Result<String, String> {
    if slice.contains('/') {
        return Err(format!("slice {slice:?} must not contain '/'"));
    }
    let Some(base) = slice.strip_suffix(".slice") else {
        return Err(format!("slice {slice:?} does not end in \".slice\""));
    };
    if base == "-" {
        return Ok(String::new());
    }
    if base.is_empty() || base.starts_with('-') || base.ends_with('-') || base.contains("--") {
        return Err(format!("slice {slice:?} is not a valid slice name"));
    }
    let mut out = String::with_capacity(slice.len() * 2);
    for (i, _) in base.match_indices('-') {
        out.push_str(&base[..i]);
        out.push_str(".slice/");
    }
    out.push_str(slice);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(path: Option<&str>, systemd: bool) -> String {
        resolve_path(path, "ctr1", systemd).unwrap()
    }

    fn err(path: Option<&str>, systemd: bool) -> String {
        resolve_path(path, "ctr1", systemd).unwrap_err().to_string()
    }

    #[test]
    fn cgroupfs_paths() {
        assert_eq!(ok(None, false), "/ctr1");
        assert_eq!(ok(Some(""), false), "/ctr1");
        assert_eq!(ok(Some("/a/b"), false), "/a/b");
        assert_eq!(ok(Some("a/b"), false), "/a/b");
        assert_eq!(ok(Some("//a/./b/"), false), "/a/b");
    }

    #[test]
    fn cgroupfs_bad_paths() {
        let e = err(Some("/a/../../etc"), false);
        assert!(e.contains("\"/a/../../etc\"") && e.contains(".."), "{e}");
        let e = err(Some("/"), false);
        assert!(e.contains("root cgroup"), "{e}");
    }

    #[test]
    fn systemd_paths() {
        assert_eq!(ok(None, true), "/system.slice/skiff-ctr1.scope");
        assert_eq!(
            ok(Some(":docker:abc"), true),
            "/system.slice/docker-abc.scope"
        );
        assert_eq!(
            ok(Some("machine.slice:libpod:abc"), true),
            "/machine.slice/libpod-abc.scope"
        );
        assert_eq!(
            ok(Some("a-b-c.slice:p:n"), true),
            "/a.slice/a-b.slice/a-b-c.slice/p-n.scope"
        );
        assert_eq!(ok(Some("-.slice:p:n"), true), "/p-n.scope");
        assert_eq!(ok(Some("user.slice::n"), true), "/user.slice/n.scope");
        assert_eq!(
            ok(Some("kubepods.slice:x:kubepods-burstable.slice"), true),
            "/kubepods.slice/kubepods-burstable.slice"
        );
    }

    #[test]
    fn systemd_bad_values() {
        for bad in [
            "/a/b",
            "a.slice:b",
            "a.slice:b:c:d",
            "a:p:n",
            "a/b.slice:p:n",
            "a--b.slice:p:n",
            "-a.slice:p:n",
            "a.slice:p:",
            "a.slice:p:x/y",
        ] {
            let e = err(Some(bad), true);
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }

    #[test]
    fn slice_expansion() {
        assert_eq!(expand_slice("system.slice").unwrap(), "system.slice");
        assert_eq!(expand_slice("a-b.slice").unwrap(), "a.slice/a-b.slice");
        assert_eq!(expand_slice("-.slice").unwrap(), "");
        assert!(expand_slice("a-.slice").is_err());
        assert!(expand_slice(".slice").is_err());
    }
}
