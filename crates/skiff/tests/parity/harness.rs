//! The comparison context: running a command line on both engines and comparing.

use std::io::Write;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cmdline::words;
use crate::engines::{Engines, Side, SIDES};
use crate::normalize::normalize;
use crate::parity::map_out;

// Running a scenario

#[derive(Clone, Debug, Default)]
pub(crate) struct Out {
    pub(crate) code: Option<i32>,
    /// normalized
    pub(crate) out: String,
    pub(crate) err: String,
    pub(crate) raw_out: String,
    pub(crate) raw_err: String,
    pub(crate) secs: f64,
}

/// How stderr is compared.
#[derive(Clone, Copy)]
pub(crate) enum E<'a> {
    /// The same after normalizing.
    Exact,
    /// Each phrase (case-insensitive) in both.
    Has(&'a [&'a str]),
    /// Not compared.
    Any,
}

pub(crate) struct Ctx<'a> {
    pub(crate) e: &'a Engines,
    pub(crate) failures: Mutex<Vec<String>>,
    pub(crate) names: Mutex<Vec<String>>,
    pub(crate) ids: Mutex<[Vec<String>; 2]>,
    /// Volumes and images to remove when the scenario ends, per side.
    pub(crate) vols: Mutex<[Vec<String>; 2]>,
    pub(crate) images: Mutex<[Vec<String>; 2]>,
    /// Networks to remove when the scenario ends (after its containers).
    pub(crate) nets: Mutex<Vec<String>>,
}

