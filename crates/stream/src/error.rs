//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong in the streaming core.
///
/// Messages that Spark also produces are reproduced with Spark's wording so
/// that users moving from PySpark recognise them.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StreamError {
    /// A Spark DDL schema string could not be parsed.
    #[error("cannot parse schema {input:?} at position {position}: {message}")]
    Schema {
        /// The DDL text.
        input: String,
        /// Byte offset of the problem.
        position: usize,
        /// What was wrong.
        message: String,
    },
    /// A query expression (projection, filter, group-by, aggregate) could not be parsed.
    #[error("cannot parse expression {input:?} at position {position}: {message}")]
    Expression {
        /// The expression text.
        input: String,
        /// Byte offset of the problem.
        position: usize,
        /// What was wrong.
        message: String,
    },
    /// The query is well-formed but cannot be planned (unknown column, type mismatch,
    /// unsupported output mode, ...).
    #[error("{0}")]
    Analysis(String),
    /// A duration or trigger string could not be parsed.
    #[error("invalid duration {input:?}: {message}")]
    Duration {
        /// The text.
        input: String,
        /// What was wrong.
        message: String,
    },
    /// FAILFAST parsing met a malformed record.
    #[error(
        "[MALFORMED_RECORD_IN_PARSING] Malformed records are detected in record parsing at topic {topic} partition {partition} offset {offset}: {reason}. Parse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'."
    )]
    MalformedRecord {
        /// Topic of the record.
        topic: String,
        /// Partition of the record.
        partition: i32,
        /// Offset of the record.
        offset: i64,
        /// Why it was rejected.
        reason: String,
    },
    /// A checkpoint directory problem (I/O, corrupt file, incompatible query).
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The file or directory concerned.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// Aggregation state could not be restored.
    #[error("invalid aggregation state: {0}")]
    State(String),
    /// Invalid source options (topics, offsets, assignments), or a source
    /// that cannot be read (a topic that does not exist).
    #[error("{0}")]
    Source(String),
    /// Records were lost before the query read them (deleted by retention,
    /// topic deleted or re-created) and `failOnDataLoss` is on.
    #[error("{0}")]
    DataLoss(String),
    /// A sink could not be opened or written.
    #[error("{0}")]
    Sink(String),
    /// Reading from Kafka failed.
    #[cfg(feature = "driver")]
    #[error(transparent)]
    Fetch(#[from] kwire_fetch::FetchError),
    /// Metadata lookup failed.
    #[cfg(feature = "driver")]
    #[error(transparent)]
    Meta(#[from] kwire_meta::MetaError),
    /// The Kafka sink could not write.
    #[cfg(feature = "driver")]
    #[error("kafka sink: {0}")]
    Produce(#[from] kwire_produce::ProduceError),
}

impl StreamError {
    pub(crate) fn analysis(msg: impl Into<String>) -> Self {
        StreamError::Analysis(msg.into())
    }
}
