//! `kwire topics`: kafka-topics.sh, natively.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kwire_meta::admin::{
    CONFIG_SOURCE_DEFAULT, ConfigEntry, config_source_name, metric_names_collide, validate_topic_name,
};
use kwire_meta::{Cluster, ConfigOp, MetaError, NewTopic, ResourceType, TopicInfo};
use kwire_proto::ErrorCode;
use serde_json::json;

use super::configs::set_config_json;
use crate::args::format::Format;
use crate::args::topics::{
    TopicAlterArgs, TopicConfigsArgs, TopicCreateArgs, TopicDeleteArgs, TopicDescribeArgs, TopicListArgs,
    TopicsArgs, TopicsCmd, TopicsLegacy,
};
use crate::config::ClientSettings;
use crate::output::table;

/// How long `create`/`delete` wait for the change to show in metadata.
const PROPAGATION_WAIT: Duration = Duration::from_secs(10);

pub async fn run(settings: &ClientSettings, args: TopicsArgs) -> Result<ExitCode> {
    let cmd = match args.cmd {
        Some(cmd) => cmd,
        None => legacy_to_cmd(args.legacy)?,
    };
    let cluster = Cluster::new(settings.cluster.clone());
    match cmd {
        TopicsCmd::Create(a) => create(&cluster, a).await,
        TopicsCmd::List(a) => list(&cluster, a).await,
        TopicsCmd::Describe(a) => describe(&cluster, a).await,
        TopicsCmd::Delete(a) => delete(&cluster, a).await,
        TopicsCmd::Alter(a) => alter(&cluster, a).await,
        TopicsCmd::Configs(a) => configs(&cluster, a).await,
    }
}

/// Maps kafka-topics.sh's flag form onto the subcommands.
fn legacy_to_cmd(l: TopicsLegacy) -> Result<TopicsCmd> {
    let actions: Vec<&str> = [
        (l.create, "--create"),
        (l.list, "--list"),
        (l.describe, "--describe"),
        (l.delete, "--delete"),
        (l.alter, "--alter"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    match actions.len() {
        0 => bail!(
            "say what to do: one of --create, --list, --describe, --delete, --alter \
             (or a subcommand: kwire topics create|list|describe|delete|alter|configs)"
        ),
        1 => {}
        _ => bail!("only one of {} can be given at a time", actions.join(", ")),
    }
    let one_topic = |action: &str| -> Result<String> {
        match l.topics.as_slice() {
            [t] => Ok(t.clone()),
            [] => bail!("{action} needs --topic"),
            many => bail!("{action} takes one --topic, got {}: {}", many.len(), many.join(", ")),
        }
    };
    Ok(if l.create {
        if l.topics.is_empty() {
            bail!("--create needs --topic");
        }
        TopicsCmd::Create(TopicCreateArgs {
            topics: l.topics,
            partitions: l.partitions,
            replication_factor: l.replication_factor,
            configs: l.configs,
            if_not_exists: l.if_not_exists,
            dry_run: false,
            format: l.format,
        })
    } else if l.list {
        TopicsCmd::List(TopicListArgs { exclude_internal: l.exclude_internal, format: l.format })
    } else if l.describe {
        TopicsCmd::Describe(TopicDescribeArgs {
            topics: l.topics,
            under_replicated_partitions: l.under_replicated_partitions,
            unavailable_partitions: l.unavailable_partitions,
            under_min_isr_partitions: l.under_min_isr_partitions,
            exclude_internal: l.exclude_internal,
            format: l.format,
        })
    } else if l.delete {
        if l.topics.is_empty() {
            bail!("--delete needs --topic");
        }
        TopicsCmd::Delete(TopicDeleteArgs { topics: l.topics, if_exists: l.if_exists, format: l.format })
    } else {
        let topic = one_topic("--alter")?;
        match (l.partitions, l.configs.is_empty() && l.delete_configs.is_empty()) {
            (Some(p), true) => {
                TopicsCmd::Alter(TopicAlterArgs { topic, partitions: p, dry_run: false, format: l.format })
            }
            (None, false) => TopicsCmd::Configs(TopicConfigsArgs {
                topic,
                set: l.configs,
                delete: l.delete_configs,
                all: false,
                format: l.format,
            }),
            (Some(_), false) => {
                bail!("--alter changes either --partitions or configs, not both in one command")
            }
            (None, true) => {
                bail!("--alter needs --partitions N (or --config KEY=VALUE / --delete-config KEY)")
            }
        }
    })
}

fn positive_i32(flag: &str, v: i64) -> Result<i32> {
    if v < 1 {
        bail!("{flag} must be at least 1, got {v}");
    }
    i32::try_from(v).map_err(|_| anyhow::anyhow!("{flag} {v} is too large"))
}

fn parse_configs(kvs: &[String]) -> Result<Vec<(String, String)>> {
    kvs.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
            _ => bail!("invalid --config '{kv}': expected KEY=VALUE"),
        })
        .collect()
}

