//! `kwire transactions`: kafka-transactions.sh, natively (same subcommands,
//! flags and tables; errors are one line and a non-zero exit).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kwire_meta::Cluster;
use kwire_meta::txn_admin::{
    self, AbortSpec, HangingFilter, ListTransactionsFilter, ProducerState, TransactionDescription,
};
use kwire_proto::TopicPartition;
use serde_json::{Value, json};

use crate::args::format::Format;
use crate::args::transactions::{
    TransactionsArgs, TransactionsCmd, TxnAbortArgs, TxnDescribeArgs, TxnDescribeProducersArgs,
    TxnFindHangingArgs, TxnListArgs,
};
use crate::config::ClientSettings;

pub async fn run(settings: &ClientSettings, args: TransactionsArgs) -> Result<ExitCode> {
    let cluster = Cluster::new(settings.cluster.clone());
    let out = match args.cmd {
        TransactionsCmd::List(a) => list(&cluster, a).await?,
        TransactionsCmd::Describe(a) => describe(&cluster, a).await?,
        TransactionsCmd::DescribeProducers(a) => describe_producers(&cluster, a).await?,
        TransactionsCmd::Abort(a) => abort(&cluster, a).await?,
        TransactionsCmd::FindHanging(a) => find_hanging(&cluster, a).await?,
    };
    let mut o = std::io::stdout().lock();
    o.write_all(out.as_bytes()).context("writing to stdout")?;
    o.flush().context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// kafka-transactions.sh's table: every cell left-aligned and padded to the
/// widest of its column (header included), each followed by a TAB.
pub fn tab_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        for (c, w) in cells.zip(&widths) {
            out.push_str(c);
            out.extend(std::iter::repeat_n(' ', w.saturating_sub(c.chars().count())));
            out.push('\t');
        }
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    out
}

async fn list(cluster: &Cluster, a: TxnListArgs) -> Result<String> {
    let filter = ListTransactionsFilter {
        duration_ms: a.duration_filter.filter(|d| *d >= 0),
        transactional_id_pattern: a.transactional_id_pattern.filter(|p| !p.is_empty()),
        ..Default::default()
    };
    let ts = txn_admin::list_transactions(cluster, &filter).await.context("cannot list transactions")?;
    if a.format == Format::Json {
        let v: Vec<Value> = ts
            .iter()
            .map(|t| {
                json!({"transactional_id": t.transactional_id, "coordinator": t.coordinator_id,
                       "producer_id": t.producer_id, "state": t.state})
            })
            .collect();
        return Ok(json_line(&json!({ "transactions": v })));
    }
    let rows: Vec<Vec<String>> = ts
        .into_iter()
        .map(|t| vec![t.transactional_id, t.coordinator_id.to_string(), t.producer_id.to_string(), t.state])
        .collect();
    Ok(tab_table(&["TransactionalId", "Coordinator", "ProducerId", "TransactionState"], &rows))
}

/// The `describe` row; the duration is `now_ms` minus the start.
pub fn describe_row(d: &TransactionDescription, now_ms: i64) -> Vec<String> {
    let (start, duration) = match d.start_time_ms {
        Some(s) => (s.to_string(), now_ms.saturating_sub(s).to_string()),
        None => ("None".to_owned(), "None".to_owned()),
    };
    vec![
        d.coordinator_id.to_string(),
        d.transactional_id.clone(),
        d.producer_id.to_string(),
        d.producer_epoch.to_string(),
        d.state.clone(),
        d.timeout_ms.to_string(),
        start,
        duration,
        d.partitions.iter().map(TopicPartition::to_string).collect::<Vec<_>>().join(","),
    ]
}

