//! The pods the CRI tier drives: one through its whole life, and one
//! stopped as its container ends.

use super::*;

/// One pod of two containers through its whole life on `handler`.
pub fn run_pod(env: &Env, handler: &str) -> R<Vec<(String, String)>> {
    let cri = &env.cri;
    let mut obs: Vec<(String, String)> = vec![];
    let mut see = |step: &str, v: String| obs.push((step.to_string(), v));

    let v = cri
        .block(cri.rs().version(api::VersionRequest {
            version: "v1".into(),
        }))
        .map_err(st("Version"))?;
    ensure!(
        v.runtime_name == "containerd" && v.runtime_api_version == "v1",
        "Version: {v:?}"
    );
    see(
        "version",
        format!("{} {}", v.runtime_name, v.runtime_api_version),
    );

    // The image, from the registry on 127.0.0.1.
    let pulled = cri
        .block(cri.is().pull_image(api::PullImageRequest {
            image: image_spec(&env.image),
            ..Default::default()
        }))
        .map_err(st("PullImage"))?
        .image_ref;
    ensure!(
        pulled.starts_with("sha256:"),
        "PullImage: image ref {pulled:?}"
    );
    let img = cri
        .block(cri.is().image_status(api::ImageStatusRequest {
            image: image_spec(&env.image),
            verbose: false,
        }))
        .map_err(st("ImageStatus"))?
        .image
        .ok_or("ImageStatus: the pulled image is not there")?;
    ensure!(
        img.id == pulled,
        "ImageStatus: id {} after pulling {pulled}",
        img.id
    );
    see("image", "pulled, listed under its ID".into());

    // The sandbox.
    let name = env.pod_name(handler);
    let parent = env.cgroup_parent(handler);
    let (pod, cfg, log_dir) = run_sandbox(env, handler, "pods")?;
    // The shim runs the runtime with `--root ROOT/NAMESPACE`.
    let runtime_state: PathBuf = env
        .node
        .dir
        .path()
        .join("runtime-state")
        .join(handler)
        .join("k8s.io");
    let writer = runtime_writer(&runtime_state.join(&pod))?;
    ensure!(
        writer == handler,
        "the sandbox's state in {} was written by {writer}",
        runtime_state.display()
    );
    let ps = sandbox_status(cri, &pod)?;
    ensure!(
        ps.state == api::PodSandboxState::SandboxReady as i32,
        "PodSandboxStatus: state {}",
        ps.state
    );
    ensure!(
        ps.runtime_handler == handler,
        "PodSandboxStatus: handler {}",
        ps.runtime_handler
    );
    let ip = ps.network.map(|n| n.ip).unwrap_or_default();
    ensure!(
        ip.starts_with("10.88."),
        "PodSandboxStatus: the pod's IP {ip:?}"
    );
    see("sandbox", "ready, an IP from the pod network".into());

    // Two containers: a server on the pod's localhost, a client with stdin.
    let server_cmd =
        "trap 'exit 0' TERM; mkdir -p /www; echo hello-from-server > /www/index.html; \
        httpd -p 127.0.0.1:8080 -h /www; echo serving; while true; do sleep 0.1; done";
    let client_cmd = "echo client-start; while read l; do echo got:$l; echo err:$l >&2; done; \
        sleep 1000000";
    let mut ids = vec![];
    for (cname, cmd, stdin) in [("server", server_cmd, false), ("client", client_cmd, true)] {
        let id = cri
            .block(cri.rs().create_container(api::CreateContainerRequest {
                pod_sandbox_id: pod.clone(),
                config: Some(pods::container(
                    cname,
                    &env.image,
                    &["sh", "-c", cmd],
                    stdin,
                )),
                sandbox_config: Some(cfg.clone()),
            }))
            .map_err(st("CreateContainer"))?
            .container_id;
        let s = container_status(cri, &id)?.status.ok_or("no status")?;
        ensure!(
            s.state == api::ContainerState::ContainerCreated as i32,
            "{cname} after CreateContainer: state {}",
            s.state
        );
        cri.block(cri.rs().start_container(api::StartContainerRequest {
            container_id: id.clone(),
        }))
        .map_err(st("StartContainer"))?;
        let s = container_status(cri, &id)?.status.ok_or("no status")?;
        ensure!(
            s.state == api::ContainerState::ContainerRunning as i32 && s.started_at > 0,
            "{cname} after StartContainer: state {} started_at {}",
            s.state,
            s.started_at
        );
        // The image's ID or its repository digest, as containerd reports it.
        let repo = env.image.rsplit_once(':').map_or(&*env.image, |(r, _)| r);
        ensure!(
            s.image_ref == pulled || s.image_ref.starts_with(&format!("{repo}@sha256:")),
            "{cname}: image_ref {}",
            s.image_ref
        );
        ensure!(
            Path::new(&s.log_path) == log_dir.join(format!("{cname}_0.log")),
            "{cname}: log_path {}",
            s.log_path
        );
        ids.push(id);
    }
    let (server, client) = (ids[0].clone(), ids[1].clone());
    see("containers", "created, then running".into());
    let listed = containers_of(cri, &pod)?;
    let mut names: Vec<String> = listed
        .iter()
        .filter(|c| c.state == api::ContainerState::ContainerRunning as i32)
        .filter_map(|c| c.metadata.as_ref().map(|m| m.name.clone()))
        .collect();
    names.sort();
    ensure!(
        names == ["client", "server"],
        "ListContainers: running {names:?}"
    );
    see("list", names.join(","));

    // One pod: the client reaches the server on localhost; network, IPC and
    // UTS namespaces shared, PID namespaces apart; kubelet's hostname and DNS.
    let server_log = log_dir.join("server_0.log");
    wait_for(Duration::from_secs(10), "the server to serve", || {
        Ok(std::fs::read_to_string(&server_log)
            .unwrap_or_default()
            .contains("serving"))
    })?;
    let page = exec_text(
        cri,
        &client,
        &["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"],
    )?;
    ensure!(
        page == "hello-from-server\n",
        "the client got {page:?} from localhost:8080"
    );
    see("localhost", page);
    let ns_of = |id: &str| {
        let each = "for n in net ipc uts pid; do readlink /proc/self/ns/$n; done";
        exec_text(cri, id, &["sh", "-c", each])
    };
    let (a, b) = (ns_of(&server)?, ns_of(&client)?);
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    ensure!(a.len() == 4 && b.len() == 4, "namespaces: {a:?} {b:?}");
    ensure!(a[..3] == b[..3], "net/ipc/uts not shared: {a:?} vs {b:?}");
    ensure!(a[3] != b[3], "one PID namespace for both containers: {a:?}");
    let host_net = std::fs::read_link("/proc/self/ns/net").map_err(|e| e.to_string())?;
    ensure!(
        Path::new(a[0]) != host_net,
        "the pod runs in the host's network namespace"
    );
    see("namespaces", "net, ipc, uts shared; pid apart".into());
    let hostname = exec_text(cri, &client, &["hostname"])?;
    ensure!(
        hostname.trim() == name,
        "hostname {hostname:?}, want {name}"
    );
    see("hostname", "the pod's name".into());
    let resolv = exec_text(cri, &client, &["cat", "/etc/resolv.conf"])?;
    for want in [
        "nameserver 10.96.0.10",
        "search default.svc.cluster.local svc.cluster.local",
        "options ndots:5",
    ] {
        ensure!(
            resolv.lines().any(|l| l.trim() == want),
            "resolv.conf lacks {want:?}: {resolv:?}"
        );
    }
    see("resolv.conf", resolv);

    // ExecSync: output apart and the exit code; a command that is not there.
    let r = exec_sync(
        cri,
        &client,
        &["sh", "-c", "echo out; echo err >&2; exit 3"],
    )
    .map_err(st("ExecSync"))?;
    let got = (
        String::from_utf8_lossy(&r.stdout).into_owned(),
        String::from_utf8_lossy(&r.stderr).into_owned(),
        r.exit_code,
    );
    ensure!(
        got == ("out\n".into(), "err\n".into(), 3),
        "ExecSync: {got:?}"
    );
    see("exec sync", format!("{got:?}"));
    let missing = match exec_sync(cri, &client, &["/no/such/program"]) {
        Ok(r) => format!("exit {}", r.exit_code),
        Err(s) => format!("error {:?}", s.code()),
    };
    ensure!(
        missing != "exit 0",
        "ExecSync of a missing program: {missing}"
    );
    see("exec sync of a missing program", missing);

    // The streaming Exec URL, used as kubectl exec uses it.
    let url = cri
        .block(
            cri.rs().exec(api::ExecRequest {
                container_id: client.clone(),
                cmd: ["sh", "-c", "echo s-out; echo s-err >&2; exit 7"]
                    .map(String::from)
                    .to_vec(),
                tty: false,
                stdin: false,
                stdout: true,
                stderr: true,
            }),
        )
        .map_err(st("Exec"))?
        .url;
    let o = Session::open(&url, env.connect(&url)?)?.finish(Duration::from_secs(10))?;
    let got = (o.stdout_text(), o.stderr_text(), o.exit_code());
    ensure!(
        got == ("s-out\n".into(), "s-err\n".into(), Some(7)),
        "Exec stream: {got:?} ({o:?})"
    );
    see("exec stream", format!("{got:?}"));

    // Attach: stdin in, stdout and stderr out, to the container's log too.
    let o = attach_and_say(env, &client, "hello")?;
    see(
        "attach",
        format!("{:?} {:?}", o.stdout_text(), o.stderr_text()),
    );
    let client_log = log_dir.join("client_0.log");
    wait_for(
        Duration::from_secs(5),
        "the attach's words in the log",
        || Ok(log_lines(&client_log)?.len() >= 3),
    )?;
    let lines = by_stream(log_lines(&client_log)?);
    ensure!(
        lines
            == [
                "stdout F client-start",
                "stdout F got:hello",
                "stderr F err:hello"
            ],
        "the client's log: {lines:?}"
    );
    see("log", lines.join(" | "));

    // Log rotation: kubelet renames the file, then asks for a new one.
    let rotated = log_dir.join("client_0.log.1");
    std::fs::rename(&client_log, &rotated).map_err(|e| e.to_string())?;
    cri.block(
        cri.rs()
            .reopen_container_log(api::ReopenContainerLogRequest {
                container_id: client.clone(),
            }),
    )
    .map_err(st("ReopenContainerLog"))?;
    attach_and_say(env, &client, "again")?;
    wait_for(Duration::from_secs(5), "the new log file", || {
        Ok(client_log.exists() && log_lines(&client_log)?.len() >= 2)
    })?;
    let new = by_stream(log_lines(&client_log)?);
    let old = log_lines(&rotated)?;
    ensure!(
        new == ["stdout F got:again", "stderr F err:again"] && old.len() == 3,
        "after ReopenContainerLog: new {new:?}, rotated {old:?}"
    );
    see("reopened log", new.join(" | "));

    // New limits, seen from inside the container and in its cgroup.
    cri.block(
        cri.rs()
            .update_container_resources(api::UpdateContainerResourcesRequest {
                container_id: client.clone(),
                linux: Some(api::LinuxContainerResources {
                    cpu_period: 100_000,
                    cpu_quota: 50_000,
                    cpu_shares: 512,
                    memory_limit_in_bytes: 64 << 20,
                    ..Default::default()
                }),
                ..Default::default()
            }),
    )
    .map_err(st("UpdateContainerResources"))?;
    let inside = exec_text(
        cri,
        &client,
        &[
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
            "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
            "/sys/fs/cgroup/cpu/cpu.shares",
        ],
    )?;
    ensure!(
        inside.split_whitespace().collect::<Vec<_>>() == ["67108864", "50000", "100000", "512"],
        "limits seen in the container after UpdateContainerResources: {inside:?}"
    );
    see("updated limits inside", inside);
    let cg = memory_cgroup(cri, &client)?;
    let on_host = read_trim(format!("/sys/fs/cgroup/memory{cg}/memory.limit_in_bytes"))?;
    ensure!(
        on_host == "67108864",
        "the memory cgroup {cg} has limit {on_host}"
    );
    let shape = cg.replace(&client, "ID");
    let want_prefix = if env.systemd {
        format!("/{parent}/")
    } else {
        format!("{parent}/")
    };
    ensure!(
        shape.starts_with(&want_prefix),
        "the container's cgroup {cg} is not below {parent}"
    );
    see("cgroup path", shape.replace(&name, "POD"));

    // Stats, as the kubelet's summary API reads them.
    let stats = cri
        .block(cri.rs().container_stats(api::ContainerStatsRequest {
            container_id: client.clone(),
        }))
        .map_err(st("ContainerStats"))?
        .stats
        .ok_or("ContainerStats: none")?;
    let cpu = stats
        .cpu
        .and_then(|c| c.usage_core_nano_seconds)
        .map(|v| v.value);
    let mem = stats
        .memory
        .and_then(|m| m.working_set_bytes)
        .map(|v| v.value);
    let fs = stats
        .writable_layer
        .and_then(|w| w.used_bytes)
        .map(|v| v.value);
    ensure!(
        cpu.is_some_and(|c| c > 0) && mem.is_some_and(|m| m > 0) && fs.is_some(),
        "ContainerStats: cpu {cpu:?} memory {mem:?} writable layer {fs:?}"
    );
    see("stats", "cpu, memory, writable layer".into());

    // Stop: the server ends on SIGTERM (exit 0, Completed); the client's
    // shell, PID 1, ignores it and is killed when the timeout ends.
    for (id, timeout, code, reason) in [(&server, 10, 0, "Completed"), (&client, 2, 137, "Error")] {
        let t0 = Instant::now();
        cri.block(cri.rs().stop_container(api::StopContainerRequest {
            container_id: id.clone(),
            timeout,
        }))
        .map_err(st("StopContainer"))?;
        let took = t0.elapsed();
        let s = container_status(cri, id)?.status.ok_or("no status")?;
        ensure!(
            s.state == api::ContainerState::ContainerExited as i32
                && s.exit_code == code
                && s.reason == reason
                && s.finished_at >= s.started_at,
            "after StopContainer: state {} exit {} reason {:?} (want {code} {reason})",
            s.state,
            s.exit_code,
            s.reason
        );
        let in_time = if code == 0 {
            took < Duration::from_secs(5)
        } else {
            took >= Duration::from_secs(timeout as u64)
                && took < Duration::from_secs(timeout as u64 + 5)
        };
        ensure!(in_time, "StopContainer (timeout {timeout}s) took {took:?}");
        see("stop", format!("exit {} {}", s.exit_code, s.reason));
    }
    let container_cgroup = format!("/sys/fs/cgroup/memory{cg}");
    for id in [&server, &client] {
        cri.block(cri.rs().remove_container(api::RemoveContainerRequest {
            container_id: id.clone(),
        }))
        .map_err(st("RemoveContainer"))?;
        ensure!(
            !runtime_state.join(id).exists(),
            "RemoveContainer left the runtime's state of {id}"
        );
    }
    ensure!(
        !Path::new(&container_cgroup).exists(),
        "RemoveContainer left the cgroup {container_cgroup}"
    );
    let left = containers_of(cri, &pod)?.len();
    ensure!(left == 0, "{left} containers listed after RemoveContainer");
    see(
        "remove",
        "gone from the list, the runtime and the cgroups".into(),
    );

    // The sandbox goes.
    cri.block(cri.rs().stop_pod_sandbox(api::StopPodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    }))
    .map_err(st("StopPodSandbox"))?;
    let ps = sandbox_status(cri, &pod)?;
    ensure!(
        ps.state == api::PodSandboxState::SandboxNotready as i32,
        "after StopPodSandbox: state {}",
        ps.state
    );
    cri.block(cri.rs().remove_pod_sandbox(api::RemovePodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    }))
    .map_err(st("RemovePodSandbox"))?;
    let gone = cri.block(cri.rs().pod_sandbox_status(api::PodSandboxStatusRequest {
        pod_sandbox_id: pod.clone(),
        verbose: false,
    }));
    ensure!(
        gone.as_ref()
            .is_err_and(|s| s.code() == skiff_cri_check::Code::NotFound),
        "PodSandboxStatus after RemovePodSandbox: {gone:?}"
    );
    ensure!(
        !runtime_state.join(&pod).exists(),
        "RemovePodSandbox left the runtime's state of the sandbox"
    );
    see(
        "sandbox removed",
        "not found, nothing left in the runtime".into(),
    );
    Ok(obs)
}

