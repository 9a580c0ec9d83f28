//! `kwire reassign` (kafka-reassign-partitions.sh), `kwire elect-leaders`
//! (kafka-leader-election.sh), `kwire features` (kafka-features.sh) and
//! `kwire quorum` (kafka-metadata-quorum.sh): the Java tools' flags, JSON
//! files and output lines; errors are one line on stderr and a non-zero
//! exit, and every check runs before anything is changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use kwire_meta::features::{self, FeatureUpgradeType, QuorumInfo, QuorumReplica};
use kwire_meta::reassign::{self, BrokerRack, ELECTION_NOT_NEEDED, ElectionType, OngoingReassignment};
use kwire_meta::{Cluster, MetaError, base64_url};
use kwire_proto::TopicPartition;
use serde_json::{Value, json};

use super::reassign_json::{
    TargetPartition, format_reassignment, parse_election_partitions, parse_reassignment, parse_topics_to_move,
};
use super::transactions::tab_table;
use crate::args::format::Format;
use crate::args::reassign::{
    ElectLeadersArgs, ElectionKind, FeaturesArgs, FeaturesChangeArgs, FeaturesCmd, QuorumArgs, QuorumCmd,
    ReassignAction, ReassignArgs,
};
use crate::config::ClientSettings;

const CANNOT_EXECUTE: &str = "Cannot execute because there is an existing partition assignment.  Use --additional \
     to override this and create a new partition assignment in addition to the existing one. The --additional flag \
     can also be used to change the throttle by resubmitting the current reassignment.";
const RUN_VERIFY: &str = "Warning: You must run --verify periodically, until the reassignment completes, to \
     ensure the throttle is removed.";

fn tps(list: impl IntoIterator<Item = TopicPartition>) -> String {
    list.into_iter().map(|tp| tp.to_string()).collect::<Vec<_>>().join(",")
}

fn ids(list: impl IntoIterator<Item = i32>) -> String {
    list.into_iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",")
}

