//! Workloads run by `skiff serve`'s controllers, as a user checks them with
//! kubectl: Deployments' replicas and rolling updates, rollout and scale,
//! Jobs, HorizontalPodAutoscalers, and the faults a serve must survive (a
//! SIGKILL mid-rollout, a reboot, a hundred applies in a row). Each test has
//! its own store and network namespace (see kube_env); manifests are in
//! tests/kube/.

mod kube_env;

use kube_env::Kube;
use serde_json::Value;
use std::time::Duration;

/// The names of the pods of app `web` that are not terminating.
fn web_pods(k: &Kube) -> Vec<Value> {
    k.json(&["get", "pods", "-l", "app=web"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .cloned()
        .collect()
}

#[test]
fn a_deployment_keeps_its_replicas_and_rolls_out_a_change() {
    let k = Kube::new();
    assert_eq!(
        k.apply("pods/deployment.yaml"),
        "deployment.apps/web created\n"
    );
    let ready = |k: &Kube| -> Vec<String> {
        let list = k.json(&["get", "pods", "-l", "app=web"]);
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                p["metadata"]["deletionTimestamp"].is_null()
                    && p["status"]["conditions"].as_array().is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
            })
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    k.until(60, "three ready replicas", || ready(&k).len() == 3);
    // The Deployment's status follows its pods' on the controllers' next
    // pass.
    k.until(10, "the deployment's status", || {
        k.json(&["get", "deploy", "web"])["status"]["readyReplicas"] == 3
    });
    let d = k.json(&["get", "deploy", "web"]);
    assert_eq!(d["status"]["readyReplicas"], 3);
    assert_eq!(d["status"]["availableReplicas"], 3);
    let rs = k.json(&["get", "rs", "-l", "app=web"]);
    let items = rs["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let hash = items[0]["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(items[0]["metadata"]["name"], format!("web-{hash}"));
    assert_eq!(
        items[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let row = k.ok(&["get", "deploy", "web", "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[..4], ["web", "3/3", "3", "3"], "{row}");

    // A replica deleted by hand is replaced.
    let victim = ready(&k)[0].clone();
    k.ok(&["delete", "pod", &victim, "--wait=false"]);
    k.until(30, "a replacement", || {
        let r = ready(&k);
        r.len() == 3 && !r.contains(&victim)
    });

    // A new template rolls out: at least replicas - maxUnavailable (3 - 0,
    // 25% of 3 rounded down) stay ready throughout.
    let text = std::fs::read_to_string(kube_env::manifest("pods/deployment.yaml"))
        .unwrap()
        .replace("value: \"1\"", "value: \"2\"");
    let before: Vec<String> = ready(&k);
    k.apply_text(&text);
    let mut lowest = 3;
    k.until(60, "the rollout", || {
        let r = ready(&k);
        lowest = lowest.min(r.len());
        let d = k.json(&["get", "deploy", "web"]);
        d["status"]["updatedReplicas"] == 3
            && d["status"]["replicas"] == 3
            && d["status"]["availableReplicas"] == 3
            && r.len() == 3
            && r.iter().all(|p| !before.contains(p))
    });
    assert!(
        lowest >= 3,
        "ready replicas dropped to {lowest} during the rollout"
    );
    let d = k.json(&["get", "deploy", "web"]);
    assert_eq!(d["metadata"]["generation"], 2);
    assert_eq!(d["status"]["observedGeneration"], 2);
    let progressing = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap()
        .clone();
    assert_eq!(
        progressing["reason"], "NewReplicaSetAvailable",
        "{progressing}"
    );
    let rs = k.json(&["get", "rs", "-l", "app=web"]);
    let revisions: Vec<(String, i64)> = rs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                r["spec"]["replicas"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        revisions.contains(&("1".into(), 0)) && revisions.contains(&("2".into(), 3)),
        "{revisions:?}"
    );
    let events = k.ok(&["get", "events"]);
    assert!(events.contains("Scaled up replica set web-"), "{events}");

    // Scaled down by a new spec.
    k.apply_text(&text.replace("replicas: 3", "replicas: 1"));
    k.until(30, "one replica", || {
        let n = k.json(&["get", "pods", "-l", "app=web"])["items"]
            .as_array()
            .unwrap()
            .len();
        n == 1 && ready(&k).len() == 1
    });

    // Deleted: its ReplicaSets and pods go, and their containers.
    k.ok(&["delete", "deploy", "web"]);
    k.until(30, "everything gone", || {
        k.everything().is_empty() && k.skiff_ok(&["ps", "-aq"]).is_empty()
    });
}

#[test]
fn pods_outlive_serve_and_a_new_serve_carries_on() {
    let k = Kube::new();
    k.apply("pods/deployment.yaml");
    k.until(60, "three ready pods", || {
        k.json(&["get", "deploy", "web"])["status"]["readyReplicas"] == 3
    });
    let pods = k.ok(&["get", "pods", "-o", "name"]);
    let containers = k.skiff_ok(&["ps", "-q"]);
    k.stop_serve(libc::SIGKILL);
    assert!(k.serve_pid().is_none());
    std::thread::sleep(Duration::from_millis(500));
    // Still running without it.
    assert_eq!(k.skiff_ok(&["ps", "-q"]), containers);
    // The next change starts a serve, which adds nothing that was there.
    k.apply_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: poke}\n");
    assert!(k.serve_pid().is_some());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(k.ok(&["get", "pods", "-o", "name"]), pods);
    assert_eq!(k.skiff_ok(&["ps", "-q"]), containers);
}

#[test]
fn rollout_status_history_undo_pause_and_scale() {
    let k = Kube::new();
    k.apply("pods/deployment.yaml");
    let out = k.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    assert!(
        out.ends_with("deployment \"web\" successfully rolled out\n"),
        "{out}"
    );
    let text = std::fs::read_to_string(kube_env::manifest("pods/deployment.yaml"))
        .unwrap()
        .replace("value: \"1\"", "value: \"2\"");
    k.apply_text(&text);
    let out = k.ok(&["rollout", "status", "deploy/web", "--timeout", "60s"]);
    assert!(out.contains("Waiting for "), "{out}");
    assert!(
        out.ends_with("deployment \"web\" successfully rolled out\n"),
        "{out}"
    );
    let h = k.ok(&["rollout", "history", "deployment/web"]);
    assert_eq!(
        h,
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    );

    // Undo: the first template again, as revision 3.
    assert_eq!(
        k.ok(&["rollout", "undo", "deployment/web"]),
        "deployment.apps/web rolled back\n"
    );
    k.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    let d = k.json(&["get", "deploy", "web"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "1"
    );
    assert!(d["spec"]["template"]["metadata"]["labels"]["pod-template-hash"].is_null());
    let h = k.ok(&["rollout", "history", "deployment/web"]);
    assert!(h.contains("\n2         <none>\n3         <none>\n"), "{h}");
    k.fails(
        &["rollout", "undo", "deployment/web", "--to-revision=9"],
        "unable to find specified revision 9 in history",
    );

    // Paused: a new template waits; resumed, it rolls out.
    assert_eq!(
        k.ok(&["rollout", "pause", "deployment/web"]),
        "deployment.apps/web paused\n"
    );
    k.fails(&["rollout", "pause", "deployment/web"], "is already paused");
    k.apply_text(&text.replace("value: \"2\"", "value: \"4\""));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        k.json(&["get", "rs", "-l", "app=web"])["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    k.ok(&["rollout", "resume", "deployment/web"]);
    k.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    assert_eq!(
        k.json(&["get", "rs", "-l", "app=web"])["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Restart: the same template rolled out anew.
    let before: Vec<String> = k.json(&["get", "pods", "-l", "app=web"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        k.ok(&["rollout", "restart", "deployment/web"]),
        "deployment.apps/web restarted\n"
    );
    k.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    k.until(30, "only new pods", || {
        let now: Vec<String> = k.json(&["get", "pods", "-l", "app=web"])["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        now.len() == 3 && now.iter().all(|p| !before.contains(p))
    });

    // Scale.
    assert_eq!(
        k.ok(&["scale", "deployment/web", "--replicas=5"]),
        "deployment.apps/web scaled\n"
    );
    k.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    assert_eq!(
        k.json(&["get", "deploy", "web"])["status"]["readyReplicas"],
        5
    );
    k.ok(&["scale", "deploy", "web", "--replicas", "1"]);
    k.until(30, "one pod", || {
        k.json(&["get", "pods", "-l", "app=web"])["items"]
            .as_array()
            .unwrap()
            .len()
            == 1
    });
    k.fails(
        &["scale", "deploy/nope", "--replicas=1"],
        "deployments.apps \"nope\" not found",
    );
}

#[test]
fn jobs_complete_fail_time_out_and_expire() {
    let k = Kube::new();
    k.apply("jobs/jobs.yaml");
    let cond = |job: &str, ty: &str| -> Option<Value> {
        let j = k.json(&["get", "job", job]);
        j["status"]["conditions"].as_array().and_then(|c| {
            c.iter()
                .find(|c| c["type"] == ty && c["status"] == "True")
                .cloned()
        })
    };
    // Five completions, never more than two at once.
    let mut most = 0;
    k.until(90, "five completions", || {
        let j = k.json(&["get", "job", "five"]);
        most = most.max(j["status"]["active"].as_i64().unwrap_or(0));
        cond("five", "Complete").is_some()
    });
    assert!(most <= 2, "{most} pods ran at once");
    let j = k.json(&["get", "job", "five"]);
    assert_eq!(j["status"]["succeeded"], 5, "{j}");
    assert!(j["status"]["completionTime"].is_string());
    let pods = k.json(&["get", "pods", "-l", "job-name=five"]);
    assert_eq!(pods["items"].as_array().unwrap().len(), 5);
    let row = k.ok(&["get", "job", "five", "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[..3], ["five", "Complete", "5/5"], "{row}");
    let name = pods["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(k.ok(&["logs", &name]), "working\n");

    // backoffLimit 1: two failures and it fails.
    k.until(90, "the doomed job failed", || {
        cond("doomed", "Failed").is_some()
    });
    let c = cond("doomed", "Failed").unwrap();
    assert_eq!(c["reason"], "BackoffLimitExceeded", "{c}");
    let j = k.json(&["get", "job", "doomed"]);
    assert_eq!(j["status"]["failed"], 2, "{j}");

    // Past its deadline: failed, its pod stopped.
    k.until(30, "the slow job failed", || {
        cond("slow", "Failed").is_some()
    });
    assert_eq!(
        cond("slow", "Failed").unwrap()["reason"],
        "DeadlineExceeded"
    );
    k.until(20, "the slow job's pod gone", || {
        k.json(&["get", "pods", "-l", "job-name=slow"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    });

    // ttlSecondsAfterFinished: the Job and its pod go after it.
    k.until(30, "the brief job expired", || {
        k.run(&["get", "job", "brief"]).status.code() == Some(1)
    });
    k.until(20, "the brief job's pod gone", || {
        k.json(&["get", "pods", "-l", "job-name=brief"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    });
}

#[test]
fn after_a_reboot_system_boot_brings_the_deployments_back() {
    let k = Kube::new();
    k.apply("pods/deployment.yaml");
    k.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    let before: Vec<String> = k.json(&["get", "pods", "-l", "app=web"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    // A "reboot": serve, every supervisor and container process gone at
    // once, the mounts gone, the runroot (a tmpfs at boot) empty.
    k.stop_serve(libc::SIGKILL);
    for id in k.skiff_ok(&["ps", "-q", "--no-trunc"]).split_whitespace() {
        let pid: i32 = k
            .skiff_ok(&["inspect", "-f", "{{.State.Pid}}", id])
            .trim()
            .parse()
            .unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid: i32 = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        for p in [ppid, pid] {
            if p > 1 {
                // SAFETY: killing this test's own supervisors and containers.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    for m in mounts.lines().filter_map(|l| l.split(' ').nth(1)) {
        if m.starts_with(k.root.to_str().unwrap()) {
            let _ = nix::mount::umount2(std::path::Path::new(m), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _ = std::fs::remove_dir_all(&k.runroot);
    k.skiff_ok(&["system", "boot"]);
    assert!(
        k.serve_pid().is_some(),
        "system boot did not start skiff serve"
    );
    // (The status read just now may still be from before the reboot.)
    k.until(60, "three pods running and ready again", || {
        k.skiff_ok(&["ps", "-q"]).lines().count() == 6
            && k.json(&["get", "deploy", "web"])["status"]["readyReplicas"] == 3
    });
    // The same pods, their containers made anew.
    let after: Vec<String> = k.json(&["get", "pods", "-l", "app=web"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(after, before);
    assert_eq!(
        k.skiff_ok(&["ps", "-q"]).lines().count(),
        6,
        "three pods, each with its infra container"
    );
}

#[test]
fn a_serve_killed_mid_rollout_is_finished_by_the_next_without_extra_pods() {
    let k = Kube::new();
    k.apply("pods/deployment.yaml");
    k.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    let text = std::fs::read_to_string(kube_env::manifest("pods/deployment.yaml"))
        .unwrap()
        .replace("value: \"1\"", "value: \"2\"")
        .replace(
            "periodSeconds: 1",
            "periodSeconds: 1\n          initialDelaySeconds: 1",
        );
    k.apply_text(&text);
    // Killed once the new ReplicaSet has begun.
    k.until(30, "the rollout under way", || {
        k.json(&["get", "rs", "-l", "app=web"])["items"]
            .as_array()
            .unwrap()
            .len()
            == 2
    });
    k.stop_serve(libc::SIGKILL);
    let mut most = web_pods(&k).len();
    // Any change starts a new serve, which finishes the rollout.
    k.apply_text(&text);
    k.until(60, "the rollout finished", || {
        most = most.max(web_pods(&k).len());
        let d = k.json(&["get", "deploy", "web"]);
        d["status"]["updatedReplicas"] == 3
            && d["status"]["replicas"] == 3
            && d["status"]["availableReplicas"] == 3
    });
    k.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    // Never more than replicas + maxSurge (25% of 3, rounded up: 1).
    assert!(most <= 4, "{most} pods at once");
    let pods = web_pods(&k);
    assert_eq!(pods.len(), 3);
    let hashes: std::collections::BTreeSet<String> = pods
        .iter()
        .map(|p| {
            p["metadata"]["labels"]["pod-template-hash"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(hashes.len(), 1, "{hashes:?}");
    let env = k.ok(&[
        "exec",
        pods[0]["metadata"]["name"].as_str().unwrap(),
        "--",
        "sh",
        "-c",
        "echo $VERSION",
    ]);
    assert_eq!(env, "2\n");
    // Once the old ones have stopped, every engine container belongs to one
    // of the three pods.
    k.until(30, "only the new pods and their containers", || {
        k.skiff_ok(&["ps", "-q"]).lines().count() == 6
            && k.json(&["get", "pods"])["items"].as_array().unwrap().len() == 3
    });
}

#[test]
fn a_hundred_applies_end_in_the_last_spec() {
    let k = Kube::new();
    let base = std::fs::read_to_string(kube_env::manifest("pods/deployment.yaml")).unwrap();
    for i in 0..100 {
        let spec = base
            .replace("value: \"1\"", &format!("value: \"{i}\""))
            .replace("replicas: 3", &format!("replicas: {}", 1 + i % 3));
        k.apply_text(&spec);
    }
    k.ok(&["rollout", "status", "deployment/web", "--timeout", "120s"]);
    // The last spec: 1 + 99 % 3 = 1 replica, VERSION 99.
    k.until(60, "only the last spec's pod", || {
        let pods = web_pods(&k);
        pods.len() == 1
            && k.json(&["get", "pods", "-l", "app=web"])["items"]
                .as_array()
                .unwrap()
                .len()
                == 1
    });
    let pods = web_pods(&k);
    let name = pods[0]["metadata"]["name"].as_str().unwrap().to_string();
    k.ready(&name, 30);
    assert_eq!(
        k.ok(&["exec", &name, "--", "sh", "-c", "echo $VERSION"]),
        "99\n"
    );
    let d = k.json(&["get", "deploy", "web"]);
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(d["metadata"]["generation"], 100);
    // The history is kept to its limit (10 old ones, and the current).
    let rs = k.json(&["get", "rs", "-l", "app=web"])["items"]
        .as_array()
        .unwrap()
        .len();
    assert!(rs <= 11, "{rs} ReplicaSets");
}

#[test]
fn an_autoscaler_scales_a_busy_deployment_up_and_back_down() {
    let k = Kube::new();
    k.start_serve(&["--hpa-sync-period", "1s"]);
    k.apply("hpa/burner.yaml");
    let replicas = |k: &Kube| {
        k.json(&["get", "deploy", "burner"])["spec"]["replicas"]
            .as_i64()
            .unwrap_or(0)
    };
    k.until(40, "scaled up to the maximum", || replicas(&k) == 3);
    let h = k.json(&["get", "hpa", "burner"]);
    assert_eq!(h["status"]["desiredReplicas"], 3, "{h}");
    assert!(
        h["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"].as_i64()
            > Some(50),
        "{h}"
    );
    assert!(h["status"]["lastScaleTime"].is_string());
    let row = k.ok(&["get", "hpa", "burner", "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[..2], ["burner", "Deployment/burner"], "{row}");
    assert!(cols[2] == "cpu:" && cols[3].ends_with("%/50%"), "{row}");
    let events = k.ok(&["get", "events"]);
    assert!(
        events.contains(
            "New size: 3; reason: cpu resource utilization (percentage of request) above target"
        ),
        "{events}"
    );
    // kube top sees the burning.
    let top = k.ok(&["top", "pods"]);
    assert!(top.starts_with("NAME") && top.contains("burner-"), "{top}");
    // Once the burning stops, down to the minimum after the window.
    k.until(60, "scaled back down", || replicas(&k) == 1);
    let events = k.ok(&["get", "events"]);
    assert!(
        events.contains("New size: 1; reason: All metrics below target"),
        "{events}"
    );
}
