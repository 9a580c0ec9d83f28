//! `kwire consume`: kafka-console-consumer.sh and kcat -C, natively.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use kwire_cli::spec::{OffsetArg, parse_offset};
use kwire_fetch::{
    FetchConfig, FetchEvent, FetchedChunk, Fetcher, IsolationLevel, OffsetSpec, StartOffset, TopicPartition,
    list_offsets,
};
use kwire_meta::Cluster;

use super::consume_loop::{self, Polled, RecordSource};
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

    let max = a.max_messages.unwrap_or(u64::MAX);
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
    let mut source =
        Direct { fetcher: Fetcher::start(cluster.clone(), cfg), pending, exit_at_end: ends.is_some() };
    if max > 0 && !source.at_end() {
        source.fetcher.assign(assign)?;
    }
    consume_loop::run(source, &printer, a.max_messages, a.timeout_ms.map(Duration::from_millis)).await
}

/// Direct reads: the fetcher on the chosen partitions, and with
/// `--exit-at-end` the end offset of each partition not read to it yet.
struct Direct {
    fetcher: Fetcher,
    pending: BTreeMap<TopicPartition, i64>,
    exit_at_end: bool,
}

impl RecordSource for Direct {
    type Event = Infallible;
    const SUMMARY_AFTER_FAILURE: bool = false;
    const BLOCKING_WRITES: bool = false;

    async fn poll(&mut self) -> Polled<Infallible> {
        match self.fetcher.next().await {
            Some(FetchEvent::Records(chunk)) => Polled::Records(chunk),
            Some(FetchEvent::Reset { tp, from, to }) => Polled::Reset { tp, from, to },
            Some(FetchEvent::Error { tp, error }) => {
                Polled::Failed(anyhow::Error::new(error).context(format!("cannot read {tp}")))
            }
            None => Polled::End,
        }
    }

    async fn handle(&mut self, ev: Infallible) -> Result<()> {
        match ev {}
    }

    fn at_end(&self) -> bool {
        self.exit_at_end && self.pending.is_empty()
    }

    fn end_of(&self, tp: &TopicPartition) -> Option<i64> {
        self.pending.get(tp).copied()
    }

    fn printed(&mut self, chunk: &FetchedChunk, _processed: Option<i64>) {
        if self.pending.get(chunk.tp.as_ref()).is_some_and(|e| chunk.next_offset >= *e) {
            self.pending.remove(chunk.tp.as_ref());
        }
    }

    async fn close(self) -> Result<()> {
        Ok(())
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
