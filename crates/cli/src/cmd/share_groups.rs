//! `kwire share-groups`: kafka-share-groups.sh, natively.

use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use kwire_group::share::admin::{self, ShareGroupDescription, ShareOffset};
use kwire_group::{PartitionSelection, TopicPartition};
use kwire_meta::Cluster;
use kwire_proto::ErrorCode;
use serde_json::json;

use super::groups::{check_group_id, dash, group_partitions, print_out, reset_strategy, topic_selections};
use crate::args::format::Format;
use crate::args::groups::ResetArgs;
use crate::args::share_groups::ShareGroupsArgs;
use crate::config::ClientSettings;
use crate::output::table;

/// Which action the flags name (exactly one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    List,
    Describe,
    Delete,
    DeleteOffsets,
    ResetOffsets,
}

fn action(a: &ShareGroupsArgs) -> Result<Action> {
    let given: Vec<(&str, Action)> = [
        (a.list, "--list", Action::List),
        (a.describe, "--describe", Action::Describe),
        (a.delete, "--delete", Action::Delete),
        (a.delete_offsets, "--delete-offsets", Action::DeleteOffsets),
        (a.reset_offsets, "--reset-offsets", Action::ResetOffsets),
    ]
    .into_iter()
    .filter(|(on, ..)| *on)
    .map(|(_, n, act)| (n, act))
    .collect();
    match given.as_slice() {
        [] => bail!("say what to do: one of --list, --describe, --delete, --delete-offsets, --reset-offsets"),
        [(_, act)] => Ok(*act),
        _ => bail!("give only one of {}", given.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")),
    }
}

/// Refuses flags that don't go with `act` (one line, before touching the cluster).
fn check_flags(a: &ShareGroupsArgs, act: Action) -> Result<()> {
    let name = match act {
        Action::List => "--list",
        Action::Describe => "--describe",
        Action::Delete => "--delete",
        Action::DeleteOffsets => "--delete-offsets",
        Action::ResetOffsets => "--reset-offsets",
    };
    let describe_only = [("--members", a.members), ("--offsets", a.offsets)];
    let reset_only = [
        ("--to-earliest", a.to_earliest),
        ("--to-latest", a.to_latest),
        ("--to-offset", a.to_offset.is_some()),
        ("--shift-by", a.shift_by.is_some()),
        ("--to-datetime", a.to_datetime.is_some()),
        ("--by-duration", a.by_duration.is_some()),
        ("--dry-run", a.dry_run),
        ("--execute", a.execute),
        ("--all-topics", a.all_topics),
    ];
    let mut bad: Vec<&str> = Vec::new();
    if act != Action::Describe {
        bad.extend(describe_only.iter().filter(|(_, on)| *on).map(|(n, _)| *n));
    }
    if act != Action::ResetOffsets {
        bad.extend(reset_only.iter().filter(|(_, on)| *on).map(|(n, _)| *n));
    }
    if !matches!(act, Action::List | Action::Describe) && a.state.is_some() {
        bad.push("--state");
    }
    if matches!(act, Action::List | Action::Describe | Action::Delete) && !a.topics.is_empty() {
        bad.push("--topic");
    }
    if act == Action::List && (!a.groups.is_empty() || a.all_groups) {
        bad.push(if a.all_groups { "--all-groups" } else { "--group" });
    }
    if let Some(f) = bad.first() {
        bail!("{f} does not go with {name}");
    }
    if act == Action::Describe && [a.members, a.offsets, a.state.is_some()].iter().filter(|x| **x).count() > 1
    {
        bail!("give only one of --members, --offsets, --state with --describe");
    }
    if act == Action::Describe && matches!(a.state.as_deref(), Some(s) if !s.is_empty()) {
        bail!("--state takes no value with --describe (a state filter goes with --list)");
    }
    if act != Action::List {
        if a.groups.is_empty() && !a.all_groups {
            bail!(
                "{name} needs --group GROUP{}",
                if act == Action::DeleteOffsets { "" } else { " or --all-groups" }
            );
        }
        if !a.groups.is_empty() && a.all_groups {
            bail!("give either --group or --all-groups, not both");
        }
        if act == Action::DeleteOffsets && a.all_groups {
            bail!("--delete-offsets takes one --group, not --all-groups");
        }
        if matches!(act, Action::DeleteOffsets | Action::ResetOffsets) && a.groups.len() > 1 {
            bail!("{name} takes one --group");
        }
        for g in &a.groups {
            check_group_id(g)?;
        }
    }
    Ok(())
}

pub async fn run(settings: &ClientSettings, a: ShareGroupsArgs, verbose: bool) -> Result<ExitCode> {
    let act = action(&a)?;
    check_flags(&a, act)?;
    let cluster = Cluster::new(settings.cluster.clone());
    match act {
        Action::List => list(&cluster, &a).await,
        Action::Describe => describe(&cluster, &a, verbose).await,
        Action::Delete => delete(&cluster, &a).await,
        Action::DeleteOffsets => delete_offsets(&cluster, &a).await,
        Action::ResetOffsets => reset_offsets(&cluster, &a).await,
    }
}

async fn groups_of(cluster: &Cluster, a: &ShareGroupsArgs) -> Result<Vec<String>> {
    if a.all_groups {
        return Ok(admin::list_share_groups(cluster, &[]).await?.into_iter().map(|g| g.group_id).collect());
    }
    let mut gs = a.groups.clone();
    gs.sort();
    gs.dedup();
    Ok(gs)
}

async fn list(cluster: &Cluster, a: &ShareGroupsArgs) -> Result<ExitCode> {
    let states: Vec<String> = match a.state.as_deref() {
        Some(s) if !s.is_empty() => parse_states(s)?,
        _ => Vec::new(),
    };
    let groups = admin::list_share_groups(cluster, &states).await?;
    // Older brokers ignore the filter: apply it here too.
    let groups: Vec<_> = groups
        .into_iter()
        .filter(|g| {
            states.is_empty()
                || g.state.as_ref().is_some_and(|s| states.iter().any(|f| f.eq_ignore_ascii_case(s)))
        })
        .collect();
    let out = match a.format {
        Format::Json => format!(
            "{}\n",
            serde_json::Value::Array(
                groups
                    .iter()
                    .map(|g| json!({"group": g.group_id, "state": g.state, "coordinator": g.coordinator}))
                    .collect()
            )
        ),
        Format::Text if a.state.is_some() => {
            let rows: Vec<Vec<String>> = groups
                .iter()
                .map(|g| vec![g.group_id.clone(), g.state.clone().unwrap_or_else(|| "-".into())])
                .collect();
            table(&["GROUP", "STATE"], &rows)
        }
        Format::Text => groups.iter().map(|g| format!("{}\n", g.group_id)).collect(),
    };
    print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `Empty,stable` as Kafka's state names; an unknown one is refused.
fn parse_states(s: &str) -> Result<Vec<String>> {
    const STATES: [&str; 5] = ["Unknown", "Empty", "Stable", "Dead", "Assigning"];
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            STATES.iter().find(|k| k.eq_ignore_ascii_case(x)).map(|k| (*k).to_owned()).ok_or_else(|| {
                anyhow!("invalid share group state '{x}'; valid states are: {}", STATES.join(", "))
            })
        })
        .collect()
}

