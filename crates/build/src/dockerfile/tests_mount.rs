//! `RUN --mount`: option names, aliases, defaults and errors; sizes, CSV.

use super::tests::{err, kind};
use super::*;

fn mounts(flags: &str) -> Vec<Mount> {
    match kind(&format!("FROM x\nRUN {flags} true\n")) {
        Kind::Run(r) => {
            assert_eq!(r.mounts.len(), r.mount_specs.len());
            r.mounts
        }
        other => panic!("{other:?}"),
    }
}

fn one(spec: &str) -> Mount {
    let mut m = mounts(&format!("--mount={spec}"));
    assert_eq!(m.len(), 1);
    m.remove(0)
}

fn msg(spec: &str) -> String {
    err(&format!("FROM x\nRUN --mount={spec} true\n")).message
}

#[test]
fn bind_defaults() {
    let m = one("target=/src");
    assert_eq!(m.kind, MountKind::Bind);
    assert_eq!(m.target.as_deref(), Some("/src"));
    assert!(m.readonly, "bind mounts are read-only by default");
    assert_eq!(m.source, None);
    assert_eq!(m.sharing, Sharing::Shared);
    let m = one("type=bind,src=go.sum,dst=/x,from=builder,rw");
    assert_eq!(m.source.as_deref(), Some("go.sum"));
    assert_eq!(m.target.as_deref(), Some("/x"));
    assert_eq!(m.from.as_deref(), Some("builder"));
    assert!(!m.readonly);
    assert!(!one("type=bind,destination=/x,readwrite=true").readonly);
    assert!(!one("type=bind,destination=/x,ro=false").readonly);
    assert!(one("type=bind,target=/x,readonly=1").readonly);
    assert!(one("TYPE=BIND,Target=/x").readonly);
}

#[test]
fn cache_defaults_and_options() {
    let m = one("type=cache,target=/root/.cache/go-build/");
    assert_eq!(m.kind, MountKind::Cache);
    assert!(!m.readonly);
    assert_eq!(m.id.as_deref(), Some("/root/.cache/go-build"));
    let m =
        one("type=cache,target=/var/cache/apt,id=apt,sharing=locked,mode=0755,uid=1000,gid=1000");
    assert_eq!(m.id.as_deref(), Some("apt"));
    assert_eq!(m.sharing, Sharing::Locked);
    assert_eq!(m.mode, Some(0o755));
    assert_eq!((m.uid, m.gid), (Some(1000), Some(1000)));
    assert_eq!(
        one("type=cache,target=/c,sharing=private").sharing,
        Sharing::Private
    );
    assert!(one("type=cache,target=/c,ro").readonly);
}

#[test]
fn tmpfs_sizes() {
    let m = one("type=tmpfs,target=/tmp,size=10m");
    assert_eq!(m.kind, MountKind::Tmpfs);
    assert!(!m.readonly);
    assert_eq!(m.size, Some(10 * 1024 * 1024));
    assert_eq!(one("type=tmpfs,target=/t,size=4096").size, Some(4096));
    assert_eq!(
        one("type=tmpfs,target=/t,size=1.5GiB").size,
        Some(1536 * 1024 * 1024)
    );
    let spaced = mounts("--mount=\"type=tmpfs,target=/t,size=64 MB\"");
    assert_eq!(spaced[0].size, Some(64 * 1024 * 1024));
    assert_eq!(one("type=tmpfs,target=/t,size=2k").size, Some(2048));
    assert_eq!(one("type=tmpfs,target=/t,size=7b").size, Some(7));
    assert_eq!(one("type=tmpfs,target=/t").size, None);
    assert_eq!(
        msg("type=tmpfs,target=/t,size=10x"),
        "invalid value for size: 10x"
    );
    assert_eq!(
        msg("type=tmpfs,target=/t,size=m"),
        "invalid value for size: m"
    );
    assert_eq!(
        msg("type=tmpfs,target=/t,size=1mbb"),
        "invalid value for size: 1mbb"
    );
    assert_eq!(
        msg("type=cache,target=/t,size=1m"),
        "unexpected key 'size' for mount type 'cache'"
    );
}

