//! Security settings (TLS and SASL) under Kafka's property names.
//!
//! [`SecurityConfig::from_props`] reads `security.protocol`, `sasl.*` and
//! `ssl.*` from a [`Properties`] (what `--command-config FILE` and `-X` fill),
//! loads certificate files once, and reports every problem with the property
//! name it came from. Secrets ([`Secret`]) never appear in `Debug` output,
//! error messages or logs.
//!
//! ```
//! use kwire_conn::{SecurityConfig, SecurityProtocol};
//! use kwire_proto::props::Properties;
//!
//! let props = Properties::parse(
//!     "security.protocol=SASL_PLAINTEXT\n\
//!      sasl.mechanism=SCRAM-SHA-256\n\
//!      sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
//!          username=\"alice\" password=\"alice-secret\";\n",
//! )?;
//! let sec = SecurityConfig::from_props(&props)?;
//! assert_eq!(sec.protocol, SecurityProtocol::SaslPlaintext);
//! assert!(!format!("{sec:?}").contains("alice-secret"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use kwire_proto::props::Properties;

pub use crate::material::{Secret, SecurityError};
use crate::tls::{Ca, ClientIdentity, PemSource, TlsConfig, TlsOptions};

/// Environment variable holding the SASL password when the config has none.
pub const ENV_SASL_PASSWORD: &str = "KWIRE_SASL_PASSWORD";
/// Environment variable holding the SASL username when the config has none.
pub const ENV_SASL_USERNAME: &str = "KWIRE_SASL_USERNAME";
/// Environment variable holding the OAUTHBEARER token when the config has none.
pub const ENV_OAUTHBEARER_TOKEN: &str = "KWIRE_SASL_OAUTHBEARER_TOKEN";

/// Property names whose values are secrets. A caller that takes properties
/// from the command line should warn when one of these is given there.
pub const SECRET_PROPERTIES: &[&str] = &[
    "sasl.password",
    "sasl.jaas.config",
    "sasl.oauthbearer.token",
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.truststore.password",
    "ssl.keystore.key",
    "ssl.key.pem",
];

/// `security.protocol`: how bytes travel and whether SASL runs on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// Plain TCP, no authentication.
    #[default]
    Plaintext,
    /// TLS (optionally with a client certificate), no SASL.
    Ssl,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name (`SASL_SSL`, …).
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Parses Kafka's name, case-insensitively.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => SecurityProtocol::Plaintext,
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            _ => return None,
        })
    }

    /// Whether the connection is wrapped in TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether SASL authentication runs after ApiVersions.
    pub fn uses_sasl(self) -> bool {
        matches!(self, SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl)
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// RFC 4616: username and password in the clear (use with TLS).
    Plain,
    /// RFC 5802/7677 with SHA-256.
    ScramSha256,
    /// RFC 5802 with SHA-512.
    ScramSha512,
    /// RFC 7628 with a static bearer token.
    OAuthBearer,
}

impl SaslMechanism {
    /// Kafka's name (`SCRAM-SHA-256`, …).
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// Parses Kafka's name, case-insensitively.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => SaslMechanism::Plain,
            "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
            "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
            "OAUTHBEARER" => SaslMechanism::OAuthBearer,
            _ => return None,
        })
    }

    /// Whether the mechanism sends a reusable secret readable on the wire
    /// (PLAIN's password, OAUTHBEARER's token): such a mechanism over a
    /// non-TLS connection deserves a loud warning.
    pub fn exposes_secret(self) -> bool {
        matches!(self, SaslMechanism::Plain | SaslMechanism::OAuthBearer)
    }
}

/// What SASL authenticates with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslCredentials {
    /// PLAIN and SCRAM.
    Password {
        /// The user.
        username: String,
        /// The password.
        password: Secret,
    },
    /// OAUTHBEARER.
    Token {
        /// The bearer token (a JWT, usually).
        token: Secret,
        /// SASL extensions sent with the token (`key=value`).
        extensions: BTreeMap<String, String>,
    },
}

/// SASL settings: the mechanism and its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslConfig {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// The credentials.
    pub credentials: SaslCredentials,
}

