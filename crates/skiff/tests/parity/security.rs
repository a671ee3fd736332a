//! Parity scenarios: Security: read-only root, capabilities, seccomp, no-new-privileges, masks

use crate::*;

pub(crate) fn read_only(c: &Ctx) {
    c.same_want(
        "--read-only",
        &cl!("{RUN} --read-only {IMG} sh -c \
             'touch /x; echo $?; touch /tmp/y; echo $?; touch /dev/shm/z && echo shm-ok'"),
        E::Exact,
        0,
        "1\n1\nshm-ok\n",
    );
    let n = c.name("ro");
    c.setup(&cl!("{CREATE} --name {n} --read-only {IMG} true", n));
    c.same_want(
        "ReadonlyRootfs",
        &cl!("inspect -f '{{.HostConfig.ReadonlyRootfs}}' {n}", n),
        E::Exact,
        0,
        "true\n",
    );
}

pub(crate) fn caps_default(c: &Ctx) {
    c.same_want(
        "root",
        &cl!("{RUN} {IMG} grep Cap /proc/self/status"),
        E::Exact,
        0,
        "CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n\
         CapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n",
    );
    c.same_want(
        "nobody",
        &cl!("{RUN} -u nobody {IMG} grep Cap /proc/self/status"),
        E::Exact,
        0,
        "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n\
         CapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n",
    );
}

pub(crate) fn caps_add_drop(c: &Ctx) {
    for (flags, eff) in [
        ("--cap-add SYS_ADMIN --cap-drop NET_RAW", "00000000a82405fb"),
        ("--cap-drop ALL", "0000000000000000"),
        ("--cap-drop ALL --cap-add chown", "0000000000000001"),
        ("--cap-add CAP_NET_ADMIN", "00000000a80435fb"),
    ] {
        c.same_want(
            flags,
            &cl!(&format!(
                "{{RUN}} {flags} {{IMG}} grep -E 'CapEff|CapBnd' /proc/self/status"
            )),
            E::Exact,
            0,
            &format!("CapEff:\t{eff}\nCapBnd:\t{eff}\n"),
        );
    }
    let n = c.name("capinspect");
    c.setup(&cl!(
        "{CREATE} --name {n} --cap-add net_admin --cap-drop CAP_CHOWN {IMG} true",
        n
    ));
    c.same_want(
        "CapAdd/CapDrop",
        &cl!(
            "inspect -f '{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}}' {n}",
            n
        ),
        E::Exact,
        0,
        "[\"net_admin\"] [\"CAP_CHOWN\"]\n",
    );
}

/// Docker cannot grant every capability on this host (it lacks
/// CAP_SYS_RESOURCE, and runc refuses one outside its bounding set); skiff's
/// documented behaviour is checked instead: the capabilities of its own
/// bounding set (docs/engine.md, "Choices that differ from Docker").
pub(crate) fn skiff_grants_its_bounding_set(c: &Ctx, o: &[Out; 2], seccomp: &str) {
    c.expect(
        Side::Docker,
        o[0].err.contains("unable to apply caps"),
        || {
            format!(
                "fails for another reason than the host's bounding set: {}",
                o[0].err
            )
        },
    );
    let bnd = host_cap_bnd();
    c.expect(Side::Skiff, o[1].code == Some(0), || {
        format!("exit {:?}: {}", o[1].code, o[1].err)
    });
    c.expect(
        Side::Skiff,
        o[1].out == format!("CapEff:\t{bnd}\nCapBnd:\t{bnd}\n{seccomp}"),
        || format!("shows {:?}, the host's bounding set is {bnd}", o[1].out),
    );
}

pub(crate) fn caps_add_all(c: &Ctx) {
    let a = cl!("{RUN} --cap-add ALL {IMG} grep -E '^(CapEff|CapBnd):' /proc/self/status");
    let o = c.both(&a);
    if o[0].code == Some(0) {
        c.check("--cap-add ALL", &a, &o, E::Any);
    } else {
        skiff_grants_its_bounding_set(c, &o, "");
    }
}

