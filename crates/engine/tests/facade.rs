//! The engine's facade called directly, as `skiff serve` will: typed errors
//! of each kind, list filters, wait conditions, prune accounting, logs
//! (tail, since, follow), events (subscribe), exec through the supervisor,
//! and one Engine shared by threads. Real containers (busybox made offline)
//! in a store of each test's own; as root.

mod common;

use common::{leftovers, until, Store};
use skiff_engine::container::{ExecIo, ExecOptions, ListOptions, WaitCondition};
use skiff_engine::filters::Filters;
use skiff_engine::notify::Cancel;
use skiff_engine::ErrorKind;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

fn main() {
    if let Some(code) = common::dispatch() {
        std::process::exit(code);
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "the engine's tests need root (namespaces, cgroups, mounts)"
    );
    common::run_tests(&[
        ("typed_errors_of_each_kind", typed_errors_of_each_kind),
        ("list_filters_follow_docker", list_filters_follow_docker),
        ("wait_conditions", wait_conditions),
        ("a_cancelled_wait_returns", a_cancelled_wait_returns),
        (
            "removed_waits_on_rm_containers_hear_every_exit",
            removed_waits_on_rm_containers_hear_every_exit,
        ),
        (
            "prune_reports_the_bytes_it_freed",
            prune_reports_the_bytes_it_freed,
        ),
        ("logs_tail_since_and_follow", logs_tail_since_and_follow),
        (
            "events_subscribers_see_what_happens",
            events_subscribers_see_what_happens,
        ),
        ("exec_through_the_supervisor", exec_through_the_supervisor),
        (
            "a_client_that_never_reads_stalls_nothing",
            a_client_that_never_reads_stalls_nothing,
        ),
        (
            "a_refused_login_is_unauthorized",
            a_refused_login_is_unauthorized,
        ),
        (
            "concurrent_copies_of_a_stopped_container",
            concurrent_copies_of_a_stopped_container,
        ),
        (
            "eight_threads_share_one_engine",
            eight_threads_share_one_engine,
        ),
    ]);
}

fn kind<T: std::fmt::Debug>(r: skiff_engine::Result<T>) -> ErrorKind {
    r.expect_err("an error").kind()
}

fn typed_errors_of_each_kind() {
    let s = Store::new();
    let e = &s.engine;
    assert_eq!(kind(e.find("nosuch")), ErrorKind::NotFound);
    assert_eq!(kind(e.image_inspect("nosuch:1")), ErrorKind::NotFound);
    assert_eq!(kind(e.network_find("nosuch")), ErrorKind::NotFound);
    assert_eq!(kind(e.volume_remove("nosuch", false)), ErrorKind::NotFound);
    let id = s.run("busy", &["sleep", "100"]);
    // The name taken; removing a running container.
    let dup = e.create(&skiff_engine::container::CreateOptions {
        name: Some("busy".into()),
        image: "bb".into(),
        cmd: vec!["true".into()],
        ..Default::default()
    });
    assert_eq!(kind(dup), ErrorKind::Conflict);
    assert_eq!(kind(e.remove(&id, false, false)), ErrorKind::Conflict);
    // Started when it runs: nothing to do.
    assert_eq!(
        kind(e.start(&id, None).map(|s| s.detach())),
        ErrorKind::NotModified
    );
    // Bad arguments: a filter key, a memory limit, a condition.
    let bad = ListOptions {
        filters: Filters::parse(&["bogus=1"]).unwrap(),
        ..Default::default()
    };
    assert_eq!(kind(e.list_containers(&bad)), ErrorKind::InvalidArgument);
    let mut small = skiff_engine::container::CreateOptions {
        image: "bb".into(),
        cmd: vec!["true".into()],
        ..Default::default()
    };
    small.host.memory = 1 << 20;
    let err = e.create(&small).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.to_string(), "Minimum memory limit allowed is 6MB");
    assert_eq!(
        kind("maybe".parse::<WaitCondition>()),
        ErrorKind::InvalidArgument
    );
    // Not running; never allowed.
    let stopped = s.create("stopped", &["true"]);
    assert_eq!(kind(e.kill(&stopped, 9)), ErrorKind::NotRunning);
    assert_eq!(kind(e.network_remove("bridge")), ErrorKind::Forbidden);
    e.remove(&id, true, false).unwrap();
}

fn names(l: &[skiff_engine::container::Summary]) -> Vec<String> {
    let mut v: Vec<String> = l.iter().map(|s| s.container.name.clone()).collect();
    v.sort();
    v
}

