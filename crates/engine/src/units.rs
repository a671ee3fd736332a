//! Values as Docker's flags and API write them, parsed and printed the way
//! Docker's Go code does: sizes (`64m`, `1g`), Go durations (`1m30s`),
//! ulimits, restart policies, signals, CPU lists, and go-units' human
//! durations ("2 hours").

use crate::model::{RestartPolicy, Ulimit};
use std::time::Duration;

/// `12k`, `64m`, `1g` or bytes.
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    num.parse::<f64>()
        .ok()
        .filter(|n| *n >= 0.0)
        .map(|n| (n * mult as f64) as i64)
        .ok_or_else(|| format!("invalid size: '{s}'"))
}

/// `10k`, `1m`, `1g` with decimal units (go-units' FromHumanSize).
pub fn parse_decimal_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1e3),
        Some('m') => (&t[..t.len() - 1], 1e6),
        Some('g') => (&t[..t.len() - 1], 1e9),
        Some('t') => (&t[..t.len() - 1], 1e12),
        _ => (t, 1.0),
    };
    num.parse::<f64>()
        .ok()
        .filter(|n| *n >= 0.0)
        .map(|n| (n * mult) as u64)
        .ok_or_else(|| format!("invalid size: '{s}'"))
}

/// A Go duration (`1m30s`, `500ms`, `2h`) in nanoseconds.
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration \"{s}\"");
    if s == "0" {
        return Ok(0);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Ok(total as i64)
}

/// `--ulimit NAME=SOFT[:HARD]`.
pub fn parse_ulimit(s: &str) -> Result<Ulimit, String> {
    let (name, vals) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
    let (soft, hard) = match vals.split_once(':') {
        Some((a, b)) => (a, b),
        None => (vals, vals),
    };
    let p = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| format!("invalid ulimit argument: {s}"))
    };
    let (soft, hard) = (p(soft)?, p(hard)?);
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// `--restart no|always|unless-stopped|on-failure[:N]`.
pub fn parse_restart(s: &str) -> Result<RestartPolicy, String> {
    let (name, n) = match s.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    match (name, n) {
        ("no" | "always" | "unless-stopped", None) => Ok(RestartPolicy {
            name: name.to_string(),
            maximum_retry_count: 0,
        }),
        ("on-failure", n) => Ok(RestartPolicy {
            name: name.into(),
            maximum_retry_count: match n {
                Some(n) => n
                    .parse()
                    .map_err(|_| format!("invalid restart policy {s}: maximum retry count must be an integer"))?,
                None => 0,
            },
        }),
        ("always" | "unless-stopped", Some(_)) => Err(format!(
            "invalid restart policy {s}: maximum retry count cannot be used with restart policy '{name}'"
        )),
        _ => Err(format!("invalid restart policy {s}")),
    }
}

/// A duration as Go prints one (`200ms`, `30s`, `1m30s`).
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs_f64();
    let (m, s) = ((secs / 60.0).floor() as u64, secs % 60.0);
    let s = if s.fract() == 0.0 {
        format!("{}s", s as u64)
    } else {
        format!("{}s", format!("{s:.3}").trim_end_matches('0'))
    };
    match (m / 60, m % 60) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

/// Seconds as Docker's go-units HumanDuration words them ("2 hours").
pub fn human_duration(s: i64) -> String {
    let h = s / 3600;
    let words = if s < 1 {
        "Less than a second".to_string()
    } else if s == 1 {
        "1 second".into()
    } else if s < 60 {
        format!("{s} seconds")
    } else if s / 60 == 1 {
        "About a minute".into()
    } else if s < 3600 {
        format!("{} minutes", s / 60)
    } else if h == 1 {
        "About an hour".into()
    } else if h < 48 {
        format!("{h} hours")
    } else if h < 24 * 7 * 2 {
        format!("{} days", h / 24)
    } else if h < 24 * 30 * 2 {
        format!("{} weeks", h / 24 / 7)
    } else if h < 24 * 365 * 2 {
        format!("{} months", h / 24 / 30)
    } else {
        format!("{} years", h / 24 / 365)
    };
    words
}

/// The CPUs of this host, as `0-1`-style ranges parse to.
pub fn online_cpus() -> Vec<u32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    parse_cpu_list(text.trim()).unwrap_or_default()
}

/// `0-2,4` into [0, 1, 2, 4].
pub fn parse_cpu_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

/// Parse a signal name or number (`KILL`, `SIGKILL`, `9`).
pub fn parse_signal(s: &str) -> crate::Result<i32> {
    skiff_runtime::signals::parse(s)
        .ok_or_else(|| crate::Error::Invalid(format!("Invalid signal: {s}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("500ms"), Ok(500_000_000));
        assert!(parse_go_duration("5x").is_err());
        assert!(parse_go_duration("").is_err());
    }

    #[test]
    fn sizes_ulimits_restart_policies_cpu_lists() {
        assert_eq!(parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert!(parse_bytes("-1").is_err());
        assert_eq!(parse_decimal_size("10k"), Ok(10_000));
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        assert!(parse_ulimit("nofile=3:2").is_err());
        assert_eq!(
            parse_restart("on-failure:3").unwrap().maximum_retry_count,
            3
        );
        assert!(parse_restart("always:3").is_err());
        assert_eq!(parse_cpu_list("0-2,4"), Some(vec![0, 1, 2, 4]));
        assert_eq!(parse_cpu_list("2-1"), None);
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(7200), "2 hours");
    }
}
