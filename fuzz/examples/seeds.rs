//! Writes the synthetic part of the seed corpora (`fuzz/corpus/<target>/`):
//! valid inputs built with kwire's encoders and `kafka-protocol`'s, so every
//! target starts from inputs that get deep into its decoder. Real broker
//! responses come from `fuzz/tools/capture.py` (see docs/fuzzing.md).
//!
//!     cd fuzz && cargo +nightly run --example seeds -- corpus
//!
//! Files are named by a hash of their content; rerunning is idempotent.

use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes, BytesMut};
use kwire_proto::api::{ApiKey, KWIRE_VERSIONS};
use kwire_proto::kafka_protocol::messages::{self as kp, BrokerId, TopicName};
use kwire_proto::kafka_protocol::protocol::{Encodable, StrBytes};
use kwire_proto::msg::group::{ConsumerAssignment, ConsumerSubscription, TopicPartitions};
use kwire_proto::records::compression::compress;
use kwire_proto::records::{BatchOptions, Compression, Header, RecordBatchBuilder};

struct Out {
    root: PathBuf,
    n: usize,
}

impl Out {
    fn put(&mut self, target: &str, data: &[u8]) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("mkdir");
        // FNV-1a 64: stable names without extra dependencies.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in data {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        std::fs::write(dir.join(format!("seed-{h:016x}")), data).expect("write seed");
        self.n += 1;
    }
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn enc<M: Encodable>(m: &M, v: i16) -> Option<Bytes> {
    let mut b = BytesMut::new();
    m.encode(&mut b, v).ok()?;
    Some(b.freeze())
}

/// Response frame body: correlation id, header tagged fields, body.
fn frame_body(key: ApiKey, v: i16, cid: i32, body: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    out.put_i32(cid);
    if kwire_proto::api::response_header_version(key, v) >= 1 {
        out.put_u8(0);
    }
    out.put_slice(body);
    out
}

fn batch(codec: Compression, n: usize, txn: bool, control: bool) -> Bytes {
    let mut opts = BatchOptions::default().compression(codec).base_offset(42);
    if txn {
        opts = opts.transactional(true).producer(7, 1, 0);
    }
    if control {
        opts = opts.control(true).transactional(true).producer(7, 1, 0);
    }
    let mut b = RecordBatchBuilder::new(opts);
    for i in 0..n {
        if control {
            // Control record: key = version 0, type 1 (commit); value = version, coordinator epoch.
            b.append(1_700_000_000_000, Some(&[0, 0, 0, 1]), Some(&[0, 0, 0, 0, 0, 5]), &[]).expect("append");
            break;
        }
        let key = format!("k{i}");
        let value = format!("{{\"gender\":\"F\",\"age\":{},\"party\":\"p{}\"}}", 20 + i, i % 3);
        let headers = if i % 2 == 0 {
            vec![Header::new(b"h".to_vec(), Some(Bytes::from_static(b"v")))]
        } else {
            vec![]
        };
        b.append(1_700_000_000_000 + i as i64, Some(key.as_bytes()), Some(value.as_bytes()), &headers)
            .expect("append");
    }
    b.finish().expect("finish").into_bytes()
}

/// A legacy (magic 0 or 1) message set of one message, optionally wrapping
/// an inner compressed message set.
fn legacy(magic: u8, codec: Compression, key: &[u8], value: &[u8], offset: i64) -> Vec<u8> {
    let mut body = Vec::new();
    body.push(magic);
    body.push(codec.id());
    if magic == 1 {
        body.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    }
    body.extend_from_slice(&(key.len() as i32).to_be_bytes());
    body.extend_from_slice(key);
    body.extend_from_slice(&(value.len() as i32).to_be_bytes());
    body.extend_from_slice(value);
    let crc = crc32fast::hash(&body);
    let mut m = Vec::new();
    m.extend_from_slice(&offset.to_be_bytes());
    m.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    m.extend_from_slice(&crc.to_be_bytes());
    m.extend_from_slice(&body);
    m
}

