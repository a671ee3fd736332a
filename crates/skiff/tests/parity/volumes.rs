//! Parity scenarios: Volumes, binds, tmpfs

use crate::*;

/// `<root>` for each side's volume root in its output.
pub(crate) fn roots(c: &Ctx, s: Side) -> Vec<(String, String)> {
    vec![(c.e.root(s), "<root>".to_string())]
}

pub(crate) fn volume_named_persists(c: &Ctx) {
    let v = c.vol("vnamed");
    c.same_want(
        "write into a new named volume",
        &cl!(
            "{RUN} -v {v}:/data {IMG} sh -c 'echo hi > /data/f; ls -ld /data | cut -c1-10'",
            v
        ),
        E::Exact,
        0,
        "drwxr-xr-x\n",
    );
    c.same_want(
        "read it from another container, :ro",
        &cl!(
            "{RUN} -v {v}:/data:ro {IMG} sh -c 'cat /data/f; touch /data/g; echo $?'",
            v
        ),
        E::Exact,
        0,
        "hi\n1\n",
    );
    c.same_want(
        "--mount type=volume,readonly",
        &cl!(
            "{RUN} --mount type=volume,source={v},target=/m,readonly {IMG} sh -c 'cat /m/f; touch /m/g; echo $?'",
            v
        ),
        E::Exact,
        0,
        "hi\n1\n",
    );
    c.same_want(
        "listed",
        &cl!("volume ls -q --filter name={v}", v),
        E::Exact,
        0,
        &format!("{v}\n"),
    );
}

pub(crate) fn volume_commands(c: &Ctx) {
    let (v, vl) = (c.vol("vcmd"), c.vol("vcmd-labels"));
    c.same_want(
        "volume create",
        &cl!("volume create {v}", v),
        E::Exact,
        0,
        &format!("{v}\n"),
    );
    c.same_want(
        "volume create of one that exists",
        &cl!("volume create {v}", v),
        E::Exact,
        0,
        &format!("{v}\n"),
    );
    c.same_want(
        "volume create --label",
        &cl!("volume create --label a=b --label c {vl}", vl),
        E::Exact,
        0,
        &format!("{vl}\n"),
    );
    c.same_want(
        "volume ls",
        &cl!("volume ls --filter name=px-vcmd"),
        E::Exact,
        0,
        &format!("DRIVER    VOLUME NAME\nlocal     {v}\nlocal     {vl}\n"),
    );
    c.same_want(
        "volume ls -q",
        &cl!("volume ls -q --filter name=px-vcmd"),
        E::Exact,
        0,
        &format!("{v}\n{vl}\n"),
    );
    c.same_want(
        "volume ls: two name filters, either matches",
        &cl!("volume ls -q --filter name=vcmd-labels --filter name=px-nomatch"),
        E::Exact,
        0,
        &format!("{vl}\n"),
    );
    c.same_want(
        "volume ls --filter label=a",
        &cl!("volume ls -q --filter label=a"),
        E::Exact,
        0,
        &format!("{vl}\n"),
    );
    let a = cl!(
        "volume inspect -f '{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}}' {v}",
        v
    );
    let o = c.same_each(
        "Name Driver Scope Mountpoint",
        &a,
        |_| a.clone(),
        |s| roots(c, s),
        E::Exact,
    );
    c.want(
        "Name Driver Scope Mountpoint",
        &o,
        0,
        &format!("{v} local local <root>/volumes/{v}/_data\n"),
    );
    c.same_want(
        "Labels",
        &cl!("volume inspect -f '{{json .Labels}}' {vl}", vl),
        E::Exact,
        0,
        "{\"a\":\"b\",\"c\":\"\"}\n",
    );
    c.same_want(
        "Labels and Options of a volume created without",
        &cl!(
            "volume inspect -f '{{json .Labels}} {{json .Options}}' {v}",
            v
        ),
        E::Exact,
        0,
        "{} {}\n",
    );
    // CreatedAt: Docker's is RFC 3339 in seconds ("2006-01-02T15:04:05Z")
    let a = cl!("volume inspect -f '{{.CreatedAt}}' {v}", v);
    let shape = |_: Side, out: &str| -> String {
        out.chars()
            .map(|ch| if ch.is_ascii_digit() { 'N' } else { ch })
            .collect()
    };
    let o = map_out(
        c.each(|s| c.exec(s, &a)).map(|mut x| {
            x.out = x.raw_out.clone();
            x
        }),
        shape,
    );
    c.check("CreatedAt", &a, &o, E::Exact);
    c.want("CreatedAt", &o, 0, "NNNN-NN-NNTNN:NN:NNZ\n");
    // The whole document (4-space indent, key order), its time and root
    // replaced.
    let a = cl!("volume inspect {v}", v);
    let o = c.same_map("the whole document", &a, E::Exact, |s, out| {
        out.replace(&c.e.root(s), "<root>")
            .lines()
            .map(|l| match l.split_once("\"CreatedAt\": ") {
                Some((indent, _)) => format!("{indent}\"CreatedAt\": <time>,\n"),
                None => format!("{l}\n"),
            })
            .collect()
    });
    c.want(
        "the whole document",
        &o,
        0,
        &format!(
            "[\n    {{\n        \"CreatedAt\": <time>,\n        \"Driver\": \"local\",\n        \"Labels\": {{}},\n        \
             \"Mountpoint\": \"<root>/volumes/{v}/_data\",\n        \"Name\": \"{v}\",\n        \"Options\": {{}},\n        \
             \"Scope\": \"local\"\n    }}\n]\n"
        ),
    );
    c.same_want(
        "volume inspect of a missing volume",
        &cl!("volume inspect px-nosuch"),
        E::Exact,
        1,
        "[]\n",
    );
    // rm: in use, missing, -f of a missing one
    let n = c.name("vcmd-user");
    c.setup(&cl!("{DRUN} --name {n} -v {v}:/data {IMG} sleep 100", n, v));
    let phrase = format!("remove {v}: volume is in use - [<id>]");
    c.same_want(
        "volume rm of a volume in use",
        &cl!("volume rm {v}", v),
        E::Has(&[&phrase]),
        1,
        "",
    );
    c.same_want(
        "volume rm of a missing volume",
        &cl!("volume rm px-nosuch"),
        E::Exact,
        1,
        "",
    );
    c.same_want(
        "volume rm -f of a missing volume",
        &cl!("volume rm -f px-nosuch"),
        E::Exact,
        0,
        "px-nosuch\n",
    );
    c.same("rm -f the user", &cl!("rm -f {n}", n), E::Exact);
    c.same_want(
        "volume rm",
        &cl!("volume rm {v} {vl}", v, vl),
        E::Exact,
        0,
        &format!("{v}\n{vl}\n"),
    );
}

