//! Checkpoint directory, in the spirit of Spark's:
//!
//! ```text
//! DIR/metadata        query id, state signature, sources, description
//! DIR/offsets/N       written BEFORE batch N runs: start/end offsets per topic
//!                     partition, the batch watermark, the driver's sink position
//! DIR/state/N.json    aggregation state after batch N (the last few are kept)
//! DIR/sinks/N         written right after the sink finished batch N (lets a
//!                     re-run of N skip output that already went out)
//! DIR/commits/N       written after the sink committed batch N
//! ```
//!
//! Every file is written atomically: temp file, fsync, rename, fsync of the
//! directory (a failed write, e.g. a full disk, removes its temp file and
//! leaves the previous files as they were). Files start with a version line,
//! `v1 crc32c=XXXXXXXX` (the CRC-32C of the JSON line that follows, so a
//! damaged byte is an error naming the file, never a silently wrong count;
//! plain `v1` files from older kwire versions are read without the check),
//! then one JSON document.
//!
//! Restart ([`Checkpoint::open`]): the last `offsets/N` decides. If
//! `commits/N` exists the next batch is N+1 starting at N's end offsets with
//! the state of N; otherwise batch N is re-run with the same offsets and the
//! state of N-1.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::StateSnapshot;
use crate::error::StreamError;
use crate::trigger::{PartitionOffsets, TopicPartition};

/// `DIR/metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Query id (kept across restarts).
    pub id: String,
    /// [`crate::Plan::state_signature`] of the query.
    pub signature: String,
    /// Source description (topics or pattern) the offsets refer to.
    pub sources: Vec<String>,
    /// Human-readable plan, for error messages.
    pub description: String,
}

/// `DIR/offsets/N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OffsetEntry {
    /// Batch id.
    pub batch_id: u64,
    /// Watermark the batch runs with.
    pub batch_watermark_ms: i64,
    /// Wall-clock time the batch was planned.
    pub batch_timestamp_ms: i64,
    /// First offset of the batch per partition.
    #[serde(with = "spark_offsets")]
    pub start: PartitionOffsets,
    /// End offset (exclusive) per partition.
    #[serde(with = "spark_offsets")]
    pub end: PartitionOffsets,
    /// Driver-defined sink position at the start of the batch (e.g. a jsonl
    /// file's length) for exactly-once output on re-runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink: Option<serde_json::Value>,
}

/// `DIR/commits/N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitEntry {
    /// Watermark for the next batch (Spark's `nextBatchWatermarkMs`).
    #[serde(rename = "nextBatchWatermarkMs")]
    pub next_batch_watermark_ms: i64,
}

/// What to do after opening a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Recovery {
    /// No batch was ever planned: use the starting offsets.
    Fresh,
    /// Continue with a new batch.
    Resume {
        /// Id of the next batch.
        next_batch_id: u64,
        /// Where it starts (the last committed batch's end offsets).
        start: PartitionOffsets,
        /// Watermark for the next batch.
        next_watermark_ms: i64,
        /// State after the last committed batch (None for stateless queries
        /// or when none was saved).
        state: Option<StateSnapshot>,
    },
    /// Batch `batch.batch_id` was planned but not committed: run it again with
    /// exactly these offsets and watermark, on `state` (that of the batch before).
    Rerun {
        /// The planned batch.
        batch: OffsetEntry,
        /// State after the previous batch.
        state: Option<StateSnapshot>,
    },
}

/// An open checkpoint directory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    dir: PathBuf,
    id: String,
    keep_logs: u64,
    keep_states: u64,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> StreamError {
    StreamError::Checkpoint { path: path.display().to_string(), message: e.to_string() }
}

/// Write `bytes` to `path` atomically (temp, fsync, rename, fsync dir). On
/// failure the temp file is removed and `path` keeps its old content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StreamError> {
    let dir = path.parent().ok_or_else(|| io_err(path, "no parent directory"))?;
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| io_err(path, "bad file name"))?;
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, format!("cannot write it: {e}")));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    let d = fs::File::open(dir).map_err(|e| io_err(dir, e))?;
    d.sync_all().map_err(|e| io_err(dir, e))?;
    Ok(())
}

/// The format version this kwire writes and reads.
const VERSION: &str = "v1";

fn write_doc<T: Serialize>(path: &Path, doc: &T) -> Result<(), StreamError> {
    let body = serde_json::to_string(doc).map_err(|e| io_err(path, e))?;
    let text = format!("{VERSION} crc32c={:08x}\n{body}\n", crc32c::crc32c(body.as_bytes()));
    write_atomic(path, text.as_bytes())
}

