//! The JSON files of kafka-reassign-partitions.sh and
//! kafka-leader-election.sh: topics to move, reassignments (what
//! `--generate` prints and `--execute` reads) and election partition lists.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use kwire_proto::TopicPartition;
use serde_json::Value;

/// One partition of a reassignment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPartition {
    /// The partition.
    pub tp: TopicPartition,
    /// Target replicas, in order (the first is the preferred leader).
    pub replicas: Vec<i32>,
    /// Per replica: a log directory or "any".
    pub log_dirs: Vec<String>,
}

fn parse(text: &str, what: &str) -> Result<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => bail!("the {what} is not a JSON object"),
        Err(e) => bail!("the {what} is not valid JSON: {e}"),
    }
}

fn version(v: &Value, what: &str) -> Result<()> {
    match v.get("version") {
        None => Ok(()),
        Some(n) if n.as_i64() == Some(1) => Ok(()),
        Some(n) => bail!("the {what} has version {n}; only version 1 is supported"),
    }
}

fn int(v: &Value, key: &str, what: &str) -> Result<i32> {
    match v.get(key).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok()) {
        Some(n) => Ok(n),
        None => bail!("the {what} has an entry without an integer \"{key}\": {v}"),
    }
}

fn string(v: &Value, key: &str, what: &str) -> Result<String> {
    match v.get(key).and_then(Value::as_str) {
        Some(s) => Ok(s.to_owned()),
        None => bail!("the {what} has an entry without a string \"{key}\": {v}"),
    }
}

fn array<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a [Value]> {
    match v.get(key) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => bail!("the {what}'s \"{key}\" is not an array: {other}"),
    }
}

/// `{"version":1,"topics":[{"topic":"a"},...]}`: the topic names, no duplicates.
pub fn parse_topics_to_move(text: &str) -> Result<Vec<String>> {
    let what = "topics-to-move JSON file";
    let v = parse(text, what)?;
    version(&v, what)?;
    let mut out = Vec::new();
    for t in array(&v, "topics", what)? {
        let name = string(t, "topic", what)?;
        if out.contains(&name) {
            bail!("list of topics to reassign contains duplicate entries: {name}");
        }
        out.push(name);
    }
    if out.is_empty() {
        bail!("the {what} names no topics");
    }
    Ok(out)
}

/// A reassignment file (`{"version":1,"partitions":[{"topic","partition",
/// "replicas",["log_dirs"]}]}`), checked as the Java tool checks it for
/// --execute when `strict` (not empty, no duplicate partitions or replicas).
pub fn parse_reassignment(text: &str, strict: bool) -> Result<Vec<TargetPartition>> {
    let what = "reassignment JSON file";
    let v = parse(text, what)?;
    version(&v, what)?;
    let mut out: Vec<TargetPartition> = Vec::new();
    for p in array(&v, "partitions", what)? {
        let tp = TopicPartition::new(string(p, "topic", what)?, int(p, "partition", what)?);
        let mut replicas = Vec::new();
        for r in array(p, "replicas", what)? {
            match r.as_i64().and_then(|n| i32::try_from(n).ok()) {
                Some(n) => replicas.push(n),
                None => bail!("the {what} has a replica that is not a broker id in {tp}: {r}"),
            }
        }
        let log_dirs: Vec<String> = match p.get("log_dirs") {
            None => replicas.iter().map(|_| "any".to_owned()).collect(),
            Some(_) => {
                let mut d = Vec::new();
                for x in array(p, "log_dirs", what)? {
                    match x.as_str() {
                        Some(s) => d.push(s.to_owned()),
                        None => bail!("the {what} has a log dir that is not a string in {tp}: {x}"),
                    }
                }
                d
            }
        };
        if log_dirs.len() != replicas.len() {
            bail!(
                "size of replicas list {replicas:?} is different from size of log dirs list {log_dirs:?} for partition {tp}"
            );
        }
        out.push(TargetPartition { tp, replicas, log_dirs });
    }
    if strict {
        if out.is_empty() {
            bail!("partition reassignment list cannot be empty");
        }
        if let Some(p) = out.iter().find(|p| p.replicas.is_empty()) {
            bail!("partition replica list cannot be empty ({})", p.tp);
        }
        let mut seen = BTreeSet::new();
        for p in &out {
            if !seen.insert(p.tp.clone()) {
                bail!("partition reassignment contains duplicate topic partitions: {}", p.tp);
            }
            let mut rs = BTreeSet::new();
            if let Some(d) = p.replicas.iter().find(|r| !rs.insert(**r)) {
                bail!(
                    "partition replica lists may not contain duplicate entries: {} contains multiple entries for {d}",
                    p.tp
                );
            }
        }
    }
    Ok(out)
}

