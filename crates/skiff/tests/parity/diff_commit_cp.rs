//! Parity scenarios: diff, commit, cp, prune, system df

use std::path::Path;

use crate::*;

pub(crate) fn diff_changes(c: &Ctx) {
    let (n, cr) = (c.name("diff"), c.name("diff-new"));
    c.setup(&cl!(
        "run --network none --name {n} {IMG} sh -c \
         'echo new > /tmp/new; mkdir -p /root/d/e; echo x >> /etc/passwd; rm /etc/group /bin/vi'",
        n
    ));
    // Docker's order is the upper directory's readdir order: sorted here.
    let o = c.same_map("diff", &cl!("diff {n}", n), E::Exact, |_, out| {
        sorted_lines(out)
    });
    c.want(
        "diff",
        &o,
        0,
        "A /root/d\nA /root/d/e\nA /tmp/new\nC /bin\nC /etc\nC /etc/passwd\nC /root\nC /tmp\n\
         D /bin/vi\nD /etc/group\n",
    );
    c.setup(&cl!("{CREATE} --name {cr} {IMG} true", cr));
    c.same_want(
        "diff of a new container",
        &cl!("diff {cr}", cr),
        E::Exact,
        0,
        "",
    );
    c.same_want(
        "diff of a missing container",
        &cl!("diff px-nosuch"),
        E::Has(&["No such container: px-nosuch"]),
        1,
        "",
    );
}

pub(crate) fn commit_changes(c: &Ctx) {
    let n = c.name("commitc");
    let img = "px/committed:changes";
    for s in SIDES {
        c.track_image(s, img);
    }
    c.setup(&cl!(
        "run --network none --name {n} -e CE=1 -l old=1 {IMG} true",
        n
    ));
    c.same_want(
        "commit -c",
        &cl!(
            "commit -c 'EXPOSE 8080 53/udp' -c 'LABEL a=b \"c d\"=\"e f\"' -c 'CMD [\"echo\", \"hi\"]' \
             -c 'ENV CE=2 CF=3' -c 'VOLUME /data' -c 'USER nobody' -c 'WORKDIR /srv' {n} {img}",
            n,
            img
        ),
        E::Exact,
        0,
        "sha256:<id>\n",
    );
    c.same_want(
        "the changes in the image's config",
        &cl!(
            "image inspect -f '{{json .Config.ExposedPorts}}|{{json .Config.Labels}}|{{json .Config.Cmd}}|{{json .Config.Env}}|{{json .Config.Volumes}}|{{.Config.User}}|{{.Config.WorkingDir}}' {img}",
            img
        ),
        E::Exact,
        0,
        "{\"53/udp\":{},\"8080/tcp\":{}}|{\"a\":\"b\",\"c d\":\"e f\",\"old\":\"1\"}|[\"echo\",\"hi\"]|\
         [\"CE=2\",\"CF=3\"]|{\"/data\":{}}|nobody|/srv\n",
    );
    c.same_want(
        "a change Docker does not take",
        &cl!("commit -c 'RUN true' {n} px/committed:bad", n),
        E::Has(&["RUN is not a valid change command"]),
        1,
        "",
    );
}

