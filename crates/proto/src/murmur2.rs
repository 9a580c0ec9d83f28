//! Kafka's murmur2 hash and the Java client's default key partitioner.
//!
//! Bit-for-bit the Java client's `Utils.murmur2` (seed `0x9747b28c`) and
//! `Utils.toPositive`, so keyed records land on the same partitions as with
//! Java producers (librdkafka's default, CRC32, differs; its
//! `murmur2_random` matches this).
//!
//! ```
//! use std::num::NonZeroU32;
//! use kwire_proto::murmur2::{murmur2, partition_for_key};
//!
//! assert_eq!(murmur2(b"21"), -973932308);
//! let p = partition_for_key(b"21", NonZeroU32::new(6).unwrap());
//! assert_eq!(p, (-973932308i32 & 0x7fff_ffff) as u32 % 6);
//! ```

use std::num::NonZeroU32;

/// Kafka's murmur2 of `data` (Java `Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java uses the int length; keys over 2 GiB wrap identically.
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if let Some(&b) = tail.first() {
        h ^= u32::from(b);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `Utils.toPositive`: clears the sign bit (not `abs`).
#[inline]
pub fn to_positive(n: i32) -> u32 {
    (n & 0x7fff_ffff) as u32
}

/// The partition the Java client's default partitioner picks for a keyed
/// record: `toPositive(murmur2(key)) % num_partitions`.
pub fn partition_for_key(key: &[u8], num_partitions: NonZeroU32) -> u32 {
    to_positive(murmur2(key)) % num_partitions.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's `UtilsTest.testMurmur2` vectors.
    #[test]
    fn kafka_vectors() {
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
            (b"abc", 479470107),
        ];
        for (input, want) in cases {
            assert_eq!(murmur2(input), *want, "murmur2({:?})", String::from_utf8_lossy(input));
        }
    }

    /// Values from Java's `Utils.murmur2` run on a JVM (empty key, 1–4 bytes,
    /// high bytes that are negative in Java's signed `byte`).
    #[test]
    fn java_computed_vectors() {
        let cases: &[(&[u8], i32)] = &JAVA_VECTORS;
        for (input, want) in cases {
            assert_eq!(murmur2(input), *want, "murmur2({input:?})");
        }
    }

    const JAVA_VECTORS: [(&[u8], i32); 10] = [
        (&[], 275646681),
        (&[0x00], 375494588),
        (&[0xff], -311467685),
        (&[0x01, 0x02], -1935140722),
        (&[0x80, 0x81, 0x82], -1975640061),
        (&[0x01, 0x02, 0x03, 0x04], -1698034171),
        (&[0xde, 0xad, 0xbe, 0xef, 0xfe], -1381332378),
        (b"21", -973932308),
        (b"hello world", 1221641059),
        (b"voter-42", 1924381403),
    ];

    #[test]
    fn partitions() {
        let n = NonZeroU32::new(3).unwrap();
        // toPositive(-973932308) = 1173551340; % 3 = 0
        assert_eq!(partition_for_key(b"21", n), 1_173_551_340 % 3);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), 0x7fff_ffff);
        for key in [&b""[..], b"a", b"key-17", &[0xff; 9]] {
            assert!(partition_for_key(key, n) < 3);
        }
        assert_eq!(partition_for_key(b"anything", NonZeroU32::MIN), 0);
    }
}
