//! Output formatting shared by commands: Docker's tables, sizes and ages.

/// Columns padded as Go's tabwriter does for the Docker CLI (padding 3,
/// minimum cell width 10).
pub fn table(rows: &[Vec<String>]) -> String {
    table_min(rows, 10)
}

/// [`table`] with another minimum cell width (`top` uses 20).
pub fn table_min(rows: &[Vec<String>], min: usize) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, v) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(v);
            } else {
                line.push_str(&format!("{v:<w$}", w = (widths[c] + 3).max(min)));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

const DECIMAL: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
const BINARY: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/// `bytes` as go-units writes sizes: scaled by `base` while it is that big,
/// `digits` significant digits, then the unit.
fn sized(bytes: u64, base: f64, units: &[&str; 6], digits: i32) -> String {
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= base && i + 1 < units.len() {
        v /= base;
        i += 1;
    }
    format!("{}{}", significant(v, digits), units[i])
}

/// Decimal size with 4 significant digits, as go-units' HumanSize
/// ("1.984MB"; `system df` uses it).
pub fn human_size4(bytes: u64) -> String {
    sized(bytes, 1000.0, &DECIMAL, 4)
}

/// Decimal size with 3 significant digits, as `docker images` prints it ("4.26MB").
pub fn human_size(bytes: u64) -> String {
    sized(bytes, 1000.0, &DECIMAL, 3)
}

/// Binary size with 4 significant digits, as go-units' BytesSize
/// ("23.54GiB"; `stats` and `info` use it).
pub fn bytes_size(bytes: u64) -> String {
    sized(bytes, 1024.0, &BINARY, 4)
}

/// Go's `%.Ng`: `digits` significant digits, no trailing zeros.
fn significant(v: f64, digits: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let whole = v.abs().log10().floor() as i32 + 1;
    let decimals = (digits - whole).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Seconds since the epoch of an RFC 3339 UTC time ("2026-11-22T03:04:05.123Z").
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    skiff_engine::time::parse_rfc3339_nanos(s).map(|n| n.div_euclid(1_000_000_000))
}

/// "2 hours ago", as Docker's go-units HumanDuration words it.
pub fn ago(created: &str) -> String {
    let Some(t) = parse_rfc3339(created) else {
        return "N/A".into();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format!(
        "{} ago",
        skiff_engine::units::human_duration((now - t).max(0))
    )
}

/// `IP:PORT`, with brackets around an IPv6 address.
fn host_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Docker's PORTS text. Entries are taken in order of container port, host
/// address, host port and protocol. Exposed-only ports, and ports published
/// at the same number on one address, run together into ranges
/// (`7000-7001/tcp`, `0.0.0.0:7000-7001->7000-7001/tcp`); a range listed
/// once per address and protocol, where its first port came, unless a gap
/// ended an earlier one, which is listed first. Ports published at another
/// number (`0.0.0.0:8080->80/tcp`) come last.
pub fn ports_text(mut entries: Vec<skiff_engine::network::PortEntry>) -> String {
    entries.sort_by(|a, b| {
        let key = |e: &skiff_engine::network::PortEntry| {
            let (ip, hp) = e.host.clone().unwrap_or_default();
            (e.port, ip, hp, e.proto.clone())
        };
        key(a).cmp(&key(b))
    });
    let range = |first: u16, last: u16| {
        if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        }
    };
    let show = |ip: &str, proto: &str, first: u16, last: u16| {
        let r = range(first, last);
        if ip.is_empty() {
            format!("{r}/{proto}")
        } else {
            format!("{}->{r}/{proto}", host_port(ip, &r))
        }
    };
    // Runs by (address, protocol), in the order each key first came.
    let mut runs: Vec<((String, String), u16, u16)> = Vec::new();
    let mut ended = Vec::new();
    let mut mapped = Vec::new();
    for e in entries {
        let ip = match &e.host {
            Some((ip, hp)) if *hp != e.port => {
                mapped.push(format!(
                    "{}->{}/{}",
                    host_port(ip, &hp.to_string()),
                    e.port,
                    e.proto
                ));
                continue;
            }
            Some((ip, _)) => ip.clone(),
            None => String::new(),
        };
        let key = (ip, e.proto);
        match runs.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, last)) if e.port == last.wrapping_add(1) => *last = e.port,
            Some((k, first, last)) => {
                ended.push(show(&k.0, &k.1, *first, *last));
                (*first, *last) = (e.port, e.port);
            }
            None => runs.push((key, e.port, e.port)),
        }
    }
    ended.extend(
        runs.iter()
            .map(|((ip, proto), f, l)| show(ip, proto, *f, *l)),
    );
    ended.extend(mapped);
    ended.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(770_000), "770kB");
        assert_eq!(human_size(1_200_000_000), "1.2GB");
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(4_000_000), "4MB");
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size4(1_984_000), "1.984MB");
        assert_eq!(bytes_size(25_276_510_208), "23.54GiB");
        assert_eq!(bytes_size(708 * 1024), "708KiB");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-22T03:04:05.123456789Z"),
            Some(1795316645)
        );
        assert_eq!(ago("bogus"), "N/A");
    }

    #[test]
    fn table_pads_columns() {
        let t = table(&[
            vec!["REPOSITORY".into(), "TAG".into()],
            vec!["busybox".into(), "latest".into()],
        ]);
        assert_eq!(t, "REPOSITORY   TAG\nbusybox      latest\n");
    }
}

/// One row of values for `--format`: (field name as Docker spells it, header, value).
pub type Fields = Vec<(&'static str, &'static str, String)>;

