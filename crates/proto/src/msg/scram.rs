//! SCRAM credentials (KIP-554): DescribeUserScramCredentials (50),
//! AlterUserScramCredentials (51).

use bytes::Bytes;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::protocol::StrBytes;

pub use kafka_protocol::messages::{AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest};

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

/// One user's credentials from DescribeUserScramCredentials.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserScramCredentials {
    /// User name.
    pub user: String,
    /// Outcome for this user (RESOURCE_NOT_FOUND if it has none).
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// `(mechanism, iterations)`: mechanism 1 SCRAM-SHA-256, 2 SCRAM-SHA-512.
    pub credentials: Vec<(i8, i32)>,
}

/// Decoded DescribeUserScramCredentials response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeUserScramCredentialsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Top-level outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// One per user.
    pub results: Vec<UserScramCredentials>,
}

impl Response for DescribeUserScramCredentialsResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let flex = true;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(flex)?;
        let results = r.array(flex, 6, |r| {
            let user = r.string(flex)?;
            let error_code = ErrorCode(r.i16()?);
            let error_message = r.nullable_string(flex)?;
            let credentials = r.array(flex, 6, |r| {
                let m = r.i8()?;
                let i = r.i32()?;
                r.skip_tagged_fields(flex)?;
                Ok((m, i))
            })?;
            r.skip_tagged_fields(flex)?;
            Ok(UserScramCredentials { user, error_code, error_message, credentials })
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(DescribeUserScramCredentialsResponse { throttle_time_ms, error_code, error_message, results })
    }
}

/// One user's outcome from AlterUserScramCredentials.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlteredScramUser {
    /// User name.
    pub user: String,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
}

/// Decoded AlterUserScramCredentials response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlterUserScramCredentialsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// One per user.
    pub results: Vec<AlteredScramUser>,
}

impl Response for AlterUserScramCredentialsResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let flex = true;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let results = r.array(flex, 5, |r| {
            let user = r.string(flex)?;
            let error_code = ErrorCode(r.i16()?);
            let error_message = r.nullable_string(flex)?;
            r.skip_tagged_fields(flex)?;
            Ok(AlteredScramUser { user, error_code, error_message })
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(AlterUserScramCredentialsResponse { throttle_time_ms, results })
    }
}

fn strb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// A DescribeUserScramCredentials request: `None` for every user.
pub fn describe_user_scram_credentials_request(
    users: Option<&[String]>,
) -> DescribeUserScramCredentialsRequest {
    let mut req = DescribeUserScramCredentialsRequest::default();
    req.users = users.map(|us| {
        us.iter()
            .map(|u| {
                let mut n = UserName::default();
                n.name = strb(u);
                n
            })
            .collect()
    });
    req
}

/// A credential to create or replace (the password already salted and hashed
/// client-side: the password itself never goes on the wire).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramUpsert {
    /// User name.
    pub user: String,
    /// 1 SCRAM-SHA-256, 2 SCRAM-SHA-512.
    pub mechanism: i8,
    /// PBKDF2 iterations.
    pub iterations: i32,
    /// Random salt.
    pub salt: Vec<u8>,
    /// Hi(password, salt, iterations).
    pub salted_password: Vec<u8>,
}

impl std::fmt::Debug for ScramUpsert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramUpsert")
            .field("user", &self.user)
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// An AlterUserScramCredentials request: `deletions` are `(user, mechanism)`.
pub fn alter_user_scram_credentials_request(
    deletions: &[(String, i8)],
    upsertions: &[ScramUpsert],
) -> AlterUserScramCredentialsRequest {
    let mut req = AlterUserScramCredentialsRequest::default();
    req.deletions = deletions
        .iter()
        .map(|(u, m)| {
            let mut d = ScramCredentialDeletion::default();
            d.name = strb(u);
            d.mechanism = *m;
            d
        })
        .collect();
    req.upsertions = upsertions
        .iter()
        .map(|u| {
            let mut x = ScramCredentialUpsertion::default();
            x.name = strb(&u.user);
            x.mechanism = u.mechanism;
            x.iterations = u.iterations;
            x.salt = Bytes::copy_from_slice(&u.salt);
            x.salted_password = Bytes::copy_from_slice(&u.salted_password);
            x
        })
        .collect();
    req
}

impl Request for DescribeUserScramCredentialsRequest {
    const KEY: ApiKey = ApiKey::DescribeUserScramCredentials;
    type Response = DescribeUserScramCredentialsResponse;
}

impl Request for AlterUserScramCredentialsRequest {
    const KEY: ApiKey = ApiKey::AlterUserScramCredentials;
    type Response = AlterUserScramCredentialsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::{
        alter_user_scram_credentials_response as auc, describe_user_scram_credentials_response as duc,
    };

    #[test]
    fn describe_user_scram_credentials_v0() {
        let mut m = duc::DescribeUserScramCredentialsResponse::default();
        let mut r = duc::DescribeUserScramCredentialsResult::default();
        r.user = sb("bob");
        let mut c = duc::CredentialInfo::default();
        c.mechanism = 1;
        c.iterations = 8192;
        r.credential_infos = vec![c];
        m.results = vec![r];
        let bytes = encode(&m, 0);
        let d = DescribeUserScramCredentialsResponse::decode(bytes.clone(), 0).unwrap();
        assert_eq!(d.results[0].user, "bob");
        assert_eq!(d.results[0].credentials, vec![(1, 8192)]);
        all_prefixes_fail(&bytes, |b| DescribeUserScramCredentialsResponse::decode(b, 0));
    }

    #[test]
    fn alter_user_scram_credentials_v0() {
        let mut m = auc::AlterUserScramCredentialsResponse::default();
        let mut r = auc::AlterUserScramCredentialsResult::default();
        r.user = sb("bob");
        r.error_code = 87;
        r.error_message = Some(sb("too few iterations"));
        m.results = vec![r];
        let bytes = encode(&m, 0);
        let d = AlterUserScramCredentialsResponse::decode(bytes.clone(), 0).unwrap();
        assert_eq!(d.results[0].error_code, ErrorCode(87));
        all_prefixes_fail(&bytes, |b| AlterUserScramCredentialsResponse::decode(b, 0));
    }

    #[test]
    fn upsert_debug_hides_secrets() {
        let u = ScramUpsert {
            user: "bob".into(),
            mechanism: 1,
            iterations: 4096,
            salt: vec![1, 2, 3],
            salted_password: vec![0xAB; 32],
        };
        let s = format!("{u:?}");
        assert!(!s.contains("171") && !s.contains("salt"), "{s}");
        let r = alter_user_scram_credentials_request(&[("alice".into(), 2)], &[u]);
        assert_eq!(r.deletions[0].mechanism, 2);
        assert_eq!(r.upsertions[0].iterations, 4096);
    }
}
