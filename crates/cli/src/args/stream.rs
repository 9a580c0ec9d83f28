//! Arguments of `kwire stream`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Progress format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// One line per batch (what -v prints)
    Text,
    /// One JSON object per batch with Spark's progress fields
    Json,
}

/// Arguments of `kwire stream`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples (the guide's three queries, with --trigger available-now to stop when done):
  kwire stream --topic voters --starting-offsets earliest --trigger 10s
  kwire stream --topic voters --starting-offsets earliest --select 'CAST(value AS STRING)' --truncate false
  kwire stream --topic voters --starting-offsets earliest \\
      --select \"from_json(CAST(value AS STRING), 'gender STRING, age LONG, party STRING') AS voterJSON\" \\
      --group-by voterJSON.gender,voterJSON.party --output-mode complete --trigger 1m

Each --select is one projection stage (like chained selectExpr calls); put several
columns in one stage with commas. Names a stage does not define fall back to the
Kafka columns: key, value, topic, partition, offset, timestamp, timestampType, headers.")]
pub struct StreamArgs {
    // ---- source ----
    /// Topics to read (Spark's subscribe), comma-separated
    #[arg(
        short = 't',
        long = "topic",
        value_name = "TOPIC[,TOPIC...]",
        value_delimiter = ',',
        help_heading = "Source"
    )]
    pub topics: Vec<String>,
    /// Read every topic whose whole name matches this regex (Spark's subscribePattern)
    #[arg(long, value_name = "REGEX", help_heading = "Source")]
    pub topic_pattern: Option<String>,
    /// Read exactly these partitions, e.g. '{"voters":[0,1]}' (Spark's assign)
    #[arg(long, value_name = "JSON", help_heading = "Source")]
    pub assign: Option<String>,
    /// Where to start without a checkpoint: earliest, latest (default) or JSON like '{"voters":{"0":23,"1":-2}}' (-2 earliest, -1 latest)
    #[arg(long, value_name = "earliest|latest|JSON", help_heading = "Source")]
    pub starting_offsets: Option<String>,
    /// Start at the first record at or after this time (epoch ms or ISO-8601), without a checkpoint
    #[arg(long, value_name = "MS", help_heading = "Source")]
    pub starting_timestamp: Option<String>,
    /// Stop once these offsets are reached: latest (the end at start) or JSON (-1 latest)
    #[arg(long, value_name = "latest|JSON", help_heading = "Source")]
    pub ending_offsets: Option<String>,
    /// At most N offsets per batch, split across partitions by what each has
    #[arg(long, value_name = "N", help_heading = "Source")]
    pub max_offsets_per_trigger: Option<u64>,
    /// Records deleted before they were read: fail (true) or skip with a warning (false)
    #[arg(long, value_name = "true|false", default_value = "true", help_heading = "Source")]
    pub fail_on_data_loss: String,
    /// Add the headers column (array of key/value structs)
    #[arg(long, help_heading = "Source")]
    pub include_headers: bool,
    /// read_uncommitted (default) or read_committed
    #[arg(long, value_name = "LEVEL", help_heading = "Source")]
    pub isolation_level: Option<String>,
    /// Fetcher setting (repeatable), e.g. --consumer-property fetch.max.wait.ms=100
    #[arg(long = "consumer-property", value_name = "KEY=VALUE", help_heading = "Source")]
    pub consumer_properties: Vec<String>,

    // ---- query ----
    /// Projection stage (repeatable): "CAST(value AS STRING)", "from_json(CAST(value AS STRING), 'DDL') AS v", "v.*"
    #[arg(long = "select", value_name = "EXPRS", help_heading = "Query")]
    pub select: Vec<String>,
    /// Parse value as JSON with this Spark DDL schema and expose its fields, e.g. 'gender STRING, age LONG, party STRING'
    #[arg(long, value_name = "DDL", help_heading = "Query")]
    pub schema: Option<String>,
    /// from_json mode: permissive (malformed -> nulls) or failfast (stop at the first bad record)
    #[arg(long, value_name = "MODE", help_heading = "Query")]
    pub parse_mode: Option<String>,
    /// Keep rows where this holds, e.g. 'age >= 18' (repeatable: all must hold)
    #[arg(long = "where", value_name = "PREDICATE", help_heading = "Query")]
    pub filters: Vec<String>,
    /// Group by these columns (comma-separated, repeatable)
    #[arg(long = "group-by", value_name = "COL[,COL...]", help_heading = "Query")]
    pub group_by: Vec<String>,
    /// Aggregate (repeatable): count, count(col), sum(col), avg(col), min(col), max(col) [AS name]; default count
    #[arg(long = "agg", value_name = "AGG", help_heading = "Query")]
    pub aggs: Vec<String>,
    /// Event-time window: 'timestamp, 1 minute[, 30 seconds]'
    #[arg(long, value_name = "COL, SIZE[, SLIDE]", help_heading = "Query")]
    pub window: Option<String>,
    /// Watermark delay: '10 seconds' (on the window's column) or 'COL, 10 seconds'
    #[arg(long, value_name = "[COL, ]DELAY", help_heading = "Query")]
    pub watermark: Option<String>,
    /// append (default), update or complete
    #[arg(long, value_name = "MODE", default_value = "append", help_heading = "Query")]
    pub output_mode: String,
    /// 10s, 1m, '10 seconds' (clock-aligned intervals), once, available-now; default: as soon as there is new data
    #[arg(long, value_name = "TRIGGER", help_heading = "Query")]
    pub trigger: Option<String>,

    // ---- sink ----
    /// console (default), jsonl:PATH (- for stdout) or kafka:TOPIC (JSON rows, grouping key as the key, acks=all; -X sets producer properties)
    #[arg(long, value_name = "SINK", default_value = "console", help_heading = "Sink")]
    pub sink: String,
    /// Console: cut cells over 20 characters (true, default), show them whole (false), or cut at N
    #[arg(long, value_name = "true|false|N", help_heading = "Sink")]
    pub truncate: Option<String>,
    /// Console: rows to show per batch (default 20)
    #[arg(long, value_name = "N", help_heading = "Sink")]
    pub num_rows: Option<usize>,
    /// Checkpoint directory: offsets, state and commits, for exactly-once restarts
    #[arg(long, value_name = "DIR", help_heading = "Sink")]
    pub checkpoint: Option<PathBuf>,
    /// Per-batch progress on stderr: text (also with -v) or json
    #[arg(long, value_enum, value_name = "FORMAT", help_heading = "Sink")]
    pub progress: Option<ProgressArg>,

    // ---- distributed ----
    /// Run as one instance of application APP (Kafka Streams' application.id): every
    /// instance with the same id joins group APP and shares the work; state lives in
    /// APP-aggregate-changelog, the regrouping stage in APP-repartition
    #[arg(long, value_name = "APP", help_heading = "Distributed")]
    pub application_id: Option<String>,
    /// at_least_once (default) or exactly_once_v2: output, changelog, repartition
    /// writes and consumed offsets in one transaction per batch
    #[arg(long, value_name = "GUARANTEE", requires = "application_id", help_heading = "Distributed")]
    pub processing_guarantee: Option<String>,
    /// Partitions of APP-repartition and the changelog (default: the input's)
    #[arg(long, value_name = "N", requires = "application_id", help_heading = "Distributed")]
    pub repartition_partitions: Option<i32>,
    /// Replication factor of the topics kwire creates (default: 3, or fewer brokers)
    #[arg(long, value_name = "N", requires = "application_id", help_heading = "Distributed")]
    pub replication_factor: Option<i16>,
    /// Print the global table in TOPIC, a distributed query's Kafka sink (read_committed,
    /// latest row per key), in Spark's console layout, and exit
    #[arg(
        long,
        value_name = "TOPIC",
        conflicts_with_all = ["topics", "topic_pattern", "assign", "application_id", "checkpoint"],
        help_heading = "Distributed"
    )]
    pub table: Option<String>,
    /// How long a batch gathers records before it commits (default 100)
    #[arg(long, value_name = "MS", requires = "application_id", help_heading = "Distributed")]
    pub commit_interval_ms: Option<u64>,
    /// Other instances keeping a warm copy of each task's state (Kafka Streams'
    /// num.standby.replicas, default 0): a task that moves resumes from its copy
    #[arg(long, value_name = "N", requires = "application_id", help_heading = "Distributed")]
    pub num_standby_replicas: Option<usize>,
}