pub(crate) fn volume_prune(c: &Ctx) {
    // Docker 20.10 prunes every volume no container uses, named or not;
    // whatever other scenarios left goes first.
    c.each(|s| c.exec(s, &cl!("volume prune -f")));
    let (unused, used) = (c.vol("vp-unused"), c.vol("vp-used"));
    let n = c.name("vp-user");
    c.setup(&cl!(
        "{RUN} -v {unused}:/d {IMG} sh -c 'echo hello > /d/f'",
        unused
    ));
    c.setup(&cl!("{CREATE} --name {n} -v {used}:/d {IMG} true", n, used));
    c.same_want(
        "volume prune -f",
        &cl!("volume prune -f"),
        E::Exact,
        0,
        &format!("Deleted Volumes:\n{unused}\n\nTotal reclaimed space: 6B\n"),
    );
    c.same_want(
        "left",
        &cl!("volume ls -q --filter name=px-vp-"),
        E::Exact,
        0,
        &format!("{used}\n"),
    );
    c.same_want(
        "nothing more to prune",
        &cl!("volume prune -f"),
        E::Exact,
        0,
        "Total reclaimed space: 0B\n",
    );
}

/// The name of the volume on `dest` of container `n` on one side.
pub(crate) fn volume_on(c: &Ctx, s: Side, n: &str, dest: &str) -> String {
    let f = format!(
        "{{{{range .Mounts}}}}{{{{if eq .Destination \"{dest}\"}}}}{{{{.Name}}}}{{{{end}}}}{{{{end}}}}"
    );
    c.inspect(s, n, &f)
}

