//! `skiff kube apply|create|get|delete` on the objects themselves: what kubectl prints and exits with, what the API
//! server adds to each object, strict decoding, validation, allocation of
//! cluster IPs and node ports, and deletion with its cascade. Manifests are
//! the files in tests/kube/.

mod kube_env;

use kube_env::{manifest, Kube};
use serde_json::Value;
use std::path::PathBuf;

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn apply_creates_then_leaves_unchanged_then_configures() {
    let k = Kube::new();
    assert_eq!(
        lines(&k.apply("shop.yaml")),
        [
            "namespace/shop created",
            "deployment.apps/web created",
            "service/web created",
            "configmap/settings created",
            "secret/creds created"
        ]
    );
    let svc = k.json(&["get", "svc", "web", "-n", "shop"]);
    assert_eq!(
        lines(&k.apply("shop.yaml")),
        [
            "namespace/shop unchanged",
            "deployment.apps/web unchanged",
            "service/web unchanged",
            "configmap/settings unchanged",
            "secret/creds unchanged"
        ]
    );
    // The allocated IP and node port survive the re-apply.
    assert_eq!(
        k.json(&["get", "svc", "web", "-n", "shop"])["spec"],
        svc["spec"]
    );

    // A changed replica count: configured, the generation moves on, the
    // uid and creation time stay.
    let before = k.json(&["get", "deploy", "web", "-n", "shop"]);
    let text = std::fs::read_to_string(manifest("shop.yaml"))
        .unwrap()
        .replace("replicas: 3", "replicas: 5");
    let changed = k.dir.path().join("shop.yaml");
    std::fs::write(&changed, text).unwrap();
    let out = k.ok(&["apply", "-f", changed.to_str().unwrap()]);
    assert!(out.contains("deployment.apps/web configured\n"), "{out}");
    assert!(out.contains("service/web unchanged\n"), "{out}");
    let after = k.json(&["get", "deploy", "web", "-n", "shop"]);
    assert_eq!(after["spec"]["replicas"], 5);
    assert_eq!(after["metadata"]["generation"], 2);
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert_eq!(
        after["metadata"]["creationTimestamp"],
        before["metadata"]["creationTimestamp"]
    );
    let rv = |v: &Value| {
        v["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(rv(&after) > rv(&before));
}

#[test]
fn the_api_servers_defaults_and_additions() {
    let k = Kube::new();
    k.apply("shop.yaml");
    k.apply("job.yaml");
    let d = k.json(&["get", "deployment", "web", "-n", "shop"]);
    let meta = &d["metadata"];
    assert_eq!(meta["uid"].as_str().unwrap().len(), 36);
    assert!(meta["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(meta["generation"], 1);
    assert!(meta["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string());
    let spec = &d["spec"];
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], "25%");
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    let c = &pod["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(c["readinessProbe"]["periodSeconds"], 10);
    assert_eq!(c["readinessProbe"]["failureThreshold"], 3);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/");
    assert_eq!(c["readinessProbe"]["httpGet"]["scheme"], "HTTP");

    let s = k.json(&["get", "svc", "web", "-n", "shop"]);
    let ip = s["spec"]["clusterIP"].as_str().unwrap();
    assert!(ip.starts_with("10.96."), "{ip}");
    assert_eq!(s["spec"]["clusterIPs"][0], ip);
    let np = s["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&np), "{np}");
    assert_eq!(s["spec"]["ports"][0]["targetPort"], "http");
    assert_eq!(s["spec"]["sessionAffinity"], "None");

    // stringData is written into data, base64.
    let secret = k.json(&["get", "secret", "creds", "-n", "shop"]);
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"]["password"], "czNjcmV0");
    assert!(secret.get("stringData").is_none());

    // A Job selects its pods by its own uid.
    let j = k.json(&["get", "job", "pi"]);
    let uid = j["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    assert_eq!(
        j["spec"]["template"]["metadata"]["labels"]["job-name"],
        "pi"
    );
    assert_eq!(j["spec"]["completions"], 1);
    assert_eq!(j["spec"]["parallelism"], 1);
    assert_eq!(j["spec"]["backoffLimit"], 4);
    assert_eq!(
        j["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    // The default namespace was made on first use.
    assert_eq!(
        k.json(&["get", "ns", "default"])["status"]["phase"],
        "Active"
    );
}

#[test]
fn get_prints_as_kubectl_does() {
    let k = Kube::new();
    k.apply("shop.yaml");
    let t = k.ok(&["get", "deploy", "-n", "shop"]);
    let rows = lines(&t);
    assert_eq!(rows.len(), 2, "{t}");
    let cols = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        cols(rows[0]),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    let row = cols(rows[1]);
    assert_eq!(row[0], "web");
    // The controllers may have made some ready meanwhile.
    assert!(row[1].ends_with("/3"), "{t}");
    // Columns start where the header's do (kubectl's tab writer: three
    // spaces after the widest cell, at least six wide).
    assert_eq!(rows[0], "NAME   READY   UP-TO-DATE   AVAILABLE   AGE");
    assert_eq!(rows[0].find("READY"), rows[1].find(&row[1]));

    let svc = k.ok(&["get", "svc", "-n", "shop", "-o", "wide"]);
    let row = cols(lines(&svc)[1]);
    assert_eq!(row[1], "NodePort");
    assert!(
        row[4].starts_with("80:3") && row[4].ends_with("/TCP"),
        "{svc}"
    );
    assert_eq!(row[6], "app=web");

    assert_eq!(
        k.ok(&["get", "cm", "-n", "shop", "-o", "name"]),
        "configmap/settings\n"
    );
    assert_eq!(
        k.ok(&[
            "get",
            "cm,secret",
            "-n",
            "shop",
            "-l",
            "app=web",
            "-o",
            "name"
        ]),
        "configmap/settings\n"
    );
    assert_eq!(
        k.ok(&["get", "secret", "-n", "shop", "-l", "app!=web", "-o", "name"]),
        "secret/creds\n"
    );
    assert_eq!(
        k.ok(&[
            "get",
            "cm",
            "settings",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data.greeting}"
        ]),
        "hello"
    );
    let all = k.ok(&["get", "cm", "-A", "--no-headers"]);
    assert!(all.starts_with("shop"), "{all}");
    let list = k.json(&["get", "cm", "-n", "shop"]);
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["metadata"]["name"], "settings");

    let o = k.run(&["get", "pods"]);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "No resources found in default namespace.\n"
    );
    k.fails(
        &["get", "deploy", "nope", "-n", "shop"],
        "Error from server (NotFound): deployments.apps \"nope\" not found",
    );
    k.fails(
        &["get", "widgets"],
        "error: the server doesn't have a resource type \"widgets\"",
    );
    k.fails(
        &["get", "pods", "-o", "table"],
        "unable to match a printer suitable for the output format \"table\"",
    );
}

#[test]
fn bad_manifests_are_refused_whole() {
    let k = Kube::new();
    // Refused before a serve is started for it.
    k.fails(&["apply"], "error: must specify one of -f and -k");
    assert_eq!(k.serve_pid(), None);
    let bad = |f: &str, want: &str| {
        let p = manifest(&format!("bad/{f}"));
        k.fails(&["apply", "-f", p.to_str().unwrap()], want);
        assert_eq!(k.everything(), "", "{f} left something behind");
        assert_eq!(
            k.ok(&["get", "ns", "-o", "name"]),
            "",
            "{f} made a namespace"
        );
    };
    bad(
        "unknown-field.yaml",
        "Error from server (BadRequest): error when creating \"",
    );
    bad(
        "unknown-field.yaml",
        "strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].imagee\"",
    );
    bad(
        "unknown-kind.yaml",
        "no matches for kind \"Widget\" in version \"example.com/v1\"",
    );
    bad("malformed.yaml", "error converting YAML to JSON");
    bad(
        "selector-mismatch.yaml",
        "The Deployment \"mismatch\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`",
    );
    bad(
        "nodeport-range.yaml",
        "spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767",
    );
    bad("missing-namespace.yaml", "namespaces \"nowhere\" not found");
    bad(
        "wrong-type.yaml",
        "spec.containers[0].ports[0].containerPort",
    );
    bad(
        "job-restart-always.yaml",
        "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
    );
    k.fails(
        &["apply", "-f", "/nonexistent/x.yaml"],
        "the path \"/nonexistent/x.yaml\"",
    );
}

#[test]
fn create_refuses_what_exists_and_node_ports_are_not_shared() {
    let k = Kube::new();
    let job = manifest("job.yaml");
    assert_eq!(
        k.ok(&["create", "-f", job.to_str().unwrap()]),
        "job.batch/pi created\n"
    );
    k.fails(
        &["create", "-f", job.to_str().unwrap()],
        "Error from server (AlreadyExists): error when creating \"",
    );
    let svc = |name: &str, port: u16| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  type: NodePort\n  selector: {{app: x}}\n  ports: [{{port: 80, nodePort: {port}}}]\n"
        )
    };
    let a = k.dir.path().join("a.yaml");
    std::fs::write(&a, svc("a", 30080)).unwrap();
    k.ok(&["apply", "-f", a.to_str().unwrap()]);
    let b = k.dir.path().join("b.yaml");
    std::fs::write(&b, svc("b", 30080)).unwrap();
    k.fails(
        &["apply", "-f", b.to_str().unwrap()],
        "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated",
    );
    // Deleting the first frees its port.
    k.ok(&["delete", "svc", "a"]);
    k.ok(&["apply", "-f", b.to_str().unwrap()]);
}

#[test]
fn concurrent_applies_get_distinct_cluster_ips() {
    let k = Kube::new();
    let files: Vec<PathBuf> = (0..8)
        .map(|i| {
            let p = k.dir.path().join(format!("s{i}.yaml"));
            std::fs::write(
                &p,
                format!("apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\nspec:\n  type: NodePort\n  selector: {{app: x}}\n  ports: [{{port: 80}}]\n"),
            )
            .unwrap();
            p
        })
        .collect();
    std::thread::scope(|s| {
        for f in &files {
            let k = &k;
            s.spawn(move || k.ok(&["apply", "-f", f.to_str().unwrap()]));
        }
    });
    let list = k.json(&["get", "svc"]);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 8);
    let ips: std::collections::BTreeSet<_> = items
        .iter()
        .map(|s| s["spec"]["clusterIP"].to_string())
        .collect();
    let ports: std::collections::BTreeSet<_> = items
        .iter()
        .map(|s| s["spec"]["ports"][0]["nodePort"].to_string())
        .collect();
    assert_eq!(ips.len(), 8, "{ips:?}");
    assert_eq!(ports.len(), 8, "{ports:?}");
    // Eight commands found no serve and started one each: one won, and the
    // others' were stopped before their commands returned (a late one must
    // not take over when the winner goes, unknown to serve.pid).
    let serves = k.serve_processes();
    assert_eq!(serves.len(), 1, "serves for the store: {serves:?}");
    assert_eq!(Some(serves[0]), k.serve_pid());
}

#[test]
fn delete_cascades_over_owner_references_and_namespaces() {
    let k = Kube::new();
    k.apply("shop.yaml");
    let uid_of = |k: &Kube| {
        k.json(&["get", "cm", "settings", "-n", "shop"])["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let dep = |name: &str, uid: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: shop\n  ownerReferences:\n  - {{apiVersion: v1, kind: ConfigMap, name: settings, uid: {uid}}}\n"
        )
    };
    let f = k.dir.path().join("dep.yaml");
    let uid = uid_of(&k);
    std::fs::write(&f, dep("owned", &uid) + "---\n" + &dep("owned-too", &uid)).unwrap();
    k.ok(&["apply", "-f", f.to_str().unwrap()]);

    // Orphaned: the dependents stay, without the reference.
    let out = k.ok(&["delete", "cm", "settings", "-n", "shop", "--cascade=orphan"]);
    assert_eq!(out, "configmap \"settings\" deleted\n");
    for name in ["owned", "owned-too"] {
        let left = k.json(&["get", "cm", name, "-n", "shop"]);
        assert_eq!(
            left["metadata"]["ownerReferences"],
            serde_json::json!([]),
            "{name}"
        );
    }

    // Background: a dependent goes with its owner; the orphan stays.
    k.apply("shop.yaml");
    std::fs::write(&f, dep("owned", &uid_of(&k))).unwrap();
    k.ok(&["apply", "-f", f.to_str().unwrap()]);
    k.ok(&["delete", "cm", "settings", "-n", "shop"]);
    k.fails(
        &["get", "cm", "owned", "-n", "shop"],
        "configmaps \"owned\" not found",
    );
    k.ok(&["get", "cm", "owned-too", "-n", "shop"]);

    // Deleting the file's objects: the namespace takes the rest with it,
    // and each is reported deleted.
    k.apply("shop.yaml");
    let out = k.ok(&[
        "delete",
        "-f",
        manifest("shop.yaml").to_str().unwrap(),
        "--grace-period=1",
    ]);
    assert_eq!(
        lines(&out),
        [
            "namespace \"shop\" deleted",
            "deployment.apps \"web\" deleted",
            "service \"web\" deleted",
            "configmap \"settings\" deleted",
            "secret \"creds\" deleted"
        ]
    );
    assert_eq!(k.everything(), "");
    assert_eq!(
        lines(&k.ok(&["get", "ns", "-o", "name"])),
        [
            "namespace/default",
            "namespace/kube-node-lease",
            "namespace/kube-public",
            "namespace/kube-system"
        ]
    );
    k.fails(
        &["delete", "svc", "web", "-n", "shop"],
        "services \"web\" not found",
    );
    k.ok(&["delete", "svc", "web", "-n", "shop", "--ignore-not-found"]);
}

#[test]
fn get_watch_prints_each_change() {
    use std::io::BufRead;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};
    let k = Kube::new();
    k.apply_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\ndata:\n  a: b\n");
    /// The watching process, killed even when an assertion fails.
    struct Watcher(std::process::Child);
    impl Drop for Watcher {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut watcher = Watcher(
        k.skiff(&["kube", "get", "configmaps", "-w"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let out = watcher.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(out).lines() {
            if tx.send(l.unwrap()).is_err() {
                break;
            }
        }
    });
    // Lines until one starts with `name` (or fail after 10 s).
    let next_for = |name: &str| -> String {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.starts_with(name) => return l,
                Ok(_) => continue,
                Err(_) => panic!("no line for {name} within 10 s"),
            }
        }
    };
    let first_line = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first_line, "NAME    DATA   AGE");
    let cells =
        |l: String| -> Vec<String> { l.split_whitespace().take(2).map(String::from).collect() };
    assert_eq!(cells(next_for("first")), ["first", "1"]);
    // Added, then modified: a row each, without the header.
    k.apply_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\ndata:\n  a: b\n");
    assert_eq!(cells(next_for("second")), ["second", "1"]);
    k.apply_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\ndata:\n  a: b\n  c: d\n",
    );
    assert_eq!(cells(next_for("second")), ["second", "2"]);
    // Deleted: its last row once more.
    k.ok(&["delete", "configmap", "first"]);
    let cells =
        |l: String| -> Vec<String> { l.split_whitespace().take(2).map(String::from).collect() };
    assert_eq!(cells(next_for("first")), ["first", "1"]);
    // Another namespace's objects are not this watch's.
    k.ok(&["create", "namespace", "other"]);
    k.apply_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: elsewhere\n  namespace: other\n",
    );
    k.apply_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: third\n");
    let l = next_for("");
    assert!(l.starts_with("third"), "{l}");
    drop(watcher);
    k.fails(
        &["get", "pods,configmaps", "-w"],
        "you may only specify a single resource type",
    );
}
