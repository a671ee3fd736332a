//! A container's files: volumes, binds and tmpfs mounts, `diff`, `--init`,
//! `commit` and `cp` both ways.

mod containers_env;

use containers_env::{text, Env};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn volumes_binds_and_tmpfs() {
    let e = Env::new();
    // A named volume outlives its containers and is shared between them.
    assert_eq!(e.ok(&["volume", "create", "data"]), "data\n");
    e.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        "bb",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "reader",
        "-v",
        "data:/data:ro",
        "bb",
        "sleep",
        "60",
    ]);
    assert_eq!(
        e.ok(&["run", "--rm", "-v", "data:/d", "bb", "cat", "/d/f"]),
        "kept\n"
    );
    let o = e.run(&[
        "run",
        "--rm",
        "-v",
        "data:/data:ro",
        "bb",
        "touch",
        "/data/x",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o.stderr).contains("Read-only file system"));
    // In use: refused, naming the container.
    let o = e.run(&["volume", "rm", "data"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("volume is in use"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        e.inspect(
            "reader",
            "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}}{{end}}"
        ),
        "volume data /data false"
    );
    e.ok(&["rm", "-f", "reader"]);
    assert_eq!(e.ok(&["volume", "rm", "data"]), "data\n");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
    // An empty volume is filled with what the image has there.
    e.ok(&["volume", "create", "etc"]);
    let out = e.ok(&["run", "--rm", "-v", "etc:/etc", "bb", "cat", "/etc/group"]);
    assert!(out.starts_with("root:x:0:"), "{out}");
    let data = e.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "etc"]);
    assert!(Path::new(data.trim()).join("passwd").exists());
    // Binds: -v makes a missing host directory, --mount refuses it.
    let host = e.root.parent().unwrap().join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("h"), "from host\n").unwrap();
    let spec = format!("{}:/h", host.display());
    assert_eq!(
        e.ok(&["run", "--rm", "-v", &spec, "bb", "cat", "/h/h"]),
        "from host\n"
    );
    let missing = e.root.parent().unwrap().join("nope");
    let o = e.run(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,source={},target=/x", missing.display()),
        "bb",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("bind source path does not exist"));
    assert!(!missing.exists());
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    // tmpfs
    let out = e.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch:size=1m",
        "bb",
        "grep",
        "/scratch",
        "/proc/mounts",
    ]);
    assert!(
        out.starts_with("tmpfs /scratch tmpfs") && out.contains("size=1024k"),
        "{out}"
    );
    // Anonymous volumes: gone with --rm, and with rm -v; kept by plain rm.
    let before = e.ok(&["volume", "ls", "-q"]);
    e.ok(&["run", "--rm", "-v", "/anon", "bb", "true"]);
    assert_eq!(e.ok(&["volume", "ls", "-q"]), before);
    e.ok(&["create", "--name", "a1", "-v", "/anon", "bb", "true"]);
    e.ok(&["create", "--name", "a2", "-v", "/anon", "bb", "true"]);
    assert_eq!(
        e.ok(&["volume", "ls", "-q"]).lines().count(),
        before.lines().count() + 2
    );
    e.ok(&["rm", "-v", "a1"]);
    e.ok(&["rm", "a2"]);
    assert_eq!(
        e.ok(&["volume", "ls", "-q"]).lines().count(),
        before.lines().count() + 1
    );
    let o = e.ok(&["volume", "prune", "-f"]);
    assert!(o.starts_with("Deleted Volumes:\n"), "{o}");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
}

