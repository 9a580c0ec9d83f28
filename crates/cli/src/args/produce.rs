//! Arguments of `kwire produce`.

use std::path::PathBuf;

use clap::Args;

use super::format::Format;

/// Arguments of `kwire produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Topic to write to
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topic: String,
    /// Read records from this file instead of stdin
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Write every input line whose record failed to FILE (raw bytes, one per line, in input
    /// order), so `--input FILE` re-sends exactly them
    #[arg(long, value_name = "FILE")]
    pub failed_output: Option<PathBuf>,
    /// all | -1 | 1 | 0 (also --producer-property acks=...)
    #[arg(long, value_name = "ACKS", allow_hyphen_values = true)]
    pub acks: Option<String>,
    /// Producer setting (repeatable), e.g. --producer-property acks=all
    #[arg(long = "producer-property", value_name = "KEY=VALUE")]
    pub producer_properties: Vec<String>,
    /// Console-producer reader properties: parse.key=true, key.separator=..., null.marker=...
    #[arg(long = "property", visible_alias = "reader-property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Split each line into key and value at the first SEP
    #[arg(long, value_name = "SEP")]
    pub key_separator: Option<String>,
    /// Write every record to this partition
    #[arg(short = 'p', long, value_name = "N")]
    pub partition: Option<i32>,
    /// Compression: none, gzip, snappy, lz4, zstd
    #[arg(long, visible_alias = "compression-codec", value_name = "CODEC")]
    pub compression: Option<String>,
    /// linger.ms
    #[arg(long, value_name = "MS")]
    pub linger_ms: Option<u64>,
    /// batch.size in bytes
    #[arg(long, value_name = "BYTES")]
    pub batch_size: Option<u64>,
    /// A value (or key) equal to this string is sent as null
    #[arg(long, value_name = "STR")]
    pub null_marker: Option<String>,
    /// Header added to every record (repeatable): KEY=VALUE, or KEY alone for a null value
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Deprecated alias of --bootstrap-server (kafka-console-producer.sh's old flag)
    #[arg(long, value_name = "HOST:PORT", hide = true)]
    pub broker_list: Option<String>,
    /// text: one record per line; json: one object per line with key, value, headers, partition, timestamp
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Write in transactions with this transactional.id: read_committed consumers see only
    /// committed records; a failed record aborts the open transaction
    #[arg(long, value_name = "ID")]
    pub transactional_id: Option<String>,
    /// Commit every N records (and at the end of input); with --transactional-id
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub transaction_size: Option<u64>,
    /// Commit every MS milliseconds (default 1000) and at the end of input; with --transactional-id
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub transaction_ms: Option<u64>,
}
