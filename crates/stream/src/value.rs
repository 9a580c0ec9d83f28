//! The row model: Spark data types, schemas and values.
//!
//! [`Datum`] is one value. It borrows strings and byte strings from the input
//! record where it can (`Datum<'a>`), so that parsing a JSON value and grouping
//! on its fields allocates nothing per row; [`Value`] is the owned form
//! (`Datum<'static>`) kept in aggregation state and output rows.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A Spark SQL data type (the subset kwire supports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataType {
    /// `STRING`
    String,
    /// `BIGINT` / `LONG`
    Long,
    /// `INT` / `INTEGER`
    Int,
    /// `SMALLINT` / `SHORT`
    Short,
    /// `TINYINT` / `BYTE`
    Byte,
    /// `DOUBLE`
    Double,
    /// `FLOAT` / `REAL`
    Float,
    /// `BOOLEAN`
    Boolean,
    /// `TIMESTAMP` (microseconds since the epoch, shown in UTC)
    Timestamp,
    /// `DATE` (days since the epoch)
    Date,
    /// `DECIMAL(precision, scale)`, precision at most 38
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// `BINARY`
    Binary,
    /// `STRUCT<...>`
    Struct(StructType),
    /// `ARRAY<...>`
    Array(Box<DataType>),
}

impl DataType {
    /// True for the integral types (`BIGINT`, `INT`, `SMALLINT`, `TINYINT`).
    pub fn is_integral(&self) -> bool {
        matches!(self, DataType::Long | DataType::Int | DataType::Short | DataType::Byte)
    }
    /// True for integral, floating and decimal types.
    pub fn is_numeric(&self) -> bool {
        self.is_integral() || matches!(self, DataType::Double | DataType::Float | DataType::Decimal { .. })
    }
    /// The type of Spark's `window` column: `STRUCT<start: TIMESTAMP, end: TIMESTAMP>`.
    pub fn window() -> DataType {
        DataType::Struct(StructType::new(vec![
            Field::new("start", DataType::Timestamp),
            Field::new("end", DataType::Timestamp),
        ]))
    }
}

impl fmt::Display for DataType {
    /// Spark's SQL type names, as in its error messages (`BIGINT`, `STRUCT<a: INT>`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::String => f.write_str("STRING"),
            DataType::Long => f.write_str("BIGINT"),
            DataType::Int => f.write_str("INT"),
            DataType::Short => f.write_str("SMALLINT"),
            DataType::Byte => f.write_str("TINYINT"),
            DataType::Double => f.write_str("DOUBLE"),
            DataType::Float => f.write_str("FLOAT"),
            DataType::Boolean => f.write_str("BOOLEAN"),
            DataType::Timestamp => f.write_str("TIMESTAMP"),
            DataType::Date => f.write_str("DATE"),
            DataType::Decimal { precision, scale } => write!(f, "DECIMAL({precision},{scale})"),
            DataType::Binary => f.write_str("BINARY"),
            DataType::Struct(s) => {
                f.write_str("STRUCT<")?;
                for (i, fld) in s.fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", quote_ident(&fld.name), fld.data_type)?;
                }
                f.write_str(">")
            }
            DataType::Array(e) => write!(f, "ARRAY<{e}>"),
        }
    }
}

/// Backquote an identifier when it is not a plain `[A-Za-z_][A-Za-z0-9_]*` name.
pub(crate) fn quote_ident(name: &str) -> Cow<'_, str> {
    let plain = !name.is_empty()
        && name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if plain { Cow::Borrowed(name) } else { Cow::Owned(format!("`{}`", name.replace('`', "``"))) }
}

/// A named, typed column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Column name (case preserved).
    pub name: String,
    /// Column type.
    pub data_type: DataType,
    /// Whether nulls may occur (informational; from_json makes every field nullable).
    pub nullable: bool,
}

impl Field {
    /// A nullable field.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Field {
        Field { name: name.into(), data_type, nullable: true }
    }
}

/// An ordered list of fields: a row schema or a struct type.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StructType {
    /// The fields in order.
    pub fields: Vec<Field>,
}

