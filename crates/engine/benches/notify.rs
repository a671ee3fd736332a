//! How fast waiters hear of a change, and what idle waiters cost (not run in
//! CI; `cargo bench -p skiff-engine --bench notify`, as root):
//!
//! 1. A running container's init killed (SIGKILL) while a `wait` and an
//!    events subscriber (filter `event=die`) wait on one Engine: the time
//!    from the kill to each hearing of the exit, over RUNS containers
//!    (median, 90th percentile, worst). Target: median <= 5 ms.
//! 2. 100 `logs -f` followers of one idle container for 10 s: the CPU time
//!    this process used meanwhile, as a share of one core. Target: < 1 %.
//!
//! The bench binary is its containers' supervisor, as the skiff binary is.

use skiff_engine::container::{CreateOptions, WaitCondition};
use skiff_engine::notify::Cancel;
use skiff_engine::Engine;
use std::time::{Duration, Instant};

fn dispatch() -> Option<i32> {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("__supervise") {
        return Some(skiff_engine::supervisor::main(&argv[2..]));
    }
    None
}

fn cpu_time() -> Duration {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).unwrap();
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(u.user_time()) + tv(u.system_time())
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {:.2} ms, p90 {:.2} ms, worst {:.2} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3
    )
}

fn main() {
    if let Some(code) = dispatch() {
        std::process::exit(code);
    }
    // `cargo bench` passes --bench; nothing else is taken.
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::Builder::new()
        .prefix("skiff-bench-notify-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let e = Engine::open(&dir.path().join("root"), &dir.path().join("run")).unwrap();
    let rootfs = dir.path().join("rootfs");
    skiff_testkit::make_busybox_rootfs(&rootfs);
    let tar = dir.path().join("bb.tar");
    skiff_testkit::write_tar(&rootfs, &tar);
    e.image_import(
        std::fs::File::open(&tar).unwrap(),
        Some("bb"),
        &Default::default(),
    )
    .unwrap();
    let create = |name: &str, cmd: &[&str]| {
        let mut o = CreateOptions {
            name: Some(name.into()),
            image: "bb".into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        o.host.network_mode = "none".into();
        e.create(&o).unwrap().id
    };

    // 1. Exit to waiter.
    let (mut waits, mut events) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let id = create(&format!("exit{i}"), &["sleep", "100"]);
        let started = e.start(&id, None).unwrap();
        let pid = started.pid;
        started.detach();
        let cancel = Cancel::new();
        let ready = std::sync::Barrier::new(3);
        let (w, ev) = std::thread::scope(|sc| {
            let waiter = sc.spawn(|| {
                ready.wait();
                e.wait(&id, WaitCondition::NotRunning, &Cancel::new())
                    .unwrap();
                Instant::now()
            });
            let subscriber = sc.spawn(|| {
                let o = skiff_engine::events::EventOptions {
                    filters: skiff_engine::filters::Filters::parse(&["event=die"]).unwrap(),
                    ..Default::default()
                };
                let mut at = None;
                ready.wait();
                e.subscribe(&o, &cancel, &mut |ev| {
                    if ev.actor == id {
                        at = Some(Instant::now());
                        return false;
                    }
                    true
                })
                .unwrap();
                at.unwrap()
            });
            ready.wait();
            // Both are waiting (each read the generation before blocking).
            std::thread::sleep(Duration::from_millis(50));
            let t0 = Instant::now();
            // SAFETY: kill(2) of the container's init, which we started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let w = waiter.join().unwrap() - t0;
            let ev = subscriber.join().unwrap() - t0;
            (w, ev)
        });
        waits.push(w);
        events.push(ev);
        e.remove(&id, true, false).unwrap();
    }
    println!(
        "exit seen by wait ({runs} runs):              {}",
        stats(waits.clone())
    );
    println!(
        "exit seen by an events subscriber ({runs} runs): {}",
        stats(events.clone())
    );

    // 2. 100 idle followers.
    let id = create("idle", &["sleep", "1000"]);
    e.start(&id, None).unwrap().detach();
    let cancel = Cancel::new();
    let window = Duration::from_secs(10);
    let share = std::thread::scope(|sc| {
        for _ in 0..100 {
            sc.spawn(|| {
                let o = skiff_engine::logs::LogOptions {
                    follow: true,
                    ..Default::default()
                };
                e.logs(&id, &o, &cancel, &mut |_| true).unwrap();
            });
        }
        // All of them following before the window opens.
        std::thread::sleep(Duration::from_secs(2));
        let c0 = cpu_time();
        std::thread::sleep(window);
        let used = cpu_time() - c0;
        e.notifier().unwrap().cancel(&cancel);
        used.as_secs_f64() / window.as_secs_f64() * 100.0
    });
    println!("100 logs -f followers of an idle container: {share:.3} % of one core over 10 s");
    e.remove(&id, true, false).unwrap();
    let med = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let ok = med(waits) <= Duration::from_millis(5)
        && med(events) <= Duration::from_millis(5)
        && share < 1.0;
    println!(
        "targets (median <= 5 ms, < 1 % of a core): {}",
        if ok { "met" } else { "NOT met" }
    );
}
