//! Pods and Deployments run by `skiff serve`'s kubelet and controllers, as a
//! user checks them with kubectl: pods Running and Ready, containers of a
//! pod sharing its network, restarts with the kubelet's back-off and their
//! last state, restart policies, init containers, ConfigMaps and Secrets in
//! the environment and in files, claims, liveness probes, deletion with its
//! grace period, the node and the scheduler, images that cannot be had.
//! Workloads are in kube_workloads.rs. Each test has its own store and
//! network namespace (see kube_env); manifests are in tests/kube/pods/.

mod kube_env;

use kube_env::Kube;
use serde_json::Value;
use std::time::{Duration, Instant};

fn status(pod: &Value, container: &str) -> Value {
    pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == container))
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn a_pods_containers_share_its_network_and_see_its_fields() {
    let k = Kube::new();
    assert_eq!(k.apply("pods/two-containers.yaml"), "pod/duo created\n");
    let pod = k.ready("duo", 30);
    assert_eq!(pod["status"]["phase"], "Running");
    let ip = pod["status"]["podIP"].as_str().unwrap().to_string();
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
    for c in ["web", "sidecar"] {
        let s = status(&pod, c);
        assert_eq!(s["ready"], true, "{c}: {s}");
        assert_eq!(s["restartCount"], 0);
        assert!(s["state"]["running"]["startedAt"].is_string(), "{s}");
    }
    let table = k.ok(&["get", "pods"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..4], ["duo", "2/2", "Running", "0"], "{table}");

    // The sidecar fetched the web server's page through localhost.
    k.until(10, "the sidecar's fetch", || {
        let o = k.run(&["exec", "duo", "-c", "sidecar", "--", "cat", "/tmp/got"]);
        String::from_utf8_lossy(&o.stdout) == "hello from busybox\n"
    });
    let env = k.ok(&["exec", "duo", "-c", "sidecar", "--", "env"]);
    assert!(env.contains("MY_POD=duo\n"), "{env}");
    assert!(env.contains(&format!("MY_IP={ip}\n")), "{env}");
    assert!(env.contains("GREETING=hi duo\n"), "{env}");
    // Both containers see one network: the same address on eth0.
    for c in ["web", "sidecar"] {
        let addr = k.ok(&[
            "exec", "duo", "-c", c, "--", "ip", "-4", "-o", "addr", "show", "eth0",
        ]);
        assert!(addr.contains(&format!("inet {ip}/")), "{c}: {addr}");
    }
    // Without -c, kubectl's default container, and its note.
    let o = k.run(&["exec", "duo", "--", "hostname"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "duo\n");
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("Defaulted container \"web\" out of: web, sidecar"));
    // The pod is reachable from the node at its IP.
    let page = k.ok(&[
        "exec",
        "duo",
        "-c",
        "sidecar",
        "--",
        "wget",
        "-qO-",
        &format!("http://{ip}:8080/index.html"),
    ]);
    assert_eq!(page, "hello from busybox\n");
    k.fails(
        &["exec", "duo", "-c", "nope", "--", "true"],
        "container nope is not valid for pod duo",
    );
    k.fails(
        &["logs", "nothere"],
        "Error from server (NotFound): pods \"nothere\" not found",
    );

    // Deleted: the containers stop within the grace period, the pod goes.
    let t = Instant::now();
    assert_eq!(k.ok(&["delete", "pod", "duo"]), "pod \"duo\" deleted\n");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    k.fails(&["get", "pod", "duo"], "pods \"duo\" not found");
    let left = k.skiff_ok(&["ps", "-aq"]);
    assert_eq!(left, "", "containers left behind");
}

