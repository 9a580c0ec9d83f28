//! `kwire consume`: kafka-console-consumer.sh and kcat -C, natively.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kwire_cli::spec::{OffsetArg, parse_offset};
use kwire_fetch::{
    FetchConfig, FetchEvent, Fetcher, IsolationLevel, OffsetSpec, StartOffset, TopicPartition, list_offsets,
};
use kwire_meta::Cluster;

use super::printer::Printer;
use crate::args::consume::ConsumeArgs;
use crate::config::ClientSettings;

pub async fn run(settings: &ClientSettings, a: ConsumeArgs) -> Result<ExitCode> {
    if a.group.is_some() {
        return super::consume_group::consume(settings, a).await;
    }
    let printer = Printer::new(&a)?;
    let props = settings.with_flag_props("--consumer-property", &a.consumer_properties)?;
    let mut cfg = FetchConfig::default();
    cfg.apply_props(&props)?;
    // A command-line consume ends with an error when a partition can't be
    // fetched for a whole request timeout (broker gone, answers cut off).
    cfg.give_up_after = Some(settings.cluster.conn.request_timeout);
    if let Some(l) = &a.isolation_level {
        cfg.isolation =
            IsolationLevel::parse(l).map_err(|e| anyhow::anyhow!("invalid --isolation-level '{l}': {e}"))?;
    }
    settings.mark_used(&props);

    let start = match (&a.offset, a.from_beginning) {
        (Some(_), true) => bail!("give either --from-beginning or --offset, not both"),
        (Some(o), false) => parse_offset(o).map_err(anyhow::Error::msg)?,
        (None, true) => OffsetArg::Earliest,
        (None, false) => OffsetArg::Latest,
    };

    let cluster = Cluster::new(settings.cluster.clone());
    let topic = cluster.topic(&a.topic).await.map_err(|e| match e.code() {
        Some(kwire_proto::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => {
            anyhow::anyhow!("topic '{}' does not exist", a.topic)
        }
        _ => e.into(),
    })?;
    let all: Vec<i32> = topic.partitions.iter().map(|p| p.partition).collect();
    let parts: Vec<i32> = if a.partitions.is_empty() {
        all.clone()
    } else {
        for p in &a.partitions {
            if !all.contains(p) {
                bail!("partition {p} does not exist (topic '{}' has {} partitions)", a.topic, all.len());
            }
        }
        let mut v = a.partitions.clone();
        v.sort_unstable();
        v.dedup();
        v
    };
    let tps: Vec<TopicPartition> = parts.iter().map(|p| TopicPartition::new(a.topic.clone(), *p)).collect();

    // Resolve start positions here, so --exit-at-end can compare them with the ends.
    let iso = cfg.isolation;
    let starts: BTreeMap<TopicPartition, i64> = match start {
        OffsetArg::Absolute(n) => tps.iter().map(|tp| (tp.clone(), n)).collect(),
        OffsetArg::Earliest => offsets(&cluster, &tps, OffsetSpec::Earliest, iso).await?,
        OffsetArg::Latest => offsets(&cluster, &tps, OffsetSpec::Latest, iso).await?,
        OffsetArg::Timestamp(t) => offsets(&cluster, &tps, OffsetSpec::Timestamp(t), iso).await?,
        OffsetArg::FromEnd(n) => {
            let ends = offsets(&cluster, &tps, OffsetSpec::Latest, iso).await?;
            let begins = offsets(&cluster, &tps, OffsetSpec::Earliest, iso).await?;
            ends.into_iter()
                .map(|(tp, e)| {
                    let b = begins.get(&tp).copied().unwrap_or(0);
                    (tp, e.saturating_sub(n).max(b))
                })
                .collect()
        }
    };
    let ends =
        if a.exit_at_end { Some(offsets(&cluster, &tps, OffsetSpec::Latest, iso).await?) } else { None };

    let mut fetcher = Fetcher::start(cluster.clone(), cfg);
    let mut pending: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut assign = Vec::new();
    for tp in &tps {
        let s = starts.get(tp).copied().unwrap_or(0);
        if let Some(ends) = &ends {
            let e = ends.get(tp).copied().unwrap_or(0);
            if s >= e {
                continue; // nothing to read here
            }
            pending.insert(tp.clone(), e);
        }
        assign.push((tp.clone(), StartOffset::Offset(s)));
    }
    let max = a.max_messages.unwrap_or(u64::MAX);
    let mut total: u64 = 0;
    let stdout = std::io::stdout();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut failure: Option<anyhow::Error> = None;
    let done = |pending: &BTreeMap<TopicPartition, i64>, total: u64| {
        total >= max || (ends.is_some() && pending.is_empty())
    };
    if !done(&pending, total) {
        fetcher.assign(assign)?;
    }
    let idle = a.timeout_ms.map(Duration::from_millis);
    // Ctrl-C or SIGTERM: stop reading, print the summary.
    let mut stop = crate::signal::Stop::new();
    while !done(&pending, total) {
        let ev = tokio::select! {
            ev = fetcher.next() => ev,
            _ = stop.requested() => break,
            _ = sleep_opt(idle) => break,
        };
        let Some(ev) = ev else { break };
        match ev {
            FetchEvent::Records(chunk) => {
                let partition = chunk.tp.partition;
                let end = pending.get(chunk.tp.as_ref()).copied();
                chunk.for_each_record(|batch, rec| {
                    if end.is_some_and(|e| rec.offset >= e) || total >= max {
                        return ControlFlow::Break(());
                    }
                    printer.write(&mut buf, partition, batch, rec);
                    total += 1;
                    ControlFlow::Continue(())
                })?;
                if let Some(e) = end {
                    if chunk.next_offset >= e {
                        pending.remove(chunk.tp.as_ref());
                    }
                }
                let mut out = stdout.lock();
                out.write_all(&buf).context("writing to stdout")?;
                out.flush().context("writing to stdout")?;
                buf.clear();
            }
            FetchEvent::Reset { tp, from, to } => {
                eprintln!("kwire: warning: {tp}: offset {from} is out of range; resetting to {to}");
            }
            FetchEvent::Error { tp, error } => {
                failure = Some(anyhow::Error::new(error).context(format!("cannot read {tp}")));
                break;
            }
        }
    }
    drop(fetcher);
    match failure {
        // One line: the error (main prints it); no message count after it.
        Some(e) => Err(e),
        None => {
            eprintln!("Processed a total of {total} messages");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn offsets(
    cluster: &Cluster,
    tps: &[TopicPartition],
    spec: OffsetSpec,
    iso: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, i64>> {
    Ok(list_offsets(cluster, tps, spec, iso).await?.into_iter().map(|(tp, a)| (tp, a.offset)).collect())
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
