//! Arguments of `kwire delete-records` (kafka-delete-records.sh's flags).

use std::path::PathBuf;

use clap::Args;

use super::format::Format;

/// `kwire delete-records`: delete records up to an offset, per partition.
#[derive(Debug, Args)]
pub struct DeleteRecordsArgs {
    /// JSON file of {"partitions":[{"topic":T,"partition":P,"offset":O}],"version":1}
    /// (offset -1: everything up to the high watermark); - reads stdin
    #[arg(long = "offset-json-file", value_name = "FILE")]
    pub offset_json_file: PathBuf,
    /// Output format: text (kafka-delete-records.sh's report) or json
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
