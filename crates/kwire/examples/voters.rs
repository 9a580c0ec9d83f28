//! The guide's streaming aggregation through kwire-stream's library API:
//! JSON voters `{gender, age, party}` counted by gender and party.
//!
//! ```text
//! cargo run -p kwire --example voters -- [BOOTSTRAP] [TOPIC]
//! ```
//!
//! The same query as the guide's PySpark job —
//! `from_json(CAST(value AS STRING), schema)`, `groupBy("gender", "party").count()`,
//! complete output mode to the console — run over what TOPIC holds now
//! (from the earliest offsets, trigger `availableNow`), printing each batch
//! as Spark's console sink does. `kwire stream` runs the same driver.

use kwire::stream::driver::{StartingOffsets, StreamConfig, Subscription, run};
use kwire::stream::{OutputMode, QuerySpec, Trigger};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".to_owned());
    let topic = args.next().unwrap_or_else(|| "voters".to_owned());
    let client = kwire::Client::builder().bootstrap(&bootstrap).build()?;

    let query = QuerySpec {
        // value -> string -> struct, then its fields as columns.
        select: vec![
            vec!["from_json(CAST(value AS STRING), 'gender STRING, age LONG, party STRING') AS voter".into()],
            vec!["voter.*".into()],
        ],
        group_by: vec!["gender".into(), "party".into()],
        output_mode: OutputMode::Complete,
        ..QuerySpec::default()
    };
    let mut cfg = StreamConfig::new(Subscription::Topics(vec![topic]), query);
    cfg.starting_offsets = StartingOffsets::Earliest;
    cfg.trigger = Trigger::AvailableNow; // what is there now, then stop
    // cfg.sink = SinkSpec::parse("kafka:counts")?; // or jsonl:PATH

    let summary = run(client.cluster().clone(), cfg).await?;
    eprintln!("{} batches, {} records", summary.batches, summary.input_rows);
    Ok(())
}
