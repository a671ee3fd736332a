//! Namespaces and process setup through the real binary: user namespaces with id
//! maps, joining a namespace by path, time namespace offsets, no-pivot mode,
//! and a terminal handed over a console socket.

mod common;
use common::*;
use serde_json::json;

#[test]
fn user_namespace_maps_root() {
    let rt = Rt::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; ls /proc | grep -c '^1$'",
    ]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    let (code, out, err) = rt.run_bundle(&b, &unique_id("userns"));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["0", "0 100000 65536", "1"], "{out}");
}

struct Netns(String);
impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .status();
    }
}

#[test]
fn join_network_namespace_by_path() {
    let name = unique_id("skiffns");
    let ns = Netns(name.clone());
    let ok = |args: &[&str]| {
        let st = std::process::Command::new("ip")
            .args(args)
            .status()
            .expect("iproute2 installed");
        assert!(st.success(), "ip {args:?}");
    };
    ok(&["netns", "add", &ns.0]);
    ok(&[
        "-n", &ns.0, "link", "add", "skdummy0", "type", "veth", "peer", "name", "skdummy1",
    ]);
    let rt = Rt::new();
    let mut b = Bundle::busybox(&["sh", "-c", "ip link show skdummy0 >/dev/null && echo found"]);
    b.edit(|c| {
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = json!(format!("/run/netns/{name}"));
            }
        }
    });
    let (code, out, err) = rt.run_bundle(&b, &unique_id("joinns"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "found\n");
}

#[test]
fn time_namespace_offsets() {
    let rt = Rt::new();
    let mut b = Bundle::busybox(&["cat", "/proc/uptime"]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 864000, "nanosecs": 0}});
    });
    let (code, out, err) = rt.run_bundle(&b, &unique_id("timens"));
    assert_eq!(code, 0, "{err}");
    let up: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(up >= 864000.0, "uptime {up} lacks the 10-day offset");
}

#[test]
fn no_pivot_mode_runs() {
    let rt = Rt::new();
    let b = Bundle::busybox(&["sh", "-c", "test -e /bin/busybox && echo inside"]);
    let id = unique_id("nopivot");
    let o = rt.run(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "inside\n");
}

#[test]
fn terminal_over_console_socket() {
    use std::io::Read;
    use std::os::unix::net::UnixListener;
    let rt = Rt::new();
    let mut b = Bundle::busybox(&["sh", "-c", "tty; echo via-pty"]);
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let sock_path = b.path().join("console.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    let id = unique_id("tty");
    let server = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        use std::os::fd::AsRawFd;
        let fd = skiff_runtime::console::recv_fd(conn.as_raw_fd()).unwrap();
        let mut f = std::fs::File::from(fd);
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        // Read until the slave side closes (EIO on Linux).
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    rt.ok(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "--console-socket",
        sock_path.to_str().unwrap(),
        &id,
    ]);
    rt.ok(&["start", &id]);
    let text = server.join().unwrap();
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    assert!(text.contains("via-pty"), "{text:?}");
    rt.ok(&["delete", "--force", &id]);
}
