//! Parity scenarios: Resources

use crate::*;

/// Compare a cgroup file read from inside when Docker shows it; else check
/// skiff shows the value expected.
pub(crate) fn cgroup_value(c: &Ctx, step: &str, a: &[String], want: &str) {
    let o = c.both(a);
    if o[0].code == Some(0) {
        c.check(step, a, &o, E::Exact);
        c.want(step, &o, 0, want);
    } else {
        // Docker's container does not show this cgroup v1 file here.
        c.expect(
            Side::Skiff,
            o[1].code == Some(0) && o[1].out == want,
            || {
                format!(
                    "{step}: exit {:?}, {:?} (expected {want:?})",
                    o[1].code, o[1].out
                )
            },
        );
    }
}

pub(crate) fn memory_limits_inside(c: &Ctx) {
    let cat = "{IMG} cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes";
    for (flags, want) in [
        ("-m 32m", "33554432\n67108864\n"),
        ("-m 32m --memory-swap 48m", "33554432\n50331648\n"),
        ("-m 32m --memory-swap -1", "33554432\n9223372036854771712\n"),
    ] {
        cgroup_value(c, flags, &cl!(&format!("{{RUN}} {flags} {cat}")), want);
    }
    let n = c.name("meminspect");
    c.setup(&cl!(
        "{CREATE} --name {n} -m 32m --memory-swap 48m {IMG} true",
        n
    ));
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}' {n}",
            n
        ),
        E::Exact,
        0,
        "33554432 50331648\n",
    );
}

pub(crate) fn oom_kill(c: &Ctx) {
    let n = c.name("oom");
    c.same_want(
        "tail /dev/zero under 16m",
        &cl!(
            "run --network none --name {n} -m 16m --memory-swap 16m {IMG} tail /dev/zero",
            n
        ),
        E::Any,
        137,
        "",
    );
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}}' {n}",
            n
        ),
        E::Exact,
        0,
        "true 137 exited\n",
    );
    c.same_want(
        "ps --filter exited=137",
        &cl!(
            "ps -a --filter exited=137 --filter name={n} --format '{{.Names}} {{.Status}}'",
            n
        ),
        E::Exact,
        0,
        &format!("{n} Exited (137) <dur> ago\n"),
    );
}

pub(crate) fn memory_validation(c: &Ctx) {
    for (flags, phrase) in [
        ("-m lots", "invalid size: 'lots'"),
        ("-m 1m", "Minimum memory limit allowed is 6MB"),
        (
            "-m 10m --memory-swap 5m",
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            "--memory-swap 10m",
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
    ] {
        c.same_want(
            flags,
            &cl!(&format!("{{RUN}} {flags} {{IMG}} true")),
            E::Has(&[phrase]),
            125,
            "",
        );
    }
}

pub(crate) fn pids_limit(c: &Ctx) {
    c.same_want(
        "--pids-limit 5",
        &cl!(
            "{RUN} --pids-limit 5 {IMG} sh -c 'cat /sys/fs/cgroup/pids/pids.max; \
             i=0; while [ $i -lt 10 ]; do sleep 5 & i=$((i+1)); done; echo survived'"
        ),
        E::Has(&["can't fork"]),
        2,
        "5\n",
    );
    let n = c.name("pids");
    c.setup(&cl!("{CREATE} --name {n} --pids-limit 50 {IMG} true", n));
    c.same_want(
        "PidsLimit",
        &cl!("inspect -f '{{.HostConfig.PidsLimit}}' {n}", n),
        E::Exact,
        0,
        "50\n",
    );
}

pub(crate) fn cpu_settings(c: &Ctx) {
    cgroup_value(
        c,
        "inside",
        &cl!(
            "{RUN} --cpus 1.5 --cpu-shares 512 --cpuset-cpus 0 {IMG} cat \
             /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us \
             /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpuset/cpuset.cpus"
        ),
        "150000\n100000\n512\n0\n",
    );
    let n = c.name("cpu");
    c.setup(&cl!(
        "{CREATE} --name {n} --cpus 1.5 -c 512 --cpuset-cpus 0 {IMG} true",
        n
    ));
    c.same_want(
        "inspect",
        &cl!(
            "inspect -f '{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}}' {n}",
            n
        ),
        E::Exact,
        0,
        "1500000000 512 0\n",
    );
}

pub(crate) fn cpu_validation(c: &Ctx) {
    // Docker checks the CPUs asked for against the host's, and creates
    // nothing when they are not there.
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let many = (ncpu + 3).to_string();
    let n = c.name("cpus-many");
    c.same_want(
        "--cpus above the host's",
        &cl!(
            "run --network none --name {n} --cpus {many} {IMG} true",
            n,
            many
        ),
        E::Has(&["Range of CPUs is from 0.01 to"]),
        125,
        "",
    );
    let n2 = c.name("cpuset-99");
    c.same_want(
        "--cpuset-cpus 99",
        &cl!(
            "run --network none --name {n2} --cpuset-cpus 99 {IMG} true",
            n2
        ),
        E::Has(&["Requested CPUs are not available - requested 99"]),
        125,
        "",
    );
    c.same_want(
        "nothing created",
        &cl!("ps -aq --filter name=px-cpus"),
        E::Exact,
        0,
        "",
    );
}

pub(crate) fn ulimits_inside(c: &Ctx) {
    c.same_want(
        "--ulimit",
        &cl!(
            "{RUN} --ulimit nofile=512:1024 --ulimit nproc=100 {IMG} sh -c \
             'ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu'"
        ),
        E::Exact,
        0,
        "512\n1024\n100\n100\n",
    );
    c.same(
        "defaults",
        &cl!("{RUN} {IMG} sh -c 'ulimit -n; ulimit -Hn; ulimit -u; ulimit -c; ulimit -s'"),
        E::Exact,
    );
}

pub(crate) fn ulimits_inspect(c: &Ctx) {
    let n = c.name("ulimitinspect");
    c.setup(&cl!(
        "{CREATE} --name {n} --ulimit nofile=512:1024 {IMG} true",
        n
    ));
    c.same_want(
        "HostConfig.Ulimits",
        &cl!(
            "inspect -f '{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}}{{end}}' {n}",
            n
        ),
        E::Exact,
        0,
        "nofile=512:1024\n",
    );
}

pub(crate) fn ulimit_validation(c: &Ctx) {
    for (u, phrase) in [
        (
            "nofile=10:5",
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5",
        ),
        ("bogus", "invalid ulimit argument: bogus"),
    ] {
        c.same_want(
            u,
            &cl!("{RUN} --ulimit {u} {IMG} true", u),
            E::Has(&[phrase]),
            125,
            "",
        );
    }
}
