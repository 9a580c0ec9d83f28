//! `kwire groups`: kafka-consumer-groups.sh, natively.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use kwire_cli::spec::{parse_iso_duration, parse_timestamp};
use kwire_fetch::{IsolationLevel, OffsetSpec, TopicPartition, list_offsets};
use kwire_group::admin::{self, GroupDescription};
use kwire_meta::Cluster;
use kwire_proto::ErrorCode;
use serde_json::json;

use crate::args::format::Format;
use crate::args::groups::{
    DeleteArgs, DeleteOffsetsArgs, DescribeArgs, GroupsArgs, GroupsCmd, ListArgs, ResetArgs,
};
use crate::config::ClientSettings;
use crate::output::table;

pub async fn run(settings: &ClientSettings, args: GroupsArgs) -> Result<ExitCode> {
    let cluster = Cluster::new(settings.cluster.clone());
    match args.cmd {
        GroupsCmd::List(a) => list(&cluster, a).await,
        GroupsCmd::Describe(a) => describe(&cluster, a).await,
        GroupsCmd::ResetOffsets(a) => reset_offsets(&cluster, a).await,
        GroupsCmd::Delete(a) => delete(&cluster, a).await,
        GroupsCmd::DeleteOffsets(a) => delete_offsets(&cluster, a).await,
    }
}

pub(crate) fn check_group_id(g: &str) -> Result<()> {
    if g.trim().is_empty() {
        bail!("the group id must not be empty");
    }
    Ok(())
}

