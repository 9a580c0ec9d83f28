//! Row serializers for the `jsonl` and `kafka` sinks (the I/O is the driver's).

use crate::format::json_struct;
use crate::value::{Datum, StructType};

/// One row as Spark's JSON sink / `to_json(struct(*))` writes it, followed by a
/// newline: `{"gender":"M","party":"D","count":5}`. NULL columns are omitted,
/// timestamps are `2024-01-01T10:00:00.000Z`, binary is base64.
pub fn jsonl_line(schema: &StructType, row: &[Datum<'_>], out: &mut String) {
    json_struct(row, schema, out);
    out.push('\n');
}

/// A record for the Kafka sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaOutRecord {
    /// JSON object of the grouping columns; None without aggregation.
    pub key: Option<Vec<u8>>,
    /// JSON object of the whole row.
    pub value: Vec<u8>,
}

/// Serialize a row for the Kafka sink: the whole row as the JSON value, the
/// grouping columns (`key_columns`, see [`crate::Plan::key_columns`]) as a JSON
/// key so that updates of one group land in one partition.
pub fn kafka_record(schema: &StructType, key_columns: &[usize], row: &[Datum<'_>]) -> KafkaOutRecord {
    let mut value = String::new();
    json_struct(row, schema, &mut value);
    let key = if key_columns.is_empty() {
        None
    } else {
        let ks = StructType::new(key_columns.iter().filter_map(|i| schema.fields.get(*i).cloned()).collect());
        let kv: Vec<Datum<'_>> =
            key_columns.iter().map(|i| row.get(*i).cloned().unwrap_or(Datum::Null)).collect();
        let mut k = String::new();
        json_struct(&kv, &ks, &mut k);
        Some(k.into_bytes())
    };
    KafkaOutRecord { key, value: value.into_bytes() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{DataType, Field, Value};

    #[test]
    fn rows_as_json() {
        let schema = StructType::new(vec![
            Field::new("window", DataType::window()),
            Field::new("party", DataType::String),
            Field::new("count", DataType::Long),
            Field::new("avg(age)", DataType::Double),
        ]);
        let row = vec![
            Value::Struct(vec![
                Value::Timestamp(1_704_103_200_000_000),
                Value::Timestamp(1_704_103_260_000_000),
            ]),
            Value::Null,
            Value::Long(3),
            Value::Double(f64::NAN),
        ];
        let mut s = String::new();
        jsonl_line(&schema, &row, &mut s);
        assert_eq!(
            s,
            "{\"window\":{\"start\":\"2024-01-01T10:00:00.000Z\",\"end\":\"2024-01-01T10:01:00.000Z\"},\"count\":3,\"avg(age)\":\"NaN\"}\n"
        );
        let r = kafka_record(&schema, &[0, 1], &row);
        assert_eq!(
            String::from_utf8(r.key.unwrap()).unwrap(),
            "{\"window\":{\"start\":\"2024-01-01T10:00:00.000Z\",\"end\":\"2024-01-01T10:01:00.000Z\"}}"
        );
        assert!(kafka_record(&schema, &[], &row).key.is_none());
    }
}
