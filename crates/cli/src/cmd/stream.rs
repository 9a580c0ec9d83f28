//! `kwire stream`: Spark Structured Streaming queries over Kafka topics, natively.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use kwire_fetch::{FetchConfig, IsolationLevel};
use kwire_meta::Cluster;
use kwire_produce::ProducerConfig;
use kwire_stream::checkpoint::parse_offsets_json;
use kwire_stream::driver::{
    AppConfig, EndingOffsets, ProcessingGuarantee, Progress, SinkSpec, StartingOffsets, StreamConfig,
    Subscription,
};
use kwire_stream::table::ResultTable;
use kwire_stream::{
    OutputMode, ParseMode, QuerySpec, ShowOptions, StreamError, StreamOption, TopicPartition, Trigger,
};

use crate::args::stream::{ProgressArg, StreamArgs};
use crate::config::ClientSettings;

fn parse_bool(flag: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => bail!("{flag}: expected true or false, got '{v}'"),
    }
}

fn subscription(a: &StreamArgs) -> Result<Subscription> {
    let given = [!a.topics.is_empty(), a.topic_pattern.is_some(), a.assign.is_some()];
    match given.iter().filter(|g| **g).count() {
        0 => bail!(
            "One of the following options must be specified for Kafka source: --topic, --topic-pattern, --assign (Spark's subscribe, subscribePattern, assign)"
        ),
        1 => {}
        _ => bail!(
            "Only one of the following options can be specified for Kafka source: --topic, --topic-pattern, --assign (Spark's subscribe, subscribePattern, assign)"
        ),
    }
    if let Some(p) = &a.topic_pattern {
        return Ok(Subscription::Pattern(p.clone()));
    }
    if let Some(j) = &a.assign {
        let m: BTreeMap<String, Vec<i32>> = serde_json::from_str(j).map_err(|e| {
            anyhow!("invalid --assign {j:?}: {e}; expected JSON like {{\"voters\":[0,1],\"other\":[2]}}")
        })?;
        let mut tps: Vec<TopicPartition> = m
            .into_iter()
            .flat_map(|(t, ps)| ps.into_iter().map(move |p| TopicPartition::new(t.clone(), p)))
            .collect();
        tps.sort();
        tps.dedup();
        return Ok(Subscription::Assign(tps));
    }
    let mut topics: Vec<String> =
        a.topics.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
    topics.dedup();
    Ok(Subscription::Topics(topics))
}

fn starting(a: &StreamArgs) -> Result<StartingOffsets> {
    match (&a.starting_offsets, &a.starting_timestamp) {
        (Some(_), Some(_)) => bail!(
            "give either --starting-offsets or --starting-timestamp, not both (Spark silently prefers startingTimestamp)"
        ),
        (None, Some(t)) => {
            let ms = kwire_cli::spec::parse_timestamp(t).map_err(|e| anyhow!("--starting-timestamp: {e}"))?;
            Ok(StartingOffsets::Timestamp(ms))
        }
        (Some(s), None) => match s.trim().to_ascii_lowercase().as_str() {
            "earliest" => Ok(StartingOffsets::Earliest),
            "latest" => Ok(StartingOffsets::Latest),
            _ => Ok(StartingOffsets::Specific(offsets_json(
                "--starting-offsets",
                r#"earliest, latest or JSON like '{"voters":{"0":23,"1":-2}}' (-2 earliest, -1 latest)"#,
                s,
            )?)),
        },
        (None, None) => Ok(StartingOffsets::Latest),
    }
}

fn ending(a: &StreamArgs) -> Result<Option<EndingOffsets>> {
    let Some(s) = &a.ending_offsets else { return Ok(None) };
    match s.trim().to_ascii_lowercase().as_str() {
        "latest" => Ok(Some(EndingOffsets::Latest)),
        "earliest" => bail!("--ending-offsets can't be earliest (Spark: ending offset can't be earliest)"),
        _ => Ok(Some(EndingOffsets::Specific(offsets_json(
            "--ending-offsets",
            r#"latest or JSON like '{"voters":{"0":23,"1":-1}}' (-1 latest)"#,
            s,
        )?))),
    }
}

/// Per-partition offsets as JSON; a word that is not one of the valid ones
/// (e.g. `beginning`) gets a message naming them (`expected`), like Spark's,
/// rather than a JSON syntax error.
fn offsets_json(flag: &str, expected: &str, s: &str) -> Result<BTreeMap<TopicPartition, i64>> {
    if !s.trim_start().starts_with('{') {
        bail!("{flag} '{s}' is not valid: expected {expected}");
    }
    parse_offsets_json(s).map_err(|e| anyhow!("{flag}: {e}"))
}