fn list_filters_follow_docker() {
    let s = Store::new();
    let e = &s.engine;
    let label = |l: &'static str| {
        move |o: &mut skiff_engine::container::CreateOptions| {
            let (k, v) = l.split_once('=').unwrap();
            o.labels.insert(k.into(), v.into());
        }
    };
    s.create_with("web-1", &["sleep", "100"], label("tier=front"));
    s.create_with("web-2", &["true"], label("tier=front"));
    s.create_with("db", &["sleep", "100"], label("tier=back"));
    e.start("web-1", None).unwrap().detach();
    e.start("db", None).unwrap().detach();
    let list = |all: bool, f: &[&str]| {
        names(
            &e.list_containers(&ListOptions {
                all,
                last: None,
                filters: Filters::parse(f).unwrap(),
            })
            .unwrap(),
        )
    };
    // Running only unless all (or a status filter).
    assert_eq!(list(false, &[]), ["db", "web-1"]);
    assert_eq!(list(true, &[]), ["db", "web-1", "web-2"]);
    assert_eq!(list(false, &["status=created"]), ["web-2"]);
    // One key's values: any; keys: all.
    assert_eq!(list(true, &["name=web-1", "name=db"]), ["db", "web-1"]);
    assert_eq!(
        list(true, &["label=tier=front", "status=running"]),
        ["web-1"]
    );
    assert_eq!(list(true, &["label=tier"]), ["db", "web-1", "web-2"]);
    let web1 = &e
        .list_containers(&ListOptions {
            filters: Filters::parse(&["name=web-1"]).unwrap(),
            ..Default::default()
        })
        .unwrap()[0];
    assert!(web1.status.starts_with("Up "), "{}", web1.status);
    assert_eq!(web1.command, "sleep 100");
    // Volumes: dangling or in use.
    e.volume_create(Some("free"), Default::default(), false)
        .unwrap();
    let mut o = skiff_engine::container::CreateOptions {
        name: Some("user".into()),
        image: "bb".into(),
        cmd: vec!["true".into()],
        ..Default::default()
    };
    o.host.network_mode = "none".into();
    o.host.mounts = vec![skiff_engine::volumes::parse_volume_flag("used:/data").unwrap()];
    e.create(&o).unwrap();
    let vols = |f: &[&str]| -> Vec<String> {
        e.volumes(&Filters::parse(f).unwrap())
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect()
    };
    assert_eq!(vols(&["dangling=true"]), ["free"]);
    assert_eq!(vols(&["dangling=false"]), ["used"]);
    assert_eq!(
        kind(e.volumes(&Filters::parse(&["dangling=x"]).unwrap())),
        ErrorKind::InvalidArgument
    );
    let nets: Vec<String> = e
        .networks(&Filters::parse(&["type=builtin", "name=br"]).unwrap())
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(nets, ["bridge"]);
}

fn wait_conditions() {
    let s = Store::new();
    let e = &s.engine;
    let cancel = Cancel::new();
    // not-running: at once for a stopped container.
    let id = s.create("waiter", &["sh", "-c", "exit 3"]);
    assert_eq!(e.wait(&id, WaitCondition::NotRunning, &cancel).unwrap(), 0);
    std::thread::scope(|sc| {
        // next-exit: waits for the next run's exit.
        let waiter = sc.spawn(|| e.wait(&id, WaitCondition::NextExit, &Cancel::new()));
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !waiter.is_finished(),
            "next-exit returned before the container ran"
        );
        e.start(&id, None).unwrap().detach();
        assert_eq!(waiter.join().unwrap().unwrap(), 3);
        // removed: until the container is gone.
        let waiter = sc.spawn(|| e.wait(&id, WaitCondition::Removed, &Cancel::new()));
        std::thread::sleep(Duration::from_millis(200));
        assert!(!waiter.is_finished(), "removed returned before the removal");
        e.remove(&id, false, false).unwrap();
        assert_eq!(waiter.join().unwrap().unwrap(), 3);
    });
}

