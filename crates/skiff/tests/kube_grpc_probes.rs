//! gRPC probes against a real gRPC health server (HTTP/2, the
//! `grpc.health.v1.Health` service) listening in the pod's network
//! namespace: a startup probe holding the others until the server answers,
//! readiness following the server's status, a liveness probe whose service
//! is gone restarting the container, each failure in the kubelet's words.
//! Its own store and network namespace; traffic stays in them.

mod kube_env;

use kube_env::Kube;
use serde_json::Value;
use skiff_kube::kubelet::grpc::{frame, request_service, unframe};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The statuses the server gives, by service name (1 SERVING, 2
/// NOT_SERVING); a name it lacks is NOT_FOUND, as grpc-go's health server
/// answers.
type Statuses = Arc<Mutex<HashMap<String, u8>>>;

/// A gRPC health server on `port` in the network namespace of process
/// `pid`, until dropped.
struct HealthServer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HealthServer {
    fn start(pid: i32, port: u16, statuses: Statuses) -> HealthServer {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
        // A socket stays in the namespace it was made in.
        let listener = std::thread::spawn(move || {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            std::net::TcpListener::bind(("0.0.0.0", port)).unwrap()
        })
        .join()
        .unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                while !flag.load(Ordering::Relaxed) {
                    let Ok(Ok((sock, _))) =
                        tokio::time::timeout(Duration::from_millis(100), l.accept()).await
                    else {
                        continue;
                    };
                    tokio::spawn(connection(sock, statuses.clone()));
                }
            });
        });
        HealthServer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn connection(sock: tokio::net::TcpStream, statuses: Statuses) {
    let Ok(mut conn) = h2::server::handshake(sock).await else {
        return;
    };
    while let Some(Ok((req, respond))) = conn.accept().await {
        tokio::spawn(call(req, respond, statuses.clone()));
    }
}

async fn call(
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<bytes::Bytes>,
    statuses: Statuses,
) {
    let path = req.uri().path().to_string();
    let mut body = req.into_body();
    let mut data = Vec::new();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let service = unframe(&data).and_then(request_service);
    let status = service
        .as_ref()
        .and_then(|s| statuses.lock().unwrap().get(s).copied());
    let head = http::Response::builder()
        .status(200)
        .header("content-type", "application/grpc");
    let (code, msg) = match (&*path, status) {
        ("/grpc.health.v1.Health/Check", Some(st)) => {
            let Ok(mut send) = respond.send_response(head.body(()).unwrap(), false) else {
                return;
            };
            let _ = send.send_data(frame(&[0x08, st]), false);
            let mut t = http::HeaderMap::new();
            t.insert("grpc-status", "0".parse().unwrap());
            let _ = send.send_trailers(t);
            return;
        }
        ("/grpc.health.v1.Health/Check", None) => ("5", "unknown service"),
        _ => ("12", "unknown method"),
    };
    // A failed call: its status in the headers alone ("trailers-only").
    let r = head
        .header("grpc-status", code)
        .header("grpc-message", msg)
        .body(())
        .unwrap();
    let _ = respond.send_response(r, true);
}

fn container(pod: &Value) -> Value {
    pod["status"]["containerStatuses"][0].clone()
}

fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

const POD: &str = "apiVersion: v1
kind: Pod
metadata: {name: grpc}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, '600']
    startupProbe: {grpc: {port: 50051}, periodSeconds: 1, failureThreshold: 60}
    readinessProbe: {grpc: {port: 50051}, periodSeconds: 1}
    livenessProbe: {grpc: {port: 50051, service: live}, periodSeconds: 1, failureThreshold: 2}
";

#[test]
fn grpc_probes_follow_the_health_service() {
    let k = Kube::new();
    k.apply_text(POD);
    k.until(30, "the container running", || {
        container(&k.pod("grpc"))["state"]["running"].is_object()
    });
    // Nothing listens yet: the startup probe fails, the container is not
    // ready and not killed.
    k.until(10, "a failed startup probe", || {
        k.ok(&["describe", "pod/grpc"])
            .contains("Startup probe failed: error: failed to connect service at")
    });
    assert!(!ready(&k.pod("grpc")));

    let pid = k.container_pid("grpc", "c");
    let statuses: Statuses = Arc::new(Mutex::new(HashMap::from([
        (String::new(), 1),
        ("live".to_string(), 1),
    ])));
    let _server = HealthServer::start(pid, 50051, statuses.clone());
    k.ready("grpc", 15);
    assert_eq!(container(&k.pod("grpc"))["restartCount"], 0);

    // NOT_SERVING: out of the endpoints, back when it serves again.
    statuses.lock().unwrap().insert(String::new(), 2);
    k.until(10, "the pod not ready", || !ready(&k.pod("grpc")));
    let d = k.ok(&["describe", "pod/grpc"]);
    assert!(
        d.contains("Readiness probe failed: service unhealthy (responded with \"NOT_SERVING\")"),
        "{d}"
    );
    assert!(
        d.contains("    Liveness:       grpc <pod>:50051 live delay=0s timeout=1s period=1s #success=1 #failure=2\n"),
        "{d}"
    );
    statuses.lock().unwrap().insert(String::new(), 1);
    k.ready("grpc", 10);

    // The liveness probe's service gone: the container is restarted.
    statuses.lock().unwrap().remove("live");
    k.until(20, "a restart by the liveness probe", || {
        container(&k.pod("grpc"))["restartCount"].as_i64() >= Some(1)
    });
    statuses.lock().unwrap().insert("live".into(), 1);
    let d = k.ok(&["describe", "pod/grpc"]);
    assert!(
        d.contains("Liveness probe failed: error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"),
        "{d}"
    );
    assert!(
        d.contains("Container c failed liveness probe, will be restarted"),
        "{d}"
    );
    // The new run starts, passes its startup probe and is ready again.
    k.ready("grpc", 30);
    assert_eq!(
        container(&k.pod("grpc"))["lastState"]["terminated"]["exitCode"],
        137
    );
}
