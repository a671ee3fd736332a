//! Parity scenarios: Environment, working directory, user, hostname, entrypoint

use crate::*;

pub(crate) fn env_flags(c: &Ctx) {
    // HOME is compared by home_from_passwd.
    let envf = c.e.file("env.list");
    let flags = "-e X=1 -e PARITY_FROM_HOST -e PARITY_NOT_SET2 --env-file {envf}";
    c.same_want(
        "-e, -e KEY, --env-file",
        &cl!(
            &format!("{{RUN}} {flags} {{IMG}} sh -c \"env | grep -v '^HOME=' | sort\""),
            envf
        ),
        E::Exact,
        0,
        "A=1\nB=two words\nHOSTNAME=<id12>\nPARITY_FROM_FILE=fileval\nPARITY_FROM_HOST=hostval\n\
         PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nPWD=/\nSHLVL=1\nX=1\n",
    );
    // Config.Env, sorted (Docker's order varies when a bare name is kept):
    // a name the client's environment lacks is kept bare from -e and
    // dropped from --env-file.
    let n = c.name("envinspect");
    c.setup(&cl!(
        &format!("{{CREATE}} --name {{n}} {flags} {{IMG}} true"),
        n,
        envf
    ));
    let o = c.both(&cl!(
        "inspect -f '{{range .Config.Env}}{{println .}}{{end}}' {n}",
        n
    ));
    let o = o.map(|mut x| {
        let mut lines: Vec<&str> = x.out.lines().filter(|l| !l.is_empty()).collect();
        lines.sort();
        x.out = lines.iter().map(|l| format!("{l}\n")).collect();
        x
    });
    c.check(
        "inspect Config.Env, sorted",
        &cl!("inspect {n}", n),
        &o,
        E::Exact,
    );
    c.want(
        "Config.Env",
        &o,
        0,
        "A=1\nB=two words\nPARITY_FROM_FILE=fileval\nPARITY_FROM_HOST=hostval\nPARITY_NOT_SET2\nX=1\n",
    );
}

pub(crate) fn env_file_missing(c: &Ctx) {
    c.same_want(
        "--env-file that does not exist",
        &cl!("{RUN} --env-file /nonexistent-parity.env {IMG} true"),
        E::Has(&["/nonexistent-parity.env", "no such file or directory"]),
        125,
        "",
    );
}

pub(crate) fn home_from_passwd(c: &Ctx) {
    for (u, home) in [("root", "/root"), ("nobody", "/home"), ("1234", "/")] {
        c.same_want(
            &format!("HOME of -u {u}"),
            &cl!("{RUN} -u {u} {IMG} sh -c 'echo $HOME'", u),
            E::Exact,
            0,
            &format!("{home}\n"),
        );
    }
}

pub(crate) fn image_config_and_overrides(c: &Ctx) {
    c.same_want(
        "the image's CMD, WORKDIR, ENV",
        &cl!("{RUN} {IMG_CFG}"),
        E::Exact,
        0,
        "image-cmd\n/tmp\nfromimage\n",
    );
    c.same_want(
        "-e over the image's ENV",
        &cl!("{RUN} -e IMGVAR=over {IMG_CFG} sh -c 'echo $IMGVAR $PATH; pwd'"),
        E::Exact,
        0,
        "over /bin:/usr/bin\n/tmp\n",
    );
    c.same_want(
        "-w over WORKDIR",
        &cl!("{RUN} -w / {IMG_CFG} pwd"),
        E::Exact,
        0,
        "/\n",
    );
    let n = c.name("imgcfg");
    c.setup(&cl!("{CREATE} --name {n} {IMG_CFG}", n));
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{json .Config.Cmd}} {{json .Config.Env}} {{.Config.WorkingDir}} {{.Path}} {{json .Args}}' {n}",
            n
        ),
        E::Exact,
        0,
        "[\"sh\",\"-c\",\"echo image-cmd; pwd; echo $IMGVAR\"] [\"IMGVAR=fromimage\",\"PATH=/bin:/usr/bin\"] \
         /tmp sh [\"-c\",\"echo image-cmd; pwd; echo $IMGVAR\"]\n",
    );
}

pub(crate) fn workdir(c: &Ctx) {
    for w in ["/tmp", "/root", "/"] {
        c.same_want(
            &format!("-w {w}"),
            &cl!("{RUN} -w {w} {IMG} pwd", w),
            E::Exact,
            0,
            &format!("{w}\n"),
        );
    }
    // Docker makes a missing working directory.
    c.same_want(
        "-w to a missing directory",
        &cl!("{RUN} -w /tmp/new/sub {IMG} sh -c 'pwd; ls -ld . | cut -c1-10'"),
        E::Exact,
        0,
        "/tmp/new/sub\ndrwxr-xr-x\n",
    );
}

pub(crate) fn user_uid_gid(c: &Ctx) {
    for (u, want) in [
        ("root", "0 0"),
        ("nobody", "65534 65534"),
        ("1234", "1234 0"),
        ("1234:50", "1234 50"),
        ("nobody:staff", "65534 50"),
        ("0:nogroup", "0 65534"),
    ] {
        c.same_want(
            &format!("-u {u}"),
            &cl!("{RUN} -u {u} {IMG} sh -c 'echo $(id -u) $(id -g)'", u),
            E::Exact,
            0,
            &format!("{want}\n"),
        );
    }
    let n = c.name("userinspect");
    c.setup(&cl!("{CREATE} --name {n} -u nobody:staff {IMG} true", n));
    c.same_want(
        "inspect",
        &cl!("inspect -f '{{.Config.User}}' {n}", n),
        E::Exact,
        0,
        "nobody:staff\n",
    );
}

