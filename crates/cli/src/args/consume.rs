//! Arguments of `kwire consume`.

use clap::Args;

use super::format::Format;

/// `kwire consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Topic to read
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topic: String,
    /// Start at the earliest offset (same as --offset earliest)
    #[arg(long)]
    pub from_beginning: bool,
    /// Where to start: earliest | latest | N | -N (N before the end) | @<epoch-ms> | @<ISO-8601>
    #[arg(short = 'o', long, value_name = "SPEC", allow_hyphen_values = true)]
    pub offset: Option<String>,
    /// Only these partitions (repeatable) [default: all]
    #[arg(short = 'p', long = "partition", value_name = "N")]
    pub partitions: Vec<i32>,
    /// Stop after N records
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Stop once every partition reached the end offset it had at start
    #[arg(short = 'e', long)]
    pub exit_at_end: bool,
    /// Stop when no record arrives for this many milliseconds
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// read_uncommitted (default) or read_committed
    #[arg(long, value_name = "LEVEL")]
    pub isolation_level: Option<String>,
    /// Fields to print before the value: key,partition,offset,timestamp,headers
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    pub print: Vec<String>,
    /// Java console-consumer properties: print.key=true, key.separator=..., null.literal=...
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Separator between printed fields [default: tab]
    #[arg(long, value_name = "SEP")]
    pub key_separator: Option<String>,
    /// Consumer setting (repeatable), e.g. --consumer-property fetch.max.wait.ms=100
    #[arg(long = "consumer-property", value_name = "KEY=VALUE")]
    pub consumer_properties: Vec<String>,
    /// Consumer group (coordinated consumption and committed offsets)
    #[arg(short = 'g', long, value_name = "GROUP")]
    pub group: Option<String>,
    /// text (value, with --print fields) or json (one envelope object per record)
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
