//! SASL over a scripted broker on an in-memory duplex: the whole
//! `Connection::handshake` (ApiVersions, SaslHandshake, SaslAuthenticate)
//! against a peer that plays SCRAM honestly, or tampers with it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, MetadataRequest, MetadataResponse, RequestHeader, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse, api_versions_response::ApiVersion,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kwire_conn::sasl::{ScramHash, scram_math};
use kwire_conn::{
    ConnConfig, ConnError, Connection, SaslConfig, SaslMechanism, Secret, SecurityConfig, SecurityProtocol,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const PASSWORD: &str = "pencil-Secret-42";

/// Reads one request: (api key, version, correlation id, body).
async fn read_request(peer: &mut DuplexStream) -> Option<(i16, i16, i32, Bytes)> {
    let mut len = [0u8; 4];
    peer.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    peer.read_exact(&mut body).await.ok()?;
    let mut b = Bytes::from(body);
    let key = i16::from_be_bytes([b[0], b[1]]);
    let version = i16::from_be_bytes([b[2], b[3]]);
    let hv = ApiKey::try_from(key).unwrap().request_header_version(version);
    let h = RequestHeader::decode(&mut b, hv).unwrap();
    Some((key, version, h.correlation_id, b))
}

fn response<M: Encodable>(key: ApiKey, version: i16, cid: i32, m: &M) -> Bytes {
    let mut body = BytesMut::new();
    body.put_i32(cid);
    let hv = if key == ApiKey::ApiVersions { 0 } else { key.response_header_version(version) };
    if hv >= 1 {
        body.put_u8(0);
    }
    m.encode(&mut body, version).unwrap();
    let mut out = BytesMut::new();
    out.put_u32(body.len() as u32);
    out.put_slice(&body);
    out.freeze()
}

fn api_versions() -> ApiVersionsResponse {
    let mut r = ApiVersionsResponse::default();
    r.api_keys = [(18, 0, 4), (3, 0, 12), (17, 0, 1), (36, 0, 2)]
        .into_iter()
        .map(|(k, lo, hi)| {
            let mut a = ApiVersion::default();
            a.api_key = k;
            a.min_version = lo;
            a.max_version = hi;
            a
        })
        .collect();
    r
}

fn cfg(sasl: SaslConfig) -> ConnConfig {
    ConnConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
        security: SecurityConfig { protocol: SecurityProtocol::SaslPlaintext, tls: None, sasl: Some(sasl) },
        ..ConnConfig::default()
    }
}

/// How the scripted broker misbehaves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Tamper {
    None,
    ForeignNonce,
    SameNonce,
    FewIterations,
    BadSignature,
    ErrorInFinal,
    WrongPassword,
}

/// Answers ApiVersions, SaslHandshake and SaslAuthenticate.
struct Peer {
    io: DuplexStream,
}

impl Peer {
    async fn expect(&mut self, key: ApiKey) -> (i16, i32, Bytes) {
        let (k, v, cid, body) = read_request(&mut self.io).await.expect("a request");
        assert_eq!(k, key as i16, "expected {key:?}");
        (v, cid, body)
    }

    async fn send<M: Encodable>(&mut self, key: ApiKey, v: i16, cid: i32, m: &M) {
        self.io.write_all(&response(key, v, cid, m)).await.unwrap();
    }

    async fn api_versions_and_handshake(&mut self, mechanism: &str) {
        let (v, cid, _) = self.expect(ApiKey::ApiVersions).await;
        self.send(ApiKey::ApiVersions, v, cid, &api_versions()).await;
        let (v, cid, mut body) = self.expect(ApiKey::SaslHandshake).await;
        assert_eq!(v, 1, "SaslHandshake v1 (v0 would mean raw SASL frames)");
        let req = SaslHandshakeRequest::decode(&mut body, v).unwrap();
        assert_eq!(req.mechanism.as_str(), mechanism);
        let resp = SaslHandshakeResponse::default()
            .with_mechanisms(vec![StrBytes::from_string(mechanism.to_owned())]);
        self.send(ApiKey::SaslHandshake, v, cid, &resp).await;
    }

    /// Reads a SaslAuthenticate token.
    async fn token(&mut self) -> (i16, i32, Vec<u8>) {
        let (v, cid, mut body) = self.expect(ApiKey::SaslAuthenticate).await;
        assert_eq!(v, 2);
        let req = SaslAuthenticateRequest::decode(&mut body, v).unwrap();
        (v, cid, req.auth_bytes.to_vec())
    }

    async fn reply(&mut self, v: i16, cid: i32, token: &[u8]) {
        let r = SaslAuthenticateResponse::default().with_auth_bytes(Bytes::copy_from_slice(token));
        self.send(ApiKey::SaslAuthenticate, v, cid, &r).await;
    }