fn s(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn print_json(v: &Value) {
    println!("{v}");
}

/// The action named by the positional form or one of the `--ACTION` flags (exactly one).
fn action(a: &ReassignArgs) -> Result<ReassignAction> {
    let mut found: BTreeSet<&'static str> = BTreeSet::new();
    let name = |x: ReassignAction| match x {
        ReassignAction::Generate => "generate",
        ReassignAction::Execute => "execute",
        ReassignAction::Verify => "verify",
        ReassignAction::Cancel => "cancel",
        ReassignAction::List => "list",
    };
    if let Some(x) = a.action {
        found.insert(name(x));
    }
    for (on, n) in [
        (a.generate, "generate"),
        (a.execute, "execute"),
        (a.verify, "verify"),
        (a.cancel, "cancel"),
        (a.list, "list"),
    ] {
        if on {
            found.insert(n);
        }
    }
    let all = [
        ReassignAction::Generate,
        ReassignAction::Execute,
        ReassignAction::Verify,
        ReassignAction::Cancel,
        ReassignAction::List,
    ];
    match found.len() {
        1 => Ok(all.into_iter().find(|x| found.contains(name(*x))).unwrap_or(ReassignAction::List)),
        0 => bail!(
            "say what to do: one of generate, execute, verify, cancel, list (or --generate, --execute, ...)"
        ),
        _ => bail!("only one action at a time, got {}", found.into_iter().collect::<Vec<_>>().join(" and ")),
    }
}

/// Rejects flags the action does not use (as the Java tool does), before any I/O.
fn check_flags(a: &ReassignArgs, act: ReassignAction) -> Result<()> {
    use ReassignAction::*;
    let used: [(bool, &str, &[ReassignAction]); 8] = [
        (a.topics_to_move_json_file.is_some(), "--topics-to-move-json-file", &[Generate]),
        (!a.broker_list.is_empty(), "--broker-list", &[Generate]),
        (a.reassignment_json_file.is_some(), "--reassignment-json-file", &[Execute, Verify, Cancel]),
        (a.throttle.is_some(), "--throttle", &[Execute]),
        (a.replica_alter_log_dirs_throttle.is_some(), "--replica-alter-log-dirs-throttle", &[Execute]),
        (a.additional, "--additional", &[Execute]),
        (a.preserve_throttles, "--preserve-throttles", &[Verify, Cancel]),
        (a.disable_rack_aware, "--disable-rack-aware", &[Generate]),
    ];
    for (on, flag, ok) in used {
        if on && !ok.contains(&act) {
            bail!("{flag} can't be used with {}", format!("{act:?}").to_lowercase());
        }
    }
    Ok(())
}

fn read(path: Option<&PathBuf>, flag: &str, act: &str) -> Result<String> {
    let Some(p) = path else { bail!("{act} needs {flag} FILE") };
    std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
}

pub async fn run(settings: &ClientSettings, a: ReassignArgs) -> Result<ExitCode> {
    let act = action(&a)?;
    check_flags(&a, act)?;
    let cluster = Cluster::new(settings.cluster.clone());
    match act {
        ReassignAction::Generate => generate(&cluster, &a).await?,
        ReassignAction::Execute => execute(&cluster, &a).await?,
        ReassignAction::Verify => verify(&cluster, &a).await?,
        ReassignAction::Cancel => cancel(&cluster, &a).await?,
        ReassignAction::List => list(&cluster, a.format).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Current replicas of every partition of `topics`; an unknown topic is an error.
async fn current_of_topics(
    cluster: &Cluster,
    topics: &[String],
) -> Result<BTreeMap<TopicPartition, Vec<i32>>> {
    let md = cluster.fetch_metadata(Some(topics)).await?;
    let mut out = BTreeMap::new();
    for t in topics {
        let Some(info) = md.topics.get(t) else { bail!("topic '{t}' not found") };
        for p in &info.partitions {
            out.insert(TopicPartition::new(t.clone(), p.partition), p.replicas.clone());
        }
    }
    Ok(out)
}

async fn generate(cluster: &Cluster, a: &ReassignArgs) -> Result<()> {
    let topics = parse_topics_to_move(&read(
        a.topics_to_move_json_file.as_ref(),
        "--topics-to-move-json-file",
        "generate",
    )?)?;
    if a.broker_list.is_empty() {
        bail!("generate needs --broker-list ID[,ID...]");
    }
    let mut seen = BTreeSet::new();
    if let Some(d) = a.broker_list.iter().find(|b| !seen.insert(**b)) {
        bail!("broker list contains duplicate entries: {d}");
    }
    let current = current_of_topics(cluster, &topics).await?;
    let md = cluster.last_metadata().context("no metadata")?;
    let missing: Vec<i32> = a.broker_list.iter().copied().filter(|b| !md.brokers.contains_key(b)).collect();
    if !missing.is_empty() {
        bail!("no broker {} in the cluster (it has {})", ids(missing), ids(md.brokers.keys().copied()));
    }
    let rack_aware = !a.disable_rack_aware;
    let brokers: Vec<BrokerRack> = a
        .broker_list
        .iter()
        .map(|id| BrokerRack {
            id: *id,
            rack: md.brokers.get(id).and_then(|b| b.rack.clone()).filter(|_| rack_aware),
        })
        .collect();
    let racked = brokers.iter().filter(|b| b.rack.is_some()).count();
    if rack_aware && racked != 0 && racked != brokers.len() {
        bail!(
            "not all brokers have rack information; add --disable-rack-aware to make the assignment without rack information"
        );
    }
    let mut proposed = BTreeMap::new();
    for t in &topics {
        let parts: Vec<(&TopicPartition, &Vec<i32>)> =
            current.iter().filter(|(tp, _)| &tp.topic == t).collect();
        let rf = parts.first().map(|(_, r)| r.len()).unwrap_or(1);
        let n = i32::try_from(parts.len()).unwrap_or(i32::MAX);
        for (p, r) in reassign::propose_assignment(&brokers, n, rf)?.into_iter().enumerate() {
            proposed.insert(TopicPartition::new(t.clone(), i32::try_from(p).unwrap_or(i32::MAX)), r);
        }
    }
    let (cur, prop) = (format_reassignment(&current), format_reassignment(&proposed));
    if a.format == Format::Json {
        let cur: Value = serde_json::from_str(&cur)?;
        let prop: Value = serde_json::from_str(&prop)?;
        print_json(&json!({"current": cur, "proposed": prop}));
    } else {
        println!("Current partition replica assignment\n{cur}\n");
        println!("Proposed partition reassignment configuration\n{prop}");
    }
    Ok(())
}

async fn execute(cluster: &Cluster, a: &ReassignArgs) -> Result<()> {
    let targets = parse_reassignment(
        &read(a.reassignment_json_file.as_ref(), "--reassignment-json-file", "execute")?,
        true,
    )?;
    if let Some(p) = targets.iter().find(|p| p.log_dirs.iter().any(|d| d != "any")) {
        bail!(
            "{}: moving replicas between log directories (log_dirs other than \"any\") is not supported by kwire; use \"any\"",
            p.tp
        );
    }
    let ongoing = cluster.list_partition_reassignments(None).await?;
    if !a.additional && !ongoing.is_empty() {
        bail!("{CANNOT_EXECUTE}");
    }
    let topics: Vec<String> =
        targets.iter().map(|p| p.tp.topic.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let all = current_of_topics(cluster, &topics).await?;
    let md = cluster.last_metadata().context("no metadata")?;
    let brokers: BTreeSet<i32> = targets.iter().flat_map(|p| p.replicas.iter().copied()).collect();
    if let Some(b) = brokers.iter().find(|b| !md.brokers.contains_key(b)) {
        bail!("unknown broker id {b} (the cluster has {})", ids(md.brokers.keys().copied()));
    }
    let missing: Vec<TopicPartition> =
        targets.iter().filter(|p| !all.contains_key(&p.tp)).map(|p| p.tp.clone()).collect();
    if !missing.is_empty() {
        bail!("unable to find partition: {}", tps(missing));
    }
    let proposed: BTreeMap<TopicPartition, Vec<i32>> =
        targets.iter().map(|p| (p.tp.clone(), p.replicas.clone())).collect();
    let current: BTreeMap<TopicPartition, Vec<i32>> =
        all.into_iter().filter(|(tp, _)| proposed.contains_key(tp)).collect();
    let json_out = a.format == Format::Json;
    if !json_out {
        println!(
            "Current partition replica assignment\n\n{}\n\nSave this to use as the --reassignment-json-file option during rollback",
            format_reassignment(&current)
        );
    }
    let mut set_throttles = None;
    if a.throttle.is_some() || a.replica_alter_log_dirs_throttle.is_some() {
        if !json_out {
            println!("{RUN_VERIFY}");
        }
        if let Some(rate) = a.throttle {
            let moves = reassign::proposed_moves(&ongoing, &proposed, &current);
            let t = reassign::throttles(&moves);
            cluster.set_reassignment_throttle(&t, rate).await?;
            set_throttles = Some(t);
            if !json_out {
                println!("The inter-broker throttle limit was set to {rate} B/s");
            }
        }
        if let Some(rate) = a.replica_alter_log_dirs_throttle {
            // Only replicas with a log dir move are throttled; kwire moves none.
            cluster.set_log_dir_throttle(&BTreeSet::new(), rate).await?;
            if !json_out {
                println!("The replica-alter-dir throttle limit was set to {rate} B/s");
            }
        }
    }
    let req: Vec<(TopicPartition, Option<Vec<i32>>)> =
        proposed.iter().map(|(tp, r)| (tp.clone(), Some(r.clone()))).collect();
    let results = cluster.alter_partition_reassignments(&req).await?;
    let failed: Vec<String> =
        results.iter().filter_map(|(tp, r)| r.as_ref().err().map(|e| format!("{tp}: {e}"))).collect();
    if !failed.is_empty() {
        if failed.len() == proposed.len() && !a.additional {
            // Nothing started: take back the throttles set for it.
            if let Some(t) = set_throttles {
                let topics: BTreeSet<String> = t.leader.keys().chain(t.follower.keys()).cloned().collect();
                let _ = cluster.clear_reassignment_throttles(&t.brokers, &topics).await;
            }
        }
        bail!("error reassigning partition(s): {}", failed.join("; "));
    }
    if json_out {
        let cur: Value = serde_json::from_str(&format_reassignment(&current))?;
        print_json(
            &json!({"started": proposed.keys().map(ToString::to_string).collect::<Vec<_>>(), "rollback": cur, "throttle": a.throttle}),
        );
    } else {
        println!(
            "Successfully started partition reassignment{} for {}",
            s(proposed.len()),
            tps(proposed.keys().cloned())
        );
    }
    Ok(())
}

/// Per target: "completed", "in progress", or the replicas it has instead.
fn state_line(tp: &TopicPartition, done: bool, current: &[i32], target: &[i32]) -> String {
    if !done {
        format!("Reassignment of partition {tp} is still in progress.")
    } else if current == target {
        format!("Reassignment of partition {tp} is completed.")
    } else {
        format!(
            "There is no active reassignment of partition {tp}, but replica set is {} rather than {}.",
            ids(current.iter().copied()),
            ids(target.iter().copied())
        )
    }
}

async fn clear_throttles(cluster: &Cluster, targets: &[TargetPartition], json_out: bool) -> Result<()> {
    let md = cluster.fetch_metadata(Some(&[])).await?;
    let mut brokers: BTreeSet<i32> = md.brokers.keys().copied().collect();
    brokers.extend(
        targets.iter().flat_map(|p| p.replicas.iter().copied()).filter(|b| md.brokers.contains_key(b)),
    );
    let topics: BTreeSet<String> = targets.iter().map(|p| p.tp.topic.clone()).collect();
    if !json_out {
        println!(
            "Clearing broker-level throttles on broker{} {}",
            s(brokers.len()),
            ids(brokers.iter().copied())
        );
    }
    cluster.clear_reassignment_throttles(&brokers, &BTreeSet::new()).await?;
    if !json_out {
        println!(
            "Clearing topic-level throttles on topic{} {}",
            s(topics.len()),
            topics.iter().cloned().collect::<Vec<_>>().join(",")
        );
    }
    let existing: BTreeSet<String> = {
        let list: Vec<String> = topics.iter().cloned().collect();
        let md = cluster.fetch_metadata(Some(&list)).await?;
        topics.into_iter().filter(|t| md.topics.contains_key(t)).collect()
    };
    cluster.clear_reassignment_throttles(&BTreeSet::new(), &existing).await?;
    Ok(())
}

async fn verify(cluster: &Cluster, a: &ReassignArgs) -> Result<()> {
    let targets = parse_reassignment(
        &read(a.reassignment_json_file.as_ref(), "--reassignment-json-file", "verify")?,
        false,
    )?;
    let ongoing = cluster.list_partition_reassignments(None).await?;
    let running: BTreeMap<TopicPartition, &OngoingReassignment> =
        ongoing.iter().map(|r| (TopicPartition::new(r.topic.clone(), r.partition), r)).collect();
    let topics: Vec<String> =
        targets.iter().map(|p| p.tp.topic.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let md = cluster.fetch_metadata(Some(&topics)).await?;
    let mut sorted = targets.clone();
    sorted.sort_by(|x, y| x.tp.cmp(&y.tp));
    let mut lines = Vec::new();
    let mut states = Vec::new();
    for p in &sorted {
        let (done, current) = match running.get(&p.tp) {
            Some(r) => (false, r.replicas.clone()),
            None => {
                let cur = md
                    .topics
                    .get(&p.tp.topic)
                    .and_then(|t| t.partitions.iter().find(|x| x.partition == p.tp.partition))
                    .map(|x| x.replicas.clone())
                    .unwrap_or_default();
                (true, cur)
            }
        };
        lines.push(state_line(&p.tp, done, &current, &p.replicas));
        let state = if !done {
            "in_progress"
        } else if current == p.replicas {
            "completed"
        } else {
            "not_active"
        };
        states.push(
            json!({"partition": p.tp.to_string(), "state": state, "replicas": current, "target": p.replicas}),
        );
    }
    let json_out = a.format == Format::Json;
    if !json_out {
        println!("Status of partition reassignment:");
        for l in &lines {
            println!("{l}");
        }
        println!();
    }
    let cleared = ongoing.is_empty() && !a.preserve_throttles;
    if cleared {
        clear_throttles(cluster, &targets, json_out).await?;
    }
    if json_out {
        print_json(
            &json!({"partitions": states, "ongoing": !ongoing.is_empty(), "throttles_cleared": cleared}),
        );
    }
    Ok(())
}

async fn cancel(cluster: &Cluster, a: &ReassignArgs) -> Result<()> {
    let targets = parse_reassignment(
        &read(a.reassignment_json_file.as_ref(), "--reassignment-json-file", "cancel")?,
        false,
    )?;
    let parts: Vec<TopicPartition> = targets.iter().map(|p| p.tp.clone()).collect();
    let running = cluster.list_partition_reassignments(Some(&parts)).await?;
    let to_cancel: Vec<(TopicPartition, Option<Vec<i32>>)> =
        running.iter().map(|r| (TopicPartition::new(r.topic.clone(), r.partition), None)).collect();
    let json_out = a.format == Format::Json;
    let mut cancelled = Vec::new();
    if to_cancel.is_empty() {
        if !json_out {
            println!("None of the specified partition reassignments are active.");
        }
    } else {
        let results = cluster.alter_partition_reassignments(&to_cancel).await?;
        let failed: Vec<String> =
            results.iter().filter_map(|(tp, r)| r.as_ref().err().map(|e| format!("{tp}: {e}"))).collect();
        if !failed.is_empty() {
            bail!("error cancelling partition reassignment{} for: {}", s(failed.len()), failed.join("; "));
        }
        cancelled = results.into_keys().collect();
        if !json_out {
            println!(
                "Successfully cancelled partition reassignment{} for: {}",
                s(cancelled.len()),
                tps(cancelled.iter().cloned())
            );
        }
    }
    if !json_out {
        println!("None of the specified partition moves are active.");
    }
    if !a.preserve_throttles {
        clear_throttles(cluster, &targets, json_out).await?;
    }
    if json_out {
        print_json(
            &json!({"cancelled": cancelled.iter().map(ToString::to_string).collect::<Vec<_>>(), "throttles_cleared": !a.preserve_throttles}),
        );
    }
    Ok(())
}

async fn list(cluster: &Cluster, format: Format) -> Result<()> {
    let running = cluster.list_partition_reassignments(None).await?;
    if format == Format::Json {
        let v: Vec<Value> = running
            .iter()
            .map(|r| json!({"topic": r.topic, "partition": r.partition, "replicas": r.replicas, "adding": r.adding, "removing": r.removing}))
            .collect();
        print_json(&json!({"reassignments": v}));
        return Ok(());
    }
    if running.is_empty() {
        println!("No partition reassignments found.");
        return Ok(());
    }
    println!("Current partition reassignments:");
    for r in &running {
        let mut line = format!("{}-{}: replicas: {}.", r.topic, r.partition, ids(r.replicas.iter().copied()));
        if !r.adding.is_empty() {
            line.push_str(&format!(" adding: {}.", ids(r.adding.iter().copied())));
        }
        if !r.removing.is_empty() {
            line.push_str(&format!(" removing: {}.", ids(r.removing.iter().copied())));
        }
        println!("{line}");
    }
    Ok(())
}

// ---------------------------------------------------------------- elect-leaders

pub async fn elect(settings: &ClientSettings, a: ElectLeadersArgs) -> Result<ExitCode> {
    let sources =
        [a.all_topic_partitions, a.path_to_json_file.is_some(), a.topic.is_some() || a.partition.is_some()];
    match sources.iter().filter(|x| **x).count() {
        0 => bail!(
            "say which partitions: --topic T --partition P, --path-to-json-file FILE or --all-topic-partitions"
        ),
        1 => {}
        _ => bail!("use only one of --topic/--partition, --path-to-json-file and --all-topic-partitions"),
    }
    let parts: Option<Vec<TopicPartition>> = if a.all_topic_partitions {
        None
    } else if let Some(p) = &a.path_to_json_file {
        let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        Some(parse_election_partitions(&text)?)
    } else {
        match (&a.topic, a.partition) {
            (Some(t), Some(p)) => Some(vec![TopicPartition::new(t.clone(), p)]),
            (Some(_), None) => bail!("--topic needs --partition"),
            _ => bail!("--partition needs --topic"),
        }
    };
    let (kind, name) = match a.election_type {
        ElectionKind::Preferred => (ElectionType::Preferred, "PREFERRED"),
        ElectionKind::Unclean => (ElectionType::Unclean, "UNCLEAN"),
    };
    let cluster = Cluster::new(settings.cluster.clone());
    let results = cluster.elect_leaders(kind, parts.as_deref()).await?;
    let mut ok = Vec::new();
    let mut noop = Vec::new();
    let mut failed: Vec<(TopicPartition, MetaError)> = Vec::new();
    for (tp, r) in results {
        match r {
            Ok(()) => ok.push(tp),
            Err(e) if e.code() == Some(ELECTION_NOT_NEEDED) => noop.push(tp),
            Err(e) => failed.push((tp, e)),
        }
    }
    if a.format == Format::Json {
        print_json(&json!({
            "election_type": name,
            "elected": ok.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "not_needed": noop.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "failed": failed.iter().map(|(tp, e)| json!({"partition": tp.to_string(), "error": e.to_string()})).collect::<Vec<_>>(),
        }));
    } else {
        let list = |v: &[TopicPartition]| v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        if !ok.is_empty() {
            println!("Successfully completed leader election ({name}) for partitions {}", list(&ok));
        }
        if !noop.is_empty() {
            println!("Valid replica already elected for partitions {}", list(&noop));
        }
        for (tp, e) in &failed {
            println!("Error completing leader election ({name}) for partition: {tp}: {e}");
        }
    }
    if !failed.is_empty() {
        bail!("{} replica(s) could not be elected", failed.len());
    }
    if kind == ElectionType::Unclean && !noop.is_empty() && parts.is_some() {
        // An unclean election asked for by name on a partition that has a
        // live leader did nothing: say so instead of a silent success.
        bail!(
            "ELECTION_NOT_NEEDED: {} already {} a live leader; an unclean election is only for partitions without one",
            noop.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            if noop.len() == 1 { "has" } else { "have" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- features

fn parse_feature(spec: &str) -> Result<(String, i16)> {
    let Some((name, level)) = spec.split_once('=') else {
        bail!("can't parse feature=level string {spec}: equals sign not found")
    };
    let level: i16 = level.trim().parse().map_err(|_| {
        anyhow::anyhow!(
            "can't parse feature=level string {spec}: unable to parse {} as a short",
            level.trim()
        )
    })?;
    Ok((name.trim().to_owned(), level))
}

fn updates_of(a: &FeaturesChangeArgs, op: &str) -> Result<Vec<(String, i16)>> {
    if a.release_version.is_some() && (a.metadata.is_some() || !a.feature.is_empty()) {
        bail!("can not specify --release-version with other feature flags");
    }
    let mut out: Vec<(String, i16)> = Vec::new();
    let mv = a.release_version.as_deref().or(a.metadata.as_deref());
    if let Some(v) = mv {
        out.push((features::METADATA_VERSION.to_owned(), features::metadata_level(v)?));
    }
    for f in &a.feature {
        let (name, level) = parse_feature(f)?;
        if out.iter().any(|(n, _)| *n == name) {
            bail!("feature {name} was specified more than once");
        }
        out.push((name, level));
    }
    if out.is_empty() {
        bail!("you must specify at least one feature to {op}");
    }
    Ok(out)
}

async fn apply_features(
    cluster: &Cluster,
    op: &str,
    updates: Vec<(String, i16)>,
    ty: FeatureUpgradeType,
    dry_run: bool,
    format: Format,
) -> Result<()> {
    let req: Vec<(String, i16, FeatureUpgradeType)> =
        updates.iter().map(|(n, l)| (n.clone(), *l, ty)).collect();
    let results = cluster.update_features(&req, dry_run).await?;
    let level: BTreeMap<&str, i16> = updates.iter().map(|(n, l)| (n.as_str(), *l)).collect();
    let mut failures = 0;
    let mut docs = Vec::new();
    for (name, r) in &results {
        let l = level.get(name.as_str()).copied().unwrap_or(0);
        let what = if op == "disable" { format!("disable {name}") } else { format!("{op} {name} to {l}") };
        match r {
            Ok(()) => {
                let verb = if dry_run { "can be" } else { "was" };
                let obj = if op == "disable" { "disabled.".to_owned() } else { format!("{op}d to {l}.") };
                if format == Format::Text {
                    println!("{name} {verb} {obj}");
                }
                docs.push(json!({"feature": name, "level": l, "ok": true}));
            }
            Err(e) => {
                failures += 1;
                if format == Format::Text {
                    println!("{} {what}. {e}", if dry_run { "Can not" } else { "Could not" });
                }
                docs.push(json!({"feature": name, "level": l, "ok": false, "error": e.to_string()}));
            }
        }
    }
    if format == Format::Json {
        print_json(&json!({"operation": op, "dry_run": dry_run, "results": docs}));
    }
    if failures > 0 {
        bail!("{failures} out of {} operation(s) failed", results.len());
    }
    Ok(())
}

pub async fn features(settings: &ClientSettings, a: FeaturesArgs) -> Result<ExitCode> {
    // Every flag is checked before the first request.
    let plan = match &a.cmd {
        FeaturesCmd::Describe(_) => None,
        FeaturesCmd::Upgrade(c) => {
            if c.unsafe_ {
                bail!("--unsafe is only for downgrade and disable");
            }
            Some(("upgrade", updates_of(c, "upgrade")?, FeatureUpgradeType::Upgrade, c.dry_run, c.format))
        }
        FeaturesCmd::Downgrade(c) => {
            let ty = if c.unsafe_ {
                FeatureUpgradeType::UnsafeDowngrade
            } else {
                FeatureUpgradeType::SafeDowngrade
            };
            Some(("downgrade", updates_of(c, "downgrade")?, ty, c.dry_run, c.format))
        }
        FeaturesCmd::Disable(c) => {
            let ty = if c.unsafe_ {
                FeatureUpgradeType::UnsafeDowngrade
            } else {
                FeatureUpgradeType::SafeDowngrade
            };
            let mut ups: Vec<(String, i16)> = Vec::new();
            for f in &c.feature {
                if ups.iter().any(|(n, _)| n == f) {
                    bail!("feature {f} was specified more than once");
                }
                ups.push((f.clone(), 0));
            }
            Some(("disable", ups, ty, c.dry_run, c.format))
        }
    };
    let cluster = Cluster::new(settings.cluster.clone());
    match (plan, a.cmd) {
        (Some((op, ups, ty, dry, format)), _) => apply_features(&cluster, op, ups, ty, dry, format).await?,
        (None, FeaturesCmd::Describe(d)) => {
            let fm = cluster.describe_features().await?;
            let epoch = fm.epoch.map_or_else(|| "-".to_owned(), |e| e.to_string());
            if d.format == Format::Json {
                let v: Vec<Value> = fm
                    .features
                    .iter()
                    .map(|f| {
                        json!({"feature": f.name, "supported_min": f.supported_min, "supported_max": f.supported_max,
                               "finalized": f.finalized,
                               "finalized_name": features::level_to_string(&f.name, f.finalized)})
                    })
                    .collect();
                print_json(&json!({"features": v, "epoch": fm.epoch}));
            } else {
                for f in &fm.features {
                    let l = |x| features::level_to_string(&f.name, x);
                    println!(
                        "Feature: {:<40}  SupportedMinVersion: {:<15}  SupportedMaxVersion: {:<15}  FinalizedVersionLevel: {:<15}  Epoch: {epoch}",
                        f.name,
                        l(f.supported_min),
                        l(f.supported_max),
                        l(f.finalized)
                    );
                }
            }
        }
        (None, _) => {}
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- quorum

fn endpoints(q: &QuorumInfo, id: i32) -> Vec<String> {
    q.nodes
        .iter()
        .find(|n| n.node_id == id)
        .map(|n| n.listeners.iter().map(|l| format!("{}://{}:{}", l.name, l.host, l.port)).collect())
        .unwrap_or_default()
}

fn replica_state(q: &QuorumInfo, list: &[QuorumReplica]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|r| {
            let mut s = format!("{{\"id\": {}", r.replica_id);
            if r.directory_id != [0; 16] {
                s.push_str(&format!(", \"directoryId\": \"{}\"", base64_url(&r.directory_id)));
            }
            let e = endpoints(q, r.replica_id);
            if !e.is_empty() {
                let quoted: Vec<String> = e.iter().map(|x| format!("\"{x}\"")).collect();
                s.push_str(&format!(", \"endpoints\": [{}]", quoted.join(", ")));
            }
            s.push('}');
            s
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Leader lag figures as kafka-metadata-quorum.sh computes them.
fn max_lag(q: &QuorumInfo) -> Result<(i64, i64)> {
    let Some(leader) = q.voters.iter().find(|v| v.replica_id == q.leader_id) else {
        bail!("the quorum has no leader among its voters (leader id {})", q.leader_id)
    };
    let Some(slowest) = q.voters.iter().min_by_key(|v| v.log_end_offset) else {
        bail!("the quorum has no voters")
    };
    let lag = leader.log_end_offset - slowest.log_end_offset;
    let time = if slowest.replica_id == leader.replica_id {
        0
    } else if leader.last_caught_up_timestamp >= 0 && slowest.last_caught_up_timestamp >= 0 {
        leader.last_caught_up_timestamp - slowest.last_caught_up_timestamp
    } else {
        -1
    };
    Ok((lag, time))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub async fn quorum(settings: &ClientSettings, a: QuorumArgs) -> Result<ExitCode> {
    let QuorumCmd::Describe(d) = a.cmd;
    if d.status && d.replication {
        bail!("only one of --status or --replication should be specified with describe");
    }
    let cluster = Cluster::new(settings.cluster.clone());
    let q = cluster.describe_quorum().await?;
    if d.status {
        let md = cluster.fetch_metadata(Some(&[])).await?;
        let (lag, lag_ms) = max_lag(&q)?;
        if d.format == Format::Json {
            let ids = |l: &[QuorumReplica]| l.iter().map(|r| r.replica_id).collect::<Vec<_>>();
            print_json(&json!({
                "cluster_id": md.cluster_id, "leader_id": q.leader_id, "leader_epoch": q.leader_epoch,
                "high_watermark": q.high_watermark, "max_follower_lag": lag, "max_follower_lag_time_ms": lag_ms,
                "voters": ids(&q.voters), "observers": ids(&q.observers),
            }));
        } else {
            println!("ClusterId:              {}", md.cluster_id.clone().unwrap_or_default());
            println!("LeaderId:               {}", q.leader_id);
            println!("LeaderEpoch:            {}", q.leader_epoch);
            println!("HighWatermark:          {}", q.high_watermark);
            println!("MaxFollowerLag:         {lag}");
            println!("MaxFollowerLagTimeMs:   {lag_ms}");
            println!("CurrentVoters:          {}", replica_state(&q, &q.voters));
            println!("CurrentObservers:       {}", replica_state(&q, &q.observers));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(leader) = q.voters.iter().find(|v| v.replica_id == q.leader_id) else {
        bail!("the quorum has no leader among its voters (leader id {})", q.leader_id)
    };
    let now = now_ms();
    let ts = |t: i64| {
        if t < 0 {
            "-1".to_owned()
        } else if d.human_readable {
            format!("{} ms ago", now.saturating_sub(t).max(0))
        } else {
            t.to_string()
        }
    };
    let mut rows: Vec<(&QuorumReplica, &str)> = vec![(leader, "Leader")];
    rows.extend(q.voters.iter().filter(|v| v.replica_id != q.leader_id).map(|v| (v, "Follower")));
    rows.extend(q.observers.iter().map(|v| (v, "Observer")));
    if d.format == Format::Json {
        let v: Vec<Value> = rows
            .iter()
            .map(|(r, status)| {
                json!({"node_id": r.replica_id, "directory_id": base64_url(&r.directory_id), "log_end_offset": r.log_end_offset,
                       "lag": leader.log_end_offset - r.log_end_offset, "last_fetch_timestamp": r.last_fetch_timestamp,
                       "last_caught_up_timestamp": r.last_caught_up_timestamp, "status": status})
            })
            .collect();
        print_json(&json!({"replicas": v}));
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|(r, status)| {
            vec![
                r.replica_id.to_string(),
                base64_url(&r.directory_id),
                r.log_end_offset.to_string(),
                (leader.log_end_offset - r.log_end_offset).to_string(),
                ts(r.last_fetch_timestamp),
                ts(r.last_caught_up_timestamp),
                (*status).to_owned(),
            ]
        })
        .collect();
    print!(
        "{}",
        tab_table(
            &[
                "NodeId",
                "DirectoryId",
                "LogEndOffset",
                "Lag",
                "LastFetchTimestamp",
                "LastCaughtUpTimestamp",
                "Status"
            ],
            &table
        )
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn reassign_args(argv: &[&str]) -> ReassignArgs {
        let mut full = vec!["kwire", "reassign"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).map(|c| c.command) {
            Ok(Command::Reassign(a)) => a,
            other => panic!("{argv:?}: {other:?}"),
        }
    }

    #[test]
    fn both_action_forms_and_flag_checks() {
        let a = reassign_args(&["--execute", "--reassignment-json-file", "f", "--throttle", "5"]);
        assert_eq!(action(&a).unwrap(), ReassignAction::Execute);
        assert!(check_flags(&a, ReassignAction::Execute).is_ok());
        let a = reassign_args(&["verify", "--reassignment-json-file", "f", "--preserve-throttles"]);
        assert_eq!(action(&a).unwrap(), ReassignAction::Verify);
        let a = reassign_args(&[
            "generate",
            "--generate",
            "--broker-list",
            "1,2,3",
            "--topics-to-move-json-file",
            "t",
        ]);
        assert_eq!(action(&a).unwrap(), ReassignAction::Generate);
        assert_eq!(a.broker_list, [1, 2, 3]);
        let a = reassign_args(&["--verify", "--cancel"]);
        assert!(action(&a).unwrap_err().to_string().contains("only one action"));
        assert!(action(&reassign_args(&[])).unwrap_err().to_string().contains("say what to do"));
        let a = reassign_args(&["--verify", "--throttle", "5"]);
        assert!(
            check_flags(&a, ReassignAction::Verify)
                .unwrap_err()
                .to_string()
                .contains("--throttle can't be used")
        );
        let a = reassign_args(&["--list", "--broker-list", "1"]);
        assert!(check_flags(&a, ReassignAction::List).is_err());
        assert!(
            read(None, "--reassignment-json-file", "execute")
                .unwrap_err()
                .to_string()
                .contains("execute needs")
        );
    }

    #[test]
    fn feature_specs() {
        assert_eq!(parse_feature("group.version=1").unwrap(), ("group.version".to_owned(), 1));
        assert!(parse_feature("group.version").unwrap_err().to_string().contains("equals sign"));
        assert!(parse_feature("x=big").unwrap_err().to_string().contains("as a short"));
        let c = FeaturesChangeArgs {
            metadata: None,
            release_version: Some("4.0".into()),
            feature: vec!["a=1".into()],
            unsafe_: false,
            dry_run: true,
            format: Format::Text,
        };
        assert!(updates_of(&c, "upgrade").unwrap_err().to_string().contains("release-version"));
        let c = FeaturesChangeArgs { release_version: None, metadata: Some("3.9".into()), ..c };
        assert_eq!(
            updates_of(&c, "upgrade").unwrap(),
            [("metadata.version".to_owned(), 21), ("a".to_owned(), 1)]
        );
    }

    #[test]
    fn election_and_quorum_flags_parse() {
        for t in ["preferred", "PREFERRED", "unclean", "UNCLEAN"] {
            let c = Cli::try_parse_from([
                "kwire",
                "elect-leaders",
                "--election-type",
                t,
                "--all-topic-partitions",
            ]);
            assert!(c.is_ok(), "{t}");
        }
        assert!(Cli::try_parse_from(["kwire", "quorum", "describe"]).is_err());
        assert!(
            Cli::try_parse_from(["kwire", "quorum", "describe", "--replication", "--human-readable"]).is_ok()
        );
    }
}
