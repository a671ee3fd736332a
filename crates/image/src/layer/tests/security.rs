//! Hostile archives: every one must fail (or stay inside the layer) and
//! leave everything outside the destination as it was.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use tar::EntryType;

use super::*;

#[test]
fn dotdot_escapes_are_rejected() {
    for name in [
        &b"../evil"[..],
        b"a/../../evil",
        b"./../canary/secret",
        b"/../x",
    ] {
        let env = Env::new();
        let mut t = Tar::new();
        t.dir("a/", 0o755);
        t.raw(name, EntryType::Regular, 0o644, b"", b"pwned");
        let err = env.unpack(&t.finish()).unwrap_err();
        let shown = String::from_utf8_lossy(name).into_owned();
        assert!(
            matches!(&err, LayerError::PathEscapes { entry } if *entry == shown),
            "{shown}: {err}"
        );
        assert!(err.to_string().contains(&shown));
        env.assert_untouched();
    }
    // A `..` that stays inside is fine.
    let env = Env::new();
    let mut t = Tar::new();
    t.raw(b"a/../b", EntryType::Regular, 0o644, b"", b"ok");
    env.unpack(&t.finish()).unwrap();
    assert_eq!(fs::read(env.path("b")).unwrap(), b"ok");
    env.assert_untouched();
}

#[test]
fn absolute_paths_stay_inside_the_layer() {
    let env = Env::new();
    let secret = env.canary.join("secret");
    let host_file = Path::new("/etc/skiff-layer-test-must-not-exist");
    let mut t = Tar::new();
    let mut h = header(b"", EntryType::Regular, 0o644, b"");
    h.set_size(5);
    t.pax(&[("path", secret.as_os_str().as_bytes())]);
    t.append(h, b"pwned");
    t.raw(
        host_file.as_os_str().as_bytes(),
        EntryType::Regular,
        0o644,
        b"",
        b"pwned",
    );
    env.unpack(&t.finish()).unwrap();
    let inside = env.dest.join(secret.strip_prefix("/").unwrap());
    assert_eq!(fs::read(inside).unwrap(), b"pwned");
    assert_eq!(
        fs::read(env.path("etc/skiff-layer-test-must-not-exist")).unwrap(),
        b"pwned"
    );
    assert!(!host_file.exists());
    env.assert_untouched();
}

#[test]
fn symlinks_out_of_the_layer_are_never_written_through() {
    let env0 = Env::new();
    let canary = env0.canary.to_str().unwrap().to_owned();
    let targets = [
        canary.clone(),
        "../canary".to_owned(),
        "../../../../../../../..".to_owned(),
        "/".to_owned(),
        ".".to_owned(),
    ];
    for target in &targets {
        for (link, victim) in [("evil", "evil/secret"), ("a/evil", "a/evil/sub/new")] {
            let env = Env::new();
            let mut t = Tar::new();
            t.dir("a/", 0o755);
            t.symlink(link, target);
            t.file(victim, 0o644, b"pwned");
            let err = env.unpack(&t.finish()).unwrap_err();
            assert!(
                matches!(&err, LayerError::SymlinkInPath { entry, symlink }
                    if entry == victim && symlink == Path::new(link)),
                "{link} -> {target}: {err}"
            );
            assert!(err.to_string().contains(link), "{err}");
            env.assert_untouched();
        }
    }
    // The same for directories, hardlinks, devices and whiteouts under it.
    for (kind, name, linkname) in [
        (EntryType::Directory, &b"evil/dir/"[..], &b""[..]),
        (EntryType::Link, b"evil/hl", b"a/file"),
        (EntryType::Symlink, b"evil/sl", b"/"),
        (EntryType::Fifo, b"evil/fifo", b""),
        (EntryType::Regular, b"evil/.wh.secret", b""),
        (EntryType::Regular, b"evil/.wh..wh..opq", b""),
    ] {
        let env = Env::new();
        let mut t = Tar::new();
        t.dir("a/", 0o755).file("a/file", 0o644, b"x");
        t.symlink("evil", env.canary.to_str().unwrap());
        t.raw(name, kind, 0o755, linkname, b"");
        let err = env.unpack(&t.finish()).unwrap_err();
        assert!(
            matches!(&err, LayerError::SymlinkInPath { symlink, .. } if symlink == Path::new("evil")),
            "{}: {err}",
            String::from_utf8_lossy(name)
        );
        env.assert_untouched();
    }
    env0.assert_untouched();
}

