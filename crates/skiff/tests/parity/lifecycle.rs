//! Parity scenarios: wait, create/start, rm, rename

use crate::*;

pub(crate) fn wait_codes(c: &Ctx) {
    let (a, b) = (c.name("wait3"), c.name("wait0"));
    c.setup(&cl!("{DRUN} --name {a} {IMG} sh -c 'sleep 0.5; exit 3'", a));
    c.setup(&cl!("{DRUN} --name {b} {IMG} true", b));
    c.same_want(
        "wait a b",
        &cl!("wait {a} {b}", a, b),
        E::Exact,
        0,
        "3\n0\n",
    );
    c.same_want(
        "wait with a missing one",
        &cl!("wait {a} px-nosuch", a),
        E::Has(&["No such container: px-nosuch"]),
        1,
        "3\n",
    );
}

pub(crate) fn create_then_start_attach(c: &Ctx) {
    let n = c.name("attach");
    c.setup(&cl!(
        "{CREATE} --name {n} {IMG} sh -c 'echo created-out; echo created-err >&2; exit 4'",
        n
    ));
    c.same_want(
        "inspect created",
        &cl!(
            "inspect -f '{{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.State.ExitCode}} \
             {{.State.StartedAt}} {{.State.FinishedAt}}' {n}",
            n
        ),
        E::Exact,
        0,
        "created false 0 0 0001-01-01T00:00:00Z 0001-01-01T00:00:00Z\n",
    );
    c.same_want(
        "start -a",
        &cl!("start -a {n}", n),
        E::Exact,
        4,
        "created-out\n",
    );
    c.same_want(
        "start -a again",
        &cl!("start -a {n}", n),
        E::Exact,
        4,
        "created-out\n",
    );
    c.same_want(
        "inspect exited",
        &cl!("inspect -f '{{.State.Status}} {{.State.ExitCode}}' {n}", n),
        E::Exact,
        0,
        "exited 4\n",
    );
    c.same_want(
        "logs",
        &cl!("logs {n}", n),
        E::Any,
        0,
        "created-out\ncreated-out\n",
    );
    // start without -a prints the name
    c.same_want(
        "start",
        &cl!("start {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
}

pub(crate) fn start_attach_stdin(c: &Ctx) {
    let n = c.name("stdin");
    c.setup(&cl!("{CREATE} -i --name {n} {IMG} cat", n));
    let o = c.same_in(
        "start -a -i",
        &cl!("start -a -i {n}", n),
        "hello\n",
        E::Exact,
    );
    c.want("start -a -i", &o, 0, "hello\n");
    c.same_want(
        "OpenStdin",
        &cl!("inspect -f '{{.Config.OpenStdin}}' {n}", n),
        E::Exact,
        0,
        "true\n",
    );
}

pub(crate) fn start_running(c: &Ctx) {
    let n = c.name("startrunning");
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    c.same_want(
        "start of a running container",
        &cl!("start {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
}

pub(crate) fn rm_running(c: &Ctx) {
    let n = c.name("rmrunning");
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    c.same_want(
        "rm without -f",
        &cl!("rm {n}", n),
        E::Has(&["You cannot remove a running container <id>. Stop the container before attempting removal or force remove"]),
        1,
        "",
    );
    c.same_want(
        "rm -f",
        &cl!("rm -f {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    c.same_want("gone", &cl!("ps -aq --filter name={n}", n), E::Exact, 0, "");
    c.same_want(
        "rm of a missing container",
        &cl!("rm px-nosuch"),
        E::Has(&["No such container: px-nosuch"]),
        1,
        "",
    );
}

pub(crate) fn rm_force_missing(c: &Ctx) {
    // Docker's rm -f of a container that is not there: a message, exit 0.
    c.same_want(
        "rm -f of a missing container",
        &cl!("rm -f px-nosuch"),
        E::Has(&["No such container: px-nosuch"]),
        0,
        "",
    );
}

pub(crate) fn run_rm(c: &Ctx) {
    let n = c.name("autoremove");
    c.setup(&cl!("run -d --rm --network none --name {n} {IMG} true", n));
    c.until_both("the --rm container to go", |s| {
        c.exec(s, &cl!("ps -aq --filter name={n}", n))
            .raw_out
            .is_empty()
    });
    let n2 = c.name("autoremove-inspect");
    c.setup(&cl!("{CREATE} --rm --name {n2} {IMG} true", n2));
    c.same_want(
        "AutoRemove",
        &cl!("inspect -f '{{.HostConfig.AutoRemove}}' {n2}", n2),
        E::Exact,
        0,
        "true\n",
    );
}

pub(crate) fn rename(c: &Ctx) {
    let (old, new, other) = (c.name("ren-old"), c.name("ren-new"), c.name("ren-other"));
    c.setup(&cl!("{CREATE} --name {old} {IMG} true", old));
    c.setup(&cl!("{CREATE} --name {other} {IMG} true", other));
    c.same_want(
        "rename",
        &cl!("rename {old} {new}", old, new),
        E::Exact,
        0,
        "",
    );
    c.same_want(
        "ps",
        &cl!("ps -a --filter name=px-ren- --format '{{.Names}}'"),
        E::Exact,
        0,
        &format!("{other}\n{new}\n"),
    );
    c.same_want(
        "inspect",
        &cl!("inspect -f '{{.Name}}' {new}", new),
        E::Exact,
        0,
        &format!("/{new}\n"),
    );
    c.same_want(
        "rename of a missing container",
        &cl!("rename px-nosuch px-x"),
        E::Has(&["No such container: px-nosuch"]),
        1,
        "",
    );
    let phrase = format!("The container name \"/{other}\" is already in use");
    c.same_want(
        "rename to a name in use",
        &cl!("rename {new} {other}", new, other),
        E::Has(&[&phrase]),
        1,
        "",
    );
}

pub(crate) fn rename_to_own_name(c: &Ctx) {
    let n = c.name("ren-same");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    c.same_want(
        "rename to its own name",
        &cl!("rename {n} {n}", n),
        E::Has(&["Renaming a container with the same name as its current name"]),
        1,
        "",
    );
}
