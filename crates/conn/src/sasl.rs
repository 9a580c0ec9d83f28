//! SASL authentication over Kafka frames (KIP-152): SaslHandshake v1 names
//! the mechanism, then SaslAuthenticate rounds carry the tokens.
//!
//! The mechanisms are sans-IO state machines ([`SaslSession`]): `start` gives
//! the first client token, `step` takes a server token and gives the next
//! client token or finishes. `Connection::handshake` drives one over a connection.
//!
//! SCRAM (RFC 5802, RFC 7677) is checked strictly: the server nonce must
//! extend the client's random nonce, the salt must be base64, the iteration
//! count must be at least 4096 (and at most [`SCRAM_MAX_ITERATIONS`]), and the
//! server's signature in server-final must match, or authentication aborts.
//! No channel binding (`n,,`). User names are escaped (`=` → `=3D`, `,` →
//! `=2C`). Passwords are used as their UTF-8 bytes without SASLprep, as Kafka's
//! own client and broker do (the broker derives its stored keys from the raw
//! UTF-8 password, so normalising it would break non-ASCII passwords).

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use kwire_proto::ErrorCode;
use kwire_proto::api::{ApiKey, Versions, kwire_versions};
use kwire_proto::kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kwire_proto::kafka_protocol::protocol::StrBytes;
use kwire_proto::msg::api_versions::ApiVersionsResponse;
use sha2::{Digest, Sha256, Sha512};

use crate::security::{SaslConfig, SaslCredentials, SaslMechanism, Secret};
use crate::{ConnError, Connection};

/// Lowest SCRAM iteration count accepted (RFC 7677 and Kafka's minimum).
pub const SCRAM_MIN_ITERATIONS: u32 = 4096;
/// Highest SCRAM iteration count accepted, so a hostile server can't make the
/// client spin (Kafka's broker allows at most 16384).
pub const SCRAM_MAX_ITERATIONS: u32 = 100_000;
/// Most SaslAuthenticate rounds before giving up (SCRAM needs 2).
const MAX_ROUNDS: usize = 4;
/// What a broker answers SaslHandshake with on a listener without SASL.
const ILLEGAL_SASL_STATE: ErrorCode = ErrorCode(34);

/// What a mechanism wants next.
#[derive(PartialEq, Eq)]
pub enum Step {
    /// Send this token to the server.
    Send(Vec<u8>),
    /// Authentication completed on the client side.
    Done,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Send(t) => write!(f, "Send(<{} bytes>)", t.len()),
            Step::Done => f.write_str("Done"),
        }
    }
}

/// A client-side SASL exchange. Errors are messages for the user; they never
/// contain a secret.
pub trait SaslSession: Send {
    /// The first client token.
    fn start(&mut self) -> Vec<u8>;
    /// Handles a server token.
    fn step(&mut self, server: &[u8]) -> Result<Step, String>;
}

/// The session for `cfg`, with `nonce` used by SCRAM (random in real use).
pub fn session(cfg: &SaslConfig, nonce: String) -> Box<dyn SaslSession> {
    match (&cfg.credentials, cfg.mechanism) {
        (SaslCredentials::Password { username, password }, SaslMechanism::Plain) => {
            Box::new(Plain { username: username.clone(), password: password.clone(), sent: false })
        }
        (SaslCredentials::Password { username, password }, SaslMechanism::ScramSha256) => {
            Box::new(Scram::new(ScramHash::Sha256, username, password.clone(), nonce))
        }
        (SaslCredentials::Password { username, password }, SaslMechanism::ScramSha512) => {
            Box::new(Scram::new(ScramHash::Sha512, username, password.clone(), nonce))
        }
        (SaslCredentials::Token { token, extensions }, _) => {
            let mut first = b"n,,\x01auth=Bearer ".to_vec();
            first.extend_from_slice(token.expose().as_bytes());
            first.push(1);
            for (k, v) in extensions {
                first.extend_from_slice(format!("{k}={v}\x01").as_bytes());
            }
            first.push(1);
            Box::new(OAuthBearer { first: Secret::new(String::from_utf8_lossy(&first)), state: 0 })
        }
        (SaslCredentials::Password { .. }, SaslMechanism::OAuthBearer) => {
            Box::new(Failing("OAUTHBEARER needs a token, not a password".into()))
        }
    }
}

