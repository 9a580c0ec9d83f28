//! Calendar helpers: civil dates, Spark's timestamp text forms, and duration
//! strings (`10 seconds`, `1 minute`, `10s`).

use crate::error::StreamError;

/// Microseconds per second.
pub const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let d = i64::from(d);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn push_year(out: &mut String, y: i64) {
    use std::fmt::Write;
    if (0..=9999).contains(&y) {
        let _ = write!(out, "{y:04}");
    } else if y > 9999 {
        let _ = write!(out, "+{y}");
    } else {
        let _ = write!(out, "-{:04}", -y);
    }
}

/// `yyyy-MM-dd` of days since the epoch.
pub fn format_date(days: i64, out: &mut String) {
    use std::fmt::Write;
    let (y, m, d) = civil_from_days(days);
    push_year(out, y);
    let _ = write!(out, "-{m:02}-{d:02}");
}

/// Spark's `CAST(timestamp AS STRING)` in UTC: `yyyy-MM-dd HH:mm:ss` followed by
/// the fraction of a second with trailing zeros removed (`.12`, none when zero).
pub fn format_timestamp(micros: i64, out: &mut String) {
    format_timestamp_sep(micros, ' ', out);
}

fn format_timestamp_sep(micros: i64, sep: char, out: &mut String) {
    use std::fmt::Write;
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rem = micros.rem_euclid(MICROS_PER_DAY);
    format_date(days, out);
    let secs = rem / MICROS_PER_SECOND;
    let frac = rem % MICROS_PER_SECOND;
    let _ = write!(out, "{sep}{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60);
    if frac != 0 {
        let mut digits = format!("{frac:06}");
        while digits.ends_with('0') {
            digits.pop();
        }
        out.push('.');
        out.push_str(&digits);
    }
}

/// The ISO form Spark's `to_json` writes (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX` in UTC):
/// `2024-01-01T10:00:00.000Z`.
pub fn format_timestamp_iso(micros: i64, out: &mut String) {
    use std::fmt::Write;
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rem = micros.rem_euclid(MICROS_PER_DAY);
    format_date(days, out);
    let secs = rem / MICROS_PER_SECOND;
    let millis = (rem % MICROS_PER_SECOND) / 1000;
    let _ = write!(out, "T{:02}:{:02}:{:02}.{millis:03}Z", secs / 3600, (secs / 60) % 60, secs % 60);
}

/// Parse a timestamp the way Spark's `stringToTimestamp` does for the common
/// forms: `yyyy-MM-dd`, `yyyy-MM-dd[ |T]HH:mm[:ss[.fraction]]` with an optional
/// zone (`Z`, `UTC`, `+hh:mm`, `+hhmm`, `+hh`). Without a zone the session time
/// zone (UTC) applies. Returns microseconds since the epoch.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, min: usize, max: usize| -> Option<i64> {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        std::str::from_utf8(&b[start..*i]).ok()?.parse().ok()
    };
    let year = num(&mut i, 4, 6)?;
    let mut month = 1;
    let mut day = 1;
    if i < b.len() && b[i] == b'-' {
        i += 1;
        month = num(&mut i, 1, 2)?;
        if i < b.len() && b[i] == b'-' {
            i += 1;
            day = num(&mut i, 1, 2)?;
        }
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month as u32) as i64 {
        return None;
    }
    // Years up to 6 digits: out of i64 microseconds range past year ~294247 (Spark's
    // limit too), so the arithmetic is checked and such a timestamp is invalid.
    let mut micros = days_from_civil(year, month as u32, day as u32).checked_mul(MICROS_PER_DAY)?;
    if i == b.len() {
        return Some(micros);
    }
    if b[i] != b' ' && b[i] != b'T' {
        return None;
    }
    i += 1;
    if i == b.len() {
        return Some(micros);
    }
    let h = num(&mut i, 1, 2)?;
    if i >= b.len() || b[i] != b':' {
        return None;
    }
    i += 1;
    let mi = num(&mut i, 1, 2)?;
    let mut sec = 0;
    let mut frac = 0;
    if i < b.len() && b[i] == b':' {
        i += 1;
        sec = num(&mut i, 1, 2)?;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &b[start..i];
            if digits.is_empty() || digits.len() > 9 {
                return None;
            }
            for k in 0..6 {
                frac = frac * 10 + digits.get(k).map_or(0, |d| i64::from(d - b'0'));
            }
        }
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    micros = micros.checked_add((h * 3600 + mi * 60 + sec) * MICROS_PER_SECOND + frac)?;
    // zone
    let rest = std::str::from_utf8(&b[i..]).ok()?.trim_start();
    if rest.is_empty() || rest == "Z" || rest.eq_ignore_ascii_case("UTC") || rest == "GMT" {
        return Some(micros);
    }
    let rest = rest.strip_prefix("UTC").or_else(|| rest.strip_prefix("GMT")).unwrap_or(rest);
    let (sign, digits) = match rest.as_bytes().first() {
        Some(b'+') => (1, &rest[1..]),
        Some(b'-') => (-1, &rest[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (oh, om) = match digits.len() {
        1 | 2 => (digits.parse::<i64>().ok()?, 0),
        4 => (digits[..2].parse::<i64>().ok()?, digits[2..].parse::<i64>().ok()?),
        _ => return None,
    };
    if oh > 18 || om > 59 {
        return None;
    }
    micros.checked_sub(sign * (oh * 3600 + om * 60) * MICROS_PER_SECOND)
}

/// Parse a date (`yyyy-MM-dd`, or a timestamp's date part) into days since the epoch.
pub fn parse_date(s: &str) -> Option<i32> {
    let t = s.trim();
    let date_part = t.split([' ', 'T']).next()?;
    let micros = parse_timestamp(date_part)?;
    i32::try_from(micros.div_euclid(MICROS_PER_DAY)).ok()
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

/// Parse a duration: Spark interval strings (`10 seconds`, `1 minute 30 seconds`,
/// `interval 2 hours`, `500 milliseconds`) or short forms (`10s`, `1m`, `500ms`,
/// `2h`, `1d`, `250us`). Returns microseconds.
pub fn parse_duration(input: &str) -> Result<i64, StreamError> {
    let err = |m: &str| StreamError::Duration { input: input.to_string(), message: m.to_string() };
    let mut s = input.trim();
    if let (Some(true), Some(tail)) = (s.get(..8).map(|h| h.eq_ignore_ascii_case("interval")), s.get(8..)) {
        s = tail.trim_start();
    }
    if s.is_empty() {
        return Err(err("empty duration"));
    }
    let mut total: i64 = 0;
    let mut rest = s;
    let mut any = false;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
            .unwrap_or(rest.len());
        let num_txt = &rest[..num_end];
        if num_txt.is_empty() {
            return Err(err("expected a number"));
        }
        let n: f64 = num_txt.parse().map_err(|_| err("bad number"))?;
        rest = rest[num_end..].trim_start();
        let unit_end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let unit = rest[..unit_end].to_ascii_lowercase();
        rest = rest[unit_end..].trim_start();
        let per: i64 = match unit.as_str() {
            "us" | "microsecond" | "microseconds" => 1,
            "ms" | "millisecond" | "milliseconds" => 1_000,
            "s" | "sec" | "secs" | "second" | "seconds" => MICROS_PER_SECOND,
            "m" | "min" | "mins" | "minute" | "minutes" => 60 * MICROS_PER_SECOND,
            "h" | "hour" | "hours" => 3_600 * MICROS_PER_SECOND,
            "d" | "day" | "days" => MICROS_PER_DAY,
            "w" | "week" | "weeks" => 7 * MICROS_PER_DAY,
            "" => return Err(err("missing unit (e.g. '10 seconds')")),
            "month" | "months" | "year" | "years" => {
                return Err(err("months and years have no fixed length; use days or smaller units"));
            }
            other => return Err(err(&format!("unknown unit {other:?}"))),
        };
        let v = n * per as f64;
        if !v.is_finite() || v.abs() > 9.0e18 {
            return Err(err("out of range"));
        }
        total = total.checked_add(v.round() as i64).ok_or_else(|| err("out of range"))?;
        any = true;
    }
    if !any {
        return Err(err("empty duration"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> String {
        let mut o = String::new();
        format_timestamp(parse_timestamp(s).unwrap(), &mut o);
        o
    }

    #[test]
    fn civil_round_trip() {
        for d in [-800_000i64, -1, 0, 1, 19_723, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(days_from_civil(2024, 1, 1), 19_723);
    }

    #[test]
    fn timestamps() {
        assert_eq!(ts("2024-01-01 10:00:05"), "2024-01-01 10:00:05");
        assert_eq!(ts("2024-01-01T10:00:05.120Z"), "2024-01-01 10:00:05.12");
        assert_eq!(ts("2024-01-01T10:00:05.5+01:00"), "2024-01-01 09:00:05.5");
        assert_eq!(ts("2024-01-01"), "2024-01-01 00:00:00");
        assert_eq!(ts("1969-12-31 23:59:59.999"), "1969-12-31 23:59:59.999");
        assert!(parse_timestamp("garbage").is_none());
        assert!(parse_timestamp("2024-02-30").is_none());
        // Beyond i64 microseconds (fuzz finding: overflowed instead of failing).
        assert!(parse_timestamp("571678Z").is_none());
        assert!(parse_timestamp("999999-12-31T23:59:59").is_none());
        assert!(parse_timestamp("-999999-01-01T00:00:00+18:00").is_none());
        let mut o = String::new();
        format_timestamp_iso(parse_timestamp("2024-01-01 10:00:05.5").unwrap(), &mut o);
        assert_eq!(o, "2024-01-01T10:00:05.500Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10 seconds").unwrap(), 10_000_000);
        assert_eq!(parse_duration("1 minute").unwrap(), 60_000_000);
        assert_eq!(parse_duration("interval 1 minute 30 seconds").unwrap(), 90_000_000);
        assert_eq!(parse_duration("10s").unwrap(), 10_000_000);
        assert_eq!(parse_duration("500ms").unwrap(), 500_000);
        assert_eq!(parse_duration("1m").unwrap(), 60_000_000);
        assert_eq!(parse_duration("2 Hours").unwrap(), 7_200_000_000);
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ten seconds").is_err());
        assert!(parse_duration("1 month").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("interva€ 1s").is_err());
    }
}
