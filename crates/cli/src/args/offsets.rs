//! Arguments of `kwire offsets` (kafka-get-offsets.sh's flags).

use clap::Args;

use super::format::Format;

/// `kwire offsets`: offsets per partition, as kafka-get-offsets.sh prints them.
#[derive(Debug, Args)]
pub struct OffsetsArgs {
    /// Topic name or regular expression (full match) [default: all topics]
    #[arg(long = "topic", value_name = "TOPIC|REGEX")]
    pub topic: Option<String>,
    /// Comma-separated partition ids [default: all]
    #[arg(long, value_name = "N[,N...]")]
    pub partitions: Option<String>,
    /// Comma-separated TOPIC-REGEX:PARTITIONS patterns; PARTITIONS is N, N-M (M
    /// exclusive), N-, -M or empty for all (not with --topic/--partitions)
    #[arg(long = "topic-partitions", value_name = "PATTERNS", conflicts_with_all = ["topic", "partitions"])]
    pub topic_partitions: Option<String>,
    /// -1|latest, -2|earliest, -3|max-timestamp, -4|earliest-local,
    /// -5|latest-tiered, or a timestamp in ms since the epoch
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, default_value = "-1")]
    pub time: String,
    /// Leave out internal topics (__consumer_offsets, ...)
    #[arg(long = "exclude-internal-topics")]
    pub exclude_internal: bool,
    /// Output format: text (topic:partition:offset lines) or json
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
