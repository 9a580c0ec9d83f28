//! Produce records with delivery reports.
//!
//! ```text
//! cargo run -p kwire --example produce -- [BOOTSTRAP] [TOPIC] [COUNT]
//! ```
//!
//! Sends one record and waits for it (the simple way), then COUNT keyed
//! records pipelined (the fast way: many in flight, each with its own
//! report), and prints where they went. The topic must exist
//! (`kwire topics create TOPIC`).

use std::time::Duration;

use kwire::produce::{Acks, ProducerConfig, ProducerRecord};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".to_owned());
    let topic = args.next().unwrap_or_else(|| "voters".to_owned());
    let count: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);

    let client = kwire::Client::builder().bootstrap(&bootstrap).build()?;
    // Typed settings (or Kafka's names: `Client::builder().property("linger.ms", "10")`).
    let cfg = ProducerConfig::builder().acks(Acks::All).linger(Duration::from_millis(10)).build()?;
    let producer = client.producer_with(cfg).await?;

    // One record, one await.
    let first = producer.send_and_wait(ProducerRecord::new(&topic, b"hello").key(b"greeting")).await?;
    println!("first record: partition {} offset {}", first.partition, first.offset);

    // Pipelined: `send` returns once the record is in a batch.
    let mut pending = Vec::with_capacity(count);
    for i in 0..count {
        let key = format!("voter-{}", i % 100);
        let value =
            format!(r#"{{"gender":"{}","age":{},"party":"p{}"}}"#, ["F", "M"][i % 2], 18 + i % 60, i % 3);
        pending.push(producer.send(ProducerRecord::new(&topic, value.as_bytes()).key(key.as_bytes())).await?);
    }
    let (mut acknowledged, mut failed) = (0, 0);
    for report in pending {
        match report.wait().await {
            Ok(_) => acknowledged += 1,
            Err(e) => {
                failed += 1;
                eprintln!("failed: {e} (may have been written anyway: {})", e.maybe_written());
            }
        }
    }
    producer.close().await?;
    println!("{acknowledged} acknowledged, {failed} failed");
    Ok(())
}
