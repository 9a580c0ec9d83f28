//! How `kwire consume` prints a record: text (Java's DefaultMessageFormatter
//! and its properties) or one JSON envelope per record.

use std::io::Write;

use anyhow::{Context, Result, bail};
use base64::Engine;
use kwire_proto::props::Properties;
use kwire_proto::records::{Batch, RecordRef, TimestampType};
use serde_json::json;

use crate::args::consume::ConsumeArgs;
use crate::args::format::Format;

/// How the text format prints a record (Java's DefaultMessageFormatter).
pub(crate) struct Printer {
    format: Format,
    key: bool,
    value: bool,
    partition: bool,
    offset: bool,
    timestamp: bool,
    headers: bool,
    separator: Vec<u8>,
    line_separator: Vec<u8>,
    headers_separator: Vec<u8>,
    null_literal: Vec<u8>,
    topic: String,
}

impl Printer {
    pub(crate) fn new(a: &ConsumeArgs) -> Result<Self> {
        let mut p = Printer {
            format: a.format,
            key: false,
            value: true,
            partition: false,
            offset: false,
            timestamp: false,
            headers: false,
            separator: b"\t".to_vec(),
            line_separator: b"\n".to_vec(),
            headers_separator: b",".to_vec(),
            null_literal: b"null".to_vec(),
            topic: a.topic.clone(),
        };
        for f in &a.print {
            match f.trim() {
                "key" => p.key = true,
                "value" => p.value = true,
                "partition" => p.partition = true,
                "offset" => p.offset = true,
                "timestamp" => p.timestamp = true,
                "headers" => p.headers = true,
                "" => {}
                other => {
                    bail!("unknown --print field '{other}': use key, partition, offset, timestamp, headers")
                }
            }
        }
        for kv in &a.properties {
            let (k, v) = Properties::parse_kv(kv).context("--property")?;
            let flag = || -> Result<bool> {
                match v.to_ascii_lowercase().as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => bail!("--property {k}: expected true or false, got '{v}'"),
                }
            };
            match k.as_str() {
                "print.key" => p.key = flag()?,
                "print.value" => p.value = flag()?,
                "print.partition" => p.partition = flag()?,
                "print.offset" => p.offset = flag()?,
                "print.timestamp" => p.timestamp = flag()?,
                "print.headers" => p.headers = flag()?,
                "key.separator" => p.separator = unescape(&v).into_bytes(),
                "line.separator" => p.line_separator = unescape(&v).into_bytes(),
                "headers.separator" => p.headers_separator = unescape(&v).into_bytes(),
                "null.literal" => p.null_literal = v.into_bytes(),
                other => bail!("unknown --property '{other}'"),
            }
        }
        if let Some(sep) = &a.key_separator {
            p.separator = unescape(sep).into_bytes();
        }
        Ok(p)
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>, partition: i32, batch: &Batch, rec: &RecordRef<'_>) {
        let ts_type = match batch.header.timestamp_type() {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        };
        match self.format {
            Format::Json => {
                let headers: Vec<_> = rec
                    .headers()
                    .map(|h| json!({"key": text_or_b64(Some(h.key)), "value": text_or_b64(h.value)}))
                    .collect();
                let doc = json!({
                    "topic": self.topic,
                    "partition": partition,
                    "offset": rec.offset,
                    "timestamp": rec.timestamp,
                    "timestamp_type": if rec.timestamp < 0 { "NoTimestampType" } else { ts_type },
                    "key": text_or_b64(rec.key),
                    "value": text_or_b64(rec.value),
                    "headers": headers,
                });
                // serde_json never fails on a Value.
                let _ = serde_json::to_writer(&mut *out, &doc);
                out.push(b'\n');
            }
            Format::Text => {
                if self.timestamp {
                    if rec.timestamp < 0 {
                        out.extend_from_slice(b"NO_TIMESTAMP");
                    } else {
                        let _ = write!(out, "{ts_type}:{}", rec.timestamp);
                    }
                    out.extend_from_slice(&self.separator);
                }
                if self.partition {
                    let _ = write!(out, "Partition:{partition}");
                    out.extend_from_slice(&self.separator);
                }
                if self.offset {
                    let _ = write!(out, "Offset:{}", rec.offset);
                    out.extend_from_slice(&self.separator);
                }
                if self.headers {
                    if rec.header_count() == 0 {
                        out.extend_from_slice(b"NO_HEADERS");
                    }
                    for (i, h) in rec.headers().enumerate() {
                        if i > 0 {
                            out.extend_from_slice(&self.headers_separator);
                        }
                        out.extend_from_slice(h.key);
                        out.push(b':');
                        out.extend_from_slice(h.value.unwrap_or(&self.null_literal));
                    }
                    out.extend_from_slice(&self.separator);
                }
                if self.key {
                    out.extend_from_slice(rec.key.unwrap_or(&self.null_literal));
                    if self.value {
                        out.extend_from_slice(&self.separator);
                    }
                }
                if self.value {
                    out.extend_from_slice(rec.value.unwrap_or(&self.null_literal));
                }
                out.extend_from_slice(&self.line_separator);
            }
        }
    }
}

/// `\t`, `\n`, `\\` escapes as Java's console consumer accepts them.
fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r").replace("\\\\", "\\")
}

/// UTF-8 text when valid, else `{"base64": "..."}`; null stays null.
pub(crate) fn text_or_b64(b: Option<&[u8]>) -> serde_json::Value {
    match b {
        None => serde_json::Value::Null,
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => json!(s),
            Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)}),
        },
    }
}
