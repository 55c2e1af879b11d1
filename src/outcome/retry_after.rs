//! `Retry-After` (RFC 9110, Section 10.2.3): delta-seconds or an HTTP-date
//! (IMF-fixdate, RFC 850, asctime), capped at [`MAX_RETRY_AFTER`]. Total:
//! any header value gives a delay or `None`, never a panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

/// The longest delay [`parse_retry_after`] returns: one day (86,400 s).
/// Larger values (a delta of 10^20 seconds, a date in the year 9999) are
/// capped to it: a service asking for more than a day is taken to mean
/// "much later". A day is longer than any rate limit seen in practice
/// (autopush asks for 120 s) and shorter than most messages' TTL. Clamp
/// further before sleeping if a day is too long for you.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);
/// The longest `Retry-After` value [`parse_retry_after`] reads, in octets;
/// longer values give `None` unread. An HTTP-date is at most 33 octets
/// (RFC 850 form), and 20 digits exceed any delay worth reading.
pub const MAX_RETRY_AFTER_LEN: usize = 64;

/// Parses a `Retry-After` value: delta-seconds or an HTTP-date (RFC 9110,
/// Section 5.6.7: IMF-fixdate, obsolete RFC 850 and asctime formats),
/// relative to `now`.
///
/// Surrounding spaces are ignored. A date in the past gives
/// `Some(Duration::ZERO)`; values over [`MAX_RETRY_AFTER`] are capped;
/// anything else (negative or fractional numbers, garbage, a value longer
/// than [`MAX_RETRY_AFTER_LEN`] octets) gives `None`.
#[must_use]
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    parse_uncapped(value, now).map(|d| d.min(MAX_RETRY_AFTER))
}

/// The longest delay [`parse_uncapped`] computes: `u32::MAX` seconds.
pub(super) const UNCAPPED_MAX: Duration = Duration::from_secs(u32::MAX as u64);

/// [`parse_retry_after`] before the cap of [`MAX_RETRY_AFTER`] (bounded at
/// [`UNCAPPED_MAX`]), so that tests can check the date arithmetic.
pub(super) fn parse_uncapped(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    if value.len() > MAX_RETRY_AFTER_LEN {
        return None;
    }
    let bytes = trim_ows(value.as_bytes());
    if bytes.is_empty() {
        return None;
    }
    if bytes.iter().all(u8::is_ascii_digit) {
        let secs = bytes.iter().fold(0u64, |n, &d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        return Some(Duration::from_secs(secs).min(UNCAPPED_MAX));
    }
    let target = parse_http_date(bytes, now)?;
    let delay = match target.checked_sub(unix_secs(now)) {
        // `now` has sub-second precision: measure from the start of its second.
        Some(d) if d > 0 => {
            let whole = Duration::from_secs(d.unsigned_abs());
            whole.saturating_sub(Duration::from_nanos(u64::from(now_subsec_nanos(now))))
        }
        Some(_) => Duration::ZERO,
        None => UNCAPPED_MAX,
    };
    Some(delay.min(UNCAPPED_MAX))
}

fn trim_ows(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// Whole seconds since the Unix epoch, floored (negative before 1970).
fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                secs.saturating_neg().saturating_sub(1)
            } else {
                secs.saturating_neg()
            }
        }
    }
}

/// Nanoseconds of `t` past [`unix_secs`]`(t)`.
fn now_subsec_nanos(t: SystemTime) -> u32 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.subsec_nanos(),
        Err(e) => match e.duration().subsec_nanos() {
            0 => 0,
            n => 1_000_000_000 - n,
        },
    }
}

