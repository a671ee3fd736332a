//! Services as a user checks them: a cluster IP answering from the node and
//! from pods, a node port on 127.0.0.1, requests spread over the ready
//! pods only (a pod whose readiness fails gets none, and gets them again
//! when it passes), names in the cluster's DNS, Endpoints and EndpointSlices, a LoadBalancer's status
//! and ClientIP affinity, a headless Service, and a Service without
//! endpoints refused at once. Each test has its own store and network
//! namespace; traffic stays in it.

mod kube_env;

use kube_env::Kube;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

/// One HTTP GET of `/index.html` at `addr` from the test's namespace: the
/// body, or the error.
fn get(k: &Kube, addr: &str) -> Result<String, String> {
    let addr = addr.to_string();
    k.ns.enter(move || {
        let sa: std::net::SocketAddr = addr.parse().map_err(|e| format!("{e}"))?;
        let mut s = std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut out = String::new();
        s.read_to_string(&mut out).map_err(|e| e.to_string())?;
        let body = out
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or("")
            .trim()
            .to_string();
        Ok(body)
    })
}

/// Who answered `n` requests to `addr`, counted.
fn spread(k: &Kube, addr: &str, n: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let who = get(k, addr).unwrap_or_else(|e| panic!("GET {addr}: {e}"));
        *seen.entry(who).or_default() += 1;
    }
    seen
}