fn sink(a: &StreamArgs) -> Result<SinkSpec> {
    let mut spec = SinkSpec::parse(&a.sink)?;
    match &mut spec {
        SinkSpec::Console(opts) => {
            let mut o = ShowOptions::default();
            if let Some(t) = &a.truncate {
                o.truncate = match t.trim().to_ascii_lowercase().as_str() {
                    "true" => 20,
                    "false" => 0,
                    n => n.parse::<usize>().map_err(|_| {
                        anyhow!("--truncate: expected true, false or a number of characters, got '{t}'")
                    })?,
                };
            }
            if let Some(n) = a.num_rows {
                if n == 0 {
                    bail!("--num-rows must be at least 1");
                }
                o.num_rows = n;
            }
            *opts = o;
        }
        _ => {
            if a.truncate.is_some() || a.num_rows.is_some() {
                bail!("--truncate and --num-rows apply to the console sink only");
            }
        }
    }
    Ok(spec)
}

/// The typed configuration, from the arguments alone (no broker needed).
pub fn config(settings: &ClientSettings, a: &StreamArgs, verbose: bool) -> Result<StreamConfig> {
    let sub = subscription(a)?;
    let mut query = QuerySpec {
        select: a.select.iter().map(|s| vec![s.clone()]).collect(),
        schema: a.schema.clone(),
        group_by: a.group_by.clone(),
        aggs: a.aggs.clone(),
        window: a.window.clone(),
        watermark: a.watermark.clone(),
        output_mode: OutputMode::parse(&a.output_mode)?,
        include_headers: a.include_headers,
        ..QuerySpec::default()
    };
    if let Some(m) = &a.parse_mode {
        query.parse_mode = ParseMode::parse(m)?;
    }
    query.filter = match a.filters.len() {
        0 => None,
        1 => Some(a.filters[0].clone()),
        _ => Some(a.filters.iter().map(|f| format!("({f})")).collect::<Vec<_>>().join(" AND ")),
    };
    let mut cfg = StreamConfig::new(sub, query);
    cfg.starting_offsets = starting(a)?;
    cfg.ending_offsets = ending(a)?;
    cfg.max_offsets_per_trigger = a.max_offsets_per_trigger;
    cfg.fail_on_data_loss = parse_bool("--fail-on-data-loss", &a.fail_on_data_loss)?;
    cfg.trigger = match &a.trigger {
        Some(t) => Trigger::parse(t)?,
        None => Trigger::Default,
    };
    cfg.sink = sink(a)?;
    cfg.checkpoint = a.checkpoint.clone();
    cfg.progress = match a.progress {
        Some(ProgressArg::Json) => Progress::Json,
        Some(ProgressArg::Text) => Progress::Text,
        None if verbose => Progress::Text,
        None => Progress::Off,
    };
    let props = settings.with_flag_props("--consumer-property", &a.consumer_properties)?;
    let mut fetch = FetchConfig::default();
    fetch.max_partition_bytes = 8 << 20;
    fetch.apply_props(&props)?;
    if let Some(l) = &a.isolation_level {
        fetch.isolation =
            IsolationLevel::parse(l).map_err(|e| anyhow!("invalid --isolation-level '{l}': {e}"))?;
    }
    if matches!(cfg.sink, SinkSpec::Kafka(_)) || a.application_id.is_some() {
        let mut producer = ProducerConfig::default();
        producer.apply_props(&props)?;
        cfg.producer = producer;
    }
    if let Some(id) = &a.application_id {
        let mut app = AppConfig::new(id.clone());
        if let Some(g) = &a.processing_guarantee {
            app.guarantee =
                ProcessingGuarantee::parse(g).map_err(|e| anyhow!("--processing-guarantee: {e}"))?;
        }
        app.repartition_partitions = a.repartition_partitions;
        app.replication_factor = a.replication_factor;
        app.num_standby_replicas = a.num_standby_replicas.unwrap_or(0);
        if let Some(ms) = a.commit_interval_ms {
            if ms == 0 {
                bail!("--commit-interval-ms must be at least 1");
            }
            app.commit_interval = std::time::Duration::from_millis(ms);
        }
        app.group.apply_props(&props)?;
        if a.starting_offsets.is_none() && a.starting_timestamp.is_none() {
            // Kafka Streams' default: a new application reads its input from the start.
            cfg.starting_offsets = StartingOffsets::Earliest;
        }
        cfg.app = Some(app);
    }
    settings.mark_used(&props);
    cfg.fetch = fetch;
    Ok(cfg)
}

