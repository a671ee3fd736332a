//! The commands: Docker's flags, output and exit codes over the engine's
//! calls, a module per command or family of commands. Here, what they
//! share: the failure a command ends with and its exit code, opening the
//! engine, flag values several commands read, and the printing of
//! documents, prompts and prune lists.

pub mod attach;
pub mod build;
mod build_progress;
pub mod builder;
pub mod container;
pub mod create;
pub mod errors;
pub mod events;
pub mod exec;
pub mod fs;
pub mod images;
pub mod inspect;
pub mod kube;
pub mod lifecycle;
pub mod logs;
pub mod networks;
mod progress;
pub mod ps;
pub mod run;
pub mod serve;
pub mod stats;
pub mod system;
mod terminal;
pub mod update;
pub mod volumes;

use skiff_engine::Engine;
use std::collections::BTreeMap;
use std::path::Path;

/// A failure with the exit code Docker's CLI gives it.
pub struct Failure {
    pub code: i32,
    pub msg: String,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 1,
            msg: e.to_string(),
        }
    }
}

pub(crate) type Result<T = ()> = std::result::Result<T, Failure>;

/// The exit status Docker's CLI gives a failed `run`, `start` or `exec`:
/// 127 when the command is not found, 126 when it cannot be run, 125 for
/// every other refusal.
pub(crate) fn exit_code(e: &skiff_engine::Error) -> i32 {
    use skiff_engine::StartCause;
    match e.start_cause() {
        Some(StartCause::CommandNotFound) => 127,
        Some(StartCause::NotExecutable) => 126,
        _ => 125,
    }
}

pub(crate) fn daemon(code: i32) -> impl Fn(skiff_engine::Error) -> Failure {
    move |e| Failure {
        code: if code == 125 { exit_code(&e) } else { code },
        msg: format!("Error response from daemon: {e}"),
    }
}

pub(crate) fn open(root: &Path, runroot: &Path) -> Result<Engine> {
    Engine::open(root, runroot).map_err(|e| Failure {
        code: 125,
        msg: e.to_string(),
    })
}

/// `-e KEY` takes KEY's value from our environment, as Docker does.
fn env_entry(e: &str) -> String {
    if e.contains('=') {
        e.to_string()
    } else {
        match std::env::var(e) {
            Ok(v) => format!("{e}={v}"),
            Err(_) => e.to_string(),
        }
    }
}

/// `--label KEY[=VALUE]` flags as a map (a bare key gets an empty value).
pub(crate) fn parse_labels(flags: &[String]) -> BTreeMap<String, String> {
    flags
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A port number, or why not in the words of Go's `strconv.ParseUint`, which
/// Docker's client quotes.
pub(crate) fn parse_port_number(n: &str) -> std::result::Result<u16, String> {
    n.parse().map_err(|_| {
        let why = if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        format!("strconv.ParseUint: parsing {n:?}: {why}")
    })
}

/// An RFC 3339 time, Unix seconds, or a duration before now (`10s`, `5m`),
/// as Docker's client reads `--since`/`--until`.
fn parse_time_arg(s: &str) -> std::result::Result<i64, String> {
    if let Some(n) = skiff_engine::time::parse_timestamp(s) {
        return Ok(n);
    }
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let mult: f64 = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "ms" => 0.001,
        _ => return Err(format!("invalid time {s:?}")),
    };
    let n: f64 = num.parse().map_err(|_| format!("invalid time {s:?}"))?;
    Ok(skiff_engine::time::now_nanos() - (n * mult * 1e9) as i64)
}

/// `volume inspect` and `network inspect`: each document through the
/// template, or all of them as one JSON array; then exit 1 if any of those
/// asked for was missing (already reported).
pub(crate) fn print_documents(
    out: &[serde_json::Value],
    format: Option<&str>,
    failed: bool,
) -> Result {
    match format {
        Some(f) => {
            for v in out {
                println!(
                    "{}",
                    crate::output::template::render(f, v).map_err(Failure::from)?
                );
            }
        }
        None => println!("{}", json_4(&out)),
    }
    if failed {
        return Err(Failure {
            code: 1,
            msg: String::new(),
        });
    }
    Ok(())
}

/// Ask on the terminal; false unless the answer is y or yes.
pub(crate) fn confirm(question: &str) -> bool {
    use std::io::Write;
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// `Deleted Containers:` and its list, then a blank line (nothing when
/// nothing was removed), as Docker's prune commands print them.
pub(crate) fn print_deleted(title: &str, items: &[String]) {
    if !items.is_empty() {
        println!("Deleted {title}:");
        for i in items {
            println!("{i}");
        }
        println!();
    }
}

/// JSON indented by 4 spaces, as Docker's inspect commands print it.
pub fn json_4<T: serde::Serialize>(v: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if v.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}
