//! Vocabulary every layer shares, kept at the bottom so no two crates
//! define it twice.

use std::fmt;

/// A topic and partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// Constructs one.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    /// `topic-partition`, as Kafka prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// The offset sentinels Kafka uses on the wire (ListOffsets timestamps) and
/// Spark in its offsets JSON: the log start offset.
pub const EARLIEST_OFFSET: i64 = -2;
/// ... and the log end offset.
pub const LATEST_OFFSET: i64 = -1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_and_orders_like_kafka() {
        let a = TopicPartition::new("voters", 2);
        assert_eq!(a.to_string(), "voters-2");
        assert!(TopicPartition::new("a", 9) < TopicPartition::new("b", 0));
        assert!(TopicPartition::new("a", 1) < TopicPartition::new("a", 2));
    }
}
