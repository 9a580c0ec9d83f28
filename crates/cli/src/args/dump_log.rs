//! Arguments of `kwire dump-log` (kafka-dump-log.sh's flags).

use std::path::PathBuf;

use clap::Args;

use super::format::Format;

/// `kwire dump-log FILE...`: print a log segment's batches and records offline.
#[derive(Debug, Args)]
pub struct DumpLogArgs {
    /// Segment files (.log)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Segment files, comma-separated (kafka-dump-log.sh form)
    #[arg(long = "files", value_name = "FILE[,FILE...]", value_delimiter = ',')]
    pub files_flag: Vec<PathBuf>,
    /// Print every record's key and value (implies --deep-iteration)
    #[arg(long)]
    pub print_data_log: bool,
    /// Print every record, not only batch headers
    #[arg(long)]
    pub deep_iteration: bool,
    /// Leave offsets, timestamps and sizes out of record lines
    #[arg(long)]
    pub skip_record_metadata: bool,
    /// Largest decompressed size accepted for one batch, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_decompressed: usize,
    /// Output format: text (kafka-dump-log.sh's lines) or json (one object per batch and line)
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
