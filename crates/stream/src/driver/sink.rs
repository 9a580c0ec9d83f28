//! Sinks: the console (Spark's layout, on stdout) and JSON lines (a file,
//! exactly once per batch id with a checkpoint, or stdout).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

use kwire_meta::Cluster;
use kwire_produce::{DeliveryFuture, Producer, ProducerConfig, ProducerRecord};
use serde_json::json;

use crate::error::StreamError;
use crate::show::{ShowOptions, ShowTable, console_header};
use crate::sink::{jsonl_line, kafka_record};
use crate::value::{Row, StructType};

/// Where a query's rows go (`--sink`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// `console`: each batch as Spark's console sink prints it, on stdout.
    Console(ShowOptions),
    /// `jsonl:PATH`: one JSON object per row, appended to PATH (`-` = stdout).
    /// With a checkpoint, a batch re-run after a crash replaces its own partial
    /// output, so every batch is in the file exactly once.
    Jsonl(PathBuf),
    /// `kafka:TOPIC`: each row as a JSON value, the grouping columns as a
    /// JSON key (so a group's updates stay in one partition), acks=all. A batch
    /// is finished once every record is acknowledged; a batch re-run after a
    /// crash between its last acknowledgement and `sinks/N` is written again
    /// (at least once, like Spark's Kafka sink).
    Kafka(String),
}

impl Default for SinkSpec {
    fn default() -> Self {
        SinkSpec::Console(ShowOptions::default())
    }
}

impl SinkSpec {
    /// Parse `console`, `jsonl:PATH` or `kafka:TOPIC`.
    pub fn parse(s: &str) -> Result<SinkSpec, StreamError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("console") {
            return Ok(SinkSpec::Console(ShowOptions::default()));
        }
        if let Some(p) = t.strip_prefix("jsonl:").filter(|p| !p.is_empty()) {
            return Ok(SinkSpec::Jsonl(PathBuf::from(p)));
        }
        if let Some(topic) = t.strip_prefix("kafka:").filter(|t| !t.is_empty()) {
            return Ok(SinkSpec::Kafka(topic.to_string()));
        }
        Err(StreamError::Sink(format!(
            "invalid sink {s:?}: expected console, jsonl:PATH (- for stdout) or kafka:TOPIC"
        )))
    }

    /// A short description (progress reports).
    pub fn describe(&self) -> String {
        match self {
            SinkSpec::Console(o) => {
                format!("ConsoleSink[numRows={}, truncate={}]", o.num_rows, o.truncate > 0)
            }
            SinkSpec::Jsonl(p) => format!("JsonlSink[{}]", p.display()),
            SinkSpec::Kafka(t) => format!("KafkaSink[{t}]"),
        }
    }
}

enum Kind {
    Console { opts: ShowOptions, table: Option<ShowTable> },
    Jsonl { path: PathBuf, file: Option<File>, buf: String, start: u64 },
    Kafka { topic: String, producer: Producer, key_columns: Vec<usize>, pending: Vec<DeliveryFuture> },
}

/// An open sink. Per batch: [`Sink::begin`], any number of [`Sink::rows`],
/// then [`Sink::finish`] (output durable) or [`Sink::abort`].
pub(crate) struct Sink {
    kind: Kind,
    skip: bool,
    rows: u64,
}

fn sink_err(path: &std::path::Path, what: &str, e: impl std::fmt::Display) -> StreamError {
    StreamError::Sink(format!("jsonl sink {}: cannot {what}: {e}", path.display()))
}

const FLUSH_AT: usize = 1 << 20;
/// Kafka sink: wait for acknowledgements every this many records (bounds the
/// delivery futures held).
const SETTLE_AT: usize = 100_000;