struct Failing(String);

impl SaslSession for Failing {
    fn start(&mut self) -> Vec<u8> {
        Vec::new()
    }
    fn step(&mut self, _: &[u8]) -> Result<Step, String> {
        Err(self.0.clone())
    }
}

/// RFC 4616: `authzid NUL authcid NUL passwd`, one round.
struct Plain {
    username: String,
    password: Secret,
    sent: bool,
}

impl SaslSession for Plain {
    fn start(&mut self) -> Vec<u8> {
        self.sent = true;
        let mut t = Vec::with_capacity(self.username.len() + self.password.expose().len() + 2);
        t.push(0);
        t.extend_from_slice(self.username.as_bytes());
        t.push(0);
        t.extend_from_slice(self.password.expose().as_bytes());
        t
    }

    fn step(&mut self, _server: &[u8]) -> Result<Step, String> {
        // The broker answers PLAIN with an empty token (or an error code).
        Ok(Step::Done)
    }
}

/// RFC 7628 with a static token. On failure the server sends a JSON error
/// and expects a lone `\x01` before it reports the failure.
struct OAuthBearer {
    first: Secret,
    state: u8,
}

impl SaslSession for OAuthBearer {
    fn start(&mut self) -> Vec<u8> {
        self.first.expose().as_bytes().to_vec()
    }

