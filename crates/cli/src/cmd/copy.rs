//! `kwire copy`: the smallest consume-transform-produce, exactly once. A
//! member of a consumer group reads the source topics (read_committed) and
//! writes every record to the target topic in transactions; the group's
//! offsets go into the same transactions (KIP-447), so the copy and the
//! progress commit together or not at all. Whatever fails mid-transaction
//! (a rebalance that fenced this member, a broker error) aborts the
//! transaction and the member starts again from the committed offsets.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use kwire_fetch::{IsolationLevel, OffsetReset};
use kwire_group::{GroupConfig, GroupConsumer};
use kwire_meta::Cluster;
use kwire_produce::{ProduceError, Producer, ProducerConfig, ProducerRecord};
use kwire_proto::ErrorCode;
use tokio::time::Instant;

use super::groups::check_group_id;
use crate::args::copy::CopyArgs;
use crate::args::format::Format;
use crate::config::ClientSettings;

/// How a transaction ended.
enum Outcome {
    Committed(usize),
    /// Aborted; the member restarts from the committed offsets.
    Aborted(String),
}

pub async fn run(settings: &ClientSettings, a: CopyArgs) -> Result<ExitCode> {
    check_group_id(&a.group)?;
    if let Some(t) = a.from.iter().find(|t| **t == a.to) {
        bail!("--from {t} and --to {t}: a topic can't be copied into itself");
    }
    let cprops = settings.with_flag_props("--consumer-property", &a.consumer_properties)?;
    let mut gcfg = GroupConfig::new(a.group.clone());
    gcfg.apply_props(&cprops)?;
    if !cprops.contains("auto.offset.reset") {
        gcfg.auto_offset_reset = OffsetReset::Earliest;
    }
    // Only committed input is copied; offsets are committed by the transactions only.
    gcfg.fetch.isolation = IsolationLevel::ReadCommitted;
    gcfg.auto_commit = false;
    gcfg.validate().map_err(anyhow::Error::msg)?;
    settings.mark_used(&cprops);

    let mut pprops = settings.with_flag_props("--producer-property", &a.producer_properties)?;
    pprops.set("transactional.id", a.transactional_id.clone());
    let mut pcfg = ProducerConfig::default();
    pcfg.apply_props(&pprops)?;
    settings.mark_used(&pprops);

    let cluster = Cluster::new(settings.cluster.clone());
    for t in a.from.iter().chain(std::iter::once(&a.to)) {
        cluster.topic(t).await.map_err(|e| match e.code() {
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => anyhow!("topic '{t}' does not exist"),
            _ => e.into(),
        })?;
    }
    let producer = Producer::new(cluster.clone(), pcfg).await.context("transactional producer")?;
    let mut consumer = GroupConsumer::subscribe(cluster.clone(), gcfg.clone(), a.from.clone())?;
    let mut stop = crate::signal::Stop::new();
    let (mut copied, mut transactions, mut aborted) = (0u64, 0u64, 0u64);
    let mut last_record = Instant::now();
    let idle = a.timeout_ms.map(Duration::from_millis);
    loop {
        // Gather up to a transaction's worth of records.
        let deadline = Instant::now() + Duration::from_millis(a.transaction_ms);
        let mut recs = Vec::new();
        let mut stopping = false;
        while (recs.len() as u64) < a.transaction_size {
            tokio::select! {
                r = consumer.poll() => recs.extend(r?),
                _ = tokio::time::sleep_until(deadline) => break,
                _ = stop.requested() => { stopping = true; break }
            }
        }
        if recs.is_empty() {
            if stopping || idle.is_some_and(|d| last_record.elapsed() >= d) {
                break;
            }
            continue;
        }
        last_record = Instant::now();
        match transaction(&producer, &mut consumer, &a.to, recs).await? {
            Outcome::Committed(n) => {
                copied += n as u64;
                transactions += 1;
            }
            Outcome::Aborted(why) => {
                aborted += 1;
                tracing::warn!(reason = %why, "transaction aborted; restarting from the committed offsets");
                let old = std::mem::replace(
                    &mut consumer,
                    GroupConsumer::subscribe(cluster.clone(), gcfg.clone(), a.from.clone())?,
                );
                // Leave without committing anything (auto-commit is off).
                let _ = old.close().await;
            }
        }
        if stopping {
            break;
        }
    }
    let _ = consumer.close().await;
    producer.close().await?;
    if a.format == Format::Json {
        println!(
            "{}",
            serde_json::json!({"copied": copied, "transactions": transactions, "aborted": aborted})
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "kwire: copied {copied} record{} in {transactions} transaction{}{}",
        if copied == 1 { "" } else { "s" },
        if transactions == 1 { "" } else { "s" },
        if aborted > 0 { format!(" ({aborted} aborted and retried)") } else { String::new() }
    );
    Ok(ExitCode::SUCCESS)
}

/// One transaction: the records to `to`, the group's offsets for them, commit.
async fn transaction(
    producer: &Producer,
    consumer: &mut GroupConsumer,
    to: &str,
    recs: Vec<kwire_fetch::ConsumerRecord>,
) -> Result<Outcome> {
    producer.begin_transaction()?;
    let n = recs.len();
    let result = async {
        for r in &recs {
            let rec = ProducerRecord {
                topic: to,
                partition: None,
                key: r.key.as_deref(),
                value: r.value.as_deref(),
                headers: &r.headers,
                timestamp: Some(r.timestamp),
            };
            producer.send(rec).await?;
        }
        let offsets = consumer.take_uncommitted();
        let group =
            consumer.group_metadata().await.map_err(|e| ProduceError::TransactionAbortable(e.to_string()))?;
        producer.send_offsets_to_transaction(offsets, &group).await?;
        producer.commit_transaction().await
    }
    .await;
    match result {
        Ok(()) => Ok(Outcome::Committed(n)),
        Err(e @ (ProduceError::Fenced { .. } | ProduceError::TransactionFatal(_))) => Err(anyhow!(e)
            .context("another copier with the same --transactional-id took over, or the producer failed")),
        Err(e) => {
            producer.abort_transaction().await.context(format!("aborting after: {e}"))?;
            Ok(Outcome::Aborted(e.to_string()))
        }
    }
}
