//! kwire-stream: the sans-IO core of `kwire stream`, a streaming aggregator
//! with Spark Structured Streaming semantics (Spark 3.5).
//!
//! A driver owns the I/O and the clock ([`driver`], on tokio and kwire's
//! fetcher, behind the default `driver` feature). Per micro-batch it:
//!
//! 1. asks [`trigger::plan_batch_end`] for the batch's end offsets,
//! 2. writes them with [`Checkpoint::write_offsets`],
//! 3. feeds the fetched records to [`Engine::process`] between
//!    [`Engine::begin_batch`] and [`Engine::finish_batch`],
//! 4. hands the [`BatchOutput`] rows to a sink ([`show::console_batch`],
//!    [`sink::jsonl_line`], [`sink::kafka_record`]),
//! 5. saves [`Engine::snapshot`] and commits with [`Checkpoint::write_commit`],
//! 6. runs a batch without new data when [`Engine::needs_no_data_batch`] says so.
//!
//! ```
//! use kwire_stream::{Engine, OutputMode, Plan, QuerySpec, SourceRecord, show};
//! let spec = QuerySpec {
//!     schema: Some("gender STRING, age LONG, party STRING".into()),
//!     group_by: vec!["gender".into(), "party".into()],
//!     output_mode: OutputMode::Complete,
//!     ..QuerySpec::default()
//! };
//! let mut engine = Engine::new(Plan::new(&spec)?);
//! let value = br#"{"gender":"F","age":41,"party":"R"}"#;
//! let rec = SourceRecord { key: None, value: Some(value), topic: "voters", partition: 0,
//!                          offset: 0, timestamp_ms: 0, timestamp_type: 0, headers: &[] };
//! let out = engine.run_batch(0, 0, [rec])?;
//! let text = show::console_batch(out.batch_id, engine.output_schema(), &out.rows, Default::default());
//! assert!(text.contains("|     F|    R|    1|"));
//! # Ok::<(), kwire_stream::StreamError>(())
//! ```
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo, clippy::unimplemented)]

pub mod assign;
pub mod checkpoint;
pub mod ddl;
#[cfg(feature = "driver")]
pub mod driver;
pub mod engine;
mod error;
mod eval;
pub mod expr;
pub mod format;
pub mod json;
pub mod plan;
pub mod record;
pub mod show;
pub mod sink;
pub mod table;
pub mod task;
pub mod time;
pub mod trigger;
pub mod value;

pub use checkpoint::{Checkpoint, CheckpointMeta, CommitEntry, OffsetEntry, Recovery};
pub use engine::{BatchOutput, Engine, StateSnapshot};
pub use error::{StreamError, StreamOption};
pub use json::{JsonParser, Outcome, ParseMode};
pub use plan::{OutputMode, Plan, QuerySpec};
pub use record::{RecordHeader, SourceColumn, SourceRecord, kafka_schema};
pub use show::{ShowOptions, SparkCompat};
pub use trigger::{PartitionOffsets, TopicPartition, Trigger};
pub use value::{DataType, Datum, Field, Row, StructType, Value};
