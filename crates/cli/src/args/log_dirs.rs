//! Arguments of `kwire log-dirs` (kafka-log-dirs.sh's flags).

use clap::Args;

use super::format::Format;

/// `kwire log-dirs --describe`: log directories and the replicas in them.
#[derive(Debug, Args)]
pub struct LogDirsArgs {
    /// Describe the log directories (the only action; kafka-log-dirs.sh requires it)
    #[arg(long, required = true)]
    pub describe: bool,
    /// Brokers to query, e.g. 1,2,3 [default: every broker]
    #[arg(long = "broker-list", value_name = "ID[,ID...]", value_delimiter = ',')]
    pub broker_list: Vec<i32>,
    /// Topics to show, e.g. a,b [default: every topic]
    #[arg(long = "topic-list", value_name = "TOPIC[,TOPIC...]", value_delimiter = ',')]
    pub topic_list: Vec<String>,
    /// Output format: text (kafka-log-dirs.sh's progress lines and JSON document) or json (the
    /// document alone)
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