    fn step(&mut self, server: &[u8]) -> Result<Step, String> {
        if server.is_empty() || self.state > 0 {
            return Ok(Step::Done);
        }
        self.state = 1;
        let shown: String = String::from_utf8_lossy(server).chars().take(200).collect();
        tracing::debug!(error = %shown, "OAUTHBEARER token rejected by the server");
        Ok(Step::Send(vec![1]))
    }
}

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramHash {
    fn hmac(self, key: &[u8], msg: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length; new_from_slice cannot fail.
        match self {
            ScramHash::Sha256 => match Hmac::<Sha256>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(msg);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
            ScramHash::Sha512 => match Hmac::<Sha512>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(msg);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `Hi(password, salt, i)` = PBKDF2 with HMAC of this hash.
    fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramHash::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }
}

/// The keys a SCRAM server stores for a user, and the proofs both sides
/// compute; public so tests (and a scripted server) can use the same maths.
pub mod scram_math {
    use super::ScramHash;

    /// (ClientKey, StoredKey, ServerKey) for `password`, `salt`, `iterations`.
    pub fn keys(
        hash: ScramHash,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let salted = hash.hi(password, salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        let stored_key = hash.hash(&client_key);
        let server_key = hash.hmac(&salted, b"Server Key");
        (client_key, stored_key, server_key)
    }

    /// `SaltedPassword = Hi(password, salt, iterations)`: what
    /// AlterUserScramCredentials sends, so the password never leaves the client.
    pub fn salted_password(hash: ScramHash, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        hash.hi(password, salt, iterations)
    }

    /// A fresh random salt (32 bytes).
    pub fn random_salt() -> Vec<u8> {
        let mut b = vec![0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut b[..]);
        b
    }

    /// HMAC(key, msg).
    pub fn hmac(hash: ScramHash, key: &[u8], msg: &[u8]) -> Vec<u8> {
        hash.hmac(key, msg)
    }

    /// H(data).
    pub fn h(hash: ScramHash, data: &[u8]) -> Vec<u8> {
        hash.hash(data)
    }
}

/// RFC 5802 `saslname`: `=` → `=3D`, `,` → `=2C`.
pub fn escape_username(u: &str) -> String {
    u.replace('=', "=3D").replace(',', "=2C")
}

enum ScramState {
    Initial,
    SentFirst,
    SentFinal { server_signature: Vec<u8> },
    Done,
}

/// A SCRAM-SHA-256/512 client (RFC 5802), no channel binding.
pub struct Scram {
    hash: ScramHash,
    password: Secret,
    nonce: String,
    client_first_bare: String,
    state: ScramState,
}

impl Scram {
    /// A client for `username`/`password` using `nonce` (printable, no ',').
    pub fn new(hash: ScramHash, username: &str, password: Secret, nonce: String) -> Self {
        let client_first_bare = format!("n={},r={nonce}", escape_username(username));
        Scram { hash, password, nonce, client_first_bare, state: ScramState::Initial }
    }
}

impl SaslSession for Scram {
    fn start(&mut self) -> Vec<u8> {
        self.state = ScramState::SentFirst;
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    fn step(&mut self, server: &[u8]) -> Result<Step, String> {
        match std::mem::replace(&mut self.state, ScramState::Done) {
            ScramState::SentFirst => {
                let (client_final, server_signature) = self.client_final(server)?;
                self.state = ScramState::SentFinal { server_signature };
                Ok(Step::Send(client_final.into_bytes()))
            }
            ScramState::SentFinal { server_signature } => {
                verify_server_final(server, &server_signature)?;
                Ok(Step::Done)
            }
            ScramState::Initial | ScramState::Done => Err("SCRAM: unexpected server message".into()),
        }
    }
}

impl Scram {
    /// Checks server-first and computes client-final and the expected ServerSignature.
    fn client_final(&self, server_first: &[u8]) -> Result<(String, Vec<u8>), String> {
        let sf = std::str::from_utf8(server_first)
            .map_err(|_| "SCRAM server-first message is not UTF-8".to_owned())?;
        if let Some(e) = sf.strip_prefix("e=") {
            return Err(format!("server error in SCRAM server-first: {}", truncate(e)));
        }
        if sf.starts_with("m=") {
            return Err("server-first requires an unsupported SCRAM extension (m=)".into());
        }
        let mut parts = sf.split(',');
        let nonce = attr(parts.next(), 'r')?;
        let salt = attr(parts.next(), 's')?;
        let iterations = attr(parts.next(), 'i')?;
        // Further attributes are extensions; RFC 5802 says to ignore unknown optional ones.
        if !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
            return Err("server nonce has characters SCRAM does not allow".into());
        }
        if !nonce.starts_with(&self.nonce) || nonce.len() <= self.nonce.len() {
            return Err("server nonce does not extend the client nonce (possible replay or tampering)".into());
        }
        let salt = B64.decode(salt).map_err(|_| "SCRAM salt is not valid base64".to_owned())?;
        if salt.is_empty() {
            return Err("SCRAM salt is empty".into());
        }
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| format!("SCRAM iteration count '{}' is not a number", truncate(iterations)))?;
        if iterations < SCRAM_MIN_ITERATIONS {
            return Err(format!(
                "SCRAM iteration count {iterations} is below the minimum of {SCRAM_MIN_ITERATIONS} (refusing a weakened exchange)"
            ));
        }
        if iterations > SCRAM_MAX_ITERATIONS {
            return Err(format!(
                "SCRAM iteration count {iterations} is above kwire's limit of {SCRAM_MAX_ITERATIONS}"
            ));
        }
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{sf},{without_proof}", self.client_first_bare);
        let (client_key, stored_key, server_key) =
            scram_math::keys(self.hash, self.password.expose().as_bytes(), &salt, iterations);
        let client_signature = self.hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&client_signature).map(|(a, b)| a ^ b).collect();
        let server_signature = self.hash.hmac(&server_key, auth_message.as_bytes());
        Ok((format!("{without_proof},p={}", B64.encode(proof)), server_signature))
    }
}

fn verify_server_final(server_final: &[u8], expected: &[u8]) -> Result<(), String> {
    let s = std::str::from_utf8(server_final)
        .map_err(|_| "SCRAM server-final message is not UTF-8".to_owned())?;
    if let Some(e) = s.strip_prefix("e=") {
        return Err(format!("server rejected the SCRAM proof: {}", truncate(e)));
    }
    let v = s
        .split(',')
        .next()
        .and_then(|a| a.strip_prefix("v="))
        .ok_or_else(|| "SCRAM server-final message has no server signature (v=)".to_owned())?;
    let got = B64.decode(v).map_err(|_| "SCRAM server signature is not valid base64".to_owned())?;
    // Constant-time comparison.
    let same =
        got.len() == expected.len() && got.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if !same {
        return Err("the server's SCRAM signature is wrong: the server does not know the password \
                    (or the exchange was tampered with); aborting"
            .into());
    }
    Ok(())
}

