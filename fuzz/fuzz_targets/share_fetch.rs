//! What a share consumer makes of a ShareFetch answer
//! (`kwire_group::share::core::acquired_records`): the record batches of a
//! partition and the offset ranges the broker says it acquired for this
//! member, both hostile — ranges overlapping, inverted, huge or at the ends
//! of `i64`, batches corrupt or compressed.
//!
//! Input: a count byte, then that many (mod 8) ranges of 18 bytes (first and
//! last offset as big-endian `i64`, delivery count as `i16`); the rest is
//! the record set.
//!
//! Invariants: no panic; every record delivered lies in an acquired range
//! and is delivered once; the offsets acknowledged as gaps are bounded and
//! never a delivered record's; heap within budget.
#![no_main]

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use kwire_fuzz::{FUZZ_MAX_DECOMPRESSED, check_budget, decompress_allowance};
use kwire_group::TopicPartition;
use kwire_group::share::core::{MAX_GAPS, acquired_records};
use kwire_proto::msg::share::Acquired;
use kwire_proto::records::DecodeOptions;
use libfuzzer_sys::fuzz_target;

fn be64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, mut rest)) = data.split_first() else { return };
    let mut ranges = Vec::new();
    for _ in 0..n % 8 {
        if rest.len() < 18 {
            break;
        }
        ranges.push(Acquired {
            first: be64(&rest[0..8]),
            last: be64(&rest[8..16]),
            delivery_count: i16::from_be_bytes([rest[16], rest[17]]),
        });
        rest = &rest[18..];
    }
    let tp = Arc::new(TopicPartition::new("t", 0));
    let opts = DecodeOptions::default().max_decompressed(FUZZ_MAX_DECOMPRESSED);
    let extra = decompress_allowance(FUZZ_MAX_DECOMPRESSED) + MAX_GAPS * 16;
    let out = check_budget("acquired_records", data.len(), extra, || {
        acquired_records(tp, Bytes::copy_from_slice(rest), &ranges, opts)
    });
    if let Ok((recs, gaps)) = out {
        let mut seen = BTreeSet::new();
        for r in &recs {
            let o = r.record.offset;
            assert!(ranges.iter().any(|a| a.first <= o && o <= a.last), "offset {o} outside the ranges");
            assert!(seen.insert(o), "offset {o} delivered twice");
        }
        assert!(gaps.len() <= MAX_GAPS, "{} gaps", gaps.len());
        assert!(gaps.iter().all(|g| !seen.contains(g)), "a delivered record acknowledged as a gap");
    }
});
