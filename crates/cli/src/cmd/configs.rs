//! `kwire configs`: kafka-configs.sh. Topic, broker and group configs via
//! DescribeConfigs/IncrementalAlterConfigs; user and client quotas via
//! DescribeClientQuotas/AlterClientQuotas; users' SCRAM credentials via
//! DescribeUserScramCredentials/AlterUserScramCredentials. Text output is the
//! Java tool's; `--format json` one document, shaped as describe's: the configs
//! (or quotas and credentials) an alter set, and the names it deleted.

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use kwire_meta::admin::{ConfigEntry, config_source_name};
use kwire_meta::configs::is_password_config;
use kwire_meta::quotas::{CLIENT_ID, QUOTA_KEYS, QuotaAlteration, QuotaEntity, QuotaMatch, USER};
use kwire_meta::scram_users::{ScramChange, ScramMechanism};
use kwire_meta::{Cluster, ConfigOp, MetaError, ResourceType};
use kwire_proto::props::Properties;
use serde_json::json;

use crate::args::configs::{
    ConfigsArgs, Entity, EntityType, entities_from_argv, parse_add_config, parse_delete_config,
    parse_scram_value,
};
use crate::args::format::Format;
use crate::config::ClientSettings;

/// Iterations when `SCRAM-SHA-*=[password=...]` names none (Kafka's default).
const DEFAULT_ITERATIONS: i32 = 4096;

pub async fn run(settings: &ClientSettings, args: ConfigsArgs) -> Result<ExitCode> {
    let argv: Vec<String> = std::env::args().collect();
    let entities = entities_from_argv(&argv).map_err(|e| anyhow!(e))?;
    let describe = args.describe || args.action.as_deref() == Some("describe");
    let alter = args.alter || args.action.as_deref() == Some("alter");
    match (describe, alter) {
        (true, true) => bail!("give one of --describe or --alter, not both"),
        (false, false) => bail!("say what to do: describe or alter (or --describe / --alter)"),
        _ => {}
    }
    let cluster = Cluster::new(settings.cluster.clone());
    let is_quota = matches!(entities[0].0, EntityType::Users | EntityType::Clients);
    if alter {
        let (set, delete) = alterations(&args)?;
        if entities.iter().any(|(_, n)| n.as_deref() == Some("")) {
            bail!("--alter needs an entity name (--entity-name NAME or --entity-default)");
        }
        if is_quota {
            alter_quotas(&cluster, &entities, set, delete, args.format).await
        } else {
            alter_configs(&cluster, &entities[0], set, delete, args.format).await
        }
    } else {
        if !args.add_config.is_empty() || !args.delete_config.is_empty() || args.add_config_file.is_some() {
            bail!("--add-config/--delete-config/--add-config-file go with --alter, not --describe");
        }
        if is_quota {
            describe_quotas(&cluster, &entities, args.format).await
        } else {
            describe_configs(&cluster, &entities[0], args.all, args.format).await
        }
    }
}

/// Keys to set with their values, and keys to delete.
type Alterations = (Vec<(String, String)>, Vec<String>);

