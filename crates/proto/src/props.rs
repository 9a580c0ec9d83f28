//! Java-style `.properties` parsing and typed access to Kafka client settings.
//!
//! kwire takes configuration under Kafka's own property names (`acks`,
//! `linger.ms`, `client.id`, …), from `--command-config FILE`, `-X key=value`
//! or library code. Each layer reads the keys it knows from one [`Properties`];
//! keys nobody read can be reported afterwards.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// An error in a properties file or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PropsError {
    /// A `-X` argument without `=`.
    #[error("expected key=value, got '{0}'")]
    NotKeyValue(String),
    /// A value that doesn't parse for its key.
    #[error("invalid value '{value}' for {key}: {expected}")]
    InvalidValue {
        /// Property name.
        key: String,
        /// Value given.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// A bad escape or similar syntax error in a file.
    #[error("line {line}: {reason}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Settings that parse one by one but don't work together (e.g.
    /// `enable.idempotence=true` with `acks=1`), or a typed setting out of
    /// range; the message names the settings.
    #[error("{0}")]
    Invalid(String),
}

/// Ordered key/value settings with tracking of which keys were used.
///
/// `Debug` prints keys only for settings that may hold secrets (passwords,
/// JAAS lines, tokens, private keys), so logging a configuration never leaks one.
#[derive(Clone, Default)]
pub struct Properties {
    map: BTreeMap<String, String>,
    used: RefCell<BTreeSet<String>>,
}

/// Whether a setting's value may be a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "jaas", "token", "key.pem", "ssl.key", "keystore.key", "credential"]
        .iter()
        .any(|s| k.contains(s))
}

impl std::fmt::Debug for Properties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.map {
            if is_secret_key(k) {
                m.entry(k, &"<redacted>");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

impl Properties {
    /// Empty properties.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the text of a Java `.properties` file: `key=value`, `key: value`
    /// or `key value`; `#`/`!` comments; `\` line continuations; `\t \n \r \f
    /// \uXXXX` escapes. Later keys override earlier ones.
    pub fn parse(text: &str) -> Result<Self, PropsError> {
        let mut props = Properties::new();
        let mut logical = String::new();
        let mut start_line = 0;
        let mut continuing = false;
        for (i, raw) in text.lines().enumerate() {
            let line = if continuing { raw.trim_start() } else { raw };
            if !continuing {
                let t = line.trim_start();
                if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
                    continue;
                }
                start_line = i + 1;
                logical.clear();
            }
            // An odd number of trailing backslashes continues the line.
            let trailing = line.chars().rev().take_while(|&c| c == '\\').count();
            if trailing % 2 == 1 {
                logical.push_str(&line[..line.len() - 1]);
                continuing = true;
                continue;
            }
            logical.push_str(line);
            continuing = false;
            let (k, v) = split_entry(logical.trim_start(), start_line)?;
            props.map.insert(k, v);
        }
        if continuing {
            let (k, v) = split_entry(logical.trim_start(), start_line)?;
            props.map.insert(k, v);
        }
        Ok(props)
    }

    /// Parses one `key=value` (the `-X` form). The value may be empty.
    pub fn parse_kv(arg: &str) -> Result<(String, String), PropsError> {
        match arg.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
            _ => Err(PropsError::NotKeyValue(arg.to_owned())),
        }
    }

