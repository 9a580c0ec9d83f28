//! `kwire produce`: kafka-console-producer.sh and kcat -P, natively.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use base64::Engine;
use bytes::Bytes;
use kwire_meta::Cluster;
use kwire_produce::{DeliveryFuture, Header, ProduceError, Producer, ProducerConfig, ProducerRecord};
use kwire_proto::props::Properties;
use tokio::sync::mpsc;

use crate::args::format::Format;
use crate::args::produce::ProduceArgs;
use crate::config::ClientSettings;

mod txn;

/// Where parsed records go.
pub(super) struct Target<'a> {
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub format: Format,
}

/// When a transaction commits (whichever comes first, and at end of input).
pub(super) struct Every {
    pub records: u64,
    pub time: std::time::Duration,
}

/// One parsed input record.
pub(super) struct Line {
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<Header>,
    partition: Option<i32>,
    timestamp: Option<i64>,
}

impl Line {
    /// The record to send for this line.
    fn record<'a>(&'a self, target: &Target<'a>) -> ProducerRecord<'a> {
        ProducerRecord {
            topic: target.topic,
            partition: self.partition.or(target.partition),
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers: &self.headers,
            timestamp: self.timestamp,
        }
    }
}

pub(super) struct Parser {
    format: Format,
    separator: Option<Vec<u8>>,
    null_marker: Option<Vec<u8>>,
    headers: Vec<Header>,
}

impl Parser {
    pub(super) fn parse(&self, line: &[u8], lineno: u64) -> Result<Line> {
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

/// Backslash escapes of `--key-separator` and `key.separator`: `\t`, `\n`,
/// `\r` and `\\`; any other backslash is kept as is.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// How many ranges of failed lines to print per partition.
const RANGES_SHOWN: usize = 10;

/// Input line numbers of one partition, compacted into ranges. Lines are
/// pushed in increasing order (the collector sees records in input order).
#[derive(Debug, Default)]
struct LineRanges {
    /// Inclusive (first, last) line numbers.
    ranges: Vec<(u64, u64)>,
    count: u64,
}

impl LineRanges {
    fn push(&mut self, line: u64) {
        self.count += 1;
        match self.ranges.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(line) => last.1 = line,
            Some(last) if last.0 <= line && line <= last.1 => self.count -= 1,
            _ => self.ranges.push((line, line)),
        }
    }

    /// `1201-1650, 1800`, or the first `cap` ranges and `and N more ranges`.
    fn describe(&self, cap: usize) -> String {
        let mut parts: Vec<String> = self
            .ranges
            .iter()
            .take(cap)
            .map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
            .collect();
        let more = self.ranges.len().saturating_sub(cap);
        if more > 0 {
            parts.push(format!("… and {more} more range{}", if more == 1 { "" } else { "s" }));
        }
        parts.join(", ")
    }

    /// `line 7` or `lines 1201-1650, 1800`.
    fn lines(&self) -> String {
        format!("line{} {}", if self.count == 1 { "" } else { "s" }, self.describe(RANGES_SHOWN))
    }

    /// ` (451 lines)` with `note` first, ` (note)` for one line.
    fn count_note(&self, note: &str) -> String {
        let count = if self.count == 1 { String::new() } else { plural(self.count, "line") };
        let parts: Vec<&str> = [note, &count].into_iter().filter(|s| !s.is_empty()).collect();
        if parts.is_empty() { String::new() } else { format!(" ({})", parts.join("; ")) }
    }
}

fn plural(n: u64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `--failed-output`: the raw input lines of failed records, in input order.
struct FailedOutput {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    error: Option<std::io::Error>,
}

impl FailedOutput {
    /// Creates (truncates) the file before anything is produced, refusing the
    /// `--input` file itself.
    fn create(path: &Path, input: Option<&Path>) -> Result<Self> {
        if let Some(input) = input {
            let same = match (std::fs::canonicalize(input), std::fs::canonicalize(path)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if same {
                bail!("--failed-output {} is the --input file; choose another path", path.display());
            }
        }
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create --failed-output {}", path.display()))?;
        Ok(FailedOutput { path: path.to_owned(), file: std::io::BufWriter::new(file), error: None })
    }

    fn write(&mut self, raw: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.file.write_all(raw).and_then(|()| self.file.write_all(b"\n")) {
                self.error = Some(e);
            }
        }
    }

    fn finish(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.file.flush() {
                self.error = Some(e);
            }
        }
    }
}

/// A sent record the collector waits for.
struct Pending {
    lineno: u64,
    /// The raw input line, kept only with `--failed-output` and only until
    /// the record's outcome is known.
    raw: Option<Vec<u8>>,
    fut: DeliveryFuture,
}

/// What the collector saw.
#[derive(Default)]
struct Outcomes {
    ok: u64,
    /// Failed lines known not to be written, by partition.
    not_written: BTreeMap<i32, LineRanges>,
    /// Failed lines that may have been written anyway, by partition.
    maybe_written: BTreeMap<i32, LineRanges>,
    first: Option<ProduceError>,
    out: Option<FailedOutput>,
}

impl Outcomes {
    fn record(&mut self, lineno: u64, partition: i32, raw: Option<&[u8]>, result: Result<(), ProduceError>) {
        let e = match result {
            Ok(()) => {
                self.ok += 1;
                return;
            }
            Err(e) => e,
        };
        let map = if e.maybe_written() { &mut self.maybe_written } else { &mut self.not_written };
        map.entry(partition).or_default().push(lineno);
        if let (Some(out), Some(raw)) = (&mut self.out, raw) {
            out.write(raw);
        }
        self.first.get_or_insert(e);
    }

