//! `kwire log-dirs --describe`: kafka-log-dirs.sh. Prints the Java tool's two
//! progress lines and its JSON document (same keys, same order): per broker,
//! per log directory, the replicas with their size, offset lag and whether
//! they are future replicas.

use std::process::ExitCode;

use anyhow::Result;
use kwire_meta::Cluster;
use serde_json::to_string as js;

use crate::args::format::Format;
use crate::args::log_dirs::LogDirsArgs;
use crate::config::ClientSettings;

pub async fn run(settings: &ClientSettings, args: LogDirsArgs) -> Result<ExitCode> {
    let cluster = Cluster::new(settings.cluster.clone());
    let text = args.format == Format::Text;
    if text {
        println!("Querying brokers for log directories information");
    }
    let brokers = (!args.broker_list.is_empty()).then_some(&args.broker_list[..]);
    let dirs = cluster.describe_log_dirs(brokers).await?;
    let ids: Vec<String> = dirs.keys().map(ToString::to_string).collect();
    if text {
        println!("Received log directory information from brokers {}", ids.join(","));
    }
    let wanted = |t: &str| args.topic_list.is_empty() || args.topic_list.iter().any(|w| w == t);
    let mut failed = Vec::new();
    let mut out = String::from("{\"brokers\":[");
    let mut first_broker = true;
    for (id, r) in &dirs {
        let dirs = match r {
            Ok(d) => d,
            Err(e) => {
                failed.push(format!("broker {id}: {e}"));
                continue;
            }
        };
        if !first_broker {
            out.push(',');
        }
        first_broker = false;
        out.push_str(&format!("{{\"broker\":{id},\"logDirs\":["));
        for (i, d) in dirs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let parts: Vec<String> = d
                .replicas
                .iter()
                .filter(|r| wanted(&r.topic))
                .map(|r| {
                    format!(
                        "{{\"partition\":{},\"size\":{},\"offsetLag\":{},\"isFuture\":{}}}",
                        js(&format!("{}-{}", r.topic, r.partition)).unwrap_or_default(),
                        r.size,
                        r.offset_lag,
                        r.is_future
                    )
                })
                .collect();
            let error = if d.error_code.is_err() {
                js(&d.error_code.to_string()).unwrap_or_default()
            } else {
                "null".to_owned()
            };
            out.push_str(&format!(
                "{{\"partitions\":[{}],\"error\":{error},\"logDir\":{}}}",
                parts.join(","),
                js(&d.path).unwrap_or_default()
            ));
        }
        out.push_str("]}");
    }
    out.push_str("],\"version\":1}");
    println!("{out}");
    if !failed.is_empty() {
        anyhow::bail!("could not describe the log dirs of {}", failed.join("; "));
    }
    Ok(ExitCode::SUCCESS)
}