/// Checks a checkpoint file's text (version line, checksum) and returns its
/// JSON line; every problem is a message for an error naming the file.
fn checked_body(text: &str) -> Result<&str, String> {
    if text.is_empty() {
        return Err("the file is empty (truncated?)".to_owned());
    }
    let Some((head, rest)) = text.split_once('\n') else {
        return Err("the file ends inside its version line (truncated?)".to_owned());
    };
    let mut words = head.split(' ');
    let version = words.next().unwrap_or_default();
    if version != VERSION {
        let newer = version.strip_prefix('v').and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n > 1);
        return Err(if newer {
            format!("written in checkpoint format {version} by a newer kwire; this kwire reads {VERSION}")
        } else {
            format!(
                "unsupported log version {version:?} (this kwire reads {VERSION}); not a kwire checkpoint file?"
            )
        });
    }
    let body = rest.strip_suffix('\n').unwrap_or(rest);
    match words.next() {
        None => Ok(body.trim()),
        Some(w) => {
            let want = w
                .strip_prefix("crc32c=")
                .filter(|h| h.len() == 8)
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("corrupt version line {head:?}"))?;
            if words.next().is_some() {
                return Err(format!("corrupt version line {head:?}"));
            }
            let got = crc32c::crc32c(body.as_bytes());
            if got != want {
                return Err(format!(
                    "corrupt file: checksum mismatch (stored crc32c {want:08x}, content {got:08x}): \
                     the file was damaged or truncated"
                ));
            }
            Ok(body)
        }
    }
}

fn read_doc<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StreamError> {
    let text = fs::read_to_string(path).map_err(|e| io_err(path, e))?;
    let body = checked_body(&text).map_err(|m| io_err(path, m))?;
    serde_json::from_str(body).map_err(|e| io_err(path, format!("corrupt file: {e}")))
}

fn list_batches(dir: &Path, suffix: &str) -> Result<Vec<u64>, StreamError> {
    let mut v = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(v),
        Err(e) => return Err(io_err(dir, e)),
    };
    for ent in rd {
        let ent = ent.map_err(|e| io_err(dir, e))?;
        if let Some(b) =
            ent.file_name().to_str().and_then(|s| s.strip_suffix(suffix)).and_then(|n| n.parse::<u64>().ok())
        {
            v.push(b);
        }
    }
    v.sort_unstable();
    Ok(v)
}

impl Checkpoint {
    /// Open (or create) `dir` for the query described by `meta`, and say how
    /// to continue. Refuses a directory written by a query with a different
    /// state signature or sources.
    pub fn open(dir: impl AsRef<Path>, meta: &CheckpointMeta) -> Result<(Checkpoint, Recovery), StreamError> {
        let dir = dir.as_ref().to_path_buf();
        for sub in ["", "offsets", "commits", "state", "sinks"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(|e| io_err(&p, e))?;
        }
        let mut cp = Checkpoint { dir: dir.clone(), id: meta.id.clone(), keep_logs: 100, keep_states: 3 };
        let meta_path = dir.join("metadata");
        let offsets = list_batches(&dir.join("offsets"), "")?;
        if !meta_path.exists() {
            if !offsets.is_empty() {
                return Err(io_err(
                    &meta_path,
                    "missing, but offsets exist: not a kwire checkpoint or damaged",
                ));
            }
            write_doc(&meta_path, meta)?;
            return Ok((cp, Recovery::Fresh));
        }
        let saved: CheckpointMeta = read_doc(&meta_path)?;
        cp.id = saved.id.clone();
        if saved.signature != meta.signature || saved.sources != meta.sources {
            return Err(StreamError::Checkpoint {
                path: dir.display().to_string(),
                message: format!(
                    "was written by an incompatible query and cannot be resumed.\n  checkpoint: sources {:?}, state {}\n  this query: sources {:?}, state {}\nUse a new checkpoint directory, or run the original query.",
                    saved.sources, saved.signature, meta.sources, meta.signature
                ),
            });
        }
        let stateful = meta.signature != "stateless";
        let Some(&last) = offsets.last() else {
            return Ok((cp, Recovery::Fresh));
        };
        let entry: OffsetEntry = read_doc(&cp.offsets_path(last))?;
        if entry.batch_id != last {
            return Err(io_err(&cp.offsets_path(last), "batch id does not match the file name"));
        }
        if cp.commit_path(last).exists() {
            let commit: CommitEntry = read_doc(&cp.commit_path(last))?;
            let state = cp.read_state(last, stateful)?;
            Ok((
                cp,
                Recovery::Resume {
                    next_batch_id: last + 1,
                    start: entry.end,
                    next_watermark_ms: commit.next_batch_watermark_ms,
                    state,
                },
            ))
        } else {
            let state = match last.checked_sub(1) {
                Some(prev) => cp.read_state(prev, stateful)?,
                None => None,
            };
            Ok((cp, Recovery::Rerun { batch: entry, state }))
        }
    }

