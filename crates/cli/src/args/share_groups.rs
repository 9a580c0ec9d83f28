//! Arguments of `kwire share-groups`: kafka-share-groups.sh's flag form.

use clap::Args;

use super::format::Format;

/// `kwire share-groups`: `--list | --describe | --delete | --delete-offsets | --reset-offsets`.
#[derive(Debug, Args, Default, Clone)]
pub struct ShareGroupsArgs {
    /// List share groups
    #[arg(long)]
    pub list: bool,
    /// Describe a share group: start offsets and lag (default), --members, or --state
    #[arg(long)]
    pub describe: bool,
    /// Delete share groups (they must have no active members)
    #[arg(long)]
    pub delete: bool,
    /// Delete a share group's state (start offsets) of topics
    #[arg(long)]
    pub delete_offsets: bool,
    /// Reset a share group's start offsets (--dry-run prints the plan, --execute applies it)
    #[arg(long)]
    pub reset_offsets: bool,
    /// The share group (repeatable with --describe and --delete)
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Every share group (with --describe, --delete, --reset-offsets)
    #[arg(long)]
    pub all_groups: bool,
    /// Topic, optionally with partitions: T or T:0,1,2 (repeatable)
    #[arg(long = "topic", value_name = "TOPIC[:P,...]")]
    pub topics: Vec<String>,
    /// Every topic the group has state for (with --reset-offsets)
    #[arg(long)]
    pub all_topics: bool,
    /// With --describe: members and their assignments
    #[arg(long)]
    pub members: bool,
    /// With --describe: the group's state; with --list: show states, or only these (comma-separated)
    #[arg(long, value_name = "STATES", num_args = 0..=1, default_missing_value = "")]
    pub state: Option<String>,
    /// With --describe: start offsets and lag per partition (the default)
    #[arg(long)]
    pub offsets: bool,
    /// To the log start offset
    #[arg(long)]
    pub to_earliest: bool,
    /// To the log end offset
    #[arg(long)]
    pub to_latest: bool,
    /// To this offset (clamped to the log's range)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub to_offset: Option<i64>,
    /// Move the start offset by N (negative: back), clamped to the log's range
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
    /// To the first offset whose timestamp is at or after this time (ISO-8601 or epoch ms)
    #[arg(long, value_name = "TIME")]
    pub to_datetime: Option<String>,
    /// To the first offset at or after now minus this ISO-8601 duration (PnDTnHnM)
    #[arg(long, value_name = "DURATION")]
    pub by_duration: Option<String>,
    /// Only print the plan
    #[arg(long, conflicts_with = "execute")]
    pub dry_run: bool,
    /// Apply the plan
    #[arg(long)]
    pub execute: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
