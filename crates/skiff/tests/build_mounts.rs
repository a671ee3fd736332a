//! RUN's bind mounts: writable ones (`rw`) whose writes are thrown away;
//! and links in the source of a bind mount or a COPY that resolve inside
//! the source (a stage's files or the context), never to the host's files.

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
