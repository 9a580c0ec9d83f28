//! Turns global options (bootstrap, --command-config, -X) into typed library configs.

use std::cell::RefCell;
use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use kwire_meta::ClusterConfig;
use kwire_proto::props::Properties;

use crate::args::Global;

/// Client settings gathered from the command line.
pub struct ClientSettings {
    pub props: Properties,
    pub cluster: ClusterConfig,
    /// Settings a command's own flag brought (`--producer-property`,
    /// `--consumer-property`): checked by the same unused-setting warning as `-X`.
    flag_props: RefCell<Properties>,
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
            warn_secret_on_command_line("-X", &k);
            props.set(k, v);
        }
        let mut cluster = ClusterConfig::default();
        cluster.apply_props(&props)?;
        // -b wins over the file's bootstrap.servers; either way, check HOST:PORT.
        let bootstrap_str = g.bootstrap.clone().unwrap_or_else(|| cluster.bootstrap.join(","));
        cluster.bootstrap = parse_bootstrap(&bootstrap_str)?;
        Ok(ClientSettings { props, cluster, flag_props: RefCell::new(Properties::new()) })
    }

    /// The shared settings plus a command's own `KEY=VALUE` flags (`flag` names
    /// them in errors and warnings), which win. Keys from the flag are
    /// remembered, so [`warn_unused`](Self::warn_unused) reports the ones no part
    /// of kwire read, as it does for `-X`. Pass the copy to
    /// [`mark_used`](Self::mark_used) once it has been read.
    pub fn with_flag_props(&self, flag: &str, kvs: &[String]) -> Result<Properties> {
        let mut props = self.props.clone();
        let mut remembered = self.flag_props.borrow_mut();
        for kv in kvs {
            let (k, v) = Properties::parse_kv(kv).with_context(|| flag.to_owned())?;
            warn_secret_on_command_line(flag, &k);
            remembered.set(k.clone(), v.clone());
            props.set(k, v);
        }
        Ok(props)
    }

    /// Marks keys read from a derived copy of the properties as used.
    pub fn mark_used(&self, copy: &Properties) {
        let flag_props = self.flag_props.borrow();
        for k in copy.used_keys() {
            let _ = self.props.get(&k);
            let _ = flag_props.get(&k);
        }
    }

    /// Settings no part of kwire read, whichever flag brought them (sorted, once each).
    pub fn unused(&self) -> Vec<String> {
        let mut keys: BTreeSet<String> = self.props.unused().into_iter().collect();
        keys.extend(self.flag_props.borrow().unused());
        keys.into_iter().filter(|k| !known_elsewhere(k)).collect()
    }

    /// Warns (one line each) about settings no part of kwire read.
    pub fn warn_unused(&self) {
        for k in self.unused() {
            eprintln!("kwire: warning: the setting '{k}' is not used by kwire and was ignored");
        }
    }
}

/// Secrets belong in the --command-config file or the environment: anything
/// on the command line is visible to every user in the process list.
fn warn_secret_on_command_line(flag: &str, key: &str) {
    if kwire_conn::security::SECRET_PROPERTIES.contains(&key) {
        eprintln!(
            "kwire: warning: {flag} {key}=... puts a secret on the command line, where other users can read it \
             in the process list; put it in the --command-config file (or the environment: {}, {})",
            kwire_conn::security::ENV_SASL_PASSWORD,
            kwire_conn::security::ENV_OAUTHBEARER_TOKEN
        );
    }
}

/// Whether another command reads `key` (the crates list what they read), or
/// it is one of the [`NOT_READ_BUT_EXPECTED`] keys: not worth a warning when a
/// shared config file has it.
fn known_elsewhere(key: &str) -> bool {
    [
        ClusterConfig::PROPERTIES,
        kwire_produce::ProducerConfig::PROPERTIES,
        kwire_fetch::FetchConfig::PROPERTIES,
        kwire_group::GroupConfig::PROPERTIES,
        NOT_READ_BUT_EXPECTED,
    ]
    .iter()
    .any(|list| list.contains(&key))
}

/// Keys no part of kwire reads, but that a properties file written for
/// Kafka's Java tools carries: the group id (`--group` gives it) and the Java
/// (de)serializer class names (kwire reads and writes bytes).
const NOT_READ_BUT_EXPECTED: &[&str] =
    &["group.id", "key.serializer", "value.serializer", "key.deserializer", "value.deserializer"];

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

    fn settings(x: &[&str]) -> ClientSettings {
        let g = Global {
            bootstrap: Some("127.0.0.1:9092".into()),
            command_config: None,
            props: x.iter().map(|s| s.to_string()).collect(),
            verbose: 0,
            zookeeper: None,
        };
        ClientSettings::from_global(&g).unwrap()
    }

    #[test]
    fn unknown_settings_are_reported_whichever_flag_brought_them() {
        let s = settings(&["bogus.x=1", "request.timeout.ms=5000"]);
        let kvs = ["bogus.c=2".to_owned(), "fetch.max.wait.ms=100".to_owned(), "bogus.x=3".to_owned()];
        let props = s.with_flag_props("--consumer-property", &kvs).unwrap();
        // (iter, not get: get marks the key as read)
        assert!(props.iter().any(|kv| kv == ("bogus.x", "3")), "the command's flag wins over -X");
        let mut cfg = kwire_fetch::FetchConfig::default();
        cfg.apply_props(&props).unwrap();
        s.mark_used(&props);
        assert_eq!(s.unused(), ["bogus.c", "bogus.x"]);
    }

    #[test]
    fn keys_read_through_the_copy_are_not_reported() {
        let s = settings(&[]);
        let props = s.with_flag_props("--producer-property", &["x.read=7".to_owned()]).unwrap();
        let _ = props.get("x.read");
        s.mark_used(&props);
        assert!(s.unused().is_empty(), "{:?}", s.unused());
        let err = s.with_flag_props("--producer-property", &["novalue".to_owned()]).unwrap_err();
        assert!(format!("{err:#}").starts_with("--producer-property"), "{err:#}");
    }

    #[test]
    fn keys_other_commands_read_stay_quiet() {
        // A shared file with producer, consumer and group settings, read by a
        // command that applies none of them: only the unknown key is reported.
        let s = settings(&[
            "acks=all",
            "linger.ms=5",
            "max.poll.records=10",
            "session.timeout.ms=10000",
            "fetch.max.wait.ms=100",
            "value.deserializer=org.apache.kafka.common.serialization.StringDeserializer",
            "group.id=g",
            "bogus.key=1",
        ]);
        assert_eq!(s.unused(), ["bogus.key"]);
    }
}
