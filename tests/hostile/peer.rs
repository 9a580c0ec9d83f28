//! A deliberately hostile fake broker on 127.0.0.1 (random port).
//!
//! It speaks just enough Kafka to get a kwire command to the request under
//! test: ApiVersions (advertising what Kafka 4.x advertises for every API
//! kwire uses), Metadata (one broker: itself; topic `t` with one partition it
//! leads), InitProducerId, ListOffsets, Produce and Fetch (one record), all
//! encoded with `kafka-protocol` at the version kwire asked for. Every
//! request of the [`Script`]'s target API (on every connection, so a retry
//! meets the same peer) is answered with the scenario's crafted bytes
//! instead.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kwire_proto::api::{ApiKey, KWIRE_VERSIONS};
use kwire_proto::kafka_protocol::messages::{
    ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse, InitProducerIdResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, ProducerId,
    RequestHeader, TopicName, api_versions_response::ApiVersion, fetch_response, list_offsets_response,
    metadata_response, produce_response,
};
use kwire_proto::kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kwire_proto::records::{BatchOptions, Compression, RecordBatchBuilder, compression};

/// The topic every Metadata response lists.
pub const TOPIC: &str = "t";
const TOPIC_ID: [u8; 16] = *b"hostile-topic-id";

/// What the peer answers the target request with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// Size prefix 0x7fff_ffff (2 GiB - 1): over any frame cap.
    LenPrefix2G,
    /// Size prefix 0x8000_0000: 2 GiB read as unsigned, negative as Kafka's int32.
    NegativeLen,
    /// A valid header, then the body's first array with count 0x7fff_ffff.
    ArrayCountMax,
    /// A size prefix promising the whole response, half of it, then FIN.
    TruncatedThenClose,
    /// A valid response carrying a correlation id kwire never used.
    WrongCorrelationId,
    /// A valid-looking response frame right after the ApiVersions answer,
    /// when nothing is in flight (the target request is then answered normally).
    ResponseToNothing,
    /// A valid response body followed by 16 bytes of junk inside the frame.
    ExtraBytes,
    /// A valid response written one byte per second.
    OneBytePerSecond,
    /// Half a valid response, then a TCP reset (SO_LINGER 0).
    ResetMidFrame,
    /// A TLS alert record (what a TLS listener sends a plaintext client)
    /// in answer to ApiVersions.
    TlsAlert,
    /// Fetch: a gzip batch whose records inflate to 1 GiB of zeros.
    DecompressionBomb,
    /// Fetch: a valid (CRC-correct) batch with one record and record count i32::MAX.
    RecordCountMax,
    /// ListOffsets: once a Fetch has been answered, the next [`LAGGING`]
    /// latest offsets are 0 instead of 1, then 1 again: a new leader whose
    /// high watermark has not caught up with its predecessor's.
    LatestLags,
    /// ListOffsets: once a Fetch has been answered, the latest offset is 0
    /// for good: offsets the client has read are gone.
    LatestLost,
}

/// How many latest-offset answers [`Hostile::LatestLags`] gives below the end.
pub const LAGGING: usize = 3;

/// What a peer has answered so far (shared by its connections).
#[derive(Debug, Default)]
pub struct Counts {
    /// Fetch requests answered.
    pub fetches: AtomicUsize,
    /// Latest offsets answered below the end.
    pub behind: AtomicUsize,
}

/// Which requests get the hostile answer.
#[derive(Debug, Clone, Copy)]
pub struct Script {
    pub target: ApiKey,
    pub hostile: Hostile,
}

