//! `kwire consume --group`: the console consumer as a member of a group.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kwire_fetch::{IsolationLevel, OffsetReset, OffsetSpec, TopicPartition, list_offsets};
use kwire_group::{GroupConfig, GroupConsumer, GroupError, GroupEvent};
use kwire_meta::Cluster;
use kwire_proto::ErrorCode;

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
    let mut consumer = GroupConsumer::subscribe(cluster.clone(), cfg, vec![a.topic.clone()])?;
    let max = a.max_messages.unwrap_or(u64::MAX);
    let idle = a.timeout_ms.map(Duration::from_millis);
    let mut total: u64 = 0;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let stdout = std::io::stdout();
    // --exit-at-end: the end offset of each partition when it was assigned.
    let mut ends: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut assigned_once = false;
    let mut failure: Option<anyhow::Error> = None;
    // Ctrl-C or SIGTERM: stop reading, print the summary.
    let mut stop = crate::signal::Stop::new();
    loop {
        if total >= max {
            break;
        }
        if a.exit_at_end
            && assigned_once
            && consumer
                .assignment()
                .iter()
                .all(|tp| ends.get(tp).is_none_or(|e| consumer.processed(tp).is_some_and(|p| p >= *e)))
        {
            break;
        }
        let ev = tokio::select! {
            ev = consumer.next() => ev,
            _ = stop.requested() => break,
            _ = sleep_opt(idle) => break,
        };
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                failure = Some(group_error(e, &group));
                break;
            }
        };
        match ev {
            GroupEvent::Records(chunk) => {
                let partition = chunk.tp.partition;
                let end = if a.exit_at_end { ends.get(chunk.tp.as_ref()).copied() } else { None };
                let mut next: Option<i64> = None;
                let mut stopped = false;
                let r = chunk.for_each_record(|batch, rec| {
                    if end.is_some_and(|e| rec.offset >= e) || total >= max {
                        stopped = true;
                        return ControlFlow::Break(());
                    }
                    printer.write(&mut buf, partition, batch, rec);
                    total += 1;
                    next = Some(rec.offset.saturating_add(1));
                    ControlFlow::Continue(())
                });
                // A slow reader of stdout may block this write for long: let
                // the runtime move the group's heartbeat task elsewhere meanwhile.
                tokio::task::block_in_place(|| -> Result<()> {
                    let mut out = stdout.lock();
                    out.write_all(&buf).context("writing to stdout")?;
                    out.flush().context("writing to stdout")
                })?;
                buf.clear();
                // Printed means processed: commit covers exactly that.
                let processed = if stopped { next } else { Some(chunk.next_offset) };
                if let Some(p) = processed {
                    consumer.mark_processed(&chunk.tp, p);
                }
                if let Err(e) = r {
                    failure = Some(anyhow::Error::new(e).context(format!("cannot read {}", chunk.tp)));
                    break;
                }
            }
            GroupEvent::Assigned(parts) => {
                tracing::info!(group = %group, partitions = %fmt_parts(&parts), "assigned");
                if a.exit_at_end && !parts.is_empty() {
                    let latest =
                        list_offsets(&cluster, &parts, OffsetSpec::Latest, IsolationLevel::ReadUncommitted)
                            .await
                            .map_err(|e| anyhow::Error::new(e).context("cannot read the end offsets"))?;
                    ends.extend(latest.into_iter().map(|(tp, o)| (tp, o.offset)));
                }
                assigned_once = true;
            }
            GroupEvent::Revoked(parts) => {
                tracing::info!(group = %group, partitions = %fmt_parts(&parts), "revoked");
                for tp in &parts {
                    ends.remove(tp);
                }
            }
            GroupEvent::Lost(parts) => {
                tracing::warn!(group = %group, partitions = %fmt_parts(&parts), "partitions lost");
                for tp in &parts {
                    ends.remove(tp);
                }
            }
            GroupEvent::Reset { tp, from, to } => {
                eprintln!("kwire: warning: {tp}: offset {from} is out of range; resetting to {to}");
            }
        }
    }
    let closed = consumer.close().await;
    if let Some(e) = failure {
        // A failure before anything was read is the one line to show.
        if total > 0 {
            eprintln!("Processed a total of {total} messages");
        }
        return Err(e);
    }
    eprintln!("Processed a total of {total} messages");
    if let Err(e) = closed {
        eprintln!("kwire: warning: {e}");
    }
    Ok(ExitCode::SUCCESS)
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

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
