//! The console consumer's loop, shared by direct reads (`kwire consume`, a
//! [`kwire_fetch::Fetcher`]) and group members (`kwire consume --group`, a
//! [`kwire_group::GroupConsumer`]): `--max-messages`, `--timeout-ms`,
//! `--exit-at-end` (through the source), printing each record straight from
//! the fetched bytes into one reused buffer, Ctrl-C / SIGTERM, and the
//! `Processed a total of N messages` summary.

use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use kwire_fetch::{FetchedChunk, TopicPartition};

use super::printer::Printer;

/// What a source produced.
pub(crate) enum Polled<E> {
    /// Records to print.
    Records(FetchedChunk),
    /// A position was out of range and was reset.
    Reset {
        /// The partition.
        tp: Arc<TopicPartition>,
        /// Old position.
        from: i64,
        /// New position.
        to: i64,
    },
    /// Something for the source itself ([`RecordSource::handle`]).
    Other(E),
    /// The source has no more records.
    End,
    /// The source failed: the run ends with this error.
    Failed(anyhow::Error),
}

/// Where the records come from.
pub(crate) trait RecordSource {
    /// Events only the source understands (assignments, ...).
    type Event;
    /// Whether the summary line is printed before a failure's error line
    /// when some records were printed. Direct reads keep the error the only
    /// line (the hostile-broker tests hold them to it); a group member says
    /// how far it got, since its progress is committed.
    const SUMMARY_AFTER_FAILURE: bool;
    /// Whether writing to stdout goes through `block_in_place`: a slow reader
    /// must not stall a group member's heartbeats (needs worker threads).
    const BLOCKING_WRITES: bool;

    /// The next event. Raced against the idle timeout and the stop signals:
    /// it must be cancel-safe.
    async fn poll(&mut self) -> Polled<Self::Event>;
    /// Handles an [`Polled::Other`] event (not raced).
    async fn handle(&mut self, ev: Self::Event) -> Result<()>;
    /// Everything to read was read (`--exit-at-end`).
    fn at_end(&self) -> bool;
    /// The offset at which printing `tp` stops (`--exit-at-end`), if any.
    fn end_of(&self, tp: &TopicPartition) -> Option<i64>;
    /// `chunk` was printed; `processed` is the offset after the last record
    /// handled (the chunk's end when it was printed whole), if any.
    fn printed(&mut self, chunk: &FetchedChunk, processed: Option<i64>);
    /// Ends the source; its error is a warning after the summary.
    async fn close(self) -> Result<()>;
}

/// Reads `source` until `max_messages` were printed, it is at its end, it
/// is idle for `idle`, it fails, or a stop signal arrives; prints the summary.
pub(crate) async fn run<S: RecordSource>(
    mut source: S,
    printer: &Printer,
    max_messages: Option<u64>,
    idle: Option<Duration>,
) -> Result<ExitCode> {
    let max = max_messages.unwrap_or(u64::MAX);
    let mut total: u64 = 0;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let stdout = std::io::stdout();
    let mut failure: Option<anyhow::Error> = None;
    // Ctrl-C or SIGTERM: stop reading, print the summary.
    let mut stop = crate::signal::Stop::new();
    while total < max && !source.at_end() {
        let polled = tokio::select! {
            p = source.poll() => p,
            _ = stop.requested() => break,
            _ = sleep_opt(idle) => break,
        };
        let chunk = match polled {
            Polled::Records(chunk) => chunk,
            Polled::Reset { tp, from, to } => {
                if to < from {
                    eprintln!(
                        "kwire: warning: {tp}: the log was truncated below offset {from} (unclean leader \
                         election?); resetting to {to}, the first offset known to diverge"
                    );
                } else {
                    eprintln!("kwire: warning: {tp}: offset {from} is out of range; resetting to {to}");
                }
                continue;
            }
            Polled::Other(ev) => {
                if let Err(e) = source.handle(ev).await {
                    failure = Some(e);
                    break;
                }
                continue;
            }
            Polled::End => break,
            Polled::Failed(e) => {
                failure = Some(e);
                break;
            }
        };
        let partition = chunk.tp.partition;
        let end = source.end_of(&chunk.tp);
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
        let write = || -> Result<()> {
            let mut out = stdout.lock();
            out.write_all(&buf).context("writing to stdout")?;
            out.flush().context("writing to stdout")
        };
        if S::BLOCKING_WRITES { tokio::task::block_in_place(write) } else { write() }?;
        buf.clear();
        // Printed means processed: a chunk cut short (or undecodable past
        // some record) counts up to its last printed record.
        source.printed(&chunk, if stopped || r.is_err() { next } else { Some(chunk.next_offset) });
        if let Err(e) = r {
            // It names the partition and offset already.
            failure = Some(e.into());
            break;
        }
    }
    let closed = source.close().await;
    if let Some(e) = failure {
        // The error is the line to show; main prints it.
        if S::SUMMARY_AFTER_FAILURE && total > 0 {
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

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
