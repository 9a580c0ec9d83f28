//! `kwire users`: SCRAM users without kafka-configs.sh's syntax. Passwords are
//! read from a file (or, with a warning, the command line), salted and hashed
//! client-side, and never printed.

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use kwire_meta::Cluster;
use kwire_meta::scram_users::{ScramChange, ScramMechanism, ScramUser, validate_iterations};
use serde_json::json;

use crate::args::format::Format;
use crate::args::users::{UsersArgs, UsersCmd};
use crate::config::ClientSettings;

pub async fn run(settings: &ClientSettings, args: UsersArgs) -> Result<ExitCode> {
    let cluster = Cluster::new(settings.cluster.clone());
    match args.cmd {
        UsersCmd::List(a) => {
            let users = cluster.describe_scram_users(None).await?;
            match a.format {
                Format::Text => users.iter().for_each(|u| println!("{}", u.user)),
                Format::Json => {
                    let names: Vec<&str> = users.iter().map(|u| u.user.as_str()).collect();
                    println!("{}", serde_json::to_string_pretty(&names)?);
                }
            }
        }
        UsersCmd::Describe(a) => {
            let all = cluster.describe_scram_users(None).await?;
            for u in &a.users {
                if !all.iter().any(|x| &x.user == u) {
                    bail!("user '{u}' has no SCRAM credentials");
                }
            }
            let shown: Vec<&ScramUser> =
                all.iter().filter(|u| a.users.is_empty() || a.users.contains(&u.user)).collect();
            match a.format {
                Format::Text => {
                    for u in shown {
                        let c: Vec<String> = u
                            .credentials
                            .iter()
                            .map(|(m, i)| format!("{}=iterations={i}", m.name()))
                            .collect();
                        println!("{} {}", u.user, c.join(" "));
                    }
                }
                Format::Json => {
                    let doc: Vec<_> = shown
                        .iter()
                        .map(|u| {
                            json!({"user": u.user, "credentials": u.credentials.iter()
                                .map(|(m, i)| json!({"mechanism": m.name(), "iterations": i}))
                                .collect::<Vec<_>>()})
                        })
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&doc)?);
                }
            }
        }
        UsersCmd::Create(a) => {
            let mechanism = mechanism(&a.mechanism)?;
            validate_iterations(a.iterations)?;
            let password = match (&a.password_file, a.password) {
                (Some(f), _) => {
                    let text =
                        std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
                    text.lines().next().unwrap_or_default().to_owned()
                }
                (None, Some(p)) => {
                    eprintln!(
                        "kwire: warning: a password on the command line is visible in shell history and \
                         to other users (ps); prefer --password-file"
                    );
                    p
                }
                (None, None) => bail!("give the password with --password-file FILE (or --password)"),
            };
            if password.is_empty() {
                bail!("the password is empty");
            }
            let change =
                ScramChange::Upsert { user: a.user.clone(), mechanism, iterations: a.iterations, password };
            cluster.alter_scram_users(&[change]).await?;
            match a.format {
                Format::Text => {
                    println!(
                        "Created SCRAM user {} ({}, {} iterations).",
                        a.user,
                        mechanism.name(),
                        a.iterations
                    )
                }
                Format::Json => println!(
                    "{}",
                    serde_json::json!({"created": a.user, "mechanism": mechanism.name(), "iterations": a.iterations})
                ),
            }
        }
        UsersCmd::Delete(a) => {
            let mechanisms: Vec<ScramMechanism> = match &a.mechanism {
                Some(m) => vec![mechanism(m)?],
                None => {
                    let all = cluster.describe_scram_users(None).await?;
                    let u = all
                        .into_iter()
                        .find(|u| u.user == a.user)
                        .ok_or_else(|| anyhow!("user '{}' has no SCRAM credentials", a.user))?;
                    u.credentials.into_iter().map(|(m, _)| m).collect()
                }
            };
            let changes: Vec<ScramChange> = mechanisms
                .iter()
                .map(|&m| ScramChange::Delete { user: a.user.clone(), mechanism: m })
                .collect();
            cluster.alter_scram_users(&changes).await?;
            let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
            match a.format {
                Format::Text => println!("Deleted SCRAM user {} ({}).", a.user, names.join(", ")),
                Format::Json => println!("{}", serde_json::json!({"deleted": a.user, "mechanisms": names})),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn mechanism(s: &str) -> Result<ScramMechanism> {
    ScramMechanism::parse(s)
        .ok_or_else(|| anyhow!("unknown mechanism '{s}': expected SCRAM-SHA-256 or SCRAM-SHA-512"))
}
