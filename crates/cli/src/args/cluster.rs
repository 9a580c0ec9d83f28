//! Arguments of `kwire cluster`.

use clap::Args;

use super::format::Format;

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Also show, per broker, each API's version range and the version kwire uses
    #[arg(long)]
    pub api_versions: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