fn attr(part: Option<&str>, name: char) -> Result<&str, String> {
    part.and_then(|p| p.strip_prefix(name))
        .and_then(|p| p.strip_prefix('='))
        .ok_or_else(|| format!("malformed SCRAM server-first message (expected attribute '{name}=')"))
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// A fresh random SCRAM client nonce: 24 random bytes, base64 (printable, no ',').
pub fn random_nonce() -> String {
    let mut b = [0u8; 24];
    rand::Rng::fill(&mut rand::rng(), &mut b[..]);
    B64.encode(b)
}

static PLAINTEXT_WARNED: AtomicBool = AtomicBool::new(false);

/// Warns once per process that `mechanism` sends a secret over an unencrypted connection.
pub(crate) fn warn_if_cleartext(mechanism: SaslMechanism, tls: bool) {
    if !tls && mechanism.exposes_secret() && !PLAINTEXT_WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "SASL {} over an unencrypted connection (security.protocol=SASL_PLAINTEXT) sends the {} in \
             clear text to anyone on the network; use SASL_SSL",
            mechanism.name(),
            if mechanism == SaslMechanism::OAuthBearer { "token" } else { "password" },
        );
    }
}

/// Runs SaslHandshake + SaslAuthenticate on a connection that has finished
/// ApiVersions (`api` is the broker's answer) and sent nothing else.
pub(crate) async fn authenticate(
    conn: &Connection,
    api: &ApiVersionsResponse,
    addr: &str,
    cfg: &SaslConfig,
) -> Result<(), ConnError> {
    let mech = cfg.mechanism.name();
    let fail = |reason: String| ConnError::Auth { addr: addr.to_owned(), mechanism: mech, reason };
    let hs_v = negotiate(api, addr, ApiKey::SaslHandshake)?;
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = StrBytes::from_static_str(mech);
    let resp = conn.send_version(&hs, hs_v).await?;
    if resp.error_code == ErrorCode::UNSUPPORTED_SASL_MECHANISM {
        return Err(fail(format!(
            "the broker does not enable {mech} on this listener (it offers: {})",
            if resp.mechanisms.is_empty() { "none".to_owned() } else { resp.mechanisms.join(", ") }
        )));
    }
    if resp.error_code == ILLEGAL_SASL_STATE {
        return Err(fail(
            "the listener does not expect SASL (ILLEGAL_SASL_STATE): is it a SASL_SSL or SASL_PLAINTEXT \
             listener? (without SASL, use security.protocol=SSL or PLAINTEXT)"
                .into(),
        ));
    }
    if resp.error_code.is_err() {
        return Err(fail(format!("SaslHandshake failed: {}", resp.error_code)));
    }
    let auth_v = negotiate(api, addr, ApiKey::SaslAuthenticate)?;
    let mut session = session(cfg, random_nonce());
    let mut token = session.start();
    for _ in 0..MAX_ROUNDS {
        let mut req = SaslAuthenticateRequest::default();
        req.auth_bytes = Bytes::from(std::mem::take(&mut token));
        let resp = conn.send_version(&req, auth_v).await?;
        if resp.error_code.is_err() {
            let msg =
                resp.error_message.filter(|m| !m.is_empty()).unwrap_or_else(|| resp.error_code.to_string());
            return Err(fail(msg));
        }
        match session.step(&resp.auth_bytes).map_err(&fail)? {
            Step::Send(next) => token = next,
            Step::Done => {
                if resp.session_lifetime_ms > 0 {
                    tracing::debug!(
                        broker = %addr,
                        session_lifetime_ms = resp.session_lifetime_ms,
                        "the broker will close this connection when the SASL session expires; kwire reconnects then"
                    );
                }
                tracing::debug!(broker = %addr, mechanism = mech, user = cfg.username().unwrap_or("-"), "authenticated");
                return Ok(());
            }
        }
    }
    Err(fail(format!("no result after {MAX_ROUNDS} rounds")))
}

