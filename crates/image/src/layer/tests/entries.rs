//! What unpacked entries look like: metadata, file kinds, xattrs,
//! whiteouts, replacement semantics and lower-layer hardlinks.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use tar::EntryType;

use super::*;

#[test]
fn keeps_modes_owners_and_times() {
    let mut t = Tar::new();
    let mut h = header(b"shared/", EntryType::Directory, 0o1777, b"");
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mtime(1_500_000_000);
    t.append(h, b"");
    let mut h = header(b"shared/suid", EntryType::Regular, 0o4755, b"");
    h.set_size(3);
    t.append(h, b"abc");
    let mut h = header(b"shared/sgid", EntryType::Regular, 0o2710, b"");
    h.set_uid(1234);
    h.set_gid(4321);
    h.set_mtime(1_400_000_000);
    h.set_size(0);
    t.append(h, b"");
    let env = Env::new();
    env.unpack(&t.finish()).unwrap();

    let d = lmeta(&env.path("shared"));
    assert!(d.is_dir());
    assert_eq!(d.mode() & 0o7777, 0o1777);
    assert_eq!((d.uid(), d.gid()), (1000, 1001));
    // Set after the two files were created in it.
    assert_eq!(d.mtime(), 1_500_000_000);

    let f = lmeta(&env.path("shared/suid"));
    assert_eq!(f.mode() & 0o7777, 0o4755);
    assert_eq!((f.uid(), f.gid()), (0, 0));
    assert_eq!(f.mtime(), MTIME as i64);
    assert_eq!(fs::read(env.path("shared/suid")).unwrap(), b"abc");

    let g = lmeta(&env.path("shared/sgid"));
    assert_eq!(g.mode() & 0o7777, 0o2710);
    assert_eq!((g.uid(), g.gid()), (1234, 4321));
    assert_eq!(g.mtime(), 1_400_000_000);
    env.assert_untouched();
}

#[test]
fn special_files_and_links() {
    let mut t = Tar::new();
    t.file("data", 0o640, b"payload");
    t.hardlink("data-link", "data");
    let mut h = header(b"sym", EntryType::Symlink, 0o777, b"data");
    h.set_uid(7);
    h.set_gid(8);
    t.append(h, b"");
    let mut h = header(b"null", EntryType::Char, 0o666, b"");
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    t.append(h, b"");
    let mut h = header(b"loop0", EntryType::Block, 0o660, b"");
    h.set_device_major(7).unwrap();
    h.set_device_minor(0).unwrap();
    t.append(h, b"");
    t.raw(b"pipe", EntryType::Fifo, 0o620, b"", b"");
    let env = Env::new();
    let got = env.unpack(&t.finish()).unwrap();
    assert_eq!(got.entries, 6);

    let data = lmeta(&env.path("data"));
    let link = lmeta(&env.path("data-link"));
    assert_eq!(data.ino(), link.ino());
    assert_eq!(data.nlink(), 2);

    let sym = lmeta(&env.path("sym"));
    assert!(sym.file_type().is_symlink());
    assert_eq!(fs::read_link(env.path("sym")).unwrap(), Path::new("data"));
    assert_eq!((sym.uid(), sym.gid()), (7, 8));
    assert_eq!(sym.mtime(), MTIME as i64);

    let null = lmeta(&env.path("null"));
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);

    let blk = lmeta(&env.path("loop0"));
    assert!(blk.file_type().is_block_device());
    assert_eq!(blk.rdev(), nix::sys::stat::makedev(7, 0));

    let fifo = lmeta(&env.path("pipe"));
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o7777, 0o620);
}