#[test]
fn a_symlink_at_the_entry_name_is_replaced_not_followed() {
    let env = Env::new();
    let secret = env.canary.join("secret");
    let secret = secret.to_str().unwrap();
    let canary = env.canary.to_str().unwrap();
    let mut t = Tar::new();
    t.symlink("f", secret).file("f", 0o644, b"pwned");
    t.symlink("d", canary)
        .dir("d/", 0o700)
        .file("d/secret", 0o644, b"inside");
    t.symlink("n", secret);
    t.raw(b"n", EntryType::Fifo, 0o600, b"", b"");
    t.symlink("w", secret).file(".wh.w", 0o644, b"");
    t.file("plain", 0o644, b"p")
        .symlink("h", secret)
        .hardlink("h", "plain");
    let mut h = header(b"m", EntryType::Symlink, 0o777, secret.as_bytes());
    h.set_size(0);
    t.append(h, b"");
    // Metadata updates on an existing symlink name must not reach the target.
    let mut h = header(b"m", EntryType::Symlink, 0o777, b"plain");
    h.set_uid(4242);
    t.append(h, b"");
    env.unpack(&t.finish()).unwrap();
    assert_eq!(fs::read(env.path("f")).unwrap(), b"pwned");
    assert!(lmeta(&env.path("d")).is_dir());
    assert_eq!(fs::read(env.path("d/secret")).unwrap(), b"inside");
    assert!(lmeta(&env.path("n")).file_type().is_fifo());
    assert_eq!(lmeta(&env.path("w")).rdev(), 0);
    assert_eq!(lmeta(&env.path("h")).ino(), lmeta(&env.path("plain")).ino());
    assert_eq!(lmeta(&env.path("m")).uid(), 4242);
    env.assert_untouched();
}

use std::os::unix::fs::FileTypeExt;

#[test]
fn hardlinks_out_of_the_layer_are_rejected() {
    let env0 = Env::new();
    let secret = env0.canary.join("secret");
    let canary = env0.canary.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"../canary/secret".to_vec(), "escapes the layer root"),
        (b"a/../../canary/secret".to_vec(), "escapes the layer root"),
        (secret.as_os_str().as_bytes().to_vec(), "does not exist"),
        (b"lnk/secret".to_vec(), "lnk is a symlink"),
        (b"lnk".to_vec(), "OK: links the symlink itself"),
    ];
    for (target, want) in cases {
        let env = Env::new();
        let mut t = Tar::new();
        t.dir("a/", 0o755);
        t.symlink("lnk", &canary);
        t.raw(b"h", EntryType::Link, 0o644, &target, b"");
        t.file("after", 0o644, b"x");
        let res = env.unpack(&t.finish());
        let shown = String::from_utf8_lossy(&target).into_owned();
        if want.starts_with("OK") {
            res.unwrap();
            let h = lmeta(&env.path("h"));
            assert!(h.file_type().is_symlink());
            assert_eq!(h.ino(), lmeta(&env.path("lnk")).ino());
        } else {
            let err = res.unwrap_err();
            assert!(
                matches!(&err, LayerError::BadHardlink { entry, target, reason }
                    if entry == "h" && *target == shown && reason.contains(want)),
                "{shown}: {err}"
            );
            assert!(err.to_string().contains(&shown));
        }
        env.assert_untouched();
        // The host file kept its single link.
        assert_eq!(lmeta(&secret).nlink(), 1);
    }
    env0.assert_untouched();
}

