//! Values as Docker reads them: durations (`1m30s`), sizes (`64m`),
//! booleans (`true`, `1`, `f`), unsigned numbers, CSV fields.

use crate::dockerfile::shell::go_quote;
use std::time::Duration;

/// A duration as Go writes it: `[-+]` then one or more `<number><unit>`
/// (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`; fractions allowed), or `0`.
/// Nanoseconds, possibly negative.
pub(crate) fn go_duration(orig: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(orig));
    let mut s = orig;
    let mut neg = false;
    if let Some(c @ ('-' | '+')) = s.chars().next() {
        neg = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            frac_part = &rest[..frac_len];
            s = &rest[frac_len..];
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(invalid());
            }
        } else if int_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(unit),
                    go_quote(orig)
                ))
            }
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut v = int.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            // Go keeps the leading digits that fit and scales them (truncating).
            let digits: String = frac_part.chars().take(30).collect();
            let f: u128 = digits.parse().map_err(|_| invalid())?;
            let denom = 10u128.pow(digits.len() as u32);
            v += f * scale / denom;
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > (1u128 << 63) {
            return Err(invalid());
        }
    }
    if !neg && total > (1u128 << 63) - 1 {
        return Err(invalid());
    }
    Ok(if neg { -(total as i128) } else { total as i128 })
}

/// A HEALTHCHECK interval flag: `None` when empty or zero, an error below 1ms.
pub(super) fn interval(flag: &str, value: Option<String>) -> Result<Option<Duration>, String> {
    let Some(v) = value else { return Ok(None) };
    let ns = go_duration(&v)?;
    if ns == 0 {
        return Ok(None);
    }
    if ns < 1_000_000 {
        return Err(format!(
            "Interval {} cannot be less than 1ms",
            go_quote(flag)
        ));
    }
    Ok(Some(Duration::from_nanos(ns as u64)))
}

/// A size in bytes: a number (fractions allowed), optionally a space, then
/// `b` or `k`/`m`/`g`/`t`/`p` with an optional `b` or `ib`, in any case;
/// the multipliers are powers of 1024.
pub(super) fn ram_in_bytes(s: &str) -> Option<u64> {
    let sep = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')?;
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let size: f64 = num.parse().ok()?;
    if size.is_nan() || size < 0.0 {
        return None;
    }
    if sfx.is_empty() {
        return Some(size as u64);
    }
    let sfx = sfx.to_lowercase();
    if sfx.len() > 3 {
        return None;
    }
    if let Some(rest) = sfx.strip_prefix('b') {
        return rest.is_empty().then_some(size as u64);
    }
    let mut chars = sfx.chars();
    let exp = match chars.next()? {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        _ => return None,
    };
    match chars.as_str() {
        "" | "b" | "ib" => Some((size * 1024f64.powi(exp)) as u64),
        _ => None,
    }
}

/// `1`, `t`, `T`, `TRUE`, `true`, `True`, and the same for false.
pub(super) fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// An unsigned 32-bit number in `radix` (no sign).
pub(super) fn go_u32(s: &str, radix: u32) -> Option<u32> {
    if s.starts_with('+') {
        return None;
    }
    u32::from_str_radix(s, radix).ok()
}

/// One CSV record: fields split on commas; a field in double quotes may hold
/// commas, and `""` inside it stands for one quote.
pub(super) fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    if s.is_empty() {
        return Ok(fields);
    }
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    loop {
        let mut field = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("extraneous or missing \" in quoted-field".into()),
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        field.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        field.push(*c);
                        i += 1;
                    }
                }
            }
            if !matches!(chars.get(i), None | Some(',')) {
                return Err("extraneous or missing \" in quoted-field".into());
            }
        } else {
            while let Some(c) = chars.get(i).filter(|c| **c != ',') {
                if *c == '"' {
                    return Err("bare \" in non-quoted-field".into());
                }
                field.push(*c);
                i += 1;
            }
        }
        fields.push(field);
        if i >= chars.len() {
            return Ok(fields);
        }
        i += 1; // the comma
    }
}

/// The last element of a slash-separated path (`path.Base`).
pub(super) fn base_name(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}