pub(crate) fn commit_image(c: &Ctx) {
    let n = c.name("commit");
    let img = "px/committed:1";
    for s in SIDES {
        c.track_image(s, img);
    }
    c.setup(&cl!(
        "run --network none --name {n} -e CE=1 -w /tmp {IMG} sh -c 'echo committed > /tmp/file'",
        n
    ));
    c.same_want(
        "commit -m -a",
        &cl!("commit -m 'my msg' -a 'Me <me@x>' {n} {img}", n, img),
        E::Exact,
        0,
        "sha256:<id>\n",
    );
    c.same_want(
        "the image's Author, Comment, Cmd, Env, WorkingDir",
        &cl!(
            "image inspect -f '{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}|{{json .Config.Env}}|{{.Config.WorkingDir}}' {img}",
            img
        ),
        E::Exact,
        0,
        "Me <me@x>|my msg|[\"sh\",\"-c\",\"echo committed > /tmp/file\"]|[\"CE=1\"]|/tmp\n",
    );
    c.same_want(
        "image inspect -f {{.Author}}",
        &cl!("image inspect -f '{{.Author}}' {img}", img),
        E::Exact,
        0,
        "Me <me@x>\n",
    );
    c.same_want(
        "its files, Env and WorkingDir in a new container",
        &cl!("{RUN} {img} sh -c 'cat file; echo $CE; pwd'", img),
        E::Exact,
        0,
        "committed\n1\n/tmp\n",
    );
    let o = c.same_want(
        "its .Container: the committed container's ID",
        &cl!("image inspect -f '{{.Container}}' {img}", img),
        E::Exact,
        0,
        "<id>\n",
    );
    for s in SIDES {
        let id = c.inspect(s, &n, "{{.Id}}");
        c.expect(s, o[s.idx()].raw_out.trim() == id, || {
            format!(
                ".Container {:?}, the container's ID {id}",
                o[s.idx()].raw_out
            )
        });
    }
    // the first row: the commit's layer (10 bytes), its message
    let first_rows = |_: Side, out: &str| -> String {
        cols(
            &out.lines()
                .take(2)
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
        )
    };
    for cmd in ["image history", "history"] {
        let o = c.same_map(
            &format!("{cmd}: the commit's row"),
            &cl!(&format!("{cmd} {{img}}"), img),
            E::Exact,
            first_rows,
        );
        c.want(
            &format!("{cmd}: the commit's row"),
            &o,
            0,
            "IMAGE | CREATED | CREATED BY | SIZE | COMMENT\n\
             <id12> | <dur> ago | sh -c echo committed > /tmp/file | 10B | my msg\n",
        );
    }
    // a running container: paused while committed, running after
    let r = c.name("commit-running");
    c.setup(&cl!(
        "{DRUN} --name {r} {IMG} sh -c 'echo live > /live; sleep 100'",
        r
    ));
    c.until_both("/live", |s| {
        c.exec(s, &cl!("exec {r} cat /live", r)).raw_out == "live\n"
    });
    let ids = c.each(|s| {
        let o = c.ok(s, &cl!("commit {r}", r));
        let id = o.raw_out.trim().to_string();
        c.track_image(s, &id);
        id
    });
    c.same_want(
        "still running",
        &cl!("inspect -f '{{.State.Status}} {{.State.Paused}}' {r}", r),
        E::Exact,
        0,
        "running false\n",
    );
    let o = c.same_each(
        "an image without a name from a running container",
        &cl!("run --rm --network none ID cat /live"),
        |s| {
            let id = &ids[s.idx()];
            cl!("{RUN} {id} cat /live", id)
        },
        |_| vec![],
        E::Exact,
    );
    c.want(
        "an image without a name from a running container",
        &o,
        0,
        "live\n",
    );
    c.same("kill", &cl!("kill {r}", r), E::Exact);
    c.same_want(
        "commit of a missing container",
        &cl!("commit px-nosuch px/nosuch:1"),
        E::Has(&["No such container: px-nosuch"]),
        1,
        "",
    );
}

/// Files below `dir`, relative, sorted, with what each file holds.
pub(crate) fn tree(dir: &str) -> String {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if p.is_dir() {
                out.push(format!("{rel}/"));
                walk(base, &p, out);
            } else {
                let data = std::fs::read_to_string(&p).unwrap_or_default();
                out.push(format!("{rel} {:?}", data.lines().next().unwrap_or("")));
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new(dir), Path::new(dir), &mut out);
    out.sort();
    out.iter().map(|l| format!("{l}\n")).collect()
}

