//! Parsers for the small languages on kwire's command line.

/// A start position given with `--offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetArg {
    /// `earliest` (also `beginning`).
    Earliest,
    /// `latest` (also `end`).
    Latest,
    /// `N`: an absolute offset.
    Absolute(i64),
    /// `-N` or `end-N`: N records before the end (as kcat's `-o -N`).
    FromEnd(i64),
    /// `@<ms>` or `@<ISO-8601>`: the first record at or after that time.
    Timestamp(i64),
}

/// Parses an `--offset` value.
pub fn parse_offset(s: &str) -> Result<OffsetArg, String> {
    let s = s.trim();
    match s.to_ascii_lowercase().as_str() {
        "earliest" | "beginning" => return Ok(OffsetArg::Earliest),
        "latest" | "end" => return Ok(OffsetArg::Latest),
        _ => {}
    }
    if let Some(t) = s.strip_prefix('@') {
        return parse_timestamp(t).map(OffsetArg::Timestamp);
    }
    if let Some(n) = s.strip_prefix("end-") {
        return n
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(OffsetArg::FromEnd)
            .ok_or_else(|| format!("invalid offset '{s}': expected end-N with N ≥ 0"));
    }
    match s.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(OffsetArg::Absolute(n)),
        Ok(n) if n != i64::MIN => Ok(OffsetArg::FromEnd(-n)),
        _ => Err(format!(
            "invalid offset '{s}': expected earliest, latest, N, -N (N before the end), @<epoch-ms> or @<ISO-8601 time>"
        )),
    }
}

/// Parses a point in time: milliseconds since the epoch, or ISO-8601
/// (`2024-05-01`, `2024-05-01T10:00`, `2024-05-01T10:00:00.250Z`,
/// `2024-05-01 10:00:00+02:00`; no zone means UTC).
pub fn parse_timestamp(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().map_err(|_| format!("invalid timestamp '{s}': too large"));
    }
    parse_iso8601(s).ok_or_else(|| {
        format!("invalid timestamp '{s}': expected epoch milliseconds or ISO-8601 like 2024-05-01T10:00:00Z")
    })
}

fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let year = num(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut i = 10;
    let (mut h, mut m, mut sec, mut ms) = (0, 0, 0, 0);
    if matches!(b.get(i), Some(b'T' | b't' | b' ')) {
        h = num(i + 1, 2)?;
        if b.get(i + 3) != Some(&b':') {
            return None;
        }
        m = num(i + 4, 2)?;
        i += 6;
        if b.get(i) == Some(&b':') {
            sec = num(i + 1, 2)?;
            i += 3;
            if b.get(i) == Some(&b'.') {
                let start = i + 1;
                let mut end = start;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                // Milliseconds: first three digits, padded.
                let digits = &s[start..end.min(start + 3)];
                ms = format!("{digits:0<3}").parse().ok()?;
                i = end;
            }
        }
        if h > 23 || m > 59 || sec > 60 {
            return None;
        }
    }
    let offset_min = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(c @ (b'+' | b'-')) => {
            let sign = if *c == b'+' { 1 } else { -1 };
            let oh = num(i + 1, 2)?;
            let om = match b.get(i + 3) {
                Some(b':') => num(i + 4, 2)?,
                Some(_) => num(i + 3, 2)?,
                None => 0,
            };
            let consumed = match b.get(i + 3) {
                Some(b':') => 6,
                Some(_) => 5,
                None => 3,
            };
            if i + consumed != b.len() || oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + h * 3600 + m * 60 + sec - offset_min * 60;
    secs.checked_mul(1000)?.checked_add(ms)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an ISO-8601 duration as `kafka-consumer-groups.sh --by-duration`
/// takes it: `PnDTnHnMn.nS` (days, hours, minutes, seconds; each optional,
/// at least one), e.g. `P1DT2H`, `PT30M`, `PT0.5S`. Case-insensitive.
pub fn parse_iso_duration(s: &str) -> Result<std::time::Duration, String> {
    let err = || format!("invalid duration '{s}': expected ISO-8601 like PT30M, P1DT2H or P2DT3H4M5S");
    let t = s.trim().to_ascii_uppercase();
    let rest = t.strip_prefix('P').ok_or_else(err)?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return Err(err()),
        None => (rest, None),
    };
    let mut ms: u128 = 0;
    let mut any = false;
    // Reads "<number><unit>" pairs in the given unit order.
    let mut take = |mut part: &str, units: &[(char, u128)]| -> Result<(), String> {
        let mut allowed = units;
        while !part.is_empty() {
            let end = part.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
            let (num, tail) = part.split_at(end);
            let unit = tail.chars().next().ok_or_else(err)?;
            let pos = allowed.iter().position(|(u, _)| *u == unit).ok_or_else(err)?;
            let scale = allowed[pos].1;
            allowed = &allowed[pos + 1..];
            let value: u128 = match num.split_once('.') {
                None if !num.is_empty() => {
                    num.parse::<u128>().map_err(|_| err())?.checked_mul(scale).ok_or_else(err)?
                }
                Some((int, frac)) if unit == 'S' && !int.is_empty() => {
                    let int: u128 = int.parse().map_err(|_| err())?;
                    if !frac.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(err());
                    }
                    let frac3 = format!("{:0<3}", &frac[..frac.len().min(3)]);
                    int.checked_mul(1000)
                        .and_then(|v| v.checked_add(frac3.parse::<u128>().ok()?))
                        .ok_or_else(err)?
                }
                _ => return Err(err()),
            };
            ms = ms.checked_add(value).ok_or_else(err)?;
            any = true;
            part = &tail[unit.len_utf8()..];
        }
        Ok(())
    };
    take(date, &[('D', 86_400_000)])?;
    if let Some(time) = time {
        take(time, &[('H', 3_600_000), ('M', 60_000), ('S', 1000)])?;
    }
    if !any {
        return Err(err());
    }
    u64::try_from(ms).map(std::time::Duration::from_millis).map_err(|_| err())
}