impl StructType {
    /// Build from fields.
    pub fn new(fields: Vec<Field>) -> StructType {
        StructType { fields }
    }
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }
    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
    /// Index of the field named exactly `name` (case-sensitive, like JSON field matching).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
    /// Index of a field by name, case-insensitively unless an exact match exists
    /// (Spark's default `spark.sql.caseSensitive=false` column resolution).
    pub fn resolve(&self, name: &str) -> Option<usize> {
        self.index_of(name).or_else(|| self.fields.iter().position(|f| f.name.eq_ignore_ascii_case(name)))
    }
    /// Field names in order.
    pub fn names(&self) -> Vec<String> {
        self.fields.iter().map(|f| f.name.clone()).collect()
    }
    /// The DDL form (`gender STRING, age BIGINT`).
    pub fn to_ddl(&self) -> String {
        self.fields
            .iter()
            .map(|f| format!("{} {}", quote_ident(&f.name), f.data_type))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One value, possibly borrowing from the input record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum Datum<'a> {
    /// SQL NULL.
    #[default]
    Null,
    /// BOOLEAN.
    Bool(bool),
    /// INT, SMALLINT, TINYINT.
    Int(i32),
    /// BIGINT.
    Long(i64),
    /// FLOAT.
    Float(#[serde(with = "f32_bits")] f32),
    /// DOUBLE.
    Double(#[serde(with = "f64_bits")] f64),
    /// DECIMAL: unscaled value and scale.
    Decimal(i128, u8),
    /// DATE: days since 1970-01-01.
    Date(i32),
    /// TIMESTAMP: microseconds since the epoch (UTC).
    Timestamp(i64),
    /// STRING.
    Str(Cow<'a, str>),
    /// BINARY.
    Binary(Cow<'a, [u8]>),
    /// STRUCT: field values in schema order.
    Struct(Vec<Datum<'a>>),
    /// ARRAY.
    Array(Vec<Datum<'a>>),
}

/// An owned value.
pub type Value = Datum<'static>;

/// An owned row: values in schema order.
pub type Row = Vec<Value>;

mod f64_bits {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(v.to_bits())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        u64::deserialize(d).map(f64::from_bits)
    }
}

mod f32_bits {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(v.to_bits())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        u32::deserialize(d).map(f32::from_bits)
    }
}

impl<'a> Datum<'a> {
    /// True for SQL NULL.
    #[inline]
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    /// A borrowed string datum.
    pub fn str(s: &'a str) -> Datum<'a> {
        Datum::Str(Cow::Borrowed(s))
    }

    /// An owned string value.
    pub fn string(s: impl Into<String>) -> Value {
        Datum::Str(Cow::Owned(s.into()))
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Value {
        match self {
            Datum::Null => Datum::Null,
            Datum::Bool(b) => Datum::Bool(b),
            Datum::Int(v) => Datum::Int(v),
            Datum::Long(v) => Datum::Long(v),
            Datum::Float(v) => Datum::Float(v),
            Datum::Double(v) => Datum::Double(v),
            Datum::Decimal(u, s) => Datum::Decimal(u, s),
            Datum::Date(d) => Datum::Date(d),
            Datum::Timestamp(t) => Datum::Timestamp(t),
            Datum::Str(s) => Datum::Str(Cow::Owned(s.into_owned())),
            Datum::Binary(b) => Datum::Binary(Cow::Owned(b.into_owned())),
            Datum::Struct(v) => Datum::Struct(v.into_iter().map(Datum::into_owned).collect()),
            Datum::Array(v) => Datum::Array(v.into_iter().map(Datum::into_owned).collect()),
        }
    }

    /// Clone into an owned value.
    pub fn to_owned_value(&self) -> Value {
        self.clone().into_owned()
    }

    /// The value as an i64 if it is integral.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Datum::Int(v) => Some(i64::from(*v)),
            Datum::Long(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as an f64 if it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Datum::Int(v) => Some(f64::from(*v)),
            Datum::Long(v) => Some(*v as f64),
            Datum::Float(v) => Some(f64::from(*v)),
            Datum::Double(v) => Some(*v),
            Datum::Decimal(u, s) => Some(*u as f64 / 10f64.powi(i32::from(*s))),
            _ => None,
        }
    }
}

/// Spark's ordering for sorting: NULL first, numbers numerically (NaN largest,
/// -0.0 equal to 0.0), strings and binary by bytes, structs and arrays
/// element-wise.
pub fn compare(a: &Datum<'_>, b: &Datum<'_>) -> Ordering {
    use Datum::*;
    match (a, b) {
        (Null, Null) => Ordering::Equal,
        (Null, _) => Ordering::Less,
        (_, Null) => Ordering::Greater,
        (Bool(x), Bool(y)) => x.cmp(y),
        (Str(x), Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Binary(x), Binary(y)) => x.as_ref().cmp(y.as_ref()),
        (Timestamp(x), Timestamp(y)) => x.cmp(y),
        (Date(x), Date(y)) => x.cmp(y),
        (Struct(x), Struct(y)) | (Array(x), Array(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                let o = compare(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => cmp_f64(x, y),
                _ => Ordering::Equal,
            },
        },
    }
}

/// Total order on doubles as Spark sorts them: NaN is largest and equal to itself,
/// -0.0 equals 0.0.
pub(crate) fn cmp_f64(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// Append a self-delimiting, canonical encoding of `d` to `out`, used as the hash
/// key of a group. Equal keys (Spark's grouping equality: NaN equals NaN, -0.0
/// equals 0.0) encode to equal bytes.
pub(crate) fn encode_key(d: &Datum<'_>, out: &mut Vec<u8>) {
    match d {
        Datum::Null => out.push(0),
        Datum::Bool(b) => {
            out.push(1);
            out.push(u8::from(*b));
        }
        Datum::Int(v) => {
            out.push(2);
            out.extend_from_slice(&i64::from(*v).to_le_bytes());
        }
        Datum::Long(v) => {
            out.push(2);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Datum::Float(v) => {
            out.push(3);
            out.extend_from_slice(&norm_f64(f64::from(*v)).to_le_bytes());
        }
        Datum::Double(v) => {
            out.push(3);
            out.extend_from_slice(&norm_f64(*v).to_le_bytes());
        }
        Datum::Decimal(u, s) => {
            out.push(4);
            out.extend_from_slice(&u.to_le_bytes());
            out.push(*s);
        }
        Datum::Date(v) => {
            out.push(5);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Datum::Timestamp(v) => {
            out.push(6);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Datum::Str(s) => {
            out.push(7);
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Datum::Binary(b) => {
            out.push(8);
            out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            out.extend_from_slice(b);
        }
        Datum::Struct(v) | Datum::Array(v) => {
            out.push(if matches!(d, Datum::Struct(_)) { 9 } else { 10 });
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            for x in v {
                encode_key(x, out);
            }
        }
    }
}

fn norm_f64(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_encoding_normalises_floats() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        encode_key(&Datum::Double(-0.0), &mut a);
        encode_key(&Datum::Double(0.0), &mut b);
        assert_eq!(a, b);
        a.clear();
        b.clear();
        encode_key(&Datum::Double(f64::NAN), &mut a);
        encode_key(&Datum::Double(-f64::NAN), &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn ordering_nulls_first() {
        assert_eq!(compare(&Datum::Null, &Datum::Long(1)), Ordering::Less);
        assert_eq!(compare(&Datum::str("a"), &Datum::str("b")), Ordering::Less);
        assert_eq!(compare(&Datum::Double(f64::NAN), &Datum::Double(1e300)), Ordering::Greater);
        assert_eq!(compare(&Datum::Int(3), &Datum::Long(3)), Ordering::Equal);
    }

    #[test]
    fn type_names() {
        let t = DataType::Struct(StructType::new(vec![
            Field::new("a", DataType::Int),
            Field::new("b c", DataType::Array(Box::new(DataType::Long))),
        ]));
        assert_eq!(t.to_string(), "STRUCT<a: INT, `b c`: ARRAY<BIGINT>>");
    }
}
