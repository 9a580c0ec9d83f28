//! Row-at-a-time evaluation of resolved expressions over a Kafka record and the
//! from_json results of that record.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::expr::CmpOp;
use crate::format::{decimal_string, java_double, java_float};
use crate::plan::Expr;
use crate::record::SourceRecord;
use crate::time::{MICROS_PER_SECOND, format_date, format_timestamp, parse_date, parse_timestamp};
use crate::value::{DataType, Datum, cmp_f64, compare};

/// The from_json results of one record: field values and whether the struct is NULL.
#[derive(Debug, Default)]
pub(crate) struct SlotVals<'a> {
    pub vals: Vec<Datum<'a>>,
    pub null: bool,
}

#[inline]
pub(crate) fn eval<'a>(e: &Expr, r: &SourceRecord<'a>, slots: &[SlotVals<'a>]) -> Datum<'a> {
    match e {
        Expr::Source(c) => c.get(r),
        Expr::JsonField(s, f) => match slots.get(*s) {
            Some(sv) => sv.vals.get(*f).cloned().unwrap_or(Datum::Null),
            None => Datum::Null,
        },
        Expr::JsonStruct(s) => match slots.get(*s) {
            Some(sv) if !sv.null => Datum::Struct(sv.vals.clone()),
            _ => Datum::Null,
        },
        Expr::Field(inner, f) => match eval(inner, r, slots) {
            Datum::Struct(mut v) if *f < v.len() => v.swap_remove(*f),
            _ => Datum::Null,
        },
        Expr::Cast(inner, t) => cast(eval(inner, r, slots), t),
        Expr::Lit(v) => v.clone(),
        Expr::Cmp(op, a, b) => {
            let x = eval(a, r, slots);
            let y = eval(b, r, slots);
            match cmp_values(&x, &y) {
                None => Datum::Null,
                Some(o) => Datum::Bool(match op {
                    CmpOp::Eq => o == Ordering::Equal,
                    CmpOp::Ne => o != Ordering::Equal,
                    CmpOp::Lt => o == Ordering::Less,
                    CmpOp::Le => o != Ordering::Greater,
                    CmpOp::Gt => o == Ordering::Greater,
                    CmpOp::Ge => o != Ordering::Less,
                }),
            }
        }
        Expr::And(a, b) => {
            // SQL three-valued logic
            let x = eval(a, r, slots);
            if x == Datum::Bool(false) {
                return Datum::Bool(false);
            }
            let y = eval(b, r, slots);
            match (x, y) {
                (_, Datum::Bool(false)) => Datum::Bool(false),
                (Datum::Bool(true), Datum::Bool(true)) => Datum::Bool(true),
                _ => Datum::Null,
            }
        }
        Expr::Or(a, b) => {
            let x = eval(a, r, slots);
            if x == Datum::Bool(true) {
                return Datum::Bool(true);
            }
            let y = eval(b, r, slots);
            match (x, y) {
                (_, Datum::Bool(true)) => Datum::Bool(true),
                (Datum::Bool(false), Datum::Bool(false)) => Datum::Bool(false),
                _ => Datum::Null,
            }
        }
        Expr::Not(a) => match eval(a, r, slots) {
            Datum::Bool(b) => Datum::Bool(!b),
            _ => Datum::Null,
        },
        Expr::IsNull(a, neg) => Datum::Bool(eval(a, r, slots).is_null() != *neg),
    }
}

/// Compare two values with Spark's implicit coercions (numbers numerically,
/// strings against numbers, timestamps or dates by parsing the string);
/// None when either is NULL or they cannot be compared.
fn cmp_values(x: &Datum<'_>, y: &Datum<'_>) -> Option<Ordering> {
    use Datum::*;
    match (x, y) {
        (Null, _) | (_, Null) => None,
        (Str(a), Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Str(s), Timestamp(t)) => parse_timestamp(s).map(|v| v.cmp(t)),
        (Timestamp(t), Str(s)) => parse_timestamp(s).map(|v| t.cmp(&v)),
        (Str(s), Date(d)) => parse_date(s).map(|v| v.cmp(d)),
        (Date(d), Str(s)) => parse_date(s).map(|v| d.cmp(&v)),
        (Str(s), n) if n.as_f64().is_some() => {
            let v: f64 = s.trim().parse().ok()?;
            Some(cmp_f64(v, n.as_f64()?))
        }
        (n, Str(s)) if n.as_f64().is_some() => {
            let v: f64 = s.trim().parse().ok()?;
            Some(cmp_f64(n.as_f64()?, v))
        }
        (Bool(a), Bool(b)) => Some(a.cmp(b)),
        (Timestamp(a), Timestamp(b)) => Some(a.cmp(b)),
        (Date(a), Date(b)) => Some(a.cmp(b)),
        (Timestamp(a), Date(b)) => Some(a.cmp(&(i64::from(*b) * 86_400 * MICROS_PER_SECOND))),
        (Date(a), Timestamp(b)) => Some((i64::from(*a) * 86_400 * MICROS_PER_SECOND).cmp(b)),
        (Binary(a), Binary(b)) => Some(a.as_ref().cmp(b.as_ref())),
        _ => {
            if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
                return Some(a.cmp(&b));
            }
            if let (Some(a), Some(b)) = (x.as_f64(), y.as_f64()) {
                return Some(cmp_f64(a, b));
            }
            if std::mem::discriminant(x) == std::mem::discriminant(y) {
                return Some(compare(x, y));
            }
            None
        }
    }
}

