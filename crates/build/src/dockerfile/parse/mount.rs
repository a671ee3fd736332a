//! `RUN --mount=type=...,target=...`: BuildKit's option names, checks and
//! defaults.

use super::flags::suggest;
use super::values::{base_name, csv_fields, go_bool, go_u32, ram_in_bytes};
use crate::dockerfile::shell::ShellError;
use crate::dockerfile::{Mount, MountKind, Sharing};

const TYPES: [&str; 5] = ["bind", "cache", "tmpfs", "secret", "ssh"];
const SHARING: [&str; 3] = ["shared", "private", "locked"];
const KEYS: [&str; 19] = [
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

fn kind_name(k: MountKind) -> &'static str {
    match k {
        MountKind::Bind => "bind",
        MountKind::Cache => "cache",
        MountKind::Tmpfs => "tmpfs",
        MountKind::Secret => "secret",
        MountKind::Ssh => "ssh",
    }
}

/// One `--mount` value, every option value passed through `expand` first
/// (the builder's variable expansion).
/// Defaults applied: read-only except cache and tmpfs; a secret's id is its
/// `source`, `id` or the base name of its target, and its target
/// `/run/secrets/<id>` unless it goes to `env` only; a cache's id is its
/// cleaned target; an ssh mount's id is `default`.
pub fn parse_mount(
    spec: &str,
    expand: &dyn Fn(&str) -> Result<String, ShellError>,
) -> Result<Mount, String> {
    parse(spec, Some(expand))
}

/// At parse time (no `expand`): values stay as written, and options that
/// hold a `$` and need a typed value (numbers, booleans, type, sharing,
/// size) are left for the builder to read again with [`parse_mount`].
pub(super) fn parse_unexpanded(spec: &str) -> Result<Mount, String> {
    parse(spec, None)
}

type Expand<'a> = &'a dyn Fn(&str) -> Result<String, ShellError>;

fn parse(spec: &str, expand: Option<Expand<'_>>) -> Result<Mount, String> {
    let fields = csv_fields(spec).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    let mut m = Mount {
        kind: MountKind::Bind,
        target: None,
        source: None,
        from: None,
        id: None,
        sharing: Sharing::Shared,
        readonly: false,
        size: None,
        mode: None,
        uid: None,
        gid: None,
        required: false,
        env: None,
    };
    let mut ro_auto = true;
    // `type=$T` at parse time: the checks that depend on the type wait too.
    let mut type_deferred = false;
    let mut sharing_set = false;
    let unexpected = |key: &str, k: MountKind| {
        format!("unexpected key '{key}' for mount type '{}'", kind_name(k))
    };
    for field in &fields {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), v.to_string()),
            None => {
                match field.to_lowercase().as_str() {
                    "readonly" | "ro" => m.readonly = true,
                    "readwrite" | "rw" => m.readonly = false,
                    "required"
                        if type_deferred
                            || matches!(m.kind, MountKind::Secret | MountKind::Ssh) =>
                    {
                        m.required = true;
                        continue;
                    }
                    "required" => return Err(unexpected("required", m.kind)),
                    _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
                }
                ro_auto = false;
                continue;
            }
        };
        let value = match expand {
            Some(f) => f(&value).map_err(|e| e.0)?,
            None => value,
        };
        if key == "from" && expand.is_none() {
            if let Some(i) = value.find('$') {
                if i != value.len() - 1 {
                    return Err(
                        "'from' doesn't support variable expansion, define alias stage instead"
                            .into(),
                    );
                }
            }
        }
        let typed = !matches!(
            key.as_str(),
            "from" | "source" | "src" | "target" | "dst" | "destination" | "id" | "env"
        );
        if expand.is_none() && typed && value.contains('$') && KEYS.contains(&key.as_str()) {
            // Read again with the variables expanded.
            type_deferred |= key == "type";
            continue;
        }
        let bad_value = || format!("invalid value for {key}: {value}");
        let opt = |v: &str| (!v.is_empty()).then(|| v.to_string());
        match key.as_str() {
            "type" => {
                let t = value.to_lowercase();
                m.kind = match t.as_str() {
                    "bind" => MountKind::Bind,
                    "cache" => MountKind::Cache,
                    "tmpfs" => MountKind::Tmpfs,
                    "secret" => MountKind::Secret,
                    "ssh" => MountKind::Ssh,
                    _ => {
                        let e = format!("unsupported mount type {}", quote(&value));
                        return Err(suggest(e, &value, &TYPES, true));
                    }
                };
            }
            "from" => m.from = opt(&value),
            "source" | "src" => m.source = opt(&value),
            "target" | "dst" | "destination" => m.target = opt(&value),
            "readonly" | "ro" => {
                m.readonly = go_bool(&value).ok_or_else(bad_value)?;
                ro_auto = false;
            }
            "readwrite" | "rw" => {
                m.readonly = !go_bool(&value).ok_or_else(bad_value)?;
                ro_auto = false;
            }
            "required" => {
                if !type_deferred && !matches!(m.kind, MountKind::Secret | MountKind::Ssh) {
                    return Err(unexpected(&key, m.kind));
                }
                m.required = go_bool(&value).ok_or_else(bad_value)?;
            }
            "size" => {
                if !type_deferred && m.kind != MountKind::Tmpfs {
                    return Err(unexpected(&key, m.kind));
                }
                m.size = Some(ram_in_bytes(&value).ok_or_else(bad_value)?);
            }
            "id" => m.id = opt(&value),
            "sharing" => {
                m.sharing = match value.to_lowercase().as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    _ => {
                        let e = format!("unsupported sharing value {}", quote(&value));
                        return Err(suggest(e, &value, &SHARING, true));
                    }
                };
                sharing_set = true;
            }
            "mode" => {
                m.mode = Some(
                    go_u32(&value, 8).ok_or_else(|| format!("invalid value {value} for mode"))?,
                )
            }
            "uid" => {
                m.uid = Some(
                    go_u32(&value, 10).ok_or_else(|| format!("invalid value {value} for uid"))?,
                )
            }
            "gid" => {
                m.gid = Some(
                    go_u32(&value, 10).ok_or_else(|| format!("invalid value {value} for gid"))?,
                )
            }
            "env" => m.env = Some(value),
            _ => {
                let e = format!("unexpected key '{key}' in '{field}'");
                return Err(suggest(e, &key, &KEYS, true));
            }
        }
    }
    if type_deferred {
        return Ok(m);
    }
    finish(m, ro_auto, sharing_set)
}

