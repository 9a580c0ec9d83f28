//! Arguments of `kwire reassign` (kafka-reassign-partitions.sh's flags),
//! `kwire elect-leaders` (kafka-leader-election.sh), `kwire features`
//! (kafka-features.sh) and `kwire quorum` (kafka-metadata-quorum.sh).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::format::Format;

/// What `kwire reassign` does (the positional form of --generate, --execute, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReassignAction {
    /// Propose a reassignment of the topics in --topics-to-move-json-file over --broker-list
    Generate,
    /// Start the reassignment in --reassignment-json-file
    Execute,
    /// Report the reassignment's progress; once done, remove the throttles
    Verify,
    /// Cancel the reassignments in --reassignment-json-file that are still running
    Cancel,
    /// List the reassignments running in the cluster
    List,
}

/// `kwire reassign ACTION` or kafka-reassign-partitions.sh's `--ACTION` flags.
#[derive(Debug, Args)]
pub struct ReassignArgs {
    /// The action (or one of --generate, --execute, --verify, --cancel, --list)
    #[arg(value_enum, value_name = "ACTION")]
    pub action: Option<ReassignAction>,
    /// Propose a reassignment (kafka-reassign-partitions.sh form)
    #[arg(long)]
    pub generate: bool,
    /// Start a reassignment (kafka-reassign-partitions.sh form)
    #[arg(long)]
    pub execute: bool,
    /// Check a reassignment (kafka-reassign-partitions.sh form)
    #[arg(long)]
    pub verify: bool,
    /// Cancel a reassignment (kafka-reassign-partitions.sh form)
    #[arg(long)]
    pub cancel: bool,
    /// List running reassignments (kafka-reassign-partitions.sh form)
    #[arg(long)]
    pub list: bool,
    /// JSON file of topics to move: {"version":1,"topics":[{"topic":"a"}]} (generate)
    #[arg(long, value_name = "FILE")]
    pub topics_to_move_json_file: Option<PathBuf>,
    /// Brokers to spread the partitions over, e.g. 1,2,3 (generate)
    #[arg(long, value_name = "ID[,ID...]", value_delimiter = ',', allow_negative_numbers = true)]
    pub broker_list: Vec<i32>,
    /// Reassignment JSON file, as generate prints it (execute, verify, cancel)
    #[arg(long, value_name = "FILE")]
    pub reassignment_json_file: Option<PathBuf>,
    /// Inter-broker replication throttle in bytes/s while the reassignment runs (execute)
    #[arg(long, value_name = "BYTES/S")]
    pub throttle: Option<u64>,
    /// Throttle of moves between log directories in bytes/s (execute)
    #[arg(long, value_name = "BYTES/S")]
    pub replica_alter_log_dirs_throttle: Option<u64>,
    /// Execute even though other reassignments are running (or change the throttle of a running one)
    #[arg(long)]
    pub additional: bool,
    /// Leave the throttles in place (verify, cancel)
    #[arg(long)]
    pub preserve_throttles: bool,
    /// Ignore racks when proposing an assignment (generate)
    #[arg(long)]
    pub disable_rack_aware: bool,
    /// Accepted for kafka-reassign-partitions.sh compatibility (ms to wait for log-dir moves)
    #[arg(long, value_name = "MS", hide = true)]
    pub timeout: Option<u64>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Election types (kafka-leader-election.sh's --election-type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "lower")]
pub enum ElectionKind {
    /// The first replica of the assignment becomes leader if it is in sync
    #[value(alias = "PREFERRED")]
    Preferred,
    /// Elect an out-of-sync replica when no in-sync one is alive (data may be lost)
    #[value(alias = "UNCLEAN")]
    Unclean,
}

/// `kwire elect-leaders`: kafka-leader-election.sh.
#[derive(Debug, Args)]
pub struct ElectLeadersArgs {
    /// Type of election
    #[arg(long, value_enum, required = true)]
    pub election_type: ElectionKind,
    /// Topic (with --partition)
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Partition (with --topic)
    #[arg(long, value_name = "PARTITION", allow_negative_numbers = true)]
    pub partition: Option<i32>,
    /// JSON file of partitions: {"partitions":[{"topic":"t","partition":0}]}
    #[arg(long, value_name = "FILE")]
    pub path_to_json_file: Option<PathBuf>,
    /// Every partition of the cluster
    #[arg(long)]
    pub all_topic_partitions: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `kwire features`: kafka-features.sh.
#[derive(Debug, Args)]
pub struct FeaturesArgs {
    #[command(subcommand)]
    pub cmd: FeaturesCmd,
}

#[derive(Debug, Subcommand)]
pub enum FeaturesCmd {
    /// Supported and finalized features
    Describe(FeaturesDescribeArgs),
    /// Raise feature levels
    Upgrade(FeaturesChangeArgs),
    /// Lower feature levels
    Downgrade(FeaturesChangeArgs),
    /// Disable features (level 0)
    Disable(FeaturesDisableArgs),
}

#[derive(Debug, Args)]
pub struct FeaturesDescribeArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct FeaturesChangeArgs {
    /// metadata.version by release, e.g. 3.9 or 3.9-IV0 (deprecated in Kafka's tool)
    #[arg(long, value_name = "VERSION")]
    pub metadata: Option<String>,
    /// metadata.version by release (kwire sets only metadata.version with it)
    #[arg(long, value_name = "VERSION")]
    pub release_version: Option<String>,
    /// A feature and its level (repeatable), e.g. --feature group.version=1
    #[arg(long, value_name = "NAME=LEVEL")]
    pub feature: Vec<String>,
    /// Downgrade even if metadata may be lost (downgrade only)
    #[arg(long = "unsafe")]
    pub unsafe_: bool,
    /// Validate only; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct FeaturesDisableArgs {
    /// A feature to disable (repeatable)
    #[arg(long, value_name = "NAME", required = true)]
    pub feature: Vec<String>,
    /// Disable even if metadata may be lost
    #[arg(long = "unsafe")]
    pub unsafe_: bool,
    /// Validate only; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `kwire quorum`: kafka-metadata-quorum.sh.
#[derive(Debug, Args)]
pub struct QuorumArgs {
    #[command(subcommand)]
    pub cmd: QuorumCmd,
}

#[derive(Debug, Subcommand)]
pub enum QuorumCmd {
    /// The metadata quorum: --status (leader, epoch, lag, voters) or --replication (per replica)
    Describe(QuorumDescribeArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["status", "replication"])))]
pub struct QuorumDescribeArgs {
    /// Leader, epoch, high watermark, follower lag, voters and observers
    #[arg(long)]
    pub status: bool,
    /// One row per voter and observer: log end offset, lag, last fetch and caught-up times
    #[arg(long)]
    pub replication: bool,
    /// With --replication: times as "N ms ago"
    #[arg(long)]
    pub human_readable: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