fn ready_pods(k: &Kube) -> Vec<String> {
    k.json(&["get", "pods", "-l", "app=web"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_service_spreads_requests_over_ready_pods_only() {
    let k = Kube::new();
    k.apply("services/web.yaml");
    k.until(60, "three ready pods", || ready_pods(&k).len() == 3);
    let pods = ready_pods(&k);
    let svc = k.json(&["get", "svc", "web"]);
    let ip = svc["spec"]["clusterIP"].as_str().unwrap().to_string();
    k.until(10, "endpoints for all three", || {
        let ep = k.json(&["get", "endpoints", "web"]);
        ep["subsets"][0]["addresses"]
            .as_array()
            .is_some_and(|a| a.len() == 3)
    });
    let ep = k.json(&["get", "endpoints", "web"]);
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8080, "{ep}");
    assert_eq!(ep["subsets"][0]["ports"][0]["name"], "http");
    let slices = k.json(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=web",
    ]);
    let slice = &slices["items"][0];
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(slice["endpoints"].as_array().unwrap().len(), 3);
    assert!(slice["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["conditions"]["ready"] == true));

    // Through the cluster IP and the node port on 127.0.0.1: every pod
    // answers, each within ±20% of an even share, nothing else.
    for addr in [format!("{ip}:80"), "127.0.0.1:30080".to_string()] {
        let seen = spread(&k, &addr, 150);
        assert_eq!(
            seen.keys().cloned().collect::<Vec<_>>(),
            pods,
            "{addr}: {seen:?}"
        );
        for (pod, n) in &seen {
            assert!(
                (30..=70).contains(n),
                "{addr}: {pod} got {n} of 150: {seen:?}"
            );
        }
    }
    // From a pod too (through its own network namespace).
    let page = k.ok(&[
        "exec",
        &pods[0],
        "--",
        "wget",
        "-qO-",
        &format!("http://{ip}/index.html"),
    ]);
    assert!(pods.contains(&page.trim().to_string()), "{page}");

    // By name, through the pod's search path and the node's DNS.
    for name in ["web", "web.default", "web.default.svc.cluster.local"] {
        let page = k.ok(&[
            "exec",
            &pods[0],
            "--",
            "wget",
            "-qO-",
            &format!("http://{name}/index.html"),
        ]);
        assert!(pods.contains(&page.trim().to_string()), "{name}: {page}");
    }
    let resolv = k.ok(&["exec", &pods[0], "--", "cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.11\noptions ndots:5\n"
    );
    let o = k.run(&[
        "exec",
        &pods[0],
        "--",
        "nslookup",
        "nope.default.svc.cluster.local",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("NXDOMAIN"),
        "{o:?}"
    );

    // One pod fails its readiness probe: it leaves the Service.
    let out = &pods[1];
    k.ok(&["exec", out, "--", "rm", "/tmp/ready"]);
    k.until(15, "the pod out of the endpoints", || {
        let ep = k.json(&["get", "endpoints", "web"]);
        ep["subsets"][0]["addresses"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
            && ep["subsets"][0]["notReadyAddresses"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
    });
    // The proxy follows the endpoints (one pass later at most).
    std::thread::sleep(Duration::from_millis(500));
    let seen = spread(&k, "127.0.0.1:30080", 60);
    assert!(!seen.contains_key(out), "{out} still served: {seen:?}");
    assert_eq!(seen.len(), 2, "{seen:?}");
    let row = k.ok(&["get", "pod", out, "--no-headers"]);
    assert!(row.split_whitespace().nth(1) == Some("0/1"), "{row}");
    // Ready again: back in.
    k.ok(&["exec", out, "--", "touch", "/tmp/ready"]);
    k.until(15, "the pod back in the endpoints", || {
        k.json(&["get", "endpoints", "web"])["subsets"][0]["addresses"]
            .as_array()
            .is_some_and(|a| a.len() == 3)
    });
    std::thread::sleep(Duration::from_millis(500));
    let seen = spread(&k, "127.0.0.1:30080", 90);
    assert!(seen.contains_key(out), "{out} not served again: {seen:?}");
}

#[test]
fn load_balancers_headless_services_and_services_without_endpoints() {
    let k = Kube::new();
    // This "host" has an address in 10.96.0.0/16 (kubeadm's first service
    // /16): the service range must be chosen around it, as the default
    // bridge's subnet is, and the address stay this host's.
    // (A veth pair: this kernel has no dummy links.)
    k.ns.ip(&[
        "link", "add", "taken0", "type", "veth", "peer", "name", "taken1",
    ]);
    k.ns.ip(&["addr", "add", "10.96.0.1/16", "dev", "taken0"]);
    k.ns.ip(&["link", "set", "taken1", "up"]);
    k.ns.ip(&["link", "set", "taken0", "up"]);
    k.apply("services/web.yaml");
    k.apply("services/others.yaml");
    k.until(60, "three ready pods", || ready_pods(&k).len() == 3);

    // The LoadBalancer: its status names the node's address, its port is
    // served on every local address, and one client sticks to one pod.
    k.until(10, "the load balancer's address", || {
        k.json(&["get", "svc", "web-lb"])["status"]["loadBalancer"]["ingress"][0]["ip"].is_string()
    });
    let row = k.ok(&["get", "svc", "web-lb", "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1], "LoadBalancer", "{row}");
    assert_ne!(cols[3], "<pending>", "{row}");
    assert!(
        cols[4].starts_with("8081:3") && cols[4].ends_with("/TCP"),
        "{row}"
    );
    k.until(10, "the LoadBalancer's endpoints", || {
        k.json(&["get", "endpoints", "web-lb"])["subsets"][0]["addresses"]
            .as_array()
            .is_some_and(|a| a.len() == 3)
    });
    std::thread::sleep(Duration::from_millis(500));
    let seen = spread(&k, "127.0.0.1:8081", 20);
    assert_eq!(seen.len(), 1, "ClientIP affinity: {seen:?}");

    // Headless: no cluster IP, endpoints all the same.
    let h = k.json(&["get", "svc", "web-headless"]);
    assert_eq!(h["spec"]["clusterIP"], "None");
    let row = k.ok(&["get", "svc", "web-headless", "--no-headers"]);
    assert_eq!(row.split_whitespace().nth(2), Some("None"), "{row}");
    k.until(10, "the headless Service's endpoints", || {
        k.json(&["get", "endpoints", "web-headless"])["subsets"][0]["addresses"]
            .as_array()
            .is_some_and(|a| a.len() == 3)
    });

    // The headless Service's name: its ready pods' addresses.
    let pods = ready_pods(&k);
    let out = k.ok(&[
        "exec",
        &pods[0],
        "--",
        "nslookup",
        "web-headless.default.svc.cluster.local",
    ]);
    let ips: Vec<String> = k.json(&["get", "pods", "-l", "app=web"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap().to_string())
        .collect();
    for ip in &ips {
        assert!(out.contains(&format!("Address: {ip}")), "{ip} not in {out}");
    }

    // No endpoints: refused at once, not left to time out.
    let ip = k.json(&["get", "svc", "nobody"])["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        ip.starts_with("10.97."),
        "a cluster IP beside the host's 10.96.0.0/16: {ip}"
    );
    let route = k.ns.ip(&["route", "show", "10.96.0.0/16"]);
    assert!(route.contains("taken0"), "the host's route: {route}");
    let fixed = k.json(&["get", "svc", "web-lb", "-o", "json"]);
    assert!(
        fixed["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|i| i.starts_with("10.97.")),
        "{fixed}"
    );
    let t = std::time::Instant::now();
    let e = get(&k, &format!("{ip}:80")).unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "{e} after {:?}",
        t.elapsed()
    );
    assert!(e.contains("refused"), "{e}");
    let ep = k.json(&["get", "endpoints", "nobody"]);
    assert!(ep.get("subsets").is_none(), "{ep}");

    // Deleting a Service takes its slices and its rules with it.
    k.ok(&["delete", "svc", "web-lb"]);
    k.until(10, "the LoadBalancer's slice gone", || {
        k.json(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web-lb",
        ])["items"]
            .as_array()
            .is_some_and(|a| a.is_empty())
    });
    k.until(10, "the port closed", || get(&k, "127.0.0.1:8081").is_err());
}
