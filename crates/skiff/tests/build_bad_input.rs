//! `skiff build` on input that breaks builders: a Dockerfile of 10,000
//! lines, a context with a symlink loop and a FIFO, a RUN that fills the
//! disk of a small store. Each must end with a clear result, nothing left
//! behind, and a store the next build uses.

mod build_env;

use build_env::Env;

#[test]
fn a_dockerfile_of_ten_thousand_lines() {
    let e = Env::new();
    let mut df = String::from("FROM bb:base\n");
    let mut lines = 1;
    for i in 0..2000 {
        df.push_str(&format!("# label {i}\nLABEL l{i}=v{i}\n"));
        lines += 2;
    }
    df.push_str("RUN echo start > /lines \\\n");
    lines += 1;
    for _ in 0..(9_999 - lines) {
        df.push_str(" && : \\\n");
    }
    df.push_str(" && echo end >> /lines\n");
    assert_eq!(df.lines().count(), 10_000);
    let ctx = e.context("ctx", &[("Dockerfile", &df)]);
    let t = std::time::Instant::now();
    let id = e.ok(&["build", "-q", "-t", "long:1", ctx.to_str().unwrap()]);
    let secs = t.elapsed().as_secs_f64();
    assert!(secs < 60.0, "a 10,000-line Dockerfile took {secs:.1}s");
    assert!(id.starts_with("sha256:"), "{id}");
    let labels = e.ok(&[
        "image",
        "inspect",
        "-f",
        "{{len .Config.Labels}} {{index .Config.Labels \"l1999\"}}",
        "long:1",
    ]);
    assert_eq!(labels, "2000 v1999\n");
    assert_eq!(
        e.ok(&["run", "--rm", "long:1", "cat", "/lines"]),
        "start\nend\n"
    );
    // Again: every layer from the cache, the same image.
    let again = e.ok(&["build", "-q", "-t", "long:1", ctx.to_str().unwrap()]);
    assert_eq!(again, id);
    e.assert_clean();
}

#[test]
fn a_context_with_a_symlink_loop_and_a_fifo() {
    let e = Env::new();
    let ctx = e.context(
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM bb:base\nCOPY . /app/\nRUN ls -la /app > /listing\n",
            ),
            ("a.txt", "a\n"),
        ],
    );
    std::os::unix::fs::symlink("loop-b", ctx.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", ctx.join("loop-b")).unwrap();
    nix::unistd::mkfifo(
        &ctx.join("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let o = e
        .skiff_cmd(&["build", "-q", "-t", "odd:1", ctx.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Links are copied as links (never followed), the FIFO as a FIFO.
    let show = e.ok(&[
        "run",
        "--rm",
        "odd:1",
        "sh",
        "-c",
        "readlink /app/loop-a; readlink /app/loop-b; test -p /app/pipe && echo fifo; cat /app/a.txt",
    ]);
    assert_eq!(show, "loop-b\nloop-a\nfifo\na\n");
    // A COPY that names the loop through a path fails clearly.
    let bad = e.context(
        "ctx2",
        &[("Dockerfile", "FROM bb:base\nCOPY loop-a/x /x\n")],
    );
    std::os::unix::fs::symlink("loop-b", bad.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", bad.join("loop-b")).unwrap();
    let o = e.skiff(&["build", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Dockerfile:2"), "{err}");
    e.assert_clean();
}

/// A store on a small tmpfs: the RUN that fills it fails as the RUN's
/// error, the store keeps no half-written layer, and the next build works.
#[test]
fn a_run_that_fills_the_disk() {
    let e = Env::new();
    let small = e.dir.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &small,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=48m"),
    )
    .unwrap();
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            skiff_testkit::dockerd::unmount_below(&self.0);
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _guard = Unmount(small.clone());
    let root = small.join("root");
    let run = e.dir.path().join("small-run");
    let skiff = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_skiff"))
            .arg("--root")
            .arg(&root)
            .arg("--runroot")
            .arg(&run)
            .args(args)
            .output()
            .unwrap()
    };
    let tar = e.dir.path().join("rootfs.tar");
    assert!(skiff(&["import", tar.to_str().unwrap(), "bb:base"])
        .status
        .success());
    let ctx = e.context(
        "ctx",
        &[(
            "Dockerfile",
            "FROM bb:base\nRUN dd if=/dev/zero of=/big bs=1M count=200\n",
        )],
    );
    let o = skiff(&["build", "-t", "full", ctx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Dockerfile:2") && err.contains("exit code: 1"),
        "{err}"
    );
    assert!(err.to_lowercase().contains("no space left"), "{err}");
    let work = root.join("image/build");
    let left: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.flatten().map(|x| x.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "work dirs left: {left:?}");
    // The space is back: a build that fits works.
    let ok = e.context(
        "ctx2",
        &[("Dockerfile", "FROM bb:base\nRUN echo fits > /f\n")],
    );
    let o = skiff(&["build", "-t", "fits", ok.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A context file the builder cannot read (root reads every file by its
/// permissions, so the file is a process's memory, which fails to read at
/// offset 0: `/proc/PID/mem` bind-mounted into the context). The build
/// fails naming the file, leaves nothing, and works once it is excluded.
#[test]
fn a_context_with_an_unreadable_file() {
    let e = Env::new();
    let ctx = e.context(
        "ctx",
        &[
            ("Dockerfile", "FROM bb:base\nCOPY . /app/\n"),
            ("readable.txt", "r\n"),
            ("secret/locked.txt", ""),
        ],
    );
    let locked = ctx.join("secret/locked.txt");
    let mem = format!("/proc/{}/mem", std::process::id());
    nix::mount::mount(
        Some(mem.as_str()),
        &locked,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .expect("bind-mounting a process's memory into the context");
    // (Env's drop unmounts everything below its directory.)
    assert!(std::fs::read(&locked).is_err(), "the file reads");
    let o = e.skiff(&["build", "-q", ctx.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ERROR:") && err.contains("secret/locked.txt"),
        "{err}"
    );
    e.assert_clean();
    assert_eq!(
        e.ok(&["images", "-q"]).lines().count(),
        1,
        "only the base image"
    );
    std::fs::write(ctx.join(".dockerignore"), "secret\n").unwrap();
    e.ok(&["build", "-q", ctx.to_str().unwrap()]);
}