#[test]
fn a_crashing_container_backs_off_as_the_kubelet_does() {
    let k = Kube::new();
    k.apply("pods/crash.yaml");
    // The first restart comes at once, the second after ten seconds.
    let mut first_restart = None;
    k.until(30, "the first restart", || {
        let s = status(&k.pod("crasher"), "c");
        if s["restartCount"].as_i64() >= Some(1) {
            first_restart = Some(Instant::now());
            true
        } else {
            false
        }
    });
    let pod = k.pod("crasher");
    let s = status(&pod, "c");
    let term = &s["lastState"]["terminated"];
    assert_eq!(term["exitCode"], 3, "{s}");
    assert_eq!(term["reason"], "Error");
    k.until(10, "CrashLoopBackOff", || {
        let s = status(&k.pod("crasher"), "c");
        s["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    });
    let s = status(&k.pod("crasher"), "c");
    let msg = s["state"]["waiting"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("back-off 10s restarting failed container=c pod=crasher_default("),
        "{msg}"
    );
    let table = k.ok(&["get", "pod", "crasher"]);
    assert!(table.contains("CrashLoopBackOff"), "{table}");
    k.until(30, "the second restart", || {
        status(&k.pod("crasher"), "c")["restartCount"].as_i64() >= Some(2)
    });
    let waited = first_restart.unwrap().elapsed();
    assert!(
        waited >= Duration::from_secs(9),
        "restarted again after {waited:?}"
    );
    // logs: the current attempt's, and the previous one's.
    assert_eq!(k.ok(&["logs", "crasher"]), "attempt\n");
    assert_eq!(k.ok(&["logs", "crasher", "--previous"]), "attempt\n");
    // describe: the state, the last state, the events.
    let d = k.ok(&["describe", "pod", "crasher"]);
    for want in [
        "Name:             crasher\n",
        "Namespace:        default\n",
        "    Last State:     Terminated\n",
        "      Exit Code:    3\n",
        "Events:\n",
        "default-scheduler  Successfully assigned default/crasher to ",
        "kubelet            Started container c",
        "Back-off restarting failed container c in pod crasher_default(",
    ] {
        assert!(d.contains(want), "{want:?} not in:\n{d}");
    }
    // Only two attempts are kept.
    let names = k.skiff_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(
        names
            .lines()
            .filter(|n| n.starts_with("k8s_c_crasher"))
            .count(),
        2,
        "{names}"
    );
    k.ok(&["delete", "pod", "crasher"]);
}

#[test]
fn restart_policies_finish_pods() {
    let k = Kube::new();
    k.apply("pods/run-once.yaml");
    k.until(30, "both pods finished", || {
        let a = k.pod("fails-once");
        let b = k.pod("succeeds");
        a["status"]["phase"] == "Failed" && b["status"]["phase"] == "Succeeded"
    });
    let s = status(&k.pod("fails-once"), "c");
    assert_eq!(s["state"]["terminated"]["exitCode"], 7, "{s}");
    assert_eq!(s["restartCount"], 0);
    let s = status(&k.pod("succeeds"), "c");
    assert_eq!(s["state"]["terminated"]["reason"], "Completed", "{s}");
    let t = k.ok(&["get", "pods"]);
    assert!(
        t.lines()
            .any(|l| l.starts_with("fails-once") && l.contains(" Error ")),
        "{t}"
    );
    assert!(
        t.lines()
            .any(|l| l.starts_with("succeeds") && l.contains(" Completed ")),
        "{t}"
    );
    assert_eq!(k.ok(&["logs", "succeeds"]), "done\n");
    // A finished pod's sandbox is stopped; its containers stay for logs.
    k.until(10, "the sandboxes stopped", || {
        k.skiff_ok(&["ps", "--format", "{{.Names}}"])
            .trim()
            .is_empty()
    });
}

#[test]
fn init_containers_configmaps_and_secrets() {
    let k = Kube::new();
    k.apply("pods/init-and-volumes.yaml");
    let pod = k.ready("prepared", 30);
    let inits = pod["status"]["initContainerStatuses"].as_array().unwrap();
    assert_eq!(inits.len(), 2);
    for s in inits {
        assert_eq!(s["state"]["terminated"]["reason"], "Completed", "{s}");
    }
    let exec = |cmd: &[&str]| {
        let mut a = vec!["exec", "prepared", "--"];
        a.extend(cmd);
        k.ok(&a)
    };
    assert_eq!(exec(&["cat", "/work/order"]), "one\ntwo\n");
    let env = exec(&["env"]);
    for want in ["COLOUR=blue\n", "TOKEN=t0k3n\n", "CFG_colour=blue\n"] {
        assert!(env.contains(want), "{want} not in {env}");
    }
    assert_eq!(
        exec(&["cat", "/etc/app/props/app.properties"]),
        "mode=fast\n"
    );
    assert_eq!(exec(&["cat", "/etc/secret/token"]), "t0k3n");
    assert_eq!(exec(&["stat", "-c", "%a", "/etc/secret/token"]), "400\n");
    // Mounted read-only.
    let o = k.run(&["exec", "prepared", "--", "touch", "/etc/app/x"]);
    assert!(!o.status.success());
}

#[test]
fn a_missing_configmap_holds_the_pod_until_it_exists() {
    let k = Kube::new();
    k.apply("pods/missing-config.yaml");
    k.until(20, "CreateContainerConfigError", || {
        let s = status(&k.pod("waits-for-config"), "c");
        s["state"]["waiting"]["reason"] == "CreateContainerConfigError"
            && s["state"]["waiting"]["message"] == "configmap \"later\" not found"
    });
    let t = k.ok(&["get", "pods"]);
    assert!(t.contains("CreateContainerConfigError"), "{t}");
    k.apply_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later}\ndata: {value: here}\n");
    k.ready("waits-for-config", 20);
    assert_eq!(
        k.ok(&["exec", "waits-for-config", "--", "sh", "-c", "echo $LATER"]),
        "here\n"
    );
}

#[test]
fn a_failing_liveness_probe_restarts_the_container() {
    let k = Kube::new();
    k.apply("pods/liveness.yaml");
    k.until(40, "a restart by the liveness probe", || {
        status(&k.pod("unhealthy"), "c")["restartCount"].as_i64() >= Some(1)
    });
    let s = status(&k.pod("unhealthy"), "c");
    let last = &s["lastState"]["terminated"];
    assert_eq!(last["exitCode"], 137, "{s}");
    assert_eq!(last["reason"], "Error");
    let d = k.ok(&["describe", "pod/unhealthy"]);
    assert!(
        d.contains(
            "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory"
        ),
        "{d}"
    );
    assert!(
        d.contains("Container c failed liveness probe, will be restarted"),
        "{d}"
    );
    assert!(d.contains("    Liveness:       exec [cat /tmp/healthy] delay=0s timeout=1s period=1s #success=1 #failure=2\n"), "{d}");
}

#[test]
fn a_claims_data_outlives_its_pod() {
    let k = Kube::new();
    k.apply("pods/claim.yaml");
    k.ready("writer", 30);
    let pvc = k.json(&["get", "pvc", "data"]);
    assert_eq!(pvc["status"]["phase"], "Bound", "{pvc}");
    assert_eq!(pvc["status"]["capacity"]["storage"], "1Gi");
    let volume = pvc["spec"]["volumeName"].as_str().unwrap().to_string();
    let row = k.ok(&["get", "pvc", "data", "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cols[..5],
        ["data", "Bound", volume.as_str(), "1Gi", "RWO"],
        "{row}"
    );
    k.until(10, "the file written", || {
        String::from_utf8_lossy(&k.run(&["exec", "writer", "--", "cat", "/data/file"]).stdout)
            == "kept\n"
    });
    k.ok(&["delete", "pod", "writer"]);
    // A new pod on the same claim reads what the first wrote.
    let reader = std::fs::read_to_string(kube_env::manifest("pods/claim.yaml"))
        .unwrap()
        .split("---")
        .nth(1)
        .unwrap()
        .replace("name: writer", "name: reader")
        .replace("echo kept > /data/file; ", "");
    k.apply_text(&reader);
    k.ready("reader", 30);
    assert_eq!(
        k.ok(&["exec", "reader", "--", "cat", "/data/file"]),
        "kept\n"
    );
    // The claim deleted (and no pod on it): its volume goes.
    k.ok(&["delete", "pod", "reader"]);
    k.ok(&["delete", "pvc", "data"]);
    k.until(20, "the claim's volume removed", || {
        !k.skiff_ok(&["volume", "ls", "-q"]).contains(&volume)
    });
}

#[test]
fn the_node_and_pods_too_big_for_it() {
    let k = Kube::new();
    k.apply_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: start}\n");
    k.until(10, "the node", || {
        k.json(&["get", "nodes"])["items"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    });
    let node = &k.json(&["get", "nodes"])["items"][0];
    let alloc = node["status"]["allocatable"]["cpu"]
        .as_str()
        .unwrap()
        .trim_end_matches('m')
        .parse::<i64>()
        .unwrap();
    assert!(alloc > 0, "{node}");
    assert_eq!(node["metadata"]["labels"]["kubernetes.io/os"], "linux");
    let row = k.ok(&["get", "nodes", "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1], "Ready", "{row}");
    assert_eq!(cols[4], "v1.35.0-skiff", "{row}");

    // Two pods that each want 60% of the CPU: the second waits.
    let pod = |name: &str, cpu: i64| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n    image: busybox:1.36\n    command: [sleep, '600']\n    resources:\n      requests: {{cpu: {cpu}m}}\n"
        )
    };
    let big = alloc * 6 / 10;
    k.apply_text(&pod("first", big));
    k.ready("first", 30);
    k.apply_text(&pod("second", big));
    let msg = "0/1 nodes are available: 1 Insufficient cpu.";
    k.until(10, "second unschedulable", || {
        let p = k.pod("second");
        p["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter().any(|c| {
                c["type"] == "PodScheduled"
                    && c["reason"] == "Unschedulable"
                    && c["message"].as_str().is_some_and(|m| m.starts_with(msg))
            })
        })
    });
    let row = k.ok(&["get", "pod", "second", "--no-headers"]);
    assert!(row.contains(" Pending "), "{row}");
    let events = k.ok(&["get", "events"]);
    assert!(
        events.contains("FailedScheduling") && events.contains(msg),
        "{events}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(k.pod("second")["spec"]["nodeName"].is_null());
    // Room made: it is placed and runs.
    k.ok(&["delete", "pod", "first"]);
    k.ready("second", 30);

    // A pod for another node waits for ever.
    k.apply_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: elsewhere}\nspec:\n  nodeSelector: {disktype: ssd}\n  containers:\n  - {name: c, image: busybox:1.36}\n",
    );
    k.until(10, "elsewhere unschedulable", || {
        k.pod("elsewhere")["status"]["conditions"][0]["message"]
            .as_str()
            .is_some_and(|m| {
                m.starts_with(
                    "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
                )
            })
    });
}