    async fn fail(&mut self, v: i16, cid: i32, msg: &str) {
        let r = SaslAuthenticateResponse::default()
            .with_error_code(58)
            .with_error_message(Some(StrBytes::from_string(msg.to_owned())));
        self.send(ApiKey::SaslAuthenticate, v, cid, &r).await;
    }

    /// A SCRAM server for user "user" with [`PASSWORD`], tampering as told.
    /// Returns whether the client's proof was right.
    async fn scram(&mut self, hash: ScramHash, tamper: Tamper) -> bool {
        let (v, cid, first) = self.token().await;
        let first = String::from_utf8(first).unwrap();
        let bare = first.strip_prefix("n,,").expect("gs2 header n,, (no channel binding)");
        let (user, cnonce) = bare.strip_prefix("n=").unwrap().split_once(",r=").unwrap();
        assert_eq!(user, "us=3Der=2C1", "user name escaped");
        assert!(cnonce.len() >= 24);
        let nonce = match tamper {
            Tamper::ForeignNonce => "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAsrv".to_owned(),
            Tamper::SameNonce => cnonce.to_owned(),
            _ => format!("{cnonce}srvpart"),
        };
        let iterations = if tamper == Tamper::FewIterations { 4095 } else { 4096 };
        let salt = b"kwire-salt";
        let server_first = format!("r={nonce},s={},i={iterations}", B64.encode(salt));
        self.reply(v, cid, server_first.as_bytes()).await;
        let Some((v, cid, fin)) = tokio::time::timeout(Duration::from_secs(2), async {
            read_request(&mut self.io).await.map(|(_, v, cid, mut b)| {
                (v, cid, SaslAuthenticateRequest::decode(&mut b, v).unwrap().auth_bytes.to_vec())
            })
        })
        .await
        .ok()
        .flatten() else {
            return false; // the client hung up: no client-final was sent
        };
        let fin = String::from_utf8(fin).unwrap();
        let (without_proof, proof) = fin.rsplit_once(",p=").unwrap();
        assert_eq!(without_proof, format!("c=biws,r={nonce}"));
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let stored_password = if tamper == Tamper::WrongPassword { "other" } else { PASSWORD };
        let (_, stored_key, server_key) =
            scram_math::keys(hash, stored_password.as_bytes(), salt, iterations);
        let client_sig = scram_math::hmac(hash, &stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> =
            B64.decode(proof).unwrap().iter().zip(&client_sig).map(|(a, b)| a ^ b).collect();
        let proof_ok = scram_math::h(hash, &client_key) == stored_key;
        if !proof_ok {
            self.fail(v, cid, "Authentication failed during authentication due to invalid credentials").await;
            return false;
        }
        let mut server_sig = scram_math::hmac(hash, &server_key, auth_message.as_bytes());
        match tamper {
            Tamper::BadSignature => server_sig[0] ^= 1,
            Tamper::ErrorInFinal => {
                self.reply(v, cid, b"e=invalid-proof").await;
                return true;
            }
            _ => {}
        }
        self.reply(v, cid, format!("v={}", B64.encode(server_sig)).as_bytes()).await;
        true
    }

    /// After a failed handshake the client must close without sending anything else.
    async fn expect_hangup(&mut self) {
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(2), self.io.read(&mut buf)).await.expect("hang-up");
        assert_eq!(n.unwrap(), 0, "client sent more after authentication failed");
    }
}

async fn scram_run(hash: ScramHash, tamper: Tamper) -> (Result<Connection, ConnError>, Peer) {
    let mech =
        if hash == ScramHash::Sha256 { SaslMechanism::ScramSha256 } else { SaslMechanism::ScramSha512 };
    let (client, io) = tokio::io::duplex(1 << 16);
    let mut peer = Peer { io };
    let cfg = cfg(SaslConfig::scram(mech, "us=er,1", Secret::new(PASSWORD)));
    let (conn, ()) = tokio::join!(Connection::handshake(client, "scripted:9092", &cfg), async {
        peer.api_versions_and_handshake(mech.name()).await;
        peer.scram(hash, tamper).await;
    });
    (conn, peer)
}

