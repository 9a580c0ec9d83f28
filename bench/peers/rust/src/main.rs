//! peerbench: one workload of the peer-benchmark contract (bench/peers) against
//! one Rust Kafka client, printing one JSON line.
//!
//! ```text
//! peerbench --client kwire|krafka|rskafka|rdkafka produce --bootstrap B --topic T --records N --size S
//!           --compression none|lz4|zstd [--rate R] [--linger-ms L] [--no-idempotence]
//! peerbench --client C consume --bootstrap B --topic T --records N
//! peerbench --client C e2e     --bootstrap B --topic T --records N --size S --rate R
//! peerbench --client C group   --bootstrap B --topic T --group G --records N
//! ```

mod common;
mod krafka_client;
mod kwire_client;
mod rdkafka_client;
mod rskafka_client;

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value, json};

use common::{Codec, ConsumeArgs, E2eArgs, GroupArgs, Outcome, ProduceArgs, ms3, percentile_ms};

const USAGE: &str = "usage: peerbench --client kwire|krafka|rskafka|rdkafka \
produce|consume|e2e|group --bootstrap B --topic T --records N [--size S] \
[--compression none|lz4|zstd] [--rate R] [--linger-ms L] [--no-idempotence] [--group G]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Kwire,
    Krafka,
    Rskafka,
    Rdkafka,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Kwire => "kwire",
            Client::Krafka => "krafka",
            Client::Rskafka => "rskafka",
            Client::Rdkafka => "rdkafka",
        }
    }
}

enum Workload {
    Produce(ProduceArgs),
    Consume(ConsumeArgs),
    E2e(E2eArgs),
    Group(GroupArgs),
}

impl Workload {
    fn name(&self) -> &'static str {
        match self {
            Workload::Produce(_) => "produce",
            Workload::Consume(_) => "consume",
            Workload::E2e(_) => "e2e",
            Workload::Group(_) => "group",
        }
    }
}

fn parse(args: &[String]) -> Result<(Client, Workload)> {
    let mut client = None;
    let mut command = None;
    let mut flags: BTreeMap<String, String> = BTreeMap::new();
    let mut no_idempotence = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => bail!("{USAGE}"),
            "--no-idempotence" => no_idempotence = true,
            "--client" => client = Some(it.next().ok_or_else(|| anyhow!("--client needs a value"))?.clone()),
            f if f.starts_with("--") => {
                let v = it.next().ok_or_else(|| anyhow!("{f} needs a value"))?;
                flags.insert(f[2..].to_owned(), v.clone());
            }
            c if command.is_none() => command = Some(c.to_owned()),
            other => bail!("unexpected argument '{other}'; {USAGE}"),
        }
    }
    let client = match client.as_deref() {
        Some("kwire") => Client::Kwire,
        Some("krafka") => Client::Krafka,
        Some("rskafka") => Client::Rskafka,
        Some("rdkafka") => Client::Rdkafka,
        Some(other) => bail!("unknown client '{other}'"),
        None => bail!("--client is required; {USAGE}"),
    };
    let mut take = |name: &str| flags.remove(name);
    let req = |v: Option<String>, name: &str| v.ok_or_else(|| anyhow!("--{name} is required"));
    let num = |v: String, name: &str| -> Result<u64> {
        v.parse::<u64>().with_context(|| format!("--{name} '{v}' is not a number"))
    };
    let float = |v: String, name: &str| -> Result<f64> {
        let r = v.parse::<f64>().with_context(|| format!("--{name} '{v}' is not a number"))?;
        if !(r > 0.0 && r.is_finite()) {
            bail!("--{name} must be positive");
        }
        Ok(r)
    };
    let bootstrap = req(take("bootstrap"), "bootstrap")?;
    let topic = req(take("topic"), "topic")?;
    let records = num(req(take("records"), "records")?, "records")?;
    let workload = match command.as_deref() {
        Some("produce") => {
            let size = num(req(take("size"), "size")?, "size")? as usize;
            if size < 12 {
                bail!("--size must be at least 12");
            }
            let compression = match take("compression").as_deref().unwrap_or("none") {
                "none" => Codec::None,
                "lz4" => Codec::Lz4,
                "zstd" => Codec::Zstd,
                other => bail!("unknown compression '{other}'"),
            };
            let rate = take("rate").map(|r| float(r, "rate")).transpose()?;
            let linger_ms = take("linger-ms").map(|l| num(l, "linger-ms")).transpose()?.unwrap_or(5);
            Workload::Produce(ProduceArgs {
                bootstrap,
                topic,
                records,
                size,
                compression,
                rate,
                linger_ms,
                idempotence: !no_idempotence,
            })
        }
        Some("consume") => Workload::Consume(ConsumeArgs { bootstrap, topic, records }),
        Some("e2e") => {
            let size = num(req(take("size"), "size")?, "size")? as usize;
            if size < 20 {
                bail!("--size must be at least 20 for e2e");
            }
            let rate = float(req(take("rate"), "rate")?, "rate")?;
            Workload::E2e(E2eArgs { bootstrap, topic, records, size, rate })
        }
        Some("group") => {
            let group = req(take("group"), "group")?;
            Workload::Group(GroupArgs { bootstrap, topic, group, records })
        }
        Some(other) => bail!("unknown workload '{other}'; {USAGE}"),
        None => bail!("no workload given; {USAGE}"),
    };
    if let Some(extra) = flags.keys().next() {
        bail!("unknown flag --{extra} for {}", workload.name());
    }
    Ok((client, workload))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    // One multi-threaded runtime with the default worker count.
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")
}