fn legacy_sets() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for magic in [0u8, 1] {
        let mut plain = legacy(magic, Compression::None, b"k", b"v0", 0);
        plain.extend(legacy(magic, Compression::None, b"", b"v1", 1));
        out.push(plain.clone());
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
            let mut c = BytesMut::new();
            compress(codec, &plain, None, &mut c).expect("compress");
            out.push(legacy(magic, codec, b"", &c, 1));
        }
    }
    out
}

fn fetch_response(v: i16, records: Bytes) -> kp::FetchResponse {
    let mut r = kp::FetchResponse::default();
    let mut t = kp::fetch_response::FetchableTopicResponse::default();
    if v >= 13 {
        t.topic_id = uuid::Uuid::from_bytes(*b"fuzz-topic-id-16");
    } else {
        t.topic = TopicName(sb("t"));
    }
    let mut p = kp::fetch_response::PartitionData::default();
    p.high_watermark = 10;
    p.last_stable_offset = 10;
    p.log_start_offset = 0;
    if v >= 4 {
        let mut a = kp::fetch_response::AbortedTransaction::default();
        a.producer_id = kp::ProducerId(7);
        a.first_offset = 3;
        p.aborted_transactions = Some(vec![a]);
    }
    p.records = Some(records);
    t.partitions = vec![p];
    r.responses = vec![t];
    r
}

fn metadata_response(v: i16) -> kp::MetadataResponse {
    let mut m = kp::MetadataResponse::default();
    let mut b = kp::metadata_response::MetadataResponseBroker::default();
    b.node_id = BrokerId(1);
    b.host = sb("127.0.0.1");
    b.port = 9092;
    if v >= 1 {
        b.rack = Some(sb("r1"));
    }
    m.brokers = vec![b];
    if v >= 2 {
        m.cluster_id = Some(sb("fuzz-cluster"));
    }
    m.controller_id = BrokerId(1);
    let mut p = kp::metadata_response::MetadataResponsePartition::default();
    p.leader_id = BrokerId(1);
    p.replica_nodes = vec![BrokerId(1), BrokerId(2)];
    p.isr_nodes = vec![BrokerId(1)];
    let mut t = kp::metadata_response::MetadataResponseTopic::default();
    t.name = Some(TopicName(sb("t")));
    if v >= 10 {
        t.topic_id = uuid::Uuid::from_bytes(*b"fuzz-topic-id-16");
    }
    t.partitions = vec![p.clone(), p];
    m.topics = vec![t];
    m
}

fn subscription() -> ConsumerSubscription {
    ConsumerSubscription {
        version: 3,
        topics: vec!["t".into(), "u".into()],
        user_data: Some(Bytes::from_static(b"ud")),
        owned_partitions: vec![TopicPartitions { topic: "t".into(), partitions: vec![0, 1] }],
        generation_id: 4,
        rack_id: Some("r1".into()),
    }
}

fn assignment() -> ConsumerAssignment {
    ConsumerAssignment {
        version: 3,
        partitions: vec![TopicPartitions { topic: "t".into(), partitions: vec![0, 2] }],
        user_data: None,
    }
}

