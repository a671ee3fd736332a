//! Processes in a running container besides its own: `exec` and health
//! checks, with real containers from a busybox image imported offline. Each
//! test has its own --root and --runroot and force-removes its containers
//! when it ends, also on failure.

mod containers_env;

use containers_env::{text, Env};
use std::process::Stdio;

#[test]
fn exec_runs_in_the_container() {
    let e = Env::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "box",
        "-e",
        "A=from-run",
        "bb",
        "sleep",
        "60",
    ]);
    let o = e.run(&["exec", "box", "sh", "-c", "echo $A $HOSTNAME; exit 5"]);
    assert_eq!(o.status.code(), Some(5));
    let hostname = e.inspect("box", "{{.Config.Hostname}}");
    assert_eq!(text(&o.stdout), format!("from-run {hostname}\n"));
    let out = e.ok(&[
        "exec",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "-e",
        "A=over",
        "box",
        "sh",
        "-c",
        "echo $A $(id -u) $(pwd)",
    ]);
    assert_eq!(out, "over 65534 /tmp\n");
    // The same pid namespace: the container's sleep is PID 1.
    assert_eq!(
        e.ok(&["exec", "box", "cat", "/proc/1/cmdline"]),
        "sleep\u{0}60\u{0}"
    );
    let mut c = e.cmd(&["exec", "-i", "box", "cat"]);
    c.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"through exec\n")
        .unwrap();
    assert_eq!(
        text(&child.wait_with_output().unwrap().stdout),
        "through exec\n"
    );
    // -d returns at once; the process runs on.
    e.ok(&[
        "exec",
        "-d",
        "box",
        "sh",
        "-c",
        "sleep 0.3; touch /tmp/done",
    ]);
    e.until(5, "the detached exec", || {
        e.run(&["exec", "box", "test", "-e", "/tmp/done"])
            .status
            .success()
    });
    // Docker's codes: 126 for a command that cannot run, 1 for a stopped container.
    let o = e.run(&["exec", "box", "nosuchcommand"]);
    assert_eq!(o.status.code(), Some(126));
    // (As Docker, the error comes on stdout, with a terminal's line end.)
    assert!(
        text(&o.stdout).contains("executable file not found"),
        "{}",
        text(&o.stdout)
    );
    e.ok(&["stop", "-t", "1", "box"]);
    let o = e.run(&["exec", "box", "true"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("is not running"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn health_checks() {
    let e = Env::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "doc",
        "--health-cmd",
        "cat /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "--health-timeout",
        "2s",
        "bb",
        "sh",
        "-c",
        "echo fine > /tmp/ok; sleep 2; rm /tmp/ok; sleep 60",
    ]);
    e.until(10, "healthy", || {
        e.inspect("doc", "{{.State.Health.Status}}") == "healthy"
    });
    assert!(e.ok(&["ps"]).contains("(healthy)"));
    let last = e.inspect(
        "doc",
        "{{with index .State.Health.Log 0}}{{.ExitCode}} {{.Output}}{{end}}",
    );
    assert_eq!(last, "0 fine");
    e.until(10, "unhealthy", || {
        e.inspect("doc", "{{.State.Health.Status}}") == "unhealthy"
    });
    assert!(
        e.inspect("doc", "{{.State.Health.FailingStreak}}")
            .parse::<i32>()
            .unwrap()
            >= 2
    );
    assert_eq!(
        e.inspect(
            "doc",
            "{{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Retries}}"
        ),
        "[\"CMD-SHELL\",\"cat /tmp/ok\"] 2"
    );
    let ev = e.ok(&[
        "events",
        "--since",
        "1m",
        "--until",
        "0s",
        "--filter",
        "container=doc",
    ]);
    assert!(
        ev.contains("health_status: healthy") && ev.contains("health_status: unhealthy"),
        "{ev}"
    );
    // A check that runs too long counts as failed.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 5",
        "--health-interval",
        "100ms",
        "--health-timeout",
        "200ms",
        "--health-retries",
        "1",
        "bb",
        "sleep",
        "60",
    ]);
    e.until(10, "the timeout", || {
        e.inspect("slow", "{{.State.Health.Status}}") == "unhealthy"
    });
    let out = e.inspect(
        "slow",
        "{{with index .State.Health.Log 0}}{{.ExitCode}} {{.Output}}{{end}}",
    );
    assert_eq!(out, "-1 Health check exceeded timeout (200ms)");
    let o = e.run(&[
        "run",
        "--rm",
        "--no-healthcheck",
        "--health-cmd",
        "true",
        "bb",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125));
}
