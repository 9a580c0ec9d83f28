//! Choosing a partition for a record: Kafka's Java rules.

use std::collections::HashMap;
use std::num::NonZeroU32;

use kwire_proto::hash::FxBuild;
use kwire_proto::murmur2::partition_for_key;

use crate::PartitionerKind;

/// Partitioner state (sticky partitions per topic, round-robin counters).
#[derive(Debug, Default)]
pub(crate) struct Partitioner {
    kind: PartitionerKind,
    batch_size: usize,
    sticky: HashMap<String, Sticky, FxBuild>,
    rr: HashMap<String, u32, FxBuild>,
    rng: u64,
}

#[derive(Debug, Clone, Copy)]
struct Sticky {
    partition: u32,
    bytes: usize,
}

impl Partitioner {
    pub(crate) fn new(kind: PartitionerKind, batch_size: usize, seed: u64) -> Self {
        Partitioner { kind, batch_size: batch_size.max(1), rng: seed | 1, ..Default::default() }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The partition of a record of `size` bytes with `key` for `topic` with `n` partitions.
    pub(crate) fn partition(&mut self, topic: &str, key: Option<&[u8]>, size: usize, n: NonZeroU32) -> i32 {
        let p = match (self.kind, key) {
            (PartitionerKind::Default, Some(k)) => partition_for_key(k, n),
            (PartitionerKind::RoundRobin, _) => {
                let c = self.rr.entry(topic.to_owned()).or_insert(0);
                let p = *c % n.get();
                *c = c.wrapping_add(1);
                p
            }
            (PartitionerKind::Default, None) => {
                // The common case, staying on the sticky partition, costs one lookup.
                let prev = match self.sticky.get_mut(topic) {
                    Some(s) if s.partition < n.get() && s.bytes < self.batch_size => {
                        s.bytes = s.bytes.saturating_add(size);
                        return s.partition as i32;
                    }
                    Some(s) => Some(s.partition),
                    None => None,
                };
                // Move on after batch.size bytes (KIP-794), to a different partition.
                let mut p = (self.random() % u64::from(n.get())) as u32;
                if n.get() > 1 && Some(p) == prev {
                    p = (p + 1) % n.get();
                }
                match self.sticky.get_mut(topic) {
                    Some(s) => *s = Sticky { partition: p, bytes: size },
                    None => {
                        self.sticky.insert(topic.to_owned(), Sticky { partition: p, bytes: size });
                    }
                }
                p
            }
        };
        p as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(x: u32) -> NonZeroU32 {
        NonZeroU32::new(x).unwrap()
    }

    #[test]
    fn keyed_records_follow_murmur2() {
        let mut p = Partitioner::new(PartitionerKind::Default, 16384, 7);
        // Kafka: (murmur2("foobar") & 0x7fffffff) % 3
        let want = ((-790_332_482i32 as u32) & 0x7fff_ffff) % 3;
        assert_eq!(p.partition("t", Some(b"foobar"), 10, n(3)), want as i32);
    }

    #[test]
    fn keyless_records_stick_then_move() {
        let mut p = Partitioner::new(PartitionerKind::Default, 100, 42);
        let first = p.partition("t", None, 60, n(4));
        assert_eq!(p.partition("t", None, 30, n(4)), first, "still under batch.size");
        let _ = p.partition("t", None, 30, n(4)); // 120 bytes: the next one moves
        let next = p.partition("t", None, 10, n(4));
        assert_ne!(next, first);
        // Over many batches every partition gets used.
        let mut seen = [false; 4];
        for _ in 0..400 {
            seen[p.partition("t", None, 100, n(4)) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn round_robin_cycles() {
        let mut p = Partitioner::new(PartitionerKind::RoundRobin, 100, 1);
        let got: Vec<i32> = (0..6).map(|_| p.partition("t", Some(b"k"), 1, n(3))).collect();
        assert_eq!(got, vec![0, 1, 2, 0, 1, 2]);
    }
}
