//! Read a topic as owned records, from the earliest offset, the latest, a
//! timestamp or an offset.
//!
//! ```text
//! cargo run -p kwire --example consume -- [BOOTSTRAP] [TOPIC] [START] [MAX]
//! ```
//!
//! START is `earliest` (the default), `latest`, `timestamp=MS` (the first
//! record at or after MS milliseconds since the epoch) or `offset=N`. Every
//! partition of TOPIC is read from START and each record printed as
//! `partition@offset key=value`. Without MAX the example stops at the end
//! offsets the partitions had when it started; with MAX, once MAX records
//! came (with `latest`, that means waiting for new ones).

use std::collections::BTreeMap;
use std::io::Write;

use kwire::fetch::StartOffset;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".to_owned());
    let topic = args.next().unwrap_or_else(|| "voters".to_owned());
    let start = parse_start(&args.next().unwrap_or_else(|| "earliest".to_owned()))?;
    let max: Option<usize> = args.next().map(|s| s.parse()).transpose()?;

    let client = kwire::Client::builder().bootstrap(&bootstrap).build()?;
    // Fetcher settings by Kafka's names (`.property("max.poll.records", "100")`)
    // or typed: `client.consumer_with(FetchConfig::builder()...build()?)`.
    let mut consumer = client.consumer()?;
    let partitions = consumer.assign_topics(&[&topic], start).await?;
    // Start offsets are looked up when assigning: the positions are known now.
    let at: Vec<String> = partitions
        .iter()
        .map(|tp| format!("{}@{}", tp.partition, consumer.position(tp).unwrap_or(-1)))
        .collect();
    println!("reading {topic} from {}", at.join(" "));
    std::io::stdout().flush()?;

    let ends = consumer.end_offsets().await?;
    let mut read: BTreeMap<i32, usize> = BTreeMap::new();
    let mut total = 0;
    let done = |total: usize| max.is_some_and(|m| total >= m);
    while !done(total) && (max.is_some() || !consumer.reached(&ends)) {
        // Owned records (key, value and headers share the fetched buffer):
        // keep them, send them to another task, batch them up.
        for rec in consumer.poll().await? {
            if done(total) {
                break;
            }
            let key = rec.key_str().unwrap_or("");
            let value = rec.value_str().unwrap_or("<binary>");
            println!("{}@{} {key}={value}", rec.partition, rec.offset);
            *read.entry(rec.partition).or_default() += 1;
            total += 1;
        }
    }
    for tp in &partitions {
        let n = read.get(&tp.partition).copied().unwrap_or(0);
        println!("partition {}: {n} records", tp.partition);
    }
    println!("{total} records read");
    Ok(())
}

fn parse_start(s: &str) -> Result<StartOffset, String> {
    let number = |v: &str| v.parse::<i64>().map_err(|_| format!("'{s}': expected a number after '='"));
    match s.split_once('=') {
        None if s == "earliest" => Ok(StartOffset::Earliest),
        None if s == "latest" => Ok(StartOffset::Latest),
        Some(("timestamp", ms)) => Ok(StartOffset::Timestamp(number(ms)?)),
        Some(("offset", n)) => Ok(StartOffset::Offset(number(n)?)),
        _ => Err(format!("invalid START '{s}': expected earliest, latest, timestamp=MS or offset=N")),
    }
}