#[test]
fn diff_and_init() {
    let e = Env::new();
    e.ok(&[
        "run", "--name", "changer", "bb", "sh", "-c",
        "mkdir -p /tmp/new/sub && echo x > /tmp/new/sub/f && echo y >> /etc/passwd && rm /bin/wc && touch /newfile",
    ]);
    assert_eq!(
        e.ok(&["diff", "changer"]),
        "C /bin\nD /bin/wc\nC /etc\nC /etc/passwd\nA /newfile\nC /tmp\nA /tmp/new\nA /tmp/new/sub\nA /tmp/new/sub/f\n"
    );
    // --init: PID 1 is the init; signals reach the command, so stop is quick.
    let ps = e.ok(&["run", "--rm", "--init", "bb", "ps", "-o", "pid,args"]);
    assert!(
        ps.lines()
            .any(|l| l.trim() == "1 /sbin/docker-init -- ps -o pid,args"),
        "{ps}"
    );
    let o = e.run(&["run", "--rm", "--init", "bb", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    e.ok(&[
        "run", "-d", "--name", "initd", "--init", "bb", "sleep", "60",
    ]);
    let t = Instant::now();
    e.ok(&["stop", "initd"]);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(
        e.inspect("initd", "{{.State.ExitCode}} {{.HostConfig.Init}}"),
        "143 true"
    );
}

/// The mount points a container needs and the image lacks come from the
/// image's shared init layer: a container that writes nothing leaves its
/// writable layer empty, the image's /etc looks as the image has it, and a
/// removed container's directory, reused by the next, carries nothing of
/// the old one over.
#[test]
fn a_container_that_writes_nothing_leaves_its_layer_empty() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    // An image whose /etc is not as the init layer would make it (its
    // owner the tar writer makes root; the unit tests check owners).
    let rootfs = e._dir.path().join("odd");
    skiff_testkit::make_busybox_rootfs(&rootfs);
    let etc = rootfs.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o750)).unwrap();
    let old = std::fs::File::open(&etc).unwrap();
    old.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000))
        .unwrap();
    let tar = e._dir.path().join("odd.tar");
    skiff_testkit::write_tar(&rootfs, &tar);
    e.ok(&["import", tar.to_str().unwrap(), "odd"]);
    e.ok(&["run", "-d", "--name", "idle", "odd", "sleep", "60"]);
    let upper = e.inspect("idle", "{{.GraphDriver.Data.UpperDir}}");
    let left: Vec<_> = std::fs::read_dir(upper.trim())
        .unwrap()
        .flatten()
        .map(|d| d.file_name())
        .collect();
    assert!(left.is_empty(), "written to the upper layer: {left:?}");
    // The mount points are there, and /etc is the image's.
    assert_eq!(
        e.ok(&[
            "exec", "idle", "sh", "-c",
            "stat -c '%a %u %g %Y' /etc; ls -d /proc /sys /dev; readlink /etc/mtab; cat /etc/hostname",
        ]),
        format!(
            "750 0 0 1000000000\n/dev\n/proc\n/sys\n/proc/mounts\n{}\n",
            e.inspect("idle", "{{.Config.Hostname}}")
        )
    );
    assert_eq!(e.ok(&["diff", "idle"]), "");
    e.ok(&["rm", "-f", "idle"]);
    let spares = || {
        std::fs::read_dir(e.root.join("containers/#spare"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(spares(), 1, "the removed container's directory is kept");
    // The next containers take it and see nothing of the ones before.
    e.ok(&[
        "run",
        "--name",
        "writer",
        "bb",
        "sh",
        "-c",
        "echo secret > /etc/left; echo from-writer",
    ]);
    assert_eq!(spares(), 0);
    e.ok(&["rm", "writer"]);
    assert_eq!(spares(), 1);
    e.ok(&[
        "run",
        "--name",
        "reader",
        "bb",
        "sh",
        "-c",
        "ls /etc/left; true",
    ]);
    assert_eq!(e.ok(&["logs", "reader"]), "");
    assert_eq!(e.ok(&["diff", "reader"]), "");
}

#[test]
fn commit_makes_an_image_of_the_changes() {
    let e = Env::new();
    e.ok(&[
        "run",
        "--name",
        "builder",
        "-e",
        "MODE=built",
        "-w",
        "/srv",
        "bb",
        "sh",
        "-c",
        "echo hello > /greeting && rm /bin/wc && mkdir -p /d && ln /greeting /d/hard",
    ]);
    let id = e.ok(&[
        "commit",
        "-a",
        "tester",
        "-m",
        "my change",
        "builder",
        "mine:v1",
    ]);
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id}");
    assert!(e.ok(&["images"]).contains("mine         v1"));
    // Files, the deletion and the hardlink are in the new image; the
    // container's config is its default.
    let out = e.ok(&[
        "run",
        "--rm",
        "mine:v1",
        "sh",
        "-c",
        "cat /greeting; test ! -e /bin/wc && echo gone; stat -c %h /d/hard; echo $MODE $(pwd)",
    ]);
    assert_eq!(out, "hello\ngone\n2\nbuilt /srv\n");
    assert_eq!(
        e.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Author}} {{len .RootFS.Layers}}",
            "mine:v1"
        ]),
        "tester 2\n"
    );
    let hist = e.ok(&["image", "history", "mine:v1"]);
    assert!(hist.lines().nth(1).unwrap().contains("my change"), "{hist}");
    // A running container is paused while committed and runs on.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "bb",
        "sh",
        "-c",
        "echo x > /x; sleep 60",
    ]);
    e.until(5, "the file", || {
        e.run(&["exec", "live", "test", "-e", "/x"])
            .status
            .success()
    });
    e.ok(&["commit", "live", "live:snap"]);
    assert_eq!(e.inspect("live", "{{.State.Status}}"), "running");
    assert_eq!(
        e.ok(&["run", "--rm", "--entrypoint", "cat", "live:snap", "/x"]),
        "x\n"
    );
}

