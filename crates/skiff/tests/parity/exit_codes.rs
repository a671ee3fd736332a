//! Scenarios: exit codes and output

use crate::*;

pub(crate) fn exit_codes_and_streams(c: &Ctx) {
    let o = c.same_want(
        "exit 3",
        &cl!("{RUN} {IMG} sh -c 'echo out; echo err >&2; exit 3'"),
        E::Exact,
        3,
        "out\n",
    );
    c.expect(Side::Docker, o[0].err == "err\n", || {
        format!("stderr {:?}", o[0].err)
    });
    c.same_want("true", &cl!("{RUN} {IMG} true"), E::Exact, 0, "");
    c.same_want("false", &cl!("{RUN} {IMG} false"), E::Exact, 1, "");
}

pub(crate) fn exit_127_command_not_found(c: &Ctx) {
    c.same_want(
        "unknown command",
        &cl!("{RUN} {IMG} nosuchcmd"),
        E::Has(&[r#"exec: "nosuchcmd": executable file not found in $PATH"#]),
        127,
        "",
    );
}

pub(crate) fn exit_126_not_executable(c: &Ctx) {
    c.same_want(
        "a file without x bits",
        &cl!("{RUN} {IMG} /etc/passwd"),
        E::Has(&[r#"exec: "/etc/passwd": permission denied"#]),
        126,
        "",
    );
}

pub(crate) fn exit_126_directory(c: &Ctx) {
    // runc reports exec of a directory as EACCES: 126, "permission denied".
    c.same_want(
        "a directory as the command",
        &cl!("{RUN} {IMG} /etc"),
        E::Has(&[r#"exec: "/etc": permission denied"#]),
        126,
        "",
    );
}

pub(crate) fn failed_start_leaves_created_container(c: &Ctx) {
    let n = c.name("failstart");
    c.same_want(
        "run without --rm of an unknown command",
        &cl!("run --network none --name {n} {IMG} nosuchcmd", n),
        E::Has(&["executable file not found"]),
        127,
        "",
    );
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}' {n}",
            n
        ),
        E::Exact,
        0,
        "created 127 false\n",
    );
    c.same_want(
        "ps",
        &cl!(
            "ps -a --filter name={n} --format '{{.Names}} {{.Status}}'",
            n
        ),
        E::Exact,
        0,
        &format!("{n} Created\n"),
    );
}

pub(crate) fn exit_125_unknown_image(c: &Ctx) {
    // A registry on 127.0.0.1:9 (nothing listens there): a pull attempt
    // stays on this host.
    let img = "127.0.0.1:9/parity/nosuch:1";
    let n = c.name("noimage");
    c.same_want(
        "unknown image",
        &cl!("run --network none --name {n} {img} true", n, img),
        E::Has(&[img]),
        125,
        "",
    );
    c.same_want(
        "nothing created",
        &cl!("ps -aq --filter name={n}", n),
        E::Exact,
        0,
        "",
    );
}

pub(crate) fn exit_125_unknown_flag(c: &Ctx) {
    for cmd in ["run", "create"] {
        c.same_want(
            cmd,
            &cl!("{cmd} --bogus-flag {IMG} true", cmd),
            E::Has(&["--bogus-flag"]),
            125,
            "",
        );
    }
}

pub(crate) fn exit_125_name_in_use(c: &Ctx) {
    let n = c.name("dup");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    let phrase =
        format!(r#"Conflict. The container name "/{n}" is already in use by container "<id>""#);
    c.same_want(
        "run with a name in use",
        &cl!("{RUN} --name {n} {IMG} true", n),
        E::Has(&[&phrase]),
        125,
        "",
    );
    c.same(
        "create with a name in use",
        &cl!("{CREATE} --name {n} {IMG} true", n),
        E::Exact,
    );
    c.same_want(
        "the other container untouched",
        &cl!(
            "ps -a --filter name={n} --format '{{.Names}} {{.Status}}'",
            n
        ),
        E::Exact,
        0,
        &format!("{n} Created\n"),
    );
}

pub(crate) fn daemon_errors_read_as_dockers(c: &Ctx) {
    // The whole message after normalizing, for errors the daemon reports
    // at run: Docker's wording, one final period.
    let n = c.name("dup2");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    for (step, a) in [
        ("name in use", cl!("{RUN} --name {n} {IMG} true", n)),
        ("unknown user", cl!("{RUN} -u nosuchuser {IMG} true")),
        (
            "unknown group",
            cl!("{RUN} -u nobody:nosuchgroup {IMG} true"),
        ),
        ("invalid name", cl!("{RUN} --name bad/name {IMG} true")),
    ] {
        c.same(step, &a, E::Exact);
    }
}

pub(crate) fn run_stdin(c: &Ctx) {
    let o = c.same_in(
        "run -i",
        &cl!("{RUN} -i {IMG} sh -c 'cat; echo done'"),
        "line1\nline2\n",
        E::Exact,
    );
    c.want("run -i", &o, 0, "line1\nline2\ndone\n");
    let o = c.same_in(
        "run without -i",
        &cl!("{RUN} {IMG} sh -c 'cat; echo done'"),
        "line1\n",
        E::Exact,
    );
    c.want("run without -i", &o, 0, "done\n");
}

pub(crate) fn run_detached_prints_id(c: &Ctx) {
    let n = c.name("detached");
    let o = c.same_want(
        "run -d",
        &cl!("{DRUN} --name {n} {IMG} sleep 60", n),
        E::Exact,
        0,
        "<id>\n",
    );
    for s in SIDES {
        let id = c.inspect(s, &n, "{{.Id}}");
        c.expect(s, o[s.idx()].raw_out.trim() == id, || {
            format!(
                "run -d printed {:?}, inspect .Id {id:?}",
                o[s.idx()].raw_out
            )
        });
    }
    let n2 = c.name("created-id");
    c.same_want(
        "create",
        &cl!("{CREATE} --name {n2} {IMG} true", n2),
        E::Exact,
        0,
        "<id>\n",
    );
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
}

pub(crate) fn random_names(c: &Ctx) {
    let ids = c.each(|s| {
        let o = c.ok(s, &cl!("{DRUN} {IMG} true"));
        c.track(s, &o.raw_out);
        o.raw_out.trim().to_string()
    });
    for s in SIDES {
        let id = &ids[s.idx()];
        let name = c.inspect(s, id, "{{.Name}}");
        let ok = name
            .strip_prefix('/')
            .and_then(|n| n.split_once('_'))
            .is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_lowercase())
                    && b.bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        c.expect(s, ok, || {
            format!("random name {name:?} is not /adjective_surname")
        });
        c.expect(
            s,
            id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            || format!("ID {id:?}"),
        );
    }
}