#[test]
fn secret_defaults() {
    let m = one("type=secret,id=aws");
    assert_eq!(m.kind, MountKind::Secret);
    assert!(m.readonly);
    assert_eq!(m.id.as_deref(), Some("aws"));
    assert_eq!(m.target.as_deref(), Some("/run/secrets/aws"));
    assert!(!m.required);
    let m = one("type=secret,target=/root/.npmrc,required");
    assert_eq!(m.id.as_deref(), Some(".npmrc"));
    assert_eq!(m.target.as_deref(), Some("/root/.npmrc"));
    assert!(m.required);
    let m = one("type=secret,source=token,mode=0440,uid=1,required=false");
    assert_eq!(m.id.as_deref(), Some("token"));
    assert_eq!(m.target.as_deref(), Some("/run/secrets/token"));
    assert_eq!(m.mode, Some(0o440));
    assert!(!m.required);
    // To an environment variable only: no file.
    let m = one("type=secret,id=key,env=API_KEY");
    assert_eq!(m.env.as_deref(), Some("API_KEY"));
    assert_eq!(m.target, None);
}

#[test]
fn secret_errors() {
    assert_eq!(
        msg("type=secret"),
        "invalid secret mount. one of source, target required"
    );
    assert_eq!(
        msg("type=secret,id=a,from=b"),
        "secret mount should not have a from"
    );
    assert_eq!(
        msg("type=secret,id=a,sharing=locked"),
        "secret mount should not define sharing"
    );
    assert_eq!(
        msg("type=secret,id=a,source=b"),
        "both source and id can't be set"
    );
    assert_eq!(
        msg("type=secret,id=a,required=maybe"),
        "invalid value for required: maybe"
    );
}

#[test]
fn ssh_defaults() {
    let m = one("type=ssh");
    assert_eq!(m.kind, MountKind::Ssh);
    assert_eq!(m.id.as_deref(), Some("default"));
    assert_eq!(m.target, None);
    assert!(m.readonly);
    let m = one("type=ssh,id=github,target=/s.sock,required,mode=0600");
    assert_eq!(m.id.as_deref(), Some("github"));
    assert!(m.required);
    assert_eq!(m.mode, Some(0o600));
    assert_eq!(msg("type=ssh,source=x"), "ssh does not support source");
}

#[test]
fn option_errors() {
    assert_eq!(
        msg("type=volume,target=/x"),
        "unsupported mount type \"volume\""
    );
    assert_eq!(
        msg("type=cahce,target=/x"),
        "unsupported mount type \"cahce\" (did you mean cache?)"
    );
    assert_eq!(
        msg("type=cache,target=/x,sharing=lockd"),
        "unsupported sharing value \"lockd\" (did you mean locked?)"
    );
    assert_eq!(
        msg("target=/x,foo=bar"),
        "unexpected key 'foo' in 'foo=bar' (did you mean from?)"
    );
    assert_eq!(
        msg("target=/x,color=red"),
        "unexpected key 'color' in 'color=red'"
    );
    assert_eq!(
        msg("target=/x,tagret=/y"),
        "unexpected key 'tagret' in 'tagret=/y' (did you mean target?)"
    );
    assert_eq!(
        msg("target=/x,nonsense"),
        "invalid field 'nonsense' must be a key=value pair"
    );
    assert_eq!(
        msg("target=/x,required"),
        "unexpected key 'required' for mount type 'bind'"
    );
    // Options apply in order: `required` before `type=secret` is refused.
    assert_eq!(
        msg("required,type=secret,id=a"),
        "unexpected key 'required' for mount type 'bind'"
    );
    assert_eq!(
        msg("type=bind,target=/x,mode=0644"),
        "mode not allowed for \"bind\" type mounts"
    );
    assert_eq!(
        msg("type=tmpfs,target=/x,uid=1"),
        "uid not allowed for \"tmpfs\" type mounts"
    );
    assert_eq!(
        msg("type=cache,target=/x,mode=999"),
        "invalid value 999 for mode"
    );
    assert_eq!(
        msg("type=cache,target=/x,uid=-1"),
        "invalid value -1 for uid"
    );
    assert_eq!(
        msg("type=cache,target=/x,gid=+1"),
        "invalid value +1 for gid"
    );
    assert_eq!(msg("target=/x,ro=yes"), "invalid value for ro: yes");
    assert_eq!(
        msg("type=bind,target=/x,sharing=shared"),
        "invalid cache sharing set for bind mount"
    );
    assert_eq!(
        msg("type=bind,target=/x,from=$STAGE"),
        "'from' doesn't support variable expansion, define alias stage instead"
    );
    assert_eq!(
        msg("\\\"target=/x"),
        "failed to parse csv mounts: extraneous or missing \" in quoted-field"
    );
}