/// `docker run --rm` through the API: a `removed` wait taken before the
/// start, then the start; the supervisor removes the record at the exit and
/// dies a moment later. Each wait must end with the exit code, never with
/// an error. (A wait that read the record just before the removal and
/// checked the supervisor just after its death once failed with "no such
/// container": a window too narrow to hit on demand; this runs many such
/// waits, four at a time, so that a wider one would show.)
fn removed_waits_on_rm_containers_hear_every_exit() {
    let store = Store::new();
    let (s, e) = (&store, &store.engine);
    std::thread::scope(|sc| {
        let runs: Vec<_> = (0..4)
            .map(|t| {
                sc.spawn(move || {
                    for i in 0..8 {
                        let code = (t * 8 + i) % 7;
                        let id = s.create_with(
                            &format!("rm-{t}-{i}"),
                            &["sh", "-c", &format!("exit {code}")],
                            |o| o.host.auto_remove = true,
                        );
                        let from = e.wait_begin(&id).unwrap();
                        e.start(&id, None).unwrap().detach();
                        let got = e.wait_from(&from, WaitCondition::Removed, &Cancel::new());
                        assert_eq!(got.unwrap(), code, "container {id}");
                        assert_eq!(kind(e.find(&id)), ErrorKind::NotFound);
                    }
                })
            })
            .collect();
        for r in runs {
            r.join().unwrap();
        }
    });
}

fn a_cancelled_wait_returns() {
    let s = Store::new();
    let id = s.run("long", &["sleep", "100"]);
    let cancel = Cancel::new();
    std::thread::scope(|sc| {
        let h = sc.spawn(|| s.engine.wait(&id, WaitCondition::NotRunning, &cancel));
        std::thread::sleep(Duration::from_millis(100));
        let t = Instant::now();
        s.engine.notifier().unwrap().cancel(&cancel);
        let r = h.join().unwrap();
        assert!(matches!(r, Err(skiff_engine::Error::Cancelled)), "{r:?}");
        assert!(t.elapsed() < Duration::from_millis(500));
    });
}

fn prune_reports_the_bytes_it_freed() {
    let s = Store::new();
    let e = &s.engine;
    let id = s.run(
        "writer",
        &[
            "sh",
            "-c",
            "dd if=/dev/zero of=/blob bs=1024 count=1024 2>/dev/null",
        ],
    );
    e.wait(&id, WaitCondition::NotRunning, &Cancel::new())
        .unwrap();
    let keep = s.run("keeper", &["sleep", "100"]);
    let pruned = e.prune_containers(&Filters::default()).unwrap();
    assert_eq!(pruned.removed, [id]);
    assert!(pruned.bytes >= 1 << 20, "{} bytes", pruned.bytes);
    assert!(e.find(&keep).is_ok(), "a running container was pruned");
}

fn lines(recs: &[skiff_engine::logs::Record]) -> Vec<String> {
    recs.iter().map(|r| r.data.trim_end().to_string()).collect()
}

fn logs_tail_since_and_follow() {
    let s = Store::new();
    let e = &s.engine;
    let id = s.run(
        "talker",
        &[
            "sh",
            "-c",
            "for i in 1 2 3 4 5; do echo line $i; done; read x; echo after $x; sleep 0.3",
        ],
    );
    // -i is off: `read` ends at once; the container runs 0.3 s more.
    let _ = e.wait(&id, WaitCondition::NotRunning, &Cancel::new());
    let get = |o: skiff_engine::logs::LogOptions| {
        let mut out = Vec::new();
        e.logs(&id, &o, &Cancel::new(), &mut |r| {
            out.push(r.clone());
            true
        })
        .unwrap();
        out
    };
    let all = get(Default::default());
    assert_eq!(
        lines(&all),
        ["line 1", "line 2", "line 3", "line 4", "line 5", "after"]
    );
    let tail = get(skiff_engine::logs::LogOptions {
        tail: Some(2),
        ..Default::default()
    });
    assert_eq!(lines(&tail), ["line 5", "after"]);
    let since = get(skiff_engine::logs::LogOptions {
        since: Some(all[3].time_nano),
        ..Default::default()
    });
    assert_eq!(lines(&since), ["line 4", "line 5", "after"]);
    // Follow: what a running container writes afterwards, until it stops.
    let id = s.run(
        "ticker",
        &[
            "sh",
            "-c",
            "echo first; sleep 0.5; echo second; sleep 0.5; echo third",
        ],
    );
    until(5, "the first line", || !get(Default::default()).is_empty());
    let mut seen = Vec::new();
    let start = Instant::now();
    e.logs(
        &id,
        &skiff_engine::logs::LogOptions {
            follow: true,
            ..Default::default()
        },
        &Cancel::new(),
        &mut |r| {
            seen.push((r.data.trim_end().to_string(), start.elapsed()));
            true
        },
    )
    .unwrap();
    let got: Vec<&str> = seen.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(got, ["first", "second", "third"]);
    // "third" came as it was written (about 1 s in), not at a poll's pace.
    assert!(seen[2].1 >= Duration::from_millis(500), "{seen:?}");
}