pub(crate) fn volume_anonymous_rm(c: &Ctx) {
    let named = c.vol("va-named");
    let (n1, n2, n3) = (c.name("va-rmv"), c.name("va-rm"), c.name("va-keep"));
    // the anonymous volume (one name per side) gone, the named one there
    let gone = |step: &str, anon: &[String; 2]| {
        let o = c.same_each(
            step,
            &cl!("volume ls -q --filter name=ANON"),
            |s| {
                let a = &anon[s.idx()];
                cl!("volume ls -q --filter name={a}", a)
            },
            |_| vec![],
            E::Exact,
        );
        c.want(step, &o, 0, "");
        c.same_want(
            step,
            &cl!("volume ls -q --filter name={named}", named),
            E::Exact,
            0,
            &format!("{named}\n"),
        );
    };
    // rm -v
    c.setup(&cl!(
        "run --network none --name {n1} -v /anon -v {named}:/n {IMG} true",
        n1,
        named
    ));
    let anon = c.each(|s| {
        let a = volume_on(c, s, &n1, "/anon");
        c.expect(s, a.len() == 64, || format!("anonymous volume name {a:?}"));
        a
    });
    c.same_want(
        "rm -v",
        &cl!("rm -v {n1}", n1),
        E::Exact,
        0,
        &format!("{n1}\n"),
    );
    gone("after rm -v", &anon);
    // --rm: the same when the container goes
    c.setup(&cl!(
        "run -d --rm --network none --name {n2} -v /anon2 -v {named}:/n {IMG} sleep 100",
        n2,
        named
    ));
    let anon2 = c.each(|s| volume_on(c, s, &n2, "/anon2"));
    c.same("kill", &cl!("kill {n2}", n2), E::Exact);
    c.until_both("the --rm container to go", |s| {
        c.exec(s, &cl!("ps -aq --filter name={n2}", n2))
            .raw_out
            .is_empty()
    });
    gone("after --rm", &anon2);
    // rm without -v keeps it
    c.setup(&cl!(
        "run --network none --name {n3} -v /anon3 {IMG} true",
        n3
    ));
    let anon3 = c.each(|s| {
        let a = volume_on(c, s, &n3, "/anon3");
        c.track_vol(s, &a);
        a
    });
    c.same("rm", &cl!("rm {n3}", n3), E::Exact);
    let o = c.same_each(
        "after rm without -v",
        &cl!("volume ls -q --filter name=ANON"),
        |s| {
            let a = &anon3[s.idx()];
            cl!("volume ls -q --filter name={a}", a)
        },
        |_| vec![],
        E::Exact,
    );
    c.want("after rm without -v", &o, 0, "<id>\n");
}

pub(crate) fn volume_mounts_inspect(c: &Ctx) {
    let host = c.e.file("bind-src");
    let (v, v2) = (c.vol("vm-a"), c.vol("vm-b"));
    let n = c.name("vm");
    c.setup(&cl!(
        "{CREATE} --name {n} -v {v}:/data:ro -v {host}:/h --mount type=volume,source={v2},target=/b \
         --mount type=bind,source={host},target=/h2,readonly --mount type=tmpfs,target=/t {IMG} true",
        n,
        v,
        host,
        v2
    ));
    // Docker lists .Mounts in Go's map order: sorted here.
    let each_sorted = |step: &str, f: &str, want: &str| {
        let a = cl!("inspect -f {f} {n}", f, n);
        let o = c.each(|s| {
            let mut x = c.exec(s, &a);
            for (from, to) in roots(c, s) {
                x.out = x.out.replace(&from, &to);
            }
            x.out = sorted_lines(&x.out);
            x
        });
        c.check(step, &a, &o, E::Exact);
        c.want(step, &o, 0, want);
    };
    each_sorted(
        "Mounts: Type Source Destination RW",
        "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.RW}}{{println}}{{end}}",
        &format!(
            "\nbind {host} /h true\nbind {host} /h2 false\ntmpfs  /t true\n\
             volume <root>/volumes/{v}/_data /data false\nvolume <root>/volumes/{v2}/_data /b true\n"
        ),
    );
    each_sorted(
        "Mounts: Name and Driver of the volumes",
        "{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}} {{.Driver}}{{println}}{{end}}{{end}}",
        &format!("\n{v} local\n{v2} local\n"),
    );
    // A bind's .Name is empty in Docker's typed document.
    each_sorted(
        "Mounts: .Name of every mount",
        "{{range .Mounts}}{{println .Type .Name .Destination}}{{end}}",
        &format!("\nbind  /h\nbind  /h2\ntmpfs  /t\nvolume {v} /data\nvolume {v2} /b\n"),
    );
    each_sorted(
        "Mounts: Mode",
        "{{range .Mounts}}{{.Destination}}={{.Mode}}{{println}}{{end}}",
        "\n/b=z\n/data=ro\n/h2=\n/h=\n/t=\n",
    );
    // (Docker's client lists -v in Go's map order)
    each_sorted(
        "HostConfig.Binds",
        "{{range .HostConfig.Binds}}{{println .}}{{end}}",
        &format!("\n{host}:/h\n{v}:/data:ro\n"),
    );
    c.same_want(
        "HostConfig.Mounts",
        &cl!("inspect -f '{{json .HostConfig.Mounts}}' {n}", n),
        E::Exact,
        0,
        &format!(
            "[{{\"Type\":\"volume\",\"Source\":\"{v2}\",\"Target\":\"/b\"}},\
             {{\"Type\":\"bind\",\"Source\":\"{host}\",\"Target\":\"/h2\",\"ReadOnly\":true}},\
             {{\"Type\":\"tmpfs\",\"Target\":\"/t\"}}]\n"
        ),
    );
    // --tmpfs is in HostConfig.Tmpfs, not in .Mounts
    let n2 = c.name("vm-tmpfs");
    c.setup(&cl!(
        "{CREATE} --name {n2} --tmpfs /t2:size=1m {IMG} true",
        n2
    ));
    c.same_want(
        "--tmpfs: Mounts and HostConfig.Tmpfs",
        &cl!(
            "inspect -f '{{len .Mounts}} {{json .HostConfig.Tmpfs}}' {n2}",
            n2
        ),
        E::Exact,
        0,
        "0 {\"/t2\":\"size=1m\"}\n",
    );
}

