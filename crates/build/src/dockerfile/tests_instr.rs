//! Each instruction's arguments, forms, flags and errors.

use super::tests::{err, insts, kind};
use super::*;
use std::time::Duration;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v.into(),
    }
}

fn msg(src: &str) -> String {
    err(&format!("FROM x\n{src}\n")).message
}

fn k(src: &str) -> Kind {
    kind(&format!("FROM x\n{src}\n"))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn run_cmd_entrypoint_forms() {
    let Kind::Run(r) = k(r#"RUN ["echo", "a b"]"#) else {
        panic!()
    };
    assert_eq!(r.command, Command::Exec(strings(&["echo", "a b"])));
    let Kind::Run(r) = k("RUN echo \"a  b\" 'c'") else {
        panic!()
    };
    assert_eq!(r.command, Command::Shell("echo \"a  b\" 'c'".into()));
    assert_eq!(r.mounts, vec![]);
    assert_eq!((r.network, r.security), (None, None));
    // Not a valid JSON array: the shell form, as written.
    let Kind::Run(r) = k("RUN [ -f /etc/passwd ] && echo ok") else {
        panic!()
    };
    assert_eq!(
        r.command,
        Command::Shell("[ -f /etc/passwd ] && echo ok".into())
    );
    let Kind::Run(r) = k("RUN ['single', 'quotes']") else {
        panic!()
    };
    assert_eq!(r.command, Command::Shell("['single', 'quotes']".into()));
    assert_eq!(k("CMD [\"a\"]"), Kind::Cmd(Command::Exec(strings(&["a"]))));
    assert_eq!(k("CMD []"), Kind::Cmd(Command::Exec(vec![])));
    assert_eq!(
        k("cmd   echo   hi  "),
        Kind::Cmd(Command::Shell("echo   hi".into()))
    );
    assert_eq!(
        k("ENTRYPOINT [\"/bin/sh\", \"-c\"]"),
        Kind::Entrypoint(Command::Exec(strings(&["/bin/sh", "-c"])))
    );
    assert_eq!(
        k("ENTRYPOINT top -b"),
        Kind::Entrypoint(Command::Shell("top -b".into()))
    );
    assert_eq!(k("CMD"), Kind::Cmd(Command::Shell(String::new())));
    assert_eq!(
        msg("CMD [\"a\", [\"b\"]]"),
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(msg("CMD --x a"), "unknown flag: --x");
    assert_eq!(msg("ENTRYPOINT --x a"), "unknown flag: --x");
}

#[test]
fn run_flags() {
    let Kind::Run(r) = k("RUN --network=none --security=insecure echo") else {
        panic!()
    };
    assert_eq!(r.network.as_deref(), Some("none"));
    assert_eq!(r.security.as_deref(), Some("insecure"));
    assert_eq!(r.command, Command::Shell("echo".into()));
    // `--` ends the flags.
    let Kind::Run(r) = k("RUN --network=host -- --not-a-flag") else {
        panic!()
    };
    assert_eq!(r.command, Command::Shell("--not-a-flag".into()));
    assert_eq!(
        msg("RUN --network=bridge a"),
        "invalid network mode \"bridge\""
    );
    assert_eq!(
        msg("RUN --security=root a"),
        "security \"root\" is not valid"
    );
    assert_eq!(
        msg("RUN --networks=none a"),
        "unknown flag: --networks (did you mean network?)"
    );
    assert_eq!(msg("RUN --network a"), "missing a value on flag: --network");
    assert_eq!(msg("RUN --network= a"), "invalid network mode \"\"");
    assert_eq!(msg("RUN --security= a"), "security \"\" is not valid");
    assert_eq!(
        msg("RUN --network=none --network=host a"),
        "duplicate flag specified: --network"
    );
    assert_eq!(msg("RUN --foo=bar a"), "unknown flag: --foo");
}

#[test]
fn shell_instruction() {
    assert_eq!(
        k(r#"SHELL ["powershell", "-command"]"#),
        Kind::Shell(strings(&["powershell", "-command"]))
    );
    assert_eq!(
        msg("SHELL powershell -command"),
        "SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(msg("SHELL []"), "SHELL requires at least one argument");
    assert_eq!(msg("SHELL"), "SHELL requires at least one argument");
}

#[test]
fn env_forms() {
    assert_eq!(
        k(r#"ENV A=1 B="two words" C=a\ b D='x' E="""#),
        Kind::Env(vec![
            kv("A", "1"),
            kv("B", "\"two words\""),
            kv("C", "a\\ b"),
            kv("D", "'x'"),
            kv("E", "\"\""),
        ])
    );
    // The legacy form: the name, then the rest of the line as written.
    assert_eq!(
        k("ENV PATH /usr/bin:$PATH  x"),
        Kind::Env(vec![kv("PATH", "/usr/bin:$PATH  x")])
    );
    assert_eq!(k("ENV a b=c"), Kind::Env(vec![kv("a", "b=c")]));
    assert_eq!(k("ENV x="), Kind::Env(vec![kv("x", "")]));
    assert_eq!(k("ENV x=a=b"), Kind::Env(vec![kv("x", "a=b")]));
    assert_eq!(
        k("ENV A=\"multi \\\n  line\""),
        Kind::Env(vec![kv("A", "\"multi   line\"")])
    );
    assert_eq!(msg("ENV PATH"), "ENV must have two arguments");
    assert_eq!(msg("ENV"), "ENV requires at least one argument");
    assert_eq!(msg("ENV =x"), "ENV names can not be blank");
    assert_eq!(
        msg("ENV a=b c"),
        "Syntax error - can't find = in \"c\". Must be of the form: name=value"
    );
}

#[test]
fn label_and_maintainer() {
    assert_eq!(
        k(r#"LABEL "com.example.vendor"="ACME" version=1.0 description="a \"b\"""#),
        Kind::Label(vec![
            kv("\"com.example.vendor\"", "\"ACME\""),
            kv("version", "1.0"),
            kv("description", "\"a \\\"b\\\"\""),
        ])
    );
    assert_eq!(
        k("LABEL key some value"),
        Kind::Label(vec![kv("key", "some value")])
    );
    assert_eq!(msg("LABEL"), "LABEL requires at least one argument");
    assert_eq!(msg("LABEL k"), "LABEL must have two arguments");
    assert_eq!(msg("LABEL =v"), "LABEL names can not be blank");
    assert_eq!(
        k("MAINTAINER Jane Doe <j@d.io>"),
        Kind::Maintainer("Jane Doe <j@d.io>".into())
    );
    assert_eq!(
        msg("MAINTAINER"),
        "MAINTAINER requires exactly one argument"
    );
    assert_eq!(
        msg("MAINTAINER --boo joe@example.com"),
        "unknown flag: --boo"
    );
}

#[test]
fn expose_volume_user_workdir_stopsignal() {
    assert_eq!(
        k("EXPOSE 80/tcp  443 $PORT 8000-8010"),
        Kind::Expose(strings(&["80/tcp", "443", "$PORT", "8000-8010"]))
    );
    assert_eq!(msg("EXPOSE"), "EXPOSE requires at least one argument");
    assert_eq!(
        k(r#"VOLUME ["/data", "/var/log"]"#),
        Kind::Volume(strings(&["/data", "/var/log"]))
    );
    assert_eq!(k("VOLUME /a  /b"), Kind::Volume(strings(&["/a", "/b"])));
    assert_eq!(msg("VOLUME"), "VOLUME requires at least one argument");
    assert_eq!(
        msg("VOLUME [\"\"]"),
        "VOLUME specified can not be an empty string"
    );
    assert_eq!(k("USER app:app"), Kind::User("app:app".into()));
    assert_eq!(k("USER a b"), Kind::User("a b".into()));
    assert_eq!(msg("USER"), "USER requires exactly one argument");
    assert_eq!(msg("USER --x a"), "unknown flag: --x");
    assert_eq!(
        k("WORKDIR /path to/dir"),
        Kind::Workdir("/path to/dir".into())
    );
    assert_eq!(msg("WORKDIR"), "WORKDIR requires exactly one argument");
    assert_eq!(k("STOPSIGNAL SIGKILL"), Kind::Stopsignal("SIGKILL".into()));
    // Docker reads no flags for STOPSIGNAL: they are dropped.
    assert_eq!(k("STOPSIGNAL --x 9"), Kind::Stopsignal("9".into()));
    assert_eq!(
        msg("STOPSIGNAL"),
        "STOPSIGNAL requires exactly one argument"
    );
}

#[test]
fn arg_declarations() {
    assert_eq!(
        k("ARG A B=2 C=\"x y\" D="),
        Kind::Arg(vec![
            ArgDecl {
                name: "A".into(),
                default: None
            },
            ArgDecl {
                name: "B".into(),
                default: Some("2".into())
            },
            ArgDecl {
                name: "C".into(),
                default: Some("\"x y\"".into())
            },
            ArgDecl {
                name: "D".into(),
                default: Some(String::new())
            },
        ])
    );
    assert_eq!(msg("ARG"), "ARG requires at least one argument");
    assert_eq!(msg("ARG =x"), "ARG names can not be blank");
}

fn copy_of(k: Kind) -> Copy {
    match k {
        Kind::Copy(c) | Kind::Add(c) => c,
        other => panic!("not COPY/ADD: {other:?}"),
    }
}

#[test]
fn copy_forms_and_flags() {
    let c = copy_of(k("COPY --from=build --chown=app:app --chmod=755 --link --exclude=*.md --exclude=tmp/ --parents a b /dest/"));
    assert_eq!(c.sources, strings(&["a", "b"]));
    assert_eq!(c.dest, "/dest/");
    assert_eq!(c.from.as_deref(), Some("build"));
    assert_eq!(c.chown.as_deref(), Some("app:app"));
    assert_eq!(c.chmod.as_deref(), Some("755"));
    assert!(c.link);
    assert!(c.parents);
    assert_eq!(c.excludes, strings(&["*.md", "tmp/"]));
    assert_eq!((c.checksum, c.keep_git_dir), (None, false));
    assert!(c.heredocs.is_empty());

    let c = copy_of(k(r#"COPY ["a b", "/c d/"]"#));
    assert_eq!(c.sources, strings(&["a b"]));
    assert_eq!(c.dest, "/c d/");
    // Quoted flag values lose their quotes; --link=false.
    let c = copy_of(k("COPY --chown=\"1 2\" --link=false a b"));
    assert_eq!(c.chown.as_deref(), Some("1 2"));
    assert!(!c.link);
    // Word form splits on blanks only (no quote handling).
    assert_eq!(
        copy_of(k("COPY \"a b\" c")).sources,
        strings(&["\"a", "b\""])
    );

    assert_eq!(
        msg("COPY a"),
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    assert!(msg("COPY").starts_with("COPY requires at least two arguments"));
    assert_eq!(
        msg("COPY --checksum=sha256:x a b"),
        "unknown flag: --checksum"
    );
    assert_eq!(
        msg("COPY --form=x a b"),
        "unknown flag: --form (did you mean from?)"
    );
    assert_eq!(
        msg("COPY --link=maybe a b"),
        "expecting boolean value for flag --link, not: maybe"
    );
    assert_eq!(msg("COPY --link= a b"), "missing a value on flag: --link");
    assert_eq!(msg("COPY --chown a b"), "missing a value on flag: --chown");
}

#[test]
fn add_flags() {
    let c = copy_of(k(
        "ADD --checksum=sha256:abc --keep-git-dir --chmod=644 https://x/y.tgz /y",
    ));
    assert_eq!(c.checksum.as_deref(), Some("sha256:abc"));
    assert!(c.keep_git_dir);
    assert_eq!(c.chmod.as_deref(), Some("644"));
    assert_eq!(c.sources, strings(&["https://x/y.tgz"]));
    assert_eq!(c.from, None);
    assert!(matches!(k("ADD a b"), Kind::Add(_)));
    assert_eq!(msg("ADD --from=x a b"), "unknown flag: --from");
    assert_eq!(msg("ADD --parents a b"), "unknown flag: --parents");
    assert!(msg("ADD a").starts_with("ADD requires at least two arguments"));
}

#[test]
fn healthcheck() {
    assert_eq!(k("HEALTHCHECK NONE"), Kind::Healthcheck(Healthcheck::None));
    assert_eq!(k("healthcheck none"), Kind::Healthcheck(Healthcheck::None));
    // Flags are not read for NONE.
    assert_eq!(
        k("HEALTHCHECK --interval=bad NONE"),
        Kind::Healthcheck(Healthcheck::None)
    );
    assert_eq!(
        k("HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=0s --start-interval=2.5s --retries=3 CMD curl -f http://localhost/"),
        Kind::Healthcheck(Healthcheck::Check {
            test: Command::Shell("curl -f http://localhost/".into()),
            interval: Some(Duration::from_secs(90)),
            timeout: Some(Duration::from_millis(500)),
            start_period: None,
            start_interval: Some(Duration::from_millis(2500)),
            retries: Some(3),
        })
    );
    assert_eq!(
        k(r#"HEALTHCHECK cmd ["/bin/check", "-v"]"#),
        Kind::Healthcheck(Healthcheck::Check {
            test: Command::Exec(strings(&["/bin/check", "-v"])),
            interval: None,
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: None,
        })
    );
}

#[test]
fn healthcheck_errors() {
    assert_eq!(
        msg("HEALTHCHECK"),
        "HEALTHCHECK requires at least one argument"
    );
    assert_eq!(
        msg("HEALTHCHECK NONE x"),
        "HEALTHCHECK NONE takes no arguments"
    );
    assert_eq!(
        msg("HEALTHCHECK CMD"),
        "Missing command after HEALTHCHECK CMD"
    );
    assert_eq!(
        msg("HEALTHCHECK RUN x"),
        "Unknown type \"RUN\" in HEALTHCHECK (try CMD)"
    );
    assert_eq!(
        msg("HEALTHCHECK --interval=50ns CMD x"),
        "Interval \"interval\" cannot be less than 1ms"
    );
    assert_eq!(
        msg("HEALTHCHECK --timeout=-1s CMD x"),
        "Interval \"timeout\" cannot be less than 1ms"
    );
    assert_eq!(
        msg("HEALTHCHECK --interval=30 CMD x"),
        "time: missing unit in duration \"30\""
    );
    assert_eq!(
        msg("HEALTHCHECK --interval=3d CMD x"),
        "time: unknown unit \"d\" in duration \"3d\""
    );
    assert_eq!(
        msg("HEALTHCHECK --interval=abc CMD x"),
        "time: invalid duration \"abc\""
    );
    assert_eq!(
        msg("HEALTHCHECK --retries=-1 CMD x"),
        "--retries cannot be negative (-1)"
    );
    assert_eq!(
        msg("HEALTHCHECK --retries=x CMD x"),
        "strconv.ParseInt: parsing \"x\": invalid syntax"
    );
    assert_eq!(
        msg("HEALTHCHECK --retries=9999999999 CMD x"),
        "strconv.ParseInt: parsing \"9999999999\": value out of range"
    );
    assert_eq!(
        msg("HEALTHCHECK --intervall=1s CMD x"),
        "unknown flag: --intervall (did you mean interval?)"
    );
}

#[test]
fn durations_as_go_reads_them() {
    use super::parse::tests_support::go_duration;
    assert_eq!(go_duration("0"), Ok(0));
    assert_eq!(go_duration("1h2m3s"), Ok(3_723_000_000_000));
    assert_eq!(go_duration("1.5h"), Ok(5_400_000_000_000));
    assert_eq!(go_duration(".5s"), Ok(500_000_000));
    assert_eq!(go_duration("10us"), Ok(10_000));
    assert_eq!(go_duration("10µs"), Ok(10_000));
    assert_eq!(go_duration("-2ms"), Ok(-2_000_000));
    assert_eq!(go_duration("+3ns"), Ok(3));
    assert!(go_duration("").is_err());
    assert!(go_duration(".s").is_err());
    assert!(go_duration("1s2").is_err());
    assert!(go_duration("3000000h").is_err());
}

#[test]
fn instruction_original_and_locations() {
    let i = insts("FROM x\nRUN a\n\nCOPY  --chown=1  a \\\n   b\n");
    assert_eq!(i[1].original, "COPY  --chown=1  a    b");
    assert_eq!(
        i[1].location,
        Location {
            line: 4,
            end_line: 5
        }
    );
}
