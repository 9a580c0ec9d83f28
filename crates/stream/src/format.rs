//! Text forms of values as Spark prints them: Java's `Double.toString`, the
//! pretty strings of `Dataset.show` (`NULL`, `[7B 22]`, `{a, b}`), and the JSON
//! that Spark's `to_json` / JSON sink writes.

use std::fmt::Write;

use crate::time::{format_date, format_timestamp, format_timestamp_iso};
use crate::value::{DataType, Datum, StructType};

/// Java's `Double.toString` (JDK 19+ shortest-digits behaviour): `1.0E10`,
/// `0.001`, `1.0E-4`, `100.0`, `NaN`, `Infinity`.
pub fn java_double(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let mut sci = format!("{:e}", v.abs());
    if !sci.contains('.') && v.abs() < f64::MIN_POSITIVE {
        // Java keeps at least two significant digits and picks the closest.
        let two = format!("{:.1e}", v.abs());
        if two.parse::<f64>().ok() == Some(v.abs()) {
            sci = two;
        }
    }
    java_layout(&sci, v < 0.0, (1e-3..1e7).contains(&v.abs()), out);
}

/// Java's `Float.toString` (shortest digits for a 32-bit float).
pub fn java_float(v: f32, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let mut sci = format!("{:e}", v.abs());
    if !sci.contains('.') && v.abs() < f32::MIN_POSITIVE {
        let two = format!("{:.1e}", v.abs());
        if two.parse::<f32>().ok() == Some(v.abs()) {
            sci = two;
        }
    }
    java_layout(&sci, v < 0.0, (1e-3..1e7).contains(&v.abs()), out);
}

/// Lay out Rust's `{:e}` digits (`d[.ddd]e[-]x`) the way Java does.
fn java_layout(sci: &str, negative: bool, plain: bool, out: &mut String) {
    let (mant, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    if negative {
        out.push('-');
    }
    if plain {
        if exp >= 0 {
            let int_len = (exp + 1) as usize;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        let _ = write!(out, "E{exp}");
    }
}

/// A decimal's plain text (`12.50`, `-0.05`).
pub fn decimal_string(unscaled: i128, scale: u8, out: &mut String) {
    let neg = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    if neg {
        out.push('-');
    }
    let scale = usize::from(scale);
    if scale == 0 {
        out.push_str(&digits);
    } else if digits.len() > scale {
        out.push_str(&digits[..digits.len() - scale]);
        out.push('.');
        out.push_str(&digits[digits.len() - scale..]);
    } else {
        out.push_str("0.");
        for _ in digits.len()..scale {
            out.push('0');
        }
        out.push_str(&digits);
    }
}

/// The text `Dataset.show` prints for a value (Spark 3.5's `ToPrettyString`):
/// `NULL`, binary as `[7B 22]`, timestamps as `2024-01-01 10:00:00.12`, structs
/// as `{a, NULL}`, arrays as `[1, 2]`, doubles like Java.
pub fn pretty(d: &Datum<'_>, out: &mut String) {
    match d {
        Datum::Null => out.push_str("NULL"),
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
        Datum::Date(d) => format_date(i64::from(*d), out),
        Datum::Timestamp(t) => format_timestamp(*t, out),
        Datum::Str(s) => out.push_str(s),
        Datum::Binary(b) => {
            out.push('[');
            for (i, byte) in b.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{byte:02X}");
            }
            out.push(']');
        }
        Datum::Struct(v) => {
            out.push('{');
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                pretty(x, out);
            }
            out.push('}');
        }
        Datum::Array(v) => {
            out.push('[');
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                pretty(x, out);
            }
            out.push(']');
        }
    }
}

/// `pretty` into a new string.
pub fn pretty_string(d: &Datum<'_>) -> String {
    let mut s = String::new();
    pretty(d, &mut s);
    s
}

