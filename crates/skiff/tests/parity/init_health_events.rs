//! Parity scenarios: --init, health checks, -t, events

use std::time::Duration;

use crate::*;

pub(crate) fn init_flag(c: &Ctx) {
    c.same_want(
        "PID 1 and the exit code",
        &cl!("{RUN} --init {IMG} sh -c 'tr \"\\0\" \" \" < /proc/1/cmdline; echo; cat /proc/1/comm; exit 5'"),
        E::Exact,
        5,
        "/sbin/docker-init -- sh -c tr \"\\0\" \" \" < /proc/1/cmdline; echo; cat /proc/1/comm; exit 5 \n\
         docker-init\n",
    );
    c.same_want(
        "orphans reaped",
        &cl!("{RUN} --init {IMG} sh -c 'sh -c \"sleep 0.1 &\"; sleep 0.5; ps -o stat | grep -c Z; true'"),
        E::Exact,
        0,
        "0\n",
    );
    let (n, plain) = (c.name("init"), c.name("noinit"));
    c.setup(&cl!("{DRUN} --name {n} --init {IMG} sleep 100", n));
    c.setup(&cl!("{CREATE} --name {plain} {IMG} true", plain));
    // the init passes SIGTERM on: no 10 s timeout
    let o = c.same_want("stop", &cl!("stop {n}", n), E::Exact, 0, &format!("{n}\n"));
    for s in SIDES {
        let t = o[s.idx()].secs;
        c.expect(s, t < 3.0, || {
            format!("stop of an --init container took {t:.2}s")
        });
    }
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.ExitCode}} {{.HostConfig.Init}} {{.Path}} {{json .Args}}' {n}",
            n
        ),
        E::Exact,
        0,
        "143 true sleep [\"100\"]\n",
    );
    c.same_want(
        "HostConfig.Init without --init",
        &cl!("inspect -f '{{.HostConfig.Init}}' {plain}", plain),
        E::Exact,
        0,
        "<nil>\n",
    );
}

pub(crate) fn health_status(s: Side, c: &Ctx, n: &str) -> String {
    c.inspect(s, n, "{{.State.Health.Status}}")
}

