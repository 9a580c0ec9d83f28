//! kwire's zstd encoder (`records::compression::compress` with
//! `Compression::Zstd`, which is `zstd_encode.rs` in the default build) on
//! arbitrary bytes: every frame it writes must decode to exactly the input
//! through both `ruzstd` (kwire's own `decompress`) and C libzstd, and must
//! never be much larger than the input.
//!
//! Input: a shape byte, then the bytes. The shape's low 3 bits repeat the
//! bytes that many more times (each copy with one byte changed), so inputs
//! reach past a 128 KiB block and matches reach back across blocks.
#![no_main]

use bytes::BytesMut;
use kwire_proto::records::Compression;
use kwire_proto::records::compression::{compress, decompress};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [shape, rest @ ..] = data else { return };
    let mut input = rest.to_vec();
    for i in 0..usize::from(shape & 7) {
        let start = input.len();
        input.extend_from_slice(rest);
        if let Some(b) = input.get_mut(start + i * 31 % rest.len().max(1)) {
            *b ^= shape | 1;
        }
    }
    let mut z = BytesMut::new();
    compress(Compression::Zstd, &input, None, &mut z).expect("zstd compression does not fail");
    // Raw blocks bound the growth: a frame header and 3 bytes per 128 KiB block.
    assert!(z.len() <= input.len() + 18 + 3 * input.len().div_ceil(128 * 1024), "{} -> {}", input.len(), z.len());
    let ours = decompress(Compression::Zstd, &z, input.len() + 1).expect("ruzstd decodes kwire's frame");
    assert!(ours == input, "ruzstd: {} bytes back for {}", ours.len(), input.len());
    let c = zstd::bulk::decompress(&z, input.len() + 1).expect("libzstd decodes kwire's frame");
    assert!(c == input, "libzstd: {} bytes back for {}", c.len(), input.len());
});
