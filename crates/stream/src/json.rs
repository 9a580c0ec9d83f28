//! `from_json` with Spark 3.4+ semantics, as a fast borrowing scanner.
//!
//! The scanner follows the Jackson configuration Spark uses for `from_json`:
//! standard JSON plus single-quoted strings and names, `NaN`/`Infinity`
//! number tokens; no comments, no unquoted names, no leading zeros or plus
//! signs, no raw control characters in strings; nesting depth at most 1000.
//! Content after the top-level object is ignored, as Jackson does.
//!
//! Results, checked against pyspark 3.5 (see `tests/fixtures/from_json_*`):
//! - empty or blank input: the whole struct is NULL;
//! - malformed JSON, or a top level that is not an object: a struct whose
//!   fields are all NULL (PERMISSIVE) or an error (FAILFAST);
//! - a field whose token does not fit its type: that field NULL, the others
//!   kept (3.4+ partial results), or an error in FAILFAST;
//! - names match case-sensitively; with duplicate keys the last good value
//!   wins (a later wrongly typed duplicate keeps the earlier value but counts
//!   as a failure); missing fields are NULL; unknown fields are skipped;
//! - `BIGINT`/`INT`/`SMALLINT` accept integer tokens in range only (`30.0`,
//!   `"30"` are failures); `TINYINT` accepts -128..=255 and wraps like
//!   Jackson's `getByteValue`; `DOUBLE`/`FLOAT` accept any number token and the
//!   strings `NaN`, `Infinity`, `+Infinity`, `+INF`, `-Infinity`, `-INF`;
//!   `BOOLEAN` only `true`/`false`; `STRING` accepts every token and writes a
//!   non-string one as compact JSON the way Jackson copies it (`30` → `"30"`,
//!   `1e2` → `"100.0"`, `{"a": 1}` → `{"a":1}`, `NaN` → `"NaN"` quoted);
//!   `TIMESTAMP` accepts Spark's timestamp strings and integer seconds;
//!   structs nest with partial results; an array with a bad element is NULL.

use std::borrow::Cow;

use crate::format::{base64_decode, java_double, json_string};
use crate::time::{MICROS_PER_SECOND, parse_date, parse_timestamp};
use crate::value::{DataType, Datum, Field, StructType, Value};

/// How `from_json` treats records that do not fit the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ParseMode {
    /// Spark's default: bad records and fields become NULL.
    #[default]
    Permissive,
    /// Stop at the first bad record.
    FailFast,
}

impl ParseMode {
    /// Parse `permissive` / `failfast` (case-insensitive). `DROPMALFORMED` is
    /// rejected with Spark's message.
    pub fn parse(s: &str) -> Result<ParseMode, crate::StreamError> {
        match s.to_ascii_uppercase().as_str() {
            "PERMISSIVE" => Ok(ParseMode::Permissive),
            "FAILFAST" => Ok(ParseMode::FailFast),
            "DROPMALFORMED" => Err(crate::StreamError::analysis(
                "from_json() doesn't support the DROPMALFORMED mode. Acceptable modes are PERMISSIVE and FAILFAST.",
            )),
            _ => Err(crate::StreamError::analysis(format!(
                "unknown parse mode {s:?}: expected PERMISSIVE or FAILFAST"
            ))),
        }
    }
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Parsed; every field fit its type.
    Ok,
    /// Empty or blank input: the struct itself is NULL.
    NullStruct,
    /// Not JSON, or not an object: every field is NULL.
    Malformed {
        /// Byte offset where parsing failed.
        at: usize,
    },
    /// Some field did not fit its type; it is NULL, the others are kept.
    Partial {
        /// Index of the first top-level field that failed.
        field: usize,
    },
}

impl Outcome {
    /// True when FAILFAST must stop on this record.
    pub fn is_bad(&self) -> bool {
        matches!(self, Outcome::Malformed { .. } | Outcome::Partial { .. })
    }