pub(crate) fn healthcheck(c: &Ctx) {
    let (n, slow, bad, tmo, sp) = (
        c.name("hc-main"),
        c.name("hc-slow"),
        c.name("hc-bad"),
        c.name("hc-timeout"),
        c.name("hc-start-period"),
    );
    c.setup(&cl!(
        "{DRUN} --name {n} --health-cmd 'test -e /tmp/ok' --health-interval 200ms --health-retries 2 \
         --health-timeout 1s {IMG} sh -c 'touch /tmp/ok; sleep 100'",
        n
    ));
    // the first check 30 s away: starting
    c.setup(&cl!(
        "{DRUN} --name {slow} --health-cmd true --health-interval 30s {IMG} sleep 100",
        slow
    ));
    c.setup(&cl!(
        "{DRUN} --name {bad} --health-cmd 'echo bad; exit 1' --health-interval 100ms --health-retries 1 {IMG} sleep 100",
        bad
    ));
    c.setup(&cl!(
        "{DRUN} --name {tmo} --health-cmd 'sleep 5' --health-interval 200ms --health-timeout 200ms \
         --health-retries 1 {IMG} sleep 100",
        tmo
    ));
    c.setup(&cl!(
        "{DRUN} --name {sp} --health-cmd 'exit 1' --health-interval 100ms --health-retries 1 \
         --health-start-period 30s {IMG} sleep 100",
        sp
    ));
    c.same_want(
        "starting",
        &cl!(
            "ps --filter name={slow} --format '{{.Status}}|{{.State}}'",
            slow
        ),
        E::Exact,
        0,
        "Up <dur> (health: starting)|running\n",
    );
    c.same_want(
        "State.Health while starting",
        &cl!(
            "inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{len .State.Health.Log}}' {slow}",
            slow
        ),
        E::Exact,
        0,
        "starting 0 0\n",
    );
    c.until_both("healthy", |s| health_status(s, c, &n) == "healthy");
    c.same_want(
        "ps (healthy)",
        &cl!("ps --filter name={n} --format '{{.Status}}'", n),
        E::Exact,
        0,
        "Up <dur> (healthy)\n",
    );
    c.same_want(
        "State.Health healthy",
        &cl!(
            "inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}} \
             {{with index .State.Health.Log 0}}{{.ExitCode}} [{{.Output}}] {{.Start}} {{.End}}{{end}}' {n}",
            n
        ),
        E::Exact,
        0,
        "healthy 0 0 [] <gotime> <gotime>\n",
    );
    c.same_want(
        "Config.Healthcheck",
        &cl!("inspect -f '{{json .Config.Healthcheck}}' {n}", n),
        E::Exact,
        0,
        "{\"Test\":[\"CMD-SHELL\",\"test -e /tmp/ok\"],\"Interval\":200000000,\"Timeout\":1000000000,\"Retries\":2}\n",
    );
    c.same("make it fail", &cl!("exec {n} rm /tmp/ok", n), E::Exact);
    c.until_both("unhealthy", |s| health_status(s, c, &n) == "unhealthy");
    c.same_want(
        "ps (unhealthy)",
        &cl!("ps --filter name={n} --format '{{.Status}}'", n),
        E::Exact,
        0,
        "Up <dur> (unhealthy)\n",
    );
    c.until_both("bad's check to fail", |s| {
        health_status(s, c, &bad) == "unhealthy"
    });
    // The same failing check inside a start period: it runs and is logged,
    // but the failures do not count.
    c.until_both("the start-period checks to run", |s| {
        c.inspect(s, &sp, "{{len .State.Health.Log}}") != "0"
    });
    c.same_want(
        "--health-start-period: failures do not count",
        &cl!(
            "inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}} \
             {{with index .State.Health.Log 0}}{{.ExitCode}}{{end}} {{json .Config.Healthcheck}}' {sp}",
            sp
        ),
        E::Exact,
        0,
        "starting 0 1 {\"Test\":[\"CMD-SHELL\",\"exit 1\"],\"Interval\":100000000,\"StartPeriod\":30000000000,\"Retries\":1}\n",
    );
    c.same_want(
        "a failing check's log entry",
        &cl!(
            "inspect -f '{{with index .State.Health.Log 0}}{{.ExitCode}} {{json .Output}}{{end}}' {bad}",
            bad
        ),
        E::Exact,
        0,
        "1 \"bad\\n\"\n",
    );
    c.until_both("the slow check to time out", |s| {
        health_status(s, c, &tmo) == "unhealthy"
    });
    c.same_want(
        "a check that times out",
        &cl!(
            "inspect -f '{{with index .State.Health.Log 0}}{{.ExitCode}} {{.Output}}{{end}}' {tmo}",
            tmo
        ),
        E::Exact,
        0,
        "-1 Health check exceeded timeout (200ms)\n",
    );
    c.same_want(
        "ps --filter health=",
        &cl!("ps --filter name=px-hc- --filter health=unhealthy --format '{{.Names}}'"),
        E::Exact,
        0,
        &format!("{tmo}\n{bad}\n{n}\n"),
    );
    // --no-healthcheck
    let none = c.name("hc-none");
    c.setup(&cl!(
        "{CREATE} --name {none} --no-healthcheck {IMG} true",
        none
    ));
    c.same_want(
        "--no-healthcheck",
        &cl!(
            "inspect -f '{{json .Config.Healthcheck}} {{json .State.Health}}' {none}",
            none
        ),
        E::Exact,
        0,
        "{\"Test\":[\"NONE\"]} null\n",
    );
    c.same_want(
        "--no-healthcheck with --health-cmd",
        &cl!("{RUN} --health-cmd true --no-healthcheck {IMG} true"),
        E::Has(&["--no-healthcheck conflicts with --health-* options"]),
        125,
        "",
    );
    for x in [&n, &slow, &bad, &tmo, &sp] {
        c.same("kill", &cl!("kill {x}", x), E::Exact);
    }
}