#[test]
fn several_mounts_and_csv_quotes() {
    let ms = mounts("--mount=type=cache,target=/a --mount=type=secret,id=s --mount=\"type=bind,\\\"source=a,b\\\",target=/c\"");
    assert_eq!(ms.len(), 3);
    assert_eq!(ms[0].kind, MountKind::Cache);
    assert_eq!(ms[1].kind, MountKind::Secret);
    assert_eq!(ms[2].source.as_deref(), Some("a,b"));
    assert_eq!(ms[2].target.as_deref(), Some("/c"));
}

#[test]
fn variables_wait_for_the_builder() {
    let Kind::Run(r) =
        kind("FROM x\nRUN --mount=type=cache,target=$DIR,id=$ID,uid=${UID},mode=$M true\n")
    else {
        panic!()
    };
    let m = &r.mounts[0];
    assert_eq!(m.target.as_deref(), Some("$DIR"));
    assert_eq!(m.id.as_deref(), Some("$ID"));
    assert_eq!((m.uid, m.mode), (None, None));
    assert_eq!(
        r.mount_specs,
        vec!["type=cache,target=$DIR,id=$ID,uid=${UID},mode=$M".to_string()]
    );
    let expand = |s: &str| -> Result<String, shell::ShellError> {
        shell::Lexer::new('\\').process_word(s, &|n: &str| match n {
            "DIR" => Some("/cache".into()),
            "UID" => Some("1000".into()),
            "M" => Some("0700".into()),
            _ => None,
        })
    };
    let m = parse_mount(&r.mount_specs[0], &expand).unwrap();
    assert_eq!(m.target.as_deref(), Some("/cache"));
    // `$ID` expands to nothing: the id defaults to the target.
    assert_eq!(m.id.as_deref(), Some("/cache"));
    assert_eq!((m.uid, m.mode), (Some(1000), Some(0o700)));
    // A type from a variable: the checks that depend on it wait as well.
    let m = one("type=$T,target=/t,size=1m,uid=1,required");
    assert_eq!(
        (m.kind, m.uid, m.required),
        (MountKind::Bind, Some(1), true)
    );
    let expand_t = |s: &str| -> Result<String, shell::ShellError> { Ok(s.replace("$T", "tmpfs")) };
    let m = parse_mount("type=$T,target=/t,size=1m", &expand_t).unwrap();
    assert_eq!(
        (m.kind, m.size, m.readonly),
        (MountKind::Tmpfs, Some(1 << 20), false)
    );
    assert_eq!(
        parse_mount("type=$T,target=/t,uid=1", &expand_t).unwrap_err(),
        "uid not allowed for \"tmpfs\" type mounts"
    );
    let e = parse_mount("type=cache,target=/x,uid=$NOPE", &expand).unwrap_err();
    assert_eq!(e, "invalid value  for uid");
}
