//! `kwire cluster`: cluster id, controller, brokers, negotiated API versions.

use std::process::ExitCode;

use anyhow::Result;
use kwire_meta::Cluster;
use kwire_proto::api::{KWIRE_VERSIONS, api_name};
use serde_json::json;

use crate::args::cluster::ClusterArgs;
use crate::args::format::Format;
use crate::config::ClientSettings;
use crate::output::table;

pub async fn run(settings: &ClientSettings, args: ClusterArgs) -> Result<ExitCode> {
    let cluster = Cluster::new(settings.cluster.clone());
    let md = cluster.fetch_metadata(Some(&[])).await?;

    // Per broker: its ApiVersions answer and the version kwire negotiated.
    let mut versions = Vec::new();
    if args.api_versions {
        for b in md.brokers.values() {
            let conn = cluster.broker(b.id).await?;
            let mut rows = Vec::new();
            for api in &conn.api_versions().apis {
                let ours = KWIRE_VERSIONS.iter().find(|(k, _)| *k as i16 == api.api_key);
                let used = ours.and_then(|(k, _)| conn.version(*k).ok());
                rows.push((api.api_key, api.min, api.max, ours.map(|(_, v)| *v), used));
            }
            versions.push((b.id, rows));
        }
    }

    match args.format {
        Format::Json => {
            let brokers: Vec<_> = md
                .brokers
                .values()
                .map(|b| {
                    let mut o = json!({"id": b.id, "host": b.host, "port": b.port, "rack": b.rack});
                    if let Some((_, rows)) = versions.iter().find(|(id, _)| *id == b.id) {
                        o["api_versions"] = rows
                            .iter()
                            .map(|(key, min, max, ours, used)| {
                                json!({
                                    "api": api_name(*key), "key": key,
                                    "broker_min": min, "broker_max": max,
                                    "kwire_min": ours.map(|v| v.min), "kwire_max": ours.map(|v| v.max),
                                    "used": used,
                                })
                            })
                            .collect();
                    }
                    o
                })
                .collect();
            let doc = json!({
                "cluster_id": md.cluster_id,
                "controller_id": md.controller_id,
                "brokers": brokers,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Text => {
            println!("Cluster id: {}", md.cluster_id.as_deref().unwrap_or("(none)"));
            println!("Controller: {}", md.controller_id);
            println!("Brokers:    {}", md.brokers.len());
            let rows: Vec<Vec<String>> = md
                .brokers
                .values()
                .map(|b| {
                    vec![
                        b.id.to_string(),
                        b.host.clone(),
                        b.port.to_string(),
                        b.rack.clone().unwrap_or_else(|| "-".to_owned()),
                    ]
                })
                .collect();
            println!();
            print!("{}", table(&["ID", "HOST", "PORT", "RACK"], &rows));
            for (id, rows) in &versions {
                println!();
                println!("Broker {id} API versions:");
                let rows: Vec<Vec<String>> = rows
                    .iter()
                    .map(|(key, min, max, ours, used)| {
                        vec![
                            api_name(*key),
                            key.to_string(),
                            format!("{min}-{max}"),
                            ours.map_or("-".to_owned(), |v| format!("{}-{}", v.min, v.max)),
                            used.map_or("-".to_owned(), |v| v.to_string()),
                        ]
                    })
                    .collect();
                print!("{}", table(&["API", "KEY", "BROKER", "KWIRE", "USING"], &rows));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