/// A default (all-zero, empty) response of `key` at `v`.
fn default_response(key: ApiKey, v: i16) -> Option<Bytes> {
    use ApiKey as K;
    match key {
        K::Metadata => enc(&metadata_response(v), v),
        K::ApiVersions => {
            let mut r = kp::ApiVersionsResponse::default();
            r.api_keys = KWIRE_VERSIONS
                .iter()
                .map(|(k, vr)| {
                    let mut a = kp::api_versions_response::ApiVersion::default();
                    a.api_key = *k as i16;
                    a.min_version = vr.min;
                    a.max_version = vr.max;
                    a
                })
                .collect();
            enc(&r, v)
        }
        K::CreateTopics => enc(&kp::CreateTopicsResponse::default(), v),
        K::DeleteTopics => enc(&kp::DeleteTopicsResponse::default(), v),
        K::CreatePartitions => enc(&kp::CreatePartitionsResponse::default(), v),
        K::DescribeConfigs => enc(&kp::DescribeConfigsResponse::default(), v),
        K::IncrementalAlterConfigs => enc(&kp::IncrementalAlterConfigsResponse::default(), v),
        K::Produce => {
            let mut r = kp::ProduceResponse::default();
            let mut t = kp::produce_response::TopicProduceResponse::default();
            t.name = TopicName(sb("t"));
            t.partition_responses = vec![kp::produce_response::PartitionProduceResponse::default()];
            r.responses = vec![t];
            enc(&r, v)
        }
        K::InitProducerId => enc(&kp::InitProducerIdResponse::default(), v),
        K::Fetch => enc(&fetch_response(v, batch(Compression::None, 3, false, false)), v),
        K::ListOffsets => enc(&kp::ListOffsetsResponse::default(), v),
        K::FindCoordinator => enc(&kp::FindCoordinatorResponse::default(), v),
        K::JoinGroup => {
            let mut r = kp::JoinGroupResponse::default();
            let mut m = kp::join_group_response::JoinGroupResponseMember::default();
            m.member_id = sb("m-1");
            m.metadata = subscription().encode().ok()?;
            r.members = vec![m];
            r.protocol_name = Some(sb("range"));
            enc(&r, v)
        }
        K::SyncGroup => {
            let mut r = kp::SyncGroupResponse::default();
            r.assignment = assignment().encode().ok()?;
            enc(&r, v)
        }
        K::Heartbeat => enc(&kp::HeartbeatResponse::default(), v),
        K::LeaveGroup => enc(&kp::LeaveGroupResponse::default(), v),
        K::OffsetCommit => enc(&kp::OffsetCommitResponse::default(), v),
        K::OffsetFetch => enc(&kp::OffsetFetchResponse::default(), v),
        K::ListGroups => enc(&kp::ListGroupsResponse::default(), v),
        K::DescribeGroups => enc(&kp::DescribeGroupsResponse::default(), v),
        K::DeleteGroups => enc(&kp::DeleteGroupsResponse::default(), v),
        K::OffsetDelete => enc(&kp::OffsetDeleteResponse::default(), v),
        K::ConsumerGroupHeartbeat => enc(&kp::ConsumerGroupHeartbeatResponse::default(), v),
        K::ConsumerGroupDescribe => enc(&kp::ConsumerGroupDescribeResponse::default(), v),
        K::SaslHandshake => {
            let mut r = kp::SaslHandshakeResponse::default();
            r.mechanisms = vec![sb("PLAIN"), sb("SCRAM-SHA-256")];
            enc(&r, v)
        }
        K::SaslAuthenticate => {
            let mut r = kp::SaslAuthenticateResponse::default();
            r.auth_bytes = Bytes::from_static(b"r=nonce,s=c2FsdA==,i=4096");
            enc(&r, v)
        }
        _ => None,
    }
}

fn response_seed(key: ApiKey, v: i16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(key as i16).to_be_bytes());
    out.extend_from_slice(&v.to_be_bytes());
    out.extend_from_slice(&frame_body(key, v, 1, body));
    out
}

