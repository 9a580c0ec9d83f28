//! `kwire consume --group`: the console consumer as a member of a group.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use kwire_fetch::{FetchedChunk, IsolationLevel, OffsetReset, OffsetSpec, TopicPartition, list_offsets};
use kwire_group::{GroupConfig, GroupConsumer, GroupError, GroupEvent};
use kwire_meta::Cluster;
use kwire_proto::ErrorCode;

use super::consume_loop::{self, Polled, RecordSource};
use super::groups::{check_group_id, group_partitions};
use super::printer::Printer;
use crate::args::consume::ConsumeArgs;
use crate::config::ClientSettings;

/// `kwire consume --group G`: a member of the group, starting from its
/// committed offsets (`--from-beginning` only applies when there are none),
/// committing what it printed.
pub(crate) async fn consume(settings: &ClientSettings, a: ConsumeArgs) -> Result<ExitCode> {
    let group = a.group.clone().unwrap_or_default();
    check_group_id(&group)?;
    if !a.partitions.is_empty() {
        bail!("--partition can't be combined with --group: the group assigns the partitions");
    }
    if a.offset.is_some() {
        bail!(
            "--offset can't be combined with --group: members start from the group's committed offsets \
             (use `kwire groups reset-offsets` to move them)"
        );
    }
    let printer = Printer::new(&a)?;
    let props = settings.with_flag_props("--consumer-property", &a.consumer_properties)?;
    let mut cfg = GroupConfig::new(group.clone());
    cfg.apply_props(&props)?;
    if let Some(l) = &a.isolation_level {
        cfg.fetch.isolation =
            IsolationLevel::parse(l).map_err(|e| anyhow::anyhow!("invalid --isolation-level '{l}': {e}"))?;
    }
    if a.from_beginning {
        if props.contains("auto.offset.reset") && cfg.auto_offset_reset != OffsetReset::Earliest {
            bail!("give either --from-beginning or auto.offset.reset, not both");
        }
        cfg.auto_offset_reset = OffsetReset::Earliest;
    }
    // Commit only what was printed.
    cfg.auto_offset_store = false;
    cfg.validate().map_err(anyhow::Error::msg)?;
    settings.mark_used(&props);

    let cluster = Cluster::new(settings.cluster.clone());
    cluster.topic(&a.topic).await.map_err(|e| match e.code() {
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => anyhow::anyhow!("topic '{}' does not exist", a.topic),
        _ => e.into(),
    })?;
    let consumer = GroupConsumer::subscribe(cluster.clone(), cfg, vec![a.topic.clone()])?;
    let source = Member {
        consumer,
        cluster,
        group,
        exit_at_end: a.exit_at_end,
        ends: BTreeMap::new(),
        assigned_once: false,
    };
    consume_loop::run(source, &printer, a.max_messages, a.timeout_ms.map(Duration::from_millis)).await
}

/// A member of the group; with `--exit-at-end`, the end offset of each
/// partition when it was assigned.
struct Member {
    consumer: GroupConsumer,
    cluster: Cluster,
    group: String,
    exit_at_end: bool,
    ends: BTreeMap<TopicPartition, i64>,
    assigned_once: bool,
}

/// Rebalance events.
enum Rebalance {
    Assigned(Vec<TopicPartition>),
    Revoked(Vec<TopicPartition>),
    Lost(Vec<TopicPartition>),
}

impl RecordSource for Member {
    type Event = Rebalance;
    const SUMMARY_AFTER_FAILURE: bool = true;
    const BLOCKING_WRITES: bool = true;

    async fn poll(&mut self) -> Polled<Rebalance> {
        match self.consumer.next().await {
            Ok(GroupEvent::Records(chunk)) => Polled::Records(chunk),
            Ok(GroupEvent::Reset { tp, from, to }) => Polled::Reset { tp, from, to },
            Ok(GroupEvent::Assigned(parts)) => Polled::Other(Rebalance::Assigned(parts)),
            Ok(GroupEvent::Revoked(parts)) => Polled::Other(Rebalance::Revoked(parts)),
            Ok(GroupEvent::Lost(parts)) => Polled::Other(Rebalance::Lost(parts)),
            Err(e) => Polled::Failed(group_error(e, &self.group)),
        }
    }

    async fn handle(&mut self, ev: Rebalance) -> Result<()> {
        let group = &self.group;
        match ev {
            Rebalance::Assigned(parts) => {
                tracing::info!(group = %group, partitions = %fmt_parts(&parts), "assigned");
                if self.exit_at_end && !parts.is_empty() {
                    let latest = list_offsets(
                        &self.cluster,
                        &parts,
                        OffsetSpec::Latest,
                        IsolationLevel::ReadUncommitted,
                    )
                    .await
                    .map_err(|e| anyhow::Error::new(e).context("cannot read the end offsets"))?;
                    self.ends.extend(latest.into_iter().map(|(tp, o)| (tp, o.offset)));
                }
                self.assigned_once = true;
            }
            Rebalance::Revoked(parts) => {
                tracing::info!(group = %group, partitions = %fmt_parts(&parts), "revoked");
                for tp in &parts {
                    self.ends.remove(tp);
                }
            }
            Rebalance::Lost(parts) => {
                tracing::warn!(group = %group, partitions = %fmt_parts(&parts), "partitions lost");
                for tp in &parts {
                    self.ends.remove(tp);
                }
            }
        }
        Ok(())
    }

    fn at_end(&self) -> bool {
        let c = &self.consumer;
        self.exit_at_end
            && self.assigned_once
            && c.assignment()
                .iter()
                .all(|tp| self.ends.get(tp).is_none_or(|e| c.processed(tp).is_some_and(|p| p >= *e)))
    }

    fn end_of(&self, tp: &TopicPartition) -> Option<i64> {
        if self.exit_at_end { self.ends.get(tp).copied() } else { None }
    }

    fn printed(&mut self, chunk: &FetchedChunk, processed: Option<i64>) {
        if let Some(p) = processed {
            self.consumer.mark_processed(&chunk.tp, p);
        }
    }

    async fn close(self) -> Result<()> {
        Ok(self.consumer.close().await?)
    }
}

fn group_error(e: GroupError, group: &str) -> anyhow::Error {
    match e.code() {
        Some(ErrorCode::GROUP_AUTHORIZATION_FAILED) => {
            anyhow::anyhow!("not authorized to use group '{group}'")
        }
        Some(ErrorCode(24)) => anyhow::anyhow!("invalid group id '{group}'"),
        Some(ErrorCode(26)) => anyhow::anyhow!(
            "the broker rejected session.timeout.ms for group '{group}' (it must be within the broker's \
             group.min.session.timeout.ms and group.max.session.timeout.ms)"
        ),
        _ => e.into(),
    }
}

fn fmt_parts(parts: &[TopicPartition]) -> String {
    if parts.is_empty() { "none".to_owned() } else { group_partitions(parts) }
}
