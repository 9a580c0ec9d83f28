//! Subcommands.

mod acls;
mod cluster;
mod configs;
mod consume;
mod consume_group;
mod consume_loop;
mod copy;
mod delete_records;
mod dump_log;
pub mod generate;
pub mod groups;
mod log_dirs;
mod offsets;
pub mod perf;
mod printer;
pub mod produce;
mod reassign;
mod reassign_json;
mod share;
mod share_groups;
pub mod stream;
mod topics;
mod transactions;
mod users;

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::args::{Cli, Command};
use crate::config::ClientSettings;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    if cli.global.zookeeper.is_some() {
        bail!(
            "--zookeeper is not supported: kwire talks to the brokers directly \
             (ZooKeeper access was removed from Kafka's tools in 3.0 and ZooKeeper from Kafka in 4.0); \
             use --bootstrap-server HOST:PORT, e.g. --bootstrap-server 127.0.0.1:9092"
        );
    }
    let settings = ClientSettings::from_global(&cli.global)?;
    let code = match cli.command {
        Command::Cluster(a) => cluster::run(&settings, a).await?,
        Command::Topics(a) => topics::run(&settings, a).await?,
        Command::Consume(a) => consume::run(&settings, a).await?,
        Command::Produce(a) => produce::run(&settings, a).await?,
        Command::Gen(a) => generate::run(&settings, a).await?,
        Command::Perf(a) => perf::run(&settings, a).await?,
        Command::Groups(a) => groups::run(&settings, a).await?,
        Command::Stream(a) => stream::run(&settings, a).await?,
        Command::Transactions(a) => transactions::run(&settings, a).await?,
        Command::Copy(a) => copy::run(&settings, a).await?,
        Command::Offsets(a) => offsets::run(&settings, a).await?,
        Command::DumpLog(a) => dump_log::run(a)?,
        Command::DeleteRecords(a) => delete_records::run(&settings, a).await?,
        Command::LogDirs(a) => log_dirs::run(&settings, a).await?,
        Command::Share(a) => share::run(&settings, a).await?,
        Command::Reassign(a) => reassign::run(&settings, a).await?,
        Command::ElectLeaders(a) => reassign::elect(&settings, a).await?,
        Command::Features(a) => reassign::features(&settings, a).await?,
        Command::Quorum(a) => reassign::quorum(&settings, a).await?,
        Command::ShareGroups(a) => share_groups::run(&settings, a, cli.global.verbose > 0).await?,
        Command::Acls(a) => acls::run(&settings, a).await?,
        Command::Configs(a) => configs::run(&settings, a).await?,
        Command::Users(a) => users::run(&settings, a).await?,
    };
    settings.warn_unused();
    Ok(code)
}
