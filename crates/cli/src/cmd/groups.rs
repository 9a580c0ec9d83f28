//! `kwire groups`: kafka-consumer-groups.sh, natively.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use kwire_cli::spec::{parse_iso_duration, parse_timestamp, parse_topic_selection};
use kwire_fetch::TopicPartition;
use kwire_group::admin;
use kwire_group::{GroupLag, PartitionSelection, ResetStrategy, TopicSelection};
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

pub(crate) fn print_out(s: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(s.as_bytes()).context("writing to stdout")?;
    o.flush().context("writing to stdout")
}

async fn describe(cluster: &Cluster, a: DescribeArgs) -> Result<ExitCode> {
    check_group_id(&a.group)?;
    let lag = kwire_group::group_lag(cluster, &a.group).await?;
    if !lag.exists() {
        bail!("consumer group '{}' does not exist", a.group);
    }
    let coordinator = cluster.pool().broker_addr(lag.description.coordinator).unwrap_or_default();
    let out = match a.format {
        Format::Json => format!("{}\n", describe_json(&lag, &coordinator)),
        Format::Text => describe_text(&lag, &coordinator),
    };
    print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn dash(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn describe_text(lag: &GroupLag, coordinator: &str) -> String {
    let (d, rows) = (&lag.description, &lag.partitions);
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
                let (id, host, client) = match &r.owner {
                    Some(o) => (o.member_id.clone(), o.host.clone(), o.client_id.clone()),
                    None => ("-".into(), "-".into(), "-".into()),
                };
                vec![
                    d.group_id.clone(),
                    r.tp.topic.clone(),
                    r.tp.partition.to_string(),
                    dash(r.current),
                    dash(r.log_end),
                    dash(r.lag()),
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

fn describe_json(lag: &GroupLag, coordinator: &str) -> serde_json::Value {
    let d = &lag.description;
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
        "offsets": lag.partitions.iter().map(|r| json!({
            "topic": r.tp.topic,
            "partition": r.tp.partition,
            "current_offset": r.current,
            "log_end_offset": r.log_end,
            "lag": r.lag(),
            "consumer_id": r.owner.as_ref().map(|o| &o.member_id),
            "host": r.owner.as_ref().map(|o| &o.host),
            "client_id": r.owner.as_ref().map(|o| &o.client_id),
        })).collect::<Vec<_>>(),
    })
}

/// Parses `--topic` values (`T` or `T:0,1,2`).
pub(crate) fn topic_selections(specs: &[String]) -> Result<Vec<TopicSelection>> {
    specs
        .iter()
        .map(|s| parse_topic_selection(s).map_err(|e| anyhow::anyhow!("invalid --topic '{s}': {e}")))
        .collect()
}

/// The one strategy the flags name.
pub(crate) fn reset_strategy(a: &ResetArgs) -> Result<ResetStrategy> {
    let mut given = Vec::new();
    if a.to_earliest {
        given.push(("--to-earliest", ResetStrategy::Earliest));
    }
    if a.to_latest {
        given.push(("--to-latest", ResetStrategy::Latest));
    }
    if let Some(n) = a.to_offset {
        if n < 0 {
            bail!("--to-offset must be a non-negative offset, got {n}");
        }
        given.push(("--to-offset", ResetStrategy::Offset(n)));
    }
    if let Some(n) = a.shift_by {
        given.push(("--shift-by", ResetStrategy::ShiftBy(n)));
    }
    if let Some(t) = &a.to_datetime {
        let ms = parse_timestamp(t).map_err(|e| anyhow::anyhow!("--to-datetime: {e}"))?;
        given.push(("--to-datetime", ResetStrategy::Timestamp(ms)));
    }
    if let Some(d) = &a.by_duration {
        let d = parse_iso_duration(d).map_err(|e| anyhow::anyhow!("--by-duration: {e}"))?;
        given.push(("--by-duration", ResetStrategy::ByDuration(d)));
    }
    match given.len() {
        0 => bail!(
            "say where to: one of --to-earliest, --to-latest, --to-offset N, --shift-by N, --to-datetime TIME, \
             --by-duration PnDTnHnM"
        ),
        1 => Ok(given.remove(0).1),
        _ => bail!("give only one of {}", given.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")),
    }
}

async fn reset_offsets(cluster: &Cluster, a: ResetArgs) -> Result<ExitCode> {
    check_group_id(&a.group)?;
    // Parse everything before touching the cluster.
    let strategy = reset_strategy(&a)?;
    let which = match (a.topics.is_empty(), a.all_topics) {
        (true, false) => bail!("say which partitions: --topic T[:P,...] or --all-topics"),
        (false, true) => bail!("give either --topic or --all-topics, not both"),
        (true, true) => PartitionSelection::CommittedTopics,
        (false, false) => PartitionSelection::Topics(topic_selections(&a.topics)?),
    };
    let plan = kwire_group::plan_reset(cluster, &a.group, &which, strategy).await?;
    if a.all_topics && plan.is_empty() {
        bail!("group '{}' has no committed offsets; name the topics with --topic", a.group);
    }
    if a.execute {
        kwire_group::execute_reset(cluster, &a.group, &plan).await?;
    }
    let out = match a.format {
        Format::Json => format!(
            "{}\n",
            json!({
                "group": a.group,
                "executed": a.execute,
                "offsets": plan.iter().map(|p| json!({
                    "topic": p.tp.topic, "partition": p.tp.partition, "new_offset": p.target,
                    "current_offset": p.current,
                })).collect::<Vec<_>>(),
            })
        ),
        Format::Text => {
            let rows: Vec<Vec<String>> = plan
                .iter()
                .map(|p| {
                    vec![
                        a.group.clone(),
                        p.tp.topic.clone(),
                        p.tp.partition.to_string(),
                        p.target.to_string(),
                    ]
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
    if a.format == Format::Json {
        return print_out(&format!("{}\n", json!({ "deleted": groups }))).map(|()| ExitCode::SUCCESS);
    }
    let names: Vec<String> = groups.iter().map(|g| format!("'{g}'")).collect();
    print_out(&format!("Deletion of requested consumer groups ({}) was successful.\n", names.join(", ")))?;
    Ok(ExitCode::SUCCESS)
}

async fn delete_offsets(cluster: &Cluster, a: DeleteOffsetsArgs) -> Result<ExitCode> {
    check_group_id(&a.group)?;
    let parts = kwire_group::resolve_partitions(cluster, &topic_selections(&a.topics)?).await?;
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
    if a.format == Format::Json {
        let v: Vec<_> =
            results.iter().map(|(tp, _)| json!({"topic": tp.topic, "partition": tp.partition})).collect();
        return print_out(&format!("{}\n", json!({"group": a.group, "deleted": v})))
            .map(|()| ExitCode::SUCCESS);
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
        let e = topic_selections(&["t:x".to_owned()]).unwrap_err().to_string();
        assert_eq!(e, "invalid --topic 't:x': partitions must be non-negative numbers, like t:0,1,2");
        let e = topic_selections(&["t".to_owned(), ":1".to_owned()]).unwrap_err().to_string();
        assert_eq!(e, "invalid --topic ':1': empty topic name");
        assert_eq!(topic_selections(&["t:1".to_owned()]).unwrap()[0].partitions, Some(vec![1]));
    }

    #[test]
    fn member_assignments() {
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
