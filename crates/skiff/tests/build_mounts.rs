//! RUN's bind mounts: writable ones (`rw`) whose writes are thrown away;
//! links in the source of a bind mount or a COPY that resolve inside the
//! source (a stage's files or the context), never to the host's files; and
//! what COPY makes over the layers below it.

mod build_env;

use build_env::Env;

#[test]
fn a_writable_bind_mount_keeps_nothing_it_wrote() {
    let e = Env::new();
    let ctx = e.context(
        "ctx",
        &[
            ("a.txt", "from the context\n"),
            (
                "Dockerfile",
                "FROM bb:base\n\
                 RUN --mount=type=bind,target=/ctx,rw echo changed >> /ctx/a.txt && mkdir /ctx/new \
                 && cat /ctx/a.txt > /seen-dir\n\
                 RUN --mount=type=bind,source=a.txt,target=/f,readwrite=true echo appended >> /f \
                 && cat /f > /seen-file\n\
                 RUN --mount=type=bind,target=/ctx sh -c 'touch /ctx/x 2>/dev/null && echo writable || echo read-only' > /ro\n\
                 RUN --mount=type=bind,target=/ctx,rw ls /ctx > /listed\n\
                 CMD cat /seen-dir /seen-file /ro /listed\n",
            ),
        ],
    );
    let out = e.ok(&["build", "-q", "-t", "m:1", ctx.to_str().unwrap()]);
    assert!(out.starts_with("sha256:"), "{out}");
    assert_eq!(
        e.ok(&["run", "--rm", "m:1"]),
        "from the context\nchanged\nfrom the context\nappended\nread-only\nDockerfile\na.txt\n"
    );
    assert_eq!(
        std::fs::read_to_string(ctx.join("a.txt")).unwrap(),
        "from the context\n"
    );
    assert!(!ctx.join("new").exists());
    e.assert_clean();
}

#[test]
fn links_in_a_mount_source_stay_inside_it() {
    let e = Env::new();
    let ctx = e.context(
        "ctx",
        &[(
            "Dockerfile",
            "FROM bb:base AS a\n\
             RUN echo in-stage > /marker && ln -s / /root-link && ln -s ../../.. /up-link\n\
             FROM bb:base\n\
             RUN --mount=type=bind,from=a,source=root-link,target=/h cat /h/marker > /via-root\n\
             RUN --mount=type=bind,from=a,source=up-link,target=/h,rw cat /h/marker > /via-up\n\
             RUN --mount=type=bind,source=out,target=/c ls /c > /via-context\n\
             COPY --from=a /root-link/marker /up-link/marker /root-link/etc/passwd /copied/\n\
             CMD cat /via-root /via-up /via-context /copied/marker; cmp /etc/passwd /copied/passwd && echo same\n",
        )],
    );
    // A context link that climbs out of the context resolves to its root.
    std::os::unix::fs::symlink("../../../..", ctx.join("out")).unwrap();
    e.ok(&["build", "-q", "-t", "l:1", ctx.to_str().unwrap()]);
    assert_eq!(
        e.ok(&["run", "--rm", "l:1"]),
        "in-stage\nin-stage\nDockerfile\nout\nin-stage\nsame\n"
    );
    e.assert_clean();
}