/// A pod stopped the moment its container ends (attach's input gone, the
/// shell done): kubelet's StopPodSandbox races containerd's noticing the
/// exit, so the runtime may be asked to signal a container that has just
/// stopped. The pod must stop and go all the same.
pub fn stop_right_after_exit(env: &Env, handler: &str) -> R<()> {
    let cri = &env.cri;
    cri.block(cri.is().pull_image(api::PullImageRequest {
        image: image_spec(&env.image),
        ..Default::default()
    }))
    .map_err(st("PullImage"))?;
    let (pod, cfg, _) = run_sandbox(env, handler, "pods-exit")?;
    let once = "read l; echo got:$l; echo err:$l >&2";
    let id = cri
        .block(cri.rs().create_container(api::CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(pods::container(
                "once",
                &env.image,
                &["sh", "-c", once],
                true,
            )),
            sandbox_config: Some(cfg),
        }))
        .map_err(st("CreateContainer"))?
        .container_id;
    cri.block(cri.rs().start_container(api::StartContainerRequest {
        container_id: id.clone(),
    }))
    .map_err(st("StartContainer"))?;
    // The line in, then the stream's end: the shell is done (its output may
    // or may not make it to this client before the stream closes).
    let mut s = attach(env, &id)?;
    s.send_stdin(b"bye\n")?;
    s.finish(Duration::from_secs(10))?;
    // Kubelet tries again on its next sync when a stop fails, and so do
    // we, once: containerd may tear down the container's shim for the
    // exit (its Delete, then the shim's shutdown) while the stop's kill
    // talks to it, and fail that kill with "ttrpc: closed"; its next stop
    // finds the container exited. What must not happen is a pod that
    // cannot be stopped.
    let stop = || {
        cri.block(cri.rs().stop_pod_sandbox(api::StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        }))
    };
    stop()
        .or_else(|_| stop())
        .map_err(st("StopPodSandbox right after the container's exit"))?;
    let s = container_status(cri, &id)?.status.ok_or("no status")?;
    ensure!(
        s.state == api::ContainerState::ContainerExited as i32 && s.exit_code == 0,
        "the container after StopPodSandbox: state {} exit {}",
        s.state,
        s.exit_code
    );
    cri.block(cri.rs().remove_pod_sandbox(api::RemovePodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    }))
    .map_err(st("RemovePodSandbox"))?;
    Ok(())
}
