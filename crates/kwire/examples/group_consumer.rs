//! A consumer group member that commits what it processed.
//!
//! ```text
//! cargo run -p kwire --example group_consumer -- [BOOTSTRAP] [TOPIC] [GROUP] [MAX]
//! ```
//!
//! Joins GROUP (subscribed to TOPIC; partitions without a committed offset
//! start from the earliest), prints each record as `partition@offset value`,
//! and marks it processed. It stops after MAX records, or once no record came
//! for 3 seconds, then commits exactly the records it printed and leaves
//! the group. Run it twice: the second run starts where the first committed.

use std::time::Duration;

use kwire::fetch::OffsetReset;
use kwire::group::GroupConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".to_owned());
    let topic = args.next().unwrap_or_else(|| "voters".to_owned());
    let group = args.next().unwrap_or_else(|| "voters-app".to_owned());
    let max: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(usize::MAX);

    let client = kwire::Client::builder().bootstrap(&bootstrap).build()?;
    // Typed settings; the same by Kafka's names would be
    // `.property("auto.offset.reset", "earliest").property("enable.auto.commit", "false")`
    // on the client builder, then `client.group_consumer(&group, &[&topic])`.
    let cfg = GroupConfig::builder(group.as_str())
        .auto_offset_reset(OffsetReset::Earliest)
        .auto_commit(false)
        .auto_offset_store(false) // commit only what is marked processed
        .build()?;
    let mut consumer = client.group_consumer_with(cfg, &[&topic])?;

    let idle = Duration::from_secs(3);
    let mut waited = Duration::ZERO;
    let mut processed = 0;
    'polling: while processed < max {
        let records = match tokio::time::timeout(idle, consumer.poll()).await {
            Ok(records) => records?,
            // Joining the group can take a while; stop only once idle with partitions.
            Err(_) if consumer.assignment().is_empty() && waited < Duration::from_secs(60) => {
                waited += idle;
                continue;
            }
            Err(_) => break,
        };
        for rec in records {
            if processed == max {
                break 'polling;
            }
            println!("{}@{} {}", rec.partition, rec.offset, rec.value_str().unwrap_or("<binary>"));
            // Processed: a commit covers everything up to and including it.
            consumer.mark_processed(&rec.topic_partition(), rec.offset + 1);
            processed += 1;
        }
    }
    consumer.commit().await?;
    let committed: Vec<String> = consumer
        .assignment()
        .iter()
        .filter_map(|tp| consumer.processed(tp).map(|o| format!("{}@{o}", tp.partition)))
        .collect();
    println!("{processed} records processed; committed {}", committed.join(" "));
    consumer.close().await?;
    Ok(())
}
