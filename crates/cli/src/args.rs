//! Command-line arguments: parsed once into typed values, then handed to libraries.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Kafka from one native binary: topics, produce, consume, groups, streaming.
#[derive(Debug, Parser)]
#[command(name = "kwire", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command shares.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Kafka brokers to bootstrap from (HOST:PORT[,HOST:PORT...]) [default: 127.0.0.1:9092]
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        visible_alias = "bootstrap-servers",
        env = "KWIRE_BOOTSTRAP_SERVERS",
        hide_env_values = true,
        value_name = "HOST:PORT[,...]",
        global = true
    )]
    pub bootstrap: Option<String>,

    /// Java-style properties file with client settings (client.id, request.timeout.ms, ...)
    #[arg(long = "command-config", value_name = "FILE", global = true)]
    pub command_config: Option<PathBuf>,

    /// Set a client property (repeatable), e.g. -X request.timeout.ms=5000
    #[arg(short = 'X', value_name = "KEY=VALUE", global = true)]
    pub props: Vec<String>,

    /// More logging on stderr (-v info, -vv debug, -vvv trace)
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Not supported: kwire talks to brokers directly (see --bootstrap-server)
    #[arg(long, value_name = "HOST:PORT", global = true, hide = true)]
    pub zookeeper: Option<String>,
}

// Parsed once per run; the size difference between variants doesn't matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the cluster: id, controller, brokers (and negotiated API versions)
    Cluster(ClusterArgs),
    /// Create, list, describe, delete and alter topics (kafka-topics.sh flags work too)
    Topics(TopicsArgs),
    /// Read records from a topic (like kafka-console-consumer.sh and kcat -C)
    Consume(ConsumeArgs),
    /// Write records to a topic from stdin or a file (like kafka-console-producer.sh and kcat -P)
    Produce(crate::cmd::produce::ProduceArgs),
    /// Generate test data (voter JSON lines)
    Gen(crate::cmd::generate::GenArgs),
    /// Throughput and latency tests (like kafka-producer-perf-test.sh / kafka-consumer-perf-test.sh)
    Perf(crate::cmd::perf::PerfArgs),
    /// Consumer groups: list, describe (lag), reset offsets, delete
    Groups(crate::cmd::groups::GroupsArgs),
    /// Streaming queries over topics with Spark Structured Streaming semantics
    Stream(crate::cmd::stream::StreamArgs),
}

impl Command {
    /// Whether this command needs a multi-threaded runtime (background
    /// heartbeats or timers that must run while output blocks).
    pub fn needs_workers(&self) -> bool {
        match self {
            Command::Consume(a) => a.group.is_some(),
            Command::Stream(_) => true,
            _ => false,
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Also show, per broker, each API's version range and the version kwire uses
    #[arg(long)]
    pub api_versions: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

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