    /// A human-readable reason, for FAILFAST errors.
    pub fn describe(&self, schema: &StructType) -> String {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::NullStruct => "empty input".into(),
            Outcome::Malformed { at } => format!("malformed JSON at byte {at}"),
            Outcome::Partial { field } => match schema.fields.get(*field) {
                Some(f) => format!(
                    "Cannot parse the field name '{}' to target Spark data type \"{}\"",
                    f.name, f.data_type
                ),
                None => "a field did not fit its type".into(),
            },
        }
    }
}

/// A compiled `from_json` for one schema.
#[derive(Debug, Clone)]
pub struct JsonParser {
    schema: StructType,
    /// Which top-level fields to convert; the others are only syntax-checked.
    needed: Vec<bool>,
}

/// Jackson's default `StreamReadConstraints.maxNestingDepth`.
const MAX_DEPTH: u32 = 1000;

impl JsonParser {
    /// A parser converting every field of `schema`.
    pub fn new(schema: StructType) -> JsonParser {
        let needed = vec![true; schema.len()];
        JsonParser { schema, needed }
    }

    /// Restrict conversion to the fields marked true (Spark prunes unused
    /// fields of `from_json` in PERMISSIVE mode the same way; results of the
    /// kept fields are unchanged).
    pub fn with_needed(mut self, needed: Vec<bool>) -> JsonParser {
        if needed.len() == self.schema.len() {
            self.needed = needed;
        }
        self
    }

    /// The schema.
    pub fn schema(&self) -> &StructType {
        &self.schema
    }

    /// Parse `input` into `out` (resized to the schema, one datum per field),
    /// borrowing strings from `input` where no unescaping is needed.
    pub fn parse<'a>(&self, input: &'a [u8], out: &mut Vec<Datum<'a>>) -> Outcome {
        out.clear();
        out.resize(self.schema.len(), Datum::Null);
        let mut sc = Scanner { b: input, i: 0 };
        sc.ws();
        if sc.i >= input.len() {
            return Outcome::NullStruct;
        }
        if input[sc.i] != b'{' {
            return Outcome::Malformed { at: sc.i };
        }
        sc.i += 1;
        let mut bad: Option<usize> = None;
        match sc.object(&self.schema.fields, Some(&self.needed), out, &mut bad, 1) {
            Ok(()) => match bad {
                None => Outcome::Ok,
                Some(field) => Outcome::Partial { field },
            },
            Err(Syntax) => {
                for d in out.iter_mut() {
                    *d = Datum::Null;
                }
                Outcome::Malformed { at: sc.i }
            }
        }
    }

    /// Parse into an owned struct value (NULL for empty input).
    pub fn parse_value(&self, input: &[u8]) -> (Value, Outcome) {
        let mut out = Vec::new();
        let o = self.parse(input, &mut out);
        let v = if o == Outcome::NullStruct {
            Datum::Null
        } else {
            Datum::Struct(out.into_iter().map(Datum::into_owned).collect())
        };
        (v, o)
    }
}

#[derive(Debug)]
struct Syntax;
type R<T> = Result<T, Syntax>;

