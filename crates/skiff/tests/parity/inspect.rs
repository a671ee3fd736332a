//! Parity scenarios: inspect

use std::path::Path;

use crate::*;

pub(crate) fn inspect_state(c: &Ctx) {
    let n = c.name("state");
    c.setup(&cl!("{DRUN} --name {n} {IMG} sleep 100", n));
    let f = "{{.State.Status}} {{.State.Running}} {{.State.Paused}} {{.State.Restarting}} {{.State.Dead}} \
             {{.State.OOMKilled}} {{.State.ExitCode}} [{{.State.Error}}] {{.State.StartedAt}} \
             {{.State.FinishedAt}} {{.Created}}";
    c.same_want(
        "running",
        &cl!("inspect -f {f} {n}", f, n),
        E::Exact,
        0,
        "running true false false false false 0 [] <time> 0001-01-01T00:00:00Z <time>\n",
    );
    for s in SIDES {
        let pid: i64 = c.inspect(s, &n, "{{.State.Pid}}").parse().unwrap_or(0);
        c.expect(
            s,
            pid > 0 && Path::new(&format!("/proc/{pid}")).exists(),
            || format!("State.Pid {pid}"),
        );
    }
    c.same("stop", &cl!("stop -t 1 {n}", n), E::Exact);
    c.same_want(
        "exited",
        &cl!("inspect -f {f} {n}", f, n),
        E::Exact,
        0,
        "exited false false false false false 137 [] <time> <time> <time>\n",
    );
    c.same_want(
        "Name, Image, Platform, Driver, RestartCount",
        &cl!(
            "inspect -f '{{.Name}} {{.Config.Image}} {{.Platform}} {{.Driver}} {{.RestartCount}}' {n}",
            n
        ),
        E::Exact,
        0,
        &format!("/{n} {IMG} linux overlay2 0\n"),
    );
}

pub(crate) fn inspect_config(c: &Ctx) {
    let n = c.name("config");
    c.setup(&cl!(
        "{CREATE} --name {n} -e A=1 -w /tmp -u nobody -h hh -l x=y --entrypoint echo {IMG} hello world",
        n
    ));
    c.same_want(
        "Config",
        &cl!(
            "inspect -f '{{json .Config.Cmd}} {{json .Config.Entrypoint}} {{json .Config.Env}} \
             {{.Config.WorkingDir}} {{.Config.User}} {{json .Config.Labels}} {{.Config.Hostname}} \
             {{.Config.Image}} {{.Path}} {{json .Args}} {{.Config.OpenStdin}} {{.Config.Tty}}' {n}",
            n
        ),
        E::Exact,
        0,
        &format!(
            "[\"hello\",\"world\"] [\"echo\"] [\"A=1\"] /tmp nobody {{\"x\":\"y\"}} hh {IMG} echo \
             [\"hello\",\"world\"] false false\n"
        ),
    );
}

pub(crate) fn inspect_host_config(c: &Ctx) {
    let n = c.name("hostconfig");
    c.setup(&cl!(
        "{CREATE} --name {n} --rm --read-only --cap-add SYS_ADMIN --cap-drop NET_RAW -m 64m \
         --memory-swap -1 --cpus 0.5 --pids-limit 50 --security-opt no-new-privileges \
         --stop-signal SIGUSR1 --stop-timeout 3 {IMG} true",
        n
    ));
    c.same_want(
        "HostConfig",
        &cl!(
            "inspect -f '{{.HostConfig.NetworkMode}} {{.HostConfig.AutoRemove}} {{.HostConfig.ReadonlyRootfs}} \
             {{.HostConfig.Privileged}} {{index .HostConfig.CapAdd 0}} {{index .HostConfig.CapDrop 0}} \
             {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} \
             {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}} \
             {{.Config.StopSignal}} {{.Config.StopTimeout}}' {n}",
            n
        ),
        E::Exact,
        0,
        "none true true false SYS_ADMIN NET_RAW 67108864 -1 500000000 50 no 0 SIGUSR1 3\n",
    );
    let n2 = c.name("restartpolicy");
    c.setup(&cl!(
        "{CREATE} --name {n2} --restart on-failure:4 {IMG} true",
        n2
    ));
    c.same_want(
        "RestartPolicy",
        &cl!(
            "inspect -f '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}' {n2}",
            n2
        ),
        E::Exact,
        0,
        "on-failure:4\n",
    );
}

pub(crate) fn inspect_json_objects(c: &Ctx) {
    // {{json}} of an object: its keys in the order of Docker's Go struct.
    let n = c.name("jsonobjects");
    c.setup(&cl!(
        "{CREATE} --name {n} --restart on-failure:4 {IMG} true",
        n
    ));
    c.same_want(
        "{{json .HostConfig.RestartPolicy}}",
        &cl!("inspect -f '{{json .HostConfig.RestartPolicy}}' {n}", n),
        E::Exact,
        0,
        "{\"Name\":\"on-failure\",\"MaximumRetryCount\":4}\n",
    );
    c.same_want(
        "{{json .HostConfig.LogConfig}}",
        &cl!("inspect -f '{{json .HostConfig.LogConfig}}' {n}", n),
        E::Exact,
        0,
        "{\"Type\":\"json-file\",\"Config\":{}}\n",
    );
}

