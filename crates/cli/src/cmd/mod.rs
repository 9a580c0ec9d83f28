//! Subcommands.

mod cluster;

use std::process::ExitCode;

use anyhow::Result;

use crate::args::{Cli, Command};
use crate::config::ClientSettings;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let settings = ClientSettings::from_global(&cli.global)?;
    let code = match cli.command {
        Command::Cluster(a) => cluster::run(&settings, a).await?,
    };
    settings.warn_unused();
    Ok(code)
}
