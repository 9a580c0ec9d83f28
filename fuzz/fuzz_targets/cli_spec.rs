//! The CLI's spec parsers (`kwire_cli::spec`): `--offset` values,
//! timestamps (epoch ms or ISO-8601), ISO-8601 durations; and
//! `format_timestamp`.
//!
//! Input: selector byte, then the text (or 8 bytes of epoch ms for the
//! formatter).
//!
//! Invariants: no panic (no overflow: debug assertions are on), heap within
//! budget; `parse_timestamp(format_timestamp(ms)) == ms` for every ms in the
//! range the formatter writes as four-digit years.
#![no_main]

use kwire_cli::spec::{OffsetArg, format_timestamp, parse_iso_duration, parse_offset, parse_timestamp};
use kwire_fuzz::check_budget;
use libfuzzer_sys::fuzz_target;

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in epoch ms.
const MIN_MS: i64 = -62_167_219_200_000;
const MAX_MS: i64 = 253_402_300_799_999;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let len = data.len();
    match sel % 4 {
        0 => {
            let Ok(s) = std::str::from_utf8(rest) else { return };
            match check_budget("parse_offset", len, 0, || parse_offset(s)) {
                Ok(OffsetArg::Absolute(n)) | Ok(OffsetArg::FromEnd(n)) => assert!(n >= 0),
                _ => {}
            }
        }
        1 => {
            let Ok(s) = std::str::from_utf8(rest) else { return };
            let _ = check_budget("parse_timestamp", len, 0, || parse_timestamp(s));
        }
        2 => {
            let Ok(s) = std::str::from_utf8(rest) else { return };
            let _ = check_budget("parse_iso_duration", len, 0, || parse_iso_duration(s));
        }
        _ => {
            let Some(b) = rest.first_chunk::<8>() else { return };
            let ms = i64::from_be_bytes(*b);
            let text = format_timestamp(ms);
            if (MIN_MS..=MAX_MS).contains(&ms) && ms < 0 {
                // Negative epoch ms print as ISO dates; they must read back
                // (a bare negative number is not a timestamp).
                assert_eq!(parse_timestamp(&text), Ok(ms), "{text}");
            } else if (0..=MAX_MS).contains(&ms) {
                assert_eq!(parse_timestamp(&text), Ok(ms), "{text}");
            }
        }
    }
});