#[test]
fn pax_xattrs_ids_and_times() {
    // CAP_DAC_OVERRIDE|CAP_FOWNER: the permitted mask is 0x0a, a newline.
    let cap: &[u8] = &[
        1, 0, 0, 2, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut t = Tar::new();
    t.pax(&[
        ("SCHILY.xattr.trusted.dirattr", b"d"),
        ("SCHILY.xattr.trusted.overlay.redirect", b"/elsewhere"),
    ]);
    t.dir("d/", 0o755);
    t.pax(&[
        ("SCHILY.xattr.security.capability", cap),
        ("SCHILY.xattr.user.comment", b"hello"),
        ("SCHILY.xattr.trusted.overlay.opaque", b"y"),
        ("uid", b"100000"),
        ("gid", b"200000"),
        ("mtime", b"1700000000.5"),
    ]);
    t.file("d/ping", 0o755, b"#!/bin/true\n");
    t.pax(&[("SCHILY.xattr.trusted.link", b"l")]);
    t.symlink("d/sym", "ping");
    let env = Env::new();
    let got = env.unpack(&t.finish()).unwrap();
    assert_eq!(got.entries, 3, "PAX headers are not entries");

    let ping = env.path("d/ping");
    assert_eq!(
        lgetxattr(&ping, "security.capability").as_deref(),
        Some(cap)
    );
    assert_eq!(
        lgetxattr(&ping, "user.comment").as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(lgetxattr(&ping, "trusted.overlay.opaque"), None);
    let m = lmeta(&ping);
    assert_eq!((m.uid(), m.gid()), (100_000, 200_000));
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_700_000_000, 500_000_000));

    let d = env.path("d");
    assert_eq!(lgetxattr(&d, "trusted.dirattr").as_deref(), Some(&b"d"[..]));
    assert_eq!(lgetxattr(&d, "trusted.overlay.redirect"), None);
    assert_eq!(
        lgetxattr(&env.path("d/sym"), "trusted.link").as_deref(),
        Some(&b"l"[..])
    );
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let mut t = Tar::new();
    t.file(".wh.gone", 0o644, b"");
    t.dir("kept/", 0o750);
    t.file("kept/.wh..wh..opq", 0o644, b"");
    t.file("implicit/deeper/.wh..wh..opq", 0o644, b"");
    t.file("implicit/.wh.old", 0o644, b"");
    t.file(".wh..wh.plnk/12345", 0o644, b"aufs");
    let env = Env::new();
    env.unpack(&t.finish()).unwrap();

    let gone = lmeta(&env.path("gone"));
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    let old = lmeta(&env.path("implicit/old"));
    assert!(old.file_type().is_char_device());
    assert_eq!(old.rdev(), 0);

    for dir in ["kept", "implicit/deeper"] {
        let p = env.path(dir);
        assert!(lmeta(&p).is_dir());
        assert_eq!(
            lgetxattr(&p, "trusted.overlay.opaque").as_deref(),
            Some(&b"y"[..])
        );
    }
    assert_eq!(lmeta(&env.path("kept")).mode() & 0o7777, 0o750);
    assert_eq!(
        lgetxattr(&env.path("implicit"), "trusted.overlay.opaque"),
        None
    );
    assert!(!env.path(".wh..wh.plnk").exists());
    assert!(!env.path(".wh.gone").exists());
}