impl SaslConfig {
    /// PLAIN with `username` and `password`.
    pub fn plain(username: impl Into<String>, password: Secret) -> Self {
        SaslConfig {
            mechanism: SaslMechanism::Plain,
            credentials: SaslCredentials::Password { username: username.into(), password },
        }
    }

    /// SCRAM (`mechanism` is [`SaslMechanism::ScramSha256`] or
    /// [`SaslMechanism::ScramSha512`]) with `username` and `password`.
    pub fn scram(mechanism: SaslMechanism, username: impl Into<String>, password: Secret) -> Self {
        SaslConfig {
            mechanism,
            credentials: SaslCredentials::Password { username: username.into(), password },
        }
    }

    /// OAUTHBEARER with a static `token`.
    pub fn oauthbearer(token: Secret) -> Self {
        SaslConfig {
            mechanism: SaslMechanism::OAuthBearer,
            credentials: SaslCredentials::Token { token, extensions: BTreeMap::new() },
        }
    }

    /// The user name, if the credentials have one (for messages; not secret).
    pub fn username(&self) -> Option<&str> {
        match &self.credentials {
            SaslCredentials::Password { username, .. } => Some(username),
            SaslCredentials::Token { .. } => None,
        }
    }
}

/// Transport security and authentication for every connection of a client.
#[derive(Clone, Default)]
pub struct SecurityConfig {
    /// `security.protocol`.
    pub protocol: SecurityProtocol,
    /// TLS settings; `Some` exactly when `protocol` uses TLS.
    pub tls: Option<TlsConfig>,
    /// SASL settings; `Some` exactly when `protocol` uses SASL.
    pub sasl: Option<SaslConfig>,
}

impl std::fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("SecurityConfig");
        d.field("protocol", &self.protocol);
        if let Some(t) = &self.tls {
            d.field("tls", t);
        }
        if let Some(s) = &self.sasl {
            d.field("sasl_mechanism", &s.mechanism);
            if let Some(u) = s.username() {
                d.field("sasl_username", &u);
            }
        }
        d.finish()
    }
}

impl SecurityConfig {
    /// Plain TCP, no authentication (the default).
    pub fn plaintext() -> Self {
        SecurityConfig::default()
    }

    /// Reads the security settings from `props`, taking passwords missing
    /// there from the environment ([`ENV_SASL_PASSWORD`], [`ENV_SASL_USERNAME`],
    /// [`ENV_OAUTHBEARER_TOKEN`]). Certificate files are read now.
    pub fn from_props(props: &Properties) -> Result<Self, SecurityError> {
        Self::from_props_env(props, |k| std::env::var(k).ok())
    }

    /// Like [`from_props`](Self::from_props) with an explicit environment lookup.
    pub fn from_props_env(
        props: &Properties,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SecurityError> {
        let protocol = match props.get("security.protocol") {
            None => SecurityProtocol::Plaintext,
            Some(v) => SecurityProtocol::from_name(v).ok_or_else(|| SecurityError::InvalidValue {
                key: "security.protocol".into(),
                value: v.into(),
                expected: "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL".into(),
            })?,
        };
        let tls = if protocol.uses_tls() { Some(tls_from_props(props)?) } else { None };
        let sasl = if protocol.uses_sasl() { Some(sasl_from_props(props, &env)?) } else { None };
        Ok(SecurityConfig { protocol, tls, sasl })
    }
}

fn non_empty<'a>(props: &'a Properties, key: &str) -> Option<&'a str> {
    props.get(key).map(str::trim).filter(|v| !v.is_empty())
}