pub(crate) fn privileged(c: &Ctx) {
    let a = cl!("{RUN} --privileged {IMG} grep -E '^(CapEff|CapBnd|Seccomp):' /proc/self/status");
    let o = c.both(&a);
    if o[0].code == Some(0) {
        c.check("--privileged", &a, &o, E::Any);
    } else {
        // and no seccomp filter
        skiff_grants_its_bounding_set(c, &o, "Seccomp:\t0\n");
    }
    let n = c.name("priv");
    c.setup(&cl!("{CREATE} --name {n} --privileged {IMG} true", n));
    c.same_want(
        "Privileged",
        &cl!("inspect -f '{{.HostConfig.Privileged}}' {n}", n),
        E::Exact,
        0,
        "true\n",
    );
}

pub(crate) fn cap_unknown(c: &Ctx) {
    c.same_want(
        "--cap-add BOGUS",
        &cl!("{RUN} --cap-add BOGUS {IMG} true"),
        E::Has(&["capability", "BOGUS"]),
        125,
        "",
    );
}

pub(crate) fn seccomp_default_and_unconfined(c: &Ctx) {
    c.same_want(
        "default",
        &cl!("{RUN} {IMG} grep -E '^(Seccomp|NoNewPrivs)' /proc/self/status"),
        E::Exact,
        0,
        "NoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\n",
    );
    c.same_want(
        "unconfined",
        &cl!("{RUN} --security-opt seccomp=unconfined {IMG} grep -E '^(Seccomp|NoNewPrivs)' /proc/self/status"),
        E::Exact,
        0,
        "NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n",
    );
    // the default profile refuses what Docker's refuses
    c.same_want(
        "unshare and mount refused",
        &cl!("{RUN} {IMG} sh -c 'unshare -m true; echo $?; mount -t tmpfs t /mnt; echo $?'"),
        E::Exact,
        0,
        "1\n1\n",
    );
}

pub(crate) fn seccomp_file(c: &Ctx) {
    let prof = c.e.file("deny-mkdir.json");
    c.same_want(
        "seccomp=FILE",
        &cl!(
            "{RUN} --security-opt seccomp={prof} {IMG} sh -c 'mkdir /tmp/d; echo $?; grep ^Seccomp: /proc/self/status'",
            prof
        ),
        E::Exact,
        0,
        "1\nSeccomp:\t2\n",
    );
    let missing = "/nonexistent-parity-seccomp.json";
    let phrase = format!("opening seccomp profile ({missing}) failed");
    c.same_want(
        "seccomp=missing file",
        &cl!("{RUN} --security-opt seccomp={missing} {IMG} true", missing),
        E::Has(&[&phrase, "no such file or directory"]),
        125,
        "",
    );
}

pub(crate) fn no_new_privileges(c: &Ctx) {
    c.same_want(
        "no-new-privileges",
        &cl!("{RUN} --security-opt no-new-privileges {IMG} grep NoNewPrivs /proc/self/status"),
        E::Exact,
        0,
        "NoNewPrivs:\t1\n",
    );
    let n = c.name("nnp");
    c.setup(&cl!(
        "{CREATE} --name {n} --security-opt no-new-privileges {IMG} true",
        n
    ));
    c.same_want(
        "SecurityOpt",
        &cl!("inspect -f '{{json .HostConfig.SecurityOpt}}' {n}", n),
        E::Exact,
        0,
        "[\"no-new-privileges\"]\n",
    );
    c.same_want(
        "unknown --security-opt",
        &cl!("{RUN} --security-opt bogus {IMG} true"),
        E::Has(&["invalid --security-opt: \"bogus\""]),
        125,
        "",
    );
}

pub(crate) fn masked_paths(c: &Ctx) {
    // Nothing here writes outside the container: the domain name is the
    // container's UTS namespace's, the rest only reads.
    let o = c.same(
        "masked and read-only /proc and /sys",
        &cl!(
            "{RUN} {IMG} sh -c \"wc -c < /proc/kcore; cat /proc/timer_list | wc -c; ls /sys/firmware | wc -l; \
             echo x > /proc/sys/kernel/domainname; echo $?; \
             grep -E ' /proc/(bus|fs|irq|sys|sysrq-trigger) ' /proc/mounts | cut -d' ' -f2,4 | cut -c1-40\""
        ),
        E::Exact,
    );
    c.expect(Side::Docker, o[0].code == Some(0), || format!("{:?}", o[0]));
}