#[test]
fn whiteout_then_contents_makes_an_opaque_directory() {
    let mut t = Tar::new();
    t.file(".wh.x", 0o644, b"");
    t.file("x/y", 0o644, b"new");
    t.file(".wh.z", 0o644, b"");
    t.dir("z/", 0o711);
    t.file(".wh.plain", 0o644, b"");
    t.file("plain", 0o644, b"file");
    let env = Env::new();
    env.unpack(&t.finish()).unwrap();
    let z = env.path("z");
    assert_eq!(lmeta(&z).mode() & 0o7777, 0o711);
    assert_eq!(
        lgetxattr(&z, "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(fs::read(env.path("plain")).unwrap(), b"file");
    let x = env.path("x");
    assert!(lmeta(&x).is_dir());
    assert_eq!(
        lgetxattr(&x, "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(fs::read(env.path("x/y")).unwrap(), b"new");
}

#[test]
fn later_entries_replace_earlier_ones() {
    let mut t = Tar::new();
    t.file("a", 0o644, b"file first");
    t.dir("a/", 0o755);
    t.file("a/child", 0o644, b"child");
    t.dir("b/", 0o755);
    t.file("b/inner", 0o644, b"gone");
    t.file("b", 0o600, b"file over dir");
    t.symlink("c", "a");
    t.file("c", 0o644, b"file over symlink");
    t.file("e", 0o644, b"one");
    t.file("e", 0o600, b"two");
    t.dir("f/", 0o755);
    t.file("f/keep", 0o644, b"kept");
    let mut h = header(b"f/", EntryType::Directory, 0o700, b"");
    h.set_uid(5);
    t.append(h, b"");
    let env = Env::new();
    env.unpack(&t.finish()).unwrap();

    assert!(lmeta(&env.path("a")).is_dir());
    assert_eq!(fs::read(env.path("a/child")).unwrap(), b"child");
    assert!(lmeta(&env.path("b")).is_file());
    assert_eq!(fs::read(env.path("b")).unwrap(), b"file over dir");
    assert!(lmeta(&env.path("c")).is_file());
    assert_eq!(fs::read(env.path("c")).unwrap(), b"file over symlink");
    assert_eq!(fs::read(env.path("e")).unwrap(), b"two");
    assert_eq!(lmeta(&env.path("e")).permissions().mode() & 0o7777, 0o600);
    let f = lmeta(&env.path("f"));
    assert_eq!((f.mode() & 0o7777, f.uid()), (0o700, 5));
    assert_eq!(fs::read(env.path("f/keep")).unwrap(), b"kept");
}

#[test]
fn long_names_and_root_entries() {
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(150));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "./", &b""[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(4);
    b.append_data(&mut h, &long, &b"long"[..]).unwrap();
    let mut t = Tar { builder: b };
    t.pax(&[("path", b"pax/named/file"), ("linkpath", b"ignored")]);
    t.file("short-name", 0o644, b"pax");
    let env = Env::new();
    let before = lmeta(&env.dest);
    let got = env.unpack(&t.finish()).unwrap();
    assert_eq!(got.entries, 3);
    assert_eq!(fs::read(env.path(&long)).unwrap(), b"long");
    assert_eq!(fs::read(env.path("pax/named/file")).unwrap(), b"pax");
    assert!(!env.path("short-name").exists());
    // The "./" entry does not change the layer root.
    assert_eq!(lmeta(&env.dest).mode(), before.mode());
}

/// Makes a lower layer directory under the env's temporary directory.
fn lower(env: &Env, name: &str) -> PathBuf {
    let p = env.tmp.path().join(name);
    fs::create_dir(&p).unwrap();
    p
}

#[test]
fn hardlinks_to_lower_layers_copy_from_the_topmost() {
    let env = Env::new();
    let top = lower(&env, "lower-top");
    let bottom = lower(&env, "lower-bottom");
    fs::create_dir_all(bottom.join("usr/bin")).unwrap();
    fs::write(bottom.join("usr/bin/tool"), b"old").unwrap();
    fs::write(bottom.join("usr/bin/other"), b"bottom").unwrap();
    fs::create_dir_all(top.join("usr/bin")).unwrap();
    fs::write(top.join("usr/bin/tool"), b"new").unwrap();
    fs::set_permissions(top.join("usr/bin/tool"), fs::Permissions::from_mode(0o4711)).unwrap();
    std::os::unix::fs::lchown(top.join("usr/bin/tool"), Some(3), Some(4)).unwrap();
    fs::set_permissions(top.join("usr/bin/tool"), fs::Permissions::from_mode(0o4711)).unwrap();
    setxattr(&top.join("usr/bin/tool"), "user.origin", b"top");

    let mut t = Tar::new();
    t.dir("usr/", 0o755).dir("usr/bin/", 0o755);
    t.hardlink("usr/bin/alias", "usr/bin/tool");
    t.hardlink("usr/bin/other2", "/usr/bin/other");
    let opts = UnpackOptions {
        lower_dirs: vec![top.clone(), bottom.clone()],
        ..Default::default()
    };
    env.unpack_with(&t.finish(), &opts).unwrap();
    let alias = env.path("usr/bin/alias");
    assert_eq!(fs::read(&alias).unwrap(), b"new");
    let m = lmeta(&alias);
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o4711, 3, 4));
    assert_eq!(
        lgetxattr(&alias, "user.origin").as_deref(),
        Some(&b"top"[..])
    );
    assert_eq!(fs::read(env.path("usr/bin/other2")).unwrap(), b"bottom");
    // The lower layers are untouched.
    assert_eq!(fs::read(top.join("usr/bin/tool")).unwrap(), b"new");
    assert_eq!(lmeta(&top.join("usr/bin/tool")).nlink(), 1);
    assert!(!env.path("usr/bin/tool").exists());
}

#[test]
fn lower_whiteouts_and_opaque_dirs_hide_link_targets() {
    let env = Env::new();
    let top = lower(&env, "lower-top");
    let bottom = lower(&env, "lower-bottom");
    fs::create_dir_all(bottom.join("opt/app")).unwrap();
    fs::write(bottom.join("opt/deleted"), b"x").unwrap();
    fs::write(bottom.join("opt/app/hidden"), b"x").unwrap();
    fs::create_dir_all(top.join("opt/app")).unwrap();
    nix::sys::stat::mknod(
        &top.join("opt/deleted"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .unwrap();
    setxattr(&top.join("opt/app"), "trusted.overlay.opaque", b"y");
    let opts = UnpackOptions {
        lower_dirs: vec![top, bottom],
        ..Default::default()
    };
    for target in ["opt/deleted", "opt/app/hidden", "opt/nothing"] {
        let mut t = Tar::new();
        t.hardlink("link", target);
        let env2 = Env::new();
        let err = env2.unpack_with(&t.finish(), &opts).unwrap_err();
        assert!(
            matches!(&err, LayerError::BadHardlink { entry, reason, .. }
                if entry == "link" && reason.contains("does not exist")),
            "{target}: {err}"
        );
    }
}

#[test]
fn implicit_parents_take_lower_metadata() {
    let env = Env::new();
    let low = lower(&env, "lower");
    fs::create_dir_all(low.join("home/user")).unwrap();
    fs::set_permissions(low.join("home/user"), fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::lchown(low.join("home/user"), Some(1000), Some(1000)).unwrap();
    let mut t = Tar::new();
    t.file("home/user/.profile", 0o644, b"x");
    t.file("var/new/file", 0o644, b"y");
    let opts = UnpackOptions {
        lower_dirs: vec![low.clone()],
        ..Default::default()
    };
    env.unpack_with(&t.finish(), &opts).unwrap();
    let user = lmeta(&env.path("home/user"));
    assert_eq!(
        (user.mode() & 0o7777, user.uid(), user.gid()),
        (0o700, 1000, 1000)
    );
    assert_eq!(user.mtime(), lmeta(&low.join("home/user")).mtime());
    let var = lmeta(&env.path("var/new"));
    assert_eq!((var.mode() & 0o7777, var.uid()), (0o755, 0));
}
