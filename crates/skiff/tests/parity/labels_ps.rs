//! Parity scenarios: Labels and ps

use crate::*;

pub(crate) fn labels(c: &Ctx) {
    let (a, b, n3) = (c.name("lab1"), c.name("lab2"), c.name("lab3"));
    c.setup(&cl!(
        "{CREATE} --name {a} -l app=web -l tier=front -l empty= {IMG} true",
        a
    ));
    c.setup(&cl!("{CREATE} --name {b} --label app=db {IMG} true", b));
    c.setup(&cl!("{CREATE} --name {n3} {IMG} true", n3));
    c.same_want(
        "Config.Labels",
        &cl!("inspect -f '{{json .Config.Labels}}' {a}", a),
        E::Exact,
        0,
        "{\"app\":\"web\",\"empty\":\"\",\"tier\":\"front\"}\n",
    );
    c.same_want(
        "index",
        &cl!("inspect -f '{{index .Config.Labels \"tier\"}}' {a}", a),
        E::Exact,
        0,
        "front\n",
    );
    for (filters, want) in [
        ("--filter label=app", format!("{b}\n{a}\n")),
        ("--filter label=app=web", format!("{a}\n")),
        ("--filter label=app --filter label=tier", format!("{a}\n")),
    ] {
        c.same_want(
            filters,
            &cl!(&format!("ps -a {filters} --format '{{{{.Names}}}}'")),
            E::Exact,
            0,
            &want,
        );
    }
}

pub(crate) fn ps_filter_without_all(c: &Ctx) {
    // Without -a, Docker lists running containers only, whatever the
    // filters; a status filter is the exception.
    let (run, ex, cr) = (c.name("fa-run"), c.name("fa-exit"), c.name("fa-new"));
    c.setup(&cl!("{DRUN} --name {run} -l fa=1 {IMG} sleep 60", run));
    c.setup(&cl!(
        "run --network none --name {ex} -l fa=1 {IMG} true",
        ex
    ));
    c.setup(&cl!("{CREATE} --name {cr} -l fa=1 {IMG} true", cr));
    for (filter, want) in [
        ("name=px-fa-", format!("{run}\n")),
        ("label=fa", format!("{run}\n")),
        ("exited=0", String::new()),
        ("status=exited", format!("{ex}\n")),
        ("status=created", format!("{cr}\n")),
    ] {
        c.same_want(
            &format!("ps --filter {filter}"),
            &cl!("ps --filter {filter} --format '{{.Names}}'", filter),
            E::Exact,
            0,
            &want,
        );
    }
    c.same("stop", &cl!("stop -t 1 {run}", run), E::Exact);
}

/// Four containers `px-P-ok` (exit 0), `-bad` (exit 1), `-run` (running),
/// `-new` (created), made in that order.
pub(crate) fn make_ps_set(c: &Ctx, p: &str) -> [String; 4] {
    let [ok, bad, run, new] = ["ok", "bad", "run", "new"].map(|k| c.name(&format!("{p}-{k}")));
    c.setup(&cl!("run --network none --name {ok} {IMG} true", ok));
    c.same(
        "exit 1",
        &cl!("run --network none --name {bad} {IMG} false", bad),
        E::Exact,
    );
    c.setup(&cl!("{DRUN} --name {run} {IMG} sleep 60", run));
    c.setup(&cl!("{CREATE} --name {new} {IMG} echo hi", new));
    [ok, bad, run, new]
}

/// Each side's stdout through `f`.
pub(crate) fn map_out(o: [Out; 2], f: impl Fn(Side, &str) -> String) -> [Out; 2] {
    let [mut d, mut s] = o;
    d.out = f(Side::Docker, &d.out);
    s.out = f(Side::Skiff, &s.out);
    [d, s]
}

/// Lines sorted (for what Docker prints in Go's map order or readdir order).
pub(crate) fn sorted_lines(s: &str) -> String {
    let mut l: Vec<&str> = s.lines().collect();
    l.sort();
    l.iter().map(|l| format!("{l}\n")).collect()
}

/// Table padding collapsed (column widths follow the durations shown).
pub(crate) fn collapsed(o: [Out; 2]) -> [Out; 2] {
    o.map(|mut x| {
        x.out = cols(&x.out);
        x
    })
}