enum Scalar<'a> {
    Str(Cow<'a, str>),
    /// Integer token: its text and value when it fits an i64.
    Int(&'a [u8], Option<i64>),
    Float(f64),
    Bool(bool),
    Null,
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c > b' ' {
                break;
            }
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&self) -> R<u8> {
        self.b.get(self.i).copied().ok_or(Syntax)
    }

    fn lit(&mut self, word: &[u8]) -> R<()> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            // a literal must not run into an identifier character (`truex`)
            if matches!(self.b.get(self.i), Some(c) if c.is_ascii_alphanumeric() || *c == b'_') {
                return Err(Syntax);
            }
            Ok(())
        } else {
            Err(Syntax)
        }
    }

    /// Convert the fields of an object whose `{` was consumed.
    fn object(
        &mut self,
        fields: &[Field],
        needed: Option<&[bool]>,
        out: &mut [Datum<'a>],
        bad: &mut Option<usize>,
        depth: u32,
    ) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(Syntax);
        }
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let q = self.peek()?;
            if q != b'"' && q != b'\'' {
                return Err(Syntax);
            }
            let idx = self.key_index(fields)?;
            self.ws();
            if self.peek()? != b':' {
                return Err(Syntax);
            }
            self.i += 1;
            self.ws();
            match idx {
                Some(k) if needed.is_none_or(|n| n.get(k).copied().unwrap_or(false)) => {
                    // fast paths write straight into the output slot
                    let t = &fields[k].data_type;
                    match (t, self.peek()?) {
                        (DataType::String, b'"') => {
                            out[k] = Datum::Str(self.string()?);
                        }
                        (DataType::Long, b'0'..=b'9' | b'-') => match self.number(true)? {
                            Scalar::Int(_, Some(v)) => out[k] = Datum::Long(v),
                            _ => {
                                if bad.is_none() {
                                    *bad = Some(k);
                                }
                            }
                        },
                        _ => {
                            let mut inner_bad = false;
                            match self.convert(t, &mut inner_bad, depth)? {
                                Some(v) => out[k] = v,
                                None => inner_bad = true,
                            }
                            if inner_bad && bad.is_none() {
                                *bad = Some(k);
                            }
                        }
                    }
                }
                _ => self.skip_value(depth)?,
            }
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Syntax),
            }
        }
    }

    /// Convert one value to `t`. `Ok(None)`: the value was consumed but does not
    /// fit `t`. `bad` is set when a nested struct kept a partial result.
    #[inline]
    fn convert(&mut self, t: &DataType, bad: &mut bool, depth: u32) -> R<Option<Datum<'a>>> {
        let c = self.peek()?;
        // fast paths for the common cases
        match (t, c) {
            (DataType::String, b'"') => return Ok(Some(Datum::Str(self.string()?))),
            (DataType::Long, b'0'..=b'9' | b'-') => return Ok(scalar_to(self.number(true)?, t)),
            _ => {}
        }
        match c {
            b'{' => {
                return match t {
                    DataType::Struct(st) => {
                        self.i += 1;
                        let mut vals = vec![Datum::Null; st.len()];
                        let mut inner: Option<usize> = None;
                        self.object(&st.fields, None, &mut vals, &mut inner, depth + 1)?;
                        if inner.is_some() {
                            *bad = true;
                        }
                        Ok(Some(Datum::Struct(vals)))
                    }
                    DataType::String => {
                        let mut s = String::new();
                        self.copy_value(&mut s, depth)?;
                        Ok(Some(Datum::Str(Cow::Owned(s))))
                    }
                    _ => {
                        self.skip_value(depth)?;
                        Ok(None)
                    }
                };
            }
            b'[' => {
                return match t {
                    DataType::Array(et) => {
                        self.i += 1;
                        if depth + 1 > MAX_DEPTH {
                            return Err(Syntax);
                        }
                        let mut vals = Vec::new();
                        let mut failed = false;
                        self.ws();
                        if self.peek()? == b']' {
                            self.i += 1;
                            return Ok(Some(Datum::Array(vals)));
                        }
                        loop {
                            self.ws();
                            if failed {
                                self.skip_value(depth + 1)?;
                            } else {
                                let mut inner = false;
                                match self.convert(et, &mut inner, depth + 1)? {
                                    Some(v) if !inner => vals.push(v),
                                    _ => failed = true,
                                }
                            }
                            self.ws();
                            match self.peek()? {
                                b',' => self.i += 1,
                                b']' => {
                                    self.i += 1;
                                    break;
                                }
                                _ => return Err(Syntax),
                            }
                        }
                        Ok(if failed { None } else { Some(Datum::Array(vals)) })
                    }
                    DataType::String => {
                        let mut s = String::new();
                        self.copy_value(&mut s, depth)?;
                        Ok(Some(Datum::Str(Cow::Owned(s))))
                    }
                    _ => {
                        self.skip_value(depth)?;
                        Ok(None)
                    }
                };
            }
            _ => {}
        }
        if matches!(t, DataType::String) && c != b'"' && c != b'\'' && c != b'n' {
            let mut s = String::new();
            self.copy_value(&mut s, depth)?;
            return Ok(Some(Datum::Str(Cow::Owned(s))));
        }
        let tok = self.scalar()?;
        Ok(scalar_to(tok, t))
    }

    fn scalar(&mut self) -> R<Scalar<'a>> {
        match self.peek()? {
            b'"' | b'\'' => Ok(Scalar::Str(self.string()?)),
            b't' => self.lit(b"true").map(|_| Scalar::Bool(true)),
            b'f' => self.lit(b"false").map(|_| Scalar::Bool(false)),
            b'n' => self.lit(b"null").map(|_| Scalar::Null),
            b'N' => self.lit(b"NaN").map(|_| Scalar::Float(f64::NAN)),
            b'I' => self.lit(b"Infinity").map(|_| Scalar::Float(f64::INFINITY)),
            b'+' => {
                self.i += 1;
                if self.lit(b"Infinity").is_ok() || self.lit(b"INF").is_ok() {
                    Ok(Scalar::Float(f64::INFINITY))
                } else {
                    Err(Syntax)
                }
            }
            b'-' | b'0'..=b'9' => self.number(true),
            _ => Err(Syntax),
        }
    }

    fn number(&mut self, want_value: bool) -> R<Scalar<'a>> {
        let start = self.i;
        let b = self.b;
        let mut i = self.i;
        let neg = b.get(i) == Some(&b'-');
        if neg {
            i += 1;
            match b.get(i) {
                Some(b'0'..=b'9') => {}
                Some(b'I') => {
                    self.i = i;
                    if self.lit(b"Infinity").is_ok() || self.lit(b"INF").is_ok() {
                        return Ok(Scalar::Float(f64::NEG_INFINITY));
                    }
                    return Err(Syntax);
                }
                _ => return Err(Syntax),
            }
        }
        let int_start = i;
        // fast path accumulate
        let mut acc: u64 = 0;
        let mut overflow = false;
        while let Some(&c) = b.get(i) {
            if c.is_ascii_digit() {
                match acc.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))) {
                    Some(v) => acc = v,
                    None => overflow = true,
                }
                i += 1;
            } else {
                break;
            }
        }
        let int_len = i - int_start;
        if int_len > 1 && b[int_start] == b'0' {
            return Err(Syntax); // leading zeros
        }
        let mut is_float = false;
        if b.get(i) == Some(&b'.') {
            is_float = true;
            i += 1;
            let fs = i;
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            if i == fs {
                return Err(Syntax);
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            is_float = true;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let es = i;
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            if i == es {
                return Err(Syntax);
            }
        }
        // Jackson's StreamReadConstraints.maxNumberLength
        if i - start > 1000 {
            return Err(Syntax);
        }
        self.i = i;
        let text = &b[start..i];
        if is_float {
            if !want_value {
                return Ok(Scalar::Null);
            }
            return Ok(Scalar::Float(ascii(text).parse::<f64>().map_err(|_| Syntax)?));
        }
        let v = if overflow {
            None
        } else if neg {
            if acc <= i64::MAX as u64 + 1 { Some((acc as i64).wrapping_neg()) } else { None }
        } else {
            i64::try_from(acc).ok()
        };
        Ok(Scalar::Int(text, v))
    }

    /// Read an object key and find the field it names (exact, case-sensitive
    /// match); keys without escapes are compared as raw bytes.
    #[inline]
    fn key_index(&mut self, fields: &[Field]) -> R<Option<usize>> {
        let b = self.b;
        let q = b[self.i];
        let start = self.i + 1;
        let mut i = start;
        loop {
            let c = *b.get(i).ok_or(Syntax)?;
            if c == q {
                let raw = &b[start..i];
                self.i = i + 1;
                return Ok(fields.iter().position(|f| f.name.as_bytes() == raw));
            }
            if c == b'\\' || c < 0x20 {
                let key = self.string()?;
                return Ok(fields.iter().position(|f| f.name == *key));
            }
            i += 1;
        }
    }

    /// A quoted string (`"` or `'`), unescaped; borrowed when possible.
    fn string(&mut self) -> R<Cow<'a, str>> {
        let b = self.b;
        let q = b[self.i];
        self.i += 1;
        let start = self.i;
        let mut i = start;
        loop {
            let c = *b.get(i).ok_or(Syntax)?;
            if c == q {
                self.i = i + 1;
                let raw = &b[start..i];
                return Ok(match std::str::from_utf8(raw) {
                    Ok(s) => Cow::Borrowed(s),
                    Err(_) => Cow::Owned(String::from_utf8_lossy(raw).into_owned()),
                });
            }
            if c == b'\\' || c < 0x20 {
                break;
            }
            i += 1;
        }
        // slow path: escapes
        let mut buf: Vec<u8> = b[start..i].to_vec();
        loop {
            let c = *b.get(i).ok_or(Syntax)?;
            i += 1;
            if c == q {
                break;
            }
            if c < 0x20 {
                return Err(Syntax);
            }
            if c != b'\\' {
                buf.push(c);
                continue;
            }
            let e = *b.get(i).ok_or(Syntax)?;
            i += 1;
            match e {
                b'"' | b'\\' | b'/' | b'\'' => buf.push(e),
                b'b' => buf.push(0x08),
                b'f' => buf.push(0x0C),
                b'n' => buf.push(b'\n'),
                b'r' => buf.push(b'\r'),
                b't' => buf.push(b'\t'),
                b'u' => {
                    let hi = hex4(b, i).ok_or(Syntax)?;
                    i += 4;
                    let ch = if (0xD800..0xDC00).contains(&hi)
                        && b.get(i) == Some(&b'\\')
                        && b.get(i + 1) == Some(&b'u')
                    {
                        match hex4(b, i + 2) {
                            Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                i += 6;
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            }
                            _ => None,
                        }
                    } else {
                        char::from_u32(hi)
                    };
                    let ch = ch.unwrap_or('\u{FFFD}');
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                }
                _ => return Err(Syntax),
            }
        }
        self.i = i;
        Ok(Cow::Owned(match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }))
    }

    /// Validate and skip one value.
    fn skip_value(&mut self, depth: u32) -> R<()> {
        match self.peek()? {
            b'{' => {
                if depth + 1 > MAX_DEPTH {
                    return Err(Syntax);
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    let q = self.peek()?;
                    if q != b'"' && q != b'\'' {
                        return Err(Syntax);
                    }
                    self.skip_string()?;
                    self.ws();
                    if self.peek()? != b':' {
                        return Err(Syntax);
                    }
                    self.i += 1;
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(Syntax),
                    }
                }
            }
            b'[' => {
                if depth + 1 > MAX_DEPTH {
                    return Err(Syntax);
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(Syntax),
                    }
                }
            }
            b'"' | b'\'' => self.skip_string(),
            b'-' | b'0'..=b'9' => self.number(false).map(|_| ()),
            _ => self.scalar().map(|_| ()),
        }
    }

    fn skip_string(&mut self) -> R<()> {
        let b = self.b;
        let q = b[self.i];
        let mut i = self.i + 1;
        loop {
            let c = *b.get(i).ok_or(Syntax)?;
            if c == q {
                self.i = i + 1;
                return Ok(());
            }
            if c < 0x20 {
                return Err(Syntax);
            }
            if c == b'\\' {
                // validate escapes through the full path
                return self.string().map(|_| ());
            }
            i += 1;
        }
    }

    /// Re-serialise one value as compact JSON the way Jackson's
    /// `copyCurrentStructure` does.
    fn copy_value(&mut self, out: &mut String, depth: u32) -> R<()> {
        match self.peek()? {
            b'{' => {
                if depth + 1 > MAX_DEPTH {
                    return Err(Syntax);
                }
                self.i += 1;
                out.push('{');
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    out.push('}');
                    return Ok(());
                }
                let mut first = true;
                loop {
                    self.ws();
                    let q = self.peek()?;
                    if q != b'"' && q != b'\'' {
                        return Err(Syntax);
                    }
                    let k = self.string()?;
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    json_string(&k, out);
                    self.ws();
                    if self.peek()? != b':' {
                        return Err(Syntax);
                    }
                    self.i += 1;
                    out.push(':');
                    self.ws();
                    self.copy_value(out, depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            out.push('}');
                            return Ok(());
                        }
                        _ => return Err(Syntax),
                    }
                }
            }
            b'[' => {
                if depth + 1 > MAX_DEPTH {
                    return Err(Syntax);
                }
                self.i += 1;
                out.push('[');
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    out.push(']');
                    return Ok(());
                }
                let mut first = true;
                loop {
                    self.ws();
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    self.copy_value(out, depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            out.push(']');
                            return Ok(());
                        }
                        _ => return Err(Syntax),
                    }
                }
            }
            _ => {
                match self.scalar()? {
                    Scalar::Str(s) => json_string(&s, out),
                    Scalar::Int(text, v) => match v {
                        Some(v) => {
                            use std::fmt::Write;
                            let _ = write!(out, "{v}");
                        }
                        None => out.push_str(ascii(text)),
                    },
                    Scalar::Float(f) => {
                        if f.is_finite() {
                            java_double(f, out);
                        } else {
                            out.push('"');
                            java_double(f, out);
                            out.push('"');
                        }
                    }
                    Scalar::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                    Scalar::Null => out.push_str("null"),
                }
                Ok(())
            }
        }
    }
}

