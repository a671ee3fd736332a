//! Parity scenarios: Stopping, killing, restarting

use std::time::Duration;

use crate::*;

pub(crate) fn stop_ignoring_pid1(c: &Ctx) {
    let n = c.name("stop");
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    let o = c.same_want(
        "stop -t 1",
        &cl!("stop -t 1 {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    for s in SIDES {
        let t = o[s.idx()].secs;
        c.expect(s, (0.8..5.0).contains(&t), || {
            format!("stop -t 1 took {t:.2}s")
        });
    }
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.State.ExitCode}} {{.State.OOMKilled}}' {n}",
            n
        ),
        E::Exact,
        0,
        "exited false 0 137 false\n",
    );
    c.same_want("wait", &cl!("wait {n}", n), E::Exact, 0, "137\n");
}

pub(crate) fn stop_trapping_shell(c: &Ctx) {
    let n = c.name("trapterm");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c \"trap 'echo term; exit 143' TERM; echo ready; while true; do sleep 0.1; done\"",
        n
    ));
    c.until_logged(&n, "ready");
    let o = c.same("stop", &cl!("stop {n}", n), E::Exact);
    for s in SIDES {
        let t = o[s.idx()].secs;
        c.expect(s, t < 5.0, || {
            format!("stop of a shell trapping TERM took {t:.2}s")
        });
    }
    c.same_want(
        "exit code",
        &cl!("inspect -f '{{.State.ExitCode}}' {n}", n),
        E::Exact,
        0,
        "143\n",
    );
    c.same_want("logs", &cl!("logs {n}", n), E::Exact, 0, "ready\nterm\n");
}

pub(crate) fn stop_signal(c: &Ctx) {
    let n = c.name("stopsig");
    c.setup(&cl!(
        "{DRUN} --name {n} --stop-signal USR1 {IMG} sh -c \
         \"trap 'echo got USR1; exit 7' USR1; echo ready; while true; do sleep 0.1; done\"",
        n
    ));
    c.until_logged(&n, "ready");
    c.same("stop", &cl!("stop {n}", n), E::Exact);
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.ExitCode}} {{.Config.StopSignal}}' {n}",
            n
        ),
        E::Exact,
        0,
        "7 USR1\n",
    );
    c.same_want(
        "logs",
        &cl!("logs {n}", n),
        E::Exact,
        0,
        "ready\ngot USR1\n",
    );
    c.same_want(
        "unknown --stop-signal",
        &cl!("{RUN} --stop-signal BOGUS {IMG} true"),
        E::Has(&["Invalid signal: BOGUS"]),
        125,
        "",
    );
}

pub(crate) fn stop_timeout(c: &Ctx) {
    let n = c.name("stoptimeout");
    c.setup(&cl!(
        "{DRUN} --name {n} --stop-timeout 1 {IMG} sleep 100",
        n
    ));
    let o = c.same("stop (no -t)", &cl!("stop {n}", n), E::Exact);
    for s in SIDES {
        let t = o[s.idx()].secs;
        c.expect(s, (0.8..5.0).contains(&t), || {
            format!("stop with --stop-timeout 1 took {t:.2}s")
        });
    }
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.ExitCode}} {{.Config.StopTimeout}}' {n}",
            n
        ),
        E::Exact,
        0,
        "137 1\n",
    );
}