fn tls_from_props(props: &Properties) -> Result<TlsConfig, SecurityError> {
    // Trust: librdkafka's ssl.ca.location / ssl.ca.pem, or Java's PEM truststore.
    let ts_type = non_empty(props, "ssl.truststore.type").map(str::to_ascii_uppercase);
    let ca = if let Some(p) = non_empty(props, "ssl.ca.location") {
        Ca::PemFile { key: "ssl.ca.location".into(), path: PathBuf::from(p) }
    } else if let Some(pem) = non_empty(props, "ssl.ca.pem") {
        Ca::Pem { key: "ssl.ca.pem".into(), pem: pem.to_owned() }
    } else if let Some(pem) = non_empty(props, "ssl.truststore.certificates") {
        check_store_type("ssl.truststore.type", ts_type.as_deref())?;
        Ca::Pem { key: "ssl.truststore.certificates".into(), pem: pem.to_owned() }
    } else if let Some(p) = non_empty(props, "ssl.truststore.location") {
        check_store_type("ssl.truststore.type", ts_type.as_deref())?;
        Ca::PemFile { key: "ssl.truststore.location".into(), path: PathBuf::from(p) }
    } else {
        Ca::System
    };

    // Hostname verification: on unless ssl.endpoint.identification.algorithm is empty
    // (Java) or `none` (librdkafka). Chain validation is never turned off.
    let verify_hostname = match props.get("ssl.endpoint.identification.algorithm").map(str::trim) {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("https") => true,
        Some(v) if v.is_empty() || v.eq_ignore_ascii_case("none") => false,
        Some(v) => {
            return Err(SecurityError::InvalidValue {
                key: "ssl.endpoint.identification.algorithm".into(),
                value: v.into(),
                expected: "https (the default) or empty/none to skip only the host name check".into(),
            });
        }
    };

    if non_empty(props, "ssl.key.password").is_some() {
        return Err(SecurityError::Unsupported(
            "ssl.key.password: encrypted private keys are not supported; give an unencrypted PKCS#8 \
             key file readable only by you (openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pem)"
                .into(),
        ));
    }

    // Client certificate: librdkafka's pair of files / PEM strings, or Java's PEM keystore.
    let ks_type = non_empty(props, "ssl.keystore.type").map(str::to_ascii_uppercase);
    let cert = non_empty(props, "ssl.certificate.location")
        .map(|p| PemSource::File { key: "ssl.certificate.location".into(), path: PathBuf::from(p) })
        .or_else(|| {
            non_empty(props, "ssl.certificate.pem")
                .map(|p| PemSource::Inline { key: "ssl.certificate.pem".into(), pem: Secret::new(p) })
        });
    let key = non_empty(props, "ssl.key.location")
        .map(|p| PemSource::File { key: "ssl.key.location".into(), path: PathBuf::from(p) })
        .or_else(|| {
            non_empty(props, "ssl.key.pem")
                .map(|p| PemSource::Inline { key: "ssl.key.pem".into(), pem: Secret::new(p) })
        });
    let client = match (cert, key) {
        (Some(cert), Some(key)) => Some(ClientIdentity { cert, key }),
        (Some(_), None) => {
            return Err(SecurityError::Missing(
                "ssl.certificate.location is set but ssl.key.location is not (both are needed for a client certificate)"
                    .into(),
            ));
        }
        (None, Some(_)) => {
            return Err(SecurityError::Missing(
                "ssl.key.location is set but ssl.certificate.location is not (both are needed for a client certificate)"
                    .into(),
            ));
        }
        (None, None) => {
            if let Some(p) = non_empty(props, "ssl.keystore.location") {
                check_store_type("ssl.keystore.type", ks_type.as_deref())?;
                let path = PathBuf::from(p);
                Some(ClientIdentity {
                    cert: PemSource::File { key: "ssl.keystore.location".into(), path: path.clone() },
                    key: PemSource::File { key: "ssl.keystore.location".into(), path },
                })
            } else if let (Some(chain), Some(k)) =
                (non_empty(props, "ssl.keystore.certificate.chain"), non_empty(props, "ssl.keystore.key"))
            {
                check_store_type("ssl.keystore.type", ks_type.as_deref())?;
                Some(ClientIdentity {
                    cert: PemSource::Inline {
                        key: "ssl.keystore.certificate.chain".into(),
                        pem: Secret::new(chain),
                    },
                    key: PemSource::Inline { key: "ssl.keystore.key".into(), pem: Secret::new(k) },
                })
            } else {
                None
            }
        }
    };
    TlsConfig::new(TlsOptions { ca, client, verify_hostname })
}