#[test]
fn cp_both_ways() {
    let e = Env::new();
    let host = e.root.parent().unwrap().join("cp");
    std::fs::create_dir_all(host.join("tree/sub")).unwrap();
    std::fs::write(host.join("tree/sub/a"), "a\n").unwrap();
    std::fs::write(host.join("file.txt"), "f\n").unwrap();
    // Into a stopped container: a file into a directory, a directory as a
    // new name; then the container sees them.
    e.ok(&[
        "create",
        "--name",
        "box",
        "-v",
        "vol:/data",
        "bb",
        "sh",
        "-c",
        "cat /tmp/file.txt /opt/sub/a /data/v; sleep 60",
    ]);
    e.ok(&["cp", host.join("file.txt").to_str().unwrap(), "box:/tmp/"]);
    e.ok(&["cp", host.join("tree").to_str().unwrap(), "box:/opt"]);
    std::fs::write(host.join("v"), "in volume\n").unwrap();
    e.ok(&["cp", host.join("v").to_str().unwrap(), "box:/data/v"]);
    e.ok(&["start", "box"]);
    e.until(5, "the output", || {
        e.ok(&["logs", "box"]) == "f\na\nin volume\n"
    });
    // Out of a running container: a directory into an existing directory.
    let out = host.join("out");
    std::fs::create_dir_all(&out).unwrap();
    e.ok(&["cp", "box:/opt", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("opt/sub/a")).unwrap(),
        "a\n"
    );
    e.ok(&["cp", "box:/etc/passwd", out.join("pw").to_str().unwrap()]);
    assert!(std::fs::read_to_string(out.join("pw"))
        .unwrap()
        .starts_with("root:"));
    let o = e.run(&["cp", "box:/nonexistent", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("No such container:path: box:/nonexistent"));
    // A symlink is copied as a symlink (without -L), as Docker does.
    e.ok(&["exec", "box", "ln", "-s", "/etc/passwd", "/tmp/link"]);
    e.ok(&["cp", "box:/tmp/link", out.join("link").to_str().unwrap()]);
    assert_eq!(
        std::fs::read_link(out.join("link")).unwrap(),
        Path::new("/etc/passwd")
    );
    // A symlink the container made, pointing at a host path: copying onto
    // it resolves inside the container, never on the host.
    let victim = host.join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    e.ok(&[
        "exec",
        "box",
        "ln",
        "-s",
        victim.to_str().unwrap(),
        "/tmp/evil",
    ]);
    let _ = e.run(&[
        "cp",
        host.join("file.txt").to_str().unwrap(),
        "box:/tmp/evil",
    ]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    e.ok(&[
        "exec",
        "box",
        "mkdir",
        "-p",
        victim.parent().unwrap().to_str().unwrap(),
    ]);
    e.ok(&[
        "cp",
        host.join("file.txt").to_str().unwrap(),
        "box:/tmp/evil",
    ]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    assert_eq!(e.ok(&["exec", "box", "cat", "/tmp/evil"]), "f\n");

    // Tar streams: `cp C:SRC -` writes one, `cp - C:DIR` unpacks one.
    let o = e.run(&["cp", "box:/opt", "-"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut names: Vec<String> = tar::Archive::new(&o.stdout[..])
        .entries()
        .unwrap()
        .map(|en| {
            let p = en.unwrap().path().unwrap().to_string_lossy().into_owned();
            p.trim_end_matches('/').to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["opt", "opt/sub", "opt/sub/a"]);
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all("tree", host.join("tree")).unwrap();
    let good = b.into_inner().unwrap();
    let cp_in = |dest: &str, data: &[u8]| {
        use std::io::Write;
        let mut child = e
            .cmd(&["cp", "-", dest])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(data);
        child.wait_with_output().unwrap()
    };
    let o = cp_in("box:/tmp", &good);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(e.ok(&["exec", "box", "cat", "/tmp/tree/sub/a"]), "a\n");
    let o = cp_in("box:/etc/passwd", &good);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("destination \"box:/etc/passwd\" must be a directory"));
    // A hostile stream: a symlink to the host's directory, then a file
    // through it. Nothing lands on the host.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    h.set_link_name(victim.parent().unwrap()).unwrap();
    h.set_cksum();
    b.append_data(&mut h, "esc", &[][..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "esc/planted", &b"bad\n"[..]).unwrap();
    let o = cp_in("box:/tmp", &b.into_inner().unwrap());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(!host.join("planted").exists());
}
