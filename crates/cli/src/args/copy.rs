//! Arguments of `kwire copy`.

use clap::Args;

use super::format::Format;

/// Arguments of `kwire copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Topic to read as a member of --group (repeatable, or comma-separated)
    #[arg(long = "from", value_name = "TOPIC", required = true, value_delimiter = ',')]
    pub from: Vec<String>,
    /// Topic to write to
    #[arg(long = "to", value_name = "TOPIC")]
    pub to: String,
    /// Consumer group to read as; its offsets are committed inside the transactions. Without
    /// committed offsets a partition is read from the beginning
    #[arg(short = 'g', long, value_name = "GROUP")]
    pub group: String,
    /// transactional.id of this copier: one per running instance, and the same one again when an
    /// instance is restarted (the new one then fences the old at once)
    #[arg(long, value_name = "ID")]
    pub transactional_id: String,
    /// Commit every MS milliseconds
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub transaction_ms: u64,
    /// At most N records per transaction
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub transaction_size: u64,
    /// Exit once no record came for MS milliseconds
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Consumer setting (repeatable), e.g. --consumer-property max.poll.records=500
    #[arg(long = "consumer-property", value_name = "KEY=VALUE")]
    pub consumer_properties: Vec<String>,
    /// Producer setting (repeatable), e.g. --producer-property compression.type=lz4
    #[arg(long = "producer-property", value_name = "KEY=VALUE")]
    pub producer_properties: Vec<String>,
    /// Output format: text (a summary line on stderr) or json (the summary on stdout)
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