async fn describe(cluster: &Cluster, a: &ShareGroupsArgs, verbose: bool) -> Result<ExitCode> {
    let groups = groups_of(cluster, a).await?;
    let mut docs = Vec::new();
    let mut out = String::new();
    for g in &groups {
        let d = admin::describe_share_group(cluster, g).await?;
        if !d.exists() {
            bail!("share group '{g}' does not exist");
        }
        let coordinator = cluster.pool().broker_addr(d.coordinator).unwrap_or_default();
        let offsets = if a.members || a.state.is_some() {
            Default::default()
        } else {
            admin::share_group_offsets(cluster, g).await?
        };
        if a.format == Format::Json {
            docs.push(describe_json(&d, &coordinator, &offsets, a));
            continue;
        }
        if d.members.is_empty() && (a.members || a.state.is_some()) {
            eprintln!("\nShare group '{g}' has no active members.");
        }
        out.push('\n');
        if a.state.is_some() {
            let coord = format!("{coordinator}  ({})", d.coordinator);
            let (head, row): (Vec<&str>, Vec<String>) = if verbose {
                (
                    vec!["GROUP", "COORDINATOR (ID)", "STATE", "GROUP-EPOCH", "ASSIGNMENT-EPOCH", "#MEMBERS"],
                    vec![
                        d.group_id.clone(),
                        coord,
                        d.state.clone(),
                        d.group_epoch.to_string(),
                        d.assignment_epoch.to_string(),
                        d.members.len().to_string(),
                    ],
                )
            } else {
                (
                    vec!["GROUP", "COORDINATOR (ID)", "STATE", "#MEMBERS"],
                    vec![d.group_id.clone(), coord, d.state.clone(), d.members.len().to_string()],
                )
            };
            out.push_str(&table(&head, &[row]));
        } else if a.members {
            if d.members.is_empty() {
                continue;
            }
            let rows: Vec<Vec<String>> = d
                .members
                .iter()
                .map(|m| {
                    let mut r =
                        vec![d.group_id.clone(), m.member_id.clone(), m.host.clone(), m.client_id.clone()];
                    if verbose {
                        r.push(m.member_epoch.to_string());
                    }
                    let asg = group_partitions(&m.assignment);
                    r.push(if asg.is_empty() { "-".into() } else { asg });
                    r
                })
                .collect();
            let mut head = vec!["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID"];
            if verbose {
                head.push("MEMBER-EPOCH");
            }
            head.push("ASSIGNMENT");
            out.push_str(&table(&head, &rows));
        } else {
            let rows: Vec<Vec<String>> = offsets
                .iter()
                .map(|(tp, o)| {
                    let mut r = vec![d.group_id.clone(), tp.topic.clone(), tp.partition.to_string()];
                    if verbose {
                        r.push(dash(o.leader_epoch.map(i64::from)));
                    }
                    r.push(dash(o.start_offset));
                    r.push(dash(o.lag()));
                    r
                })
                .collect();
            let head: &[&str] = if verbose {
                &["GROUP", "TOPIC", "PARTITION", "LEADER-EPOCH", "START-OFFSET", "LAG"]
            } else {
                &["GROUP", "TOPIC", "PARTITION", "START-OFFSET", "LAG"]
            };
            out.push_str(&table(head, &rows));
        }
    }
    if a.format == Format::Json {
        let v =
            if docs.len() == 1 && !a.all_groups { docs.remove(0) } else { serde_json::Value::Array(docs) };
        out = format!("{v}\n");
    }
    print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn describe_json(
    d: &ShareGroupDescription,
    coordinator: &str,
    offsets: &std::collections::BTreeMap<TopicPartition, ShareOffset>,
    a: &ShareGroupsArgs,
) -> serde_json::Value {
    let mut v = json!({
        "group": d.group_id,
        "state": d.state,
        "group_epoch": d.group_epoch,
        "assignment_epoch": d.assignment_epoch,
        "assignor": d.assignor,
        "coordinator": {"id": d.coordinator, "address": coordinator},
        "members": d.members.iter().map(|m| json!({
            "member_id": m.member_id,
            "client_id": m.client_id,
            "host": m.host,
            "rack": m.rack,
            "member_epoch": m.member_epoch,
            "subscriptions": m.subscriptions,
            "assignment": m.assignment.iter().map(|tp| json!({"topic": tp.topic, "partition": tp.partition})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    if !(a.members || a.state.is_some()) {
        v["offsets"] = offsets
            .iter()
            .map(|(tp, o)| {
                json!({
                    "topic": tp.topic, "partition": tp.partition, "start_offset": o.start_offset,
                    "leader_epoch": o.leader_epoch, "log_end_offset": o.log_end, "lag": o.lag(),
                })
            })
            .collect();
    }
    v
}

async fn delete(cluster: &Cluster, a: &ShareGroupsArgs) -> Result<ExitCode> {
    let groups = groups_of(cluster, a).await?;
    if groups.is_empty() {
        bail!("there are no share groups to delete");
    }
    // Check every group first, so a bad one deletes nothing.
    for g in &groups {
        let d = admin::describe_share_group(cluster, g).await?;
        if !d.exists() {
            bail!("share group '{g}' does not exist");
        }
        if !d.members.is_empty() {
            bail!(
                "cannot delete share group '{g}': it has {} active member{} (state {}); stop its consumers first",
                d.members.len(),
                if d.members.len() == 1 { "" } else { "s" },
                d.state
            );
        }
    }
    for g in &groups {
        admin::delete_share_group(cluster, g).await.map_err(|e| match e.code() {
            Some(ErrorCode::NON_EMPTY_GROUP) => {
                anyhow!("cannot delete share group '{g}': it has active members")
            }
            Some(ErrorCode::GROUP_ID_NOT_FOUND) => anyhow!("share group '{g}' does not exist"),
            _ => e.into(),
        })?;
    }
    let out = match a.format {
        Format::Json => format!("{}\n", json!({"deleted": groups})),
        Format::Text => {
            let names: Vec<String> = groups.iter().map(|g| format!("'{g}'")).collect();
            format!("Deletion of requested share groups ({}) was successful.\n", names.join(", "))
        }
    };
    print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}

async fn delete_offsets(cluster: &Cluster, a: &ShareGroupsArgs) -> Result<ExitCode> {
    let g = &a.groups[0];
    if a.topics.is_empty() {
        bail!("--delete-offsets needs --topic TOPIC");
    }
    let mut topics: Vec<String> = Vec::new();
    for s in &a.topics {
        if s.contains(':') {
            bail!(
                "--delete-offsets works on whole topics: give --topic {}",
                s.split(':').next().unwrap_or("")
            );
        }
        if s.trim().is_empty() {
            bail!("--topic must not be empty");
        }
        if !topics.contains(s) {
            topics.push(s.clone());
        }
    }
    let results = admin::delete_share_group_offsets(cluster, g, &topics).await.map_err(|e| match e.code() {
        Some(ErrorCode::GROUP_ID_NOT_FOUND) => anyhow!("share group '{g}' does not exist"),
        Some(ErrorCode::NON_EMPTY_GROUP) => {
            anyhow!("cannot delete the offsets of share group '{g}': it has active members; stop its consumers first")
        }
        _ => e.into(),
    })?;
    if let Some((t, code, msg)) = results.iter().find(|(_, c, _)| c.is_err()) {
        bail!(
            "cannot delete the offsets of share group '{g}' for topic '{t}': {}",
            msg.clone().unwrap_or_else(|| code.to_string())
        );
    }
    let out = match a.format {
        Format::Json => format!(
            "{}\n",
            json!({"group": g, "topics": results.iter().map(|(t, _, _)| json!({"topic": t, "status": "Successful"})).collect::<Vec<_>>()})
        ),
        Format::Text => {
            let rows: Vec<Vec<String>> =
                results.iter().map(|(t, _, _)| vec![t.clone(), "Successful".into()]).collect();
            format!("\n{}", table(&["TOPIC", "STATUS"], &rows))
        }
    };
    print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}

async fn reset_offsets(cluster: &Cluster, a: &ShareGroupsArgs) -> Result<ExitCode> {
    // The strategy flags are those of `kwire groups reset-offsets`: parse them the same way.
    let ra = ResetArgs {
        group: String::new(),
        topics: a.topics.clone(),
        all_topics: a.all_topics,
        to_earliest: a.to_earliest,
        to_latest: a.to_latest,
        to_offset: a.to_offset,
        shift_by: a.shift_by,
        to_datetime: a.to_datetime.clone(),
        by_duration: a.by_duration.clone(),
        execute: a.execute,
        dry_run: a.dry_run,
        format: a.format,
    };
    let strategy = reset_strategy(&ra)?;
    let which = match (a.topics.is_empty(), a.all_topics) {
        (true, false) => bail!("say which partitions: --topic T[:P,...] or --all-topics"),
        (false, true) => bail!("give either --topic or --all-topics, not both"),
        (true, true) => PartitionSelection::CommittedTopics,
        (false, false) => PartitionSelection::Topics(topic_selections(&a.topics)?),
    };
    let groups = groups_of(cluster, a).await?;
    let mut plans = Vec::new();
    // Plan every group before changing any.
    for g in &groups {
        let d = admin::describe_share_group(cluster, g).await?;
        if !d.exists() && a.all_groups {
            continue;
        }
        let plan = admin::plan_share_reset(cluster, g, &which, strategy).await?;
        if a.all_topics && plan.is_empty() {
            bail!("share group '{g}' has no offsets; name the topics with --topic");
        }
        plans.push((g.clone(), plan));
    }
    if a.execute {
        for (g, plan) in &plans {
            admin::execute_share_reset(cluster, g, plan).await?;
        }
    }
    let out = match a.format {
        Format::Json => {
            let v: Vec<_> = plans
                .iter()
                .map(|(g, plan)| {
                    json!({
                        "group": g,
                        "executed": a.execute,
                        "offsets": plan.iter().map(|p| json!({
                            "topic": p.tp.topic, "partition": p.tp.partition, "new_offset": p.target,
                            "current_offset": p.current,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let v = if v.len() == 1 && !a.all_groups { v[0].clone() } else { serde_json::Value::Array(v) };
            format!("{v}\n")
        }
        Format::Text => {
            let rows: Vec<Vec<String>> = plans
                .iter()
                .flat_map(|(g, plan)| {
                    plan.iter().map(move |p| {
                        vec![g.clone(), p.tp.topic.clone(), p.tp.partition.to_string(), p.target.to_string()]
                    })
                })
                .collect();
            format!("\n{}", table(&["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], &rows))
        }
    };
    print_out(&out)?;
    if !a.execute {
        eprintln!("kwire: dry run: nothing was changed; add --execute to apply");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::Parser;

    fn args(line: &str) -> ShareGroupsArgs {
        let argv = std::iter::once("kwire").chain(["share-groups"]).chain(line.split_whitespace());
        match Cli::try_parse_from(argv).expect("parses").command {
            crate::args::Command::ShareGroups(a) => a,
            c => panic!("{c:?}"),
        }
    }

    fn check(line: &str) -> Result<Action> {
        let a = args(line);
        let act = action(&a)?;
        check_flags(&a, act)?;
        Ok(act)
    }

    #[test]
    fn kafka_share_groups_flag_forms() {
        assert_eq!(check("--list").unwrap(), Action::List);
        assert_eq!(args("--list --state").state.as_deref(), Some(""));
        assert_eq!(args("--list --state Empty,Stable").state.as_deref(), Some("Empty,Stable"));
        assert_eq!(check("--describe --group g --members --verbose").unwrap(), Action::Describe);
        assert_eq!(check("--describe --group g --state").unwrap(), Action::Describe);
        assert_eq!(check("--describe --all-groups --offsets").unwrap(), Action::Describe);
        assert_eq!(check("--delete --group a --group b").unwrap(), Action::Delete);
        assert_eq!(check("--delete-offsets --group g --topic t").unwrap(), Action::DeleteOffsets);
        assert_eq!(
            check("--reset-offsets --group g --topic t --to-earliest --execute").unwrap(),
            Action::ResetOffsets
        );
    }

    #[test]
    fn bad_combinations_are_one_line() {
        let e = |l: &str| check(l).unwrap_err().to_string();
        assert_eq!(
            e(""),
            "say what to do: one of --list, --describe, --delete, --delete-offsets, --reset-offsets"
        );
        assert_eq!(e("--list --describe"), "give only one of --list, --describe");
        assert_eq!(e("--describe"), "--describe needs --group GROUP or --all-groups");
        assert_eq!(e("--list --group g"), "--group does not go with --list");
        assert_eq!(e("--delete --group g --to-earliest"), "--to-earliest does not go with --delete");
        assert_eq!(
            e("--describe --group g --members --offsets"),
            "give only one of --members, --offsets, --state with --describe"
        );
        assert_eq!(e("--reset-offsets --group a --group b --topic t"), "--reset-offsets takes one --group");
        assert_eq!(e("--describe --group g --all-groups"), "give either --group or --all-groups, not both");
    }

    #[test]
    fn states_parse_case_insensitively() {
        assert_eq!(parse_states("empty, STABLE").unwrap(), vec!["Empty", "Stable"]);
        assert_eq!(
            parse_states("Rebalancing").unwrap_err().to_string(),
            "invalid share group state 'Rebalancing'; valid states are: Unknown, Empty, Stable, Dead, Assigning"
        );
    }
}