/// The `--add-config`, `--add-config-file` and `--delete-config` changes.
fn alterations(args: &ConfigsArgs) -> Result<Alterations> {
    let mut set = Vec::new();
    for s in &args.add_config {
        set.extend(parse_add_config(s).map_err(|e| anyhow!(e))?);
    }
    if let Some(f) = &args.add_config_file {
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        let props = Properties::parse(&text).with_context(|| format!("invalid {}", f.display()))?;
        set.extend(props.iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
    }
    let mut delete = Vec::new();
    for s in &args.delete_config {
        delete.extend(parse_delete_config(s).map_err(|e| anyhow!(e))?);
    }
    if set.is_empty() && delete.is_empty() {
        bail!("--alter needs --add-config, --add-config-file or --delete-config");
    }
    if let Some((k, _)) = set.iter().find(|(k, _)| delete.contains(k)) {
        bail!("config '{k}' is both added and deleted");
    }
    Ok((set, delete))
}

fn resource(t: EntityType) -> ResourceType {
    match t {
        EntityType::Brokers => ResourceType::Broker,
        EntityType::Groups => ResourceType::Group,
        _ => ResourceType::Topic,
    }
}

/// One line for broker errors (INVALID_CONFIG, UNKNOWN_TOPIC_OR_PARTITION, …).
fn one_line(e: MetaError) -> anyhow::Error {
    match e {
        MetaError::Broker { context, code, message } => match message {
            Some(m) if !m.is_empty() => {
                anyhow!("{context}: {code}: {}", m.lines().next().unwrap_or_default())
            }
            _ => anyhow!("{context}: {code}"),
        },
        e => e.into(),
    }
}

/// One config an alter set, as describe's JSON shows a config: no value for a
/// password (`sensitive`), which `--add-config-file` keeps off the command line.
pub fn set_config_json(name: &str, value: &str) -> serde_json::Value {
    let sensitive = is_password_config(name);
    json!({"name": name, "value": if sensitive { None } else { Some(value) }, "sensitive": sensitive})
}

async fn alter_configs(
    cluster: &Cluster,
    (t, name): &Entity,
    set: Vec<(String, String)>,
    delete: Vec<String>,
    format: Format,
) -> Result<ExitCode> {
    let name = name.clone().unwrap_or_default();
    if *t == EntityType::Brokers && !name.is_empty() && name.parse::<i32>().is_err() {
        bail!("broker '{name}' is not a broker id (a whole number)");
    }
    let doc = json!([{
        "entity_type": t.name(),
        "entity_name": if name.is_empty() { serde_json::Value::Null } else { json!(name) },
        "configs": set.iter().map(|(k, v)| set_config_json(k, v)).collect::<Vec<_>>(),
        "deleted": delete,
    }]);
    let ops: Vec<ConfigOp> = set
        .into_iter()
        .map(|(k, v)| ConfigOp::Set(k, v))
        .chain(delete.into_iter().map(ConfigOp::Delete))
        .collect();
    cluster.alter_configs(resource(*t), &name, &ops, false).await.map_err(one_line)?;
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if name.is_empty() {
        println!("Completed updating default config for {} in the cluster.", t.name());
    } else {
        println!("Completed updating config for {} {name}.", t.singular());
    }
    Ok(ExitCode::SUCCESS)
}

/// The dynamic source of each resource type (what `--describe` without `--all` shows).
fn dynamic_source(t: EntityType, default: bool) -> i8 {
    match t {
        EntityType::Brokers if default => 3,
        EntityType::Brokers => 2,
        EntityType::Groups => 8,
        _ => 1,
    }
}

async fn describe_configs(
    cluster: &Cluster,
    (t, name): &Entity,
    all: bool,
    format: Format,
) -> Result<ExitCode> {
    let names: Vec<String> = match name.as_deref() {
        Some("") => match t {
            EntityType::Topics => cluster.list_topics(false).await?,
            EntityType::Brokers => {
                let md = cluster.fetch_metadata(Some(&[])).await?;
                let mut ids: Vec<String> = md.brokers.keys().map(ToString::to_string).collect();
                ids.push(String::new());
                ids
            }
            _ => bail!("say which {}: --entity-name NAME", t.singular()),
        },
        Some(n) => vec![n.to_owned()],
        None => vec![String::new()],
    };
    let mut docs = Vec::new();
    for n in &names {
        if *t == EntityType::Brokers && !n.is_empty() && n.parse::<i32>().is_err() {
            bail!("broker '{n}' is not a broker id (a whole number)");
        }
        let mut entries = cluster.describe_resource_configs(resource(*t), n).await.map_err(one_line)?;
        let source = dynamic_source(*t, n.is_empty());
        entries.retain(|e| all || e.source == source);
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        match format {
            Format::Text => {
                if n.is_empty() {
                    println!("Default configs for {} in the cluster are:", t.name());
                } else {
                    let which = if all { "All" } else { "Dynamic" };
                    println!("{which} configs for {} {n} are:", t.singular());
                }
                for e in &entries {
                    println!("  {}", text_entry(e));
                }
            }
            Format::Json => docs.push(json!({
                "entity_type": t.name(),
                "entity_name": if n.is_empty() { serde_json::Value::Null } else { json!(n) },
                "configs": entries.iter().map(json_entry).collect::<Vec<_>>(),
            })),
        }
    }
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&docs)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn value_text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("null")
}

fn text_entry(e: &ConfigEntry) -> String {
    let syn: Vec<String> = e
        .synonyms
        .iter()
        .map(|s| format!("{}:{}={}", config_source_name(s.source), s.name, value_text(&s.value)))
        .collect();
    format!("{}={} sensitive={} synonyms={{{}}}", e.name, value_text(&e.value), e.sensitive, syn.join(", "))
}

fn json_entry(e: &ConfigEntry) -> serde_json::Value {
    json!({
        "name": e.name, "value": e.value, "source": config_source_name(e.source),
        "sensitive": e.sensitive, "read_only": e.read_only,
        "synonyms": e.synonyms.iter().map(|s| json!({
            "name": s.name, "value": s.value, "source": config_source_name(s.source)
        })).collect::<Vec<_>>(),
    })
}

fn quota_type(t: EntityType) -> &'static str {
    if t == EntityType::Users { USER } else { CLIENT_ID }
}

/// Java's `Double.toString` for the values quotas take (`1024.0`, `0.5`).
pub fn java_double(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e7 { format!("{v:.1}") } else { format!("{v}") }
}

