//! Runtime logging as runc does it: `--log FILE` with `--log-format text|json`.
//! Errors and warnings go to the log file (JSON lines for containerd and podman
//! to parse) and to stderr.

use std::io::Write;
use std::sync::Mutex;

struct Sink {
    file: Option<std::fs::File>,
    json: bool,
    debug: bool,
}

static SINK: Mutex<Sink> = Mutex::new(Sink {
    file: None,
    json: false,
    debug: false,
});

/// Configure where log lines go.
pub fn init(path: Option<&std::path::Path>, json: bool, debug: bool) -> std::io::Result<()> {
    let file = match path {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
        None => None,
    };
    let mut s = SINK.lock().unwrap_or_else(|e| e.into_inner());
    *s = Sink { file, json, debug };
    Ok(())
}

fn line(level: &str, msg: &str, json: bool) -> String {
    if json {
        format!(
            "{}\n",
            serde_json::json!({"level": level, "msg": msg, "time": crate::state::now_rfc3339()})
        )
    } else {
        format!(
            "time=\"{}\" level={level} msg={:?}\n",
            crate::state::now_rfc3339(),
            msg
        )
    }
}

fn write(level: &str, msg: &str, to_stderr: bool) {
    let mut s = SINK.lock().unwrap_or_else(|e| e.into_inner());
    let json = s.json;
    if let Some(f) = s.file.as_mut() {
        let _ = f.write_all(line(level, msg, json).as_bytes());
    }
    if to_stderr {
        let _ = std::io::stderr().write_all(format!("skiff-runtime: {msg}\n").as_bytes());
    }
}

pub fn error(msg: &str) {
    write("error", msg, true);
}

pub fn warn(msg: &str) {
    write("warning", msg, true);
}

pub fn debug(msg: &str) {
    let on = SINK.lock().map(|s| s.debug).unwrap_or(false);
    if on {
        write("debug", msg, false);
    }
}

static TIMING: std::sync::OnceLock<Option<std::time::Instant>> = std::sync::OnceLock::new();

/// With SKIFF_TIMING set, print how long after the process started each step
/// was reached (children inherit the clock), with the wall clock, so steps of
/// several processes line up. SKIFF_TIMING=1 prints to stderr; any other
/// value is a file to append to. For profiling container start; costs one
/// branch when off.
pub fn timing(step: &str) {
    let start =
        TIMING.get_or_init(|| std::env::var_os("SKIFF_TIMING").map(|_| std::time::Instant::now()));
    if let Some(t) = start {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() % 100.0)
            .unwrap_or(0.0);
        let line = format!(
            "[{:>8.3} ms {wall:>9.6} pid {}] {step}\n",
            t.elapsed().as_secs_f64() * 1000.0,
            std::process::id()
        );
        match std::env::var("SKIFF_TIMING").as_deref() {
            Ok("1") | Err(_) => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Ok(path) => {
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = f.write_all(line.as_bytes());
                }
            }
        }
    }
}