async fn list(cluster: &Cluster, a: ListArgs) -> Result<ExitCode> {
    let groups = admin::list_groups(cluster).await?;
    let mut out = String::new();
    match a.format {
        Format::Text => {
            for g in &groups {
                out.push_str(&g.group_id);
                out.push('\n');
            }
        }
        Format::Json => {
            let v: Vec<_> = groups
                .iter()
                .map(|g| {
                    json!({
                        "group": g.group_id,
                        "state": g.state,
                        "type": g.group_type,
                        "protocol_type": g.protocol_type,
                        "coordinator": g.coordinator,
                    })
                })
                .collect();
            out = format!("{}\n", serde_json::Value::Array(v));
        }
    }
    print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn print_out(s: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(s.as_bytes()).context("writing to stdout")?;
    o.flush().context("writing to stdout")
}

/// One row of the offsets table.
struct OffsetRow {
    tp: TopicPartition,
    current: Option<i64>,
    end: Option<i64>,
    member: Option<(String, String, String)>,
}

async fn describe(cluster: &Cluster, a: DescribeArgs) -> Result<ExitCode> {
    check_group_id(&a.group)?;
    let d = admin::describe_group(cluster, &a.group).await?;
    let committed = admin::committed_offsets(cluster, &a.group, None).await?;
    if d.state == "Dead" && committed.is_empty() {
        bail!("consumer group '{}' does not exist", a.group);
    }
    let mut owner: BTreeMap<TopicPartition, (String, String, String)> = BTreeMap::new();
    for m in &d.members {
        for tp in &m.assignment {
            owner.insert(tp.clone(), (m.member_id.clone(), m.host.clone(), m.client_id.clone()));
        }
    }
    let all: BTreeSet<TopicPartition> = committed.keys().chain(owner.keys()).cloned().collect();
    let parts: Vec<TopicPartition> = all.into_iter().collect();
    let ends = log_end_offsets(cluster, &parts).await;
    let rows: Vec<OffsetRow> = parts
        .iter()
        .map(|tp| OffsetRow {
            tp: tp.clone(),
            current: committed.get(tp).copied(),
            end: ends.get(tp).copied(),
            member: owner.get(tp).cloned(),
        })
        .collect();
    let coordinator = cluster.pool().broker_addr(d.coordinator).unwrap_or_default();
    let out = match a.format {
        Format::Json => format!("{}\n", describe_json(&d, &coordinator, &rows)),
        Format::Text => describe_text(&d, &coordinator, &rows),
    };
    print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Log end offsets; partitions whose leader can't be reached are left out (shown as `-`).
async fn log_end_offsets(cluster: &Cluster, parts: &[TopicPartition]) -> BTreeMap<TopicPartition, i64> {
    let mut out = BTreeMap::new();
    // Topics may have been deleted since the offsets were committed: ask per topic.
    let mut by_topic: BTreeMap<&str, Vec<TopicPartition>> = BTreeMap::new();
    for tp in parts {
        by_topic.entry(tp.topic.as_str()).or_default().push(tp.clone());
    }
    for (topic, tps) in by_topic {
        match list_offsets(cluster, &tps, OffsetSpec::Latest, IsolationLevel::ReadUncommitted).await {
            Ok(m) => out.extend(m.into_iter().map(|(tp, a)| (tp, a.offset))),
            Err(e) => tracing::warn!(topic, error = %e, "no log end offsets"),
        }
    }
    out
}

fn dash(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn lag(r: &OffsetRow) -> Option<i64> {
    match (r.current, r.end) {
        (Some(c), Some(e)) => Some(e.saturating_sub(c).max(0)),
        _ => None,
    }
}

fn describe_text(d: &GroupDescription, coordinator: &str, rows: &[OffsetRow]) -> String {
    let mut out = String::new();
    let protocol = if d.protocol_type.is_empty() {
        "-".to_owned()
    } else if d.assignor.is_empty() {
        d.protocol_type.clone()
    } else {
        format!("{} ({})", d.protocol_type, d.assignor)
    };
    out.push_str(&format!("Group:       {}\n", d.group_id));
    out.push_str(&format!("State:       {}\n", d.state));
    out.push_str(&format!("Type:        {}\n", d.group_type));
    out.push_str(&format!("Protocol:    {protocol}\n"));
    out.push_str(&format!(
        "Coordinator: {} ({})\n",
        d.coordinator,
        if coordinator.is_empty() { "?" } else { coordinator }
    ));
    out.push_str(&format!("Members:     {}\n", d.members.len()));
    if !d.members.is_empty() {
        out.push('\n');
        let member_rows: Vec<Vec<String>> = d
            .members
            .iter()
            .map(|m| {
                let assignment = group_partitions(&m.assignment);
                vec![
                    m.member_id.clone(),
                    m.instance_id.clone().unwrap_or_else(|| "-".into()),
                    m.host.clone(),
                    m.client_id.clone(),
                    m.assignment.len().to_string(),
                    if assignment.is_empty() { "-".into() } else { assignment },
                ]
            })
            .collect();
        out.push_str(&table(
            &["CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT"],
            &member_rows,
        ));
    } else {
        out.push_str(&format!("\nConsumer group '{}' has no active members.\n", d.group_id));
    }
    if !rows.is_empty() {
        out.push('\n');
        let offset_rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let (id, host, client) =
                    r.member.clone().unwrap_or_else(|| ("-".into(), "-".into(), "-".into()));
                vec![
                    d.group_id.clone(),
                    r.tp.topic.clone(),
                    r.tp.partition.to_string(),
                    dash(r.current),
                    dash(r.end),
                    dash(lag(r)),
                    id,
                    host,
                    client,
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "GROUP",
                "TOPIC",
                "PARTITION",
                "CURRENT-OFFSET",
                "LOG-END-OFFSET",
                "LAG",
                "CONSUMER-ID",
                "HOST",
                "CLIENT-ID",
            ],
            &offset_rows,
        ));
    }
    out
}

/// `t:0,1,2 u:0` for a member's assignment.
pub(crate) fn group_partitions(parts: &[TopicPartition]) -> String {
    let mut by: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in parts {
        by.entry(tp.topic.as_str()).or_default().push(tp.partition);
    }
    by.into_iter()
        .map(|(t, mut ps)| {
            ps.sort_unstable();
            format!("{t}:{}", ps.iter().map(i32::to_string).collect::<Vec<_>>().join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe_json(d: &GroupDescription, coordinator: &str, rows: &[OffsetRow]) -> serde_json::Value {
    json!({
        "group": d.group_id,
        "state": d.state,
        "type": d.group_type,
        "protocol_type": d.protocol_type,
        "assignor": d.assignor,
        "coordinator": {"id": d.coordinator, "address": coordinator},
        "members": d.members.iter().map(|m| json!({
            "member_id": m.member_id,
            "instance_id": m.instance_id,
            "client_id": m.client_id,
            "host": m.host,
            "assignment": m.assignment.iter().map(|tp| json!({"topic": tp.topic, "partition": tp.partition})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "offsets": rows.iter().map(|r| json!({
            "topic": r.tp.topic,
            "partition": r.tp.partition,
            "current_offset": r.current,
            "log_end_offset": r.end,
            "lag": lag(r),
            "consumer_id": r.member.as_ref().map(|m| &m.0),
            "host": r.member.as_ref().map(|m| &m.1),
            "client_id": r.member.as_ref().map(|m| &m.2),
        })).collect::<Vec<_>>(),
    })
}

/// Parses `T` or `T:0,1,2`.
fn parse_topic_spec(s: &str) -> Result<(String, Option<Vec<i32>>)> {
    let (t, parts) = match s.split_once(':') {
        None => (s.trim(), None),
        Some((t, p)) => {
            let mut v = Vec::new();
            for x in p.split(',').map(str::trim) {
                match x.parse::<i32>() {
                    Ok(n) if n >= 0 => v.push(n),
                    _ => {
                        bail!("invalid --topic '{s}': partitions must be non-negative numbers, like t:0,1,2")
                    }
                }
            }
            v.sort_unstable();
            v.dedup();
            (t.trim(), Some(v))
        }
    };
    if t.is_empty() {
        bail!("invalid --topic '{s}': empty topic name");
    }
    Ok((t.to_owned(), parts))
}

/// Resolves `--topic` specs against the cluster's metadata.
async fn resolve_topics(cluster: &Cluster, specs: &[String]) -> Result<Vec<TopicPartition>> {
    let mut out = BTreeSet::new();
    for s in specs {
        let (topic, parts) = parse_topic_spec(s)?;
        let info = cluster.topic(&topic).await.map_err(|e| match e.code() {
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => anyhow::anyhow!("topic '{topic}' does not exist"),
            _ => e.into(),
        })?;
        let all: Vec<i32> = info.partitions.iter().map(|p| p.partition).collect();
        match parts {
            None => out.extend(all.iter().map(|p| TopicPartition::new(topic.clone(), *p))),
            Some(ps) => {
                for p in ps {
                    if !all.contains(&p) {
                        bail!("partition {p} does not exist (topic '{topic}' has {} partitions)", all.len());
                    }
                    out.insert(TopicPartition::new(topic.clone(), p));
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}

enum Scenario {
    Earliest,
    Latest,
    Offset(i64),
    Shift(i64),
    Time(i64),
}

async fn reset_offsets(cluster: &Cluster, a: ResetArgs) -> Result<ExitCode> {
    check_group_id(&a.group)?;
    // Parse everything before touching the cluster.
    let mut scenarios = Vec::new();
    if a.to_earliest {
        scenarios.push(("--to-earliest", Scenario::Earliest));
    }
    if a.to_latest {
        scenarios.push(("--to-latest", Scenario::Latest));
    }
    if let Some(n) = a.to_offset {
        if n < 0 {
            bail!("--to-offset must be a non-negative offset, got {n}");
        }
        scenarios.push(("--to-offset", Scenario::Offset(n)));
    }
    if let Some(n) = a.shift_by {
        scenarios.push(("--shift-by", Scenario::Shift(n)));
    }
    if let Some(t) = &a.to_datetime {
        let ms = parse_timestamp(t).map_err(|e| anyhow::anyhow!("--to-datetime: {e}"))?;
        scenarios.push(("--to-datetime", Scenario::Time(ms)));
    }
    if let Some(d) = &a.by_duration {
        let d = parse_iso_duration(d).map_err(|e| anyhow::anyhow!("--by-duration: {e}"))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|n| i64::try_from(n.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let back = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        scenarios.push(("--by-duration", Scenario::Time(now.saturating_sub(back).max(0))));
    }
    let scenario = match scenarios.len() {
        0 => bail!(
            "say where to: one of --to-earliest, --to-latest, --to-offset N, --shift-by N, --to-datetime TIME, \
             --by-duration PnDTnHnM"
        ),
        1 => scenarios.remove(0).1,
        _ => bail!("give only one of {}", scenarios.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")),
    };
    match (a.topics.is_empty(), a.all_topics) {
        (true, false) => bail!("say which partitions: --topic T[:P,...] or --all-topics"),
        (false, true) => bail!("give either --topic or --all-topics, not both"),
        _ => {}
    }
    for t in &a.topics {
        parse_topic_spec(t)?;
    }

    // The group must be inactive.
    let d = admin::describe_group(cluster, &a.group).await?;
    if !d.members.is_empty() {
        bail!(
            "cannot reset the offsets of group '{}' while it has active members ({} member{}, state {}); \
             stop its consumers first",
            a.group,
            d.members.len(),
            if d.members.len() == 1 { "" } else { "s" },
            d.state
        );
    }
    let committed = admin::committed_offsets(cluster, &a.group, None).await?;
    let parts: Vec<TopicPartition> = if a.all_topics {
        if committed.is_empty() {
            bail!("group '{}' has no committed offsets; name the topics with --topic", a.group);
        }
        let topics: BTreeSet<&str> = committed.keys().map(|tp| tp.topic.as_str()).collect();
        let specs: Vec<String> = topics.into_iter().map(str::to_owned).collect();
        resolve_topics(cluster, &specs).await?
    } else {
        resolve_topics(cluster, &a.topics).await?
    };
    let iso = IsolationLevel::ReadUncommitted;
    let earliest = offsets_of(cluster, &parts, OffsetSpec::Earliest, iso).await?;
    let latest = offsets_of(cluster, &parts, OffsetSpec::Latest, iso).await?;
    let clamp = |tp: &TopicPartition, o: i64| -> i64 {
        let lo = earliest.get(tp).copied().unwrap_or(0);
        let hi = latest.get(tp).copied().unwrap_or(o).max(lo);
        o.clamp(lo, hi)
    };
    let mut plan: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    match scenario {
        Scenario::Earliest => {
            plan.extend(parts.iter().map(|tp| (tp.clone(), earliest.get(tp).copied().unwrap_or(0))))
        }
        Scenario::Latest => {
            plan.extend(parts.iter().map(|tp| (tp.clone(), latest.get(tp).copied().unwrap_or(0))))
        }
        Scenario::Offset(n) => plan.extend(parts.iter().map(|tp| (tp.clone(), clamp(tp, n)))),
        Scenario::Shift(n) => {
            for tp in &parts {
                let Some(c) = committed.get(tp) else {
                    bail!(
                        "cannot shift the offset of {tp}: group '{}' has no committed offset for it",
                        a.group
                    );
                };
                plan.insert(tp.clone(), clamp(tp, c.saturating_add(n)));
            }
        }
        Scenario::Time(ms) => {
            for (tp, o) in offsets_of(cluster, &parts, OffsetSpec::Timestamp(ms), iso).await? {
                plan.insert(tp, o);
            }
        }
    }
    if a.execute {
        admin::alter_offsets(cluster, &a.group, &plan).await?;
    }
    let out = match a.format {
        Format::Json => format!(
            "{}\n",
            json!({
                "group": a.group,
                "executed": a.execute,
                "offsets": plan.iter().map(|(tp, o)| json!({
                    "topic": tp.topic, "partition": tp.partition, "new_offset": o,
                    "current_offset": committed.get(tp),
                })).collect::<Vec<_>>(),
            })
        ),
        Format::Text => {
            let rows: Vec<Vec<String>> = plan
                .iter()
                .map(|(tp, o)| {
                    vec![a.group.clone(), tp.topic.clone(), tp.partition.to_string(), o.to_string()]
                })
                .collect();
            table(&["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], &rows)
        }
    };
    print_out(&out)?;
    if !a.execute {
        eprintln!("kwire: dry run: nothing was changed; add --execute to apply");
    }
    Ok(ExitCode::SUCCESS)
}

async fn offsets_of(
    cluster: &Cluster,
    parts: &[TopicPartition],
    spec: OffsetSpec,
    iso: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, i64>> {
    Ok(list_offsets(cluster, parts, spec, iso).await?.into_iter().map(|(tp, a)| (tp, a.offset)).collect())
}

async fn delete(cluster: &Cluster, a: DeleteArgs) -> Result<ExitCode> {
    let mut groups: Vec<String> = a.groups.clone();
    groups.sort();
    groups.dedup();
    for g in &groups {
        check_group_id(g)?;
    }
    // Check every group first, so a bad one deletes nothing.
    for g in &groups {
        let d = admin::describe_group(cluster, g).await?;
        if !d.members.is_empty() {
            bail!(
                "cannot delete group '{g}': it has {} active member{} (state {}); stop its consumers first",
                d.members.len(),
                if d.members.len() == 1 { "" } else { "s" },
                d.state
            );
        }
        if d.state == "Dead" && admin::committed_offsets(cluster, g, None).await?.is_empty() {
            bail!("group '{g}' does not exist");
        }
    }
    for g in &groups {
        admin::delete_group(cluster, g).await.map_err(|e| match e.code() {
            Some(ErrorCode::NON_EMPTY_GROUP) => {
                anyhow::anyhow!("cannot delete group '{g}': it has active members")
            }
            Some(ErrorCode::GROUP_ID_NOT_FOUND) => anyhow::anyhow!("group '{g}' does not exist"),
            _ => e.into(),
        })?;
    }
    let names: Vec<String> = groups.iter().map(|g| format!("'{g}'")).collect();
    print_out(&format!("Deletion of requested consumer groups ({}) was successful.\n", names.join(", ")))?;
    Ok(ExitCode::SUCCESS)
}

async fn delete_offsets(cluster: &Cluster, a: DeleteOffsetsArgs) -> Result<ExitCode> {
    check_group_id(&a.group)?;
    for t in &a.topics {
        parse_topic_spec(t)?;
    }
    let parts = resolve_topics(cluster, &a.topics).await?;
    let results = admin::delete_offsets(cluster, &a.group, &parts).await.map_err(|e| match e.code() {
        Some(ErrorCode::GROUP_ID_NOT_FOUND) => anyhow::anyhow!("group '{}' does not exist", a.group),
        Some(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC) => anyhow::anyhow!(
            "cannot delete the offsets of group '{}': active members are subscribed to the topic",
            a.group
        ),
        _ => e.into(),
    })?;
    let failed: Vec<&(TopicPartition, ErrorCode)> = results.iter().filter(|(_, c)| c.is_err()).collect();
    if let Some((tp, code)) = failed.first() {
        let why = if *code == ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC {
            "an active member of the group is subscribed to the topic".to_owned()
        } else {
            code.to_string()
        };
        bail!("cannot delete the offsets of group '{}' for {tp}: {why}", a.group);
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|(tp, _)| vec![tp.topic.clone(), tp.partition.to_string(), "Successful".to_owned()])
        .collect();
    print_out(&table(&["TOPIC", "PARTITION", "STATUS"], &rows))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_specs() {
        assert_eq!(parse_topic_spec("t").unwrap(), ("t".to_owned(), None));
        assert_eq!(parse_topic_spec("t:2,0,2").unwrap(), ("t".to_owned(), Some(vec![0, 2])));
        assert!(parse_topic_spec(":1").is_err());
        assert!(parse_topic_spec("t:x").is_err());
        assert!(parse_topic_spec("t:-1").is_err());
        assert!(parse_topic_spec("t:").is_err());
        assert_eq!(
            group_partitions(&[
                TopicPartition::new("b", 1),
                TopicPartition::new("a", 3),
                TopicPartition::new("b", 0)
            ]),
            "a:3 b:0,1"
        );
    }
}