async fn alter_quotas(
    cluster: &Cluster,
    entities: &[Entity],
    set: Vec<(String, String)>,
    delete: Vec<String>,
    format: Format,
) -> Result<ExitCode> {
    let entity: QuotaEntity = entities.iter().map(|(t, n)| (quota_type(*t).to_owned(), n.clone())).collect();
    let user = entities.iter().find(|(t, _)| *t == EntityType::Users).map(|(_, n)| n.clone());
    let only_user = entities.len() == 1 && user.is_some();
    let mut quota_ops: Vec<(String, Option<f64>)> = Vec::new();
    let mut scram: Vec<ScramChange> = Vec::new();
    let scram_user = || -> Result<String> {
        match (only_user, &user) {
            (true, Some(Some(u))) => Ok(u.clone()),
            _ => bail!("SCRAM credentials belong to one named user (--entity-type users --entity-name NAME)"),
        }
    };
    for (k, v) in set {
        if let Some(m) = ScramMechanism::parse(&k) {
            let (iterations, password) = parse_scram_value(&k, &v).map_err(|e| anyhow!(e))?;
            let iterations = iterations.unwrap_or(DEFAULT_ITERATIONS);
            kwire_meta::scram_users::validate_iterations(iterations)?;
            scram.push(ScramChange::Upsert { user: scram_user()?, mechanism: m, iterations, password });
        } else if QUOTA_KEYS.contains(&k.as_str()) {
            let x: f64 = v
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| anyhow!("invalid value '{v}' for quota '{k}': expected a number"))?;
            quota_ops.push((k, Some(x)));
        } else {
            bail!(
                "unknown config '{k}' for {}: valid keys are {}{}",
                entities[0].0.name(),
                QUOTA_KEYS.join(", "),
                if only_user { ", SCRAM-SHA-256, SCRAM-SHA-512" } else { "" }
            );
        }
    }
    for k in delete {
        if let Some(m) = ScramMechanism::parse(&k) {
            scram.push(ScramChange::Delete { user: scram_user()?, mechanism: m });
        } else if QUOTA_KEYS.contains(&k.as_str()) {
            quota_ops.push((k, None));
        } else {
            bail!(
                "unknown config '{k}' for {}: valid keys are {}{}",
                entities[0].0.name(),
                QUOTA_KEYS.join(", "),
                if only_user { ", SCRAM-SHA-256, SCRAM-SHA-512" } else { "" }
            );
        }
    }
    let doc = altered_quotas_json(&entity, &quota_ops, &scram);
    // Quotas and SCRAM credentials are two requests. The quotas are
    // validated first (AlterClientQuotas has a validate-only mode, SCRAM
    // has none), then the SCRAM change, the one that may still be refused
    // (deleting a credential the user lacks), goes before the quotas are
    // written: a refusal leaves nothing changed.
    let alteration: Vec<QuotaAlteration> = vec![(entity, quota_ops)];
    let quotas = !alteration[0].1.is_empty();
    if quotas && !scram.is_empty() {
        cluster.alter_client_quotas(&alteration, true).await.map_err(one_line)?;
    }
    if !scram.is_empty() {
        cluster.alter_scram_users(&scram).await.map_err(one_line)?;
    }
    if quotas {
        cluster.alter_client_quotas(&alteration, false).await.map_err(one_line)?;
    }
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    let (t, n) = &entities[0];
    match (entities.len(), n) {
        (1, Some(n)) => println!("Completed updating config for {} {n}.", t.singular()),
        (1, None) => println!("Completed updating default config for {} in the cluster.", t.name()),
        _ => println!(
            "Completed updating config for {}.",
            kwire_meta::quotas::describe_entity(
                &entities.iter().map(|(t, n)| (t.singular().to_owned(), n.clone())).collect::<Vec<_>>()
            )
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// What an alter of quotas and SCRAM credentials did, shaped as describe's
/// JSON (`quotas`, `scram_credentials`), with what it deleted in `deleted`;
/// never a password.
fn altered_quotas_json(
    entity: &QuotaEntity,
    quota_ops: &[(String, Option<f64>)],
    scram: &[ScramChange],
) -> serde_json::Value {
    let quotas = if quota_ops.is_empty() {
        Vec::new()
    } else {
        let ent: serde_json::Map<String, serde_json::Value> =
            entity.iter().map(|(t, n)| (t.clone(), json!(n))).collect();
        let set: serde_json::Map<String, serde_json::Value> =
            quota_ops.iter().filter_map(|(k, v)| v.map(|v| (k.clone(), json!(v)))).collect();
        let deleted: Vec<&str> =
            quota_ops.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k.as_str()).collect();
        vec![json!({"entity": ent, "quotas": set, "deleted": deleted})]
    };
    let mut users: Vec<&str> = Vec::new();
    for c in scram {
        let (ScramChange::Upsert { user, .. } | ScramChange::Delete { user, .. }) = c;
        if !users.contains(&user.as_str()) {
            users.push(user);
        }
    }
    let credentials: Vec<_> = users
        .iter()
        .map(|u| {
            let mut set = Vec::new();
            let mut deleted = Vec::new();
            for c in scram {
                match c {
                    ScramChange::Upsert { user, mechanism, iterations, .. } if user == u => {
                        set.push(json!({"mechanism": mechanism.name(), "iterations": iterations}));
                    }
                    ScramChange::Delete { user, mechanism } if user == u => deleted.push(mechanism.name()),
                    _ => {}
                }
            }
            json!({"user": u, "credentials": set, "deleted": deleted})
        })
        .collect();
    json!({"quotas": quotas, "scram_credentials": credentials})
}

async fn describe_quotas(cluster: &Cluster, entities: &[Entity], format: Format) -> Result<ExitCode> {
    let filter: Vec<(String, QuotaMatch)> = entities
        .iter()
        .map(|(t, n)| {
            let m = match n.as_deref() {
                None => QuotaMatch::Default,
                Some("") => QuotaMatch::Any,
                Some(n) => QuotaMatch::Exact(n.to_owned()),
            };
            (quota_type(*t).to_owned(), m)
        })
        .collect();
    let strict = entities.iter().all(|(_, n)| n.as_deref() != Some(""));
    let mut quotas = cluster.describe_client_quotas(&filter, strict).await.map_err(one_line)?;
    // SCRAM credentials go with users only, not with client ids or defaults.
    let users: Vec<&str> =
        entities.iter().filter(|(t, _)| *t == EntityType::Users).filter_map(|(_, n)| n.as_deref()).collect();
    let scram = if entities.len() == 1 && users.len() == 1 {
        let all = cluster.describe_scram_users(None).await.map_err(one_line)?;
        all.into_iter().filter(|u| users[0].is_empty() || u.user == users[0]).collect()
    } else {
        Vec::new()
    };
    // Java's order: user, then client id.
    for q in &mut quotas {
        q.entity.sort_by_key(|(t, _)| t != USER);
    }
    quotas.sort_by(|a, b| a.entity.cmp(&b.entity));
    let entity_str = |e: &QuotaEntity| -> String {
        e.iter()
            .map(|(t, n)| {
                let ty = if t == USER {
                    "user-principal"
                } else if t == CLIENT_ID {
                    "client-id"
                } else {
                    t.as_str()
                };
                match n {
                    Some(n) => format!("{ty} '{n}'"),
                    None => format!("the default {ty}"),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match format {
        Format::Text => {
            for q in &quotas {
                let mut vals = q.values.clone();
                vals.sort_by(|a, b| a.0.cmp(&b.0));
                let vals: Vec<String> =
                    vals.iter().map(|(k, v)| format!("{k}={}", java_double(*v))).collect();
                println!("Quota configs for {} are {}", entity_str(&q.entity), vals.join(", "));
            }
            for u in &scram {
                let c: Vec<String> =
                    u.credentials.iter().map(|(m, i)| format!("{}=iterations={i}", m.name())).collect();
                println!("SCRAM credential configs for user-principal '{}' are {}", u.user, c.join(", "));
            }
        }
        Format::Json => {
            let q: Vec<_> = quotas
                .iter()
                .map(|q| {
                    let ent: serde_json::Map<String, serde_json::Value> =
                        q.entity.iter().map(|(t, n)| (t.clone(), json!(n))).collect();
                    let vals: serde_json::Map<String, serde_json::Value> =
                        q.values.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                    json!({"entity": ent, "quotas": vals})
                })
                .collect();
            let s: Vec<_> = scram
                .iter()
                .map(|u| {
                    json!({"user": u.user, "credentials": u.credentials.iter()
                        .map(|(m, i)| json!({"mechanism": m.name(), "iterations": i})).collect::<Vec<_>>()})
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&json!({"quotas": q, "scram_credentials": s}))?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn doubles_like_java() {
        assert_eq!(super::java_double(1024.0), "1024.0");
        assert_eq!(super::java_double(0.5), "0.5");
        assert_eq!(super::java_double(12.25), "12.25");
    }

    #[test]
    fn alter_json_leaves_passwords_out() {
        use serde_json::json;
        assert_eq!(
            super::set_config_json("retention.ms", "1000"),
            json!({"name": "retention.ms", "value": "1000", "sensitive": false})
        );
        assert_eq!(
            super::set_config_json("listener.name.internal.ssl.keystore.password", "s3cret"),
            json!({"name": "listener.name.internal.ssl.keystore.password", "value": null, "sensitive": true})
        );
    }
}
