//! `kwire dump-log`'s segment walker (`kwire_cli::dump_log::dump_segment`):
//! a `.log` file from a crashed disk or a truncated copy is hostile input.
//!
//! Input: one flags byte (print data, deep iteration, skip record metadata),
//! then the segment's bytes.
//!
//! Invariants: no panic, heap within budget (decompression capped by the
//! options), and the summary agrees with itself: no more records than the
//! input could hold, every bad CRC counted among the batches printed.
#![no_main]

use bytes::Bytes;
use kwire_cli::dump_log::{DumpOptions, dump_segment};
use kwire_fuzz::{FUZZ_MAX_DECOMPRESSED, check_budget, decompress_allowance};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let opts = DumpOptions {
        print_data: flags & 1 != 0,
        deep: flags & 2 != 0,
        skip_record_metadata: flags & 4 != 0,
        max_decompressed: FUZZ_MAX_DECOMPRESSED,
    };
    let segment = Bytes::copy_from_slice(rest);
    let mut out = std::io::sink();
    let extra = decompress_allowance(FUZZ_MAX_DECOMPRESSED);
    let sum = check_budget("dump_segment", data.len(), extra, || dump_segment(segment, &opts, &mut out))
        .expect("writing to a sink cannot fail");
    assert!(sum.bad_crc <= sum.batches, "{sum:?}");
    assert!(sum.trailing_bytes <= rest.len(), "{sum:?}");
    // A record takes at least 7 bytes, in the batch or after decompression.
    assert!(sum.records as usize <= rest.len() + FUZZ_MAX_DECOMPRESSED * sum.batches as usize, "{sum:?}");
});