pub(crate) fn run_tty(c: &Ctx) {
    c.same_want(
        "run -t",
        &cl!("{RUN} -t {IMG} sh -c 'tty; echo a; echo b >&2; exit 3'"),
        E::Exact,
        3,
        "/dev/pts/0\r\na\r\nb\r\n",
    );
    c.same_want(
        "run -it without a terminal",
        &cl!("{RUN} -it {IMG} true"),
        E::Has(&["the input device is not a TTY"]),
        1,
        "",
    );
    let n = c.name("tty");
    c.setup(&cl!("{CREATE} --name {n} -t {IMG} true", n));
    c.same_want(
        "Config.Tty",
        &cl!("inspect -f '{{.Config.Tty}}' {n}", n),
        E::Exact,
        0,
        "true\n",
    );
}

pub(crate) fn events_actions(c: &Ctx) {
    let (fg, bg, bg2) = (c.name("ev-fg"), c.name("ev-bg"), c.name("ev-bg2"));
    let t0 = c.each(|_| now_unix());
    c.setup(&cl!("run --network none --name {fg} {IMG} true", fg));
    c.setup(&cl!("rm {fg}", fg));
    c.setup(&cl!("{DRUN} --name {bg} {IMG} sleep 100", bg));
    let ids = c.each(|s| c.inspect(s, &bg, "{{.Id}}"));
    for a in [
        cl!("pause {bg}", bg),
        cl!("unpause {bg}", bg),
        cl!("exec {bg} true", bg),
        cl!("stop -t 1 {bg}", bg),
        cl!("start {bg}", bg),
        cl!("kill {bg}", bg),
    ] {
        c.setup(&a);
    }
    c.until_exited(&bg);
    c.setup(&cl!("rename {bg} {bg2}", bg, bg2));
    c.setup(&cl!("rm {bg2}", bg2));
    std::thread::sleep(Duration::from_millis(300));
    let t1 = c.each(|_| now_unix());
    let o = c.same_each(
        "a foreground run, then rm",
        &cl!("events --since T0 --until T1 --filter type=container --filter container={fg} --format '{{.Action}}'", fg),
        |s| {
            let (a, b) = (&t0[s.idx()], &t1[s.idx()]);
            cl!(
                "events --since {a} --until {b} --filter type=container --filter container={fg} --format '{{.Action}}'",
                a,
                b,
                fg
            )
        },
        |_| vec![],
        E::Exact,
    );
    c.want(
        "a foreground run, then rm",
        &o,
        0,
        "create\nattach\nstart\ndie\ndestroy\n",
    );
    let o = c.same_each(
        "run -d, pause, unpause, exec, stop, start, kill, rename, rm",
        &cl!("events --since T0 --until T1 --filter container=ID --format '{{.Action}}|{{.Actor.Attributes.name}}'"),
        |s| {
            let (a, b, id) = (&t0[s.idx()], &t1[s.idx()], &ids[s.idx()]);
            cl!(
                "events --since {a} --until {b} --filter container={id} --format '{{.Action}}|{{.Actor.Attributes.name}}'",
                a,
                b,
                id
            )
        },
        |_| vec![],
        E::Exact,
    );
    c.want(
        "run -d, pause, unpause, exec, stop, start, kill, rename, rm",
        &o,
        0,
        &format!(
            "create|{bg}\nstart|{bg}\npause|{bg}\nunpause|{bg}\nexec_create: true |{bg}\n\
             exec_start: true |{bg}\nexec_die|{bg}\nkill|{bg}\nkill|{bg}\ndie|{bg}\nstop|{bg}\n\
             start|{bg}\nkill|{bg}\ndie|{bg}\nrename|{bg2}\ndestroy|{bg2}\n"
        ),
    );
    let o = c.same_each(
        "rename's attributes",
        &cl!("events --since T0 --until T1 --filter event=rename --filter container=ID --format '{{.Actor.Attributes.name}} {{.Actor.Attributes.oldName}}'"),
        |s| {
            let (a, b, id) = (&t0[s.idx()], &t1[s.idx()], &ids[s.idx()]);
            cl!(
                "events --since {a} --until {b} --filter event=rename --filter container={id} --format '{{.Actor.Attributes.name}} {{.Actor.Attributes.oldName}}'",
                a,
                b,
                id
            )
        },
        |_| vec![],
        E::Exact,
    );
    c.want("rename's attributes", &o, 0, &format!("{bg2} /{bg}\n"));
}
