//! `kubectl get`'s tables: each kind's columns (and `-o wide`'s), worded
//! and computed as kubectl's printers do, aligned as its tab writer aligns
//! them. They live here, not in the CLI, because a Kubernetes API front end
//! serves the same tables (`as=Table`).

mod rows;

pub use rows::{hpa_targets, pod_columns, selector_text};
use rows::{row, wide_row};

use crate::kinds::Kind;
use crate::object::Object;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// A table: its headers and rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Aligned as kubectl's tab writer aligns (cells padded to the widest
    /// plus three, at least six; the last column unpadded).
    pub fn render(&self) -> String {
        let cols = std::iter::once(&self.headers)
            .chain(&self.rows)
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        let mut width = vec![0; cols];
        for r in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.chars().count() + 3).max(6);
            }
        }
        let mut out = String::new();
        let headers = (!self.headers.is_empty()).then_some(&self.headers);
        for r in headers.into_iter().chain(&self.rows) {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                if i + 1 == r.len() {
                    line.push_str(c);
                } else {
                    line.push_str(&format!("{c:<w$}", w = width[i]));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The table of `objects` (all of `kind`), with a NAMESPACE column first
/// when `namespaced_view` (`-A`), and the wide columns when `wide`.
pub fn table(kind: Kind, objects: &[Object], wide: bool, namespaced_view: bool) -> Table {
    let now = crate::cluster::now_timestamp();
    let (mut headers, wide_headers) = headers(kind);
    if wide {
        headers.extend(wide_headers);
    }
    let mut rows = Vec::new();
    for o in objects {
        let mut row = row(o, now);
        if wide {
            row.extend(wide_row(o));
        }
        if namespaced_view {
            row.insert(0, o.namespace().to_string());
        }
        rows.push(row);
    }
    let mut headers: Vec<String> = headers.into_iter().map(String::from).collect();
    if namespaced_view {
        headers.insert(0, "NAMESPACE".into());
    }
    Table { headers, rows }
}

fn headers(kind: Kind) -> (Vec<&'static str>, Vec<&'static str>) {
    let workload_wide = vec!["CONTAINERS", "IMAGES", "SELECTOR"];
    match kind {
        Kind::Namespace => (vec!["NAME", "STATUS", "AGE"], vec![]),
        Kind::Node => (
            vec!["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
            vec![
                "INTERNAL-IP",
                "EXTERNAL-IP",
                "OS-IMAGE",
                "KERNEL-VERSION",
                "CONTAINER-RUNTIME",
            ],
        ),
        Kind::Pod => (
            vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
            vec!["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
        ),
        Kind::Service => (
            vec![
                "NAME",
                "TYPE",
                "CLUSTER-IP",
                "EXTERNAL-IP",
                "PORT(S)",
                "AGE",
            ],
            vec!["SELECTOR"],
        ),
        Kind::Endpoints => (vec!["NAME", "ENDPOINTS", "AGE"], vec![]),
        Kind::ConfigMap => (vec!["NAME", "DATA", "AGE"], vec![]),
        Kind::Secret => (vec!["NAME", "TYPE", "DATA", "AGE"], vec![]),
        Kind::PersistentVolumeClaim => (
            vec![
                "NAME",
                "STATUS",
                "VOLUME",
                "CAPACITY",
                "ACCESS MODES",
                "STORAGECLASS",
                "VOLUMEATTRIBUTESCLASS",
                "AGE",
            ],
            vec!["VOLUMEMODE"],
        ),
        Kind::Event => (
            vec!["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
            vec![],
        ),
        Kind::Deployment => (
            vec!["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
            workload_wide,
        ),
        Kind::ReplicaSet => (
            vec!["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
            workload_wide,
        ),
        Kind::Job => (
            vec!["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
            workload_wide,
        ),
        Kind::HorizontalPodAutoscaler => (
            vec![
                "NAME",
                "REFERENCE",
                "TARGETS",
                "MINPODS",
                "MAXPODS",
                "REPLICAS",
                "AGE",
            ],
            vec![],
        ),
        Kind::EndpointSlice => (
            vec!["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
            vec![],
        ),
    }
}

fn age(t: Option<&Time>, now: k8s_openapi::jiff::Timestamp) -> String {
    match t {
        Some(t) => human_duration(now.as_second() - t.0.as_second()),
        None => "<unknown>".into(),
    }
}

/// Kubernetes' `duration.HumanDuration` of a number of seconds.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        return match secs % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            d => format!("{}y{d}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_kubectl_shows_them() {
        for (s, want) in [
            (5, "5s"),
            (119, "119s"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (50 * 3600, "2d2h"),
            (400 * 86400, "400d"),
        ] {
            assert_eq!(human_duration(s), want);
        }
    }

    #[test]
    fn tables_align_as_tabwriter_does() {
        let t = Table {
            headers: vec!["NAME".into(), "DATA".into(), "AGE".into()],
            rows: vec![vec!["a-long-config-name".into(), "2".into(), "5s".into()]],
        };
        assert_eq!(
            t.render(),
            "NAME                 DATA   AGE\na-long-config-name   2      5s\n"
        );
    }
}