#[tokio::test]
async fn scram_sha256_and_sha512_authenticate_then_requests_flow() {
    for hash in [ScramHash::Sha256, ScramHash::Sha512] {
        let (conn, mut peer) = scram_run(hash, Tamper::None).await;
        let conn = conn.unwrap_or_else(|e| panic!("{hash:?}: {e}"));
        // The first request after authentication is the caller's.
        let call = tokio::spawn({
            let c = conn.clone();
            async move { c.send(&MetadataRequest::default().with_topics(Some(vec![]))).await }
        });
        let (v, cid, _) = peer.expect(ApiKey::Metadata).await;
        peer.send(ApiKey::Metadata, v, cid, &MetadataResponse::default()).await;
        call.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn tampered_server_first_aborts_before_client_final() {
    for (tamper, needle) in [
        (Tamper::ForeignNonce, "does not extend the client nonce"),
        (Tamper::SameNonce, "does not extend the client nonce"),
        (Tamper::FewIterations, "4095 is below the minimum of 4096"),
    ] {
        let (conn, mut peer) = scram_run(ScramHash::Sha256, tamper).await;
        let err = conn.unwrap_err();
        assert!(matches!(err, ConnError::Auth { .. }) && err.is_auth() && !err.is_disconnect(), "{err:?}");
        assert!(err.to_string().contains(needle), "{tamper:?}: {err}");
        peer.expect_hangup().await;
    }
}

#[tokio::test]
async fn tampered_server_final_aborts() {
    for (hash, tamper, needle) in [
        (ScramHash::Sha512, Tamper::BadSignature, "SCRAM signature is wrong"),
        (ScramHash::Sha256, Tamper::ErrorInFinal, "invalid-proof"),
    ] {
        let (conn, mut peer) = scram_run(hash, tamper).await;
        let err = conn.unwrap_err();
        assert!(matches!(err, ConnError::Auth { .. }), "{err:?}");
        assert!(err.to_string().contains(needle), "{tamper:?}: {err}");
        peer.expect_hangup().await;
    }
}

#[tokio::test]
async fn wrong_password_is_one_fatal_error_with_the_brokers_message() {
    let (conn, mut peer) = scram_run(ScramHash::Sha256, Tamper::WrongPassword).await;
    let err = conn.unwrap_err();
    assert_eq!(
        err.to_string(),
        "authentication failed with scripted:9092 (SCRAM-SHA-256): Authentication failed during \
         authentication due to invalid credentials"
    );
    assert!(err.is_auth() && !err.is_disconnect());
    assert!(!format!("{err:?}").contains(PASSWORD));
    peer.expect_hangup().await;
}

#[tokio::test]
async fn plain_sends_user_and_password_once() {
    let (client, io) = tokio::io::duplex(1 << 16);
    let mut peer = Peer { io };
    let cfg = cfg(SaslConfig::plain("alice", Secret::new(PASSWORD)));
    let (conn, ()) = tokio::join!(Connection::handshake(client, "scripted:9092", &cfg), async {
        peer.api_versions_and_handshake("PLAIN").await;
        let (v, cid, tok) = peer.token().await;
        assert_eq!(tok, format!("\0alice\0{PASSWORD}").into_bytes());
        peer.reply(v, cid, b"").await;
    });
    conn.unwrap();
}

#[tokio::test]
async fn unsupported_mechanism_lists_what_the_broker_offers() {
    let (client, io) = tokio::io::duplex(1 << 16);
    let mut peer = Peer { io };
    let cfg = cfg(SaslConfig::scram(SaslMechanism::ScramSha512, "u", Secret::new(PASSWORD)));
    let (conn, ()) = tokio::join!(Connection::handshake(client, "scripted:9092", &cfg), async {
        let (v, cid, _) = peer.expect(ApiKey::ApiVersions).await;
        peer.send(ApiKey::ApiVersions, v, cid, &api_versions()).await;
        let (v, cid, _) = peer.expect(ApiKey::SaslHandshake).await;
        let resp = SaslHandshakeResponse::default()
            .with_error_code(33)
            .with_mechanisms(vec![StrBytes::from_static_str("PLAIN"), StrBytes::from_static_str("GSSAPI")]);
        peer.send(ApiKey::SaslHandshake, v, cid, &resp).await;
    });
    let err = conn.unwrap_err().to_string();
    assert!(err.contains("does not enable SCRAM-SHA-512") && err.contains("PLAIN, GSSAPI"), "{err}");
}

#[tokio::test]
async fn asking_for_tls_or_sasl_without_settings_never_falls_back() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut cfg = ConnConfig {
        security: SecurityConfig { protocol: SecurityProtocol::Ssl, tls: None, sasl: None },
        ..ConnConfig::default()
    };
    let err = Connection::connect(&addr, &cfg).await.unwrap_err();
    assert!(matches!(err, ConnError::Tls { .. }) && err.is_auth(), "{err}");
    cfg.security.protocol = SecurityProtocol::SaslPlaintext;
    let (client, io) = tokio::io::duplex(1 << 16);
    let mut peer = Peer { io };
    let (conn, ()) = tokio::join!(Connection::handshake(client, "scripted:9092", &cfg), async {
        let (v, cid, _) = peer.expect(ApiKey::ApiVersions).await;
        peer.send(ApiKey::ApiVersions, v, cid, &api_versions()).await;
    });
    let err = conn.unwrap_err();
    assert!(err.to_string().contains("no SASL settings"), "{err}");
    peer.expect_hangup().await;
}
