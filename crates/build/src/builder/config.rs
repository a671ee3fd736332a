//! The instructions that change only the image's configuration, and the
//! history text each leaves (`created_by`, as BuildKit writes it).

use crate::dockerfile::{Command, Healthcheck};
use crate::state::State;
use skiff_image::manifest::Healthcheck as ImageHealth;

/// The command a CMD, ENTRYPOINT or RUN runs: the exec form as given, the
/// shell form through the image's SHELL.
pub fn command_args(state: &State, c: &Command) -> Vec<String> {
    match c {
        Command::Exec(v) => v.clone(),
        Command::Shell(s) => {
            let mut v = state
                .container()
                .shell
                .clone()
                .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
            v.push(s.clone());
            v
        }
    }
}

/// Go's `%q` of a string list: `["/bin/sh" "-c" "echo hi"]`.
pub fn go_quoted(v: &[String]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|s| serde_json::to_string(s).expect("a string serializes"))
        .collect();
    format!("[{}]", items.join(" "))
}

/// `80`, `80/udp`, `8000-8002` -> `80/tcp`, `80/udp`, `8000/tcp` ...
pub fn ports(word: &str) -> Result<Vec<String>, String> {
    let (range, proto) = word.split_once('/').unwrap_or((word, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let num = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("invalid containerPort: {range}"))
    };
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(range)?, num(range)?),
    };
    if hi < lo {
        return Err(format!("invalid range specified for container: {range}"));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// Docker's health check from HEALTHCHECK.
pub fn healthcheck(h: &Healthcheck) -> ImageHealth {
    match h {
        Healthcheck::None => ImageHealth {
            test: vec!["NONE".into()],
            ..Default::default()
        },
        Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let ns = |d: &Option<std::time::Duration>| d.map_or(0, |d| d.as_nanos() as i64);
            let test = match test {
                Command::Exec(v) => {
                    let mut t = vec!["CMD".to_string()];
                    t.extend(v.iter().cloned());
                    t
                }
                Command::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
            };
            ImageHealth {
                test,
                interval: ns(interval),
                timeout: ns(timeout),
                start_period: ns(start_period),
                start_interval: ns(start_interval),
                retries: retries.unwrap_or(0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_normalized_and_checked() {
        assert_eq!(ports("80").unwrap(), ["80/tcp"]);
        assert_eq!(ports("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            ports("8000-8002").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(ports("http").is_err());
        assert!(ports("80/xyz").is_err());
        assert!(ports("9-8").is_err());
    }

    #[test]
    fn lists_are_quoted_as_go_does() {
        assert_eq!(
            go_quoted(&["/bin/sh".into(), "-c".into(), "echo \"hi\"".into()]),
            r#"["/bin/sh" "-c" "echo \"hi\""]"#
        );
    }
}