pub(crate) fn inspect_log_config_as_given(c: &Ctx) {
    let n = c.name("logconfig");
    c.setup(&cl!(
        "{CREATE} --name {n} --log-opt max-size=1m --log-opt max-file=2 {IMG} true",
        n
    ));
    c.same_want(
        "LogConfig.Config",
        &cl!(
            "inspect -f '{{index .HostConfig.LogConfig.Config \"max-size\"}} {{index .HostConfig.LogConfig.Config \"max-file\"}}' {n}",
            n
        ),
        E::Exact,
        0,
        "1m 2\n",
    );
}

pub(crate) fn inspect_unset_values(c: &Ctx) {
    // Docker's templates see Go values: an empty list prints [], an unset
    // string nothing, an unset pointer <nil>.
    let n = c.name("unset");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    c.same_want(
        "empty lists",
        &cl!(
            "inspect -f '{{.HostConfig.CapAdd}}|{{.Config.Entrypoint}}|{{.HostConfig.SecurityOpt}}|{{.HostConfig.PidsLimit}}' {n}",
            n
        ),
        E::Exact,
        0,
        "[]|[]|[]|<nil>\n",
    );
    c.same_want(
        "unset stop signal and timeout",
        &cl!(
            "inspect -f '{{.Config.StopSignal}}|{{.Config.StopTimeout}}' {n}",
            n
        ),
        E::Exact,
        0,
        "|<nil>\n",
    );
}

pub(crate) fn inspect_unknown_field(c: &Ctx) {
    // A field the document does not have is an error, not "<no value>".
    let n = c.name("unknownfield");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    for f in ["{{.Nope}}", "{{.HostConfig.Nope}}"] {
        c.same_want(
            f,
            &cl!("inspect -f {f} {n}", f, n),
            E::Has(&["map has no entry for key \"Nope\""]),
            1,
            "\n",
        );
    }
}

pub(crate) fn inspect_template_range_variables(c: &Ctx) {
    let n = c.name("rangevars");
    c.setup(&cl!("{CREATE} --name {n} -l a=1 -l b=2 {IMG} true", n));
    for (f, want) in [
        (
            "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
            "a=1;b=2;",
        ),
        (
            "{{range $i, $e := .Config.Cmd}}{{$i}}:{{$e}}{{end}}",
            "0:true",
        ),
        ("{{$n := .Name}}{{$n}}", &format!("/{n}")),
    ] {
        c.same_want(
            f,
            &cl!("inspect -f {f} {n}", f, n),
            E::Exact,
            0,
            &format!("{want}\n"),
        );
    }
}

pub(crate) fn inspect_template_functions(c: &Ctx) {
    let n = c.name("funcs");
    c.setup(&cl!("{CREATE} --name {n} -l a=1 {IMG} true", n));
    for (f, want) in [
        ("{{index .Config.Labels \"a\"}}", "1"),
        ("{{.Config.Labels.a}}", "1"),
        ("{{range .Config.Cmd}}[{{.}}]{{end}}", "[true]"),
        ("{{len .Config.Cmd}}", "1"),
        ("{{if .State.Running}}run{{else}}stopped{{end}}", "stopped"),
        ("{{upper .Name}}", &format!("/{}", n.to_uppercase())),
        ("{{join .Config.Cmd \",\"}}", "true"),
        ("{{json .Config.Labels}}", "{\"a\":\"1\"}"),
        (
            "{{printf \"%s-%d\" .Name .RestartCount}}",
            &format!("/{n}-0"),
        ),
        ("{{eq .State.Status \"created\"}}", "true"),
        ("{{.State.Status | upper}}", "CREATED"),
        ("{{title .State.Status}}", "Created"),
    ] {
        c.same_want(
            f,
            &cl!("inspect -f {f} {n}", f, n),
            E::Exact,
            0,
            &format!("{want}\n"),
        );
    }
    c.same_want(
        "two containers",
        &cl!("inspect -f '{{.Name}}' {n} {n}", n),
        E::Exact,
        0,
        &format!("/{n}\n/{n}\n"),
    );
}

pub(crate) fn inspect_missing(c: &Ctx) {
    c.same_want(
        "inspect of a missing container",
        &cl!("inspect px-nosuch"),
        E::Has(&["Error: No such object: px-nosuch"]),
        1,
        "[]\n",
    );
}

pub(crate) fn inspect_document_keys(c: &Ctx) {
    // The keys of Docker's document (top level, State, Config, HostConfig,
    // NetworkSettings) that templates and scripts reach for.
    let n = c.name("keys");
    c.setup(&cl!(
        "{CREATE} --name {n} --ulimit nofile=512:1024 {IMG} true",
        n
    ));
    let docs = c.each(|s| {
        let o = c.ok(s, &cl!("inspect {n}", n));
        serde_json::from_str::<serde_json::Value>(&o.raw_out).unwrap_or_default()[0].clone()
    });
    let keys = |v: &serde_json::Value, path: &str| -> Vec<String> {
        let v = if path.is_empty() { v } else { &v[path] };
        let mut k: Vec<String> = v
            .as_object()
            .map(|m| {
                m.keys()
                    .map(|k| {
                        if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        k.sort();
        k
    };
    for path in ["", "State", "Config", "HostConfig", "NetworkSettings"] {
        let dk = keys(&docs[0], path);
        let sk = keys(&docs[1], path);
        let missing: Vec<&String> = dk.iter().filter(|k| !sk.contains(k)).collect();
        let extra: Vec<&String> = sk.iter().filter(|k| !dk.contains(k)).collect();
        if !missing.is_empty() || !extra.is_empty() {
            c.fail(format!(
                "inspect {}: skiff lacks {missing:?}; skiff has, Docker not: {extra:?}",
                if path.is_empty() { "(top level)" } else { path }
            ));
        }
    }
}