pub(crate) fn ps_columns(c: &Ctx) {
    let [ok, bad, run, new] = make_ps_set(c, "ps");
    c.same_want(
        "ps --format",
        &cl!(
            "ps -a --filter name=px-ps- --format \
             '{{.Names}}|{{.Status}}|{{.State}}|{{.Command}}|{{.Image}}|{{.Ports}}|{{.RunningFor}}|{{.Networks}}'"
        ),
        E::Exact,
        0,
        &format!(
            "{new}|Created|created|\"echo hi\"|{IMG}||<dur> ago|none\n\
             {run}|Up <dur>|running|\"sleep 60\"|{IMG}||<dur> ago|none\n\
             {bad}|Exited (1) <dur> ago|exited|\"false\"|{IMG}||<dur> ago|none\n\
             {ok}|Exited (0) <dur> ago|exited|\"true\"|{IMG}||<dur> ago|none\n"
        ),
    );
    // The default table, its padding collapsed.
    let a = cl!("ps -a --filter name=px-ps-");
    let o = collapsed(c.both(&a));
    c.check("ps -a table", &a, &o, E::Exact);
    c.want(
        "ps -a table",
        &o,
        0,
        &format!(
            "CONTAINER ID | IMAGE | COMMAND | CREATED | STATUS | PORTS | NAMES\n\
             <id12> | {IMG} | \"echo hi\" | <dur> ago | Created | {new}\n\
             <id12> | {IMG} | \"sleep 60\" | <dur> ago | Up <dur> | {run}\n\
             <id12> | {IMG} | \"false\" | <dur> ago | Exited (1) <dur> ago | {bad}\n\
             <id12> | {IMG} | \"true\" | <dur> ago | Exited (0) <dur> ago | {ok}\n"
        ),
    );
    let a = cl!("ps");
    let o = collapsed(c.both(&a));
    c.check("ps table (running only)", &a, &o, E::Exact);
    c.want(
        "ps",
        &o,
        0,
        &format!(
            "CONTAINER ID | IMAGE | COMMAND | CREATED | STATUS | PORTS | NAMES\n\
             <id12> | {IMG} | \"sleep 60\" | <dur> ago | Up <dur> | {run}\n"
        ),
    );
    c.same("stop", &cl!("stop -t 1 {run}", run), E::Exact);
}

pub(crate) fn ps_table_widths(c: &Ctx) {
    // Docker's tables: columns at least 10 wide (tabwriter minwidth), then
    // 3 spaces of padding.
    c.same_want(
        "header only",
        &cl!("ps -a --filter name=px-nomatch"),
        E::Exact,
        0,
        "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n",
    );
    let n = c.name("tw");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    c.same_want(
        "table format",
        &cl!(
            "ps -a --filter name={n} --format 'table {{.Names}}\t{{.State}}\t{{.Image}}'",
            n
        ),
        E::Exact,
        0,
        &format!("NAMES     STATE     IMAGE\n{n}     created   {IMG}\n"),
    );
}

pub(crate) fn ps_command_quoting(c: &Ctx) {
    // Docker's COMMAND quotes arguments holding spaces.
    let n = c.name("quote");
    c.setup(&cl!("{CREATE} --name {n} {IMG} sh -c 'exit 3'", n));
    for extra in ["", " --no-trunc"] {
        c.same_want(
            &format!("COMMAND{extra}"),
            &cl!(
                &format!("ps -a --filter name={{n}} --format '{{{{.Command}}}}'{extra}"),
                n
            ),
            E::Exact,
            0,
            "\"sh -c 'exit 3'\"\n",
        );
    }
}