/// A running fake broker. Dropping it stops accepting (open connections end
/// when kwire closes them).
pub struct Peer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    /// What it answered so far.
    pub counts: Arc<Counts>,
    /// Requests seen, as `Api vN` strings, for failure messages.
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Peer {
    pub fn start(script: Script) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake broker");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let counts = Arc::new(Counts::default());
        listener.set_nonblocking(true).expect("nonblocking listener");
        {
            let stop = stop.clone();
            let seen = seen.clone();
            let counts = counts.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((sock, _)) => {
                            let _ = sock.set_nonblocking(false);
                            let _ = sock.set_nodelay(true);
                            let seen = seen.clone();
                            let stop = stop.clone();
                            let counts = counts.clone();
                            thread::spawn(move || serve(sock, port, script, &seen, &stop, &counts));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        Peer { port, stop, counts, seen }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_frame(sock: &mut TcpStream) -> Option<Bytes> {
    let mut len = [0u8; 4];
    sock.read_exact(&mut len).ok()?;
    let n = u32::from_be_bytes(len) as usize;
    if n > 16 << 20 {
        return None;
    }
    let mut body = vec![0u8; n];
    sock.read_exact(&mut body).ok()?;
    Some(Bytes::from(body))
}

/// One request's header fields.
struct Req {
    key: ApiKey,
    version: i16,
    cid: i32,
    body: Bytes,
}

fn parse_request(frame: Bytes) -> Option<Req> {
    if frame.len() < 8 {
        return None;
    }
    let key = ApiKey::try_from(i16::from_be_bytes([frame[0], frame[1]])).ok()?;
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let mut buf = frame;
    let header = RequestHeader::decode(&mut buf, key.request_header_version(version)).ok()?;
    Some(Req { key, version, cid: header.correlation_id, body: buf })
}

fn response_header_version(key: ApiKey, version: i16) -> i16 {
    if key == ApiKey::ApiVersions { 0 } else { key.response_header_version(version) }
}

/// A response frame body (correlation id, header, `body`) without the size prefix.
fn frame_body(key: ApiKey, version: i16, cid: i32, body: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    out.put_i32(cid);
    if response_header_version(key, version) >= 1 {
        out.put_u8(0); // no tagged fields
    }
    out.put_slice(body);
    out
}

fn with_prefix(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len() + 4);
    out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
    out.extend_from_slice(frame);
    out
}

fn enc<M: Encodable>(m: &M, version: i16) -> Bytes {
    let mut b = BytesMut::new();
    m.encode(&mut b, version).expect("encode fake response");
    b.freeze()
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn api_versions(version: i16) -> Bytes {
    let mut r = ApiVersionsResponse::default();
    r.api_keys = KWIRE_VERSIONS
        .iter()
        .map(|(k, _)| {
            let v = k.valid_versions();
            let mut a = ApiVersion::default();
            a.api_key = *k as i16;
            a.min_version = v.min;
            a.max_version = v.max;
            a
        })
        .collect();
    enc(&r, version)
}

fn metadata(req: &Req, port: u16) -> Bytes {
    let v = req.version;
    let mut m = MetadataResponse::default();
    let mut b = metadata_response::MetadataResponseBroker::default();
    b.node_id = BrokerId(1);
    b.host = sb("127.0.0.1");
    b.port = i32::from(port);
    m.brokers = vec![b];
    m.cluster_id = Some(sb("hostile-cluster"));
    m.controller_id = BrokerId(1);
    let mut p = metadata_response::MetadataResponsePartition::default();
    p.partition_index = 0;
    p.leader_id = BrokerId(1);
    p.leader_epoch = 0;
    p.replica_nodes = vec![BrokerId(1)];
    p.isr_nodes = vec![BrokerId(1)];
    let mut t = metadata_response::MetadataResponseTopic::default();
    t.name = Some(TopicName(sb(TOPIC)));
    if v >= 10 {
        t.topic_id = uuid_of(TOPIC_ID);
    }
    t.partitions = vec![p];
    m.topics = vec![t];
    let _ = MetadataRequest::decode(&mut req.body.clone(), v);
    enc(&m, v)
}

fn uuid_of(b: [u8; 16]) -> uuid::Uuid {
    uuid::Uuid::from_bytes(b)
}

fn init_producer_id(req: &Req) -> Bytes {
    let mut r = InitProducerIdResponse::default();
    r.producer_id = ProducerId(1000);
    r.producer_epoch = 0;
    enc(&r, req.version)
}

fn produce(req: &Req) -> Bytes {
    let v = req.version;
    let parsed = ProduceRequest::decode(&mut req.body.clone(), v).ok();
    let mut r = ProduceResponse::default();
    for t in parsed.map(|p| p.topic_data).unwrap_or_default() {
        let mut tr = produce_response::TopicProduceResponse::default();
        tr.name = t.name.clone();
        for p in t.partition_data {
            let mut pr = produce_response::PartitionProduceResponse::default();
            pr.index = p.index;
            pr.base_offset = 0;
            pr.log_append_time_ms = -1;
            pr.log_start_offset = 0;
            tr.partition_responses.push(pr);
        }
        r.responses.push(tr);
    }
    enc(&r, v)
}

fn list_offsets(req: &Req) -> Bytes {
    list_offsets_ending_at(req, 1)
}

/// A ListOffsets answer whose latest offset is `end` (earliest: 0).
fn list_offsets_ending_at(req: &Req, end: i64) -> Bytes {
    let v = req.version;
    let parsed = ListOffsetsRequest::decode(&mut req.body.clone(), v).ok();
    let mut r = ListOffsetsResponse::default();
    for t in parsed.map(|p| p.topics).unwrap_or_default() {
        let mut tr = list_offsets_response::ListOffsetsTopicResponse::default();
        tr.name = t.name.clone();
        for p in t.partitions {
            let mut pr = list_offsets_response::ListOffsetsPartitionResponse::default();
            pr.partition_index = p.partition_index;
            pr.timestamp = -1;
            // earliest (-2) -> 0; latest (-1) and anything else -> `end` (1: one record to read).
            pr.offset = if p.timestamp == -2 { 0 } else { end };
            pr.leader_epoch = 0;
            tr.partitions.push(pr);
        }
        r.topics.push(tr);
    }
    enc(&r, v)
}

/// One record, offset 0: what a normal Fetch answer carries.
fn one_record_batch() -> Bytes {
    let mut b = RecordBatchBuilder::new(BatchOptions::default());
    b.append(1_700_000_000_000, None, Some(b"hello"), &[]).expect("append");
    b.finish().expect("finish").into_bytes()
}

/// A gzip batch whose single record's bytes inflate to 1 GiB of zeros:
/// 1024 concatenated gzip members of 1 MiB of zeros each (about 1 MB).
fn gzip_bomb_batch() -> Bytes {
    let zeros = vec![0u8; 1 << 20];
    let mut member = BytesMut::new();
    compression::compress(Compression::Gzip, &zeros, Some(9), &mut member).expect("gzip");
    let mut records = BytesMut::with_capacity(member.len() * 1024);
    for _ in 0..1024 {
        records.extend_from_slice(&member);
    }
    v2_batch(0, 1, Compression::Gzip, &records)
}

/// A CRC-correct v2 batch with a valid single record but `record_count` i32::MAX.
fn record_count_max_batch() -> Bytes {
    let good = one_record_batch();
    let records = good.slice(kwire_proto::records::V2_HEADER_SIZE..);
    v2_batch(0, i32::MAX, Compression::None, &records)
}

/// A v2 batch with the given header fields around `records` (already
/// compressed with `codec`), with a correct CRC-32C.
fn v2_batch(base_offset: i64, record_count: i32, codec: Compression, records: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i64(base_offset);
    b.put_i32((49 + records.len()) as i32); // batch length: from leader epoch to the end
    b.put_i32(0); // partition leader epoch
    b.put_i8(2); // magic
    b.put_u32(0); // crc, filled below
    b.put_i16(i16::from(codec.id())); // attributes
    b.put_i32(0); // last offset delta
    b.put_i64(1_700_000_000_000); // base timestamp
    b.put_i64(1_700_000_000_000); // max timestamp
    b.put_i64(-1); // producer id
    b.put_i16(-1); // producer epoch
    b.put_i32(-1); // base sequence
    b.put_i32(record_count);
    b.put_slice(records);
    let crc = crc32c_of(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

/// CRC-32C (Castagnoli), bitwise: test-only, fast enough for a few MB.
fn crc32c_of(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0x82F6_3B78 ^ (c >> 1) } else { c >> 1 };
        }
        *slot = c;
    }
    let mut crc = !0u32;
    for &byte in data {
        crc = table[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

fn fetch(req: &Req, records: Bytes) -> Bytes {
    let v = req.version;
    let parsed = FetchRequest::decode(&mut req.body.clone(), v).ok();
    let mut r = FetchResponse::default();
    r.session_id = 0;
    for t in parsed.map(|p| p.topics).unwrap_or_default() {
        let mut tr = fetch_response::FetchableTopicResponse::default();
        tr.topic = t.topic.clone();
        tr.topic_id = t.topic_id;
        for p in t.partitions {
            let mut pr = fetch_response::PartitionData::default();
            pr.partition_index = p.partition;
            pr.high_watermark = 1;
            pr.last_stable_offset = 1;
            pr.log_start_offset = 0;
            pr.records = Some(records.clone());
            tr.partitions.push(pr);
        }
        r.responses.push(tr);
    }
    enc(&r, v)
}

/// The normal answer to `req`, or `None` for an API the fake doesn't serve.
fn normal(req: &Req, port: u16) -> Option<Bytes> {
    Some(match req.key {
        ApiKey::ApiVersions => api_versions(req.version),
        ApiKey::Metadata => metadata(req, port),
        ApiKey::InitProducerId => init_producer_id(req),
        ApiKey::Produce => produce(req),
        ApiKey::ListOffsets => list_offsets(req),
        ApiKey::Fetch => fetch(req, one_record_batch()),
        _ => return None,
    })
}

/// Bytes before the first array of the target response bodies.
fn prefix_before_first_array(key: ApiKey, v: i16) -> usize {
    match key {
        ApiKey::Metadata if v >= 3 => 4,
        ApiKey::Fetch if v >= 7 => 10,
        ApiKey::Fetch => 4,
        ApiKey::ListOffsets if v >= 2 => 4,
        _ => 0,
    }
}

fn flexible(key: ApiKey, v: i16) -> bool {
    key.response_header_version(v) >= 1
}

fn reset(sock: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt on a valid, owned socket fd with a correctly sized struct.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(sock); // close with linger 0: RST
}

enum Next {
    Continue,
    Close,
}

fn serve(
    mut sock: TcpStream,
    port: u16,
    script: Script,
    seen: &Mutex<Vec<String>>,
    stop: &AtomicBool,
    counts: &Counts,
) {
    while let Some(frame) = read_frame(&mut sock) {
        let Some(req) = parse_request(frame) else { return };
        if let Ok(mut s) = seen.lock() {
            s.push(format!("{:?} v{}", req.key, req.version));
        }
        let hit = req.key == script.target;
        let next =
            if hit { hostile(&mut sock, &req, port, script.hostile, stop, counts) } else { Next::Continue };
        if hit {
            match next {
                Next::Close => return,
                Next::Continue => continue,
            }
        }
        let Some(body) = normal(&req, port) else { return };
        if req.key == ApiKey::Fetch {
            counts.fetches.fetch_add(1, Ordering::SeqCst);
        }
        let frame = frame_body(req.key, req.version, req.cid, &body);
        if sock.write_all(&with_prefix(&frame)).is_err() {
            return;
        }
        if req.key == ApiKey::ApiVersions && script.hostile == Hostile::ResponseToNothing {
            // Nothing is in flight now: an answer to a request never made.
            let stray =
                frame_body(ApiKey::Metadata, 1, 0x5eed_0001, &metadata(&req_as(ApiKey::Metadata, 1), port));
            if sock.write_all(&with_prefix(&stray)).is_err() {
                return;
            }
        }
    }
}

fn req_as(key: ApiKey, version: i16) -> Req {
    Req { key, version, cid: 0, body: Bytes::new() }
}

fn hostile(
    sock: &mut TcpStream,
    req: &Req,
    port: u16,
    h: Hostile,
    stop: &AtomicBool,
    counts: &Counts,
) -> Next {
    let valid = || {
        let body = normal(req, port).unwrap_or_default();
        frame_body(req.key, req.version, req.cid, &body)
    };
    let w = |sock: &mut TcpStream, b: &[u8]| sock.write_all(b).is_ok();
    match h {
        Hostile::LenPrefix2G => {
            w(sock, &0x7fff_ffffu32.to_be_bytes());
            Next::Continue
        }
        Hostile::NegativeLen => {
            w(sock, &0x8000_0000u32.to_be_bytes());
            Next::Continue
        }
        Hostile::ArrayCountMax => {
            let mut body = BytesMut::new();
            body.put_bytes(0, prefix_before_first_array(req.key, req.version));
            if flexible(req.key, req.version) {
                // compact array: count + 1 as an unsigned varint (0x8000_0000)
                body.put_slice(&[0x80, 0x80, 0x80, 0x80, 0x08]);
            } else {
                body.put_i32(0x7fff_ffff);
            }
            body.put_bytes(0, 8);
            w(sock, &with_prefix(&frame_body(req.key, req.version, req.cid, &body)));
            Next::Continue
        }
        Hostile::TruncatedThenClose => {
            let full = with_prefix(&valid());
            w(sock, &full[..full.len() / 2 + 2]);
            let _ = sock.shutdown(Shutdown::Both);
            Next::Close
        }
        Hostile::WrongCorrelationId => {
            let body = normal(req, port).unwrap_or_default();
            let frame = frame_body(req.key, req.version, req.cid ^ 0x4000_0000, &body);
            w(sock, &with_prefix(&frame));
            Next::Continue
        }
        Hostile::ResponseToNothing => {
            // Handled right after the handshake; the target is answered normally.
            let frame = valid();
            w(sock, &with_prefix(&frame));
            Next::Continue
        }
        Hostile::ExtraBytes => {
            let mut frame = valid();
            frame.put_bytes(0xab, 16);
            w(sock, &with_prefix(&frame));
            Next::Continue
        }
        Hostile::OneBytePerSecond => {
            let full = with_prefix(&valid());
            for b in full {
                if stop.load(Ordering::Relaxed) || !w(sock, &[b]) {
                    return Next::Close;
                }
                thread::sleep(Duration::from_secs(1));
            }
            Next::Continue
        }
        Hostile::ResetMidFrame => {
            let full = with_prefix(&valid());
            w(sock, &full[..full.len() / 2 + 2]);
            thread::sleep(Duration::from_millis(50));
            if let Ok(s) = sock.try_clone() {
                reset(s);
            }
            Next::Close
        }
        Hostile::TlsAlert => {
            // TLS record: alert(21), TLS 1.2, length 2, fatal(2), protocol_version(70).
            w(sock, &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]);
            thread::sleep(Duration::from_millis(50));
            let _ = sock.shutdown(Shutdown::Both);
            Next::Close
        }
        Hostile::LatestLags | Hostile::LatestLost => {
            let fetched = counts.fetches.load(Ordering::SeqCst) > 0;
            let behind = fetched
                && req.key == ApiKey::ListOffsets
                && (h == Hostile::LatestLost || counts.behind.load(Ordering::SeqCst) < LAGGING);
            let body = if behind {
                counts.behind.fetch_add(1, Ordering::SeqCst);
                list_offsets_ending_at(req, 0)
            } else {
                normal(req, port).unwrap_or_default()
            };
            w(sock, &with_prefix(&frame_body(req.key, req.version, req.cid, &body)));
            Next::Continue
        }
        Hostile::DecompressionBomb | Hostile::RecordCountMax => {
            if req.key != ApiKey::Fetch {
                return Next::Close;
            }
            let batch =
                if h == Hostile::DecompressionBomb { gzip_bomb_batch() } else { record_count_max_batch() };
            let body = fetch(req, batch);
            w(sock, &with_prefix(&frame_body(req.key, req.version, req.cid, &body)));
            Next::Continue
        }
    }
}
