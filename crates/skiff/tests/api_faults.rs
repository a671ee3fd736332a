//! `skiff serve` under load and abuse: 50 clients at once creating,
//! starting and removing containers; malformed, oversized and stalled
//! requests; a SIGKILL of the server while containers run, then a new
//! server that sees them.

mod api_env;
mod build_env;

use api_env::Server;
use build_env::Env;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// One raw HTTP/1.1 exchange on the server's socket: its status line and
/// body.
fn raw(s: &Server, request: &[u8]) -> (String, String) {
    let mut c = UnixStream::connect(&s.sock).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    c.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.lines().next().unwrap_or("").to_string();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn fifty_clients_at_once() {
    let e = Env::new();
    let s = Server::start(&e);
    std::thread::scope(|scope| {
        for i in 0..50 {
            let s = &s;
            scope.spawn(move || {
                let name = format!("many{i}");
                let o = s.docker(&[
                    "run",
                    "--name",
                    &name,
                    "--network",
                    "none",
                    "bb:base",
                    "sh",
                    "-c",
                    &format!("echo {i}"),
                ]);
                assert_eq!(
                    String::from_utf8_lossy(&o.stdout),
                    format!("{i}\n"),
                    "{o:?}"
                );
                s.ok(&["rm", &name]);
            });
        }
    });
    assert_eq!(s.ok(&["ps", "-aq"]), "");
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    e.assert_clean();
}

#[test]
fn bad_requests_get_errors_and_the_server_goes_on() {
    let e = Env::new();
    let s = Server::start(&e);
    // Malformed JSON: 400 with dockerd's body.
    let (st, body) = raw(&s, &post("/v1.41/containers/create", "{not json"));
    assert!(st.contains(" 400 "), "{st}");
    assert!(body.contains("\"message\""), "{body}");
    // Unknown fields are ignored, as dockerd ignores them.
    let (st, body) = raw(
        &s,
        &post(
            "/containers/create?name=unk",
            r#"{"Image":"bb:base","Cmd":["true"],"Bogus":{"x":1},"HostConfig":{"NetworkMode":"none","Nope":[1]}}"#,
        ),
    );
    assert!(st.contains(" 201 "), "{st} {body}");
    // Loose values: nulls where lists go.
    let (st, body) = raw(
        &s,
        &post(
            "/containers/create?name=loose",
            r#"{"Image":"bb:base","Cmd":["true"],"Env":null,"HostConfig":{"Binds":null,"Ulimits":null,"NetworkMode":"none"}}"#,
        ),
    );
    assert!(st.contains(" 201 "), "{st} {body}");
    // A body above the limit: 413, nothing read of it.
    let huge = b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n";
    let (st, _) = raw(&s, huge);
    assert!(st.contains(" 413 "), "{st}");
    // Not HTTP at all.
    let (st, _) = raw(&s, b"\x00\x01\x02 garbage\r\n\r\n");
    assert!(st.contains(" 400 "), "{st}");
    // An upgrade to attach to nothing: an error, not a hijack.
    let (st, body) = raw(
        &s,
        b"POST /containers/nope/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(
        st.contains(" 404 ") && body.contains("No such container"),
        "{st} {body}"
    );
    // A client that sends half a request and stalls holds up no one.
    let mut slow = UnixStream::connect(&s.sock).unwrap();
    slow.write_all(b"GET /_ping HTTP/1.1\r\nHo").unwrap();
    let (st, body) = raw(
        &s,
        b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(st.contains(" 200 ") && body == "OK", "{st} {body}");
    drop(slow);
    // Unknown routes and versions.
    let (st, body) = raw(
        &s,
        b"GET /v1.41/nothing/here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        st.contains(" 404 ") && body.contains("page not found"),
        "{st} {body}"
    );
    let (st, body) = raw(
        &s,
        b"GET /v1.99/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        st.contains(" 400 ") && body.contains("too new"),
        "{st} {body}"
    );
    assert_eq!(
        s.ok(&["ps", "-a", "--format", "{{.Names}}"]),
        "loose\nunk\n"
    );
    s.ok(&["rm", "unk", "loose"]);
}

#[test]
fn a_killed_server_leaves_containers_running_and_a_new_one_sees_them() {
    let e = Env::new();
    let mut s = Server::start(&e);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "k1",
        "--network",
        "none",
        "bb:base",
        "sleep",
        "60",
    ]);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "k2",
        "--network",
        "none",
        "bb:base",
        "sh",
        "-c",
        "sleep 1; echo late; exit 7",
    ]);
    s.kill9();
    assert!(e.ok(&["ps", "--format", "{{.Names}}"]).contains("k1"));
    let s = Server::start(&e);
    let logs = s.ok(&["logs", "-f", "k2"]);
    assert_eq!(logs, "late\n");
    assert_eq!(s.ok(&["wait", "k2"]), "7\n");
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.State.Status}}", "k1"]),
        "running\n"
    );
    s.ok(&["rm", "-f", "k1", "k2"]);
    e.assert_clean();
}

/// A client that goes mid-build and one that goes mid-attach leave
/// nothing stuck: the build runs to its end (the next one takes it from
/// the cache), no work directory or mount stays, the server's threads
/// come back to what they were.
#[test]
fn clients_gone_mid_build_leave_nothing_stuck() {
    let e = Env::new();
    let s = Server::start(&e);
    let ctx = e.context(
        "ctx",
        &[(
            "Dockerfile",
            "FROM bb:base\nRUN sleep 1 && echo slow > /slow\n",
        )],
    );
    let baseline = s.threads();
    let mut gone = s
        .cmd(&["build", "-t", "gone:1", ctx.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    gone.kill().unwrap();
    gone.wait().unwrap();
    // The build goes on without its client and finishes: the image it
    // names appears, and a build again takes its step from the cache.
    let mut built = false;
    for _ in 0..100 {
        if s.docker(&["image", "inspect", "gone:1"]).status.success() {
            built = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(built, "the build left by its client did not finish");
    let out = s.ok(&["build", "-t", "gone:1", ctx.to_str().unwrap()]);
    assert!(out.contains("Using cache"), "{out}");
    let threads = s.threads_down_to(baseline);
    assert!(
        threads <= baseline,
        "threads stayed: {threads} > {baseline}: {:?}",
        s.thread_names()
    );
    e.assert_clean();
}
