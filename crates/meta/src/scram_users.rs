//! SCRAM users (KIP-554): list, describe, create or replace, and delete the
//! SCRAM credentials brokers authenticate SASL/SCRAM clients against. The
//! password is salted and hashed here; it never goes on the wire.

use kwire_conn::sasl::{ScramHash, scram_math};
use kwire_proto::ErrorCode;
use kwire_proto::api::ApiKey;
use kwire_proto::msg::scram::{
    ScramUpsert, alter_user_scram_credentials_request, describe_user_scram_credentials_request,
};

use crate::{Cluster, MetaError};

/// Kafka's lowest allowed iteration count (for both mechanisms).
pub const MIN_ITERATIONS: i32 = 4096;
/// Kafka's highest allowed iteration count.
pub const MAX_ITERATIONS: i32 = 16384;

/// A SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScramMechanism {
    /// SCRAM-SHA-256 (wire code 1).
    Sha256 = 1,
    /// SCRAM-SHA-512 (wire code 2).
    Sha512 = 2,
}

impl ScramMechanism {
    /// `SCRAM-SHA-256` / `SCRAM-SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// From the name (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "SCRAM-SHA-256" => Some(ScramMechanism::Sha256),
            "SCRAM-SHA-512" => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    fn from_code(c: i8) -> Option<Self> {
        match c {
            1 => Some(ScramMechanism::Sha256),
            2 => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    fn hash(self) -> ScramHash {
        match self {
            ScramMechanism::Sha256 => ScramHash::Sha256,
            ScramMechanism::Sha512 => ScramHash::Sha512,
        }
    }
}

/// One user's SCRAM credentials: `(mechanism, iterations)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramUser {
    /// User name.
    pub user: String,
    /// Mechanisms it can log in with, and their iteration counts.
    pub credentials: Vec<(ScramMechanism, i32)>,
}

/// A change to one user's credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum ScramChange {
    /// Create or replace `mechanism`'s credential with `password`.
    Upsert {
        /// User.
        user: String,
        /// Mechanism.
        mechanism: ScramMechanism,
        /// PBKDF2 iterations (≥ [`MIN_ITERATIONS`]).
        iterations: i32,
        /// The password (hashed before it is sent).
        password: String,
    },
    /// Delete `mechanism`'s credential.
    Delete {
        /// User.
        user: String,
        /// Mechanism.
        mechanism: ScramMechanism,
    },
}

impl std::fmt::Debug for ScramChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScramChange::Upsert { user, mechanism, iterations, .. } => f
                .debug_struct("Upsert")
                .field("user", user)
                .field("mechanism", mechanism)
                .field("iterations", iterations)
                .finish_non_exhaustive(),
            ScramChange::Delete { user, mechanism } => {
                f.debug_struct("Delete").field("user", user).field("mechanism", mechanism).finish()
            }
        }
    }
}

/// Checks an iteration count against Kafka's bounds.
pub fn validate_iterations(iterations: i32) -> Result<(), MetaError> {
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        return Err(MetaError::Invalid(format!(
            "SCRAM iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}, not {iterations}"
        )));
    }
    Ok(())
}

impl Cluster {
    /// SCRAM credentials of `users` (`None`: every user that has any). A
    /// named user without credentials is an error (RESOURCE_NOT_FOUND).
    pub async fn describe_scram_users(&self, users: Option<&[String]>) -> Result<Vec<ScramUser>, MetaError> {
        let conn = self.any_broker().await?;
        conn.version(ApiKey::DescribeUserScramCredentials)?;
        let resp = conn.send(&describe_user_scram_credentials_request(users)).await?;
        if resp.error_code.is_err() {
            return Err(MetaError::Broker {
                context: "cannot describe SCRAM users".to_owned(),
                code: resp.error_code,
                message: resp.error_message,
            });
        }
        let mut out = Vec::new();
        for r in resp.results {
            if r.error_code.is_err() {
                return Err(MetaError::Broker {
                    context: format!("cannot describe SCRAM user '{}'", r.user),
                    code: r.error_code,
                    message: r.error_message,
                });
            }
            let mut credentials: Vec<(ScramMechanism, i32)> = r
                .credentials
                .iter()
                .filter_map(|&(m, i)| ScramMechanism::from_code(m).map(|m| (m, i)))
                .collect();
            // The broker's order varies between calls: SHA-256 before SHA-512.
            credentials.sort();
            out.push(ScramUser { user: r.user, credentials });
        }
        out.sort_by(|a, b| a.user.cmp(&b.user));
        Ok(out)
    }

    /// Applies `changes` in one request. Iteration counts are checked here
    /// first, so a bad one applies nothing.
    pub async fn alter_scram_users(&self, changes: &[ScramChange]) -> Result<(), MetaError> {
        let mut deletions = Vec::new();
        let mut upsertions = Vec::new();
        for c in changes {
            match c {
                ScramChange::Delete { user, mechanism } => deletions.push((user.clone(), *mechanism as i8)),
                ScramChange::Upsert { user, mechanism, iterations, password } => {
                    validate_iterations(*iterations)?;
                    if user.is_empty() {
                        return Err(MetaError::Invalid("SCRAM user name is empty".to_owned()));
                    }
                    let salt = scram_math::random_salt();
                    let salted_password = scram_math::salted_password(
                        mechanism.hash(),
                        password.as_bytes(),
                        &salt,
                        u32::try_from(*iterations).unwrap_or(0),
                    );
                    upsertions.push(ScramUpsert {
                        user: user.clone(),
                        mechanism: *mechanism as i8,
                        iterations: *iterations,
                        salt,
                        salted_password,
                    });
                }
            }
        }
        let conn = self.any_broker().await?;
        conn.version(ApiKey::AlterUserScramCredentials)?;
        let resp = conn.send(&alter_user_scram_credentials_request(&deletions, &upsertions)).await?;
        if let Some(r) = resp.results.into_iter().find(|r| r.error_code.is_err()) {
            // 91 RESOURCE_NOT_FOUND: deleting a credential the user lacks.
            let context = if r.error_code == ErrorCode(91) {
                format!("SCRAM user '{}' has no such credential", r.user)
            } else {
                format!("cannot change SCRAM user '{}'", r.user)
            };
            return Err(MetaError::Broker { context, code: r.error_code, message: r.error_message });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanisms_and_iterations() {
        assert_eq!(ScramMechanism::parse("scram-sha-256"), Some(ScramMechanism::Sha256));
        assert_eq!(ScramMechanism::parse("SCRAM-SHA-512").map(ScramMechanism::name), Some("SCRAM-SHA-512"));
        assert_eq!(ScramMechanism::parse("PLAIN"), None);
        assert!(validate_iterations(4096).is_ok());
        let e = validate_iterations(4095).unwrap_err().to_string();
        assert!(e.contains("4096") && e.contains("4095"), "{e}");
        assert!(validate_iterations(16385).is_err());
    }

    #[test]
    fn debug_hides_password() {
        let c = ScramChange::Upsert {
            user: "bob".into(),
            mechanism: ScramMechanism::Sha256,
            iterations: 4096,
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
