//! Arguments of `kwire topics`: subcommands and kafka-topics.sh's flag form.

use clap::{Args, Subcommand};

use super::format::Format;

/// `kwire topics`: a subcommand, or kafka-topics.sh's flag form.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TopicsArgs {
    #[command(subcommand)]
    pub cmd: Option<TopicsCmd>,
    #[command(flatten)]
    pub legacy: TopicsLegacy,
}

#[derive(Debug, Subcommand)]
pub enum TopicsCmd {
    /// Create a topic
    Create(TopicCreateArgs),
    /// List topic names
    List(TopicListArgs),
    /// Describe topics: partitions, leaders, replicas, ISR, configs
    Describe(TopicDescribeArgs),
    /// Delete topics
    Delete(TopicDeleteArgs),
    /// Add partitions to a topic
    Alter(TopicAlterArgs),
    /// Show or change a topic's configs
    Configs(TopicConfigsArgs),
}

#[derive(Debug, Args)]
pub struct TopicCreateArgs {
    /// Topic name (one per command)
    #[arg(value_name = "TOPIC", required = true)]
    pub topics: Vec<String>,
    /// Number of partitions [default: the broker's num.partitions]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub partitions: Option<i64>,
    /// Replication factor [default: the broker's default.replication.factor]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub replication_factor: Option<i64>,
    /// Topic config (repeatable), e.g. --config retention.ms=86400000
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub configs: Vec<String>,
    /// Succeed quietly if the topic already exists
    #[arg(long)]
    pub if_not_exists: bool,
    /// Let the broker validate the request without creating anything
    #[arg(long)]
    pub dry_run: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct TopicListArgs {
    /// Leave out internal topics (__consumer_offsets, ...)
    #[arg(long)]
    pub exclude_internal: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args, Default)]
pub struct TopicDescribeArgs {
    /// Topics to describe [default: all]
    #[arg(value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Only partitions whose ISR is smaller than their replica set
    #[arg(long)]
    pub under_replicated_partitions: bool,
    /// Only partitions without a live leader
    #[arg(long)]
    pub unavailable_partitions: bool,
    /// Only partitions whose ISR is smaller than min.insync.replicas
    #[arg(long)]
    pub under_min_isr_partitions: bool,
    /// Leave out internal topics
    #[arg(long)]
    pub exclude_internal: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct TopicDeleteArgs {
    /// Topics to delete
    #[arg(value_name = "TOPIC", required = true)]
    pub topics: Vec<String>,
    /// Succeed quietly for topics that don't exist
    #[arg(long)]
    pub if_exists: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct TopicAlterArgs {
    /// Topic
    #[arg(value_name = "TOPIC")]
    pub topic: String,
    /// New total number of partitions (can only grow)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub partitions: i64,
    /// Let the broker validate the change without applying it
    #[arg(long)]
    pub dry_run: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct TopicConfigsArgs {
    /// Topic
    #[arg(value_name = "TOPIC")]
    pub topic: String,
    /// Set a config (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Remove a config, reverting to the default (repeatable)
    #[arg(long = "delete", value_name = "KEY")]
    pub delete: Vec<String>,
    /// Also show configs that have their default value
    #[arg(long)]
    pub all: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// kafka-topics.sh's flags: `--create|--list|--describe|--delete|--alter` with `--topic`.
#[derive(Debug, Args, Default)]
pub struct TopicsLegacy {
    /// Create a topic (kafka-topics.sh form)
    #[arg(long)]
    pub create: bool,
    /// List topics (kafka-topics.sh form)
    #[arg(long)]
    pub list: bool,
    /// Describe topics (kafka-topics.sh form)
    #[arg(long)]
    pub describe: bool,
    /// Delete topics (kafka-topics.sh form)
    #[arg(long)]
    pub delete: bool,
    /// Add partitions or change configs (kafka-topics.sh form)
    #[arg(long)]
    pub alter: bool,
    /// The topic (kafka-topics.sh form)
    #[arg(long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Number of partitions
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub partitions: Option<i64>,
    /// Replication factor
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub replication_factor: Option<i64>,
    /// Topic config (repeatable)
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub configs: Vec<String>,
    /// Remove a topic config (with --alter)
    #[arg(long = "delete-config", value_name = "KEY")]
    pub delete_configs: Vec<String>,
    /// With --create: succeed if the topic exists
    #[arg(long)]
    pub if_not_exists: bool,
    /// With --delete/--alter: succeed if the topic doesn't exist
    #[arg(long)]
    pub if_exists: bool,
    /// With --list/--describe: leave out internal topics
    #[arg(long)]
    pub exclude_internal: bool,
    /// With --describe: only under-replicated partitions
    #[arg(long)]
    pub under_replicated_partitions: bool,
    /// With --describe: only partitions without a leader
    #[arg(long)]
    pub unavailable_partitions: bool,
    /// With --describe: only partitions under min.insync.replicas
    #[arg(long)]
    pub under_min_isr_partitions: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