/// Number tokens are ASCII by construction.
fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let s = b.get(i..i + 4)?;
    let mut v = 0u32;
    for &c in s {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

fn special_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" | "+Infinity" | "+INF" => Some(f64::INFINITY),
        "-Infinity" | "-INF" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// Convert a scalar token to `t`; None when it does not fit.
fn scalar_to<'a>(tok: Scalar<'a>, t: &DataType) -> Option<Datum<'a>> {
    if let Scalar::Null = tok {
        return Some(Datum::Null);
    }
    match (t, tok) {
        (DataType::String, Scalar::Str(s)) => Some(Datum::Str(s)),
        (DataType::Long, Scalar::Int(_, v)) => v.map(Datum::Long),
        (DataType::Int, Scalar::Int(_, v)) => v.and_then(|v| i32::try_from(v).ok()).map(Datum::Int),
        (DataType::Short, Scalar::Int(_, v)) => {
            v.and_then(|v| i16::try_from(v).ok()).map(|v| Datum::Int(i32::from(v)))
        }
        (DataType::Byte, Scalar::Int(_, v)) => {
            v.filter(|v| (-128..=255).contains(v)).map(|v| Datum::Int(i32::from(v as u8 as i8)))
        }
        (DataType::Double, Scalar::Int(text, v)) => Some(Datum::Double(match v {
            Some(v) => v as f64,
            None => ascii(text).parse().ok()?,
        })),
        (DataType::Double, Scalar::Float(f)) => Some(Datum::Double(f)),
        (DataType::Double, Scalar::Str(s)) => special_float(&s).map(Datum::Double),
        (DataType::Float, Scalar::Int(text, _)) => ascii(text).parse::<f32>().ok().map(Datum::Float),
        (DataType::Float, Scalar::Float(f)) => Some(Datum::Float(f as f32)),
        (DataType::Float, Scalar::Str(s)) => special_float(&s).map(|f| Datum::Float(f as f32)),
        (DataType::Boolean, Scalar::Bool(b)) => Some(Datum::Bool(b)),
        (DataType::Timestamp, Scalar::Str(s)) => parse_timestamp(&s).map(Datum::Timestamp),
        (DataType::Timestamp, Scalar::Int(_, v)) => {
            v.and_then(|v| v.checked_mul(MICROS_PER_SECOND)).map(Datum::Timestamp)
        }
        (DataType::Date, Scalar::Str(s)) => parse_date(&s).map(Datum::Date),
        (DataType::Decimal { precision, scale }, Scalar::Int(text, _)) => {
            parse_decimal(ascii(text), *precision, *scale).map(|u| Datum::Decimal(u, *scale))
        }
        (DataType::Decimal { precision, scale }, Scalar::Str(s)) => {
            parse_decimal(s.trim(), *precision, *scale).map(|u| Datum::Decimal(u, *scale))
        }
        (DataType::Binary, Scalar::Str(s)) => base64_decode(&s).map(|v| Datum::Binary(Cow::Owned(v))),
        _ => None,
    }
}