pub(crate) fn cp_both_ways(c: &Ctx) {
    let n = c.name("cp");
    let (file, src) = (c.e.file("cp/file.txt"), c.e.file("cp/src"));
    // where each side copies out to
    let outs = c.each(|s| {
        let d = c.e.file(&format!("cp-out-{}", s.label()));
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let sub = |s: Side| vec![(outs[s.idx()].clone(), "OUT".to_string())];
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    c.same_want(
        "a file into a directory",
        &cl!("cp {file} {n}:/tmp", file, n),
        E::Exact,
        0,
        "",
    );
    c.same_want(
        "a directory to a new name",
        &cl!("cp {src} {n}:/tmp/newdir", src, n),
        E::Exact,
        0,
        "",
    );
    c.same_want(
        "a directory into one that exists",
        &cl!("cp {src} {n}:/tmp/newdir", src, n),
        E::Exact,
        0,
        "",
    );
    c.same_want(
        "what the container holds",
        &cl!("exec {n} sh -c 'find /tmp | sort; cat /tmp/file.txt /tmp/newdir/sub/b.txt'", n),
        E::Exact,
        0,
        "/tmp\n/tmp/file.txt\n/tmp/newdir\n/tmp/newdir/a.txt\n/tmp/newdir/src\n/tmp/newdir/src/a.txt\n\
         /tmp/newdir/src/sub\n/tmp/newdir/src/sub/b.txt\n/tmp/newdir/sub\n/tmp/newdir/sub/b.txt\nf\nb\n",
    );
    c.same_each(
        "a file out into a directory (running)",
        &cl!("cp {n}:/etc/passwd OUT/", n),
        |s| {
            let o = format!("{}/", outs[s.idx()]);
            cl!("cp {n}:/etc/passwd {o}", n, o)
        },
        sub,
        E::Exact,
    );
    c.same_each(
        "a directory out to a new name (running)",
        &cl!("cp {n}:/tmp/newdir OUT/got", n),
        |s| {
            let o = format!("{}/got", outs[s.idx()]);
            cl!("cp {n}:/tmp/newdir {o}", n, o)
        },
        sub,
        E::Exact,
    );
    c.same_each(
        "a missing path out",
        &cl!("cp {n}:/nonexist OUT/", n),
        |s| {
            let o = format!("{}/", outs[s.idx()]);
            cl!("cp {n}:/nonexist {o}", n, o)
        },
        sub,
        E::Has(&["No such container:path: px-cp:/nonexist"]),
    );
    c.same_each(
        "out of a missing container",
        &cl!("cp px-nosuch:/x OUT/"),
        |s| {
            let o = format!("{}/", outs[s.idx()]);
            cl!("cp px-nosuch:/x {o}", o)
        },
        sub,
        E::Has(&["No such container:path: px-nosuch:/x"]),
    );
    c.same_want(
        "into a missing container",
        &cl!("cp {file} px-nosuch:/x", file),
        E::Has(&["No such container:path: px-nosuch:/"]),
        1,
        "",
    );
    let missing = c.e.file("no-such-file");
    c.same_want(
        "a missing host file",
        &cl!("cp {missing} {n}:/tmp", missing, n),
        E::Has(&[&missing, "no such file or directory"]),
        1,
        "",
    );
    c.same_want(
        "into a missing directory",
        &cl!("cp {file} {n}:/nonexist/dir/", file, n),
        E::Has(&["no such directory"]),
        1,
        "",
    );
    // stopped
    c.same("kill", &cl!("kill {n}", n), E::Exact);
    c.until_exited(&n);
    c.same_each(
        "a file out of a stopped container",
        &cl!("cp {n}:/tmp/file.txt OUT/stopped.txt", n),
        |s| {
            let o = format!("{}/stopped.txt", outs[s.idx()]);
            cl!("cp {n}:/tmp/file.txt {o}", n, o)
        },
        sub,
        E::Exact,
    );
    c.same_want(
        "a file into a stopped container",
        &cl!("cp {file} {n}:/tmp/instopped", file, n),
        E::Exact,
        0,
        "",
    );
    c.same("start", &cl!("start {n}", n), E::Exact);
    c.same_want(
        "there once started",
        &cl!("exec {n} cat /tmp/instopped", n),
        E::Exact,
        0,
        "f\n",
    );
    // what each side copied out
    let trees = c.each(|s| tree(&outs[s.idx()]));
    let want = "got/\ngot/a.txt \"a\"\ngot/src/\ngot/src/a.txt \"a\"\ngot/src/sub/\n\
                got/src/sub/b.txt \"b\"\ngot/sub/\ngot/sub/b.txt \"b\"\n\
                passwd \"root:x:0:0:root:/root:/bin/sh\"\nstopped.txt \"f\"\n";
    for s in SIDES {
        c.expect(s, trees[s.idx()] == want, || {
            format!(
                "copied out {:?}, Docker's would be {want:?}",
                trees[s.idx()]
            )
        });
    }
    c.same("kill", &cl!("kill {n}", n), E::Exact);
}

pub(crate) fn container_prune(c: &Ctx) {
    // whatever other scenarios left goes first
    c.each(|s| c.exec(s, &cl!("container prune -f")));
    let (ex, cr, run) = (
        c.name("prune-exited"),
        c.name("prune-new"),
        c.name("prune-run"),
    );
    c.setup(&cl!(
        "run --network none --name {ex} {IMG} sh -c 'echo hello > /tmp/x'",
        ex
    ));
    c.setup(&cl!("{CREATE} --name {cr} {IMG} true", cr));
    c.setup(&cl!("{DRUN} --name {run} {IMG} sleep 100", run));
    c.same_want(
        "container prune -f",
        &cl!("container prune -f"),
        E::Exact,
        0,
        "Deleted Containers:\n<id>\n<id>\n\nTotal reclaimed space: 6B\n",
    );
    c.same_want(
        "left",
        &cl!("ps -a --filter name=px-prune- --format '{{.Names}}'"),
        E::Exact,
        0,
        &format!("{run}\n"),
    );
    c.same_want(
        "nothing more",
        &cl!("container prune -f"),
        E::Exact,
        0,
        "Total reclaimed space: 0B\n",
    );
    c.same("kill", &cl!("kill {run}", run), E::Exact);
}

pub(crate) fn system_df(c: &Ctx) {
    let n = c.name("df");
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    let a = cl!("system df");
    // the rows and the number of columns in each
    let o = c.same_map("rows and columns", &a, E::Exact, |_, out| {
        out.lines()
            .map(|l| {
                let cells: Vec<&str> = l.split("  ").filter(|p| !p.trim().is_empty()).collect();
                format!(
                    "{} ({} columns)\n",
                    cells.first().unwrap_or(&"").trim(),
                    cells.len()
                )
            })
            .collect()
    });
    c.want(
        "rows and columns",
        &o,
        0,
        "TYPE (5 columns)\nImages (5 columns)\nContainers (5 columns)\nLocal Volumes (5 columns)\n\
         Build Cache (5 columns)\n",
    );
    let o = c.same_map("the header", &a, E::Exact, |_, out| {
        format!("{}\n", out.lines().next().unwrap_or(""))
    });
    c.want(
        "the header",
        &o,
        0,
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n",
    );
    // TOTAL and ACTIVE: the two images, the one running container
    let o = c.same_map("TOTAL and ACTIVE", &a, E::Exact, |_, out| {
        cols(out)
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(" | ").collect();
                format!(
                    "{} {} {}\n",
                    f[0],
                    f.get(1).unwrap_or(&""),
                    f.get(2).unwrap_or(&"")
                )
            })
            .collect()
    });
    c.want(
        "TOTAL and ACTIVE",
        &o,
        0,
        "Images 2 1\nContainers 1 1\nLocal Volumes 0 0\nBuild Cache 0 0\n",
    );
    // all of it
    let o = collapsed(c.both(&a));
    c.check("system df, sizes too", &a, &o, E::Exact);
    c.same("kill", &cl!("kill {n}", n), E::Exact);
}
