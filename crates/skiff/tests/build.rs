//! `skiff build` through the real binary on a private --root and --runroot:
//! multi-stage builds from an image made offline, what the image holds, the
//! cache, and errors that name the Dockerfile's line and leave nothing behind.

use std::process::Command;

mod build_env;

use build_env::Env;

const MULTI: &str = r#"# a two-stage build
ARG BASE=bb:base
FROM $BASE AS builder
ARG GREETING=hello
WORKDIR /src
COPY app.txt ./
COPY sub ./sub/
RUN echo "$GREETING from $(cat app.txt) and $(cat sub/x)" > out.txt \
 && mkdir -p /out && cp out.txt /out/

FROM ${BASE}
LABEL org.example.demo=yes
ENV NAME=world
COPY --from=builder /out/out.txt /srv/out.txt
COPY --chown=1:2 --chmod=640 app.txt /srv/app.txt
EXPOSE 8080
CMD ["cat", "/srv/out.txt"]
"#;

fn id_of(out: &str) -> String {
    out.trim().to_string()
}

#[test]
fn a_multi_stage_build_runs_and_its_rebuild_comes_from_the_cache() {
    let e = Env::new();
    let ctx = e.context(
        "ctx",
        &[
            ("Dockerfile", MULTI),
            ("app.txt", "app-1"),
            ("sub/x", "x-1"),
            ("secret.txt", "do not send"),
            (".dockerignore", "secret.txt\n"),
        ],
    );
    let c = ctx.to_str().unwrap();
    let o = e.skiff(&["build", "-t", "demo:1", "--build-arg", "GREETING=hi", c]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("[builder 5/6] COPY sub ./sub/"), "{err}");
    assert!(err.contains("DONE"), "{err}");
    assert!(!err.contains("CACHED"), "{err}");

    assert_eq!(
        e.ok(&["run", "--rm", "--network", "none", "demo:1"]),
        "hi from app-1 and x-1\n"
    );
    let owners = e.ok(&[
        "run",
        "--rm",
        "demo:1",
        "stat",
        "-c",
        "%u:%g %a",
        "/srv/app.txt",
    ]);
    assert_eq!(owners, "1:2 640\n");
    let cfg = e.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Env}} {{json .Config.Labels}} {{json .Config.ExposedPorts}} {{json .Config.Cmd}}",
        "demo:1",
    ]);
    assert!(cfg.contains("\"NAME=world\""), "{cfg}");
    assert!(cfg.contains("\"org.example.demo\":\"yes\""), "{cfg}");
    assert!(cfg.contains("\"8080/tcp\":{}"), "{cfg}");
    assert!(cfg.contains("[\"cat\",\"/srv/out.txt\"]"), "{cfg}");
    // The builder stage's files and the ignored file are not in the image.
    let o = e.skiff(&["run", "--rm", "--network", "none", "demo:1", "ls", "/src"]);
    assert!(!o.status.success());
    e.assert_clean();

    // Nothing changed: every step from the cache, the same image.
    let first = id_of(&e.ok(&["build", "-q", "--build-arg", "GREETING=hi", c]));
    let o = e.skiff(&["build", "-t", "demo:2", "--build-arg", "GREETING=hi", c]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("CACHED").count(), 6, "{err}");
    let again = id_of(&e.ok(&["build", "-q", "--build-arg", "GREETING=hi", c]));
    assert_eq!(first, again);
    assert_eq!(
        e.ok(&["image", "inspect", "-f", "{{.Id}}", "demo:2"])
            .trim(),
        first
    );

    // One file changed: the steps from its COPY on run again.
    std::fs::write(ctx.join("sub/x"), "x-2").unwrap();
    let o = e.skiff(&["build", "-t", "demo:3", "--build-arg", "GREETING=hi", c]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("CACHED"), "{err}");
    assert_eq!(
        e.ok(&["run", "--rm", "--network", "none", "demo:3"]),
        "hi from app-1 and x-2\n"
    );
    // An ignored file is not there to copy.
    let bad = e.context(
        "ctx2",
        &[
            ("Dockerfile", "FROM bb:base\nCOPY secret.txt /\n"),
            ("secret.txt", "x"),
            (".dockerignore", "secret.txt\n"),
        ],
    );
    let o = e.skiff(&["build", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Dockerfile:2") && err.contains("not found"),
        "{err}"
    );
    e.assert_clean();
}

