//! `kwire offsets`: kafka-get-offsets.sh, natively. Prints `topic:partition:offset`
//! lines sorted by topic and partition, leaving out partitions that have no
//! such offset (a time after the last record, no tiered storage), as the Java
//! tool does.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use kwire_fetch::{IsolationLevel, OffsetQuery, TopicPartition, query_offsets};
use kwire_meta::Cluster;
use regex::Regex;
use serde_json::json;

use crate::args::format::Format;
use crate::args::offsets::OffsetsArgs;
use crate::config::ClientSettings;

pub async fn run(settings: &ClientSettings, args: OffsetsArgs) -> Result<ExitCode> {
    let query = parse_time(&args.time)?;
    let filters = match &args.topic_partitions {
        Some(s) => parse_topic_partitions(s)?,
        None => {
            let topic = match &args.topic {
                Some(t) => Some(full_match(t)?),
                None => None,
            };
            let parts = match &args.partitions {
                Some(p) => Some(parse_partition_list(p)?),
                None => None,
            };
            vec![Filter {
                topic,
                partitions: match parts {
                    Some(list) => PartitionFilter::List(list),
                    None => PartitionFilter::Range(0, i32::MAX),
                },
            }]
        }
    };
    let cluster = Cluster::new(settings.cluster.clone());
    let md = cluster.fetch_metadata(None).await?;
    let mut tps = BTreeSet::new();
    for t in md.topics.values() {
        if args.exclude_internal && t.internal {
            continue;
        }
        for p in &t.partitions {
            if filters.iter().any(|f| f.matches(&t.name, p.partition)) {
                tps.insert(TopicPartition::new(t.name.clone(), p.partition));
            }
        }
    }
    if tps.is_empty() {
        bail!("could not match any topic-partitions with the specified filters");
    }
    let tps: Vec<TopicPartition> = tps.into_iter().collect();
    let answers = query_offsets(&cluster, &tps, query, IsolationLevel::ReadUncommitted).await?;
    let found = answers.iter().filter(|(_, a)| a.offset >= 0);
    match args.format {
        Format::Text => {
            for (tp, a) in found {
                println!("{}:{}:{}", tp.topic, tp.partition, a.offset);
            }
        }
        Format::Json => {
            let rows: Vec<_> = found
                .map(|(tp, a)| {
                    json!({"topic": tp.topic, "partition": tp.partition, "offset": a.offset,
                           "timestamp": a.timestamp, "leader_epoch": a.leader_epoch})
                })
                .collect();
            println!("{}", json!({"time": query.name(), "offsets": rows}));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--time`: Kafka's names and sentinels, or a timestamp in ms.
fn parse_time(s: &str) -> Result<OffsetQuery> {
    Ok(match s.trim() {
        "-1" | "latest" => OffsetQuery::Latest,
        "-2" | "earliest" => OffsetQuery::Earliest,
        "-3" | "max-timestamp" => OffsetQuery::MaxTimestamp,
        "-4" | "earliest-local" => OffsetQuery::EarliestLocal,
        "-5" | "latest-tiered" => OffsetQuery::LatestTiered,
        "-6" | "earliest-pending-upload" => bail!(
            "--time {s} (earliest-pending-upload) needs ListOffsets v11, which kwire does not speak yet \
             (it speaks up to v10)"
        ),
        t => match t.parse::<i64>() {
            Ok(ms) if ms >= 0 => OffsetQuery::Timestamp(ms),
            _ => bail!(
                "malformed --time {s:?}: use -1 or latest / -2 or earliest / -3 or max-timestamp / \
                 -4 or earliest-local / -5 or latest-tiered, or a timestamp in ms since the epoch"
            ),
        },
    })
}

/// A topic regex that must match the whole name, as Kafka's include lists do.
fn full_match(re: &str) -> Result<Regex> {
    Regex::new(&format!("^(?:{re})$"))
        .with_context(|| format!("--topic {re:?} is not a valid regular expression"))
}

#[derive(Debug)]
enum PartitionFilter {
    List(Vec<i32>),
    /// Lower inclusive, upper exclusive.
    Range(i32, i32),
}

#[derive(Debug)]
struct Filter {
    /// `None`: any topic.
    topic: Option<Regex>,
    partitions: PartitionFilter,
}

impl Filter {
    fn matches(&self, topic: &str, partition: i32) -> bool {
        self.topic.as_ref().is_none_or(|re| re.is_match(topic))
            && match &self.partitions {
                PartitionFilter::List(l) => l.contains(&partition),
                PartitionFilter::Range(lo, hi) => *lo <= partition && partition < *hi,
            }
    }
}

fn parse_partition_list(s: &str) -> Result<Vec<i32>> {
    s.split(',')
        .map(|p| {
            p.trim().parse::<i32>().ok().filter(|n| *n >= 0).with_context(|| {
                format!("--partitions expects a comma-separated list of partition ids, got {s:?}")
            })
        })
        .collect()
}

/// `--topic-partitions`: `TOPIC-REGEX[:N|N-M|N-|-M]` patterns, comma-separated.
fn parse_topic_partitions(s: &str) -> Result<Vec<Filter>> {
    let bad = || {
        format!(
            "invalid --topic-partitions {s:?}: expected TOPIC-REGEX[:PARTITIONS] patterns separated by commas, \
             PARTITIONS being N, N-M (M exclusive), N- or -M"
        )
    };
    let num = |t: &str, default: i32| -> Result<i32> {
        if t.is_empty() { Ok(default) } else { t.parse::<i32>().ok().filter(|n| *n >= 0).with_context(bad) }
    };
    let mut out = Vec::new();
    for pat in s.split(',') {
        let (topic, parts) = match pat.split_once(':') {
            Some((t, p)) => (t, Some(p)),
            None => (pat, None),
        };
        let topic = if topic.is_empty() { None } else { Some(full_match(topic)?) };
        let partitions = match parts {
            None | Some("") => PartitionFilter::Range(0, i32::MAX),
            Some(p) => match p.split_once('-') {
                Some((lo, hi)) if !(lo.is_empty() && hi.is_empty()) => {
                    PartitionFilter::Range(num(lo, 0)?, num(hi, i32::MAX)?)
                }
                Some(_) => bail!(bad()),
                None => PartitionFilter::List(vec![
                    num(p, 0).and_then(|n| if p.is_empty() { bail!(bad()) } else { Ok(n) })?,
                ]),
            },
        };
        out.push(Filter { topic, partitions });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_kafka() {
        assert_eq!(parse_time("-1").unwrap(), OffsetQuery::Latest);
        assert_eq!(parse_time("earliest").unwrap(), OffsetQuery::Earliest);
        assert_eq!(parse_time("-3").unwrap(), OffsetQuery::MaxTimestamp);
        assert_eq!(parse_time("earliest-local").unwrap(), OffsetQuery::EarliestLocal);
        assert_eq!(parse_time("-5").unwrap(), OffsetQuery::LatestTiered);
        assert_eq!(parse_time("1700000000000").unwrap(), OffsetQuery::Timestamp(1_700_000_000_000));
        for bad in ["foo", "-7", "", "1.5"] {
            let e = parse_time(bad).unwrap_err().to_string();
            assert!(e.contains("malformed --time"), "{e}");
        }
        assert!(parse_time("-6").unwrap_err().to_string().contains("v11"));
    }

    #[test]
    fn topic_partition_patterns() {
        let f = parse_topic_partitions("t.*:1-3,u:-1,v:2-,w:5,x").unwrap();
        let m = |t: &str, p: i32| f.iter().any(|f| f.matches(t, p));
        assert!(m("t1", 1) && m("t1", 2) && !m("t1", 3) && !m("t1", 0));
        assert!(m("u", 0) && !m("u", 1));
        assert!(m("v", 2) && m("v", 99) && !m("v", 1));
        assert!(m("w", 5) && !m("w", 4));
        assert!(m("x", 0) && m("x", 7));
        assert!(!m("xy", 0), "the regex must match the whole name");
        let any = parse_topic_partitions(":0").unwrap();
        assert!(any[0].matches("anything", 0) && !any[0].matches("anything", 1));
        for bad in ["t:a", "t:1-b", "t:-", "t:-3-4", "t:x-"] {
            assert!(parse_topic_partitions(bad).is_err(), "{bad}");
        }
        assert!(parse_topic_partitions("(:0").is_err());
    }

    #[test]
    fn partition_lists() {
        assert_eq!(parse_partition_list("0, 2,5").unwrap(), vec![0, 2, 5]);
        assert!(parse_partition_list("1,x").is_err());
        assert!(parse_partition_list("-1").is_err());
    }
}