pub(crate) fn volume_binds_and_tmpfs_inside(c: &Ctx) {
    let host = c.e.file("bind-src");
    c.same_want(
        "-v HOST, --mount bind readonly, --mount tmpfs, --tmpfs with options",
        &cl!(
            "{RUN} -v {host}:/h --mount type=bind,source={host},target=/h2,readonly \
             --mount type=tmpfs,target=/t,tmpfs-size=2m --tmpfs /t2:size=1m,mode=1770 {IMG} sh -c \
             'cat /h/h.txt /h2/h.txt; touch /h2/x; echo $?; grep \" /t \" /proc/mounts; \
             grep \" /t2 \" /proc/mounts; ls -ld /t2 | cut -c1-10'",
            host
        ),
        E::Exact,
        0,
        "hostfile\nhostfile\n1\ntmpfs /t tmpfs rw,nosuid,nodev,noexec,relatime,size=2048k 0 0\n\
         tmpfs /t2 tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770 0 0\ndrwxrwx--T\n",
    );
    // -v makes a missing host directory (--mount does not: see
    // volume_flag_validation)
    let dirs = c.each(|s| c.e.file(&format!("newbind-{}", s.label())));
    let o = c.same_each(
        "-v to a missing host directory",
        &cl!("{RUN} -v NEWDIR/sub:/h {IMG} sh -c 'echo in > /h/f; ls /h'"),
        |s| {
            let d = &dirs[s.idx()];
            cl!("{RUN} -v {d}/sub:/h {IMG} sh -c 'echo in > /h/f; ls /h'", d)
        },
        |s| vec![(dirs[s.idx()].clone(), "NEWDIR".into())],
        E::Exact,
    );
    c.want("-v to a missing host directory", &o, 0, "f\n");
    for s in SIDES {
        let f = format!("{}/sub/f", dirs[s.idx()]);
        let got = std::fs::read_to_string(&f).unwrap_or_default();
        c.expect(s, got == "in\n", || format!("{f} holds {got:?}"));
    }
}

pub(crate) fn volume_copy_up(c: &Ctx) {
    let v = c.vol("vcopy");
    c.same_want(
        "an empty named volume on /bin",
        &cl!("{RUN} -v {v}:/bin {IMG} /bin/busybox true", v),
        E::Exact,
        0,
        "",
    );
    let o = c.same(
        "holds the image's /bin",
        &cl!(
            "{RUN} -v {v}:/mnt {IMG} sh -c 'ls /mnt | wc -l; readlink /mnt/sh; ls -l /mnt/busybox | cut -c1-10'",
            v
        ),
        E::Exact,
    );
    c.expect(
        Side::Docker,
        o[0].code == Some(0) && o[0].out.ends_with("\nbusybox\n-rwxr-xr-x\n"),
        || format!("shows {:?}", o[0].out),
    );
    c.same_want(
        "a volume with content is not copied into",
        &cl!(
            "{RUN} -v {v}:/etc {IMG} sh -c 'test -e /etc/group; echo $?; test -e /etc/busybox; echo $?'",
            v
        ),
        E::Exact,
        0,
        "1\n0\n",
    );
    // A volume on /etc: the container's hostname, hosts, resolv.conf and
    // mtab are there as ever.
    let ve = c.vol("vcopy-etc");
    c.same_want(
        "a volume on /etc",
        &cl!(
            "{RUN} -h pxhost -v {ve}:/etc {IMG} sh -c 'cat /etc/hostname; ls /etc'",
            ve
        ),
        E::Exact,
        0,
        "pxhost\ngroup\nhostname\nhosts\nmtab\npasswd\nresolv.conf\n",
    );
}