pub(crate) fn ps_quiet_latest_last(c: &Ctx) {
    let (a, b) = (c.name("q1"), c.name("q2"));
    c.setup(&cl!("{CREATE} --name {a} {IMG} true", a));
    c.setup(&cl!("{CREATE} --name {b} {IMG} true", b));
    c.same_want(
        "ps -a -q",
        &cl!("ps -a -q --filter name=px-q"),
        E::Exact,
        0,
        "<id12>\n<id12>\n",
    );
    let o = c.same_want(
        "ps -a -q --no-trunc",
        &cl!("ps -a -q --no-trunc --filter name=px-q"),
        E::Exact,
        0,
        "<id>\n<id>\n",
    );
    for s in SIDES {
        let ids = format!(
            "{}\n{}\n",
            c.inspect(s, &b, "{{.Id}}"),
            c.inspect(s, &a, "{{.Id}}")
        );
        c.expect(s, o[s.idx()].raw_out == ids, || {
            format!(
                "ps -q --no-trunc {:?}, IDs newest first {ids:?}",
                o[s.idx()].raw_out
            )
        });
    }
    c.same_want(
        "ps -l",
        &cl!("ps -l --format '{{.Names}}'"),
        E::Exact,
        0,
        &format!("{b}\n"),
    );
    c.same_want(
        "ps -n 2",
        &cl!("ps -n 2 --format '{{.Names}}'"),
        E::Exact,
        0,
        &format!("{b}\n{a}\n"),
    );
    c.same_want("ps -l -q", &cl!("ps -l -q"), E::Exact, 0, "<id12>\n");
}

pub(crate) fn ps_filters(c: &Ctx) {
    let [ok, bad, run, new] = make_ps_set(c, "f");
    for (filters, want) in [
        ("name=px-f- status=exited", format!("{bad}\n{ok}\n")),
        ("name=px-f- status=running", format!("{run}\n")),
        ("name=px-f- status=created", format!("{new}\n")),
        ("name=px-f- exited=1", format!("{bad}\n")),
        ("name=px-f- exited=0", format!("{ok}\n")),
        ("name=px-f-ok", format!("{ok}\n")),
        // the same key twice: either
        ("name=px-f-ok name=px-f-bad", format!("{bad}\n{ok}\n")),
    ] {
        let mut a = cl!("ps -a --format '{{.Names}}'");
        for f in filters.split(' ') {
            a.extend(["--filter".to_string(), f.to_string()]);
        }
        c.same_want(filters, &a, E::Exact, 0, &want);
    }
    // id= with each side's own ID prefix
    let o = c.each(|s| {
        let id = c.inspect(s, &ok, "{{.Id}}");
        let prefix = id.get(..8).unwrap_or("");
        c.exec(
            s,
            &cl!("ps -a --filter id={prefix} --format '{{.Names}}'", prefix),
        )
    });
    c.check("id=", &cl!("ps -a --filter id=PREFIX"), &o, E::Exact);
    c.want("id=", &o, 0, &format!("{ok}\n"));
    c.same_want(
        "unknown filter",
        &cl!("ps --filter bogus=1"),
        E::Has(&["Invalid filter 'bogus'"]),
        1,
        "",
    );
    c.same("stop", &cl!("stop -t 1 {run}", run), E::Exact);
}

pub(crate) fn ps_format_json_and_labels(c: &Ctx) {
    // (one label: Docker's {{.Labels}} follows Go's random map order)
    let n = c.name("fmt");
    c.setup(&cl!("{CREATE} --name {n} -l tier=front {IMG} true", n));
    c.same_want(
        "{{json .Names}} {{.Labels}} {{.State}}",
        &cl!(
            "ps -a --filter name={n} --format '{{json .Names}} {{.Labels}} {{.State}}'",
            n
        ),
        E::Exact,
        0,
        &format!("\"{n}\" tier=front created\n"),
    );
}

pub(crate) fn ps_format_label_function(c: &Ctx) {
    let n = c.name("fmtlabel");
    c.setup(&cl!("{CREATE} --name {n} -l tier=front {IMG} true", n));
    c.same_want(
        "{{.Label \"tier\"}}",
        &cl!("ps -a --filter name={n} --format '{{.Label \"tier\"}}'", n),
        E::Exact,
        0,
        "front\n",
    );
}

pub(crate) fn ps_format_created_at(c: &Ctx) {
    // Docker prints CreatedAt as Go's time.String: "2006-01-02 15:04:05 -0700 MST".
    let n = c.name("createdat");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    c.same_want(
        "{{.CreatedAt}}",
        &cl!("ps -a --filter name={n} --format '{{.CreatedAt}}'", n),
        E::Exact,
        0,
        "<gotime>\n",
    );
}