#[test]
fn a_failing_run_names_its_line_and_leaves_nothing() {
    let e = Env::new();
    let before = e.ok(&["images", "-q"]);
    let ctx = e.context(
        "ctx",
        &[(
            "Dockerfile",
            "FROM bb:base\nRUN echo preparing\nRUN echo about to fail; exit 3\nRUN echo never\n",
        )],
    );
    let o = e.skiff(&["build", "-t", "broken", ctx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(err.contains("exit code: 3"), "{err}");
    assert!(err.contains("about to fail"), "{err}");
    assert!(!err.contains("never\n"), "{err}");
    assert_eq!(
        e.ok(&["images", "-q"]),
        before,
        "a failed build tagged something"
    );
    e.assert_clean();

    // A parse error names its line; an unknown base image is an error.
    let ctx = e.context("ctx2", &[("Dockerfile", "FROM bb:base\nFROBNICATE x\n")]);
    let o = e.skiff(&["build", ctx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("line 2") && err.contains("unknown instruction"),
        "{err}"
    );
}

#[test]
fn a_dockerfile_on_stdin_builds_without_a_context() {
    let e = Env::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .arg("--root")
        .arg(e.root())
        .arg("--runroot")
        .arg(e.dir.path().join("run"))
        .args(["build", "-q", "-t", "stdin:1", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"FROM bb:base\nRUN echo made > /made\nCMD cat /made\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("sha256:"));
    assert_eq!(
        e.ok(&["run", "--rm", "--network", "none", "stdin:1"]),
        "made\n"
    );
}

/// What Docker 20.10's built-in frontend lacks, as BuildKit's Dockerfile
/// reference documents it: heredocs, `COPY --exclude`, `RUN --network`;
/// and secret and bind mounts.
#[test]
fn buildkit_syntax_heredocs_excludes_networks_and_secrets() {
    let e = Env::new();
    let ctx = e.context(
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM bb:base
ARG WHO=world
RUN <<EOF
echo \"hello $WHO\" > /greeting
echo second line >> /greeting
EOF
RUN <<-'EOT' sh
\techo 'literal $WHO' > /literal
\tEOT
RUN cat <<A > /a.txt && cat <<B > /b.txt
from a
A
from b
B
COPY <<CONF /etc/app.conf
name=$WHO
CONF
COPY --exclude=*.tmp --exclude=skip src/ /src/
RUN --network=none cat /proc/net/dev | grep -c ':' > /ifaces
RUN --mount=type=secret,id=token cat /run/secrets/token > /leaked-for-the-test
RUN --mount=type=secret,id=token,env=TOKEN echo \"env:$TOKEN\" > /secret-env
RUN --mount=type=bind,source=bound.txt,target=/m cat /m > /bound
",
            ),
            ("src/keep.c", "k"),
            ("src/drop.tmp", "d"),
            ("src/skip/x", "x"),
            ("bound.txt", "bound-1"),
            ("token.txt", "s3cret"),
        ],
    );
    let c = ctx.to_str().unwrap();
    let secret = format!("id=token,src={}", ctx.join("token.txt").display());
    let o = e.skiff(&["build", "-t", "bk:1", "--secret", &secret, c]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let show = |cmd: &str| e.ok(&["run", "--rm", "--network", "none", "bk:1", "sh", "-c", cmd]);
    assert_eq!(show("cat /greeting"), "hello world\nsecond line\n");
    assert_eq!(show("cat /literal"), "literal $WHO\n");
    assert_eq!(show("cat /a.txt /b.txt"), "from a\nfrom b\n");
    assert_eq!(show("cat /etc/app.conf"), "name=world\n");
    assert_eq!(show("cd /src && find . | sort"), ".\n./keep.c\n");
    // Only loopback in a RUN's own network namespace.
    assert_eq!(show("cat /ifaces"), "1\n");
    assert_eq!(
        show("cat /leaked-for-the-test; cat /secret-env"),
        "s3cretenv:s3cret\n"
    );
    // The secret file is not in the image.
    assert_eq!(show("cat /run/secrets/token 2>/dev/null | wc -c"), "0\n");
    assert_eq!(show("cat /bound"), "bound-1");

    // A bound file that changes makes its RUN run again; --no-cache runs all.
    std::fs::write(ctx.join("bound.txt"), "bound-2").unwrap();
    let o = e.skiff(&["build", "-t", "bk:2", "--secret", &secret, c]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("CACHED").count(), 8, "{err}");
    assert_eq!(
        e.ok(&["run", "--rm", "--network", "none", "bk:2", "cat", "/bound"]),
        "bound-2"
    );
    let o = e.skiff(&["build", "--no-cache", "--secret", &secret, c]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("CACHED"), "{err}");
}

/// The flags a CI script uses: -f outside the context, --iidfile, --label,
/// --target, -q; a context as a tar on stdin.
#[test]
fn flags_and_contexts() {
    let e = Env::new();
    let ctx = e.context("ctx", &[("a.txt", "a\n")]);
    let df = e.context(
        "elsewhere",
        &[(
            "build.Dockerfile",
            "FROM bb:base AS first\nCOPY a.txt /\nFROM first AS second\nRUN echo second > /s\n",
        )],
    );
    let df = df.join("build.Dockerfile");
    let iid = e.dir.path().join("iid");
    let id = e.ok(&[
        "build",
        "-q",
        "-f",
        df.to_str().unwrap(),
        "--iidfile",
        iid.to_str().unwrap(),
        "--label",
        "team=core",
        "--target",
        "first",
        "-t",
        "flags:1",
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id.trim());
    let labels = e.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Labels}}",
        "flags:1",
    ]);
    assert_eq!(labels.trim(), r#"{"team":"core"}"#);
    let o = e.skiff(&["run", "--rm", "--network", "none", "flags:1", "cat", "/s"]);
    assert!(!o.status.success(), "--target built the later stage");

    // A tar of a context on stdin.
    let tar = e.dir.path().join("ctx.tar");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bb:base\nCOPY a.txt /from-tar\n",
    )
    .unwrap();
    skiff_testkit::write_tar(&ctx, &tar);
    let o = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .arg("--root")
        .arg(e.root())
        .arg("--runroot")
        .arg(e.dir.path().join("run"))
        .args(["build", "-q", "-t", "fromtar:1", "-"])
        .stdin(std::fs::File::open(&tar).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "fromtar:1",
            "cat",
            "/from-tar"
        ]),
        "a\n"
    );

    // A .dockerignore that does not parse is refused before anything runs.
    std::fs::write(ctx.join(".dockerignore"), "!\n").unwrap();
    let o = e.skiff(&["build", ctx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("failed to parse .dockerignore"), "{err}");
    assert!(!err.contains("#1"), "{err}");
}

