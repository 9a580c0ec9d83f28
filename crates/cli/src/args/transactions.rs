//! Arguments of `kwire transactions`: kafka-transactions.sh's subcommands and flags.

use clap::{Args, Subcommand};

use super::format::Format;

/// Arguments of `kwire transactions`.
#[derive(Debug, Args)]
pub struct TransactionsArgs {
    #[command(subcommand)]
    pub cmd: TransactionsCmd,
}

#[derive(Debug, Subcommand)]
pub enum TransactionsCmd {
    /// List transactions (every coordinator's)
    List(TxnListArgs),
    /// Describe the state of an active transactional-id
    Describe(TxnDescribeArgs),
    /// Describe the states of active producers for a topic partition
    DescribeProducers(TxnDescribeProducersArgs),
    /// Abort a hanging transaction (requires administrative privileges)
    Abort(TxnAbortArgs),
    /// Find hanging transactions
    FindHanging(TxnFindHangingArgs),
}

#[derive(Debug, Args)]
pub struct TxnListArgs {
    /// Only transactions running longer than this many ms (< 0: all; brokers 3.8+)
    #[arg(long, value_name = "DURATION_FILTER", allow_negative_numbers = true)]
    pub duration_filter: Option<i64>,
    /// Only transactional ids matching this regular expression (brokers 4.1+)
    #[arg(long, value_name = "TRANSACTIONAL_ID_PATTERN")]
    pub transactional_id_pattern: Option<String>,
    /// Output format: text (kafka-transactions.sh's table) or json
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct TxnDescribeArgs {
    /// Transactional id
    #[arg(long, value_name = "TRANSACTIONAL_ID", required = true)]
    pub transactional_id: String,
    /// Output format: text (kafka-transactions.sh's table) or json
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct TxnDescribeProducersArgs {
    /// Describe the producer state on this replica [default: the leader]
    #[arg(long, value_name = "BROKER_ID", allow_negative_numbers = true)]
    pub broker_id: Option<i32>,
    /// Topic name
    #[arg(long, value_name = "TOPIC", required = true)]
    pub topic: String,
    /// Partition number
    #[arg(long, value_name = "PARTITION", required = true, allow_negative_numbers = true)]
    pub partition: i32,
    /// Output format: text (kafka-transactions.sh's table) or json
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct TxnAbortArgs {
    /// Topic name
    #[arg(long, value_name = "TOPIC", required = true)]
    pub topic: String,
    /// Partition number
    #[arg(long, value_name = "PARTITION", required = true, allow_negative_numbers = true)]
    pub partition: i32,
    /// Start offset of the transaction to abort (brokers 3.0 and above)
    #[arg(long, value_name = "START_OFFSET", allow_negative_numbers = true)]
    pub start_offset: Option<i64>,
    /// Producer id (brokers older than 3.0: with --producer-epoch and --coordinator-epoch)
    #[arg(long, value_name = "PRODUCER_ID", allow_negative_numbers = true)]
    pub producer_id: Option<i64>,
    /// Producer epoch (brokers older than 3.0)
    #[arg(long, value_name = "PRODUCER_EPOCH", allow_negative_numbers = true)]
    pub producer_epoch: Option<i16>,
    /// Coordinator epoch (brokers older than 3.0)
    #[arg(long, value_name = "COORDINATOR_EPOCH", allow_negative_numbers = true)]
    pub coordinator_epoch: Option<i32>,
    /// Output format: text (kafka-transactions.sh's table) or json
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct TxnFindHangingArgs {
    /// Broker id to search for hanging transactions
    #[arg(long, value_name = "BROKER_ID", allow_negative_numbers = true)]
    pub broker_id: Option<i32>,
    /// Maximum transaction timeout in minutes to limit the scope of the search
    #[arg(long, value_name = "MAX_TRANSACTION_TIMEOUT", default_value_t = 15, allow_negative_numbers = true)]
    pub max_transaction_timeout: i32,
    /// Topic name to limit the search to (required if --partition is given)
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Partition number
    #[arg(long, value_name = "PARTITION", allow_negative_numbers = true)]
    pub partition: Option<i32>,
    /// Output format: text (kafka-transactions.sh's table) or json
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