#[test]
fn images_that_cannot_be_had_and_probes_that_find_nothing() {
    let k = Kube::new();
    k.apply("pods/bad-images.yaml");
    let waiting = |pod: &str| status(&k.pod(pod), "c")["state"]["waiting"].clone();
    k.until(30, "ImagePullBackOff", || {
        waiting("no-such-image")["reason"] == "ImagePullBackOff"
    });
    let w = waiting("no-such-image");
    assert_eq!(
        w["message"], "Back-off pulling image \"127.0.0.1:9/nothing/here:1\"",
        "{w}"
    );
    let t = k.ok(&["get", "pod", "no-such-image"]);
    assert!(t.contains("ImagePullBackOff"), "{t}");
    k.until(30, "ErrImageNeverPull", || {
        let w = waiting("never-pulled");
        w["reason"] == "ErrImageNeverPull" || w["reason"] == "ImagePullBackOff"
    });
    // Running but never ready: nothing answers the probe.
    k.until(30, "deaf running", || {
        status(&k.pod("deaf"), "c")["state"]["running"].is_object()
    });
    std::thread::sleep(Duration::from_secs(3));
    let p = k.pod("deaf");
    assert_eq!(p["status"]["phase"], "Running");
    assert_eq!(status(&p, "c")["ready"], false, "{p}");
    let row = k.ok(&["get", "pod", "deaf", "--no-headers"]);
    assert!(
        row.starts_with("deaf") && row.split_whitespace().nth(1) == Some("0/1"),
        "{row}"
    );
}

#[test]
fn a_pods_process_killed_with_sigkill_is_restarted() {
    let k = Kube::new();
    k.apply_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: victim}\nspec:\n  terminationGracePeriodSeconds: 0\n  containers:\n  - {name: c, image: busybox:1.36, command: [sleep, '600']}\n",
    );
    let first = status(&k.ready("victim", 30), "c")["containerID"].clone();
    let pid = k.container_pid("victim", "c");
    // SAFETY: killing this test's own container's process.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    k.until(30, "the container restarted", || {
        let s = status(&k.pod("victim"), "c");
        s["restartCount"] == 1 && s["state"]["running"].is_object()
    });
    let s = status(&k.pod("victim"), "c");
    assert_eq!(s["lastState"]["terminated"]["exitCode"], 137, "{s}");
    assert_ne!(s["containerID"], first, "{s}");
}