/// `skiff build` killed during a RUN and during a COPY: the next build
/// succeeds, reuses the steps that finished, and nothing of the killed one
/// stays (mounts, work dirs, runtime state) once its RUN has ended.
#[test]
fn a_killed_build_leaves_a_store_the_next_one_uses() {
    use std::io::{BufRead, BufReader};
    let e = Env::new();
    let mut files: Vec<(String, String)> = (0..1500)
        .map(|i| (format!("many/d{}/f{i}", i % 30), format!("file {i}\n")))
        .collect();
    files.push((
        "Dockerfile".into(),
        "FROM bb:base\nCOPY a.txt /a\nRUN sleep 1 && echo ran > /ran\nCOPY many /many/\nRUN ls /many | wc -l > /count\n".into(),
    ));
    files.push(("a.txt".into(), "a\n".into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let ctx = e.context("ctx", &refs);
    let c = ctx.to_str().unwrap();
    for kill_at in ["RUN sleep 1", "COPY many"] {
        let mut child = e.skiff_cmd(&["build", "--progress", "plain", "-t", "killed", c]);
        let mut child = child
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let err = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        for line in err.lines() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(kill_at) {
                break;
            }
        }
        assert!(
            seen.contains(kill_at),
            "the build never reached {kill_at}:\n{seen}"
        );
        // The step before has ended; its layer is being stored.
        std::thread::sleep(std::time::Duration::from_millis(300));
        child.kill().unwrap();
        child.wait().unwrap();
        // The killed RUN's runner finishes its step and removes its state.
        let runtime = e.dir.path().join("run/runtime");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::fs::read_dir(&runtime)
            .map(|d| {
                d.flatten()
                    .any(|x| x.file_name().to_string_lossy().starts_with("build-"))
            })
            .unwrap_or(false)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "a killed build's RUN never ended"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let o = e.skiff(&["build", "-t", "after", c]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        // What finished before the kill came from the cache.
        assert!(err.contains("#2 CACHED"), "{kill_at}: {err}");
        assert_eq!(
            e.ok(&[
                "run",
                "--rm",
                "--network",
                "none",
                "after",
                "cat",
                "/ran",
                "/count"
            ]),
            "ran\n30\n"
        );
        e.assert_clean();
        e.ok(&["builder", "prune", "-af"]);
    }
}

/// Four builds of related Dockerfiles at once, sharing one cache: all
/// succeed, and each rebuild afterwards is wholly cached.
#[test]
fn concurrent_builds_share_the_cache() {
    let e = Env::new();
    let mut dirs = Vec::new();
    for i in 0..4 {
        let df = format!(
            "FROM bb:base\nCOPY common.txt /c\nRUN cat /c > /shared\nRUN echo {i} > /mine\nCMD cat /shared /mine\n"
        );
        dirs.push(e.context(
            &format!("ctx{i}"),
            &[("Dockerfile", &df), ("common.txt", "common\n")],
        ));
    }
    let children: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            e.skiff_cmd(&[
                "build",
                "-q",
                "-t",
                &format!("conc:{i}"),
                d.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for (i, d) in dirs.iter().enumerate() {
        assert_eq!(
            e.ok(&["run", "--rm", "--network", "none", &format!("conc:{i}")]),
            format!("common\n{i}\n")
        );
        let o = e.skiff(&["build", "-t", &format!("conc:{i}"), d.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert_eq!(err.matches("CACHED").count(), 3, "{err}");
    }
    e.assert_clean();
}

/// `-o`: the result's files in a directory or a tar, or the image as an
/// OCI or Docker archive; a bad `-o` is refused before anything is built.
#[test]
fn outputs() {
    let e = Env::new();
    let ctx = e.context(
        "ctx",
        &[(
            "Dockerfile",
            "FROM bb:base AS b\nRUN echo made > /f && ln -s f /link\nFROM bb:base\nCOPY --from=b /f /link /out/\n",
        )],
    );
    let c = ctx.to_str().unwrap();
    let d = e.dir.path();
    let local = d.join("local");
    let tarfile = d.join("files.tar");
    let oci = d.join("oci.tar");
    let dest = |k: &str, p: &std::path::Path| format!("type={k},dest={}", p.display());
    let o = e.skiff(&[
        "build",
        "-q",
        "-o",
        &dest("local", &local),
        "-o",
        &dest("tar", &tarfile),
        "-o",
        &dest("oci", &oci),
        c,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(local.join("out/f")).unwrap(),
        "made\n"
    );
    assert_eq!(
        std::fs::read_link(local.join("out/link")).unwrap(),
        std::path::Path::new("f")
    );
    assert!(
        local.join("bin/busybox").is_file(),
        "the base image's files"
    );
    let tar_names = |p: &std::path::Path| -> Vec<String> {
        tar::Archive::new(std::fs::File::open(p).unwrap())
            .entries()
            .unwrap()
            .map(|x| x.unwrap().path().unwrap().display().to_string())
            .collect()
    };
    let names = tar_names(&tarfile);
    assert!(names.iter().any(|n| n == "out/f"), "{names:?}");
    let names = tar_names(&oci);
    assert!(names.iter().any(|n| n == "index.json"), "{names:?}");
    assert!(names.iter().any(|n| n == "oci-layout"), "{names:?}");

    let o = e.skiff(&["build", "-o", "type=floppy,dest=x", c]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unsupported type floppy"), "{err}");
    assert!(
        !err.contains("#1"),
        "it built before refusing the output: {err}"
    );
}

#[test]
fn the_live_view_and_plain_lines() {
    let e = Env::new();
    let ctx = e.context(
        "ctx",
        &[(
            "Dockerfile",
            "FROM bb:base\nRUN for i in 1 2 3; do echo line $i; done\nRUN echo oops && false\n",
        )],
    );
    let c = ctx.to_str().unwrap();
    for _ in 0..2 {
        let o = e.skiff(&["build", "--progress", "tty", c]);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        // Redrawn in place, a header with the time and the count of steps,
        // each step with its time.
        assert!(
            err.contains("\x1b[K[+] Building ") && err.contains("\x1b[J"),
            "{err}"
        );
        assert!(err.contains("(3/3) FINISHED"), "{err}");
        assert!(
            err.contains(" => ERROR [3/3] RUN echo oops && false "),
            "{err}"
        );
        // What the failed step printed, below the view, then the error.
        let tail = err.rsplit("\x1b[J").next().unwrap();
        assert!(
            tail.starts_with("------\n > [3/3] RUN echo oops && false:\noops\n------\nERROR: "),
            "{tail:?}"
        );
    }
    let o = e.skiff(&["build", "--progress", "tty", c]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(" => CACHED [2/3] RUN for i in 1 2 3"), "{err}");
    // auto is the plain lines when stderr is no terminal.
    let o = e.skiff(&["build", c]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("#2 CACHED") && !err.contains("[+] Building"),
        "{err}"
    );
}