impl Sink {
    /// Open the sink (the Kafka sink connects and gets its producer id here).
    pub(crate) async fn open(
        spec: &SinkSpec,
        cluster: &Cluster,
        producer: &ProducerConfig,
        key_columns: &[usize],
    ) -> Result<Sink, StreamError> {
        let kind = match spec {
            SinkSpec::Console(opts) => Kind::Console { opts: *opts, table: None },
            SinkSpec::Jsonl(path) if path.as_os_str() == "-" => {
                Kind::Jsonl { path: path.clone(), file: None, buf: String::new(), start: 0 }
            }
            SinkSpec::Jsonl(path) => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .map_err(|e| sink_err(path, "open the file", e))?;
                Kind::Jsonl { path: path.clone(), file: Some(file), buf: String::new(), start: 0 }
            }
            SinkSpec::Kafka(topic) => Kind::Kafka {
                topic: topic.clone(),
                producer: Producer::new(Cluster::new(cluster.config().clone()), producer.clone()).await?,
                key_columns: key_columns.to_vec(),
                pending: Vec::new(),
            },
        };
        Ok(Sink { kind, skip: false, rows: 0 })
    }

    /// What to record in `offsets/N` so that a re-run of the batch can undo
    /// partial output: the jsonl file's length before the batch.
    pub(crate) fn position(&self) -> Result<Option<serde_json::Value>, StreamError> {
        match &self.kind {
            Kind::Jsonl { path, file: Some(f), .. } => {
                let len = f.metadata().map_err(|e| sink_err(path, "read the file's length", e))?.len();
                Ok(Some(json!({"jsonl": {"path": path.display().to_string(), "len": len}})))
            }
            _ => Ok(None),
        }
    }

    /// Start a batch. `recorded` is the position saved in `offsets/N` when
    /// this is a re-run; `skip` says the sink already finished this batch in
    /// an earlier run (nothing is written again).
    pub(crate) fn begin(
        &mut self,
        schema: &StructType,
        recorded: Option<&serde_json::Value>,
        skip: bool,
    ) -> Result<(), StreamError> {
        self.skip = skip;
        self.rows = 0;
        match &mut self.kind {
            Kind::Console { opts, table } => *table = Some(ShowTable::new(schema.clone(), *opts)),
            Kind::Kafka { pending, .. } => pending.clear(),
            Kind::Jsonl { path, file, buf, start } => {
                buf.clear();
                if let Some(f) = file {
                    let len = f.metadata().map_err(|e| sink_err(path, "read the file's length", e))?.len();
                    let mut pos = len;
                    let here = path.display().to_string();
                    let recorded_len = recorded
                        .and_then(|v| v.get("jsonl"))
                        .filter(|r| r.get("path").and_then(|p| p.as_str()) == Some(here.as_str()))
                        .and_then(|r| r.get("len").and_then(|l| l.as_u64()))
                        .filter(|l| !skip && *l < len);
                    if let Some(l) = recorded_len {
                        // A re-run: drop what the interrupted run wrote for this batch.
                        f.set_len(l).map_err(|e| sink_err(path, "truncate the file", e))?;
                        pos = l;
                    }
                    f.seek(SeekFrom::Start(pos)).map_err(|e| sink_err(path, "seek", e))?;
                    *start = pos;
                }
            }
        }
        Ok(())
    }

    /// Hand rows of the open batch to the sink.
    pub(crate) async fn rows(&mut self, schema: &StructType, rows: &[Row]) -> Result<(), StreamError> {
        self.rows += rows.len() as u64;
        if self.skip {
            return Ok(());
        }
        match &mut self.kind {
            Kind::Console { table, .. } => {
                if let Some(t) = table {
                    for r in rows {
                        if !t.push(r) {
                            break;
                        }
                    }
                }
            }
            Kind::Jsonl { path, file, buf, .. } => {
                for r in rows {
                    jsonl_line(schema, r, buf);
                    if buf.len() >= FLUSH_AT {
                        write_out(path, file.as_mut(), buf)?;
                    }
                }
            }
            Kind::Kafka { topic, producer, key_columns, pending } => {
                for r in rows {
                    let rec = kafka_record(schema, key_columns, r);
                    let ack = producer
                        .send(ProducerRecord {
                            topic,
                            key: rec.key.as_deref(),
                            value: Some(&rec.value),
                            ..ProducerRecord::default()
                        })
                        .await?;
                    pending.push(ack);
                    if pending.len() >= SETTLE_AT {
                        settle(producer, pending).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Finish the batch: print it (console) or make it durable (jsonl:
    /// write, fsync; kafka: every record acknowledged). Returns the number of
    /// rows the batch output.
    pub(crate) async fn finish(&mut self, batch_id: u64) -> Result<u64, StreamError> {
        if self.skip {
            return Ok(self.rows);
        }
        match &mut self.kind {
            Kind::Console { table, .. } => {
                if let Some(t) = table.take() {
                    let mut text = console_header(batch_id);
                    text.push_str(&t.render());
                    text.push('\n');
                    let mut out = std::io::stdout().lock();
                    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(|e| {
                        StreamError::Sink(format!("console sink: cannot write to stdout: {e}"))
                    })?;
                }
            }
            Kind::Jsonl { path, file, buf, .. } => {
                write_out(path, file.as_mut(), buf)?;
                if let Some(f) = file {
                    f.sync_data().map_err(|e| sink_err(path, "fsync the file", e))?;
                }
            }
            Kind::Kafka { producer, pending, .. } => settle(producer, pending).await?,
        }
        Ok(self.rows)
    }

    /// Stop the sink at the end of a run (the Kafka producer flushes and closes).
    pub(crate) async fn close(&mut self) -> Result<(), StreamError> {
        if let Kind::Kafka { producer, .. } = &self.kind {
            producer.close().await?;
        }
        Ok(())
    }

    /// Abandon the open batch: undo its partial jsonl output (records already
    /// sent to Kafka stay; the re-run sends the batch again).
    pub(crate) fn abort(&mut self) {
        match &mut self.kind {
            Kind::Console { table, .. } => *table = None,
            Kind::Kafka { pending, .. } => pending.clear(),
            Kind::Jsonl { file, buf, start, .. } => {
                buf.clear();
                if let Some(f) = file.as_mut().filter(|_| !self.skip) {
                    let _ = f.set_len(*start);
                }
            }
        }
    }
}

fn write_out(path: &std::path::Path, file: Option<&mut File>, buf: &mut String) -> Result<(), StreamError> {
    if buf.is_empty() {
        return Ok(());
    }
    match file {
        Some(f) => f.write_all(buf.as_bytes()).map_err(|e| sink_err(path, "write", e))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(buf.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| StreamError::Sink(format!("jsonl sink: cannot write to stdout: {e}")))?;
        }
    }
    buf.clear();
    Ok(())
}

/// Wait until every record sent so far is acknowledged; the first failure is the error.
async fn settle(producer: &Producer, pending: &mut Vec<DeliveryFuture>) -> Result<(), StreamError> {
    producer.flush().await?;
    for ack in pending.drain(..) {
        match ack.try_result() {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => {
                return Err(StreamError::Sink(
                    "kafka sink: a record was neither acknowledged nor failed".into(),
                ));
            }
        }
    }
    Ok(())
}