/// `COPY --link`: the files go into an empty layer (a link in the
/// destination is not followed, as BuildKit documents), and that layer is
/// reused when the steps below it change, where a plain COPY runs again.
#[test]
fn copy_link_makes_a_layer_of_its_own() {
    let e = Env::new();
    let ctx = e.context(
        "ctx",
        &[
            ("app.txt", "app\n"),
            (
                "Dockerfile",
                "FROM bb:base\n\
                 ARG V=1\n\
                 RUN mkdir /real && ln -s /real /data && echo $V > /v\n\
                 COPY --link app.txt /data/\n\
                 COPY --link --chown=7:8 app.txt /owned\n\
                 COPY app.txt /plain/\n\
                 CMD ls -ld /data | cut -c1; ls /real; stat -c '%A %h %u %g %s' /owned; cat /data/app.txt /v\n",
            ),
        ],
    );
    let c = ctx.to_str().unwrap();
    let build = |v: &str| {
        let o = e.skiff(&[
            "build",
            "--progress",
            "plain",
            "--build-arg",
            &format!("V={v}"),
            "-t",
            "k:1",
            c,
        ]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        let layers = e.ok(&["image", "inspect", "-f", "{{json .RootFS.Layers}}", "k:1"]);
        let layers: Vec<String> = serde_json::from_str(&layers).unwrap();
        (err, layers, e.ok(&["run", "--rm", "k:1"]))
    };
    let (_, first, out) = build("1");
    // /data is a directory of the new layer; nothing went through the link.
    assert_eq!(out, "d\n-rw-r--r-- 1 7 8 4\napp\n1\n");
    let (progress, second, out) = build("2");
    assert!(out.ends_with("app\n2\n"), "{out}");
    // The RUN changed: the --link layers are the same layers, taken from
    // the first build (CACHED); the plain COPY ran again.
    assert_ne!(first[1], second[1]);
    assert_eq!(first[2..4], second[2..4], "{progress}");
    assert!(
        progress.contains("COPY --link app.txt /data/\n#4 CACHED"),
        "{progress}"
    );
    assert!(
        progress.contains("COPY --link --chown=7:8 app.txt /owned\n#5 CACHED"),
        "{progress}"
    );
    assert!(
        !progress.contains("COPY app.txt /plain/\n#6 CACHED"),
        "{progress}"
    );
    e.assert_clean();
}

/// A stage's last layer is still being stored when the stages after it
/// start: one that copies from it or mounts it reads its files (held by a
/// mount, whatever happens to the layer meanwhile), one built on it waits
/// for it. Stages of a single layer (`FROM scratch` and one COPY) too.
#[test]
fn stages_read_a_layer_still_being_stored() {
    let e = Env::new();
    let ctx = e.context(
        "ctx",
        &[
            ("a.txt", "a\n"),
            (
                "Dockerfile",
                "FROM scratch AS files\n\
                 COPY a.txt /a.txt\n\
                 FROM bb:base AS tools\n\
                 RUN echo t > /t.txt\n\
                 FROM files AS more\n\
                 COPY --from=tools /t.txt /t.txt\n\
                 FROM bb:base\n\
                 COPY --from=files /a.txt /b.txt\n\
                 RUN --mount=type=bind,from=files,target=/m cat /m/a.txt > /c.txt\n\
                 COPY --from=more / /more/\n\
                 CMD cat /b.txt /c.txt /more/a.txt /more/t.txt\n",
            ),
        ],
    );
    for _ in 0..2 {
        e.ok(&[
            "build",
            "--no-cache",
            "-q",
            "-t",
            "s:1",
            ctx.to_str().unwrap(),
        ]);
        assert_eq!(e.ok(&["run", "--rm", "s:1"]), "a\na\na\nt\n");
    }
    e.assert_clean();
}

/// Cache mounts' `sharing`: two builds at once using one cache id with
/// `locked` take turns (their lines do not interleave); with `private`
/// each gets a directory of its own; `shared` (the default) sees both.
#[test]
fn cache_mount_sharing_modes() {
    let e = Env::new();
    let df = |mode: &str| {
        format!(
            "FROM bb:base\n\
             RUN --mount=type=cache,id=c-{mode},target=/c,sharing={mode} \
             echo start $(cat /proc/sys/kernel/random/uuid) >> /c/log && sleep 1 && echo end >> /c/log && cat /c/log > /seen\n\
             CMD cat /seen\n"
        )
    };
    for mode in ["locked", "private", "shared"] {
        let ctx = e.context(&format!("ctx-{mode}"), &[("Dockerfile", &df(mode))]);
        let c = ctx.to_str().unwrap();
        std::thread::scope(|s| {
            for i in 0..2 {
                let e = &e;
                s.spawn(move || {
                    e.ok(&[
                        "build",
                        "--no-cache",
                        "-q",
                        "-t",
                        &format!("sh-{mode}:{i}"),
                        c,
                    ]);
                });
            }
        });
        let seen: Vec<String> = (0..2)
            .map(|i| e.ok(&["run", "--rm", &format!("sh-{mode}:{i}")]))
            .collect();
        let lines = |s: &str| {
            s.lines()
                .map(|l| l.split(' ').next().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        match mode {
            // The second to run saw the first's whole turn before its own.
            "locked" => {
                let longest = seen
                    .iter()
                    .map(|s| lines(s))
                    .max_by_key(|l| l.len())
                    .unwrap();
                assert_eq!(longest, ["start", "end", "start", "end"], "{seen:?}");
            }
            // Each alone in its own directory.
            "private" => {
                for s in &seen {
                    assert_eq!(lines(s), ["start", "end"], "{seen:?}");
                }
            }
            // Both in one directory at once: the lines interleave.
            _ => {
                let longest = seen
                    .iter()
                    .map(|s| lines(s))
                    .max_by_key(|l| l.len())
                    .unwrap();
                assert_eq!(longest, ["start", "start", "end", "end"], "{seen:?}");
            }
        }
    }
    e.assert_clean();
}

#[test]
fn copies_into_new_kept_and_deleted_directories() {
    // A COPY writes what goes below a directory it made straight into its
    // layer's directory: a directory a lower layer deleted (and so made
    // again, opaque) must not show the deleted files again, one a lower
    // layer has keeps its files, and a link copied is a link.
    let e = Env::new();
    let ctx = e.context(
        "ctx",
        &[
            ("tree/a.txt", "a\n"),
            ("tree/sub/b.txt", "b\n"),
            ("tree/sub/deep/c.txt", "c\n"),
            (
                "Dockerfile",
                "FROM bb:base\n\
                 RUN mkdir -p /d/keep/sub /d/gone/inner && echo old > /d/keep/k \
                 && echo stale > /d/gone/inner/s && echo stale > /d/gone/s2 && echo stale > /d/keep/sub/s3\n\
                 RUN rm -rf /d/gone /d/keep/sub\n\
                 COPY tree/ /d/gone/\n\
                 COPY tree/ /d/keep/\n\
                 COPY tree/ /fresh/\n\
                 RUN find /d /fresh | sort > /listing && cat /d/gone/sub/deep/c.txt /fresh/link/b.txt >> /listing\n\
                 CMD cat /listing\n",
            ),
        ],
    );
    std::os::unix::fs::symlink("sub", ctx.join("tree/link")).unwrap();
    let out = e.ok(&["build", "-q", "-t", "cp:1", ctx.to_str().unwrap()]);
    assert!(out.starts_with("sha256:"), "{out}");
    let want = "/d\n/d/gone\n/d/gone/a.txt\n/d/gone/link\n/d/gone/sub\n/d/gone/sub/b.txt\n\
                /d/gone/sub/deep\n/d/gone/sub/deep/c.txt\n\
                /d/keep\n/d/keep/a.txt\n/d/keep/k\n/d/keep/link\n/d/keep/sub\n/d/keep/sub/b.txt\n\
                /d/keep/sub/deep\n/d/keep/sub/deep/c.txt\n\
                /fresh\n/fresh/a.txt\n/fresh/link\n/fresh/sub\n/fresh/sub/b.txt\n\
                /fresh/sub/deep\n/fresh/sub/deep/c.txt\nc\nb\n";
    assert_eq!(e.ok(&["run", "--rm", "--network", "none", "cp:1"]), want);
    e.assert_clean();
}
