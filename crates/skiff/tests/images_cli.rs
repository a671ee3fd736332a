//! `skiff import`, `images`, `tag`, `rmi`, `image inspect` through the real
//! binary, with a private --root, compared with what Docker prints.

use std::path::Path;
use std::process::{Command, Output};

fn skiff(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skiff"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("running skiff")
}

fn ok(root: &Path, args: &[&str]) -> String {
    let o = skiff(root, args);
    assert!(
        o.status.success(),
        "skiff {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn import_list_tag_inspect_rmi() {
    let d = tempfile::tempdir().unwrap();
    let rootfs = d.path().join("rootfs");
    skiff_testkit::make_busybox_rootfs(&rootfs);
    let tar = d.path().join("rootfs.tar");
    skiff_testkit::write_tar(&rootfs, &tar);
    let root = d.path().join("root");

    let id = ok(&root, &["import", tar.to_str().unwrap(), "busybox:imp"]);
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let short = &id[7..19];
    ok(&root, &["tag", "busybox:imp", "localhost:5000/bb:v1"]);

    let table = ok(&root, &["images"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("REPOSITORY") && lines[0].contains("IMAGE ID"));
    assert_eq!(lines.len(), 3, "{table}");
    for l in &lines[1..] {
        assert!(
            l.contains(short) && l.contains("ago") && l.ends_with("MB"),
            "{l}"
        );
    }
    assert!(table.contains("localhost:5000/bb"));
    assert_eq!(ok(&root, &["images", "-q"]).trim(), short);
    assert_eq!(
        ok(
            &root,
            &["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]
        ),
        format!("busybox:imp {short}\nlocalhost:5000/bb:v1 {short}\n")
    );
    let t = ok(
        &root,
        &["images", "--format", "table {{.Repository}}\\t{{.ID}}"],
    );
    assert!(t.starts_with("REPOSITORY          IMAGE ID\n"), "{t}");
    let j = ok(&root, &["images", "--format", "json"]);
    let first: serde_json::Value = serde_json::from_str(j.lines().next().unwrap()).unwrap();
    assert_eq!(first["ID"], serde_json::json!(short));
    assert_eq!(ok(&root, &["images", "-q", "--no-trunc"]).trim(), id);

    let v: serde_json::Value =
        serde_json::from_str(&ok(&root, &["image", "inspect", "busybox:imp"])).unwrap();
    assert_eq!(v[0]["Id"], serde_json::json!(id));
    assert_eq!(
        v[0]["RepoTags"],
        serde_json::json!(["busybox:imp", "localhost:5000/bb:v1"])
    );

    // unknown image: Docker's message and exit code 1
    let o = skiff(&root, &["image", "inspect", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("No such image: nope"));
    // unknown flag: exit 125 as docker
    assert_eq!(
        skiff(&root, &["images", "--bogus"]).status.code(),
        Some(125)
    );
    // invalid reference: a clear message
    let o = skiff(&root, &["tag", "busybox:imp", "Bad/Name"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("lowercase"));

    // save in both formats and load into a fresh root
    for format in ["docker-archive", "oci-archive"] {
        let archive = d.path().join(format!("{format}.tar"));
        ok(
            &root,
            &[
                "save",
                "--format",
                format,
                "-o",
                archive.to_str().unwrap(),
                "busybox:imp",
            ],
        );
        let other = d.path().join(format!("other-{format}"));
        assert_eq!(
            ok(&other, &["load", "-i", archive.to_str().unwrap()]),
            "Loaded image: busybox:imp\n"
        );
        assert_eq!(ok(&other, &["images", "-q", "--no-trunc"]).trim(), id);
    }

    let hist = ok(&root, &["image", "history", "busybox:imp"]);
    assert!(
        hist.starts_with("IMAGE") && hist.contains("skiff import"),
        "{hist}"
    );
    assert!(hist.lines().nth(1).unwrap().starts_with(short));

    assert_eq!(
        ok(&root, &["rmi", "localhost:5000/bb:v1"]),
        "Untagged: localhost:5000/bb:v1\n"
    );
    assert_eq!(
        ok(&root, &["rmi", "busybox:imp"]),
        format!("Untagged: busybox:imp\nDeleted: {id}\n")
    );
    assert_eq!(ok(&root, &["images", "-q"]), "");
    // an unnamed import is dangling: prune removes it and reports it
    let id2 = ok(&root, &["import", tar.to_str().unwrap()]);
    assert!(ok(&root, &["images"]).contains("<none>"));
    let out = ok(&root, &["image", "prune", "-f"]);
    assert!(out.starts_with("Deleted Images:\n"), "{out}");
    assert!(out.contains(id2.trim()));
    assert!(out.contains("Total reclaimed space: "));
    // nothing of the image is left in the store
    let blobs = root.join("image/blobs/sha256");
    assert_eq!(std::fs::read_dir(blobs).unwrap().count(), 0);
}