/// Only PEM stores are supported (JKS/PKCS12 would need a Java keystore parser).
fn check_store_type(key: &str, ty: Option<&str>) -> Result<(), SecurityError> {
    match ty {
        Some("PEM") => Ok(()),
        None => Err(SecurityError::Missing(format!(
            "{key} must be PEM: kwire reads PEM files only (Java's default is JKS; convert a JKS or PKCS12 \
             store with keytool -exportcert -rfc / openssl pkcs12 -nodes, then set {key}=PEM)"
        ))),
        Some(other) => Err(SecurityError::Unsupported(format!(
            "{key}={other} is not supported: kwire reads PEM files only (convert with keytool -exportcert -rfc \
             or openssl pkcs12 -nodes, then set {key}=PEM)"
        ))),
    }
}

fn sasl_from_props(
    props: &Properties,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<SaslConfig, SecurityError> {
    let jaas = match props.get("sasl.jaas.config") {
        Some(text) if !text.trim().is_empty() => Some(parse_jaas(text)?),
        _ => None,
    };
    let from_module = jaas.as_ref().map(|j| j.mechanism_hint());
    let named = match non_empty(props, "sasl.mechanism").or_else(|| non_empty(props, "sasl.mechanisms")) {
        Some(v) => Some(SaslMechanism::from_name(v).ok_or_else(|| SecurityError::InvalidValue {
            key: "sasl.mechanism".into(),
            value: v.into(),
            expected: "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (GSSAPI is not supported)".into(),
        })?),
        None => None,
    };
    let mechanism = match (named, from_module) {
        (Some(m), None) => m,
        (Some(m), Some(Ok(hint))) => {
            if !hint.fits(m) {
                return Err(SecurityError::Jaas(format!(
                    "the login module ({}) does not fit sasl.mechanism={}",
                    hint.module_name(),
                    m.name()
                )));
            }
            m
        }
        (None, Some(Ok(MechHint::Plain))) => SaslMechanism::Plain,
        (None, Some(Ok(MechHint::OAuthBearer))) => SaslMechanism::OAuthBearer,
        (None, Some(Ok(MechHint::Scram))) => {
            return Err(SecurityError::Missing(
                "sasl.mechanism must be set to SCRAM-SHA-256 or SCRAM-SHA-512 with the ScramLoginModule"
                    .into(),
            ));
        }
        (_, Some(Err(e))) => return Err(e),
        (None, None) => {
            return Err(SecurityError::Missing(format!(
                "security.protocol={} needs sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)",
                props.get("security.protocol").unwrap_or_default().trim()
            )));
        }
    };
    let opt = |name: &str| jaas.as_ref().and_then(|j| j.options.get(name).cloned());
    if mechanism == SaslMechanism::OAuthBearer {
        let token = non_empty(props, "sasl.oauthbearer.token")
            .map(str::to_owned)
            .or_else(|| env(ENV_OAUTHBEARER_TOKEN).filter(|t| !t.is_empty()))
            .ok_or_else(|| {
                SecurityError::Missing(format!(
                    "sasl.mechanism=OAUTHBEARER needs a token: set sasl.oauthbearer.token in the \
                     --command-config file or the {ENV_OAUTHBEARER_TOKEN} environment variable"
                ))
            })?;
        let mut extensions = BTreeMap::new();
        if let Some(j) = &jaas {
            for (k, v) in &j.options {
                if let Some(name) = k.strip_prefix("unsecuredLoginExtension_") {
                    extensions.insert(name.to_owned(), v.clone());
                }
            }
        }
        if let Some(ext) = non_empty(props, "sasl.oauthbearer.extensions") {
            for kv in ext.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (k, v) = kv.split_once('=').ok_or_else(|| SecurityError::InvalidValue {
                    key: "sasl.oauthbearer.extensions".into(),
                    value: kv.into(),
                    expected: "key=value[,key=value...]".into(),
                })?;
                extensions.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
        for k in extensions.keys() {
            if k == "auth" || k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(SecurityError::InvalidValue {
                    key: "sasl.oauthbearer.extensions".into(),
                    value: k.clone(),
                    expected: "extension names of letters only, not 'auth' (RFC 7628)".into(),
                });
            }
        }
        return Ok(SaslConfig {
            mechanism,
            credentials: SaslCredentials::Token { token: Secret::new(token), extensions },
        });
    }
    let username = non_empty(props, "sasl.username")
        .map(str::to_owned)
        .or_else(|| opt("username"))
        .or_else(|| env(ENV_SASL_USERNAME))
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            SecurityError::Missing(format!(
                "sasl.mechanism={} needs a user name: set sasl.username or sasl.jaas.config (username=\"...\") \
                 in the --command-config file, or the {ENV_SASL_USERNAME} environment variable",
                mechanism.name()
            ))
        })?;
    // Present but empty counts as given: a deliberately empty password is the user's call.
    let password = props
        .get("sasl.password")
        .map(str::to_owned)
        .or_else(|| opt("password"))
        .or_else(|| env(ENV_SASL_PASSWORD))
        .ok_or_else(|| {
            SecurityError::Missing(format!(
                "sasl.mechanism={} needs a password: set sasl.password or sasl.jaas.config (password=\"...\") \
                 in the --command-config file, or the {ENV_SASL_PASSWORD} environment variable",
                mechanism.name()
            ))
        })?;
    Ok(SaslConfig {
        mechanism,
        credentials: SaslCredentials::Password { username, password: Secret::new(password) },
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MechHint {
    Plain,
    Scram,
    OAuthBearer,
}

impl MechHint {
    fn fits(self, m: SaslMechanism) -> bool {
        match self {
            MechHint::Plain => m == SaslMechanism::Plain,
            MechHint::Scram => matches!(m, SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512),
            MechHint::OAuthBearer => m == SaslMechanism::OAuthBearer,
        }
    }

    fn module_name(self) -> &'static str {
        match self {
            MechHint::Plain => "PlainLoginModule",
            MechHint::Scram => "ScramLoginModule",
            MechHint::OAuthBearer => "OAuthBearerLoginModule",
        }
    }
}

/// One JAAS login module entry: `Class flag key="value" ...;`.
#[derive(Clone)]
pub(crate) struct JaasEntry {
    pub(crate) module: String,
    pub(crate) options: BTreeMap<String, String>,
}

impl std::fmt::Debug for JaasEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JaasEntry")
            .field("module", &self.module)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl JaasEntry {
    fn mechanism_hint(&self) -> Result<MechHint, SecurityError> {
        let class = self.module.rsplit('.').next().unwrap_or_default();
        match class {
            "PlainLoginModule" => Ok(MechHint::Plain),
            "ScramLoginModule" => Ok(MechHint::Scram),
            "OAuthBearerLoginModule" => Ok(MechHint::OAuthBearer),
            _ => Err(SecurityError::Jaas(format!(
                "login module {} is not supported (PlainLoginModule, ScramLoginModule or OAuthBearerLoginModule)",
                self.module
            ))),
        }
    }
}

/// Parses Kafka's `sasl.jaas.config`: exactly one login module, a control
/// flag, then `key=value` options (values bare or in double/single quotes with
/// backslash escapes), ended by `;`. Error messages never quote option values.
pub(crate) fn parse_jaas(text: &str) -> Result<JaasEntry, SecurityError> {
    let mut p = JaasParser { s: text.as_bytes(), i: 0 };
    let module = p.word().ok_or_else(|| SecurityError::Jaas("expected a login module class name".into()))?;
    let flag = p
        .word()
        .ok_or_else(|| SecurityError::Jaas(format!("expected a control flag (required) after {module}")))?;
    if !["required", "requisite", "sufficient", "optional"].contains(&flag.to_ascii_lowercase().as_str()) {
        return Err(SecurityError::Jaas(format!(
            "'{flag}' is not a control flag (required, requisite, sufficient or optional)"
        )));
    }
    let mut options = BTreeMap::new();
    loop {
        p.skip_ws();
        match p.peek() {
            None => break, // a missing final ';' is forgiven
            Some(b';') => {
                p.i += 1;
                p.skip_ws();
                if p.peek().is_some() {
                    return Err(SecurityError::Jaas(
                        "only one login module is allowed (text after the first ';')".into(),
                    ));
                }
                break;
            }
            Some(_) => {}
        }
        let key = p.word().ok_or_else(|| {
            SecurityError::Jaas(format!("expected an option name at character {}", p.i + 1))
        })?;
        p.skip_ws();
        if p.peek() != Some(b'=') {
            return Err(SecurityError::Jaas(format!("expected '=' after option {key}")));
        }
        p.i += 1;
        p.skip_ws();
        let value = match p.peek() {
            Some(q @ (b'"' | b'\'')) => {
                p.i += 1;
                p.quoted(q)
                    .ok_or_else(|| SecurityError::Jaas(format!("unterminated quoted value of {key}")))?
            }
            _ => p.word().ok_or_else(|| SecurityError::Jaas(format!("expected a value for option {key}")))?,
        };
        options.insert(key, value);
    }
    Ok(JaasEntry { module, options })
}

struct JaasParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JaasParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    /// A bare token: anything up to whitespace, '=', ';' or a quote.
    fn word(&mut self) -> Option<String> {
        self.skip_ws();
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| !c.is_ascii_whitespace() && !matches!(c, b'=' | b';' | b'"' | b'\''))
        {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// The rest of a quoted string after its opening quote `q`.
    fn quoted(&mut self, q: u8) -> Option<String> {
        let mut out = Vec::new();
        loop {
            let c = self.peek()?;
            self.i += 1;
            match c {
                c if c == q => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => other,
                    });
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(text: &str) -> Properties {
        Properties::parse(text).unwrap()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn plaintext_by_default_and_reads_no_ssl_keys() {
        let p = props("ssl.ca.location=/nope\n");
        let s = SecurityConfig::from_props_env(&p, no_env).unwrap();
        assert_eq!(s.protocol, SecurityProtocol::Plaintext);
        assert!(s.tls.is_none() && s.sasl.is_none());
        // Not read, so the CLI reports it as unused.
        assert_eq!(p.unused(), vec!["ssl.ca.location".to_owned()]);
    }

    #[test]
    fn jaas_plain_and_scram() {
        let j = parse_jaas(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="a \"q\" b";"#,
        )
        .unwrap();
        assert_eq!(j.module, "org.apache.kafka.common.security.plain.PlainLoginModule");
        assert_eq!(j.options["username"], "alice");
        assert_eq!(j.options["password"], "a \"q\" b");
        let j = parse_jaas("ScramLoginModule required\n  username='bob'\n  password=pw=x;").unwrap_err();
        assert!(matches!(j, SecurityError::Jaas(_)), "bare value stops at '='");
        let j = parse_jaas("ScramLoginModule required username='bob' password=pw tokenauth=true").unwrap();
        assert_eq!(j.options["password"], "pw");
        assert_eq!(j.options["tokenauth"], "true");
    }

    #[test]
    fn jaas_errors_never_quote_values() {
        for bad in [
            r#"PlainLoginModule required username="alice" password="s3cr3t"; PlainLoginModule required;"#,
            r#"PlainLoginModule required password="s3cr3t"#,
            r#"PlainLoginModule maybe password="s3cr3t";"#,
            r#"PlainLoginModule required password "s3cr3t";"#,
        ] {
            let e = parse_jaas(bad).unwrap_err().to_string();
            assert!(!e.contains("s3cr3t"), "{e}");
        }
    }

    #[test]
    fn sasl_from_jaas_file() {
        let p = props(
            "security.protocol=sasl_ssl\nsasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n\
               username=\"alice\" \\\n  password=\"alice-secret\";\n",
        );
        let s = sasl_from_props(&p, &no_env).unwrap();
        assert_eq!(s.mechanism, SaslMechanism::ScramSha512);
        assert_eq!(
            s.credentials,
            SaslCredentials::Password { username: "alice".into(), password: Secret::new("alice-secret") }
        );
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("alice-secret"), "{dbg}");
    }

    #[test]
    fn plain_module_implies_plain_and_mismatch_is_an_error() {
        let p = props(
            "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=p;\n",
        );
        assert_eq!(sasl_from_props(&p, &no_env).unwrap().mechanism, SaslMechanism::Plain);
        let p = props(
            "sasl.mechanism=SCRAM-SHA-256\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=p;\n",
        );
        assert!(matches!(sasl_from_props(&p, &no_env), Err(SecurityError::Jaas(_))));
        let p = props("sasl.mechanism=GSSAPI\n");
        assert!(matches!(sasl_from_props(&p, &no_env), Err(SecurityError::InvalidValue { .. })));
    }

    #[test]
    fn librdkafka_names_and_env_password() {
        let p = props("sasl.mechanisms=PLAIN\nsasl.username=carol\n");
        let e = sasl_from_props(&p, &no_env).unwrap_err().to_string();
        assert!(e.contains("KWIRE_SASL_PASSWORD"), "{e}");
        let env = |k: &str| (k == ENV_SASL_PASSWORD).then(|| "from-env".to_owned());
        let s = sasl_from_props(&p, &env).unwrap();
        assert_eq!(
            s.credentials,
            SaslCredentials::Password { username: "carol".into(), password: Secret::new("from-env") }
        );
        // The file wins over the environment.
        let p = props("sasl.mechanisms=PLAIN\nsasl.username=carol\nsasl.password=from-file\n");
        let s = sasl_from_props(&p, &env).unwrap();
        assert!(
            matches!(s.credentials, SaslCredentials::Password { password, .. } if password.expose() == "from-file")
        );
    }

    #[test]
    fn oauthbearer_token_and_extensions() {
        let p = props(
            "sasl.mechanism=OAUTHBEARER\nsasl.oauthbearer.token=tok\nsasl.oauthbearer.extensions=traceId=1\n",
        );
        let s = sasl_from_props(&p, &no_env).unwrap();
        match s.credentials {
            SaslCredentials::Token { token, extensions } => {
                assert_eq!(token.expose(), "tok");
                assert_eq!(extensions["traceId"], "1");
            }
            other => panic!("{other:?}"),
        }
        let p = props("sasl.mechanism=OAUTHBEARER\n");
        assert!(matches!(sasl_from_props(&p, &no_env), Err(SecurityError::Missing(_))));
    }

    #[test]
    fn sasl_protocol_needs_a_mechanism() {
        let p = props("security.protocol=SASL_PLAINTEXT\nsasl.username=u\nsasl.password=p\n");
        let e = SecurityConfig::from_props_env(&p, no_env).unwrap_err().to_string();
        assert!(e.contains("sasl.mechanism"), "{e}");
        assert!(!e.contains("=p"), "{e}");
    }

    #[test]
    fn bad_protocol_and_endpoint_algorithm() {
        let p = props("security.protocol=TLS\n");
        assert!(SecurityConfig::from_props_env(&p, no_env).unwrap_err().to_string().contains("SASL_SSL"));
        let p = props("security.protocol=SSL\nssl.endpoint.identification.algorithm=ldap\nssl.ca.pem=x\n");
        assert!(matches!(
            SecurityConfig::from_props_env(&p, no_env),
            Err(SecurityError::InvalidValue { .. })
        ));
    }

    #[test]
    fn jks_truststores_are_refused_with_a_hint() {
        let p = props("security.protocol=SSL\nssl.truststore.location=/x.jks\n");
        let e = SecurityConfig::from_props_env(&p, no_env).unwrap_err().to_string();
        assert!(e.contains("PEM"), "{e}");
        let p = props("security.protocol=SSL\nssl.truststore.location=/x.jks\nssl.truststore.type=JKS\n");
        let e = SecurityConfig::from_props_env(&p, no_env).unwrap_err().to_string();
        assert!(e.contains("JKS is not supported"), "{e}");
    }

    #[test]
    fn secret_debug_and_display_are_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        let cfg = SecurityConfig {
            protocol: SecurityProtocol::SaslPlaintext,
            tls: None,
            sasl: Some(SaslConfig::plain("alice", Secret::new("hunter2"))),
        };
        let d = format!("{cfg:?} {cfg:#?}");
        assert!(!d.contains("hunter2") && d.contains("alice"), "{d}");
        let conn = crate::ConnConfig { security: cfg, ..crate::ConnConfig::default() };
        let d = format!("{conn:?} {conn:#?}");
        assert!(!d.contains("hunter2") && d.contains("SaslPlaintext"), "{d}");
    }
}
