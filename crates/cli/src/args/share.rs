//! Arguments of `kwire share` (kafka-console-share-consumer.sh's flags).

use clap::{Args, Subcommand};

use super::format::Format;

/// `kwire share ...`: share groups (KIP-932, queues for Kafka).
#[derive(Debug, Args)]
pub struct ShareArgs {
    #[command(subcommand)]
    pub command: ShareCommand,
}

/// Share group commands.
#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Consume as a member of a share group (like kafka-console-share-consumer.sh): every
    /// record goes to one member, and is acknowledged once printed
    Consume(ShareConsumeArgs),
}

/// `kwire share consume`.
#[derive(Debug, Args)]
pub struct ShareConsumeArgs {
    /// Topic to consume
    #[arg(short = 't', long, value_name = "TOPIC")]
    pub topic: String,
    /// Share group to join
    #[arg(short = 'g', long, value_name = "GROUP", default_value = "console-share-consumer")]
    pub group: String,
    /// Exit after this many records
    #[arg(long = "max-messages", value_name = "N")]
    pub max_messages: Option<u64>,
    /// Exit when no record came for this long
    #[arg(long = "timeout-ms", value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Acknowledge each record as REJECT (never delivered again) instead of ACCEPT
    #[arg(long, conflicts_with = "release")]
    pub reject: bool,
    /// Acknowledge each record as RELEASE (delivered again, up to the group's delivery
    /// count limit) instead of ACCEPT
    #[arg(long)]
    pub release: bool,
    /// Fields to print before the value: key,partition,offset,delivery-count
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    pub print: Vec<String>,
    /// Output format: text (the value, after the --print fields) or json (one object per
    /// record: topic, partition, offset, timestamp, key, value, delivery_count)
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
