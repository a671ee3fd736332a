//! Parity scenarios: logs

use crate::*;

pub(crate) fn logs_tail(c: &Ctx) {
    let n = c.name("tail");
    c.setup(&cl!(
        "run --network none --name {n} {IMG} sh -c 'for i in 1 2 3 4 5; do echo out$i; done'",
        n
    ));
    for (flags, want) in [
        ("--tail 2", "out4\nout5\n"),
        ("--tail 0", ""),
        ("-n 1", "out5\n"),
        ("--tail all", "out1\nout2\nout3\nout4\nout5\n"),
        ("--tail 9", "out1\nout2\nout3\nout4\nout5\n"),
    ] {
        c.same_want(
            flags,
            &cl!(&format!("logs {flags} {{n}}"), n),
            E::Exact,
            0,
            want,
        );
    }
}

pub(crate) fn logs_tail_not_a_number(c: &Ctx) {
    // Docker's daemon takes a --tail it cannot read as "all".
    let n = c.name("tailnan");
    c.setup(&cl!(
        "run --network none --name {n} {IMG} sh -c 'echo a; echo b'",
        n
    ));
    c.same_want(
        "--tail bogus",
        &cl!("logs --tail bogus {n}", n),
        E::Exact,
        0,
        "a\nb\n",
    );
}

pub(crate) fn logs_streams(c: &Ctx) {
    let n = c.name("streams");
    c.setup(&cl!(
        "run --network none --name {n} {IMG} sh -c 'echo o1; echo e1 >&2'",
        n
    ));
    let o = c.same_want("logs", &cl!("logs {n}", n), E::Exact, 0, "o1\n");
    c.expect(Side::Docker, o[0].err == "e1\n", || {
        format!("stderr {:?}", o[0].err)
    });
}

pub(crate) fn logs_timestamps(c: &Ctx) {
    let n = c.name("ts");
    c.setup(&cl!(
        "run --network none --name {n} {IMG} sh -c 'echo a; echo b'",
        n
    ));
    let o = c.same_want(
        "logs -t",
        &cl!("logs -t {n}", n),
        E::Exact,
        0,
        "<time> a\n<time> b\n",
    );
    // RFC 3339 with nine digits of nanoseconds, always
    for s in SIDES {
        for l in o[s.idx()].raw_out.lines() {
            let b = l.as_bytes();
            let ok = datetime_at(b, 0, b'T')
                && b.get(19) == Some(&b'.')
                && digits_at(b, 20, 9)
                && b.get(29) == Some(&b'Z')
                && b.get(30) == Some(&b' ');
            c.expect(s, ok, || format!("logs -t line {l:?}"));
        }
    }
    c.same_want(
        "logs -t --tail 1",
        &cl!("logs -t --tail 1 {n}", n),
        E::Exact,
        0,
        "<time> b\n",
    );
}

pub(crate) fn logs_since_until(c: &Ctx) {
    let n = c.name("since");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c 'echo a; sleep 1.5; echo b'",
        n
    ));
    // T: after "a", before "b", on each side
    let t = c.each(|s| {
        c.until(s, 10, "a", || c.logs(s, &n).contains('a'));
        now_unix()
    });
    c.until_exited(&n);
    for (flag, want) in [("--since", "b\n"), ("--until", "a\n")] {
        let o = c.each(|s| {
            let t = &t[s.idx()];
            c.exec(s, &cl!("logs {flag} {t} {n}", flag, t, n))
        });
        c.check(
            &format!("{flag} T"),
            &cl!("logs {flag} T {n}", flag, n),
            &o,
            E::Exact,
        );
        c.want(&format!("{flag} T"), &o, 0, want);
    }
    for (flags, want) in [
        ("--since 1h", "a\nb\n"),
        ("--since 2099-01-01T00:00:00Z", ""),
        ("--until 2000-01-01T00:00:00Z", ""),
        ("--until 1h", ""),
    ] {
        c.same_want(
            flags,
            &cl!(&format!("logs {flags} {{n}}"), n),
            E::Exact,
            0,
            want,
        );
    }
}

pub(crate) fn logs_follow(c: &Ctx) {
    let n = c.name("follow");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c 'echo a; sleep 1; echo b; echo c >&2; exit 2'",
        n
    ));
    let o = c.same_want("logs -f", &cl!("logs -f {n}", n), E::Exact, 0, "a\nb\n");
    c.expect(Side::Docker, o[0].err == "c\n", || {
        format!("stderr {:?}", o[0].err)
    });
    c.same_want("wait", &cl!("wait {n}", n), E::Exact, 0, "2\n");
}

pub(crate) fn log_rotation(c: &Ctx) {
    // max-size=1k, max-file=2: Docker rotates once a file has reached
    // max-size (it may pass it by one entry), so each file holds 10 of these
    // ~104-byte entries and `logs` shows the last 20 lines.
    let n = c.name("rotate");
    c.setup(&cl!(
        "run --network none --name {n} --log-opt max-size=1k --log-opt max-file=2 {IMG} sh -c \
         'i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done'",
        n
    ));
    let a = cl!("logs {n}", n);
    let o = c.both(&a).map(|mut x| {
        let lines: Vec<&str> = x.out.lines().collect();
        x.out = format!(
            "{} lines, first {:?}, last {:?}\n",
            lines.len(),
            lines.first().unwrap_or(&""),
            lines.last().unwrap_or(&"")
        );
        x
    });
    c.check("logs after rotation", &a, &o, E::Exact);
    c.want(
        "logs after rotation",
        &o,
        0,
        "20 lines, first \"line-280-xxxxxxxxxxxxxxxxxxxxxxxx\", last \"line-299-xxxxxxxxxxxxxxxxxxxxxxxx\"\n",
    );
    c.same_want(
        "LogConfig.Type",
        &cl!("inspect -f '{{.HostConfig.LogConfig.Type}}' {n}", n),
        E::Exact,
        0,
        "json-file\n",
    );
    c.same_want(
        "unknown --log-opt",
        &cl!("{RUN} --log-opt foo=bar {IMG} true"),
        E::Has(&["unknown log opt", "foo"]),
        125,
        "",
    );
}