pub(crate) fn user_supplementary_groups(c: &Ctx) {
    // Docker's process holds its primary group among its groups too.
    for (u, want) in [
        ("root", "uid=0(root) gid=0(root) groups=0(root)\nGroups:\t0 \n"),
        (
            "nobody",
            "uid=65534(nobody) gid=65534(nogroup) groups=50(staff),65534(nogroup)\nGroups:\t50 65534 \n",
        ),
        ("1234:50", "uid=1234 gid=50(staff) groups=50(staff)\nGroups:\t50 \n"),
    ] {
        c.same_want(
            &format!("id of -u {u}"),
            &cl!("{RUN} -u {u} {IMG} sh -c 'id; grep Groups /proc/self/status'", u),
            E::Exact,
            0,
            want,
        );
    }
}

pub(crate) fn user_unknown(c: &Ctx) {
    c.same_want(
        "unknown user",
        &cl!("{RUN} -u nosuchuser {IMG} true"),
        E::Has(&["unable to find user nosuchuser: no matching entries in passwd file"]),
        125,
        "",
    );
    c.same_want(
        "unknown group",
        &cl!("{RUN} -u nobody:nosuchgroup {IMG} true"),
        E::Has(&["unable to find group nosuchgroup: no matching entries in group file"]),
        125,
        "",
    );
}

pub(crate) fn hostname_flag(c: &Ctx) {
    c.same_want(
        "-h",
        &cl!("{RUN} -h myhost {IMG} sh -c 'hostname; echo $HOSTNAME; cat /etc/hostname'"),
        E::Exact,
        0,
        "myhost\nmyhost\nmyhost\n",
    );
}

pub(crate) fn hostname_default_is_short_id(c: &Ctx) {
    let n = c.name("hostname");
    c.setup(&cl!(
        "{DRUN} --name {n} {IMG} sh -c 'hostname; echo $HOSTNAME; cat /etc/hostname'",
        n
    ));
    c.until_exited(&n);
    let o = c.same_want(
        "logs",
        &cl!("logs {n}", n),
        E::Exact,
        0,
        "<id12>\n<id12>\n<id12>\n",
    );
    for s in SIDES {
        let id = c.inspect(s, &n, "{{.Id}}");
        let h = c.inspect(s, &n, "{{.Config.Hostname}}");
        let short = id.get(..12).unwrap_or("");
        c.expect(s, h == short, || {
            format!("Config.Hostname {h:?}, ID {id:?}")
        });
        c.expect(
            s,
            o[s.idx()].raw_out == format!("{short}\n{short}\n{short}\n"),
            || format!("hostname output {:?}, ID {id}", o[s.idx()].raw_out),
        );
    }
}

pub(crate) fn network_none_files(c: &Ctx) {
    let o = c.same(
        "/etc/hosts, interfaces, /etc/resolv.conf",
        &cl!("{RUN} {IMG} sh -c 'cat /etc/hosts; echo ---; ls /sys/class/net; echo ---; cat /etc/resolv.conf'"),
        E::Exact,
    );
    let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
                 ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n---\nlo\n---\n";
    c.expect(Side::Docker, o[0].out.starts_with(hosts), || {
        format!("docker shows {:?}", o[0].out)
    });
    let n = c.name("netnone");
    c.setup(&cl!("{CREATE} --name {n} {IMG} true", n));
    c.same_want(
        "NetworkMode",
        &cl!("inspect -f '{{.HostConfig.NetworkMode}}' {n}", n),
        E::Exact,
        0,
        "none\n",
    );
}

pub(crate) fn network_host(c: &Ctx) {
    // The host's network namespace: its interfaces, its /etc/hosts, and its
    // hostname (Docker gives a --network host container the host's name).
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let o = c.same(
        "--network host",
        &cl!("run --rm --network host {IMG} sh -c \
             'md5sum < /etc/hosts; hostname; echo $HOSTNAME; cat /etc/hostname'"),
        E::Exact,
    );
    c.expect(
        Side::Docker,
        o[0].out.ends_with(&format!("{host}\n{host}\n{host}\n")),
        || format!("docker shows {:?}, the host is {host:?}", o[0].out),
    );
    c.same_want(
        "--network host -h",
        &cl!("run --rm --network host -h other {IMG} hostname"),
        E::Exact,
        0,
        "other\n",
    );
}

pub(crate) fn entrypoint(c: &Ctx) {
    c.same_want(
        "--entrypoint echo",
        &cl!("{RUN} --entrypoint echo {IMG} hello world"),
        E::Exact,
        0,
        "hello world\n",
    );
    c.same_want(
        "--entrypoint ''",
        &cl!("{RUN} --entrypoint '' {IMG} echo hi"),
        E::Exact,
        0,
        "hi\n",
    );
}

pub(crate) fn args_after_image_belong_to_the_command(c: &Ctx) {
    // Docker stops reading flags at the image: `-c`, `--rm`, `-m` after it
    // are the command's.
    c.same_want(
        "--entrypoint sh IMAGE -c ...",
        &cl!("{RUN} --entrypoint sh {IMG} -c 'echo hi'"),
        E::Exact,
        0,
        "hi\n",
    );
    c.same_want(
        "--entrypoint echo IMAGE --rm -m 1",
        &cl!("{RUN} --entrypoint echo {IMG} --rm -m 1"),
        E::Exact,
        0,
        "--rm -m 1\n",
    );
}
