//! docker-py 5.0 (Debian's python3-docker) against `skiff serve`:
//! containers.run (output, removal), detached runs, exec_run, kill, wait,
//! logs, remove; images, volumes and networks; the low-level attach socket
//! with input, and attach with `logs` replaying what a container wrote;
//! over TCP, the attach websocket and an exec's pty resized.
//! The script asserts; the test checks it ran to its end.

mod api_env;
mod build_env;

use api_env::Server;
use build_env::Env;

const SCRIPT: &str = r#"
import docker, sys
c = docker.DockerClient(base_url="unix://" + sys.argv[1])
assert c.version()["ApiVersion"] == "1.41"
assert c.ping()

out = c.containers.run("bb:base", ["sh", "-c", "echo hi; echo err >&2"],
                       network_mode="none", remove=True, stderr=True)
assert out == b"hi\nerr\n", out
assert [x.name for x in c.containers.list(all=True)] == []

ct = c.containers.run("bb:base", ["sh", "-c", "echo started; exec sleep 30"],
                      network_mode="none", detach=True, name="py1", labels={"k": "v"})
assert c.containers.get("py1").status == "running"
assert [x.name for x in c.containers.list(filters={"label": "k=v"})] == ["py1"]
r = ct.exec_run(["sh", "-c", "echo in-exec; exit 3"])
assert (r.exit_code, r.output) == (3, b"in-exec\n"), r
ct.kill()
assert ct.wait()["StatusCode"] == 137
assert ct.logs() == b"started\n", ct.logs()
ct.remove()

assert ["bb:base"] in [i.tags for i in c.images.list()]
assert c.images.get("bb:base").id.startswith("sha256:")

v = c.volumes.create("pyv", labels={"a": "b"})
assert [x.name for x in c.volumes.list()] == ["pyv"]
v.remove()
n = c.networks.create("pynet", internal=True)
assert "pynet" in [x.name for x in c.networks.list()]
n.remove()

api = c.api
cid = api.create_container("bb:base", ["sh", "-c", "read x; echo got $x"], stdin_open=True,
                           host_config=api.create_host_config(network_mode="none"))["Id"]
sock = api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stream": 1})
api.start(cid)
sock._sock.sendall(b"hello\n")
data = b""
while True:
    chunk = sock._sock.recv(4096)
    if not chunk:
        break
    data += chunk
assert data == b"\x01\x00\x00\x00\x00\x00\x00\x0agot hello\n", data
assert api.wait(cid)["StatusCode"] == 0
api.remove_container(cid)

# attach with logs: what the container wrote, replayed (alone, without stream)
cid = api.create_container("bb:base", ["sh", "-c", "echo replayed; echo err >&2"],
                           host_config=api.create_host_config(network_mode="none"))["Id"]
api.start(cid)
assert api.wait(cid)["StatusCode"] == 0
out = api.attach(cid, stdout=True, stderr=False, stream=False, logs=True)
assert out == b"replayed\n", out
api.remove_container(cid)
print("done")
"#;

#[test]
fn docker_py_against_skiff_serve() {
    let e = Env::new();
    // (In a network namespace of the test's own: it makes a network.)
    let ns = skiff_testkit::NetNs::new("skiff-dockerpy");
    let s = Server::start_in(&e, Some(&ns));
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(&s.sock)
        .output()
        .expect("python3 with docker-py (apt-get install python3-docker)");
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout) == "done\n",
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

const WS_SCRIPT: &str = r#"
import docker, sys, time
api = docker.APIClient(base_url=sys.argv[1])

# The attach websocket: binary messages, stdout and stderr unframed; the
# client's messages are the container's input.
cid = api.create_container("bb:base", ["sh", "-c", "read x; echo got $x; echo err $x >&2"],
                           stdin_open=True, host_config=api.create_host_config(network_mode="none"))["Id"]
api.start(cid)
ws = api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}, ws=True)
ws.send_binary(b"hello\n")
data = b""
deadline = time.time() + 10
while b"got hello\n" not in data or b"err hello\n" not in data:
    assert time.time() < deadline, data
    m = ws.recv()
    assert isinstance(m, bytes), m
    data += m
assert sorted(data.splitlines()) == [b"err hello", b"got hello"], data
assert api.wait(cid)["StatusCode"] == 0
ws.close()
api.remove_container(cid)

# An exec's pty follows POST /exec/{id}/resize.
cid = api.create_container("bb:base", ["sleep", "30"], tty=True,
                           host_config=api.create_host_config(network_mode="none"))["Id"]
api.start(cid)
ex = api.exec_create(cid, ["sh", "-c", "while true; do stty size; sleep 0.1; done"], tty=True)["Id"]
sock = api.exec_start(ex, tty=True, socket=True)
time.sleep(0.2)
api.exec_resize(ex, height=33, width=77)
data = b""
deadline = time.time() + 10
while b"33 77" not in data:
    assert time.time() < deadline, data
    data += sock._sock.recv(4096)
try:
    api.exec_resize("nosuchexec", height=1, width=1)
    assert False, "resized a missing exec"
except docker.errors.NotFound:
    pass
api.remove_container(cid, force=True)
print("done")
"#;

#[test]
fn docker_py_attach_websocket_and_exec_resize_over_tcp() {
    let e = Env::new();
    let ns = skiff_testkit::NetNs::new("skiff-dockerws");
    let port = ns.enter(|| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    });
    let tcp = format!("tcp://127.0.0.1:{port}");
    let _s = Server::start_with(&e, Some(&ns), &[&tcp]);
    // Debian's python with Debian's docker-py and websocket-client.
    let o = ns
        .command("/usr/bin/python3")
        .arg("-c")
        .arg(WS_SCRIPT)
        .arg(&tcp)
        .output()
        .expect("python3 with docker-py and websocket-client");
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout) == "done\n",
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