/// The flag that sets a query option.
fn flag(option: StreamOption) -> Option<&'static str> {
    Some(match option {
        StreamOption::Subscribe => "--topic",
        StreamOption::SubscribePattern => "--topic-pattern",
        StreamOption::Assign => "--assign",
        StreamOption::StartingOffsets => "--starting-offsets",
        StreamOption::EndingOffsets => "--ending-offsets",
        StreamOption::MaxOffsetsPerTrigger => "--max-offsets-per-trigger",
        StreamOption::FailOnDataLoss => "--fail-on-data-loss",
        StreamOption::SinkTopic => "--sink kafka:TOPIC",
        StreamOption::Watermark => "--watermark",
        StreamOption::Window => "--window",
        StreamOption::ApplicationId => "--application-id",
        _ => return None,
    })
}

/// The library's errors name options as Spark does; the user typed flags:
/// name them too.
fn stream_error(e: StreamError) -> anyhow::Error {
    match e {
        StreamError::InvalidOption { option, message } => match flag(option) {
            Some(f) => anyhow!("{message} ({f})"),
            None => anyhow!("{message} (option {option})"),
        },
        StreamError::DataLoss(m) => {
            anyhow!("{} (--fail-on-data-loss false).", m.strip_suffix('.').unwrap_or(&m))
        }
        e => e.into(),
    }
}

/// `--table TOPIC`: the latest row per key of a result topic, as a table.
async fn show_table(settings: &ClientSettings, a: &StreamArgs, topic: &str) -> Result<ExitCode> {
    let opts = match sink(a)? {
        SinkSpec::Console(o) => o,
        _ => bail!("--table prints to the console; --sink does not apply"),
    };
    let cluster = Cluster::new(settings.cluster.clone());
    let mut fetch = FetchConfig::default();
    fetch.isolation = IsolationLevel::ReadCommitted;
    cluster.topic(topic).await.map_err(|e| match e.code() {
        Some(kwire_proto::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => anyhow!("topic '{topic}' does not exist"),
        _ => e.into(),
    })?;
    let mut c = kwire_fetch::Consumer::start(cluster, fetch)?;
    c.assign_topics(&[topic], kwire_fetch::StartOffset::Earliest).await?;
    let ends = c.end_offsets().await?;
    let mut table = ResultTable::new();
    while let Some(recs) = c.poll_to(&ends).await? {
        for r in recs {
            table.apply(r.key.as_deref(), r.value.as_deref()).map_err(|e| anyhow!("{topic}: {e}"))?;
        }
    }
    let schema = table.schema().map_err(|e| anyhow!("{topic}: {e}"))?;
    print!("{}", kwire_stream::show::show_string(&schema, &table.rows(&schema), opts));
    Ok(ExitCode::SUCCESS)
}

pub async fn run(settings: &ClientSettings, a: StreamArgs) -> Result<ExitCode> {
    if let Some(topic) = &a.table {
        return show_table(settings, &a, topic).await;
    }
    let verbose = tracing::level_filters::LevelFilter::current() >= tracing::Level::INFO;
    let cfg = config(settings, &a, verbose)?;
    // Spark's analysis errors and bad option combinations, before any I/O.
    cfg.validate().map_err(stream_error)?;
    let cluster = Cluster::new(settings.cluster.clone());
    let summary = kwire_stream::driver::run(cluster, cfg).await.map_err(stream_error)?;
    tracing::info!(
        "{} batch{} committed, {} input rows{}",
        summary.batches,
        if summary.batches == 1 { "" } else { "es" },
        summary.input_rows,
        if summary.stopped { " (stopped)" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_errors_name_the_flag() {
        let e = StreamError::InvalidOption {
            option: StreamOption::EndingOffsets,
            message: "Ending offset for t-0 can't be earliest (-2)".into(),
        };
        assert_eq!(
            stream_error(e).to_string(),
            "Ending offset for t-0 can't be earliest (-2) (--ending-offsets)"
        );
        let e = StreamError::DataLoss("t-0 gone. set \"failOnDataLoss\" to \"false\".".into());
        assert_eq!(
            stream_error(e).to_string(),
            "t-0 gone. set \"failOnDataLoss\" to \"false\" (--fail-on-data-loss false)."
        );
        let e = StreamError::Sink("disk full".into());
        assert_eq!(stream_error(e).to_string(), "disk full");
    }
}
