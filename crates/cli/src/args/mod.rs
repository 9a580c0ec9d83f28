//! Command-line arguments: the clap definitions, parsed once into typed values
//! that `cmd/` hands to the libraries.
//!
//! This tree imports nothing from `cmd/` (the commands import their arguments
//! from here), so the CLI's module graph stays acyclic: `main -> cmd -> args`.

pub mod acls;
pub mod cluster;
pub mod configs;
pub mod consume;
pub mod copy;
pub mod delete_records;
pub mod dump_log;
pub mod format;
pub mod generate;
pub mod groups;
pub mod log_dirs;
pub mod offsets;
pub mod perf;
pub mod produce;
pub mod reassign;
pub mod share;
pub mod share_groups;
pub mod stream;
pub mod topics;
pub mod transactions;
pub mod users;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use self::acls::AclsArgs;
use self::cluster::ClusterArgs;
use self::configs::ConfigsArgs;
use self::consume::ConsumeArgs;
use self::copy::CopyArgs;
use self::delete_records::DeleteRecordsArgs;
use self::dump_log::DumpLogArgs;
use self::generate::GenArgs;
use self::groups::GroupsArgs;
use self::log_dirs::LogDirsArgs;
use self::offsets::OffsetsArgs;
use self::perf::PerfArgs;
use self::produce::ProduceArgs;
use self::reassign::{ElectLeadersArgs, FeaturesArgs, QuorumArgs, ReassignArgs};
use self::share::ShareArgs;
use self::share_groups::ShareGroupsArgs;
use self::stream::StreamArgs;
use self::topics::TopicsArgs;
use self::transactions::TransactionsArgs;
use self::users::UsersArgs;

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
    Produce(ProduceArgs),
    /// Generate test data (voter JSON lines)
    Gen(GenArgs),
    /// Throughput and latency tests (like kafka-producer-perf-test.sh / kafka-consumer-perf-test.sh)
    Perf(PerfArgs),
    /// Consumer groups: list, describe (lag), reset offsets, delete
    Groups(GroupsArgs),
    /// Streaming queries over topics with Spark Structured Streaming semantics
    Stream(StreamArgs),
    /// Transactions: list, describe, describe producers, abort, find hanging (kafka-transactions.sh)
    Transactions(TransactionsArgs),
    /// Copy topics to another topic exactly once, as a consumer group (consume-transform-produce
    /// in transactions)
    Copy(CopyArgs),
    /// Offsets per partition: latest, earliest, max-timestamp, by time (kafka-get-offsets.sh)
    Offsets(OffsetsArgs),
    /// Print a log segment's batches and records offline (kafka-dump-log.sh)
    DumpLog(DumpLogArgs),
    /// Delete records before an offset, per partition (kafka-delete-records.sh)
    DeleteRecords(DeleteRecordsArgs),
    /// Log directories and the replicas in them (kafka-log-dirs.sh --describe)
    LogDirs(LogDirsArgs),
    /// Share groups (KIP-932, queues for Kafka): consume as a share group member
    /// (kafka-console-share-consumer.sh)
    Share(ShareArgs),
    /// Move partitions between brokers: generate, execute, verify, cancel, list
    /// (kafka-reassign-partitions.sh)
    Reassign(ReassignArgs),
    /// Elect preferred or unclean leaders (kafka-leader-election.sh)
    ElectLeaders(ElectLeadersArgs),
    /// Describe, upgrade, downgrade and disable cluster features (kafka-features.sh)
    Features(FeaturesArgs),
    /// The KRaft metadata quorum: status and replication (kafka-metadata-quorum.sh)
    Quorum(QuorumArgs),
    /// Share groups: list, describe (members, state, start offsets), reset offsets, delete
    /// (kafka-share-groups.sh; --verbose adds columns with --describe)
    ShareGroups(ShareGroupsArgs),
    /// ACLs: list, create, delete (kafka-acls.sh flags work too; --remove needs --force)
    Acls(AclsArgs),
    /// Show or change configs of topics, brokers, groups, and quotas and SCRAM credentials of
    /// users and clients (kafka-configs.sh)
    Configs(ConfigsArgs),
    /// SCRAM users: list, describe, create, delete
    Users(UsersArgs),
}

impl Command {
    /// Whether this command needs a multi-threaded runtime (background
    /// heartbeats or timers that must run while output blocks).
    pub fn needs_workers(&self) -> bool {
        match self {
            Command::Consume(a) => a.group.is_some(),
            Command::Stream(_) | Command::Copy(_) | Command::Share(_) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }

    /// The argument tree is a leaf of the CLI: it names nothing else in the
    /// crate (no `crate::cmd`, no `crate::config`), so no import cycle can
    /// run through it. Its files only use each other (`super::format`).
    #[test]
    fn args_import_nothing_from_the_rest_of_the_cli() {
        let files = [
            ("mod.rs", include_str!("mod.rs")),
            ("acls.rs", include_str!("acls.rs")),
            ("cluster.rs", include_str!("cluster.rs")),
            ("configs.rs", include_str!("configs.rs")),
            ("consume.rs", include_str!("consume.rs")),
            ("delete_records.rs", include_str!("delete_records.rs")),
            ("dump_log.rs", include_str!("dump_log.rs")),
            ("copy.rs", include_str!("copy.rs")),
            ("format.rs", include_str!("format.rs")),
            ("generate.rs", include_str!("generate.rs")),
            ("groups.rs", include_str!("groups.rs")),
            ("log_dirs.rs", include_str!("log_dirs.rs")),
            ("offsets.rs", include_str!("offsets.rs")),
            ("perf.rs", include_str!("perf.rs")),
            ("produce.rs", include_str!("produce.rs")),
            ("reassign.rs", include_str!("reassign.rs")),
            ("share.rs", include_str!("share.rs")),
            ("share_groups.rs", include_str!("share_groups.rs")),
            ("stream.rs", include_str!("stream.rs")),
            ("topics.rs", include_str!("topics.rs")),
            ("transactions.rs", include_str!("transactions.rs")),
            ("users.rs", include_str!("users.rs")),
        ];
        let needle = ["crate", "::"].concat();
        for (name, text) in files {
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            for line in code {
                assert!(!line.contains(&needle), "args/{name} names the rest of the CLI: {line}");
            }
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/args");
        let on_disk = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert_eq!(on_disk, files.len(), "a new file in {} belongs in this list", dir.display());
    }
}
