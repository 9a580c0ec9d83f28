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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the cluster: id, controller, brokers (and negotiated API versions)
    Cluster(ClusterArgs),
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
