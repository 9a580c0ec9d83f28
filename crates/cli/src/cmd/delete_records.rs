//! `kwire delete-records`: kafka-delete-records.sh. Reads Kafka's offset JSON
//! file, deletes each partition's records before its offset at the
//! partition's leader, and prints the new low watermarks as the Java tool
//! does. Any partition that failed makes the exit non-zero.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use kwire_meta::Cluster;
use kwire_proto::TopicPartition;
use serde_json::{Value, json};

use crate::args::delete_records::DeleteRecordsArgs;
use crate::args::format::Format;
use crate::config::ClientSettings;

pub async fn run(settings: &ClientSettings, args: DeleteRecordsArgs) -> Result<ExitCode> {
    let path = args.offset_json_file.display().to_string();
    let text = if path == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("cannot read the offset JSON from stdin")?;
        s
    } else {
        std::fs::read_to_string(&args.offset_json_file).with_context(|| format!("cannot read {path}"))?
    };
    let targets = parse_offsets(&text).with_context(|| path.clone())?;
    let cluster = Cluster::new(settings.cluster.clone());
    for t in targets.iter().map(|(tp, _)| tp.topic.as_str()).collect::<BTreeSet<_>>() {
        cluster.topic(t).await.map_err(|e| match e.code() {
            Some(kwire_proto::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => {
                anyhow::anyhow!("topic '{t}' does not exist")
            }
            _ => e.into(),
        })?;
    }
    let text = args.format == Format::Text;
    if text {
        println!("Executing records delete operation");
    }
    let results = cluster.delete_records(&targets).await?;
    let failed = results.values().filter(|r| r.is_err()).count();
    if text {
        println!("Records delete operation completed:");
        for (tp, r) in &results {
            match r {
                Ok(low) => println!("partition: {tp}\tlow_watermark: {low}"),
                Err(e) => println!("partition: {tp}\terror: {e}"),
            }
        }
    } else {
        let rows: Vec<Value> = results
            .iter()
            .map(|(tp, r)| match r {
                Ok(low) => json!({"topic": tp.topic, "partition": tp.partition, "low_watermark": low}),
                Err(e) => json!({"topic": tp.topic, "partition": tp.partition, "error": e.to_string()}),
            })
            .collect();
        println!("{}", json!({ "partitions": rows }));
    }
    if failed > 0 {
        bail!("records of {failed} of {} partitions could not be deleted (see above)", results.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// Kafka's offset JSON: `{"partitions":[{"topic":..,"partition":..,"offset":..}],"version":1}`.
fn parse_offsets(text: &str) -> Result<Vec<(TopicPartition, i64)>> {
    let doc: Value = serde_json::from_str(text).context("not valid JSON")?;
    if let Some(v) = doc.get("version") {
        if v.as_i64() != Some(1) {
            bail!("unsupported \"version\": {v} (only 1 exists)");
        }
    }
    let Some(parts) = doc.get("partitions").and_then(Value::as_array) else {
        bail!(
            "missing the \"partitions\" array: want {{\"partitions\":[{{\"topic\":\"t\",\"partition\":0,\"offset\":3}}],\"version\":1}}"
        );
    };
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, p) in parts.iter().enumerate() {
        let field = |k: &str| p.get(k).with_context(|| format!("partitions[{i}] has no \"{k}\""));
        let topic =
            field("topic")?.as_str().with_context(|| format!("partitions[{i}].topic is not a string"))?;
        let partition = field("partition")?
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n >= 0)
            .with_context(|| format!("partitions[{i}].partition is not a partition number"))?;
        let offset = field("offset")?.as_i64().filter(|o| *o >= -1).with_context(|| {
            format!("partitions[{i}].offset must be an offset (or -1 for the high watermark)")
        })?;
        let tp = TopicPartition::new(topic.to_owned(), partition);
        if !seen.insert(tp.clone()) {
            bail!("{tp} appears twice");
        }
        out.push((tp, offset));
    }
    if out.is_empty() {
        bail!("\"partitions\" is empty: nothing to delete");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_json_as_kafka_writes_it() {
        let got = parse_offsets(r#"{"partitions":[{"topic":"t","partition":0,"offset":3},{"topic":"u","partition":2,"offset":-1}],"version":1}"#).unwrap();
        assert_eq!(got, [(TopicPartition::new("t", 0), 3), (TopicPartition::new("u", 2), -1)]);
        let bad = [
            ("[]", "missing the \"partitions\""),
            ("{", "not valid JSON"),
            (r#"{"partitions":[],"version":1}"#, "empty"),
            (
                r#"{"partitions":[{"topic":"t","partition":0,"offset":3}],"version":2}"#,
                "unsupported \"version\"",
            ),
            (r#"{"partitions":[{"topic":"t","offset":3}]}"#, "no \"partition\""),
            (r#"{"partitions":[{"topic":"t","partition":-1,"offset":3}]}"#, "not a partition number"),
            (r#"{"partitions":[{"topic":"t","partition":0,"offset":-2}]}"#, "must be an offset"),
            (
                r#"{"partitions":[{"topic":"t","partition":0,"offset":1},{"topic":"t","partition":0,"offset":2}]}"#,
                "t-0 appears twice",
            ),
        ];
        for (text, want) in bad {
            let e = format!("{:#}", parse_offsets(text).unwrap_err());
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
