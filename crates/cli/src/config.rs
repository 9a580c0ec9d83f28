//! Turns global options (bootstrap, --command-config, -X) into typed library configs.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use kwire_conn::ConnConfig;
use kwire_meta::ClusterConfig;
use kwire_proto::props::Properties;

use crate::args::Global;

/// Client settings gathered from the command line.
pub struct ClientSettings {
    pub props: Properties,
    pub cluster: ClusterConfig,
}

impl ClientSettings {
    pub fn from_global(g: &Global) -> Result<Self> {
        let mut props = Properties::new();
        if let Some(path) = &g.command_config {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --command-config {}", path.display()))?;
            let file = Properties::parse(&text).with_context(|| format!("in {}", path.display()))?;
            props.extend(&file);
        }
        for kv in &g.props {
            let (k, v) = Properties::parse_kv(kv).context("-X")?;
            props.set(k, v);
        }
        let bootstrap_str = match &g.bootstrap {
            Some(b) => b.clone(),
            None => props.get("bootstrap.servers").unwrap_or("127.0.0.1:9092").to_owned(),
        };
        let bootstrap = parse_bootstrap(&bootstrap_str)?;
        let mut conn = ConnConfig::default();
        if let Some(id) = props.get("client.id") {
            conn.client_id = Some(id.to_owned());
        }
        if let Some(d) = props.get_ms("request.timeout.ms")? {
            conn.request_timeout = nonzero(d, "request.timeout.ms")?;
        }
        if let Some(d) = props.get_ms("socket.connection.setup.timeout.ms")? {
            conn.connect_timeout = nonzero(d, "socket.connection.setup.timeout.ms")?;
        }
        if let Some(n) = props.get_uint::<usize>("receive.message.max.bytes")? {
            conn.max_frame = n;
        }
        let mut cluster = ClusterConfig { bootstrap, conn, ..ClusterConfig::default() };
        if let Some(d) = props.get_ms("metadata.max.age.ms")? {
            cluster.metadata_max_age = d;
        }
        if let Some(d) = props.get_ms("retry.backoff.ms")? {
            cluster.retry_backoff = d;
        }
        if let Some(d) = props.get_ms("retry.backoff.max.ms")? {
            cluster.retry_backoff_max = d;
        }
        Ok(ClientSettings { props, cluster })
    }

    /// Marks keys read from a derived copy of the properties as used.
    pub fn mark_used(&self, copy: &Properties) {
        for k in copy.used_keys() {
            let _ = self.props.get(&k);
        }
    }

    /// Warns (one line each) about settings no part of kwire read.
    pub fn warn_unused(&self) {
        for k in self.props.unused() {
            if !KNOWN_ELSEWHERE.contains(&k.as_str()) {
                eprintln!("kwire: warning: the setting '{k}' is not used by kwire and was ignored");
            }
        }
    }
}

/// Keys other commands read; not worth a warning when a shared config file has them.
const KNOWN_ELSEWHERE: &[&str] = &[
    "bootstrap.servers",
    "acks",
    "linger.ms",
    "batch.size",
    "compression.type",
    "enable.idempotence",
    "max.in.flight.requests.per.connection",
    "retries",
    "delivery.timeout.ms",
    "partitioner",
    "buffer.memory",
    "max.request.size",
    "group.id",
    "group.instance.id",
    "group.protocol",
    "auto.offset.reset",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "max.poll.records",
    "partition.assignment.strategy",
    "isolation.level",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.max.wait.ms",
    "max.partition.fetch.bytes",
    "check.crcs",
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
];

fn nonzero(d: Duration, key: &str) -> Result<Duration> {
    if d.is_zero() {
        bail!("{key} must be greater than 0");
    }
    Ok(d)
}

/// Parses `host:port[,host:port…]`, with a clear error for each bad entry.
pub fn parse_bootstrap(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (host, port) = part
            .rsplit_once(':')
            .with_context(|| format!("invalid bootstrap server '{part}': expected HOST:PORT"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            bail!("invalid bootstrap server '{part}': empty host");
        }
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => bail!("invalid bootstrap server '{part}': port must be 1-65535"),
        }
        out.push(part.to_owned());
    }
    if out.is_empty() {
        bail!("no bootstrap server given (use -b HOST:PORT)");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_lists() {
        assert_eq!(parse_bootstrap("a:1, b:2").unwrap(), vec!["a:1", "b:2"]);
        assert_eq!(parse_bootstrap("[::1]:9092").unwrap(), vec!["[::1]:9092"]);
        assert!(parse_bootstrap("nohost").is_err());
        assert!(parse_bootstrap("h:0").is_err());
        assert!(parse_bootstrap("h:99999").is_err());
        assert!(parse_bootstrap(",").is_err());
    }
}