pub(crate) fn stop_start_not_running_or_missing(c: &Ctx) {
    let n = c.name("stopped");
    c.setup(&cl!("run --network none --name {n} {IMG} true", n));
    c.same_want(
        "stop of an exited container",
        &cl!("stop -t 1 {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    for cmd in ["stop", "start", "kill", "wait", "logs"] {
        c.same_want(
            &format!("{cmd} of a missing container"),
            &cl!("{cmd} px-nosuch", cmd),
            E::Has(&["No such container: px-nosuch"]),
            1,
            "",
        );
    }
}

pub(crate) fn kill_signals(c: &Ctx) {
    let n = c.name("killhup");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c \"trap 'echo hup; exit 5' HUP; echo ready; while true; do sleep 0.1; done\"",
        n
    ));
    c.until_logged(&n, "ready");
    c.same_want(
        "kill -s HUP",
        &cl!("kill -s HUP {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    c.same_want("wait", &cl!("wait {n}", n), E::Exact, 0, "5\n");
    c.same_want("logs", &cl!("logs {n}", n), E::Exact, 0, "ready\nhup\n");
    c.same_want(
        "kill of a stopped container",
        &cl!("kill {n}", n),
        E::Has(&["is not running"]),
        1,
        "",
    );
    let n2 = c.name("killdefault");
    c.setup(&cl!("{DRUN} --name {n2} {IMG} sleep 100", n2));
    c.same_want(
        "kill -s BOGUS",
        &cl!("kill -s BOGUS {n2}", n2),
        E::Has(&["Invalid signal: BOGUS"]),
        1,
        "",
    );
    c.same_want(
        "kill (SIGKILL)",
        &cl!("kill {n2}", n2),
        E::Exact,
        0,
        &format!("{n2}\n"),
    );
    c.until_exited(&n2);
    c.same_want(
        "exit code",
        &cl!("inspect -f '{{.State.ExitCode}}' {n2}", n2),
        E::Exact,
        0,
        "137\n",
    );
}

pub(crate) fn pid1_ignores_term(c: &Ctx) {
    // PID 1 without a handler: the kernel drops SIGTERM.
    let n = c.name("ignoreterm");
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    c.same("kill -s TERM", &cl!("kill -s TERM {n}", n), E::Exact);
    std::thread::sleep(Duration::from_millis(500));
    c.same_want(
        "still running",
        &cl!("inspect -f '{{.State.Running}}' {n}", n),
        E::Exact,
        0,
        "true\n",
    );
    c.same("kill", &cl!("kill {n}", n), E::Exact);
}

pub(crate) fn restart_on_failure(c: &Ctx) {
    let n = c.name("onfailure");
    c.setup(&cl!(
        "{DRUN} --name {n} --restart on-failure:2 {IMG} sh -c 'echo run; exit 3'",
        n
    ));
    c.until_both("two restarts, then exited", |s| {
        c.inspect(s, &n, "{{.State.Status}} {{.RestartCount}}") == "exited 2"
    });
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}} \
             {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}' {n}",
            n
        ),
        E::Exact,
        0,
        "2 exited 3 on-failure 2\n",
    );
    c.same_want("logs", &cl!("logs {n}", n), E::Exact, 0, "run\nrun\nrun\n");
    // on-failure and a success: no restart
    let n2 = c.name("onfailure-ok");
    c.setup(&cl!(
        "{DRUN} --name {n2} --restart on-failure {IMG} true",
        n2
    ));
    c.until_exited(&n2);
    std::thread::sleep(Duration::from_millis(300));
    c.same_want(
        "on-failure after exit 0",
        &cl!(
            "inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' {n2}",
            n2
        ),
        E::Exact,
        0,
        "0 exited 0\n",
    );
}

pub(crate) fn restart_always(c: &Ctx) {
    let n = c.name("always");
    c.setup(&cl!(
        "{DRUN} --name {n} --restart always {IMG} sleep 100",
        n
    ));
    // The container's process killed from the host: brought back.
    c.each(|s| {
        let pid: i32 = c.inspect(s, &n, "{{.State.Pid}}").parse().unwrap_or(0);
        c.expect(s, pid > 0, || format!("State.Pid {pid}"));
        if pid > 0 {
            // SAFETY: kill(2) takes no pointers; the pid is the container's.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    c.until_both("a restart", |s| {
        c.inspect(s, &n, "{{.RestartCount}} {{.State.Status}}") == "1 running"
    });
    c.same_want(
        "restarted",
        &cl!(
            "inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.Running}} {{.HostConfig.RestartPolicy.Name}}' {n}",
            n
        ),
        E::Exact,
        0,
        "1 running true always\n",
    );
    c.same_want(
        "ps",
        &cl!("ps --filter name={n} --format '{{.Names}} {{.Status}}'", n),
        E::Exact,
        0,
        &format!("{n} Up <dur>\n"),
    );
    // stop ends it
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
    std::thread::sleep(Duration::from_millis(800));
    c.same_want(
        "stopped for good",
        &cl!(
            "inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' {n}",
            n
        ),
        E::Exact,
        0,
        "1 exited 137\n",
    );
}

pub(crate) fn restart_always_kill_command(c: &Ctx) {
    let n = c.name("always-kill");
    c.setup(&cl!(
        "{DRUN} --name {n} --restart always {IMG} sleep 100",
        n
    ));
    c.same("kill", &cl!("kill {n}", n), E::Exact);
    c.until_exited(&n);
    std::thread::sleep(Duration::from_millis(800));
    c.same_want(
        "not brought back",
        &cl!(
            "inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' {n}",
            n
        ),
        E::Exact,
        0,
        "0 exited 137\n",
    );
}

pub(crate) fn restart_validation(c: &Ctx) {
    for (flags, phrases) in [
        ("--restart bogus", &["invalid restart policy", "bogus"][..]),
        (
            "--restart always:3",
            &["maximum retry count cannot be used with restart policy 'always'"][..],
        ),
        (
            "--rm --restart always",
            &["Conflicting options: --restart and --rm"][..],
        ),
    ] {
        c.same_want(
            flags,
            &cl!(&format!("run --network none {flags} {{IMG}} true")),
            E::Has(phrases),
            125,
            "",
        );
    }
}

pub(crate) fn restart_command(c: &Ctx) {
    let n = c.name("restartcmd");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c 'echo start; sleep 100'",
        n
    ));
    c.until_logged(&n, "start");
    c.same_want(
        "restart -t 1 (running)",
        &cl!("restart -t 1 {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    c.until_logged(&n, "start\nstart\n");
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}' {n}",
            n
        ),
        E::Exact,
        0,
        "running 0 0\n",
    );
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
    c.same_want(
        "restart (stopped)",
        &cl!("restart -t 1 {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    c.same_want(
        "running again",
        &cl!("inspect -f '{{.State.Status}}' {n}", n),
        E::Exact,
        0,
        "running\n",
    );
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
}