/// Spark's `CAST(x AS STRING)` (non-pretty: nested NULLs print as `null`).
pub(crate) fn cast_string<'a>(d: Datum<'a>) -> Datum<'a> {
    match d {
        Datum::Null => Datum::Null,
        Datum::Str(s) => Datum::Str(s),
        Datum::Binary(Cow::Borrowed(b)) => Datum::Str(match std::str::from_utf8(b) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(String::from_utf8_lossy(b).into_owned()),
        }),
        Datum::Binary(Cow::Owned(b)) => Datum::Str(Cow::Owned(match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })),
        other => {
            let mut s = String::new();
            write_cast_string(&other, &mut s);
            Datum::Str(Cow::Owned(s))
        }
    }
}

fn write_cast_string(d: &Datum<'_>, out: &mut String) {
    use std::fmt::Write;
    match d {
        Datum::Null => out.push_str("null"),
        Datum::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Datum::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Datum::Long(v) => {
            let _ = write!(out, "{v}");
        }
        Datum::Float(v) => java_float(*v, out),
        Datum::Double(v) => java_double(*v, out),
        Datum::Decimal(u, s) => decimal_string(*u, *s, out),
        Datum::Date(v) => format_date(i64::from(*v), out),
        Datum::Timestamp(t) => format_timestamp(*t, out),
        Datum::Str(s) => out.push_str(s),
        Datum::Binary(b) => out.push_str(&String::from_utf8_lossy(b)),
        Datum::Struct(v) | Datum::Array(v) => {
            let (open, close) = if matches!(d, Datum::Struct(_)) { ('{', '}') } else { ('[', ']') };
            out.push(open);
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_cast_string(x, out);
            }
            out.push(close);
        }
    }
}

