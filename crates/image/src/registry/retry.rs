//! Which failures are transient, and how long to wait before trying again:
//! exponential backoff with a little jitter, or the registry's
//! `Retry-After` (seconds or an HTTP date) when it sends one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

use super::config::RetryPolicy;

/// Whether an answer with `status` is worth another try: 429 and 5xx but
/// 501 (Not Implemented) and 505 (HTTP Version Not Supported). 4xx never.
pub(crate) fn is_transient_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
}

/// Whether a transport error is worth another try: the connection could
/// not be made, or the request timed out.
pub(crate) fn is_transient_error(err: &reqwest::Error) -> bool {
    err.is_connect() || err.is_timeout()
}

/// The wait before retry number `retry` (0 for the first retry): the
/// registry's `Retry-After` if `headers` have one (capped by the policy),
/// else `initial_backoff * 2^retry` capped at `max_backoff`, less up to a
/// quarter of jitter so clients do not retry in lockstep.
pub(crate) fn delay(policy: &RetryPolicy, retry: u32, headers: Option<&HeaderMap>) -> Duration {
    if let Some(after) = headers.and_then(retry_after) {
        return after.min(policy.max_retry_after);
    }
    let factor = 2u32.saturating_pow(retry.min(31));
    let base = policy
        .initial_backoff
        .saturating_mul(factor)
        .min(policy.max_backoff);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // Up to 25% less, picked from the clock's low bits.
    let jitter = base.mul_f64(f64::from(nanos % 1000) / 4000.0);
    base.saturating_sub(jitter)
}

/// The `Retry-After` of `headers`, as a wait from now.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Seconds since the epoch of an IMF-fixdate such as
/// `Sun, 06 Nov 1994 08:49:37 GMT`, the form HTTP/1.1 senders must use.
fn parse_http_date(s: &str) -> Option<u64> {
    let mut parts = s.split_ascii_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: u64 = hms.next()?.parse().ok()?;
    let m: u64 = hms.next()?.parse().ok()?;
    let sec: u64 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" || parts.next().is_some() || hms.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || year < 1970 || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(days_since_epoch(year, month, day)? * 86_400 + h * 3600 + m * 60 + sec)
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_since_epoch(year: u64, month: u64, day: u64) -> Option<u64> {
    let is_leap = |y: u64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    const DAYS_BEFORE: [u64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap_days = |y: u64| y / 4 - y / 100 + y / 400; // leap years in 1..=y
    let years_before = year - 1;
    let mut days = 365 * (year - 1970) + leap_days(years_before) - leap_days(1969);
    days += DAYS_BEFORE[usize::try_from(month - 1).ok()?];
    if month > 2 && is_leap(year) {
        days += 1;
    }
    Some(days + day - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn transient_statuses() {
        for s in [429, 500, 502, 503, 504] {
            assert!(is_transient_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 201, 202, 400, 401, 403, 404, 408, 416, 501, 505] {
            assert!(
                !is_transient_status(StatusCode::from_u16(s).unwrap()),
                "{s}"
            );
        }
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600)
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            max_retry_after: Duration::from_secs(2),
        };
        let d0 = delay(&p, 0, None);
        assert!(d0 <= Duration::from_millis(100) && d0 >= Duration::from_millis(75));
        let d1 = delay(&p, 1, None);
        assert!(d1 <= Duration::from_millis(200) && d1 >= Duration::from_millis(150));
        assert!(delay(&p, 30, None) <= Duration::from_millis(350));

        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        assert_eq!(delay(&p, 0, Some(&h)), Duration::from_secs(1));
        h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(delay(&p, 0, Some(&h)), Duration::from_secs(2));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
        );
        assert_eq!(delay(&p, 0, Some(&h)), Duration::ZERO);
    }
}
