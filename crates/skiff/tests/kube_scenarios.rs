//! Kubernetes scenarios, one file each in tests/kube/scenarios/: a manifest
//! (adapted from the Kubernetes documentation's examples to the offline
//! busybox image) whose leading comments say what a user then checks with
//! kubectl. Every scenario gets a namespace of its own (its name, the file's
//! stem) on one store and one `skiff serve`; a few run at once. The checks:
//!
//! ```text
//! #> ARGS               a `kube` command (-n NAMESPACE added, before any --)
//! #> until SECS: ARGS   the same, run again until its expectations hold
//! #> host: SHELL        a shell command on the node (the test's namespace)
//! #= TEXT               stdout, trimmed, is TEXT (several lines: joined)
//! #~ TEXT               stdout contains TEXT
//! #! TEXT               exit code 1, and stderr contains TEXT
//! #? CODE               the exit code is CODE (else 0 unless `#!`)
//! ```
//!
//! `$NS` in a command or an expectation is the scenario's namespace, `$FILE`
//! the scenario's file, `$SKIFF` (in a host command) skiff on the test's
//! store. The file is applied first, unless a step applies it
//! (to check what `apply` says). A scenario's commands run in order; the first one that fails ends it, and
//! every failed scenario is reported, with its command and output.

mod kube_env;

use kube_env::Kube;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Step {
    line: usize,
    until: Option<u64>,
    host: bool,
    command: String,
    equals: Vec<String>,
    contains: Vec<String>,
    stderr: Vec<String>,
    code: Option<i32>,
}

/// The steps in a scenario's leading comments.
fn parse(text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix('#') else {
            break;
        };
        let (tag, arg) = match rest.char_indices().nth(1) {
            Some((j, _)) => (&rest[..j], rest[j..].trim_start()),
            None => (rest, ""),
        };
        let last = steps.last_mut();
        match (tag, last) {
            (">", _) => {
                let mut s = Step {
                    line: i + 1,
                    ..Default::default()
                };
                let mut cmd = arg;
                if let Some(r) = cmd.strip_prefix("until ") {
                    let (secs, r) = r.split_once(':').expect("until SECS: ARGS");
                    s.until = Some(secs.trim().parse().expect("until SECS"));
                    cmd = r.trim_start();
                }
                if let Some(r) = cmd.strip_prefix("host:") {
                    s.host = true;
                    cmd = r.trim_start();
                }
                s.command = cmd.to_string();
                steps.push(s);
            }
            ("=", Some(s)) => s.equals.push(arg.to_string()),
            ("~", Some(s)) => s.contains.push(arg.to_string()),
            ("!", Some(s)) => s.stderr.push(arg.to_string()),
            ("?", Some(s)) => s.code = Some(arg.parse().expect("#? CODE")),
            ("=" | "~" | "!" | "?", None) => panic!("line {}: an expectation before any #>", i + 1),
            _ => {}
        }
    }
    steps
}