fn quote(s: &str) -> String {
    crate::dockerfile::shell::go_quote(s)
}

/// BuildKit's checks across options, then the defaults.
fn finish(mut m: Mount, ro_auto: bool, sharing_set: bool) -> Result<Mount, String> {
    let name = kind_name(m.kind);
    if !matches!(
        m.kind,
        MountKind::Secret | MountKind::Ssh | MountKind::Cache
    ) {
        for (opt, set) in [
            ("mode", m.mode.is_some()),
            ("uid", m.uid.is_some()),
            ("gid", m.gid.is_some()),
        ] {
            if set {
                return Err(format!("{opt} not allowed for {} type mounts", quote(name)));
            }
        }
    }
    if ro_auto {
        m.readonly = !matches!(m.kind, MountKind::Cache | MountKind::Tmpfs);
    }
    match m.kind {
        MountKind::Secret => {
            if m.from.is_some() {
                return Err("secret mount should not have a from".into());
            }
            if sharing_set {
                return Err("secret mount should not define sharing".into());
            }
            if m.source.is_none() && m.target.is_none() && m.id.is_none() {
                return Err("invalid secret mount. one of source, target required".into());
            }
            if m.source.is_some() && m.id.is_some() {
                return Err("both source and id can't be set".into());
            }
        }
        MountKind::Ssh if m.source.is_some() => return Err("ssh does not support source".into()),
        _ => {}
    }
    if sharing_set && m.kind != MountKind::Cache {
        return Err(format!("invalid cache sharing set for {name} mount"));
    }
    match m.kind {
        MountKind::Secret => {
            let id = m
                .source
                .clone()
                .or(m.id.take())
                .unwrap_or_else(|| base_name(m.target.as_deref().unwrap_or_default()));
            if m.env.is_none() && m.target.is_none() {
                m.target = Some(format!("/run/secrets/{}", base_name(&id)));
            }
            m.id = Some(id);
        }
        MountKind::Cache if m.id.is_none() => {
            m.id = m.target.as_deref().map(crate::ignore::clean_path);
        }
        MountKind::Ssh if m.id.is_none() => m.id = Some("default".into()),
        _ => {}
    }
    Ok(m)
}