pub(crate) fn show(s: &str) -> String {
    if s.is_empty() {
        "(empty)".into()
    } else {
        format!("{s:?}")
    }
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(e: &'a Engines) -> Ctx<'a> {
        Ctx {
            e,
            failures: Mutex::new(Vec::new()),
            names: Mutex::new(Vec::new()),
            ids: Mutex::new([Vec::new(), Vec::new()]),
            vols: Mutex::new([Vec::new(), Vec::new()]),
            images: Mutex::new([Vec::new(), Vec::new()]),
            nets: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn fail(&self, msg: String) {
        self.failures.lock().unwrap().push(msg);
    }

    /// `px-BASE`, removed from both engines when the scenario ends.
    pub(crate) fn name(&self, base: &str) -> String {
        let n = format!("px-{base}");
        self.names.lock().unwrap().push(n.clone());
        n
    }

    /// A container known by ID only, removed when the scenario ends.
    pub(crate) fn track(&self, side: Side, id: &str) {
        self.ids.lock().unwrap()[side.idx()].push(id.trim().to_string());
    }

    /// A volume `px-BASE`, removed from both engines when the scenario ends.
    pub(crate) fn vol(&self, base: &str) -> String {
        let n = format!("px-{base}");
        let mut v = self.vols.lock().unwrap();
        v[0].push(n.clone());
        v[1].push(n.clone());
        n
    }

    /// A volume known on one side only (an anonymous one), removed when the
    /// scenario ends.
    pub(crate) fn track_vol(&self, side: Side, name: &str) {
        self.vols.lock().unwrap()[side.idx()].push(name.trim().to_string());
    }

    /// A network `px-BASE`, removed from both engines when the scenario ends.
    pub(crate) fn net(&self, base: &str) -> String {
        let n = format!("px-{base}");
        self.nets.lock().unwrap().push(n.clone());
        n
    }

    /// An image (name or ID) removed when the scenario ends.
    pub(crate) fn track_image(&self, side: Side, image: &str) {
        self.images.lock().unwrap()[side.idx()].push(image.trim().to_string());
    }

    pub(crate) fn cleanup(&self) {
        let names = self.names.lock().unwrap().clone();
        let ids = self.ids.lock().unwrap().clone();
        let vols = self.vols.lock().unwrap().clone();
        let images = self.images.lock().unwrap().clone();
        let nets = self.nets.lock().unwrap().clone();
        self.each(|s| {
            // -v: the containers' anonymous volumes go with them
            for (cmd, list) in [
                (
                    &["rm", "-f", "-v"][..],
                    [&names[..], &ids[s.idx()][..]].concat(),
                ),
                (&["volume", "rm", "-f"][..], vols[s.idx()].clone()),
                (&["rmi", "-f"][..], images[s.idx()].clone()),
                (&["network", "rm"][..], nets.clone()),
            ] {
                if !list.is_empty() {
                    let mut all: Vec<String> = cmd.iter().map(|w| w.to_string()).collect();
                    all.extend(list);
                    let o = self.exec(s, &all);
                    // `rm -f` of what a scenario names and never made is fine.
                    if o.code != Some(0) && cmd[0] == "rm" && !o.err.contains("No such container") {
                        self.fail(format!(
                            "cleanup on {s:?}: `{}` exited {:?}: {}",
                            all.join(" "),
                            o.code,
                            show(o.err.trim_end())
                        ));
                    }
                }
            }
        });
        // Whatever is still there spoils the scenarios after (`system df`,
        // `ps -aq`): named here, then removed, so it spoils nothing else.
        self.each(|s| {
            let left = self.exec(s, &cl!("ps -a --format {{.ID}}:{{.Names}}:{{.Status}}"));
            if !left.raw_out.trim().is_empty() {
                self.fail(format!(
                    "left behind on {s:?}: {}",
                    show(left.raw_out.trim_end())
                ));
                let ids = self.exec(s, &cl!("ps -aq"));
                let mut all = cl!("rm -f -v");
                all.extend(ids.raw_out.split_whitespace().map(str::to_string));
                let _ = self.exec(s, &all);
            }
        });
    }

    pub(crate) fn exec_in(&self, side: Side, args: &[String], stdin: Option<&str>) -> Out {
        let mut c = self.e.cmd(side, args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        let t = Instant::now();
        let mut child = c.spawn().unwrap();
        if let Some(input) = stdin {
            let mut w = child.stdin.take().unwrap();
            let input = input.to_string();
            // a writer of its own: the container may not read it all
            std::thread::spawn(move || {
                let _ = w.write_all(input.as_bytes());
            });
        }
        let o = child.wait_with_output().unwrap();
        let secs = t.elapsed().as_secs_f64();
        let raw_out = String::from_utf8_lossy(&o.stdout).into_owned();
        let raw_err = String::from_utf8_lossy(&o.stderr).into_owned();
        Out {
            code: o.status.code(),
            out: normalize(side, &raw_out),
            err: normalize(side, &raw_err),
            raw_out,
            raw_err,
            secs,
        }
    }

    pub(crate) fn exec(&self, side: Side, args: &[String]) -> Out {
        self.exec_in(side, args, None)
    }

    /// Run on both, apply `f` to each side's (normalized) stdout, compare.
    pub(crate) fn same_map(
        &self,
        step: &str,
        args: &[String],
        e: E,
        f: impl Fn(Side, &str) -> String,
    ) -> [Out; 2] {
        let o = map_out(self.both(args), f);
        self.check(step, args, &o, e);
        o
    }

    /// Per-side command lines (a host path or an ID of each side's own),
    /// shown as `shown`: each side's values in `subst` replaced by their
    /// token in its stdout and stderr, then compared.
    pub(crate) fn same_each(
        &self,
        step: &str,
        shown: &[String],
        args: impl Fn(Side) -> Vec<String> + Sync,
        subst: impl Fn(Side) -> Vec<(String, String)> + Sync,
        e: E,
    ) -> [Out; 2] {
        let o = self.each(|s| {
            let mut x = self.exec(s, &args(s));
            for (from, to) in subst(s) {
                if !from.is_empty() {
                    x.out = x.out.replace(&from, &to);
                    x.err = x.err.replace(&from, &to);
                }
            }
            x
        });
        self.check(step, shown, &o, e);
        o
    }

    /// `f` for Docker (on a thread of its own) and skiff at once.
    pub(crate) fn each<T: Send>(&self, f: impl Fn(Side) -> T + Sync) -> [T; 2] {
        std::thread::scope(|sc| {
            let h = sc.spawn(|| f(Side::Docker));
            let s = f(Side::Skiff);
            [h.join().unwrap(), s]
        })
    }

    pub(crate) fn both(&self, args: &[String]) -> [Out; 2] {
        self.each(|s| self.exec(s, args))
    }

    /// Run on both and compare.
    pub(crate) fn same(&self, step: &str, args: &[String], e: E) -> [Out; 2] {
        let o = self.both(args);
        self.check(step, args, &o, e);
        o
    }

    /// Run on both with `stdin` and compare.
    pub(crate) fn same_in(&self, step: &str, args: &[String], stdin: &str, e: E) -> [Out; 2] {
        let o = self.each(|s| self.exec_in(s, args, Some(stdin)));
        self.check(step, args, &o, e);
        o
    }

    pub(crate) fn check(&self, step: &str, args: &[String], o: &[Out; 2], e: E) {
        let [dk, sk] = o;
        let what = format!("{step} ({})", args.join(" "));
        if dk.code != sk.code {
            self.fail(format!(
                "{what}: exit code: docker {:?}, skiff {:?}\n      docker stderr: {}\n      skiff stderr:  {}",
                dk.code,
                sk.code,
                show(dk.raw_err.trim_end()),
                show(sk.raw_err.trim_end())
            ));
        }
        if dk.out != sk.out {
            self.fail(format!(
                "{what}: stdout differs\n      docker: {}\n      skiff:  {}",
                show(&dk.out),
                show(&sk.out)
            ));
        }
        match e {
            E::Exact => {
                if dk.err != sk.err {
                    self.fail(format!(
                        "{what}: stderr differs\n      docker: {}\n      skiff:  {}",
                        show(&dk.err),
                        show(&sk.err)
                    ));
                }
            }
            E::Has(phrases) => {
                for p in phrases {
                    let p = p.to_lowercase();
                    for (side, out) in SIDES.iter().zip(o) {
                        if !out.err.to_lowercase().contains(&p) {
                            let who = if *side == Side::Docker {
                                "docker (the test's expectation of Docker is wrong)"
                            } else {
                                "skiff"
                            };
                            self.fail(format!(
                                "{what}: {who}'s stderr lacks {p:?}\n      docker: {}\n      skiff:  {}",
                                show(dk.err.trim_end()),
                                show(sk.err.trim_end())
                            ));
                        }
                    }
                }
            }
            E::Any => {}
        }
    }

    /// What Docker is expected to show (so that a scenario documents the
    /// target; skiff is compared with Docker by `same`).
    pub(crate) fn want(&self, step: &str, o: &[Out; 2], code: i32, stdout: &str) {
        let dk = &o[0];
        if dk.code != Some(code) || dk.out != stdout {
            self.fail(format!(
                "{step}: docker itself shows exit {:?} and {} (the test expected {code} and {})",
                dk.code,
                show(&dk.out),
                show(stdout)
            ));
        }
    }

    /// `same`, then `want` for Docker's exit code and stdout.
    pub(crate) fn same_want(
        &self,
        step: &str,
        args: &[String],
        e: E,
        code: i32,
        stdout: &str,
    ) -> [Out; 2] {
        let o = self.same(step, args, e);
        self.want(step, &o, code, stdout);
        o
    }

    /// A check on one side's value.
    pub(crate) fn expect(&self, side: Side, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.fail(format!("{}: {}", side.label(), msg()));
        }
    }

    pub(crate) fn ok(&self, side: Side, args: &[String]) -> Out {
        let o = self.exec(side, args);
        if o.code != Some(0) {
            self.fail(format!(
                "{} {}: exit {:?}: {}",
                side.label(),
                args.join(" "),
                o.code,
                o.raw_err.trim_end()
            ));
        }
        o
    }

    /// A set-up step both must succeed in; their raw stdout.
    pub(crate) fn setup(&self, args: &[String]) -> [String; 2] {
        self.each(|s| self.ok(s, args).raw_out)
    }

    pub(crate) fn inspect(&self, side: Side, what: &str, fmt: &str) -> String {
        self.exec(side, &cl!("inspect -f {fmt} {what}", fmt, what))
            .raw_out
            .trim_end()
            .to_string()
    }

    pub(crate) fn logs(&self, side: Side, what: &str) -> String {
        self.exec(side, &cl!("logs {what}", what)).raw_out
    }

    /// Poll `f` until it holds; false (and a failure) after `secs`.
    pub(crate) fn until(&self, side: Side, secs: u64, what: &str, f: impl Fn() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(secs);
        while !f() {
            if Instant::now() > end {
                self.fail(format!(
                    "{}: timed out after {secs}s waiting for {what}",
                    side.label()
                ));
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// Wait on both sides until `f(side)` holds.
    pub(crate) fn until_both(&self, what: &str, f: impl Fn(Side) -> bool + Sync) {
        self.each(|s| self.until(s, 20, what, || f(s)));
    }

    /// Wait on both sides until the container has exited.
    pub(crate) fn until_exited(&self, name: &str) {
        self.until_both(&format!("{name} to exit"), |s| {
            self.inspect(s, name, "{{.State.Status}}") == "exited"
        });
    }

    /// Wait on both sides until the container's log holds `text`.
    pub(crate) fn until_logged(&self, name: &str, text: &str) {
        self.until_both(&format!("{text:?} in the log of {name}"), |s| {
            self.logs(s, name).contains(text)
        });
    }
}

/// The host's bounding set, as /proc shows it.
pub(crate) fn host_cap_bnd() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string()
}

pub(crate) fn now_unix() -> String {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}