/// Parses a topic with optional partitions, `T` or `T:0,1,2`, as
/// `kwire groups` takes them (partitions sorted, without duplicates). The
/// error says what is wrong; the caller names the flag.
pub fn parse_topic_selection(s: &str) -> Result<kwire_group::TopicSelection, String> {
    let (t, partitions) = match s.split_once(':') {
        None => (s.trim(), None),
        Some((t, p)) => {
            let mut v = Vec::new();
            for x in p.split(',').map(str::trim) {
                match x.parse::<i32>() {
                    Ok(n) if n >= 0 => v.push(n),
                    _ => return Err("partitions must be non-negative numbers, like t:0,1,2".to_owned()),
                }
            }
            v.sort_unstable();
            v.dedup();
            (t.trim(), Some(v))
        }
    };
    if t.is_empty() {
        return Err("empty topic name".to_owned());
    }
    Ok(kwire_group::TopicSelection { topic: t.to_owned(), partitions })
}

/// Formats epoch milliseconds as ISO-8601 UTC (`2024-05-01T10:00:00.250Z`).
pub fn format_timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("earliest"), Ok(OffsetArg::Earliest));
        assert_eq!(parse_offset("LATEST"), Ok(OffsetArg::Latest));
        assert_eq!(parse_offset("-2"), Ok(OffsetArg::FromEnd(2)));
        assert_eq!(parse_offset("-1"), Ok(OffsetArg::FromEnd(1)));
        assert_eq!(parse_offset("42"), Ok(OffsetArg::Absolute(42)));
        assert_eq!(parse_offset("-10"), Ok(OffsetArg::FromEnd(10)));
        assert_eq!(parse_offset("end-1"), Ok(OffsetArg::FromEnd(1)));
        assert_eq!(parse_offset("@1700000000000"), Ok(OffsetArg::Timestamp(1_700_000_000_000)));
        assert_eq!(parse_offset("@2023-11-14T22:13:20Z"), Ok(OffsetArg::Timestamp(1_700_000_000_000)));
        assert!(parse_offset("soon").is_err());
        assert!(parse_offset("@yesterday").is_err());
        assert!(parse_offset("end-x").is_err());
        assert!(parse_offset("-9223372036854775808").is_err());
    }

    #[test]
    fn iso8601() {
        assert_eq!(parse_timestamp("1970-01-01"), Ok(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.5Z"), Ok(1500));
        assert_eq!(parse_timestamp("2024-02-29T12:00"), Ok(1_709_208_000_000));
        assert_eq!(parse_timestamp("2024-02-29 14:00:00+02:00"), Ok(1_709_208_000_000));
        assert_eq!(parse_timestamp("2024-02-29T07:00:00-0500"), Ok(1_709_208_000_000));
        assert!(parse_timestamp("2023-02-29").is_err());
        assert!(parse_timestamp("2024-13-01").is_err());
        assert!(parse_timestamp("2024-01-01T25:00").is_err());
        assert!(parse_timestamp("2024-01-01T10:00Zjunk").is_err());
        assert!(parse_timestamp("").is_err());
    }

    #[test]
    fn iso_durations_like_kafka() {
        let ms = |s: &str| parse_iso_duration(s).map(|d| d.as_millis() as u64);
        assert_eq!(ms("PT30M"), Ok(1_800_000));
        assert_eq!(ms("P1DT2H"), Ok(93_600_000));
        assert_eq!(ms("P2DT3H4M5S"), Ok(183_845_000));
        assert_eq!(ms("pt0.5s"), Ok(500));
        assert_eq!(ms("PT1.S"), Ok(1000));
        assert_eq!(ms("P1D"), Ok(86_400_000));
        for bad in
            ["", "P", "PT", "1H", "PT1X", "PT1M1H", "P1H", "PT-1M", "P1.5D", "PT.S", "PT.5S", "PT1M junk"]
        {
            assert!(parse_iso_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn topic_selections() {
        let sel = |s: &str| parse_topic_selection(s).map(|t| (t.topic, t.partitions));
        assert_eq!(sel("t"), Ok(("t".to_owned(), None)));
        assert_eq!(sel(" t "), Ok(("t".to_owned(), None)));
        assert_eq!(sel("t:2,0,2"), Ok(("t".to_owned(), Some(vec![0, 2]))));
        assert_eq!(sel(":1"), Err("empty topic name".to_owned()));
        for bad in ["t:x", "t:-1", "t:", "t:1,,2"] {
            assert!(sel(bad).unwrap_err().contains("non-negative numbers"), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_roundtrips(ms in -62_135_596_800_000i64..253_402_300_799_999) {
            prop_assert_eq!(parse_timestamp(&format_timestamp(ms)), Ok(ms));
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = parse_offset(&s);
            let _ = parse_timestamp(&s);
            let _ = parse_iso_duration(&s);
            let _ = parse_topic_selection(&s);
        }
    }
}