#[test]
fn lower_layer_symlinks_are_not_followed_for_hardlinks() {
    let env = Env::new();
    let low = env.tmp.path().join("lower");
    fs::create_dir(&low).unwrap();
    std::os::unix::fs::symlink(&env.canary, low.join("lib")).unwrap();
    std::os::unix::fs::symlink(env.canary.join("secret"), low.join("direct")).unwrap();
    let opts = UnpackOptions {
        lower_dirs: vec![low.clone()],
        ..Default::default()
    };
    for (target, want) in [
        ("lib/secret", "lib is a symlink"),
        ("direct", "not a regular file"),
    ] {
        let mut t = Tar::new();
        t.hardlink("h", target);
        let env2 = Env::new();
        let err = env2.unpack_with(&t.finish(), &opts).unwrap_err();
        assert!(
            matches!(&err, LayerError::BadHardlink { reason, .. } if reason.contains(want)),
            "{target}: {err}"
        );
        env2.assert_untouched();
    }
    // Building the lower layer changed the env; it must not change again.
    let before = fs::read(env.canary.join("secret")).unwrap();
    assert_eq!(before, b"canary");
}

#[test]
fn invalid_whiteouts_are_rejected() {
    for (name, want) in [
        (&b".wh..."[..], "invalid whiteout"),
        (b"dir/.wh..", "invalid whiteout"),
        (b"dir/.wh.", "invalid whiteout"),
        (b".wh.dir/file", "invalid whiteout"),
        (b"../.wh.x", "escapes"),
        (b"a/../../.wh..wh..opq", "escapes"),
    ] {
        let env = Env::new();
        let mut t = Tar::new();
        t.dir("dir/", 0o755);
        t.raw(name, EntryType::Regular, 0o644, b"", b"");
        let err = env.unpack(&t.finish()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(want),
            "{}: {msg}",
            String::from_utf8_lossy(name)
        );
        assert!(msg.contains(&*String::from_utf8_lossy(name)), "{msg}");
        env.assert_untouched();
    }
}

#[test]
fn gigantic_declared_sizes_fail_without_allocating() {
    // A regular file claiming 1 TiB with 10 bytes behind it.
    let env = Env::new();
    let mut h = header(b"big", EntryType::Regular, 0o644, b"");
    h.set_size(1 << 40);
    h.set_cksum();
    let mut blob = h.as_bytes().to_vec();
    blob.extend_from_slice(b"0123456789");
    let err = env.unpack(&gzip(&blob)).unwrap_err();
    assert!(
        matches!(&err, LayerError::TruncatedEntry { entry, declared, got }
            if entry == "big" && *declared == 1 << 40 && *got == 10),
        "{err}"
    );
    assert!(lmeta(&env.path("big")).len() <= 10);
    env.assert_untouched();

    // An extension header claiming 8 EiB (base-256 size field).
    let env = Env::new();
    let mut h = header(b"././@PaxHeader", EntryType::XHeader, 0o644, b"");
    h.as_old_mut().size = [
        0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    h.set_cksum();
    let mut blob = h.as_bytes().to_vec();
    blob.extend_from_slice(&[b'9'; 100]);
    let err = env.unpack(&blob).unwrap_err();
    assert!(matches!(&err, LayerError::MetadataTooLarge { .. }), "{err}");
    env.assert_untouched();
}

#[test]
fn malformed_headers_are_rejected() {
    let mut t = Tar::new();
    t.file("ok", 0o644, b"x");
    let mut tar = t.finish();
    tar[0] = b'O'; // name changes, checksum no longer matches
    let env = Env::new();
    let err = env.unpack(&tar).unwrap_err();
    assert!(
        matches!(&err, LayerError::BadHeader { entry, .. } if entry == "Ok"),
        "{err}"
    );
    assert!(err.to_string().contains("checksum"));

    let mut t = Tar::new();
    t.raw(b"sparse", EntryType::GNUSparse, 0o644, b"", b"");
    let err = Env::new().unpack(&t.finish()).unwrap_err();
    assert!(
        matches!(&err, LayerError::Unsupported { entry, .. } if entry == "sparse"),
        "{err}"
    );

    let mut t = Tar::new();
    t.pax(&[("GNU.sparse.major", b"1")]);
    t.file("pax-sparse", 0o644, b"");
    let err = Env::new().unpack(&t.finish()).unwrap_err();
    assert!(matches!(&err, LayerError::Unsupported { .. }), "{err}");
}