async fn describe(cluster: &Cluster, a: TxnDescribeArgs) -> Result<String> {
    let d = txn_admin::describe_transaction(cluster, &a.transactional_id).await?;
    if a.format == Format::Json {
        let now = txn_admin::now_ms();
        return Ok(json_line(&json!({
            "coordinator_id": d.coordinator_id, "transactional_id": d.transactional_id,
            "producer_id": d.producer_id, "producer_epoch": d.producer_epoch, "state": d.state,
            "timeout_ms": d.timeout_ms, "start_time_ms": d.start_time_ms,
            "duration_ms": d.start_time_ms.map(|s| now.saturating_sub(s)),
            "partitions": d.partitions.iter().map(tp_json).collect::<Vec<_>>(),
        })));
    }
    let row = describe_row(&d, txn_admin::now_ms());
    Ok(tab_table(
        &[
            "CoordinatorId",
            "TransactionalId",
            "ProducerId",
            "ProducerEpoch",
            "TransactionState",
            "TransactionTimeoutMs",
            "CurrentTransactionStartTimeMs",
            "TransactionDurationMs",
            "TopicPartitions",
        ],
        &[row],
    ))
}

fn opt_or_minus_one<T: Into<i64>>(v: T) -> String {
    let v: i64 = v.into();
    if v >= 0 { v.to_string() } else { "-1".to_owned() }
}

/// The `describe-producers` row of one producer.
pub fn producer_row(p: &ProducerState) -> Vec<String> {
    vec![
        p.producer_id.to_string(),
        p.producer_epoch.to_string(),
        opt_or_minus_one(p.coordinator_epoch),
        p.last_sequence.to_string(),
        p.last_timestamp.to_string(),
        if p.current_txn_start_offset >= 0 {
            p.current_txn_start_offset.to_string()
        } else {
            "None".to_owned()
        },
    ]
}

async fn describe_producers(cluster: &Cluster, a: TxnDescribeProducersArgs) -> Result<String> {
    let tp = TopicPartition::new(a.topic, a.partition);
    let on = match a.broker_id {
        Some(b) => format!("broker {b}"),
        None => "leader".to_owned(),
    };
    let ps = txn_admin::describe_producers(cluster, &tp, a.broker_id)
        .await
        .with_context(|| format!("cannot describe producers of {tp} on {on}"))?;
    if a.format == Format::Json {
        let v: Vec<Value> = ps.iter().map(producer_json).collect();
        return Ok(json_line(&json!({"topic": tp.topic, "partition": tp.partition, "producers": v})));
    }
    let rows: Vec<Vec<String>> = ps.iter().map(producer_row).collect();
    Ok(tab_table(
        &[
            "ProducerId",
            "ProducerEpoch",
            "LatestCoordinatorEpoch",
            "LastSequence",
            "LastTimestamp",
            "CurrentTransactionStartOffset",
        ],
        &rows,
    ))
}

fn json_line(v: &Value) -> String {
    format!("{v}\n")
}

fn tp_json(tp: &TopicPartition) -> Value {
    json!({"topic": tp.topic, "partition": tp.partition})
}

/// One producer's state as JSON (absent values are null, where the table prints -1 or None).
fn producer_json(p: &ProducerState) -> Value {
    json!({
        "producer_id": p.producer_id, "producer_epoch": p.producer_epoch,
        "coordinator_epoch": (p.coordinator_epoch >= 0).then_some(p.coordinator_epoch),
        "last_sequence": p.last_sequence, "last_timestamp": p.last_timestamp,
        "current_transaction_start_offset":
            (p.current_txn_start_offset >= 0).then_some(p.current_txn_start_offset),
    })
}

/// What `abort`'s flags identify, with kafka-transactions.sh's rules.
pub fn abort_spec(a: &TxnAbortArgs) -> Result<AbortSpec> {
    if let Some(off) = a.start_offset {
        if off < 0 {
            bail!("--start-offset must be >= 0 (got {off})");
        }
        return Ok(AbortSpec::StartOffset(off));
    }
    let Some(producer_id) = a.producer_id else {
        bail!(
            "the transaction to abort must be identified either with --start-offset (for brokers on 3.0 or above) \
             or with --producer-id, --producer-epoch, and --coordinator-epoch (for older brokers)"
        );
    };
    let Some(producer_epoch) = a.producer_epoch else { bail!("missing required argument --producer-epoch") };
    let Some(coordinator_epoch) = a.coordinator_epoch else {
        bail!("missing required argument --coordinator-epoch")
    };
    Ok(AbortSpec::Producer { producer_id, producer_epoch, coordinator_epoch })
}

