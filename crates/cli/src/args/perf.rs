//! Arguments of `kwire perf`.

use clap::{Args, Subcommand};

use super::format::Format;

/// Arguments of `kwire perf`.
#[derive(Debug, Args)]
pub struct PerfArgs {
    #[command(subcommand)]
    pub what: PerfWhat,
}

#[derive(Debug, Subcommand)]
pub enum PerfWhat {
    /// Producer throughput and latency (like kafka-producer-perf-test.sh)
    Produce(PerfProduceArgs),
    /// Consumer throughput (like kafka-consumer-perf-test.sh)
    Consume(PerfConsumeArgs),
}

#[derive(Debug, Args)]
pub struct PerfProduceArgs {
    /// Topic
    #[arg(long)]
    pub topic: String,
    /// Records to send
    #[arg(long, value_name = "N")]
    pub num_records: u64,
    /// Bytes per record
    #[arg(long, value_name = "BYTES")]
    pub record_size: usize,
    /// Records per second (-1: unthrottled)
    #[arg(long, default_value_t = -1.0, allow_negative_numbers = true, value_name = "N")]
    pub throughput: f64,
    /// Producer setting (repeatable), e.g. --producer-property acks=all
    #[arg(long = "producer-property", visible_alias = "producer-props", value_name = "KEY=VALUE", num_args = 1..)]
    pub producer_properties: Vec<String>,
    /// Send in transactions with this transactional.id (as ProducerPerformance)
    #[arg(long, value_name = "ID")]
    pub transactional_id: Option<String>,
    /// Commit a transaction once it is this old (default 3000 with a
    /// transactional id; alone, it turns transactions on with the id
    /// performance-producer-default-transactional-id, as Java's tool does)
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub transaction_duration_ms: Option<u64>,
    /// Output format: text (the Java perf tool's lines) or json (one summary object)
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct PerfConsumeArgs {
    /// Topic
    #[arg(long)]
    pub topic: String,
    /// Records to read
    #[arg(long, visible_alias = "num-records", value_name = "N")]
    pub messages: u64,
    /// Fail if no record arrives for this long (ms)
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub timeout: u64,
    /// Consumer setting (repeatable)
    #[arg(long = "consumer-property", value_name = "KEY=VALUE")]
    pub consumer_properties: Vec<String>,
    /// Leave out the header line
    #[arg(long)]
    pub hide_header: bool,
    /// Output format: text (the Java perf tool's lines) or json (one summary object)
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
