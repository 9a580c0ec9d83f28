//! Connection driver tests against a scripted peer over an in-memory duplex.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, MetadataRequest, MetadataResponse, RequestHeader,
    api_versions_response::ApiVersion,
};
use kafka_protocol::protocol::{Decodable, Encodable};
use kwire_conn::{ConnConfig, ConnError, Connection};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Reads one request frame; returns (api_key, version, correlation id).
async fn read_request(peer: &mut DuplexStream) -> Option<(i16, i16, i32)> {
    let mut len = [0u8; 4];
    peer.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    peer.read_exact(&mut body).await.ok()?;
    let mut b = Bytes::from(body);
    let key = i16::from_be_bytes([b[0], b[1]]);
    let version = i16::from_be_bytes([b[2], b[3]]);
    let hv = ApiKey::try_from(key).unwrap().request_header_version(version);
    let h = RequestHeader::decode(&mut b, hv).unwrap();
    Some((key, version, h.correlation_id))
}

/// Encodes a response frame (size + header + body).
fn response<M: Encodable>(key: ApiKey, version: i16, cid: i32, m: &M) -> Bytes {
    let mut body = BytesMut::new();
    body.put_i32(cid);
    let hv = if key == ApiKey::ApiVersions { 0 } else { key.response_header_version(version) };
    if hv >= 1 {
        body.put_u8(0); // no tagged fields
    }
    m.encode(&mut body, version).unwrap();
    let mut out = BytesMut::new();
    out.put_u32(body.len() as u32);
    out.put_slice(&body);
    out.freeze()
}

fn api_versions_body() -> ApiVersionsResponse {
    let mut r = ApiVersionsResponse::default();
    r.api_keys = vec![(18, 0, 4), (3, 0, 12)]
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

/// A Metadata response that carries `tag` in controller_id, so each caller can
/// check it got its own answer.
fn metadata_body(tag: i32) -> MetadataResponse {
    let mut m = MetadataResponse::default();
    m.controller_id = BrokerId(tag);
    m
}

fn cfg() -> ConnConfig {
    ConnConfig { request_timeout: Duration::from_secs(5), ..ConnConfig::default() }
}

/// Completes the ApiVersions handshake from the peer side.
async fn serve_handshake(peer: &mut DuplexStream) {
    let (key, version, cid) = read_request(peer).await.unwrap();
    assert_eq!(key, 18);
    assert_eq!(version, 3);
    peer.write_all(&response(ApiKey::ApiVersions, version, cid, &api_versions_body())).await.unwrap();
}

async fn connected() -> (Connection, DuplexStream) {
    let (client, mut peer) = tokio::io::duplex(1 << 20);
    let (conn, ()) = tokio::join!(
        async { Connection::handshake(client, "fake:9092", &cfg()).await.unwrap() },
        serve_handshake(&mut peer)
    );
    (conn, peer)
}

fn md_req() -> MetadataRequest {
    MetadataRequest::default().with_topics(Some(vec![]))
}

#[tokio::test]
async fn handshake_negotiates_highest_common_version() {
    let (conn, _peer) = connected().await;
    // kwire speaks Metadata v1..=12, the peer v0..=12.
    assert_eq!(conn.version(ApiKey::Metadata).unwrap(), 12);
    // The peer doesn't list Produce: a clear error, not a protocol error.
    let err = conn.version(ApiKey::Produce).unwrap_err();
    assert!(matches!(err, ConnError::UnsupportedApi { .. }), "{err}");
}

#[tokio::test]
async fn handshake_falls_back_when_broker_rejects_api_versions_v3() {
    let (client, mut peer) = tokio::io::duplex(1 << 16);
    let server = async {
        let (_, v, cid) = read_request(&mut peer).await.unwrap();
        assert_eq!(v, 3);
        // An old broker: UNSUPPORTED_VERSION with a v0 body listing ApiVersions v0..2.
        let mut r = api_versions_body();
        r.error_code = 35;
        r.api_keys[0].max_version = 2;
        peer.write_all(&response(ApiKey::ApiVersions, 0, cid, &r)).await.unwrap();
        let (_, v, cid) = read_request(&mut peer).await.unwrap();
        assert_eq!(v, 2);
        peer.write_all(&response(ApiKey::ApiVersions, 2, cid, &api_versions_body())).await.unwrap();
        peer
    };
    let cfg = cfg();
    let (conn, _peer) = tokio::join!(Connection::handshake(client, "old:9092", &cfg), server);
    assert_eq!(conn.unwrap().version(ApiKey::Metadata).unwrap(), 12);
}

#[tokio::test]
async fn response_split_at_every_byte() {
    let (conn, mut peer) = connected().await;
    let probe = response(ApiKey::Metadata, 12, 0, &metadata_body(7));
    for cut in 0..=probe.len() {
        let c2 = conn.clone();
        let call = tokio::spawn(async move { c2.send(&md_req()).await });
        let (_, v, cid) = read_request(&mut peer).await.unwrap();
        let frame = response(ApiKey::Metadata, v, cid, &metadata_body(cut as i32));
        peer.write_all(&frame[..cut]).await.unwrap();
        peer.flush().await.unwrap();
        tokio::task::yield_now().await;
        peer.write_all(&frame[cut..]).await.unwrap();
        let md = call.await.unwrap().unwrap();
        assert_eq!(md.controller_id, cut as i32);
    }
}

#[tokio::test]
async fn byte_at_a_time() {
    let (conn, mut peer) = connected().await;
    let c2 = conn.clone();
    let call = tokio::spawn(async move { c2.send(&md_req()).await });
    let (_, v, cid) = read_request(&mut peer).await.unwrap();
    let frame = response(ApiKey::Metadata, v, cid, &metadata_body(42));
    for b in frame.iter() {
        peer.write_all(&[*b]).await.unwrap();
        tokio::task::yield_now().await;
    }
    assert_eq!(call.await.unwrap().unwrap().controller_id, 42);
}

#[tokio::test]
async fn many_in_flight_answered_in_order() {
    let (conn, mut peer) = connected().await;
    let n = 200;
    let mut calls = Vec::new();
    for _ in 0..n {
        let c = conn.clone();
        calls.push(tokio::spawn(async move { c.send(&md_req()).await }));
    }
    // Read every request before answering any: all are in flight at once.
    let mut seen = Vec::new();
    for _ in 0..n {
        seen.push(read_request(&mut peer).await.unwrap());
    }
    let mut out = BytesMut::new();
    for (_, v, cid) in &seen {
        out.put_slice(&response(ApiKey::Metadata, *v, *cid, &metadata_body(*cid)));
    }
    peer.write_all(&out).await.unwrap();
    let mut got = Vec::new();
    for c in calls {
        got.push(c.await.unwrap().unwrap().controller_id);
    }
    let mut want: Vec<i32> = seen.iter().map(|s| s.2).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "each caller got the response to its own request");
}

