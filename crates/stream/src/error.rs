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
    /// An option of the query has an invalid value (or names something that
    /// doesn't exist). `option` says which, as Spark names it, so that a
    /// front end can point at its own spelling of it (kwire's CLI names the
    /// flag); `message` says what is wrong.
    #[error("{message}")]
    InvalidOption {
        /// The option.
        option: StreamOption,
        /// What is wrong with it.
        message: String,
    },
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
    /// Group membership failed (distributed mode).
    #[cfg(feature = "driver")]
    #[error(transparent)]
    Group(#[from] kwire_group::GroupError),
    /// The Kafka sink could not write.
    #[cfg(feature = "driver")]
    #[error("kafka sink: {0}")]
    Produce(#[from] kwire_produce::ProduceError),
}

impl StreamError {
    pub(crate) fn analysis(msg: impl Into<String>) -> Self {
        StreamError::Analysis(msg.into())
    }

    pub(crate) fn option(option: StreamOption, message: impl Into<String>) -> Self {
        StreamError::InvalidOption { option, message: message.into() }
    }
}

/// The options of a query that [`StreamError::InvalidOption`] can name,
/// as Spark's Kafka source and sink, and its `DataFrame` API, name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamOption {
    /// `subscribe`: the topics to read.
    Subscribe,
    /// `subscribePattern`: a regular expression of topics to read.
    SubscribePattern,
    /// `assign`: the partitions to read.
    Assign,
    /// `startingOffsets`.
    StartingOffsets,
    /// `endingOffsets`.
    EndingOffsets,
    /// `maxOffsetsPerTrigger`.
    MaxOffsetsPerTrigger,
    /// `failOnDataLoss`.
    FailOnDataLoss,
    /// `topic` of the Kafka sink.
    SinkTopic,
    /// `withWatermark`: the event-time column and delay.
    Watermark,
    /// `window`: the time window to group by.
    Window,
    /// Kafka Streams' `application.id` (distributed mode) and its settings.
    ApplicationId,
}

impl StreamOption {
    /// Spark's name of the option.
    pub fn spark_name(self) -> &'static str {
        match self {
            StreamOption::Subscribe => "subscribe",
            StreamOption::SubscribePattern => "subscribePattern",
            StreamOption::Assign => "assign",
            StreamOption::StartingOffsets => "startingOffsets",
            StreamOption::EndingOffsets => "endingOffsets",
            StreamOption::MaxOffsetsPerTrigger => "maxOffsetsPerTrigger",
            StreamOption::FailOnDataLoss => "failOnDataLoss",
            StreamOption::SinkTopic => "topic",
            StreamOption::Watermark => "withWatermark",
            StreamOption::Window => "window",
            StreamOption::ApplicationId => "application.id",
        }
    }
}

impl std::fmt::Display for StreamOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.spark_name())
    }
}