/// The Java tool's reassignment JSON (Jackson's compact form, partitions
/// sorted by topic then partition, every log dir "any").
pub fn format_reassignment(parts: &BTreeMap<TopicPartition, Vec<i32>>) -> String {
    let list: Vec<Value> = parts
        .iter()
        .map(|(tp, r)| {
            serde_json::json!({
                "topic": tp.topic,
                "partition": tp.partition,
                "replicas": r,
                "log_dirs": r.iter().map(|_| "any").collect::<Vec<_>>(),
            })
        })
        .collect();
    // serde_json keeps insertion order only with preserve_order; write the
    // keys in the Java tool's order by hand.
    let body: Vec<String> = list
        .iter()
        .map(|p| {
            format!(
                "{{\"topic\":{},\"partition\":{},\"replicas\":{},\"log_dirs\":{}}}",
                p["topic"], p["partition"], p["replicas"], p["log_dirs"]
            )
        })
        .collect();
    format!("{{\"version\":1,\"partitions\":[{}]}}", body.join(","))
}

/// kafka-leader-election.sh's `{"partitions":[{"topic":"t","partition":0}]}`.
pub fn parse_election_partitions(text: &str) -> Result<Vec<TopicPartition>> {
    let what = "election JSON file";
    let v = parse(text, what)?;
    let mut out: Vec<TopicPartition> = Vec::new();
    for p in array(&v, "partitions", what)? {
        let tp = TopicPartition::new(string(p, "topic", what)?, int(p, "partition", what)?);
        if out.contains(&tp) {
            bail!("the {what} lists partition {tp} more than once");
        }
        out.push(tp);
    }
    if out.is_empty() {
        bail!("the {what} lists no partitions");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_to_move() {
        assert_eq!(
            parse_topics_to_move(r#"{"version":1,"topics":[{"topic":"a"},{"topic":"b"}]}"#).unwrap(),
            ["a", "b"]
        );
        assert!(
            parse_topics_to_move(r#"{"topics":[{"topic":"a"},{"topic":"a"}]}"#)
                .unwrap_err()
                .to_string()
                .contains("duplicate")
        );
        assert!(parse_topics_to_move("{nope").unwrap_err().to_string().contains("not valid JSON"));
        assert!(
            parse_topics_to_move(r#"{"version":2,"topics":[]}"#)
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
        assert!(
            parse_topics_to_move(r#"{"topics":[{"name":"a"}]}"#)
                .unwrap_err()
                .to_string()
                .contains("\"topic\"")
        );
    }

    #[test]
    fn reassignment_round_trip_and_checks() {
        let text = r#"{"version":1,"partitions":[{"topic":"t","partition":1,"replicas":[2,3],"log_dirs":["any","any"]},{"topic":"t","partition":0,"replicas":[1]}]}"#;
        let p = parse_reassignment(text, true).unwrap();
        assert_eq!(p[0].tp, TopicPartition::new("t", 1));
        assert_eq!(p[1].log_dirs, ["any"]);
        let map: BTreeMap<TopicPartition, Vec<i32>> = p.into_iter().map(|p| (p.tp, p.replicas)).collect();
        assert_eq!(
            format_reassignment(&map),
            r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":["any"]},{"topic":"t","partition":1,"replicas":[2,3],"log_dirs":["any","any"]}]}"#
        );
        let err = |t: &str| parse_reassignment(t, true).unwrap_err().to_string();
        assert!(err(r#"{"partitions":[]}"#).contains("cannot be empty"));
        assert!(
            err(r#"{"partitions":[{"topic":"t","partition":0,"replicas":[]}]}"#)
                .contains("replica list cannot be empty")
        );
        assert!(
            err(r#"{"partitions":[{"topic":"t","partition":0,"replicas":[1,1]}]}"#)
                .contains("multiple entries for 1")
        );
        let dup = r#"{"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":0,"replicas":[2]}]}"#;
        assert!(err(dup).contains("duplicate topic partitions: t-0"));
        assert!(
            err(r#"{"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":[]}]}"#)
                .contains("log dirs")
        );
        assert!(
            err(r#"{"partitions":[{"topic":"t","partition":"x","replicas":[1]}]}"#).contains("\"partition\"")
        );
        assert!(err("[1,2]").contains("not a JSON object"));
        assert!(parse_reassignment(r#"{"partitions":[]}"#, false).unwrap().is_empty());
    }

    #[test]
    fn election_partitions() {
        let p = parse_election_partitions(
            r#"{"partitions":[{"topic":"t","partition":0},{"topic":"u","partition":2}]}"#,
        )
        .unwrap();
        assert_eq!(p, [TopicPartition::new("t", 0), TopicPartition::new("u", 2)]);
        assert!(parse_election_partitions(r#"{"partitions":[]}"#).is_err());
        assert!(parse_election_partitions("not json").is_err());
    }
}
