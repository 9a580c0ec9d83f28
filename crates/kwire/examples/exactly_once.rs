//! Consume-transform-produce, exactly once.
//!
//! ```text
//! cargo run -p kwire --example exactly_once -- [BOOTSTRAP] [FROM] [TO] [GROUP] [TRANSACTIONAL_ID]
//! ```
//!
//! A member of GROUP reads FROM (only committed records) and writes each
//! record to TO with its value upper-cased, in one transaction per poll; the
//! group's offsets for what it read go into the same transaction
//! (`send_offsets_to_transaction`), so the output and the progress commit
//! together or not at all. Kill it anywhere and run it again: a
//! `read_committed` reader of TO sees every input record once. A second
//! instance with the same TRANSACTIONAL_ID fences the first. It stops once
//! no record came for 3 seconds.

use std::time::Duration;

use kwire::fetch::{FetchConfig, IsolationLevel, OffsetReset};
use kwire::group::GroupConfig;
use kwire::produce::{ProduceError, ProducerConfig, ProducerRecord};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut arg = |default: &str| args.next().unwrap_or_else(|| default.to_owned());
    let (bootstrap, from, to) = (arg("127.0.0.1:9092"), arg("voters"), arg("voters-upper"));
    let (group, transactional_id) = (arg("voters-upper-app"), arg("voters-upper-app-1"));

    let client = kwire::Client::builder().bootstrap(&bootstrap).build()?;
    // Creating it finds the transaction coordinator and fences any older
    // producer with this id (whatever it left open is aborted).
    let producer =
        client.producer_with(ProducerConfig::builder().transactional_id(&transactional_id).build()?).await?;
    let cfg = GroupConfig::builder(group.as_str())
        .auto_offset_reset(OffsetReset::Earliest)
        .auto_commit(false) // offsets are committed by the transactions
        .fetch(FetchConfig::builder().isolation(IsolationLevel::ReadCommitted).build()?)
        .build()?;
    let mut consumer = client.group_consumer_with(cfg, &[&from])?;

    let idle = Duration::from_secs(3);
    let mut waited = Duration::ZERO;
    let (mut copied, mut transactions) = (0, 0);
    loop {
        let records = match tokio::time::timeout(idle, consumer.poll()).await {
            Ok(records) => records?,
            // Joining the group can take a while; stop only once idle with partitions.
            Err(_) if consumer.assignment().is_empty() && waited < Duration::from_secs(60) => {
                waited += idle;
                continue;
            }
            Err(_) => break,
        };
        if records.is_empty() {
            continue;
        }
        producer.begin_transaction()?;
        let result = async {
            for rec in &records {
                let upper = rec.value.as_deref().unwrap_or_default().to_ascii_uppercase();
                let mut out = ProducerRecord::new(&to, &upper);
                if let Some(key) = rec.key.as_deref() {
                    out = out.key(key);
                }
                producer.send(out).await?;
            }
            // What this poll returned, as the group's next offsets.
            let offsets = consumer.take_uncommitted();
            let member = consumer
                .group_metadata()
                .await
                .map_err(|e| ProduceError::TransactionAbortable(e.to_string()))?;
            producer.send_offsets_to_transaction(offsets, &member).await?;
            producer.commit_transaction().await
        }
        .await;
        match result {
            Ok(()) => {
                copied += records.len();
                transactions += 1;
            }
            // Another instance took over, or the producer can't go on.
            Err(e @ (ProduceError::Fenced { .. } | ProduceError::TransactionFatal(_))) => {
                return Err(e.into());
            }
            // A rebalance or a failed record: nothing of it is visible. A
            // real application would rejoin and resume from the committed
            // offsets; this one stops.
            Err(e) => {
                producer.abort_transaction().await?;
                return Err(format!("transaction aborted: {e}").into());
            }
        }
    }
    println!("copied {copied} records in {transactions} transactions");
    consumer.close().await?;
    producer.close().await?;
    Ok(())
}