#[tokio::test]
async fn unknown_correlation_id_fails_every_waiter() {
    let (conn, mut peer) = connected().await;
    let mut calls = Vec::new();
    for _ in 0..5 {
        let c = conn.clone();
        calls.push(tokio::spawn(async move { c.send(&md_req()).await }));
    }
    let mut v = 0;
    for _ in 0..5 {
        v = read_request(&mut peer).await.unwrap().1;
    }
    peer.write_all(&response(ApiKey::Metadata, v, 987_654, &metadata_body(0))).await.unwrap();
    for c in calls {
        let err = c.await.unwrap().unwrap_err();
        assert!(matches!(err, ConnError::Desync { .. }), "{err}");
    }
    // The connection is closed; new requests fail fast.
    tokio::task::yield_now().await;
    assert!(conn.is_closed());
    assert!(conn.send(&md_req()).await.is_err());
}

#[tokio::test]
async fn hang_up_mid_frame_fails_every_waiter() {
    let (conn, mut peer) = connected().await;
    let mut calls = Vec::new();
    for _ in 0..3 {
        let c = conn.clone();
        calls.push(tokio::spawn(async move { c.send(&md_req()).await }));
    }
    let mut last = (0, 0, 0);
    for _ in 0..3 {
        last = read_request(&mut peer).await.unwrap();
    }
    let frame = response(ApiKey::Metadata, last.1, last.2, &metadata_body(1));
    peer.write_all(&frame[..frame.len() / 2]).await.unwrap();
    drop(peer);
    for c in calls {
        let err = c.await.unwrap().unwrap_err();
        assert!(matches!(err, ConnError::Closed { detail, .. } if detail.contains("middle")), "{err}");
    }
}

#[tokio::test]
async fn oversized_frame_fails_without_allocating() {
    let (conn, mut peer) = connected().await;
    let c = conn.clone();
    let call = tokio::spawn(async move { c.send(&md_req()).await });
    read_request(&mut peer).await.unwrap();
    peer.write_all(&[0x7f, 0xff, 0xff, 0xff]).await.unwrap();
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, ConnError::Frame { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn timeout_evicts_the_entry_and_late_response_is_dropped() {
    let (conn, mut peer) = connected().await;
    let v = conn.version(ApiKey::Metadata).unwrap();
    let c = conn.clone();
    let call = tokio::spawn(async move { c.send_with(&md_req(), v, Duration::from_millis(100)).await });
    let (_, _, cid) = read_request(&mut peer).await.unwrap();
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, ConnError::Timeout { .. }), "{err}");
    // The late answer arrives and is dropped; the connection still works.
    peer.write_all(&response(ApiKey::Metadata, v, cid, &metadata_body(1))).await.unwrap();
    let c = conn.clone();
    let call = tokio::spawn(async move { c.send(&md_req()).await });
    let (_, v2, cid2) = read_request(&mut peer).await.unwrap();
    peer.write_all(&response(ApiKey::Metadata, v2, cid2, &metadata_body(2))).await.unwrap();
    assert_eq!(call.await.unwrap().unwrap().controller_id, 2);
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn malformed_body_fails_only_that_request() {
    let (conn, mut peer) = connected().await;
    let c = conn.clone();
    let call = tokio::spawn(async move { c.send(&md_req()).await });
    let (_, _, cid) = read_request(&mut peer).await.unwrap();
    // Header fine (cid + empty tagged fields), body is a hostile array count.
    let mut body = BytesMut::new();
    body.put_i32(cid);
    body.put_u8(0);
    body.put_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    let mut frame = BytesMut::new();
    frame.put_u32(body.len() as u32);
    frame.put_slice(&body);
    peer.write_all(&frame).await.unwrap();
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, ConnError::Decode { .. }), "{err}");
    assert!(!conn.is_closed());
    let _ = frame.remaining();
}

#[tokio::test]
async fn connect_refused_names_the_address() {
    let err = Connection::connect("127.0.0.1:1", &cfg()).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("127.0.0.1:1"), "{msg}");
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}
