//! `kwire share consume`: kafka-console-share-consumer.sh on
//! [`kwire_group::share::ShareConsumer`].

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use kwire_group::share::{AckType, ShareConfig, ShareConsumer};
use kwire_meta::Cluster;

use crate::args::format::Format;
use crate::args::share::{ShareArgs, ShareCommand, ShareConsumeArgs};
use crate::cmd::printer::text_or_b64;
use crate::config::ClientSettings;
use crate::signal::Stop;

pub async fn run(settings: &ClientSettings, args: ShareArgs) -> Result<ExitCode> {
    match args.command {
        ShareCommand::Consume(a) => consume(settings, a).await,
    }
}

async fn consume(settings: &ClientSettings, a: ShareConsumeArgs) -> Result<ExitCode> {
    for f in &a.print {
        if !matches!(f.as_str(), "key" | "partition" | "offset" | "delivery-count") {
            bail!("unknown --print field '{f}': expected key, partition, offset or delivery-count");
        }
    }
    if a.max_messages == Some(0) {
        bail!("--max-messages must be at least 1");
    }
    let ack = if a.reject {
        AckType::Reject
    } else if a.release {
        AckType::Release
    } else {
        AckType::Accept
    };
    let cluster = Cluster::new(settings.cluster.clone());
    let cfg = ShareConfig::new(a.group.clone());
    let mut c =
        ShareConsumer::subscribe(cluster, cfg, vec![a.topic.clone()]).await.map_err(|e| anyhow!("{e}"))?;
    let mut stop = Stop::new();
    let mut total: u64 = 0;
    let mut last = Instant::now();
    let limit = a.max_messages.unwrap_or(u64::MAX);
    let idle = a.timeout_ms.map(Duration::from_millis);
    let mut out = std::io::stdout().lock();
    'outer: while total < limit {
        let recs = tokio::select! {
            _ = stop.requested() => break,
            r = c.poll(Duration::from_millis(500)) => r.map_err(|e| anyhow!("{e}"))?,
        };
        if recs.is_empty() {
            if idle.is_some_and(|t| last.elapsed() >= t) {
                break;
            }
            continue;
        }
        last = Instant::now();
        for (i, r) in recs.iter().enumerate() {
            if total >= limit {
                // Not shown: give the rest back for another member.
                for rest in &recs[i..] {
                    c.acknowledge(rest, AckType::Release);
                }
                break 'outer;
            }
            if a.format == Format::Json {
                let rec = &r.record;
                let v = serde_json::json!({
                    "topic": rec.topic.as_ref(), "partition": rec.partition, "offset": rec.offset,
                    "timestamp": rec.timestamp, "key": text_or_b64(rec.key.as_deref()),
                    "value": text_or_b64(rec.value.as_deref()), "delivery_count": r.delivery_count,
                });
                out.write_all(format!("{v}\n").as_bytes())?;
                if ack != AckType::Accept {
                    c.acknowledge(r, ack);
                }
                total += 1;
                continue;
            }
            let mut line = String::new();
            for f in &a.print {
                match f.as_str() {
                    "key" => line.push_str(r.record.key_str().unwrap_or("null")),
                    "partition" => line.push_str(&r.record.partition.to_string()),
                    "offset" => line.push_str(&r.record.offset.to_string()),
                    _ => line.push_str(&r.delivery_count.to_string()),
                }
                line.push('\t');
            }
            match r.record.value.as_deref() {
                Some(v) => line.push_str(&String::from_utf8_lossy(v)),
                None => line.push_str("null"),
            }
            line.push('\n');
            out.write_all(line.as_bytes())?;
            if ack != AckType::Accept {
                c.acknowledge(r, ack);
            }
            total += 1;
        }
        out.flush()?;
    }
    drop(out);
    let failures = c.close().await.map_err(|e| anyhow!("{e}"))?;
    for f in &failures {
        eprintln!("kwire: acknowledgement refused for {}: {}", f.tp, f.code);
    }
    eprintln!("Processed a total of {total} messages");
    Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