    /// Sets `key` (overriding any earlier value).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.map.insert(key.into(), value.into());
    }

    /// Adds every entry of `other`, overriding.
    pub fn extend(&mut self, other: &Properties) {
        for (k, v) in &other.map {
            self.map.insert(k.clone(), v.clone());
        }
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The raw value of `key`, marking it used.
    pub fn get(&self, key: &str) -> Option<&str> {
        let v = self.map.get(key)?;
        self.used.borrow_mut().insert(key.to_owned());
        Some(v.as_str())
    }

    /// Parses `key` with `parse`, which says what it expected on failure.
    pub fn get_with<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, PropsError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse(v.trim()).map(Some).map_err(|expected| PropsError::InvalidValue {
                key: key.to_owned(),
                value: v.to_owned(),
                expected,
            }),
        }
    }

    /// An integer setting.
    pub fn get_i64(&self, key: &str) -> Result<Option<i64>, PropsError> {
        self.get_with(key, |v| v.parse::<i64>().map_err(|_| "expected an integer".to_owned()))
    }

    /// A non-negative integer setting that must fit `T`.
    pub fn get_uint<T: TryFrom<i64>>(&self, key: &str) -> Result<Option<T>, PropsError> {
        self.get_with(key, |v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .and_then(|n| T::try_from(n).ok())
                .ok_or_else(|| "expected a non-negative integer in range".to_owned())
        })
    }

    /// A boolean setting (`true`/`false`, case-insensitive).
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>, PropsError> {
        self.get_with(key, |v| match v.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("expected true or false".to_owned()),
        })
    }

    /// A duration given in milliseconds (Kafka's `*.ms` settings).
    pub fn get_ms(&self, key: &str) -> Result<Option<Duration>, PropsError> {
        self.get_with(key, |v| {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| "expected a non-negative number of milliseconds".to_owned())
        })
    }

    /// Keys that were set but never read by anyone.
    pub fn unused(&self) -> Vec<String> {
        let used = self.used.borrow();
        self.map.keys().filter(|k| !used.contains(*k)).cloned().collect()
    }

    /// Keys that have been read.
    pub fn used_keys(&self) -> Vec<String> {
        self.used.borrow().iter().cloned().collect()
    }

    /// All entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn split_entry(entry: &str, line: usize) -> Result<(String, String), PropsError> {
    // The key ends at the first unescaped '=', ':' or whitespace.
    let mut key_end = entry.len();
    let mut escaped = false;
    for (i, c) in entry.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' | ' ' | '\t' | '\x0c' => {
                key_end = i;
                break;
            }
            _ => {}
        }
    }
    let key = unescape(&entry[..key_end], line)?;
    let mut rest = entry[key_end..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    Ok((key, unescape(rest, line)?))
}

fn unescape(s: &str, line: usize) -> Result<String, PropsError> {
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
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let ch = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32)
                    .ok_or_else(|| PropsError::Syntax {
                        line,
                        reason: format!("invalid \\u escape '\\u{hex}'"),
                    })?;
                out.push(ch);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn java_properties_syntax() {
        let p = Properties::parse(
            "# comment\n! also\n  acks = all\nlinger.ms:5\nclient.id kwire-test\nsasl.jaas.config=org.Foo required \\\n    username=\"a\";\nempty=\nunicode=\\u00e9t\\u00e9\nkey\\=with\\:seps=v\n",
        )
        .unwrap();
        assert_eq!(p.get("acks"), Some("all"));
        assert_eq!(p.get("linger.ms"), Some("5"));
        assert_eq!(p.get("client.id"), Some("kwire-test"));
        assert_eq!(p.get("sasl.jaas.config"), Some("org.Foo required username=\"a\";"));
        assert_eq!(p.get("empty"), Some(""));
        assert_eq!(p.get("unicode"), Some("été"));
        assert_eq!(p.get("key=with:seps"), Some("v"));
        assert!(p.unused().is_empty());
    }

    #[test]
    fn typed_values_and_unused_keys() {
        let mut p = Properties::new();
        p.set("linger.ms", "20");
        p.set("enable.idempotence", "TRUE");
        p.set("batch.size", "-1");
        p.set("typo.key", "x");
        assert_eq!(p.get_ms("linger.ms").unwrap(), Some(Duration::from_millis(20)));
        assert_eq!(p.get_bool("enable.idempotence").unwrap(), Some(true));
        let err = p.get_uint::<u32>("batch.size").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value '-1' for batch.size: expected a non-negative integer in range"
        );
        assert_eq!(p.unused(), vec!["typo.key".to_owned()]);
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut p = Properties::new();
        p.set("sasl.password", "hunter2");
        p.set("sasl.jaas.config", "x required password=\"hunter2\";");
        p.set("ssl.key.pem", "-----BEGIN PRIVATE KEY-----");
        p.set("acks", "all");
        let d = format!("{p:?}");
        assert!(!d.contains("hunter2") && !d.contains("PRIVATE"), "{d}");
        assert!(d.contains("\"acks\": \"all\""), "{d}");
    }

    #[test]
    fn kv_args() {
        assert_eq!(Properties::parse_kv("a.b=c=d").unwrap(), ("a.b".into(), "c=d".into()));
        assert!(Properties::parse_kv("novalue").is_err());
        assert!(Properties::parse_kv("=x").is_err());
        assert!(Properties::parse("x=\\u12").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,200}") {
            let _ = Properties::parse(&text);
        }

        #[test]
        fn simple_pairs_roundtrip(k in "[a-z][a-z.]{0,15}", v in "[a-zA-Z0-9_.,-]{0,20}") {
            let p = Properties::parse(&format!("{k}={v}\n")).unwrap();
            prop_assert_eq!(p.get(&k), Some(v.as_str()));
        }
    }
}