pub(crate) fn inspect_json_indent(c: &Ctx) {
    // Docker's documents are indented by four spaces (json.MarshalIndent);
    // the first lines, each cut after its key.
    let n = c.name("indent");
    let v = c.vol("indent");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    c.setup(&cl!("volume create {v}", v));
    let head = |_: Side, out: &str| -> String {
        out.lines()
            .take(3)
            .map(|l| format!("{}\n", l.split(':').next().unwrap_or("")))
            .collect()
    };
    for (what, a, key) in [
        ("container", cl!("inspect {n}", n), "Id"),
        ("image", cl!("image inspect {IMG}"), "Id"),
        ("volume", cl!("volume inspect {v}", v), "CreatedAt"),
    ] {
        let o = c.same_map(&format!("{what} inspect"), &a, E::Exact, head);
        c.want(
            &format!("{what} inspect"),
            &o,
            0,
            &format!("[\n    {{\n        \"{key}\"\n"),
        );
    }
}

pub(crate) fn etc_mtab_symlink(c: &Ctx) {
    // Docker's init layer: /etc/mtab -> /proc/mounts
    c.same_want(
        "readlink /etc/mtab",
        &cl!("{RUN} {IMG} readlink /etc/mtab"),
        E::Exact,
        0,
        "/proc/mounts\n",
    );
}

pub(crate) fn volume_flag_validation(c: &Ctx) {
    let _vv = c.vol("vv");
    let missing = c.e.file("no-such-dir");
    let bind_missing = format!("bind source path does not exist: {missing}");
    let cases: Vec<(String, Vec<&str>)> =
        vec![
        (
            "-v px-vv:rel".into(),
            vec!["invalid volume specification: 'px-vv:rel'", "mount path must be absolute"],
        ),
        ("-v /tmp:/y:bogus".into(), vec!["invalid mode: bogus"]),
        (
            "--mount type=bogus,target=/x".into(),
            vec!["invalid mount config for type \"bogus\": mount type unknown"],
        ),
        (
            format!("--mount type=bind,source={missing},target=/x"),
            vec![bind_missing.as_str()],
        ),
        ("--mount type=volume,source=px-vv".into(), vec!["target is required"]),
        (
            "--mount type=volume,source=px-vv,target=/x,bogus=1".into(),
            vec!["unexpected key 'bogus' in 'bogus=1'"],
        ),
        (
            "--mount type=tmpfs,source=foo,target=/t".into(),
            vec!["invalid mount config for type \"tmpfs\": field Source must not be specified"],
        ),
        (
            "--tmpfs rel".into(),
            vec!["invalid mount path: 'rel' mount path must be absolute"],
        ),
        (
            "--mount type=volume,source=v,target=/x".into(),
            vec!["volume name is too short, names should be at least two alphanumeric characters"],
        ),
        (
            "-v /tmp:/h -v px-vv:/h".into(),
            vec!["Duplicate mount point: /h"],
        ),
    ];
    for (flags, phrases) in &cases {
        c.same_want(
            flags,
            &cl!(&format!("{{RUN}} {flags} {{IMG}} true")),
            E::Has(phrases),
            125,
            "",
        );
    }
    // None of these leaves a volume behind on skiff. (Docker 20.10 kept
    // px-vv after one of these refused runs in some runs of the whole
    // suite, not in others, nor when the scenario runs alone: Docker's side
    // is not compared here.)
    let ls = cl!("volume ls -q --filter name=px-vv");
    let o = c.exec(Side::Skiff, &ls);
    c.expect(Side::Skiff, o.code == Some(0) && o.out.is_empty(), || {
        format!("a refused run left a volume: {:?}", o.raw_out)
    });
}