/// Words of a command line: whitespace splits, single and double quotes
/// group (no escapes inside single quotes).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => cur.extend(chars.next()),
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(ch);
                have = true;
            }
            (None, c) if c.is_whitespace() => {
                if have || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                have = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if have || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// One run of a step: (exit code, stdout, stderr).
fn run_once(k: &Kube, ns: &str, file: &str, s: &Step) -> (i32, String, String) {
    let cmd = s.command.replace("$NS", ns).replace("$FILE", file);
    let o = if s.host {
        let skiff = format!(
            "{} --root {} --runroot {}",
            env!("CARGO_BIN_EXE_skiff"),
            k.root.display(),
            k.runroot.display()
        );
        k.ns.command("sh")
            .arg("-c")
            .arg(cmd.replace("$SKIFF", &skiff))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    } else {
        let mut w = words(&cmd);
        assert!(!w.is_empty(), "line {}: an empty command", s.line);
        let at = w.iter().position(|x| x == "--").unwrap_or(w.len());
        w.insert(at, "-n".into());
        w.insert(at + 1, ns.into());
        let args: Vec<&str> = w.iter().map(String::as_str).collect();
        k.run(&args)
    };
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Why a run does not meet the step's expectations, if it does not.
fn verdict(s: &Step, ns: &str, (code, out, err): &(i32, String, String)) -> Option<String> {
    let want_code = s.code.unwrap_or(if s.stderr.is_empty() { 0 } else { 1 });
    let sub = |t: &String| t.replace("$NS", ns);
    let mut why = Vec::new();
    if *code != want_code {
        why.push(format!("exit code {code}, wanted {want_code}"));
    }
    if !s.equals.is_empty() {
        let want = s.equals.iter().map(sub).collect::<Vec<_>>().join("\n");
        if out.trim() != want {
            why.push(format!("stdout is not {want:?}"));
        }
    }
    for t in s.contains.iter().map(sub) {
        if !out.contains(&t) {
            why.push(format!("stdout lacks {t:?}"));
        }
    }
    for t in s.stderr.iter().map(sub) {
        if !err.contains(&t) {
            why.push(format!("stderr lacks {t:?}"));
        }
    }
    (!why.is_empty()).then(|| {
        format!(
            "{}\n  stdout: {:?}\n  stderr: {:?}",
            why.join("; "),
            out.trim(),
            err.trim()
        )
    })
}

/// Run one scenario; Err says where and why it failed.
fn scenario(k: &Kube, file: &Path) -> Result<(), String> {
    let ns = file.file_stem().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(file).unwrap();
    let steps = parse(&text);
    if steps.is_empty() {
        return Err("no checks (#> lines) in its leading comments".into());
    }
    let f = file.to_str().unwrap();
    let created = k.run(&["create", "namespace", &ns]);
    if !created.status.success() {
        return Err(format!(
            "create namespace: {}",
            String::from_utf8_lossy(&created.stderr)
        ));
    }
    let explicit = steps
        .iter()
        .any(|s| !s.host && words(&s.command).first().is_some_and(|w| w == "apply"));
    if !explicit {
        let applied = k.run(&["apply", "-n", &ns, "-f", f]);
        if !applied.status.success() {
            return Err(format!(
                "apply: {}",
                String::from_utf8_lossy(&applied.stderr)
            ));
        }
    }
    for s in &steps {
        let end = Instant::now() + Duration::from_secs(s.until.unwrap_or(0));
        loop {
            let r = run_once(k, &ns, f, s);
            let Some(why) = verdict(s, &ns, &r) else {
                break;
            };
            if Instant::now() >= end {
                let after = s.until.map_or(String::new(), |n| format!(" after {n}s"));
                return Err(format!(
                    "line {} `{}`{after}: {why}\n{}",
                    s.line,
                    s.command,
                    what_happened(k, &ns)
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(())
}

/// The namespace's events and its pods' container states, for a report.
fn what_happened(k: &Kube, ns: &str) -> String {
    let out = |args: &[&str]| String::from_utf8_lossy(&k.run(args).stdout).into_owned();
    let states = out(&[
        "get",
        "pods",
        "-n",
        ns,
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}: {.status.initContainerStatuses} {.status.containerStatuses}{\"\\n\"}{end}",
    ]);
    format!(
        "  events:\n{}  containers:\n{}",
        out(&["get", "events", "-n", ns]),
        states
    )
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = kube_env::manifest("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_passes() {
    let files = scenario_files();
    assert!(files.len() >= 20, "only {} scenarios", files.len());
    // One scenario may be asked for alone: SKIFF_SCENARIO=name.
    let only = std::env::var("SKIFF_SCENARIO").ok();
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| only.as_deref().is_none_or(|o| f.file_stem().unwrap() == o))
        .collect();
    assert!(!files.is_empty(), "no scenario named {only:?}");
    let k = Kube::new();
    let queue = Mutex::new(files.clone());
    let failed = Mutex::new(Vec::new());
    let workers = 3;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let Some(f) = queue.lock().unwrap().pop() else {
                    break;
                };
                let t = Instant::now();
                let name = f.file_stem().unwrap().to_string_lossy().into_owned();
                let r = scenario(&k, &f);
                eprintln!(
                    "scenario {name}: {} in {:.1}s",
                    if r.is_ok() { "ok" } else { "FAILED" },
                    t.elapsed().as_secs_f64()
                );
                if let Err(why) = r {
                    failed.lock().unwrap().push(format!("{name}: {why}"));
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    if !failed.is_empty() {
        let pods = k.run(&["get", "pods", "-A", "-o", "wide"]);
        let log = std::fs::read_to_string(k.runroot.join("serve.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "{} of {} scenarios failed:\n{}\npods:\n{}\nserve.log (last lines):\n{}",
            failed.len(),
            files.len(),
            failed.join("\n"),
            String::from_utf8_lossy(&pods.stdout),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

#[test]
fn the_check_language() {
    let steps = parse(
        "# A title line.\n#> until 5: get pod x -o 'jsonpath={.a b}'\n#= one\n#= two\n\
         #> host: echo hi\n#~ hi\n#> get pod y\n#! NotFound\n#? 1\napiVersion: v1\n#> not a step\n",
    );
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0].until, Some(5));
    assert_eq!(
        words(&steps[0].command),
        ["get", "pod", "x", "-o", "jsonpath={.a b}"]
    );
    assert_eq!(steps[0].equals, ["one", "two"]);
    assert!(steps[1].host);
    assert_eq!(steps[2].stderr, ["NotFound"]);
    assert_eq!(steps[2].code, Some(1));
    assert_eq!(words(r#"a "b \" c" '' d"#), ["a", "b \" c", "", "d"]);
    let s = &steps[0];
    let ok = (0, "one\ntwo\n".to_string(), String::new());
    assert_eq!(verdict(s, "ns", &ok), None);
    let bad = (0, "one\n".to_string(), String::new());
    assert!(verdict(s, "ns", &bad).unwrap().contains("stdout is not"));
    assert!(verdict(&steps[2], "ns", &(0, String::new(), String::new())).is_some());
}