fn negotiate(api: &ApiVersionsResponse, addr: &str, key: ApiKey) -> Result<i16, ConnError> {
    let ours = kwire_versions(key).unwrap_or(Versions::new(0, -1));
    let broker = api.range(key);
    broker.and_then(|b| ours.highest_common(b)).ok_or_else(|| ConnError::UnsupportedApi {
        addr: addr.to_owned(),
        api: key,
        ours,
        broker: broker.map_or_else(|| "none".to_owned(), |v| format!("v{}-v{}", v.min, v.max)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7677_sha256_vector() {
        let mut c =
            Scram::new(ScramHash::Sha256, "user", Secret::new("pencil"), "rOprNGfwEbeRWgbNEkqO".into());
        assert_eq!(c.start(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let sf = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let Step::Send(cf) = c.step(sf).unwrap() else { panic!("no client-final") };
        assert_eq!(
            String::from_utf8(cf).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(c.step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap(), Step::Done);
    }

    fn after_first(sf: &str) -> Result<Step, String> {
        let mut c = Scram::new(ScramHash::Sha512, "u", Secret::new("p"), "abc".into());
        c.start();
        c.step(sf.as_bytes())
    }

    #[test]
    fn tampered_server_first_is_refused() {
        let salt = B64.encode(b"salt");
        assert!(after_first(&format!("r=abcXYZ,s={salt},i=4096")).is_ok());
        for (sf, want) in [
            (format!("r=xyzXYZ,s={salt},i=4096"), "does not extend"),
            (format!("r=abc,s={salt},i=4096"), "does not extend"),
            (format!("r=abcXYZ,s={salt},i=4095"), "below the minimum"),
            (format!("r=abcXYZ,s={salt},i=1"), "below the minimum"),
            (format!("r=abcXYZ,s={salt},i=4000000000"), "above"),
            (format!("r=abcXYZ,s={salt},i=-4096"), "not a number"),
            ("r=abcXYZ,s=!!!,i=4096".to_owned(), "base64"),
            ("r=abcXYZ,s=,i=4096".to_owned(), "empty"),
            (format!("s={salt},r=abcXYZ,i=4096"), "malformed"),
            (format!("r=abcXYZ,s={salt}"), "malformed"),
            ("m=ext,r=abcXYZ".to_owned(), "extension"),
            ("e=other-error".to_owned(), "other-error"),
            (format!("r=abc\u{7f},s={salt},i=4096"), "characters"),
        ] {
            let e = after_first(&sf).unwrap_err();
            assert!(e.contains(want), "{sf}: {e}");
        }
    }

    #[test]
    fn tampered_server_final_is_refused() {
        let mut c =
            Scram::new(ScramHash::Sha256, "user", Secret::new("pencil"), "rOprNGfwEbeRWgbNEkqO".into());
        c.start();
        let sf = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        assert!(matches!(c.step(sf), Ok(Step::Send(_))));
        let e = c.step(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap_err();
        assert!(e.contains("signature is wrong"), "{e}");
        for bad in [&b"v=AAAA"[..], b"x=1", b"", b"e=invalid-proof", b"v=***"] {
            let mut c =
                Scram::new(ScramHash::Sha256, "user", Secret::new("pencil"), "rOprNGfwEbeRWgbNEkqO".into());
            c.start();
            c.step(sf).unwrap();
            assert!(c.step(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usernames_are_escaped() {
        assert_eq!(escape_username("a=b,c"), "a=3Db=2Cc");
        let mut c = Scram::new(ScramHash::Sha256, "x,=y", Secret::new("p"), "n".into());
        assert_eq!(c.start(), b"n,,n=x=2C=3Dy,r=n");
    }

    #[test]
    fn nonces_are_random_and_printable() {
        let (a, b) = (random_nonce(), random_nonce());
        assert_ne!(a, b);
        assert!(a.len() >= 32 && a.bytes().all(|c| (0x21..=0x7e).contains(&c) && c != b','));
    }

    #[test]
    fn plain_and_oauthbearer_tokens() {
        let mut p = session(&SaslConfig::plain("alice", Secret::new("pw")), String::new());
        assert_eq!(p.start(), b"\0alice\0pw");
        assert_eq!(p.step(b"").unwrap(), Step::Done);
        let mut o = session(&SaslConfig::oauthbearer(Secret::new("tok")), String::new());
        assert_eq!(o.start(), b"n,,\x01auth=Bearer tok\x01\x01");
        assert_eq!(o.step(b"").unwrap(), Step::Done);
        let mut o = session(&SaslConfig::oauthbearer(Secret::new("tok")), String::new());
        o.start();
        assert_eq!(o.step(br#"{"status":"invalid_token"}"#).unwrap(), Step::Send(vec![1]));
    }

    #[test]
    fn step_debug_hides_tokens() {
        assert_eq!(format!("{:?}", Step::Send(b"\0alice\0pw".to_vec())), "Send(<9 bytes>)");
    }
}
