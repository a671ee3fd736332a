//! docker-compose 1.29 (Debian's) against `skiff serve` in a network
//! namespace of the test's own: a project of two services on a user
//! network, a named volume, a published port, a health check another
//! service waits for (`depends_on: condition: service_healthy`); `up -d`,
//! `ps`, `logs`, `exec`, `up --scale`, `down -v`, and nothing left.

mod api_env;
mod build_env;

use api_env::Server;
use build_env::Env;

const PROJECT: &str = r#"services:
  web:
    image: bb:base
    command: sh -c 'echo web-up; echo hello > /data/index.html; exec httpd -f -p 8080 -h /data'
    ports: ["18080:8080"]
    volumes: [data:/data]
    networks: [back]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 1s
      retries: 10
  client:
    image: bb:base
    command: sh -c 'wget -q -O - http://web:8080/ && exec sleep 60'
    depends_on:
      web:
        condition: service_healthy
    networks: [back]
volumes:
  data:
networks:
  back:
"#;

#[test]
fn a_compose_project_up_scaled_and_down() {
    let e = Env::new();
    let ns = skiff_testkit::NetNs::new("skiff-compose");
    let s = Server::start_in(&e, Some(&ns));
    let dir = e.context("shop", &[("docker-compose.yml", PROJECT)]);
    let out = s.compose_ok(&dir, &["up", "-d"]);
    assert!(out.contains("Creating network \"shop_back\""), "{out}");
    let ps = s.compose_ok(&dir, &["ps"]);
    assert!(
        ps.contains("shop_web_1")
            && ps.contains("Up (healthy)")
            && ps.contains("0.0.0.0:18080->8080/tcp"),
        "{ps}"
    );
    assert!(ps.contains("shop_client_1"), "{ps}");
    // The client started once web was healthy, and reached it by name.
    let logs = s.compose_ok(&dir, &["logs", "--no-color"]);
    assert!(
        logs.contains("client_1  | hello") && logs.contains("web_1     | web-up"),
        "{logs}"
    );
    assert_eq!(
        s.compose_ok(&dir, &["exec", "-T", "web", "cat", "/data/index.html"]),
        "hello\n"
    );
    // The published port, from the namespace the server runs in.
    let o = ns
        .command("busybox")
        .args(["wget", "-q", "-O", "-", "http://127.0.0.1:18080/"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\n", "{o:?}");

    s.compose_ok(&dir, &["up", "-d", "--scale", "client=2"]);
    let ps = s.compose_ok(&dir, &["ps"]);
    assert!(ps.contains("shop_client_2"), "{ps}");

    let out = s.compose_ok(&dir, &["down", "-v", "-t", "1"]);
    assert!(
        out.contains("Removing network shop_back") && out.contains("Removing volume shop_data"),
        "{out}"
    );
    assert_eq!(s.ok(&["ps", "-a", "-q"]), "");
    assert_eq!(s.ok(&["volume", "ls", "-q"]), "");
    assert!(!s
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains("shop_back"));
}
