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

pub(crate) fn cpu_period_quota_reservation_and_update(c: &Ctx) {
    let cat = "cat /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us \
               /sys/fs/cgroup/memory/memory.soft_limit_in_bytes /sys/fs/cgroup/cpuset/cpuset.mems";
    cgroup_value(
        c,
        "inside",
        &cl!(&format!(
            "{{RUN}} --cpu-period 50000 --cpu-quota 25000 -m 64m --memory-reservation 32m \
             --cpuset-mems 0 {{IMG}} {cat}"
        )),
        "50000\n25000\n33554432\n0\n",
    );
    let n = c.name("upd");
    c.setup(&cl!(
        "run -d --network none --name {n} --cpu-period 50000 --cpu-quota 25000 -m 64m \
         --memory-reservation 32m --cpuset-mems 0 {IMG} sleep 60",
        n
    ));
    let fields = "{{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.MemoryReservation}} {{.HostConfig.CpusetMems}} {{.HostConfig.Memory}}";
    c.same_want(
        "inspect",
        &cl!(&format!("inspect -f '{fields}' {{n}}"), n),
        E::Exact,
        0,
        "50000 25000 33554432 0 67108864\n",
    );
    c.same_want(
        "update",
        &cl!(
            "update --cpu-quota 75000 --memory-reservation 48m -m 96m --memory-swap 192m {n}",
            n
        ),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    c.same_want(
        "inspect after update",
        &cl!(&format!("inspect -f '{fields}' {{n}}"), n),
        E::Exact,
        0,
        "50000 75000 50331648 0 100663296\n",
    );
    cgroup_value(
        c,
        "inside after update",
        &cl!(&format!("exec {{n}} {cat}"), n),
        "50000\n75000\n50331648\n0\n",
    );
    c.same_want(
        "update --cpus where a period is set",
        &cl!("update --cpus 1 {n}", n),
        E::Has(&[
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set",
        ]),
        1,
        "",
    );
    for (flags, err) in [
        (
            "--cpu-period 500",
            "CPU cfs period can not be less than 1ms",
        ),
        ("--cpu-quota 500", "CPU cfs quota can not be less than 1ms"),
        (
            "--cpus 1 --cpu-period 50000",
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (
            "-m 16m --memory-reservation 32m",
            "Minimum memory limit can not be less than memory reservation limit",
        ),
        (
            "--cpuset-mems 9",
            "Requested memory nodes are not available - requested 9",
        ),
    ] {
        c.same_want(
            flags,
            &cl!(&format!("run --network none {flags} {{IMG}} true")),
            E::Has(&[err]),
            125,
            "",
        );
    }
}

pub(crate) fn blkio_weight(c: &Ctx) {
    // This host's kernel has no blkio weight: Docker warns and drops it,
    // whatever the value (its range is checked only where it applies).
    let (n, n5) = (c.name("blkio"), c.name("blkio5"));
    for (flags, name) in [("--blkio-weight 300", &n), ("--blkio-weight 5", &n5)] {
        c.same_want(
            flags,
            &cl!(&format!("{{CREATE}} --name {name} {flags} {{IMG}} true")),
            E::Has(&["WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."]),
            0,
            "<id>\n",
        );
    }
    c.same_want(
        "inspect",
        &cl!("inspect -f '{{.HostConfig.BlkioWeight}}' {n}", n),
        E::Exact,
        0,
        "0\n",
    );
    // update drops it too: the name, then the warning, both on stdout.
    c.same_want(
        "update --blkio-weight",
        &cl!("update --blkio-weight 300 {n}", n),
        E::Exact,
        0,
        &format!("{n}\nYour kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.\n"),
    );
    c.same_want(
        "inspect after update",
        &cl!("inspect -f '{{.HostConfig.BlkioWeight}}' {n}", n),
        E::Exact,
        0,
        "0\n",
    );
    // 0 leaves it as it is (no warning); a negative weight is no uint16.
    c.same_want(
        "update --blkio-weight 0",
        &cl!("update --blkio-weight 0 {n}", n),
        E::Exact,
        0,
        &format!("{n}\n"),
    );
    let neg = c.name("blkio-neg");
    c.same_want(
        "--blkio-weight -1",
        &cl!(&format!("{{CREATE}} --name {neg} --blkio-weight -1 {{IMG}} true")),
        E::Has(&["invalid argument \"-1\" for \"--blkio-weight\" flag: strconv.ParseUint: parsing \"-1\": invalid syntax"]),
        125,
        "",
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