const DAY_NAMES: [&[u8]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];
const LONG_DAY_NAMES: [&[u8]; 7] = [
    b"monday",
    b"tuesday",
    b"wednesday",
    b"thursday",
    b"friday",
    b"saturday",
    b"sunday",
];
const MONTHS: [&[u8]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// An HTTP-date as seconds since the Unix epoch. Names match
/// case-insensitively and spaces may repeat; the day name is not checked
/// against the date. A two-digit RFC 850 year more than 50 years after
/// `now`'s year is taken as the century before.
fn parse_http_date(b: &[u8], now: SystemTime) -> Option<i64> {
    let mut tokens = b
        .split(|&c| c == b' ' || c == b'\t')
        .filter(|t| !t.is_empty());
    let first = tokens.next()?;
    let (year, month, day, time) = if let Some(name) = first.strip_suffix(b",") {
        if DAY_NAMES.iter().any(|d| name.eq_ignore_ascii_case(d)) {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            let day = digits(tokens.next()?, 1, 2)?;
            let month = month(tokens.next()?)?;
            let year = digits(tokens.next()?, 4, 4)?;
            let time = time_of_day(tokens.next()?)?;
            (year, month, day, time)
        } else if LONG_DAY_NAMES.iter().any(|d| name.eq_ignore_ascii_case(d)) {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let mut parts = tokens.next()?.split(|&c| c == b'-');
            let day = digits(parts.next()?, 1, 2)?;
            let month = month(parts.next()?)?;
            let yy = digits(parts.next()?, 2, 2)?;
            if parts.next().is_some() {
                return None;
            }
            let time = time_of_day(tokens.next()?)?;
            (rfc850_year(yy, now), month, day, time)
        } else {
            return None;
        }
    } else if DAY_NAMES.iter().any(|d| first.eq_ignore_ascii_case(d)) {
        // asctime: Sun Nov  6 08:49:37 1994
        let month = month(tokens.next()?)?;
        let day = digits(tokens.next()?, 1, 2)?;
        let time = time_of_day(tokens.next()?)?;
        let year = digits(tokens.next()?, 4, 4)?;
        return finish(tokens.next().is_none(), year, month, day, time);
    } else {
        return None;
    };
    let gmt = tokens.next().is_some_and(|t| t == b"GMT");
    finish(gmt && tokens.next().is_none(), year, month, day, time)
}

fn finish(ok: bool, year: i64, month: i64, day: i64, time: i64) -> Option<i64> {
    if !ok || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    days_from_civil(year, month, day)
        .checked_mul(86_400)?
        .checked_add(time)
}

/// `min..=max` ASCII digits as a number.
fn digits(t: &[u8], min: usize, max: usize) -> Option<i64> {
    if t.len() < min || t.len() > max || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(t.iter().fold(0, |n, &d| n * 10 + i64::from(d - b'0')))
}

/// 1-based month number.
fn month(t: &[u8]) -> Option<i64> {
    let i = MONTHS.iter().position(|m| t.eq_ignore_ascii_case(m))?;
    i64::try_from(i + 1).ok()
}

/// `HH:MM:SS` as seconds into the day; a leap second 60 is accepted.
fn time_of_day(t: &[u8]) -> Option<i64> {
    let [h1, h2, b':', m1, m2, b':', s1, s2] = *t else {
        return None;
    };
    let h = digits(&[h1, h2], 2, 2)?;
    let m = digits(&[m1, m2], 2, 2)?;
    let s = digits(&[s1, s2], 2, 2)?;
    (h < 24 && m < 60 && s <= 60).then_some(h * 3600 + m * 60 + s)
}

/// RFC 9110: a two-digit year that appears more than 50 years in the future
/// is the most recent past year with those digits.
fn rfc850_year(yy: i64, now: SystemTime) -> i64 {
    // Clamped so that the result stays a four-digit year.
    let now_year = civil_year(unix_secs(now).div_euclid(86_400)).clamp(100, 9899);
    let year = now_year.div_euclid(100) * 100 + yy;
    if year > now_year + 50 {
        year - 100
    } else if year + 100 <= now_year + 50 {
        year + 100
    } else {
        year
    }
}

const fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

const fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm); `year` is 0..=9999 here, so nothing overflows.
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a day count since 1970-01-01 (inverse of
/// [`days_from_civil`]); saturating for absurd inputs.
const fn civil_year(days: i64) -> i64 {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe.saturating_add(era.saturating_mul(400));
    if month <= 2 {
        year.saturating_add(1)
    } else {
        year
    }
}
