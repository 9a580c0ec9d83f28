//! The rows a Kafka source produces: Spark's Kafka source columns.

use std::borrow::Cow;

use crate::value::{DataType, Datum, Field, StructType};

/// One Kafka record header (`headers` column element).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader<'a> {
    /// Header key.
    pub key: &'a str,
    /// Header value; None for a null value.
    pub value: Option<&'a [u8]>,
}

/// One Kafka record as the streaming core sees it, borrowing the fetched bytes.
///
/// The driver builds these from whatever its fetcher returns and feeds them to
/// [`crate::Engine::process`]; nothing is copied unless a query outputs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRecord<'a> {
    /// Record key (`key` column, binary, nullable).
    pub key: Option<&'a [u8]>,
    /// Record value (`value` column, binary, nullable).
    pub value: Option<&'a [u8]>,
    /// Topic name.
    pub topic: &'a str,
    /// Partition number.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Record timestamp in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// 0 = CreateTime, 1 = LogAppendTime (Spark's `timestampType`).
    pub timestamp_type: i32,
    /// Record headers (shown only when the query includes headers).
    pub headers: &'a [RecordHeader<'a>],
}

/// A column of the Kafka source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SourceColumn {
    /// `key` BINARY
    Key,
    /// `value` BINARY
    Value,
    /// `topic` STRING
    Topic,
    /// `partition` INT
    Partition,
    /// `offset` BIGINT
    Offset,
    /// `timestamp` TIMESTAMP
    Timestamp,
    /// `timestampType` INT
    TimestampType,
    /// `headers` ARRAY<STRUCT<key: STRING, value: BINARY>>
    Headers,
}

impl SourceColumn {
    /// All columns in Spark's order; headers last and only when asked for.
    pub fn all(include_headers: bool) -> Vec<SourceColumn> {
        let mut v = vec![
            SourceColumn::Key,
            SourceColumn::Value,
            SourceColumn::Topic,
            SourceColumn::Partition,
            SourceColumn::Offset,
            SourceColumn::Timestamp,
            SourceColumn::TimestampType,
        ];
        if include_headers {
            v.push(SourceColumn::Headers);
        }
        v
    }

    /// The column name.
    pub fn name(self) -> &'static str {
        match self {
            SourceColumn::Key => "key",
            SourceColumn::Value => "value",
            SourceColumn::Topic => "topic",
            SourceColumn::Partition => "partition",
            SourceColumn::Offset => "offset",
            SourceColumn::Timestamp => "timestamp",
            SourceColumn::TimestampType => "timestampType",
            SourceColumn::Headers => "headers",
        }
    }

    /// The column type.
    pub fn data_type(self) -> DataType {
        match self {
            SourceColumn::Key | SourceColumn::Value => DataType::Binary,
            SourceColumn::Topic => DataType::String,
            SourceColumn::Partition | SourceColumn::TimestampType => DataType::Int,
            SourceColumn::Offset => DataType::Long,
            SourceColumn::Timestamp => DataType::Timestamp,
            SourceColumn::Headers => DataType::Array(Box::new(DataType::Struct(StructType::new(vec![
                Field::new("key", DataType::String),
                Field::new("value", DataType::Binary),
            ])))),
        }
    }

    /// The column's value for a record.
    #[inline]
    pub fn get<'a>(self, r: &SourceRecord<'a>) -> Datum<'a> {
        match self {
            SourceColumn::Key => r.key.map_or(Datum::Null, |b| Datum::Binary(Cow::Borrowed(b))),
            SourceColumn::Value => r.value.map_or(Datum::Null, |b| Datum::Binary(Cow::Borrowed(b))),
            SourceColumn::Topic => Datum::Str(Cow::Borrowed(r.topic)),
            SourceColumn::Partition => Datum::Int(r.partition),
            SourceColumn::Offset => Datum::Long(r.offset),
            SourceColumn::Timestamp => Datum::Timestamp(r.timestamp_ms.saturating_mul(1000)),
            SourceColumn::TimestampType => Datum::Int(r.timestamp_type),
            SourceColumn::Headers => Datum::Array(
                r.headers
                    .iter()
                    .map(|h| {
                        Datum::Struct(vec![
                            Datum::Str(Cow::Borrowed(h.key)),
                            h.value.map_or(Datum::Null, |b| Datum::Binary(Cow::Borrowed(b))),
                        ])
                    })
                    .collect(),
            ),
        }
    }
}

/// The schema of the Kafka source (Spark's column names and types).
pub fn kafka_schema(include_headers: bool) -> StructType {
    StructType::new(
        SourceColumn::all(include_headers).into_iter().map(|c| Field::new(c.name(), c.data_type())).collect(),
    )
}