/// Spark's non-ANSI casts between the supported types (NULL when impossible).
pub(crate) fn cast<'a>(d: Datum<'a>, t: &DataType) -> Datum<'a> {
    if d.is_null() {
        return Datum::Null;
    }
    match t {
        DataType::String => cast_string(d),
        DataType::Binary => match d {
            Datum::Str(Cow::Borrowed(s)) => Datum::Binary(Cow::Borrowed(s.as_bytes())),
            Datum::Str(Cow::Owned(s)) => Datum::Binary(Cow::Owned(s.into_bytes())),
            b @ Datum::Binary(_) => b,
            _ => Datum::Null,
        },
        DataType::Long | DataType::Int | DataType::Short | DataType::Byte => {
            let v: Option<i64> = match &d {
                Datum::Str(s) => {
                    let s = s.trim();
                    s.parse::<i64>().ok().or_else(|| {
                        s.parse::<f64>()
                            .ok()
                            .filter(|f| {
                                f.is_finite()
                                    && s.bytes()
                                        .all(|c| c.is_ascii_digit() || c == b'.' || c == b'-' || c == b'+')
                            })
                            .map(|f| f.trunc() as i64)
                    })
                }
                Datum::Bool(b) => Some(i64::from(*b)),
                Datum::Timestamp(ts) => Some(ts.div_euclid(MICROS_PER_SECOND)),
                Datum::Float(_) | Datum::Double(_) | Datum::Decimal(..) => {
                    d.as_f64().filter(|f| f.is_finite()).map(|f| f.trunc() as i64)
                }
                other => other.as_i64(),
            };
            match (v, t) {
                (Some(v), DataType::Long) => Datum::Long(v),
                (Some(v), DataType::Int) => i32::try_from(v).map_or(Datum::Null, Datum::Int),
                (Some(v), DataType::Short) => {
                    i16::try_from(v).map_or(Datum::Null, |x| Datum::Int(i32::from(x)))
                }
                (Some(v), _) => i8::try_from(v).map_or(Datum::Null, |x| Datum::Int(i32::from(x))),
                (None, _) => Datum::Null,
            }
        }
        DataType::Double | DataType::Float => {
            let v = match &d {
                Datum::Str(s) => s.trim().parse::<f64>().ok(),
                Datum::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
                Datum::Timestamp(ts) => Some(*ts as f64 / MICROS_PER_SECOND as f64),
                other => other.as_f64(),
            };
            match (v, t) {
                (Some(v), DataType::Double) => Datum::Double(v),
                (Some(v), _) => Datum::Float(v as f32),
                _ => Datum::Null,
            }
        }
        DataType::Boolean => match &d {
            Datum::Bool(b) => Datum::Bool(*b),
            Datum::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "t" | "true" | "y" | "yes" | "1" => Datum::Bool(true),
                "f" | "false" | "n" | "no" | "0" => Datum::Bool(false),
                _ => Datum::Null,
            },
            other => other.as_f64().map_or(Datum::Null, |f| Datum::Bool(f != 0.0)),
        },
        DataType::Timestamp => match &d {
            Datum::Timestamp(ts) => Datum::Timestamp(*ts),
            Datum::Str(s) => parse_timestamp(s).map_or(Datum::Null, Datum::Timestamp),
            Datum::Date(days) => Datum::Timestamp(i64::from(*days) * 86_400 * MICROS_PER_SECOND),
            other => match other.as_i64() {
                Some(secs) => secs.checked_mul(MICROS_PER_SECOND).map_or(Datum::Null, Datum::Timestamp),
                None => other
                    .as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 9.0e12)
                    .map_or(Datum::Null, |f| Datum::Timestamp((f * MICROS_PER_SECOND as f64) as i64)),
            },
        },
        DataType::Date => match &d {
            Datum::Date(v) => Datum::Date(*v),
            Datum::Str(s) => parse_date(s).map_or(Datum::Null, Datum::Date),
            Datum::Timestamp(ts) => {
                i32::try_from(ts.div_euclid(86_400 * MICROS_PER_SECOND)).map_or(Datum::Null, Datum::Date)
            }
            _ => Datum::Null,
        },
        DataType::Decimal { precision, scale } => {
            let text = match &d {
                Datum::Str(s) => s.trim().to_string(),
                other => {
                    let mut s = String::new();
                    write_cast_string(other, &mut s);
                    s
                }
            };
            crate::json::parse_decimal(&text, *precision, *scale)
                .map_or(Datum::Null, |u| Datum::Decimal(u, *scale))
        }
        DataType::Struct(_) | DataType::Array(_) => d,
    }
}