fn events_subscribers_see_what_happens() {
    let s = Store::new();
    let e = &s.engine;
    let seen = std::sync::Mutex::new(Vec::new());
    let cancel = Cancel::new();
    std::thread::scope(|sc| {
        sc.spawn(|| {
            let o = skiff_engine::events::EventOptions {
                filters: Filters::parse(&["type=container", "event=start", "event=die"]).unwrap(),
                ..Default::default()
            };
            e.subscribe(&o, &cancel, &mut |ev| {
                seen.lock().unwrap().push(ev.action.clone());
                true
            })
            .unwrap();
        });
        std::thread::sleep(Duration::from_millis(200));
        let id = s.run("ev", &["true"]);
        e.wait(&id, WaitCondition::NotRunning, &Cancel::new())
            .unwrap();
        until(5, "start and die", || seen.lock().unwrap().len() >= 2);
        e.notifier().unwrap().cancel(&cancel);
    });
    assert_eq!(*seen.lock().unwrap(), ["start", "die"]);
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
}

fn exec_through_the_supervisor() {
    let s = Store::new();
    let e = &s.engine;
    let id = s.run("host", &["sleep", "100"]);
    let (out_r, out_w) = pipe();
    let null = || -> OwnedFd { std::fs::File::open("/dev/null").unwrap().into() };
    let o = ExecOptions {
        cmd: vec!["sh".into(), "-c".into(), "echo $$ in; exit 7".into()],
        ..Default::default()
    };
    let h = e
        .exec_start(
            &id,
            &o,
            Some(ExecIo {
                stdin: null(),
                stdout: out_w,
                stderr: null(),
            }),
        )
        .unwrap();
    let pid = h.pid;
    assert_eq!(h.wait(e).unwrap(), 7);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(out_r), &mut text).unwrap();
    assert!(text.ends_with(" in\n"), "{text:?}");
    // The supervisor is its parent (it reaped it): not a zombie of ours.
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    // A missing command: 126's cause, as dockerd gives.
    let o = ExecOptions {
        cmd: vec!["nosuchcmd".into()],
        ..Default::default()
    };
    let err = e
        .exec_start(
            &id,
            &o,
            Some(ExecIo {
                stdin: null(),
                stdout: null(),
                stderr: null(),
            }),
        )
        .err()
        .expect("a missing command");
    assert_eq!(
        err.start_cause(),
        Some(skiff_engine::StartCause::NotExecutable)
    );
    assert!(
        err.to_string().contains("executable file not found"),
        "{err}"
    );
}

fn a_client_that_never_reads_stalls_nothing() {
    let s = Store::new();
    let e = &s.engine;
    // 16 MiB of output, far beyond what a socket buffers (and beyond the
    // 4 MiB a client may fall behind), while an attached client reads none
    // of it: the container runs to its end and its log has everything.
    let id = s.run(
        "loud",
        &[
            "sh",
            "-c",
            "sleep 0.3; dd if=/dev/zero bs=65536 count=256 2>/dev/null | tr '\\0' x; echo; echo done",
        ],
    );
    let stuck = e.attach(&id, false, None).unwrap();
    // A stalled supervisor would keep the container writing forever: give
    // up after 60 s.
    let cancel = Cancel::new();
    let done = std::thread::scope(|sc| {
        sc.spawn(|| {
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(60) && !cancel.is_cancelled() {
                std::thread::sleep(Duration::from_millis(100));
            }
            e.notifier().unwrap().cancel(&cancel);
        });
        let r = e.wait(&id, WaitCondition::NotRunning, &cancel);
        e.notifier().unwrap().cancel(&cancel);
        r
    });
    assert!(
        done.is_ok(),
        "the container did not finish: its output stalled"
    );
    let mut last = String::new();
    e.logs(
        &id,
        &skiff_engine::logs::LogOptions {
            tail: Some(1),
            ..Default::default()
        },
        &Cancel::new(),
        &mut |r| {
            last = r.data.clone();
            true
        },
    )
    .unwrap();
    assert_eq!(last, "done\n");
    drop(stuck);
}

fn a_refused_login_is_unauthorized() {
    let s = Store::new();
    let reg = skiff_testkit::registry::start_registry_with(Some(("alice", "right")));
    let err = s
        .engine
        .login(Some(&reg.host), "alice", "wrong", false)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
}

