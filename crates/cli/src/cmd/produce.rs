//! `kwire produce`: kafka-console-producer.sh and kcat -P, natively.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use base64::Engine;
use bytes::Bytes;
use clap::Args;
use kwire_meta::Cluster;
use kwire_produce::{DeliveryFuture, Header, ProduceError, Producer, ProducerConfig, ProducerRecord};
use kwire_proto::props::Properties;
use tokio::sync::mpsc;

use crate::args::Format;
use crate::config::ClientSettings;

/// Arguments of `kwire produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Topic to write to
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topic: String,
    /// Read records from this file instead of stdin
    #[arg(long, value_name = "FILE")]
    pub input: Option<std::path::PathBuf>,
    /// all | -1 | 1 | 0 (also --producer-property acks=...)
    #[arg(long, value_name = "ACKS", allow_hyphen_values = true)]
    pub acks: Option<String>,
    /// Producer setting (repeatable), e.g. --producer-property acks=all
    #[arg(long = "producer-property", value_name = "KEY=VALUE")]
    pub producer_properties: Vec<String>,
    /// Console-producer reader properties: parse.key=true, key.separator=..., null.marker=...
    #[arg(long = "property", visible_alias = "reader-property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Split each line into key and value at the first SEP
    #[arg(long, value_name = "SEP")]
    pub key_separator: Option<String>,
    /// Write every record to this partition
    #[arg(short = 'p', long, value_name = "N")]
    pub partition: Option<i32>,
    /// Compression: none, gzip, snappy, lz4, zstd
    #[arg(long, visible_alias = "compression-codec", value_name = "CODEC")]
    pub compression: Option<String>,
    /// linger.ms
    #[arg(long, value_name = "MS")]
    pub linger_ms: Option<u64>,
    /// batch.size in bytes
    #[arg(long, value_name = "BYTES")]
    pub batch_size: Option<u64>,
    /// A value (or key) equal to this string is sent as null
    #[arg(long, value_name = "STR")]
    pub null_marker: Option<String>,
    /// Header added to every record (repeatable): KEY=VALUE, or KEY alone for a null value
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Deprecated alias of --bootstrap-server (kafka-console-producer.sh's old flag)
    #[arg(long, value_name = "HOST:PORT", hide = true)]
    pub broker_list: Option<String>,
    /// text: one record per line; json: one object per line with key, value, headers, partition, timestamp
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// One parsed input record.
struct Line {
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<Header>,
    partition: Option<i32>,
    timestamp: Option<i64>,
}

struct Parser {
    format: Format,
    separator: Option<Vec<u8>>,
    null_marker: Option<Vec<u8>>,
    headers: Vec<Header>,
}

impl Parser {
    fn parse(&self, line: &[u8], lineno: u64) -> Result<Line> {
        match self.format {
            Format::Text => {
                let (key, value) = match &self.separator {
                    Some(sep) => match find(line, sep) {
                        Some(i) => (Some(&line[..i]), &line[i + sep.len()..]),
                        None => {
                            bail!("line {lineno}: no key separator '{}' found", String::from_utf8_lossy(sep))
                        }
                    },
                    None => (None, line),
                };
                let nul = |b: &[u8]| -> Option<Bytes> {
                    if self.null_marker.as_deref() == Some(b) {
                        None
                    } else {
                        Some(Bytes::copy_from_slice(b))
                    }
                };
                Ok(Line {
                    key: key.and_then(nul),
                    value: nul(value),
                    headers: self.headers.clone(),
                    partition: None,
                    timestamp: None,
                })
            }
            Format::Json => {
                let v: serde_json::Value =
                    serde_json::from_slice(line).with_context(|| format!("line {lineno}: invalid JSON"))?;
                let obj = v.as_object().with_context(|| format!("line {lineno}: expected a JSON object"))?;
                for k in obj.keys() {
                    if !matches!(k.as_str(), "key" | "value" | "headers" | "partition" | "timestamp") {
                        bail!(
                            "line {lineno}: unknown field '{k}' (expected key, value, headers, partition, timestamp)"
                        );
                    }
                }
                let bytes = |f: &str, v: Option<&serde_json::Value>| -> Result<Option<Bytes>> {
                    match v {
                        None | Some(serde_json::Value::Null) => Ok(None),
                        Some(serde_json::Value::String(s)) => Ok(Some(Bytes::copy_from_slice(s.as_bytes()))),
                        Some(serde_json::Value::Object(o)) if o.len() == 1 && o.contains_key("base64") => {
                            let s = o["base64"]
                                .as_str()
                                .with_context(|| format!("line {lineno}: {f}.base64 must be a string"))?;
                            let b = base64::engine::general_purpose::STANDARD
                                .decode(s)
                                .with_context(|| format!("line {lineno}: {f}.base64 is not valid base64"))?;
                            Ok(Some(Bytes::from(b)))
                        }
                        Some(other) => Ok(Some(Bytes::from(other.to_string()))),
                    }
                };
                let mut headers = self.headers.clone();
                match obj.get("headers") {
                    None | Some(serde_json::Value::Null) => {}
                    Some(serde_json::Value::Array(list)) => {
                        for h in list {
                            let (k, v) = match h {
                                serde_json::Value::Array(kv) if kv.len() == 2 => {
                                    (kv[0].clone(), kv.get(1).cloned())
                                }
                                serde_json::Value::Object(o) => {
                                    (o.get("key").cloned().unwrap_or_default(), o.get("value").cloned())
                                }
                                _ => bail!(
                                    "line {lineno}: each header is [key, value] or {{\"key\":..,\"value\":..}}"
                                ),
                            };
                            let k = k
                                .as_str()
                                .with_context(|| format!("line {lineno}: header key must be a string"))?
                                .to_owned();
                            headers.push(Header::new(k, bytes("header value", v.as_ref())?));
                        }
                    }
                    Some(serde_json::Value::Object(o)) => {
                        for (k, v) in o {
                            headers.push(Header::new(k.clone(), bytes("header value", Some(v))?));
                        }
                    }
                    Some(_) => bail!("line {lineno}: headers must be an array or an object"),
                }
                let int = |f: &str| -> Result<Option<i64>> {
                    match obj.get(f) {
                        None | Some(serde_json::Value::Null) => Ok(None),
                        Some(v) => v
                            .as_i64()
                            .map(Some)
                            .with_context(|| format!("line {lineno}: {f} must be an integer")),
                    }
                };
                Ok(Line {
                    key: bytes("key", obj.get("key"))?,
                    value: bytes("value", obj.get("value"))?,
                    headers,
                    partition: int("partition")?
                        .map(i32::try_from)
                        .transpose()
                        .with_context(|| format!("line {lineno}: partition out of range"))?,
                    timestamp: int("timestamp")?,
                })
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n").replace("\\\\", "\\")
}

pub async fn run(settings: &ClientSettings, a: ProduceArgs) -> Result<ExitCode> {
    let mut settings_cluster = settings.cluster.clone();
    if let Some(bl) = &a.broker_list {
        eprintln!("kwire: warning: --broker-list is deprecated; use --bootstrap-server (-b)");
        settings_cluster.bootstrap = crate::config::parse_bootstrap(bl)?;
    }
    let mut props = settings.props.clone();
    for kv in &a.producer_properties {
        let (k, v) = Properties::parse_kv(kv).context("--producer-property")?;
        props.set(k, v);
    }
    if let Some(v) = &a.acks {
        props.set("acks", v.clone());
    }
    if let Some(v) = &a.compression {
        props.set("compression.type", v.clone());
    }
    if let Some(v) = a.linger_ms {
        props.set("linger.ms", v.to_string());
    }
    if let Some(v) = a.batch_size {
        props.set("batch.size", v.to_string());
    }
    let mut cfg = ProducerConfig::default();
    cfg.apply_props(&props)?;
    settings.mark_used(&props);

    let mut separator = a.key_separator.as_deref().map(|s| unescape(s).into_bytes());
    let mut parse_key = separator.is_some();
    let mut null_marker = a.null_marker.clone().map(String::into_bytes);
    for kv in &a.properties {
        let (k, v) = Properties::parse_kv(kv).context("--property")?;
        match k.as_str() {
            "parse.key" => parse_key = v.eq_ignore_ascii_case("true"),
            "key.separator" => separator = Some(unescape(&v).into_bytes()),
            "null.marker" => null_marker = Some(v.into_bytes()),
            "parse.headers" | "ignore.error" => {}
            other => bail!("unknown --property '{other}' (expected parse.key, key.separator, null.marker)"),
        }
    }
    if parse_key && separator.is_none() {
        separator = Some(b"\t".to_vec());
    }
    if !parse_key {
        separator = None;
    }
    let headers = a
        .headers
        .iter()
        .map(|h| match h.split_once('=') {
            Some((k, v)) => Header::new(k.to_owned(), Some(Bytes::copy_from_slice(v.as_bytes()))),
            None => Header::new(h.clone(), None),
        })
        .collect();
    let parser = Parser { format: a.format, separator, null_marker, headers };

    let cluster = Cluster::new(settings_cluster);
    let producer = Producer::new(cluster, cfg).await?;

    // Outcomes are collected in send order by a separate task, so reading
    // input never waits for acknowledgements (only for buffer memory).
    let (tx, mut rx) = mpsc::channel::<DeliveryFuture>(65_536);
    let collector = tokio::spawn(async move {
        let (mut ok, mut failed, mut first): (u64, u64, Option<ProduceError>) = (0, 0, None);
        while let Some(f) = rx.recv().await {
            match f.wait().await {
                Ok(_) => ok += 1,
                Err(e) => {
                    failed += 1;
                    first.get_or_insert(e);
                }
            }
        }
        (ok, failed, first)
    });

    let input: Box<dyn BufRead + Send> = match &a.input {
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("cannot open --input {}", p.display()))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    // Read lines on a blocking thread, hand them over in chunks.
    let (ltx, mut lrx) = mpsc::channel::<std::io::Result<Vec<Vec<u8>>>>(16);
    std::thread::spawn(move || {
        let mut input = input;
        let mut chunk = Vec::with_capacity(256);
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    chunk.push(line);
                    if chunk.len() >= 256 && ltx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = ltx.blocking_send(Err(e));
                    return;
                }
            }
        }
        let _ = ltx.blocking_send(Ok(chunk));
    });

    let mut lineno = 0u64;
    let mut input_error = None;
    'outer: while let Some(chunk) = lrx.recv().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                input_error = Some(anyhow::Error::new(e).context("reading input"));
                break;
            }
        };
        for raw in chunk {
            lineno += 1;
            if raw.is_empty() && a.format == Format::Json {
                continue;
            }
            let line = match parser.parse(&raw, lineno) {
                Ok(l) => l,
                Err(e) => {
                    input_error = Some(e);
                    break 'outer;
                }
            };
            let rec = ProducerRecord {
                topic: &a.topic,
                partition: line.partition.or(a.partition),
                key: line.key.as_deref(),
                value: line.value.as_deref(),
                headers: &line.headers,
                timestamp: line.timestamp,
            };
            let fut = match producer.send(rec).await {
                Ok(f) => f,
                Err(e) => {
                    input_error = Some(anyhow::Error::new(e).context(format!("line {lineno}")));
                    break 'outer;
                }
            };
            if tx.send(fut).await.is_err() {
                break 'outer;
            }
        }
    }
    drop(tx);
    let close = producer.close().await;
    let (ok, failed, first) = collector.await.context("collector task")?;
    if let Some(e) = input_error {
        return Err(e.context(format!("stopped after {ok} records were acknowledged")));
    }
    if failed > 0 {
        let first = first.map(|e| e.to_string()).unwrap_or_default();
        bail!("{failed} of {} records failed (first error: {first})", ok + failed);
    }
    close?;
    tracing::info!(records = ok, "produced");
    Ok(ExitCode::SUCCESS)
}