/// Docker's `--format` for list commands: Go-template forms `{{.Field}}`,
/// `{{json .}}`, `{{json .Field}}`, the `table` prefix (a header row and aligned
/// columns), `json` alone (one JSON object per row), and `\t`/`\n` escapes.
pub fn render_rows(format: &str, rows: &[Fields]) -> Result<String, String> {
    let format = format.replace("\\t", "\t").replace("\\n", "\n");
    if format.trim() == "json" {
        let mut out = String::new();
        for r in rows {
            out.push_str(&row_json(r));
            out.push('\n');
        }
        return Ok(out);
    }
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start().to_string()),
        None => (false, format.clone()),
    };
    let empty: Fields = rows.first().cloned().unwrap_or_default();
    let mut lines = Vec::new();
    if table {
        lines.push(expand(&body, &empty, true)?);
    }
    for r in rows {
        lines.push(expand(&body, r, false)?);
    }
    if table {
        let split: Vec<Vec<String>> = lines
            .iter()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        return Ok(table_rows(&split));
    }
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

fn table_rows(rows: &[Vec<String>]) -> String {
    table(rows)
}

fn row_json(r: &Fields) -> String {
    let mut m = serde_json::Map::new();
    for (k, _, v) in r {
        m.insert(k.to_string(), serde_json::Value::String(v.clone()));
    }
    serde_json::Value::Object(m).to_string()
}

/// Replace every `{{...}}` action in `body` with the row's value (or, for the
/// header row, the field's header).
fn expand(body: &str, r: &Fields, header: bool) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("template: unclosed action in {body:?}"))?;
        let action = after[..end].trim();
        // Docker's `{{.Label "key"}}`: one label's value, from the
        // comma-separated Labels field.
        if let Some(key) = action
            .strip_prefix(".Label ")
            .map(|k| k.trim().trim_matches('"'))
        {
            let labels = r
                .iter()
                .find(|(k, _, _)| *k == "Labels")
                .map(|(_, _, v)| v.clone())
                .unwrap_or_default();
            let v = labels
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default();
            out.push_str(if header { "LABEL" } else { &v });
            rest = &after[end + 2..];
            continue;
        }
        let value = if action == "json ." {
            if header {
                String::new()
            } else {
                row_json(r)
            }
        } else {
            let (json, field) = match action.strip_prefix("json ") {
                Some(f) => (true, f.trim()),
                None => (false, action),
            };
            let name = field
                .strip_prefix('.')
                .ok_or_else(|| format!("template: unsupported action {{{{{action}}}}}"))?;
            let (_, head, v) = r
                .iter()
                .find(|(k, _, _)| *k == name)
                .ok_or_else(|| format!("template: can't evaluate field {name}"))?;
            match (header, json) {
                (true, _) => head.to_string(),
                (false, true) => serde_json::Value::String(v.clone()).to_string(),
                (false, false) => v.clone(),
            }
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod format_tests {
    use super::*;

    fn rows() -> Vec<Fields> {
        vec![
            vec![
                ("Repository", "REPOSITORY", "busybox".into()),
                ("Tag", "TAG", "latest".into()),
            ],
            vec![
                ("Repository", "REPOSITORY", "localhost:5000/x".into()),
                ("Tag", "TAG", "v1".into()),
            ],
        ]
    }

    #[test]
    fn plain_table_and_json() {
        assert_eq!(
            render_rows("{{.Repository}}:{{.Tag}}", &rows()).unwrap(),
            "busybox:latest\nlocalhost:5000/x:v1\n"
        );
        assert_eq!(
            render_rows("table {{.Repository}}\\t{{.Tag}}", &rows()).unwrap(),
            "REPOSITORY         TAG\nbusybox            latest\nlocalhost:5000/x   v1\n"
        );
        assert_eq!(
            render_rows("json", &rows()[..1]).unwrap(),
            "{\"Repository\":\"busybox\",\"Tag\":\"latest\"}\n"
        );
        assert_eq!(
            render_rows("{{json .Tag}}", &rows()[..1]).unwrap(),
            "\"latest\"\n"
        );
        assert!(render_rows("{{.Nope}}", &rows())
            .unwrap_err()
            .contains("can't evaluate field Nope"));
    }

    #[test]
    fn ports_text_groups_and_orders_as_docker() {
        let e = |port, proto: &str, host: Option<(&str, u16)>| skiff_engine::network::PortEntry {
            port,
            proto: proto.into(),
            host: host.map(|(ip, p)| (ip.to_string(), p)),
        };
        // What Docker 20.10 printed for -p 8080:80 -p 127.0.0.1:9090:90/udp
        // -p 7000-7001:7000-7001 --expose 5000 (it adds [::] bindings).
        let all = vec![
            e(90, "udp", Some(("127.0.0.1", 9090))),
            e(7001, "tcp", Some(("::", 7001))),
            e(80, "tcp", Some(("0.0.0.0", 8080))),
            e(7000, "tcp", Some(("0.0.0.0", 7000))),
            e(5000, "tcp", None),
            e(80, "tcp", Some(("::", 8080))),
            e(7001, "tcp", Some(("0.0.0.0", 7001))),
            e(7000, "tcp", Some(("::", 7000))),
        ];
        assert_eq!(
            ports_text(all),
            "5000/tcp, 0.0.0.0:7000-7001->7000-7001/tcp, [::]:7000-7001->7000-7001/tcp, \
             0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 127.0.0.1:9090->90/udp"
        );
        // A gap ends a run, which is listed before the runs still open.
        let gap = vec![
            e(1, "tcp", None),
            e(2, "tcp", None),
            e(4, "tcp", None),
            e(3, "udp", None),
        ];
        assert_eq!(ports_text(gap), "1-2/tcp, 4/tcp, 3/udp");
        assert_eq!(ports_text(vec![]), "");
    }
}
