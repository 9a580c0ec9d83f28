//! Arguments of `kwire users`: SCRAM users (list, describe, create, delete).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::format::Format;

/// `kwire users`.
#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    pub cmd: UsersCmd,
}

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// List the users that have SCRAM credentials
    List(UsersListArgs),
    /// Show users' SCRAM mechanisms and iteration counts
    Describe(UsersDescribeArgs),
    /// Create a SCRAM user (or replace its credential for the mechanism)
    Create(UsersCreateArgs),
    /// Delete a SCRAM user's credentials
    Delete(UsersDeleteArgs),
}

#[derive(Debug, Args)]
pub struct UsersListArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct UsersDescribeArgs {
    /// Users [default: all]
    #[arg(value_name = "USER")]
    pub users: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct UsersCreateArgs {
    /// User name
    #[arg(value_name = "USER")]
    pub user: String,
    /// SCRAM-SHA-256 or SCRAM-SHA-512
    #[arg(long, default_value = "SCRAM-SHA-512")]
    pub mechanism: String,
    /// PBKDF2 iterations (4096..=16384)
    #[arg(long, default_value_t = 8192, allow_negative_numbers = true)]
    pub iterations: i32,
    /// File holding the password (its first line)
    #[arg(long, value_name = "FILE", conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    /// The password (visible in shell history and `ps`: prefer --password-file)
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct UsersDeleteArgs {
    /// User name
    #[arg(value_name = "USER")]
    pub user: String,
    /// Only this mechanism's credential [default: all the user has]
    #[arg(long)]
    pub mechanism: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