fn concurrent_copies_of_a_stopped_container() {
    let s = Store::new();
    let e = &s.engine;
    let id = s.run(
        "files",
        &[
            "sh",
            "-c",
            "mkdir /data; for i in $(seq 300); do echo payload > /data/f$i; done",
        ],
    );
    e.wait(&id, WaitCondition::NotRunning, &Cancel::new())
        .unwrap();
    // Each copy mounts the stopped container's rootfs for itself: at once,
    // they take turns (never two mounts there: one copy's unmount would
    // take the other's away), and each gets all the files.
    let rootfs = s
        .root()
        .join("containers")
        .join(&id)
        .join("rootfs")
        .display()
        .to_string();
    let done = std::sync::atomic::AtomicBool::new(false);
    let most = std::thread::scope(|sc| {
        let sampler = sc.spawn(|| {
            let mut most = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let m = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
                let n = m
                    .lines()
                    .filter(|l| l.split(' ').nth(4) == Some(rootfs.as_str()))
                    .count();
                most = most.max(n);
            }
            most
        });
        let copiers: Vec<_> = (0..4)
            .map(|_| {
                sc.spawn(|| {
                    for _ in 0..5 {
                        let mut tar = Vec::new();
                        e.copy_out_tar(&id, "/data", false, &mut tar).unwrap();
                        let files = tar::Archive::new(&tar[..])
                            .entries()
                            .unwrap()
                            .filter(|en| {
                                en.as_ref()
                                    .is_ok_and(|en| en.header().entry_type().is_file())
                            })
                            .count();
                        assert_eq!(files, 300);
                    }
                })
            })
            .collect();
        for c in copiers {
            c.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        sampler.join().unwrap()
    });
    assert_eq!(most, 1, "copies mounted the rootfs over each other");
    assert!(
        leftovers(&s.root(), &[id]).is_empty(),
        "the rootfs stayed mounted"
    );
}

fn eight_threads_share_one_engine() {
    let s = Store::new();
    let e = &s.engine;
    let ids = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for t in 0..8 {
            let (ids, s) = (&ids, &s);
            sc.spawn(move || {
                for i in 0..50 {
                    let name = format!("t{t}-{i}");
                    match i % 5 {
                        // Create and remove.
                        0 => {
                            let id = s.create(&name, &["true"]);
                            ids.lock().unwrap().push(id.clone());
                            e.remove(&id, false, false).unwrap();
                        }
                        // Run to its end, then remove.
                        1 => {
                            let id = s.run(&name, &["true"]);
                            ids.lock().unwrap().push(id.clone());
                            e.wait(&id, WaitCondition::NotRunning, &Cancel::new())
                                .unwrap();
                            e.remove(&id, false, false).unwrap();
                        }
                        // Start, exec in it, force-remove.
                        2 => {
                            let id = s.run(&name, &["sleep", "30"]);
                            ids.lock().unwrap().push(id.clone());
                            let null =
                                || -> OwnedFd { std::fs::File::open("/dev/null").unwrap().into() };
                            let o = ExecOptions {
                                cmd: vec!["true".into()],
                                ..Default::default()
                            };
                            let h = e
                                .exec_start(
                                    &id,
                                    &o,
                                    Some(ExecIo {
                                        stdin: null(),
                                        stdout: null(),
                                        stderr: null(),
                                    }),
                                )
                                .unwrap();
                            assert_eq!(h.wait(e).unwrap(), 0);
                            e.remove(&id, true, false).unwrap();
                        }
                        // A create that fails next to the others.
                        3 => {
                            let mut o = skiff_engine::container::CreateOptions {
                                name: Some(name),
                                image: "nosuch-image".into(),
                                ..Default::default()
                            };
                            o.host.network_mode = "none".into();
                            assert_eq!(e.create(&o).unwrap_err().kind(), ErrorKind::NotFound);
                        }
                        // Reads.
                        _ => {
                            e.list_containers(&ListOptions {
                                all: true,
                                ..Default::default()
                            })
                            .unwrap();
                            e.disk_usage().unwrap();
                        }
                    }
                }
            });
        }
    });
    let left = e.list().unwrap();
    assert!(left.is_empty(), "{} containers left", left.len());
    let ids = ids.into_inner().unwrap();
    assert_eq!(ids.len(), 8 * 30);
    until(10, "nothing left on the host", || {
        leftovers(&s.root(), &ids).is_empty()
    });
    // (Removed containers' directories kept for reuse, in `#spare`, aside.)
    let dirs = std::fs::read_dir(s.root().join("containers"))
        .map(|d| d.flatten().filter(|d| d.file_name() != "#spare").count())
        .unwrap_or(0);
    assert_eq!(dirs, 0, "container directories left");
}