fn run(client: Client, workload: Workload) -> Result<Outcome> {
    if client == Client::Rdkafka {
        // librdkafka runs its own threads; its producer and consumer are
        // driven from plain threads (no async runtime needed).
        return match workload {
            Workload::Produce(a) => rdkafka_client::produce(&a).map(Outcome::Produce),
            Workload::Consume(a) => rdkafka_client::consume(&a).map(Outcome::Consume),
            Workload::E2e(a) => rdkafka_client::e2e(&a).map(Outcome::E2e),
            Workload::Group(a) => rdkafka_client::group(&a).map(Outcome::Group),
        };
    }
    let rt = runtime()?;
    rt.block_on(async move {
        match (client, workload) {
            (Client::Kwire, Workload::Produce(a)) => kwire_client::produce(&a).await.map(Outcome::Produce),
            (Client::Kwire, Workload::Consume(a)) => kwire_client::consume(&a).await.map(Outcome::Consume),
            (Client::Kwire, Workload::E2e(a)) => kwire_client::e2e(&a).await.map(Outcome::E2e),
            (Client::Kwire, Workload::Group(a)) => kwire_client::group(&a).await.map(Outcome::Group),
            (Client::Krafka, Workload::Produce(a)) => krafka_client::produce(&a).await.map(Outcome::Produce),
            (Client::Krafka, Workload::Consume(a)) => krafka_client::consume(&a).await.map(Outcome::Consume),
            (Client::Krafka, Workload::E2e(a)) => krafka_client::e2e(&a).await.map(Outcome::E2e),
            (Client::Krafka, Workload::Group(a)) => krafka_client::group(&a).await.map(Outcome::Group),
            (Client::Rskafka, Workload::Produce(a)) => rskafka_client::produce(&a).await.map(Outcome::Produce),
            (Client::Rskafka, Workload::Consume(a)) => rskafka_client::consume(&a).await.map(Outcome::Consume),
            (Client::Rskafka, Workload::E2e(a)) => rskafka_client::e2e(&a).await.map(Outcome::E2e),
            (Client::Rskafka, Workload::Group(_)) => Ok(Outcome::Unsupported(
                "rskafka has no consumer groups (no group membership, offset commits or assignors)".to_owned(),
            )),
            (Client::Rdkafka, _) => unreachable!("rdkafka runs without the runtime"),
        }
    })
    // Dropping the runtime here ends tasks a client left behind.
}

fn latency_json(lat: &mut [u64], with_max: bool) -> Value {
    lat.sort_unstable();
    let mut m = Map::new();
    m.insert("p50".into(), json!(percentile_ms(lat, 0.5)));
    m.insert("p99".into(), json!(percentile_ms(lat, 0.99)));
    m.insert("p999".into(), json!(percentile_ms(lat, 0.999)));
    if with_max {
        m.insert("max".into(), json!(lat.last().map_or(0.0, |&ns| ms3(ns))));
    }
    Value::Object(m)
}

fn secs3(s: f64) -> f64 {
    (s * 1e6).round() / 1e6
}

fn main() {
    common::init_clock();
    if let Ok(f) = tracing_subscriber::EnvFilter::try_from_env("KWIRE_LOG") {
        tracing_subscriber::fmt().with_env_filter(f).with_writer(std::io::stderr).init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (client, workload) = match parse(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("peerbench: {e:#}");
            std::process::exit(1);
        }
    };
    let wname = workload.name();
    let (records, size) = match &workload {
        Workload::Produce(a) => (a.records, a.size),
        Workload::Consume(a) => (a.records, 0),
        Workload::E2e(a) => (a.records, a.size),
        Workload::Group(a) => (a.records, 0),
    };
    let outcome = match run(client, workload) {
        Ok(o) => o,
        Err(e) => {
            let line = format!("{e:#}").replace('\n', " ");
            eprintln!("peerbench {} {wname}: {line}", client.name());
            std::process::exit(1);
        }
    };
    let mut out = Map::new();
    out.insert("client".into(), json!(client.name()));
    out.insert("workload".into(), json!(wname));
    let mut failed = false;
    match outcome {
        Outcome::Unsupported(why) => {
            out.insert("unsupported".into(), json!(why));
        }
        Outcome::Produce(mut p) => {
            out.insert("records".into(), json!(records));
            out.insert("bytes".into(), json!(records * size as u64));
            out.insert("seconds".into(), json!(secs3(p.seconds)));
            out.insert("errors".into(), json!(p.errors));
            if let Some(lat) = p.latencies_ns.as_mut() {
                out.insert("latency_ms".into(), latency_json(lat, false));
            }
            if let Some(n) = p.notes {
                out.insert("notes".into(), json!(n));
            }
            out.insert("config".into(), json!(p.config));
            failed = p.errors > 0;
        }
        Outcome::Consume(c) | Outcome::Group(c) => {
            out.insert("records".into(), json!(c.tally.records));
            out.insert("bytes".into(), json!(c.tally.bytes));
            out.insert("checksum".into(), json!(c.tally.checksum));
            if let Some(j) = c.join_ms {
                out.insert("join_ms".into(), json!((j * 1e3).round() / 1e3));
            }
            out.insert("seconds".into(), json!(secs3(c.seconds)));
            out.insert("config".into(), json!(c.config));
        }
        Outcome::E2e(mut e) => {
            out.insert("records".into(), json!(records));
            out.insert("latency_ms".into(), latency_json(&mut e.latencies_ns, true));
            if let Some(n) = e.notes {
                out.insert("notes".into(), json!(n));
            }
            out.insert("config".into(), json!(e.config));
        }
    }
    println!("{}", Value::Object(out));
    if failed {
        eprintln!("peerbench {} {wname}: some records failed", client.name());
        std::process::exit(1);
    }
}
