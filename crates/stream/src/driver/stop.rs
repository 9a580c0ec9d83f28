//! Stopping: Ctrl-C / SIGTERM (the guide's `query.stop()`), and the hidden
//! crash points the integration tests use to kill the process mid-batch.

use tokio::sync::watch;

use crate::error::StreamError;

/// A stop request the driver checks between and inside batches.
///
/// The first Ctrl-C or SIGTERM asks the query to stop: a batch still reading
/// its records is abandoned (it is re-run from its checkpointed offsets on the
/// next start), a batch already writing its sink is finished, then the run
/// ends with success. A second signal exits at once with status 130.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// A stop request that is sent with `tx.send(true)`.
    pub fn channel() -> (watch::Sender<bool>, Stop) {
        let (tx, rx) = watch::channel(false);
        (tx, Stop(rx))
    }

    /// Stop on Ctrl-C (SIGINT) or SIGTERM. Must be called inside a tokio runtime.
    pub fn on_signals() -> Stop {
        let (tx, stop) = Stop::channel();
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let mut seen = 0u32;
            loop {
                #[cfg(unix)]
                {
                    let sigterm = async {
                        match term.as_mut() {
                            Some(t) => {
                                t.recv().await;
                            }
                            None => std::future::pending::<()>().await,
                        }
                    };
                    tokio::select! {
                        r = tokio::signal::ctrl_c() => if r.is_err() { return },
                        _ = sigterm => {}
                    }
                }
                #[cfg(not(unix))]
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                seen += 1;
                if seen == 1 {
                    tracing::info!(
                        "stopping: finishing or abandoning the current batch (signal again to exit now)"
                    );
                    let _ = tx.send(true);
                } else {
                    std::process::exit(130);
                }
            }
        });
        stop
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop is requested (never, if the sender is gone without
    /// asking). Cancel-safe.
    pub async fn wait(&mut self) {
        loop {
            if *self.0.borrow_and_update() {
                return;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Named points of a batch where the test hook can abort the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrashPoint {
    /// `offsets/N` written, nothing read yet.
    AfterOffsets,
    /// Part of the batch's records processed (and, for projections, part of
    /// its rows already handed to the sink).
    MidBatch,
    /// All records processed, the sink not finished.
    BeforeSink,
    /// The sink's output is written (and fsynced), `sinks/N` not yet.
    SinkWritten,
    /// The sink finished (output durable, `sinks/N` written); no state, no commit.
    AfterSink,
    /// State written, no commit.
    AfterState,
    /// Batch committed; the next one not planned.
    AfterCommit,
}

const POINTS: [(&str, CrashPoint); 7] = [
    ("after-offsets", CrashPoint::AfterOffsets),
    ("mid-batch", CrashPoint::MidBatch),
    ("before-sink", CrashPoint::BeforeSink),
    ("sink-written", CrashPoint::SinkWritten),
    ("after-sink", CrashPoint::AfterSink),
    ("after-state", CrashPoint::AfterState),
    ("after-commit", CrashPoint::AfterCommit),
];

/// Test hook: `KWIRE_STREAM_CRASH_AT=POINT:BATCH` (e.g. `after-sink:2`) makes the
/// process abort (no cleanup, no flush: as abrupt as `kill -9`) when batch
/// BATCH reaches POINT. Points: after-offsets, mid-batch, before-sink,
/// sink-written, after-sink, after-state, after-commit. Not a user feature.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Crash(Option<(CrashPoint, u64)>);

impl Crash {
    pub(crate) fn from_env() -> Result<Crash, StreamError> {
        let Ok(v) = std::env::var("KWIRE_STREAM_CRASH_AT") else { return Ok(Crash(None)) };
        let bad = || {
            StreamError::Source(format!(
                "KWIRE_STREAM_CRASH_AT={v:?}: expected POINT:BATCH with POINT one of {}",
                POINTS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
            ))
        };
        let (name, batch) = v.split_once(':').ok_or_else(bad)?;
        let point = POINTS.iter().find(|p| p.0 == name.trim()).map(|p| p.1).ok_or_else(bad)?;
        let batch = batch.trim().parse::<u64>().map_err(|_| bad())?;
        Ok(Crash(Some((point, batch))))
    }

    #[inline]
    pub(crate) fn at(&self, point: CrashPoint, batch: u64) {
        if self.0 == Some((point, batch)) {
            eprintln!("kwire: KWIRE_STREAM_CRASH_AT: aborting at {point:?} of batch {batch}");
            std::process::abort();
        }
    }
}
