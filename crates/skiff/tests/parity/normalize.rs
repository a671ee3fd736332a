//! Normalizing what legitimately differs between the engines' outputs.

use crate::engines::Side;

// Normalizing what legitimately differs

/// Container IDs (64 hex digits, or their 12-digit short form), times,
/// durations, Docker's client log lines, and "skiff" where Docker says
/// "docker".
pub(crate) fn normalize(side: Side, s: &str) -> String {
    let mut lines = String::with_capacity(s.len());
    for l in s.split_inclusive('\n') {
        // the docker client's own logging ("error waiting for container")
        if l.starts_with("time=\"") && l.contains(" level=") {
            continue;
        }
        if side == Side::Skiff {
            let l = match l.strip_prefix("skiff: ") {
                Some(rest) => format!("docker: {rest}"),
                None => l.to_string(),
            };
            lines.push_str(&l.replace("'skiff ", "'docker "));
        } else {
            lines.push_str(l);
        }
    }
    replace_durations(&replace_times(&replace_ids(&lines)))
}

pub(crate) fn replace_ids(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphanumeric() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let w = &s[start..i];
            let hex = w
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
            if hex && w.len() == 64 {
                out.push_str("<id>");
            } else if hex && w.len() == 12 {
                out.push_str("<id12>");
            } else {
                out.push_str(w);
            }
        } else {
            let ch = s[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

pub(crate) fn digits_at(b: &[u8], i: usize, n: usize) -> bool {
    i + n <= b.len() && b[i..i + n].iter().all(u8::is_ascii_digit)
}

/// `YYYY-MM-DDTHH:MM:SS` at `i`.
pub(crate) fn datetime_at(b: &[u8], i: usize, sep: u8) -> bool {
    digits_at(b, i, 4)
        && b.get(i + 4) == Some(&b'-')
        && digits_at(b, i + 5, 2)
        && b.get(i + 7) == Some(&b'-')
        && digits_at(b, i + 8, 2)
        && b.get(i + 10) == Some(&sep)
        && digits_at(b, i + 11, 2)
        && b.get(i + 13) == Some(&b':')
        && digits_at(b, i + 14, 2)
        && b.get(i + 16) == Some(&b':')
        && digits_at(b, i + 17, 2)
}

/// Length of an RFC 3339 time with a fraction at `i` (`<time>`), or of Go's
/// `2006-01-02 15:04:05[.999999999] -0700 MST` (`<gotime>`). RFC 3339 times without a fraction
/// (Docker's zero time `0001-01-01T00:00:00Z`) are kept.
pub(crate) fn time_at(b: &[u8], i: usize) -> Option<(usize, &'static str)> {
    if datetime_at(b, i, b'T') && b.get(i + 19) == Some(&b'.') {
        let mut j = i + 20;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j == i + 20 {
            return None;
        }
        if b.get(j) == Some(&b'Z') {
            return Some((j + 1 - i, "<time>"));
        }
        if matches!(b.get(j), Some(b'+' | b'-'))
            && digits_at(b, j + 1, 2)
            && b.get(j + 3) == Some(&b':')
            && digits_at(b, j + 4, 2)
        {
            return Some((j + 6 - i, "<time>"));
        }
        return None;
    }
    if datetime_at(b, i, b' ') {
        // Go's time.String: a fraction only when there is one
        let mut k = i + 19;
        if b.get(k) == Some(&b'.') {
            k += 1;
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
        }
        if !(b.get(k) == Some(&b' ')
            && matches!(b.get(k + 1), Some(b'+' | b'-'))
            && digits_at(b, k + 2, 4)
            && b.get(k + 6) == Some(&b' '))
        {
            return None;
        }
        let mut j = k + 7;
        while j < b.len() && b[j].is_ascii_uppercase() {
            j += 1;
        }
        if j > k + 7 {
            return Some((j - i, "<gotime>"));
        }
    }
    None
}

pub(crate) fn replace_times(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if let Some((n, token)) = time_at(b, i) {
            out.push_str(token);
            i += n;
            continue;
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Docker's human durations ("Less than a second", "3 seconds", "About a
/// minute") become `<dur>`.
pub(crate) fn replace_durations(s: &str) -> String {
    let mut s = s.to_string();
    for p in ["Less than a second", "About a minute", "About an hour"] {
        s = s.replace(p, "<dur>");
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let rest = &s[j..];
            let unit = ["seconds", "second", "minutes", "minute", "hours", "hour"]
                .iter()
                .find(|u| {
                    rest.starts_with(' ')
                        && rest[1..].starts_with(**u)
                        && !rest[1 + u.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
                });
            match unit {
                Some(u) => {
                    out.push_str("<dur>");
                    i = j + 1 + u.len();
                }
                None => {
                    out.push_str(&s[i..j]);
                    i = j;
                }
            }
            continue;
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// A table's columns with their padding collapsed (widths depend on the
/// durations shown): runs of two or more spaces become " | ".
pub(crate) fn cols(s: &str) -> String {
    s.lines()
        .map(|l| {
            let parts: Vec<&str> = l.split("  ").filter(|p| !p.is_empty()).collect();
            parts
                .iter()
                .map(|p| p.trim())
                .collect::<Vec<_>>()
                .join(" | ")
                + "\n"
        })
        .collect()
}
