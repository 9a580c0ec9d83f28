//! Arguments of `kwire groups`.

use clap::{Args, Subcommand};

use super::format::Format;

/// Arguments of `kwire groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    #[command(subcommand)]
    pub cmd: GroupsCmd,
}

#[derive(Debug, Subcommand)]
pub enum GroupsCmd {
    /// List groups (every broker's)
    List(ListArgs),
    /// Describe a group: state, protocol, members with assignments, offsets and lag per partition
    Describe(DescribeArgs),
    /// Reset a group's committed offsets (prints the plan; --execute applies it)
    ResetOffsets(ResetArgs),
    /// Delete groups (they must have no active members)
    Delete(DeleteArgs),
    /// Delete a group's committed offsets of a topic
    DeleteOffsets(DeleteOffsetsArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format (text: one group id per line)
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// Group id
    #[arg(value_name = "GROUP")]
    pub group: String,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Group id
    #[arg(value_name = "GROUP")]
    pub group: String,
    /// Topic, optionally with partitions: T or T:0,1,2 (repeatable)
    #[arg(long = "topic", value_name = "TOPIC[:P,...]")]
    pub topics: Vec<String>,
    /// Every topic the group has committed offsets for
    #[arg(long)]
    pub all_topics: bool,
    /// To the log start offset
    #[arg(long)]
    pub to_earliest: bool,
    /// To the log end offset
    #[arg(long)]
    pub to_latest: bool,
    /// To this offset (clamped to the log's range)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub to_offset: Option<i64>,
    /// Move the committed offset by N (negative: back), clamped to the log's range
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
    /// To the first offset whose timestamp is at or after this time (ISO-8601 or epoch ms)
    #[arg(long, value_name = "TIME")]
    pub to_datetime: Option<String>,
    /// To the first offset at or after now minus this ISO-8601 duration (PnDTnHnM)
    #[arg(long, value_name = "DURATION")]
    pub by_duration: Option<String>,
    /// Apply the plan (without it, nothing changes)
    #[arg(long)]
    pub execute: bool,
    /// Only print the plan (the default)
    #[arg(long, conflicts_with = "execute")]
    pub dry_run: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Group ids
    #[arg(value_name = "GROUP", required = true)]
    pub groups: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DeleteOffsetsArgs {
    /// Group id
    #[arg(value_name = "GROUP")]
    pub group: String,
    /// Topic, optionally with partitions: T or T:0,1 (repeatable)
    #[arg(long = "topic", value_name = "TOPIC[:P,...]", required = true)]
    pub topics: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
