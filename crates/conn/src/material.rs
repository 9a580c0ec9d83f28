//! Key material shared by the security settings and TLS: secrets that never
//! print, the files they are read from, and the error a bad one gives.
//! (Its own module so that `security` and `tls` both use it without
//! importing each other.)

use std::path::Path;

/// A secret string (password, token, private key). `Debug` and `Display`
/// print `<redacted>`; [`Secret::expose`] is the only way to the text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret text, for the code that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A problem in the security settings. Messages name the property and never
/// contain a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    /// A value that doesn't parse (never used for secret properties).
    #[error("invalid value '{value}' for {key}: {expected}")]
    InvalidValue {
        /// Property name.
        key: String,
        /// Value given.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// A required setting is missing.
    #[error("{0}")]
    Missing(String),
    /// `sasl.jaas.config` could not be understood.
    #[error("sasl.jaas.config: {0}")]
    Jaas(String),
    /// A certificate or key file could not be read or parsed.
    #[error("{key}: {reason}")]
    Pem {
        /// Property name.
        key: String,
        /// What went wrong (with the path).
        reason: String,
    },
    /// The TLS settings are inconsistent (e.g. a key that doesn't match the certificate).
    #[error("TLS settings: {0}")]
    Tls(String),
    /// Something kwire doesn't support.
    #[error("{0}")]
    Unsupported(String),
}

/// Reads a whole file for `key`, naming both in the error.
pub(crate) fn read_file(key: &str, path: &Path) -> Result<Vec<u8>, SecurityError> {
    std::fs::read(path).map_err(|e| SecurityError::Pem {
        key: key.into(),
        reason: format!("cannot read {}: {e}", path.display()),
    })
}