/// Parse decimal text (`-12.345`, `1e3`) to an unscaled value at `scale`,
/// rounding half up; None if it does not fit `precision`.
pub(crate) fn parse_decimal(text: &str, precision: u8, scale: u8) -> Option<i128> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(p) => (&body[..p], body[p + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if ip.is_empty() && fp.is_empty() {
        return None;
    }
    if !ip.bytes().chain(fp.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits: String = format!("{ip}{fp}");
    let digits = digits.trim_start_matches('0');
    // value = digits * 10^(exp - fp.len()); we want value * 10^scale
    let shift = exp - fp.len() as i32 + i32::from(scale);
    let mut unscaled: i128 = 0;
    let keep = if shift >= 0 { digits.len() } else { digits.len().saturating_sub((-shift) as usize) };
    for c in digits[..keep].bytes() {
        unscaled = unscaled.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
    }
    if shift > 0 {
        for _ in 0..shift {
            unscaled = unscaled.checked_mul(10)?;
        }
    } else if shift < 0 {
        let dropped = &digits[keep..];
        if dropped.as_bytes().first().is_some_and(|c| *c >= b'5') {
            unscaled = unscaled.checked_add(1)?;
        }
    }
    if unscaled >= 10i128.checked_pow(u32::from(precision))? {
        return None;
    }
    Some(if neg { -unscaled } else { unscaled })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::parse_ddl;

    fn voter() -> JsonParser {
        JsonParser::new(parse_ddl("gender STRING, age LONG, party STRING").unwrap())
    }

    #[test]
    fn borrows_plain_strings() {
        let p = voter();
        let input = br#"{"gender":"M","age":30,"party":"D"}"#;
        let mut out = Vec::new();
        assert_eq!(p.parse(input, &mut out), Outcome::Ok);
        assert!(matches!(&out[0], Datum::Str(Cow::Borrowed("M"))));
        assert_eq!(out[1], Datum::Long(30));
    }

    #[test]
    fn pruned_fields_are_not_converted_but_checked() {
        let p = voter().with_needed(vec![true, false, true]);
        let mut out = Vec::new();
        assert_eq!(p.parse(br#"{"gender":"M","age":"x","party":"D"}"#, &mut out), Outcome::Ok);
        assert_eq!(out[1], Datum::Null);
        assert!(matches!(
            p.parse(br#"{"gender":"M","age":[1,,2],"party":"D"}"#, &mut out),
            Outcome::Malformed { .. }
        ));
    }

    #[test]
    fn deep_nesting_is_malformed_not_a_crash() {
        let p = voter();
        let mut s = String::from("{\"x\":");
        for _ in 0..100_000 {
            s.push('[');
        }
        let mut out = Vec::new();
        assert!(matches!(p.parse(s.as_bytes(), &mut out), Outcome::Malformed { .. }));
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("12.345", 10, 2), Some(1235));
        assert_eq!(parse_decimal("-0.005", 10, 2), Some(-1));
        assert_eq!(parse_decimal("1e3", 10, 2), Some(100_000));
        assert_eq!(parse_decimal("123456789", 5, 0), None);
        assert_eq!(parse_decimal("abc", 5, 0), None);
    }

    #[test]
    fn parse_modes() {
        assert_eq!(ParseMode::parse("failfast").unwrap(), ParseMode::FailFast);
        let e = ParseMode::parse("DROPMALFORMED").unwrap_err().to_string();
        assert_eq!(
            e,
            "from_json() doesn't support the DROPMALFORMED mode. Acceptable modes are PERMISSIVE and FAILFAST."
        );
    }
}
