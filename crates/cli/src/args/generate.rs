//! Arguments of `kwire gen`.

use clap::{Args, Subcommand};

/// Arguments of `kwire gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    #[command(subcommand)]
    pub what: GenWhat,
}

#[derive(Debug, Subcommand)]
pub enum GenWhat {
    /// Voter JSON lines: {"gender":"F","age":42,"party":"Democrat"}
    Voters(VotersArgs),
}

#[derive(Debug, Args)]
pub struct VotersArgs {
    /// How many (0: until interrupted)
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// Random seed: the same seed gives the same voters
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Voters per second (default: as fast as possible)
    #[arg(long, value_name = "N")]
    pub rate: Option<f64>,
    /// Fraction of malformed or wrongly typed lines mixed in (0.0-1.0), to exercise parsing
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION")]
    pub malformed: f64,
}
