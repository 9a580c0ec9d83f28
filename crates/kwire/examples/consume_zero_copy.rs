//! Read a topic from the beginning to its current end with the zero-copy
//! fetcher: the fast path under `examples/consume.rs`'s owned records.
//!
//! ```text
//! cargo run -p kwire --example consume_zero_copy -- [BOOTSTRAP] [TOPIC]
//! ```
//!
//! Finds the topic's partitions, asks each for its end offset (ListOffsets),
//! fetches every partition from the earliest offset with the zero-copy
//! fetcher until each reached that end, and prints a summary per partition.
//! Records are borrowed from the fetched buffer one at a time
//! (`for_each_record`): nothing is allocated per record.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use kwire::fetch::{FetchEvent, IsolationLevel, OffsetSpec, StartOffset, TopicPartition, list_offsets};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".to_owned());
    let topic = args.next().unwrap_or_else(|| "voters".to_owned());

    let client = kwire::Client::builder().bootstrap(&bootstrap).build()?;
    let metadata = client.cluster().fetch_metadata(Some(std::slice::from_ref(&topic))).await?;
    let Some(t) = metadata.topics.get(&topic) else {
        return Err(format!("topic '{topic}' does not exist").into());
    };
    let partitions: Vec<TopicPartition> =
        t.partitions.iter().map(|p| TopicPartition::new(topic.as_str(), p.partition)).collect();

    // Where "now" ends, per partition.
    let ends =
        list_offsets(client.cluster(), &partitions, OffsetSpec::Latest, IsolationLevel::ReadUncommitted)
            .await?;
    let ends: BTreeMap<i32, i64> = ends.iter().map(|(tp, a)| (tp.partition, a.offset)).collect();
    // Per partition: records read, and the next position (control records
    // and compaction gaps count: the position, not the record count, says
    // when a partition is done).
    let mut read: BTreeMap<i32, (u64, i64)> = BTreeMap::new();
    let mut failed: Vec<i32> = Vec::new();
    let done = |read: &BTreeMap<i32, (u64, i64)>, failed: &[i32], p: i32, end: i64| {
        failed.contains(&p) || end <= 0 || read.get(&p).is_some_and(|r| r.1 >= end)
    };

    let mut fetcher = client.fetcher()?;
    fetcher.assign(partitions.iter().map(|tp| (tp.clone(), StartOffset::Earliest)).collect())?;
    while !ends.iter().all(|(p, end)| done(&read, &failed, *p, *end)) {
        let Some(event) = fetcher.next().await else { break };
        match event {
            FetchEvent::Records(chunk) => {
                let p = chunk.tp.partition;
                let end = ends.get(&p).copied().unwrap_or(0);
                let entry = read.entry(p).or_default();
                chunk.for_each_record(|_batch, rec| {
                    if rec.offset >= end {
                        return ControlFlow::Break(());
                    }
                    entry.0 += 1;
                    ControlFlow::Continue(())
                })?;
                entry.1 = entry.1.max(chunk.next_offset);
            }
            FetchEvent::Reset { tp, from, to } => eprintln!("{tp}: position reset from {from} to {to}"),
            FetchEvent::Error { tp, error } => {
                eprintln!("{tp}: {error}");
                failed.push(tp.partition);
            }
        }
    }
    let mut total = 0;
    for (p, end) in &ends {
        let n = read.get(p).map_or(0, |r| r.0);
        total += n;
        println!("partition {p}: {n} records (end offset {end})");
    }
    println!("{total} records read");
    Ok(())
}