async fn create(cluster: &Cluster, a: TopicCreateArgs) -> Result<ExitCode> {
    let name = match a.topics.as_slice() {
        [t] => t.clone(),
        many => bail!(
            "one topic per create: got {} topics ({}); run one command per topic, nothing was created",
            many.len(),
            many.join(", ")
        ),
    };
    validate_topic_name(&name)?;
    let partitions = a.partitions.map(|p| positive_i32("--partitions", p)).transpose()?;
    let rf = a
        .replication_factor
        .map(|r| {
            let r = positive_i32("--replication-factor", r)?;
            i16::try_from(r).map_err(|_| anyhow::anyhow!("--replication-factor {r} is too large"))
        })
        .transpose()?;
    let configs = parse_configs(&a.configs)?;

    let md = cluster.fetch_metadata(None).await?;
    if let Some(rf) = rf {
        let live = md.brokers.len();
        if usize::try_from(rf).unwrap_or(usize::MAX) > live {
            bail!(
                "replication factor {rf} is larger than the number of live brokers ({live}); nothing was created"
            );
        }
    }
    // --if-not-exists on a topic that exists: nothing to say in text (as
    // kafka-topics.sh), a result all the same in JSON.
    let exists = || {
        if a.format == Format::Json {
            println!("{}", json!({"topic": name, "already_exists": true, "dry_run": a.dry_run}));
        }
    };
    if md.topics.contains_key(&name) {
        if a.if_not_exists {
            exists();
            return Ok(ExitCode::SUCCESS);
        }
        bail!("topic '{name}' already exists");
    }
    if let Some(other) = md.topics.keys().find(|t| metric_names_collide(t, &name)) {
        eprintln!(
            "kwire: warning: topic '{name}' collides with existing topic '{other}' in metric names \
             ('.' and '_' are the same there)"
        );
    }
    let topic = NewTopic { name: name.clone(), partitions, replication_factor: rf, configs };
    let result = cluster.create_topics(&[topic], a.dry_run).await?.into_iter().next();
    let json = |c: &kwire_meta::admin::CreatedTopic| {
        json!({"topic": c.name, "partitions": c.partitions, "replication_factor": c.replication_factor,
               "already_exists": false, "dry_run": a.dry_run})
    };
    match result {
        Some(Ok(c)) if a.format == Format::Json => {
            if !a.dry_run {
                cluster.wait_for_topics(std::slice::from_ref(&name), PROPAGATION_WAIT).await?;
            }
            println!("{}", json(&c));
        }
        Some(Ok(_)) if a.dry_run => {
            println!("Topic {name} can be created (dry run, nothing was created).")
        }
        Some(Ok(_)) => {
            cluster.wait_for_topics(std::slice::from_ref(&name), PROPAGATION_WAIT).await?;
            println!("Created topic {name}.");
        }
        Some(Err(e)) if a.if_not_exists && e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => exists(),
        Some(Err(e)) => return Err(friendly(e)),
        None => bail!("the broker did not answer for topic '{name}'"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Rewords broker errors whose default text is unclear.
fn friendly(e: MetaError) -> anyhow::Error {
    match &e {
        MetaError::Broker { code, message, context, .. } if *code == ErrorCode::INVALID_CONFIG => {
            anyhow::anyhow!("{context}: {}", message.as_deref().unwrap_or("invalid config"))
        }
        _ => e.into(),
    }
}

async fn list(cluster: &Cluster, a: TopicListArgs) -> Result<ExitCode> {
    let names = cluster.list_topics(!a.exclude_internal).await?;
    match a.format {
        Format::Text => {
            for n in names {
                println!("{n}");
            }
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&names)?),
    }
    Ok(ExitCode::SUCCESS)
}

fn partition_filtered(a: &TopicDescribeArgs) -> bool {
    a.under_replicated_partitions || a.unavailable_partitions || a.under_min_isr_partitions
}

async fn describe(cluster: &Cluster, a: TopicDescribeArgs) -> Result<ExitCode> {
    let md = if a.topics.is_empty() {
        cluster.fetch_metadata(None).await?
    } else {
        cluster.fetch_metadata(Some(&a.topics)).await?
    };
    let missing: Vec<String> = a.topics.iter().filter(|t| !md.topics.contains_key(*t)).cloned().collect();
    if !missing.is_empty() {
        bail!("{}", do_not_exist(&missing));
    }
    let topics: Vec<&TopicInfo> =
        md.topics.values().map(|t| t.as_ref()).filter(|t| !(a.exclude_internal && t.internal)).collect();
    let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
    let configs = if names.is_empty() {
        BTreeMap::new()
    } else {
        cluster.describe_configs(ResourceType::Topic, &names, None).await?
    };
    let live: Vec<i32> = md.brokers.keys().copied().collect();
    let min_isr = |topic: &str| -> usize {
        configs
            .get(topic)
            .and_then(|c| c.iter().find(|e| e.name == "min.insync.replicas"))
            .and_then(|e| e.value.as_deref())
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
    };
    let keep = |t: &TopicInfo, p: &kwire_meta::PartitionInfo| -> bool {
        if !partition_filtered(&a) {
            return true;
        }
        (a.under_replicated_partitions && p.isr.len() < p.replicas.len())
            || (a.unavailable_partitions && (p.leader < 0 || !live.contains(&p.leader)))
            || (a.under_min_isr_partitions && p.isr.len() < min_isr(&t.name))
    };
    let non_default = |topic: &str| -> Vec<&ConfigEntry> {
        configs
            .get(topic)
            .map(|c| c.iter().filter(|e| e.source != CONFIG_SOURCE_DEFAULT).collect())
            .unwrap_or_default()
    };

    match a.format {
        Format::Json => {
            let doc: Vec<_> = topics
                .iter()
                .map(|t| {
                    let parts: Vec<_> = t
                        .partitions
                        .iter()
                        .filter(|p| keep(t, p))
                        .map(|p| {
                            json!({
                                "partition": p.partition, "leader": p.leader, "leader_epoch": p.leader_epoch,
                                "replicas": p.replicas, "isr": p.isr, "offline": p.offline,
                            })
                        })
                        .collect();
                    let cfg: BTreeMap<&str, Option<&str>> = non_default(&t.name)
                        .into_iter()
                        .map(|e| (e.name.as_str(), e.value.as_deref()))
                        .collect();
                    json!({
                        "topic": t.name, "topic_id": t.id_string(), "internal": t.internal,
                        "partition_count": t.partitions.len(),
                        "replication_factor": t.partitions.first().map_or(0, |p| p.replicas.len()),
                        "configs": cfg, "partitions": parts,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Text => {
            for t in &topics {
                if !partition_filtered(&a) {
                    let cfg: Vec<String> = non_default(&t.name)
                        .into_iter()
                        .map(|e| {
                            format!(
                                "{}={}",
                                e.name,
                                e.value.as_deref().unwrap_or(if e.sensitive {
                                    "<sensitive>"
                                } else {
                                    "null"
                                })
                            )
                        })
                        .collect();
                    println!(
                        "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
                        t.name,
                        t.id_string(),
                        t.partitions.len(),
                        t.partitions.first().map_or(0, |p| p.replicas.len()),
                        cfg.join(",")
                    );
                }
                for p in t.partitions.iter().filter(|p| keep(t, p)) {
                    let mut line = format!(
                        "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
                        t.name,
                        p.partition,
                        if p.leader < 0 { "none".to_owned() } else { p.leader.to_string() },
                        join(&p.replicas),
                        join(&p.isr)
                    );
                    if !p.offline.is_empty() {
                        line.push_str(&format!("\tOffline: {}", join(&p.offline)));
                    }
                    println!("{line}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// "topic 'a' does not exist" / "topics 'a', 'b' do not exist".
fn do_not_exist(missing: &[String]) -> String {
    let names = missing.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
    if missing.len() > 1 {
        format!("topics {names} do not exist")
    } else {
        format!("topic {names} does not exist")
    }
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

async fn delete(cluster: &Cluster, a: TopicDeleteArgs) -> Result<ExitCode> {
    for t in &a.topics {
        validate_topic_name(t)?;
    }
    let md = cluster.fetch_metadata(Some(&a.topics)).await?;
    if let Some(t) = a.topics.iter().find(|t| md.topics.get(*t).is_some_and(|ti| ti.internal)) {
        bail!("topic '{t}' is a Kafka internal topic and cannot be deleted; nothing was deleted");
    }
    let (present, missing): (Vec<String>, Vec<String>) =
        a.topics.iter().cloned().partition(|t| md.topics.contains_key(t));
    if !missing.is_empty() && !a.if_exists {
        bail!("{}; nothing was deleted (use --if-exists to ignore missing topics)", do_not_exist(&missing));
    }
    let json = a.format == Format::Json;
    if present.is_empty() {
        if json {
            println!("{}", json!({ "deleted": [], "missing": missing }));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let results = cluster.delete_topics(&present).await?;
    let mut failed = 0;
    let mut deleted = Vec::new();
    for (name, r) in present.iter().zip(results) {
        match r {
            Ok(()) if json => deleted.push(name.clone()),
            Ok(()) => println!("Deleted topic {name}."),
            Err(e) if a.if_exists && e.code() == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => {}
            Err(e) => {
                eprintln!("kwire: error: {e}");
                failed += 1;
            }
        }
    }
    cluster.wait_for_deletion(&present, PROPAGATION_WAIT).await?;
    if json {
        println!("{}", json!({ "deleted": deleted, "missing": missing }));
    }
    Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

async fn alter(cluster: &Cluster, a: TopicAlterArgs) -> Result<ExitCode> {
    validate_topic_name(&a.topic)?;
    let total = positive_i32("--partitions", a.partitions)?;
    let current =
        cluster.topic(&a.topic).await.with_context(|| format!("cannot alter topic '{}'", a.topic))?;
    let have = current.partitions.len();
    if usize::try_from(total).unwrap_or(0) <= have {
        bail!(
            "topic '{}' has {have} partitions; --partitions must be larger ({total} given): partitions can only be added",
            a.topic
        );
    }
    cluster.create_partitions(&a.topic, total, a.dry_run).await.map_err(friendly)?;
    if a.format == Format::Json {
        println!(
            "{}",
            json!({"topic": a.topic, "partitions": total, "previous_partitions": have, "dry_run": a.dry_run})
        );
    } else if a.dry_run {
        println!("Topic {} can grow to {total} partitions (dry run, nothing changed).", a.topic);
    } else {
        println!("Topic {} now has {total} partitions (was {have}).", a.topic);
    }
    Ok(ExitCode::SUCCESS)
}

async fn configs(cluster: &Cluster, a: TopicConfigsArgs) -> Result<ExitCode> {
    validate_topic_name(&a.topic)?;
    // Fail clearly if the topic doesn't exist (DescribeConfigs' own error is vaguer).
    cluster.topic(&a.topic).await.map_err(|e| match e.code() {
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => {
            anyhow::anyhow!("topic '{}' does not exist", a.topic)
        }
        _ => e.into(),
    })?;
    if !a.set.is_empty() || !a.delete.is_empty() {
        let set = parse_configs(&a.set)?;
        let mut deleted = Vec::new();
        for k in &a.delete {
            if k.trim().is_empty() {
                bail!("--delete needs a config name");
            }
            deleted.push(k.trim().to_owned());
        }
        let doc = json!({
            "topic": a.topic,
            "configs": set.iter().map(|(k, v)| set_config_json(k, v)).collect::<Vec<_>>(),
            "deleted": deleted,
        });
        let ops: Vec<ConfigOp> = set
            .into_iter()
            .map(|(k, v)| ConfigOp::Set(k, v))
            .chain(deleted.into_iter().map(ConfigOp::Delete))
            .collect();
        cluster.alter_configs(ResourceType::Topic, &a.topic, &ops, false).await.map_err(friendly)?;
        match a.format {
            Format::Json => println!("{doc}"),
            Format::Text => println!("Updated configs of topic {}.", a.topic),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let all = cluster.describe_configs(ResourceType::Topic, std::slice::from_ref(&a.topic), None).await?;
    let entries: Vec<&ConfigEntry> = all
        .get(&a.topic)
        .map(|c| c.iter().filter(|e| a.all || e.source != CONFIG_SOURCE_DEFAULT).collect())
        .unwrap_or_default();
    match a.format {
        Format::Json => {
            let doc: Vec<_> = entries
                .iter()
                .map(|e| {
                    json!({"name": e.name, "value": e.value, "source": config_source_name(e.source),
                           "read_only": e.read_only, "sensitive": e.sensitive})
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Text => {
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.name.clone(),
                        e.value.clone().unwrap_or_else(|| {
                            if e.sensitive { "<sensitive>".into() } else { "null".into() }
                        }),
                        config_source_name(e.source).to_owned(),
                    ]
                })
                .collect();
            print!("{}", table(&["CONFIG", "VALUE", "SOURCE"], &rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}
