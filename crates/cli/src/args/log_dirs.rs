//! Arguments of `kwire log-dirs` (kafka-log-dirs.sh's flags).

use clap::Args;

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
}
