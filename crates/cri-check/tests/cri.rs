//! The CRI tier: containerd's CRI plugin runs pods on skiff-runtime (the
//! `skiff` runtime handler, under containerd's runc v2 shim) and on runc,
//! driven as kubelet drives a node: each step checks what kubelet would
//! check, and the two handlers' observations must agree.
//!
//! Each test has its own network namespace (containerd, its pods' bridge,
//! its streaming server and the registry live there), its own containerd
//! (socket, root, state, runtime roots under a temporary directory) and its
//! own cgroup parents; whatever a failed step leaves is stopped and removed.

mod lifecycle;

use lifecycle::{cleanup, run_pod, stop_right_after_exit, Env};

fn agree(a: &[(String, String)], b: &[(String, String)], a_name: &str, b_name: &str) {
    let mut diffs = vec![];
    for (i, (step, va)) in a.iter().enumerate() {
        match b.get(i) {
            Some((s, vb)) if s == step && va == vb => {}
            Some((s, vb)) => {
                diffs.push(format!("{step}: {a_name} {va:?}\n    {s}: {b_name} {vb:?}"))
            }
            None => diffs.push(format!(
                "{step}: {a_name} {va:?}, {b_name} has no such step"
            )),
        }
    }
    if b.len() > a.len() {
        diffs.push(format!("{b_name} has more steps: {:?}", &b[a.len()..]));
    }
    assert!(
        diffs.is_empty(),
        "{a_name} and {b_name} disagree:\n  {}",
        diffs.join("\n  ")
    );
}

fn observe(env: &Env, handler: &str) -> Vec<(String, String)> {
    let r = run_pod(env, handler);
    cleanup(env, handler);
    match r {
        Ok(obs) => obs,
        Err(e) => panic!(
            "handler {handler}: {e}\ncontainerd's log ends:\n{}",
            env.node.log_tail(30)
        ),
    }
}

#[test]
fn kubelets_sequence_runs_alike_on_skiff_and_runc() {
    let env = Env::new(false);
    let skiff = observe(&env, "skiff");
    let runc = observe(&env, "runc");
    agree(&skiff, &runc, "skiff", "runc");
}

#[test]
fn a_pod_stops_right_after_its_container_exits() {
    let env = Env::new(false);
    for handler in ["skiff", "runc"] {
        // A few times: the race it checks is won one way or the other.
        for _ in 0..3 {
            let r = stop_right_after_exit(&env, handler);
            cleanup(&env, handler);
            if let Err(e) = r {
                panic!(
                    "handler {handler}: {e}\ncontainerd's log ends:\n{}",
                    env.node.log_tail(30)
                );
            }
        }
    }
}

#[test]
fn systemd_cgroup_paths_with_the_skiff_handler() {
    // SystemdCgroup = true: the shim passes --systemd-cgroup and cgroup
    // paths as `SLICE:cri-containerd:ID`. With no systemd as PID 1 here,
    // skiff-runtime places them where systemd would (SLICE/cri-containerd-ID.scope);
    // runc's systemd driver needs systemd on D-Bus, so runc is not run here.
    let env = Env::new(true);
    let obs = observe(&env, "skiff");
    let cg = obs
        .iter()
        .find(|(s, _)| s == "cgroup path")
        .map(|(_, v)| v.clone())
        .expect("the sequence records the cgroup path");
    assert!(
        cg.ends_with(".slice/cri-containerd-ID.scope"),
        "the container's cgroup: {cg}"
    );
}
