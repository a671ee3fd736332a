//! Times as the engine records them and Docker prints them: nanoseconds
//! since the epoch, and RFC 3339 in UTC with nanoseconds
//! (`2026-11-22T03:04:05.123456789Z`); Docker's zero time for "never".

/// Zero time, as Docker prints unset timestamps.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// RFC 3339 now, with nanoseconds.
pub fn now() -> String {
    rfc3339_nanos(now_nanos())
}

/// Docker's zero time (or nothing), for "never".
pub fn is_zero_time(t: &str) -> bool {
    t.is_empty() || t == ZERO_TIME
}

/// RFC 3339 UTC with nanoseconds, as Docker writes log and state times.
pub use skiff_runtime::state::rfc3339_nanos;

/// Parse what [`rfc3339_nanos`] writes (and RFC 3339 in general, UTC or
/// with an offset) into nanoseconds since the epoch.
pub fn parse_rfc3339_nanos(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut frac = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
        rest = &r[digits.len()..];
        let mut dd = digits.clone();
        dd.truncate(9);
        while dd.len() < 9 {
            dd.push('0');
        }
        frac = dd.parse().ok()?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if mo > 2 { mo - 3 } else { mo + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) - offset) * 1_000_000_000 + frac)
}

/// A point in time as Docker's API and CLI take one: RFC 3339, or Unix
/// seconds with an optional fraction (`1700000000.5`, which the API sends
/// as `secs.nanos`); nanoseconds since the epoch.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    if let Some(n) = parse_rfc3339_nanos(s) {
        return Some(n);
    }
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut nanos = 0i64;
    if !frac.is_empty() {
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut f = frac.to_string();
        f.truncate(9);
        while f.len() < 9 {
            f.push('0');
        }
        nanos = f.parse().ok()?;
    }
    Some(secs * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let t = 1_795_316_645_123_456_789;
        let s = rfc3339_nanos(t);
        assert_eq!(s, "2026-11-22T03:04:05.123456789Z");
        assert_eq!(parse_rfc3339_nanos(&s), Some(t));
        assert_eq!(parse_rfc3339_nanos("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339_nanos("bogus"), None);
    }

    #[test]
    fn timestamps_as_the_api_and_cli_give_them() {
        assert_eq!(
            parse_timestamp("1700000000"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_timestamp("1700000000.5"),
            Some(1_700_000_000_500_000_000)
        );
        assert_eq!(
            parse_timestamp("1700000000.000000001"),
            Some(1_700_000_000_000_000_001)
        );
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1_000_000_000));
        assert_eq!(parse_timestamp("10m"), None);
        assert_eq!(parse_timestamp(""), None);
    }
}
