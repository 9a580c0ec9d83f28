//! The codecs alone: `records::compression::decompress` for each codec on
//! arbitrary bytes (gzip incl. concatenated members, xerial and raw snappy,
//! LZ4 frames, zstd incl. skippable frames), with a bounded output. A
//! decompression bomb must end in `DecompressedTooLarge`, never in a large
//! allocation; a result is never longer than the limit.
//!
//! Input: codec byte (low 3 bits: 1 gzip, 2 snappy, 3 lz4, 4 zstd, other:
//! none), limit byte (limit = 1 KiB << (b % 11), so 1 KiB..1 MiB), then the
//! compressed bytes.
#![no_main]

use kwire_fuzz::{check_budget, decompress_allowance};
use kwire_proto::records::Compression;
use kwire_proto::records::RecordsError;
use kwire_proto::records::compression::decompress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [c, l, rest @ ..] = data else { return };
    let codec = Compression::from_id(c & 7).unwrap_or(Compression::None);
    let limit = 1024usize << (l % 11);
    let out = check_budget("decompress", data.len(), decompress_allowance(limit), || {
        decompress(codec, rest, limit)
    });
    match out {
        Ok(v) => assert!(v.len() <= limit, "{codec}: {} bytes out, limit {limit}", v.len()),
        Err(RecordsError::DecompressedTooLarge { limit: l, .. }) => assert_eq!(l, limit),
        Err(_) => {}
    }
});