    fn count(map: &BTreeMap<i32, LineRanges>) -> u64 {
        map.values().map(|r| r.count).sum()
    }

    fn failed(&self) -> u64 {
        Self::count(&self.not_written) + Self::count(&self.maybe_written)
    }

    /// The stderr lines (without the `kwire: ` prefix) that say which input
    /// lines failed, per partition, and where they were saved.
    fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (p, r) in &self.not_written {
            lines.push(format!("partition {p}: {} not written{}", r.lines(), r.count_note("")));
        }
        for (p, r) in &self.maybe_written {
            lines.push(format!(
                "partition {p}: {} may have been written{}",
                r.lines(),
                r.count_note("outcome unknown")
            ));
        }
        let maybe = Self::count(&self.maybe_written);
        match &self.out {
            Some(FailedOutput { path, error: Some(e), .. }) => {
                lines.push(format!("could not write the failed lines to {}: {e}", path.display()))
            }
            Some(FailedOutput { path, .. }) => {
                let mut l =
                    format!("wrote the {} to {}", plural(self.failed(), "failed line"), path.display());
                if maybe > 0 {
                    l.push_str(&format!(
                        " ({} of them may have been written: re-sending {} may duplicate {})",
                        maybe,
                        if maybe == 1 { "it" } else { "those" },
                        if maybe == 1 { "it" } else { "them" },
                    ));
                }
                lines.push(l);
            }
            None => lines.push("--failed-output FILE saves the failed lines for re-sending".to_owned()),
        }
        lines
    }
}

