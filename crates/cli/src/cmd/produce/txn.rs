//! `kwire produce --transactional-id`: the input in transactions, committed
//! every N records or MS milliseconds and at the end of input. A failed
//! record aborts the open transaction; the run then stops, saying what was
//! committed (offsets per partition) and what was aborted.

use std::collections::{BTreeMap, VecDeque};
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use kwire_produce::{DeliveryFuture, ProduceError, Producer};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Every, Parser, Target};
use crate::args::format::Format;

/// Offsets per partition: (first, last, count).
#[derive(Default)]
struct Tally(BTreeMap<i32, (i64, i64, u64)>);

impl Tally {
    fn add(&mut self, partition: i32, offset: i64) {
        let e = self.0.entry(partition).or_insert((offset, offset, 0));
        e.0 = e.0.min(offset);
        e.1 = e.1.max(offset);
        e.2 += 1;
    }

    fn merge(&mut self, other: Tally) {
        for (p, (first, last, n)) in other.0 {
            let e = self.0.entry(p).or_insert((first, last, 0));
            e.0 = e.0.min(first);
            e.1 = e.1.max(last);
            e.2 += n;
        }
    }

    fn records(&self) -> u64 {
        self.0.values().map(|e| e.2).sum()
    }

    fn describe(&self) -> String {
        if self.0.is_empty() {
            return "nothing".to_owned();
        }
        self.0
            .iter()
            .map(|(p, (first, last, _))| {
                if first == last {
                    format!("partition {p} offset {first}")
                } else {
                    format!("partition {p} offsets {first}-{last}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Input lines, a chunk at a time, with what is left of the current chunk.
struct Lines {
    rx: mpsc::Receiver<std::io::Result<Vec<Vec<u8>>>>,
    buf: VecDeque<Vec<u8>>,
}

impl Lines {
    /// The next line, or None at the end of input or at `deadline`
    /// (`timed_out` then says which).
    async fn next(&mut self, deadline: Instant) -> Result<Next> {
        loop {
            if let Some(l) = self.buf.pop_front() {
                return Ok(Next::Line(l));
            }
            tokio::select! {
                chunk = self.rx.recv() => match chunk {
                    Some(Ok(c)) => self.buf.extend(c),
                    Some(Err(e)) => return Err(anyhow::Error::new(e).context("reading input")),
                    None => return Ok(Next::End),
                },
                _ = tokio::time::sleep_until(deadline) => return Ok(Next::Due),
            }
        }
    }
}

enum Next {
    Line(Vec<u8>),
    Due,
    End,
}

/// What stopped a transaction short of its commit.
struct Failure {
    error: anyhow::Error,
    /// Input lines of the aborted transaction.
    lines: (u64, u64),
    records: u64,
}

pub(super) async fn run(
    producer: &Producer,
    parser: &Parser,
    rx: mpsc::Receiver<std::io::Result<Vec<Vec<u8>>>>,
    target: Target<'_>,
    every: Every,
) -> Result<ExitCode> {
    let mut lines = Lines { rx, buf: VecDeque::new() };
    let mut committed = Tally::default();
    let mut transactions = 0u64;
    let mut lineno = 0u64;
    let mut end = false;
    while !end {
        producer.begin_transaction()?;
        let first_line = lineno + 1;
        let deadline = Instant::now() + every.time;
        let mut pending: Vec<(u64, DeliveryFuture)> = Vec::new();
        let mut failure: Option<anyhow::Error> = None;
        while (pending.len() as u64) < every.records {
            let raw = match lines.next(deadline).await {
                Ok(Next::Line(raw)) => raw,
                Ok(Next::Due) => break,
                Ok(Next::End) => {
                    end = true;
                    break;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            lineno += 1;
            if raw.is_empty() && target.format == Format::Json {
                continue;
            }
            let sent = match parser.parse(&raw, lineno) {
                Ok(line) => producer
                    .send(line.record(&target))
                    .await
                    .map_err(|e| anyhow!(e).context(format!("line {lineno}"))),
                Err(e) => Err(e),
            };
            match sent {
                Ok(f) => pending.push((lineno, f)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let commit = match failure {
            Some(e) => Err(e),
            None => producer.commit_transaction().await.map_err(anyhow::Error::new),
        };
        // Every record of the transaction has its outcome now (the commit
        // waited for them; an abort below fails the unsent ones).
        let mut tally = Tally::default();
        let mut first_failed: Option<(u64, ProduceError)> = None;
        match commit {
            Ok(()) => {
                resolve(pending, &mut tally, &mut first_failed).await;
                transactions += u64::from(tally.records() > 0);
                committed.merge(tally);
            }
            Err(e) => {
                let records = pending.len() as u64;
                let abort = producer.abort_transaction().await;
                resolve(pending, &mut tally, &mut first_failed).await;
                let error = match first_failed {
                    Some((l, fe)) => anyhow!(fe).context(format!("line {l}")),
                    None => e,
                };
                let error = match abort {
                    Ok(()) => error,
                    Err(ae) => error.context(format!("and the abort failed too: {ae}")),
                };
                report(&committed, transactions, Failure { error, lines: (first_line, lineno), records });
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    producer.close().await?;
    tracing::info!(records = committed.records(), transactions, "produced in transactions");
    Ok(ExitCode::SUCCESS)
}

/// Reads every outcome: acknowledged offsets into `tally`, the first real
/// failure (not the abort's own) into `first`.
async fn resolve(
    pending: Vec<(u64, DeliveryFuture)>,
    tally: &mut Tally,
    first: &mut Option<(u64, ProduceError)>,
) {
    for (l, f) in pending {
        match f.wait().await {
            Ok(m) => tally.add(m.partition, m.offset),
            Err(e) => {
                if first.is_none() && !matches!(e, ProduceError::TransactionAborted) {
                    *first = Some((l, e));
                }
            }
        }
    }
}

fn report(committed: &Tally, transactions: u64, f: Failure) {
    eprintln!(
        "kwire: error: {}; the open transaction was aborted",
        format!("{:#}", f.error).replace('\n', " ")
    );
    eprintln!(
        "kwire: committed: {} in {}: {}",
        plural(committed.records(), "record"),
        plural(transactions, "transaction"),
        committed.describe()
    );
    let (from, to) = f.lines;
    let lines = if to > from { format!("input lines {from}-{to}") } else { format!("input line {from}") };
    eprintln!(
        "kwire: aborted: {} ({lines}); read_committed consumers never see them",
        plural(f.records, "record")
    );
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}