fn main() {
    let root = std::env::args().nth(1).map_or_else(|| PathBuf::from("corpus"), PathBuf::from);
    let mut out = Out { root: root.clone(), n: 0 };
    let batches: Vec<Bytes> = Compression::ALL.iter().map(|&c| batch(c, 5, false, false)).collect();

    // response: every (key, version) kwire decodes; Fetch with every codec.
    for (key, range) in KWIRE_VERSIONS {
        for v in range.min..=range.max {
            match default_response(*key, v) {
                Some(body) => out.put("response", &response_seed(*key, v, &body)),
                None => eprintln!("no seed for {key:?} v{v}"),
            }
        }
    }
    for v in [4, 11, 12, 13, 16] {
        for (i, b) in batches.iter().enumerate() {
            if i == 0 {
                continue;
            }
            if let Some(body) = enc(&fetch_response(v, b.clone()), v) {
                out.put("response", &response_seed(ApiKey::Fetch, v, &body));
            }
        }
        let mut two = BytesMut::new();
        two.extend_from_slice(&batch(Compression::None, 2, true, false));
        two.extend_from_slice(&batch(Compression::None, 1, false, true));
        if let Some(body) = enc(&fetch_response(v, two.freeze()), v) {
            out.put("response", &response_seed(ApiKey::Fetch, v, &body));
        }
    }

    // records: flags (0: no CRC check, 1: CRC, 3: CRC fixed up) + record sets.
    let mut sets: Vec<Vec<u8>> = batches.iter().map(|b| b.to_vec()).collect();
    sets.push(batch(Compression::None, 1, true, false).to_vec());
    sets.push(batch(Compression::None, 1, false, true).to_vec());
    let mut concat = batches[0].to_vec();
    concat.extend_from_slice(&batches[1]);
    concat.extend_from_slice(&batches[0][..batches[0].len() / 2]); // truncated last batch
    sets.push(concat);
    sets.extend(legacy_sets());
    for s in &sets {
        for flags in [1u8, 3] {
            let mut v = vec![flags];
            v.extend_from_slice(s);
            out.put("records", &v);
        }
    }

    // decompress: each codec, limit byte 10 (1 MiB) and 0 (1 KiB: the bomb path).
    let plain: Vec<u8> = (0..3000u32).flat_map(|i| format!("row {i} {}\n", i % 7).into_bytes()).collect();
    for codec in Compression::ALL {
        let mut c = BytesMut::new();
        compress(codec, &plain, None, &mut c).expect("compress");
        for limit in [10u8, 0] {
            let mut v = vec![codec.id(), limit];
            v.extend_from_slice(&c);
            out.put("decompress", &v);
        }
    }

    // frame: cap, seed, then frames (one of them over a 64-byte cap; a TLS alert).
    let mut stream = Vec::new();
    for body in [&b"abc"[..], &[0u8; 100][..], b""] {
        stream.extend_from_slice(&(body.len() as u32).to_be_bytes());
        stream.extend_from_slice(body);
    }
    for (cap, seed) in [(1024u16, 7u8), (64, 1), (0, 3)] {
        let mut v = cap.to_be_bytes().to_vec();
        v.push(seed);
        v.extend_from_slice(&stream);
        out.put("frame", &v);
    }
    out.put("frame", &[4, 0, 1, 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]);
    out.put("frame", &[4, 0, 1, 0xff, 0xff, 0xff, 0xff]);

    // conn: control byte, then Metadata v12 answers to correlation ids 1..=4.
    let md = enc(&metadata_response(12), 12).expect("metadata v12");
    for ctl in [0u8, 3, 4 | 3, 0x38] {
        let n = i32::from(ctl & 3) + 1;
        let mut v = vec![ctl];
        for cid in (1..=n).rev() {
            let f = frame_body(ApiKey::Metadata, 12, cid, &md);
            v.extend_from_slice(&(f.len() as u32).to_be_bytes());
            v.extend_from_slice(&f);
        }
        out.put("conn", &v);
    }

    // consumer_protocol
    for ver in [0i16, 1, 2, 3] {
        let s = ConsumerSubscription { version: ver, ..subscription() };
        let a = ConsumerAssignment { version: ver, ..assignment() };
        let mut v = vec![0u8];
        v.extend_from_slice(&s.encode().expect("subscription"));
        out.put("consumer_protocol", &v);
        let mut v = vec![1u8];
        v.extend_from_slice(&a.encode().expect("assignment"));
        out.put("consumer_protocol", &v);
    }

    // json: schema line + value.
    let values = [
        r#"{"gender":"F","age":34,"party":"green"}"#,
        r#"{"gender":null,"age":"x","party":["a"],"nested":{"a":[1,2,{"b":null}]}}"#,
        r#"{"voter":{"name":"ann","age":3,"addr":{"city":"x","zip":1},"scores":[1.5,-2e10]},"tags":["a","b"],"nums":[1,2,3]}"#,
        r#"{"ts":"2024-01-02T03:04:05.678Z","day":"2024-02-29","amount":"12.34","raw":"AAEC","ok":true,"d":1e308,"f":-0.0}"#,
        r#"{"i":2147483648,"s":-32769,"b":128,"age":9223372036854775807}"#,
        r#"{"a":"\ud83d\ude00\u0000\n","odd name":"q"}"#,
        "[1,2]",
        "null",
        "{\"gender\":",
    ];
    for (i, val) in values.iter().enumerate() {
        let schema = match i % 3 {
            0 => "gender STRING, age BIGINT, party STRING",
            1 => "",
            _ => "x",
        };
        out.put("json", format!("{schema}\n{val}").as_bytes());
    }

    // ddl_expr: selector + text.
    let ddl = [
        (0u8, "gender STRING, age BIGINT, party STRING"),
        (0, "a STRUCT<b: ARRAY<MAP<STRING, DECIMAL(38, 10)>>, `c d`: TIMESTAMP> NOT NULL COMMENT 'x'"),
        (1, "ARRAY<STRUCT<x: INT, y: DOUBLE>>"),
        (2, "count(*) AS n"),
        (2, "CASE WHEN age > 30 AND party = 'g' THEN upper(gender) ELSE NULL END"),
        (3, "window(timestamp, '10 seconds', '5 seconds') AS w"),
        (4, "gender, avg(age) AS avg_age, max(value.x) FILTER (WHERE y IS NOT NULL)"),
        (4, "CAST(value AS STRING), from_json(CAST(value AS STRING), 'a INT').a + 1 * -2 % 3"),
        (5, r#"{"t":{"0":23,"1":-2},"u":{"0":-1}}"#),
        (6, "10 seconds"),
        (6, "availableNow"),
        (7, "complete"),
    ];
    for (sel, text) in ddl {
        let mut v = vec![sel];
        v.extend_from_slice(text.as_bytes());
        out.put("ddl_expr", &v);
    }

    // props
    for text in [
        "bootstrap.servers=127.0.0.1:9092\nsecurity.protocol=SASL_SSL\n",
        "# comment\n! also\nkey = value \\\n    continued\nunicode=\\u00e9\\t\nempty=\nlinger.ms:5\nacks all\n",
        "request.timeout.ms=30000\nenable.idempotence=true\nbatch.size=16384\nx=\\\n",
    ] {
        out.put("props", text.as_bytes());
    }

    // cli_spec: selector + text; selector 3: 8 bytes of epoch ms.
    for (sel, text) in [
        (0u8, "earliest"),
        (0, "latest"),
        (0, "-5"),
        (0, "1234"),
        (0, "@2024-01-01T00:00:00Z"),
        (1, "2024-02-29T23:59:59.999+05:30"),
        (1, "1700000000000"),
        (2, "PT1H30M"),
        (2, "P1DT0.5S"),
    ] {
        let mut v = vec![sel];
        v.extend_from_slice(text.as_bytes());
        out.put("cli_spec", &v);
    }
    for ms in [0i64, 1_700_000_000_123, -1, 253_402_300_799_999, -62_167_219_200_000] {
        let mut v = vec![3u8];
        v.extend_from_slice(&ms.to_be_bytes());
        out.put("cli_spec", &v);
    }

    // roundtrip: `arbitrary` input; any bytes are an input, these are a start.
    for seed in 0u32..8 {
        let mut x = seed.wrapping_mul(2_654_435_761) | 1;
        let v: Vec<u8> = (0..64 + seed * 40)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        out.put("roundtrip", &v);
    }

    eprintln!("wrote {} seeds under {}", out.n, Path::new(&root).display());
}