    fn read_state(&self, batch: u64, required: bool) -> Result<Option<StateSnapshot>, StreamError> {
        let p = self.state_path(batch);
        if !p.exists() {
            if required {
                return Err(io_err(
                    &p,
                    "aggregation state for this committed batch is missing; the checkpoint is damaged",
                ));
            }
            return Ok(None);
        }
        read_doc(&p).map(Some)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The query id: the one stored in `DIR/metadata` (kept across restarts).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn sink_path(&self, b: u64) -> PathBuf {
        self.dir.join("sinks").join(b.to_string())
    }

    /// Record that the sink finished batch N (after its output is durable,
    /// before the state and the commit are written).
    pub fn write_sink_done(&self, batch_id: u64) -> Result<(), StreamError> {
        write_doc(&self.sink_path(batch_id), &serde_json::json!({ "batchId": batch_id }))
    }

    /// Whether the sink already finished batch N in an earlier run (so a
    /// re-run must not output it again).
    pub fn sink_done(&self, batch_id: u64) -> bool {
        self.sink_path(batch_id).exists()
    }

    fn offsets_path(&self, b: u64) -> PathBuf {
        self.dir.join("offsets").join(b.to_string())
    }
    fn commit_path(&self, b: u64) -> PathBuf {
        self.dir.join("commits").join(b.to_string())
    }
    fn state_path(&self, b: u64) -> PathBuf {
        self.dir.join("state").join(format!("{b}.json"))
    }

    /// Record batch N's plan before running it.
    pub fn write_offsets(&self, entry: &OffsetEntry) -> Result<(), StreamError> {
        write_doc(&self.offsets_path(entry.batch_id), entry)
    }

    /// Save the state after batch N (before committing it).
    pub fn write_state(&self, batch_id: u64, snap: &StateSnapshot) -> Result<(), StreamError> {
        write_doc(&self.state_path(batch_id), snap)
    }

    /// Mark batch N committed (after its sink finished), then purge old files.
    pub fn write_commit(&self, batch_id: u64, entry: &CommitEntry) -> Result<(), StreamError> {
        write_doc(&self.commit_path(batch_id), entry)?;
        self.purge(batch_id)
    }

    /// Read back an offsets entry.
    pub fn read_offsets(&self, batch_id: u64) -> Result<OffsetEntry, StreamError> {
        read_doc(&self.offsets_path(batch_id))
    }

    fn purge(&self, committed: u64) -> Result<(), StreamError> {
        let rm = |p: PathBuf| -> Result<(), StreamError> {
            match fs::remove_file(&p) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_err(&p, e)),
            }
        };
        if let Some(limit) = committed.checked_sub(self.keep_states) {
            for b in list_batches(&self.dir.join("state"), ".json")? {
                if b <= limit {
                    rm(self.state_path(b))?;
                }
            }
        }
        if let Some(limit) = committed.checked_sub(self.keep_logs) {
            for b in list_batches(&self.dir.join("offsets"), "")? {
                if b <= limit {
                    rm(self.offsets_path(b))?;
                }
            }
            for b in list_batches(&self.dir.join("commits"), "")? {
                if b <= limit {
                    rm(self.commit_path(b))?;
                }
            }
            for b in list_batches(&self.dir.join("sinks"), "")? {
                if b <= limit {
                    rm(self.sink_path(b))?;
                }
            }
        }
        Ok(())
    }
}

/// Offsets as Spark writes them: `{"topic":{"0":23,"1":-2}}`.
mod spark_offsets {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &PartitionOffsets, s: S) -> Result<S::Ok, S::Error> {
        let mut m: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
        for (tp, o) in v {
            m.entry(tp.topic.as_str()).or_default().insert(tp.partition.to_string(), *o);
        }
        m.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PartitionOffsets, D::Error> {
        let m: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::deserialize(d)?;
        let mut out = PartitionOffsets::new();
        for (t, parts) in m {
            for (p, o) in parts {
                let p: i32 = p.parse().map_err(serde::de::Error::custom)?;
                out.insert(TopicPartition::new(t.clone(), p), o);
            }
        }
        Ok(out)
    }
}

/// Parse Spark's per-partition offsets JSON (`{"t":{"0":23,"1":-2}}`, -2 =
/// earliest, -1 = latest), as used by `--starting-offsets`.
pub fn parse_offsets_json(s: &str) -> Result<PartitionOffsets, StreamError> {
    #[derive(Deserialize)]
    struct W(#[serde(with = "spark_offsets")] PartitionOffsets);
    serde_json::from_str::<W>(s).map(|w| w.0).map_err(|e| {
        StreamError::Analysis(format!(
            "invalid offsets JSON {s:?}: {e}; expected e.g. {{\"topic\":{{\"0\":23,\"1\":-2}}}}"
        ))
    })
}

/// Write offsets as Spark's JSON.
pub fn offsets_json(v: &PartitionOffsets) -> String {
    let mut m: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
    for (tp, o) in v {
        m.entry(tp.topic.as_str()).or_default().insert(tp.partition.to_string(), *o);
    }
    serde_json::to_string(&m).unwrap_or_default()
}