pub async fn run(settings: &ClientSettings, a: ProduceArgs) -> Result<ExitCode> {
    let mut settings_cluster = settings.cluster.clone();
    if let Some(bl) = &a.broker_list {
        eprintln!("kwire: warning: --broker-list is deprecated; use --bootstrap-server (-b)");
        settings_cluster.bootstrap = crate::config::parse_bootstrap(bl)?;
    }
    let mut props = settings.with_flag_props("--producer-property", &a.producer_properties)?;
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
    if let Some(v) = &a.transactional_id {
        props.set("transactional.id", v.clone());
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

    let input: Box<dyn BufRead + Send> = match &a.input {
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("cannot open --input {}", p.display()))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let failed_output = match &a.failed_output {
        Some(p) => Some(FailedOutput::create(p, a.input.as_deref())?),
        None => None,
    };
    let keep_raw = failed_output.is_some();

    let transactional = cfg.transactional_id.is_some();
    if !transactional && (a.transaction_size.is_some() || a.transaction_ms.is_some()) {
        bail!("--transaction-size and --transaction-ms need --transactional-id");
    }
    if transactional && failed_output.is_some() {
        bail!(
            "--failed-output does not go with --transactional-id (a failed record aborts its whole transaction)"
        );
    }
    let cluster = Cluster::new(settings_cluster);
    let producer = Producer::new(cluster, cfg).await?;

    // Outcomes are collected in send order by a separate task, so reading
    // input never waits for acknowledgements (only for buffer memory).
    // It also notes, per partition, which input lines failed, and writes
    // their raw bytes to --failed-output.
    let (tx, mut rx) = mpsc::channel::<Pending>(65_536);
    let collector = tokio::spawn(async move {
        let mut outcomes = Outcomes { out: failed_output, ..Outcomes::default() };
        while let Some(Pending { lineno, raw, fut }) = rx.recv().await {
            let partition = fut.partition();
            let result = fut.wait().await.map(|_| ());
            outcomes.record(lineno, partition, raw.as_deref(), result);
        }
        if let Some(out) = &mut outcomes.out {
            out.finish();
        }
        outcomes
    });
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

    if transactional {
        drop(tx);
        let _ = collector.await;
        let every = Every {
            records: a.transaction_size.unwrap_or(u64::MAX),
            time: std::time::Duration::from_millis(a.transaction_ms.unwrap_or(1000)),
        };
        let target = Target { topic: &a.topic, partition: a.partition, format: a.format };
        return txn::run(&producer, &parser, lrx, target, every).await;
    }
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
            let target = Target { topic: &a.topic, partition: a.partition, format: a.format };
            let fut = match producer.send(line.record(&target)).await {
                Ok(f) => f,
                Err(e) => {
                    input_error = Some(anyhow::Error::new(e).context(format!("line {lineno}")));
                    break 'outer;
                }
            };
            // Kept (moved, not copied) only for --failed-output.
            let raw = if keep_raw { Some(raw) } else { None };
            if tx.send(Pending { lineno, raw, fut }).await.is_err() {
                break 'outer;
            }
        }
    }
    drop(tx);
    let close = producer.close().await;
    let outcomes = collector.await.context("collector task")?;
    let (ok, failed) = (outcomes.ok, outcomes.failed());
    let error = match input_error {
        Some(e) => Some(e.context(format!("stopped after {ok} records were acknowledged"))),
        None if failed > 0 => {
            let first = outcomes.first.as_ref().map(|e| e.to_string()).unwrap_or_default();
            Some(anyhow::anyhow!("{failed} of {} records failed (first error: {first})", ok + failed))
        }
        None => None,
    };
    if let Some(e) = error {
        if failed == 0 {
            return Err(e);
        }
        // The one-line error first (as main prints it), then which lines failed.
        eprintln!("kwire: error: {}", format!("{e:#}").replace('\n', " "));
        for line in outcomes.summary() {
            eprintln!("kwire: {line}");
        }
        return Ok(ExitCode::FAILURE);
    }
    close?;
    tracing::info!(records = ok, "produced");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(lines: &[u64]) -> LineRanges {
        let mut r = LineRanges::default();
        for &l in lines {
            r.push(l);
        }
        r
    }

    #[test]
    fn consecutive_lines_compact_into_ranges() {
        let lines: Vec<u64> = (1201..=1650).chain([1800, 1802, 1803]).collect();
        let r = ranges(&lines);
        assert_eq!(r.ranges, vec![(1201, 1650), (1800, 1800), (1802, 1803)]);
        assert_eq!(r.count, 453);
        assert_eq!(r.describe(10), "1201-1650, 1800, 1802-1803");
        assert_eq!(ranges(&[7]).describe(10), "7");
        assert_eq!(ranges(&[]).describe(10), "");
        // A repeated line is counted once.
        let r = ranges(&[1, 2, 2, 3]);
        assert_eq!((r.ranges.clone(), r.count), (vec![(1, 3)], 3));
        // No overflow at the top of the range.
        assert_eq!(ranges(&[u64::MAX - 1, u64::MAX]).describe(10), format!("{}-{}", u64::MAX - 1, u64::MAX));
    }

    #[test]
    fn printed_ranges_are_capped() {
        let lines: Vec<u64> = (0..25).map(|i| i * 10 + 1).collect();
        let r = ranges(&lines);
        assert_eq!(r.ranges.len(), 25);
        assert_eq!(r.describe(10), "1, 11, 21, 31, 41, 51, 61, 71, 81, 91, … and 15 more ranges");
        assert_eq!(ranges(&[1, 3]).describe(1), "1, … and 1 more range");
        assert_eq!(ranges(&[1, 3]).describe(2), "1, 3");
    }

    #[test]
    fn the_summary_separates_unknown_outcomes() {
        let mut o = Outcomes::default();
        let broker = |p| ProduceError::Broker {
            topic: "t".into(),
            partition: p,
            code: kwire_proto::ErrorCode::MESSAGE_TOO_LARGE,
            message: None,
        };
        let unknown =
            |p| ProduceError::UnknownOutcome { topic: "t".into(), partition: p, reason: "reset".into() };
        o.record(1, 3, None, Ok(()));
        o.record(2, 3, None, Err(broker(3)));
        o.record(3, 3, None, Err(broker(3)));
        o.record(4, 0, None, Err(broker(0)));
        o.record(5, 3, None, Err(unknown(3)));
        o.record(6, 3, None, Ok(()));
        assert_eq!((o.ok, o.failed()), (2, 4));
        assert_eq!(
            o.summary(),
            vec![
                "partition 0: line 4 not written",
                "partition 3: lines 2-3 not written (2 lines)",
                "partition 3: line 5 may have been written (outcome unknown)",
                "--failed-output FILE saves the failed lines for re-sending",
            ]
        );
    }

    #[test]
    fn failed_output_gets_the_raw_failed_lines_in_order() {
        let dir = std::env::temp_dir().join(format!("kwire-failed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("failed.txt");
        let mut o = Outcomes { out: Some(FailedOutput::create(&path, None).unwrap()), ..Outcomes::default() };
        let unknown =
            |p| ProduceError::UnknownOutcome { topic: "t".into(), partition: p, reason: "reset".into() };
        o.record(1, 0, Some(b"ok line"), Ok(()));
        o.record(2, 1, Some(b"k:v\r"), Err(unknown(1)));
        o.record(3, 0, Some(b"\xff\x00raw"), Err(unknown(0)));
        o.out.as_mut().unwrap().finish();
        assert_eq!(std::fs::read(&path).unwrap(), b"k:v\r\n\xff\x00raw\n");
        let last = o.summary().pop().unwrap();
        assert!(last.starts_with("wrote the 2 failed lines to "), "{last}");
        assert!(
            last.ends_with("(2 of them may have been written: re-sending those may duplicate them)"),
            "{last}"
        );
        // The input file itself is refused, and an unwritable path fails at once.
        let err = FailedOutput::create(&path, Some(&path)).err().unwrap().to_string();
        assert!(err.contains("is the --input file"), "{err}");
        let err = FailedOutput::create(&dir.join("no/such/dir"), None).err().unwrap();
        assert!(format!("{err:#}").contains("cannot create --failed-output"), "{err:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unescape_knows_tab_newline_return_and_backslash() {
        assert_eq!(unescape("\\t"), "\t");
        assert_eq!(unescape("\\r\\n"), "\r\n");
        assert_eq!(unescape("a\\\\tb"), "a\\tb");
        assert_eq!(unescape("\\x:"), "\\x:");
        assert_eq!(unescape("end\\"), "end\\");
        assert_eq!(unescape("::"), "::");
    }
}