/// Write `s` as a JSON string the way Jackson does: `"` and `\` escaped, control
/// characters as `\n`, `\t`, `\r`, `\b`, `\f` or `\u00XX`; everything else raw.
pub fn json_string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\t' => Some("\\t"),
            b'\r' => Some("\\r"),
            0x08 => Some("\\b"),
            0x0C => Some("\\f"),
            0..=0x1F => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{b:04X}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Standard base64 with padding (Jackson's default for binary).
pub fn base64(bytes: &[u8], out: &mut String) {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if c.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
}

/// Decode base64 (standard or URL alphabet, padding optional, whitespace
/// ignored), as Jackson's `getBinaryValue` accepts it.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut pad = false;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                pad = true;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if pad {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Write a value as JSON the way Spark's `to_json` and JSON sink do: null
/// struct fields omitted, timestamps `2024-01-01T10:00:00.000Z`, binary as
/// base64, NaN/Infinity as strings, doubles like Java.
pub fn json_value(d: &Datum<'_>, t: &DataType, out: &mut String) {
    match (d, t) {
        (Datum::Null, _) => out.push_str("null"),
        (Datum::Bool(b), _) => out.push_str(if *b { "true" } else { "false" }),
        (Datum::Int(v), _) => {
            let _ = write!(out, "{v}");
        }
        (Datum::Long(v), _) => {
            let _ = write!(out, "{v}");
        }
        (Datum::Float(v), _) => {
            if v.is_finite() {
                java_float(*v, out)
            } else {
                out.push('"');
                java_float(*v, out);
                out.push('"');
            }
        }
        (Datum::Double(v), _) => {
            if v.is_finite() {
                java_double(*v, out)
            } else {
                out.push('"');
                java_double(*v, out);
                out.push('"');
            }
        }
        (Datum::Decimal(u, s), _) => decimal_string(*u, *s, out),
        (Datum::Date(d), _) => {
            out.push('"');
            format_date(i64::from(*d), out);
            out.push('"');
        }
        (Datum::Timestamp(ts), _) => {
            out.push('"');
            format_timestamp_iso(*ts, out);
            out.push('"');
        }
        (Datum::Str(s), _) => json_string(s, out),
        (Datum::Binary(b), _) => {
            out.push('"');
            base64(b, out);
            out.push('"');
        }
        (Datum::Struct(v), DataType::Struct(st)) => json_struct(v, st, out),
        (Datum::Array(v), DataType::Array(et)) => {
            out.push('[');
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_value(x, et, out);
            }
            out.push(']');
        }
        (Datum::Struct(v) | Datum::Array(v), _) => {
            // type/value mismatch cannot come from the planner; write positionally
            out.push('[');
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_value(x, &DataType::String, out);
            }
            out.push(']');
        }
    }
}

/// Write a row or struct as a JSON object, omitting null fields.
pub fn json_struct(values: &[Datum<'_>], schema: &StructType, out: &mut String) {
    out.push('{');
    let mut first = true;
    for (v, f) in values.iter().zip(schema.fields.iter()) {
        if v.is_null() {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        json_string(&f.name, out);
        out.push(':');
        json_value(v, &f.data_type, out);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: f64) -> String {
        let mut s = String::new();
        java_double(v, &mut s);
        s
    }
    fn f(v: f32) -> String {
        let mut s = String::new();
        java_float(v, &mut s);
        s
    }

    #[test]
    fn java_doubles() {
        assert_eq!(d(1e10), "1.0E10");
        assert_eq!(d(1e-5), "1.0E-5");
        assert_eq!(d(0.1), "0.1");
        assert_eq!(d(100.0), "100.0");
        assert_eq!(d(1e7), "1.0E7");
        assert_eq!(d(9999999.0), "9999999.0");
        assert_eq!(d(0.001), "0.001");
        assert_eq!(d(0.0001), "1.0E-4");
        assert_eq!(d(123456.789), "123456.789");
        assert_eq!(d(-1.5e300), "-1.5E300");
        assert_eq!(d(4.9e-324), "4.9E-324");
        assert_eq!(d(-0.0), "-0.0");
        assert_eq!(d(f64::NAN), "NaN");
        assert_eq!(d(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(1.4e-45), "1.4E-45");
        assert_eq!(f(1e7), "1.0E7");
    }

    #[test]
    fn decimals() {
        let mut s = String::new();
        decimal_string(-5, 2, &mut s);
        assert_eq!(s, "-0.05");
        s.clear();
        decimal_string(1250, 2, &mut s);
        assert_eq!(s, "12.50");
    }

    #[test]
    fn jackson_strings() {
        let mut s = String::new();
        json_string("a\"b\\c\n\u{1}é/", &mut s);
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001é/\"");
    }

    #[test]
    fn base64_round_trip() {
        for input in [&b""[..], b"f", b"fo", b"foo", b"foob", b"\x00\xff\x10"] {
            let mut s = String::new();
            base64(input, &mut s);
            assert_eq!(base64_decode(&s).unwrap(), input);
        }
        let mut s = String::new();
        base64(b"foobar", &mut s);
        assert_eq!(s, "Zm9vYmFy");
    }
}
