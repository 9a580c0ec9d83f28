//! Record batch decoding: `records::batches` over arbitrary bytes, then every
//! record and header of every batch, control records, every codec's
//! decompression (v2 and legacy magic 0/1 wrappers), CRC checking on and off.
//!
//! Input: flags byte, then the record set (a Fetch partition's `records`).
//! - bit 0: verify CRCs;
//! - bit 1: recompute the outer CRC of each v2 batch / legacy message before
//!   decoding, so mutated batches get past CRC checking and into the records;
//! - bits 2-3: decompression limit 1 MiB, 64 KiB, 4 KiB, or 0.
//!
//! Invariants: no panic; heap within `kwire_fuzz::budget` of the input plus
//! the decompression limit's allowance.
#![no_main]

use bytes::Bytes;
use kwire_fuzz::{FUZZ_MAX_DECOMPRESSED, check_budget, decompress_allowance, walk_records};
use kwire_proto::records::DecodeOptions;
use libfuzzer_sys::fuzz_target;

/// Rewrites the CRC of every top-level batch/message whose framing is sane.
fn fix_crcs(buf: &mut [u8]) {
    let mut pos = 0usize;
    while let Some(head) = buf.get(pos..pos + 17) {
        let size = i32::from_be_bytes([head[8], head[9], head[10], head[11]]);
        let magic = head[16];
        let Ok(size) = usize::try_from(size) else { return };
        let end = pos + 12 + size;
        if end > buf.len() {
            return;
        }
        match magic {
            2 if size >= 49 => {
                let crc = crc32c::crc32c(&buf[pos + 21..end]);
                buf[pos + 17..pos + 21].copy_from_slice(&crc.to_be_bytes());
            }
            0 | 1 if size >= 14 => {
                let crc = crc32fast::hash(&buf[pos + 16..end]);
                buf[pos + 12..pos + 16].copy_from_slice(&crc.to_be_bytes());
            }
            _ => return,
        }
        pos = end;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut buf = rest.to_vec();
    if flags & 2 != 0 {
        fix_crcs(&mut buf);
    }
    let limit = match (flags >> 2) & 3 {
        0 => FUZZ_MAX_DECOMPRESSED,
        1 => 64 << 10,
        2 => 4 << 10,
        _ => 0,
    };
    let opts = DecodeOptions::default().verify_crc(flags & 1 != 0).max_decompressed(limit);
    let data_len = data.len();
    let _ = check_budget("records", data_len, decompress_allowance(limit), || {
        walk_records(Bytes::from(buf), &opts)
    });
});