async fn abort(cluster: &Cluster, a: TxnAbortArgs) -> Result<String> {
    let spec = abort_spec(&a)?;
    let tp = TopicPartition::new(a.topic, a.partition);
    let done = txn_admin::abort_transaction(cluster, &tp, spec)
        .await
        .with_context(|| format!("cannot abort the transaction on {tp}"))?;
    if a.format == Format::Json {
        return Ok(json_line(&json!({
            "topic": tp.topic, "partition": tp.partition, "producer_id": done.producer_id,
            "producer_epoch": done.producer_epoch, "coordinator_epoch": done.coordinator_epoch,
            "leader": done.leader,
        })));
    }
    // kafka-transactions.sh prints nothing on success; the note goes to stderr.
    eprintln!(
        "Aborted the transaction of producer {} (epoch {}, coordinator epoch {}) on {tp} (leader {})",
        done.producer_id, done.producer_epoch, done.coordinator_epoch, done.leader
    );
    Ok(String::new())
}

async fn find_hanging(cluster: &Cluster, a: TxnFindHangingArgs) -> Result<String> {
    if a.topic.is_none() && a.broker_id.is_none() {
        bail!(
            "the find-hanging command requires either --topic or --broker-id to limit the scope of the search"
        );
    }
    if a.partition.is_some() && a.topic.is_none() {
        bail!("the --partition argument requires --topic to be provided");
    }
    let Ok(minutes) = u64::try_from(a.max_transaction_timeout) else {
        bail!("--max-transaction-timeout must be >= 0 minutes (got {})", a.max_transaction_timeout);
    };
    let filter = HangingFilter { broker_id: a.broker_id, topic: a.topic, partition: a.partition };
    let hanging = txn_admin::find_hanging(cluster, &filter, Duration::from_secs(minutes.saturating_mul(60)))
        .await
        .context("cannot search for hanging transactions")?;
    let now = txn_admin::now_ms();
    if a.format == Format::Json {
        let v: Vec<Value> = hanging
            .iter()
            .map(|h| {
                let mut o = producer_json(&h.producer);
                o["topic"] = json!(h.partition.topic);
                o["partition"] = json!(h.partition.partition);
                o["duration_min"] = json!(now.saturating_sub(h.producer.last_timestamp) / 60_000);
                o
            })
            .collect();
        return Ok(json_line(&json!({ "hanging": v })));
    }
    let rows: Vec<Vec<String>> = hanging
        .iter()
        .map(|h| {
            let p = &h.producer;
            vec![
                h.partition.topic.clone(),
                h.partition.partition.to_string(),
                p.producer_id.to_string(),
                p.producer_epoch.to_string(),
                opt_or_minus_one(p.coordinator_epoch),
                opt_or_minus_one(p.current_txn_start_offset),
                p.last_timestamp.to_string(),
                (now.saturating_sub(p.last_timestamp) / 60_000).to_string(),
            ]
        })
        .collect();
    Ok(tab_table(
        &[
            "Topic",
            "Partition",
            "ProducerId",
            "ProducerEpoch",
            "CoordinatorEpoch",
            "StartOffset",
            "LastTimestamp",
            "Duration(min)",
        ],
        &rows,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_kafka_transactions_sh() {
        // Captured from Kafka 4.4's kafka-transactions.sh.
        let t = tab_table(
            &["TransactionalId", "Coordinator", "ProducerId", "TransactionState"],
            &[vec!["probe-tx".into(), "1".into(), "0".into(), "Ongoing".into()]],
        );
        assert_eq!(
            t,
            "TransactionalId\tCoordinator\tProducerId\tTransactionState\t\n\
             probe-tx       \t1          \t0         \tOngoing         \t\n"
        );
        let p = ProducerState {
            producer_id: 0,
            producer_epoch: 0,
            last_sequence: 1135,
            last_timestamp: 1_796_425_081_712,
            coordinator_epoch: -1,
            current_txn_start_offset: 0,
        };
        let t = tab_table(
            &[
                "ProducerId",
                "ProducerEpoch",
                "LatestCoordinatorEpoch",
                "LastSequence",
                "LastTimestamp",
                "CurrentTransactionStartOffset",
            ],
            &[producer_row(&p)],
        );
        assert_eq!(
            t,
            "ProducerId\tProducerEpoch\tLatestCoordinatorEpoch\tLastSequence\tLastTimestamp\tCurrentTransactionStartOffset\t\n\
             0         \t0            \t-1                    \t1135        \t1796425081712\t0                            \t\n"
        );
        let none = ProducerState { current_txn_start_offset: -1, ..p };
        assert_eq!(producer_row(&none)[5], "None");
        let empty = tab_table(&["Topic", "Partition"], &[]);
        assert_eq!(empty, "Topic\tPartition\t\n");
    }

    #[test]
    fn describe_row_like_kafka() {
        let d = TransactionDescription {
            coordinator_id: 1,
            transactional_id: "probe-tx".into(),
            producer_id: 0,
            producer_epoch: 0,
            state: "Ongoing".into(),
            timeout_ms: 60_000,
            start_time_ms: Some(1_796_425_073_308),
            partitions: vec![TopicPartition::new("txprobe", 1), TopicPartition::new("txprobe", 0)],
        };
        let r = describe_row(&d, 1_796_425_083_239);
        assert_eq!(
            r,
            ["1", "probe-tx", "0", "0", "Ongoing", "60000", "1796425073308", "9931", "txprobe-1,txprobe-0"]
        );
        let idle = TransactionDescription { start_time_ms: None, partitions: vec![], ..d };
        let r = describe_row(&idle, 0);
        assert_eq!((r[6].as_str(), r[7].as_str(), r[8].as_str()), ("None", "None", ""));
    }

    #[test]
    fn abort_flags_follow_kafka_rules() {
        let base = TxnAbortArgs {
            topic: "t".into(),
            partition: 0,
            start_offset: None,
            producer_id: None,
            producer_epoch: None,
            coordinator_epoch: None,
            format: Format::Text,
        };
        assert!(abort_spec(&base).unwrap_err().to_string().contains("--start-offset"));
        let a = TxnAbortArgs { start_offset: Some(7), ..base.clone_args() };
        assert_eq!(abort_spec(&a).unwrap(), AbortSpec::StartOffset(7));
        let a = TxnAbortArgs { producer_id: Some(3), ..base.clone_args() };
        assert!(abort_spec(&a).unwrap_err().to_string().contains("--producer-epoch"));
        let a = TxnAbortArgs { producer_id: Some(3), producer_epoch: Some(1), ..base.clone_args() };
        assert!(abort_spec(&a).unwrap_err().to_string().contains("--coordinator-epoch"));
        let a = TxnAbortArgs {
            producer_id: Some(3),
            producer_epoch: Some(1),
            coordinator_epoch: Some(-1),
            ..base.clone_args()
        };
        assert_eq!(
            abort_spec(&a).unwrap(),
            AbortSpec::Producer { producer_id: 3, producer_epoch: 1, coordinator_epoch: -1 }
        );
        let a = TxnAbortArgs { start_offset: Some(-2), ..base.clone_args() };
        assert!(abort_spec(&a).is_err());
    }

    impl TxnAbortArgs {
        fn clone_args(&self) -> TxnAbortArgs {
            TxnAbortArgs {
                topic: self.topic.clone(),
                partition: self.partition,
                start_offset: self.start_offset,
                producer_id: self.producer_id,
                producer_epoch: self.producer_epoch,
                coordinator_epoch: self.coordinator_epoch,
                format: self.format,
            }
        }
    }
}
