//! The global table a distributed query's result topic holds
//! (`kwire stream --table TOPIC`): the latest row per key, as the Kafka sink
//! wrote them (key = the grouping columns as JSON, value = the row as JSON,
//! NULL columns left out), shown in Spark's console layout.
//!
//! The columns are the values' fields in the order they first appear; a
//! field's type is that of its first non-null value (string, integer →
//! `bigint`, other number → `double`, boolean, `{"start","end"}` → a
//! window; anything else is shown as its JSON text).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::error::StreamError;
use crate::json::JsonParser;
use crate::value::{DataType, Field, Row, StructType, compare};

/// Latest value per key of a result topic.
#[derive(Debug, Default)]
pub struct ResultTable {
    latest: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// The top-level fields of a JSON object, in document order, with a type guess.
struct Fields(Vec<(String, Option<DataType>)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    out.push((k, type_of(&v)));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn type_of(v: &serde_json::Value) -> Option<DataType> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => return None,
        J::Bool(_) => DataType::Boolean,
        J::Number(n) if n.is_i64() || n.is_u64() => DataType::Long,
        J::Number(_) => DataType::Double,
        J::String(_) => DataType::String,
        J::Object(o) if o.len() == 2 && o.contains_key("start") && o.contains_key("end") => {
            DataType::window()
        }
        J::Object(_) | J::Array(_) => DataType::String,
    })
}

impl ResultTable {
    /// An empty table.
    pub fn new() -> ResultTable {
        ResultTable::default()
    }

    /// Apply one record of the result topic, in offset order: the value
    /// replaces the key's row; a tombstone removes it. A record without a
    /// key is not a table row (the topic is not a grouped query's result).
    pub fn apply(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) -> Result<(), StreamError> {
        let Some(key) = key else {
            return Err(StreamError::Source(
                "a record without a key: this topic is not the result of a grouped query".into(),
            ));
        };
        match value {
            Some(v) => {
                self.latest.insert(key.to_vec(), v.to_vec());
            }
            None => {
                self.latest.remove(key);
            }
        }
        Ok(())
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// The columns (see the module docs). Values that are not JSON objects
    /// are an error naming the key.
    pub fn schema(&self) -> Result<StructType, StreamError> {
        let mut fields: Vec<(String, Option<DataType>)> = Vec::new();
        for (k, v) in &self.latest {
            let Fields(fs) = serde_json::from_slice(v).map_err(|e| {
                StreamError::Source(format!(
                    "the value of key {} is not a JSON object: {e}",
                    String::from_utf8_lossy(k)
                ))
            })?;
            for (name, t) in fs {
                match fields.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, have @ None)) => *have = t,
                    Some(_) => {}
                    None => fields.push((name, t)),
                }
            }
        }
        Ok(StructType::new(
            fields.into_iter().map(|(n, t)| Field::new(n, t.unwrap_or(DataType::String))).collect(),
        ))
    }

    /// The rows under `schema`, sorted column by column (NULL first).
    pub fn rows(&self, schema: &StructType) -> Vec<Row> {
        let parser = JsonParser::new(schema.clone());
        let mut rows: Vec<Row> =
            self.latest.values().map(|v| parser.parse_value(v).0).map(into_row).collect();
        rows.sort_by(|a, b| {
            a.iter()
                .zip(b)
                .map(|(x, y)| compare(x, y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        rows
    }
}

fn into_row(v: crate::value::Value) -> Row {
    match v {
        crate::value::Datum::Struct(fields) => fields,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::show::{ShowOptions, show_string};

    #[test]
    fn latest_row_per_key_in_spark_layout() {
        let mut t = ResultTable::new();
        let recs: [(&[u8], Option<&[u8]>); 5] = [
            (br#"{"gender":"F","party":"D"}"#, Some(br#"{"gender":"F","party":"D","count":1}"#)),
            (br#"{"gender":"M","party":"D"}"#, Some(br#"{"gender":"M","party":"D","count":4}"#)),
            (br#"{}"#, Some(br#"{"count":2}"#)),
            (br#"{"gender":"F","party":"D"}"#, Some(br#"{"gender":"F","party":"D","count":7}"#)),
            (br#"{"gender":"X"}"#, None),
        ];
        for (k, v) in recs {
            t.apply(Some(k), v).unwrap();
        }
        let schema = t.schema().unwrap();
        assert_eq!(
            schema.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["gender", "party", "count"]
        );
        let text = show_string(&schema, &t.rows(&schema), ShowOptions::default());
        assert_eq!(
            text,
            "+------+-----+-----+\n|gender|party|count|\n+------+-----+-----+\n|  NULL| NULL|    2|\n|     F|    D|    7|\n|     M|    D|    4|\n+------+-----+-----+\n"
        );
        assert!(t.apply(None, Some(b"{}")).is_err());
        t.apply(Some(b"k"), Some(b"[1]")).unwrap();
        assert!(t.schema().is_err());
    }

    #[test]
    fn windows_are_shown_as_spark_shows_them() {
        let mut t = ResultTable::new();
        t.apply(
            Some(b"k"),
            Some(br#"{"window":{"start":"2026-01-01T00:00:00.000Z","end":"2026-01-01T00:00:10.000Z"},"party":"D","count":3}"#),
        )
        .unwrap();
        let schema = t.schema().unwrap();
        let opts = ShowOptions { truncate: 0, ..ShowOptions::default() };
        let text = show_string(&schema, &t.rows(&schema), opts);
        assert!(text.contains("|{2026-01-01 00:00:00, 2026-01-01 00:00:10}|D    |3    |"), "{text}");
    }
}
