//! Shared helpers of kwire's fuzz targets (see `docs/fuzzing.md`).
//!
//! - A counting global allocator: every target measures the peak heap its
//!   decoder call adds and fails when it exceeds a small multiple of the input
//!   ([`check_budget`]). libFuzzer's `-malloc_limit_mb` catches one huge
//!   allocation; this catches many moderate ones adding up.
//! - The response dispatcher over [`KWIRE_VERSIONS`]: the input names an API
//!   key and version; the rest is a response frame body.
//! - A full walk of record batches (records, headers, control records), used
//!   by the `records` and `response` targets.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use kwire_proto::api::{ApiKey, KWIRE_VERSIONS};
use kwire_proto::kafka_protocol::messages as kp;
use kwire_proto::records::{DecodeOptions, RecordsError, batches};
use kwire_proto::{DecodeError, Request, decode_response};

// ---------------------------------------------------------------------------
// Heap accounting.

/// A pass-through allocator that tracks live and peak heap bytes.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[inline]
fn grew(n: usize) {
    let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

#[inline]
fn shrank(n: usize) {
    LIVE.fetch_sub(n, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result with the peak number of heap bytes it
/// had allocated on top of what was live before.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    (out, peak)
}

/// Heap a decoder may add for `input_len` bytes of input: 64 bytes per input
/// byte (decoded structs are wider than their wire form: a 2-byte empty
/// string becomes a 24-byte `String`) plus 1 MiB of slack (array capacity
/// guesses of up to 256 elements per nesting level, codec state).
pub fn budget(input_len: usize) -> usize {
    input_len.saturating_mul(64).saturating_add(1 << 20)
}

/// Runs `f` and panics (a finding) if it allocated more than
/// [`budget`]`(input_len) + extra` at its peak. `extra` is for allocations
/// the caller allowed on purpose, e.g. a configured decompression limit.
pub fn check_budget<T>(what: &str, input_len: usize, extra: usize, f: impl FnOnce() -> T) -> T {
    let (out, peak) = measure(f);
    let allowed = budget(input_len).saturating_add(extra);
    assert!(
        peak <= allowed,
        "{what}: peak heap {peak} bytes for {input_len} input bytes exceeds the budget of {allowed}"
    );
    out
}

// ---------------------------------------------------------------------------
// Response dispatch.

/// Decompression limit the targets use: small enough to run fast, large
/// enough that real batches decode. The codecs' bounding logic is the same
/// for every limit.
pub const FUZZ_MAX_DECOMPRESSED: usize = 1 << 20;

/// Heap allowed on top of [`budget`] for walking record batches with
/// `max_decompressed` = `limit`: the output buffer (doubling, so up to
/// 2 × limit while it moves) and a zstd decoder's window buffer. kwire
/// refuses windows above max(limit, 8 MiB); `ruzstd` keeps the window in a
/// power-of-two ring buffer and peaks at about 3 × that while decoding
/// (measured and pinned by `crates/proto/tests/zstd_window_memory.rs`; the
/// first version of this allowance counted the window once, and a 307-byte
/// frame with a 7.5 MiB window exceeded it).
pub fn decompress_allowance(limit: usize) -> usize {
    let window = limit.max(8 << 20).checked_next_power_of_two().unwrap_or(usize::MAX);
    limit.saturating_mul(3).saturating_add(window.saturating_mul(3))
}

/// Picks a (key, version) that kwire decodes from two raw `i16`s: the pair
/// itself when it is in [`KWIRE_VERSIONS`], otherwise the key indexes the
/// table and the version is folded into that API's range, so every input
/// exercises some decoder.
pub fn pick_api(key: i16, version: i16) -> (ApiKey, i16) {
    if let Some((k, v)) = KWIRE_VERSIONS.iter().find(|(k, _)| *k as i16 == key) {
        if v.contains(version) {
            return (*k, version);
        }
        let span = (v.max - v.min + 1) as u16;
        return (*k, v.min + (version as u16 % span) as i16);
    }
    let (k, v) = KWIRE_VERSIONS[key as u16 as usize % KWIRE_VERSIONS.len()];
    let span = (v.max - v.min + 1) as u16;
    (k, v.min + (version as u16 % span) as i16)
}

/// What decoding one response produced, for the caller to walk further.
pub enum Decoded {
    /// Any response but Fetch: only "no panic, bounded heap" matters.
    Other,
    /// A Fetch response: the partitions' record sets.
    Fetch(Vec<Bytes>),
    /// JoinGroup member metadata (consumer protocol subscriptions).
    Join(Vec<Bytes>),
    /// SyncGroup / ConsumerGroup assignment bytes.
    Sync(Bytes),
}

fn dec<R: Request>(frame: Bytes, v: i16) -> Result<R::Response, DecodeError> {
    decode_response::<R>(frame, v).map(|(_, r)| r)
}

/// Decodes `frame` (a response frame body: correlation id, header, body) as
/// the response to `key` at `version`, with kwire's own decoder. Every
/// (key, version) in [`KWIRE_VERSIONS`] is handled; anything else is
/// `Err(Unsupported)`.
pub fn decode_any(key: ApiKey, version: i16, frame: Bytes) -> Result<Decoded, DecodeError> {
    use ApiKey as K;
    let v = version;
    Ok(match key {
        K::Metadata => dec::<kp::MetadataRequest>(frame, v).map(|_| Decoded::Other)?,
        K::ApiVersions => dec::<kp::ApiVersionsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::CreateTopics => dec::<kp::CreateTopicsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DeleteTopics => dec::<kp::DeleteTopicsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DeleteRecords => dec::<kp::DeleteRecordsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DescribeLogDirs => dec::<kp::DescribeLogDirsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::CreatePartitions => dec::<kp::CreatePartitionsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DescribeConfigs => dec::<kp::DescribeConfigsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::IncrementalAlterConfigs => {
            dec::<kp::IncrementalAlterConfigsRequest>(frame, v).map(|_| Decoded::Other)?
        }
        K::DescribeClientQuotas => dec::<kp::DescribeClientQuotasRequest>(frame, v).map(|_| Decoded::Other)?,
        K::AlterClientQuotas => dec::<kp::AlterClientQuotasRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DescribeUserScramCredentials => {
            dec::<kp::DescribeUserScramCredentialsRequest>(frame, v).map(|_| Decoded::Other)?
        }
        K::AlterUserScramCredentials => {
            dec::<kp::AlterUserScramCredentialsRequest>(frame, v).map(|_| Decoded::Other)?
        }
        K::Produce => dec::<kp::ProduceRequest>(frame, v).map(|_| Decoded::Other)?,
        K::InitProducerId => dec::<kp::InitProducerIdRequest>(frame, v).map(|_| Decoded::Other)?,
        K::Fetch => {
            let r = dec::<kp::FetchRequest>(frame, v)?;
            Decoded::Fetch(r.topics.into_iter().flat_map(|t| t.partitions).map(|p| p.records).collect())
        }
        K::ListOffsets => dec::<kp::ListOffsetsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::FindCoordinator => dec::<kp::FindCoordinatorRequest>(frame, v).map(|_| Decoded::Other)?,
        K::JoinGroup => {
            let r = dec::<kp::JoinGroupRequest>(frame, v)?;
            Decoded::Join(r.members.into_iter().map(|m| m.metadata).collect())
        }
        K::SyncGroup => Decoded::Sync(dec::<kp::SyncGroupRequest>(frame, v)?.assignment),
        K::Heartbeat => dec::<kp::HeartbeatRequest>(frame, v).map(|_| Decoded::Other)?,
        K::LeaveGroup => dec::<kp::LeaveGroupRequest>(frame, v).map(|_| Decoded::Other)?,
        K::OffsetCommit => dec::<kp::OffsetCommitRequest>(frame, v).map(|_| Decoded::Other)?,
        K::OffsetFetch => dec::<kp::OffsetFetchRequest>(frame, v).map(|_| Decoded::Other)?,
        K::ListGroups => dec::<kp::ListGroupsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DescribeGroups => dec::<kp::DescribeGroupsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DeleteGroups => dec::<kp::DeleteGroupsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::OffsetDelete => dec::<kp::OffsetDeleteRequest>(frame, v).map(|_| Decoded::Other)?,
        K::ConsumerGroupHeartbeat => {
            dec::<kp::ConsumerGroupHeartbeatRequest>(frame, v).map(|_| Decoded::Other)?
        }
        K::ConsumerGroupDescribe => {
            dec::<kp::ConsumerGroupDescribeRequest>(frame, v).map(|_| Decoded::Other)?
        }
        K::SaslHandshake => dec::<kp::SaslHandshakeRequest>(frame, v).map(|_| Decoded::Other)?,
        K::SaslAuthenticate => dec::<kp::SaslAuthenticateRequest>(frame, v).map(|_| Decoded::Other)?,
        K::ListTransactions => dec::<kp::ListTransactionsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DescribeTransactions => {
            dec::<kp::DescribeTransactionsRequest>(frame, v).map(|_| Decoded::Other)?
        }
        K::DescribeProducers => dec::<kp::DescribeProducersRequest>(frame, v).map(|_| Decoded::Other)?,
        K::WriteTxnMarkers => dec::<kp::WriteTxnMarkersRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DescribeAcls => dec::<kp::DescribeAclsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::CreateAcls => dec::<kp::CreateAclsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DeleteAcls => dec::<kp::DeleteAclsRequest>(frame, v).map(|_| Decoded::Other)?,
        K::AddPartitionsToTxn => dec::<kp::AddPartitionsToTxnRequest>(frame, v).map(|_| Decoded::Other)?,
        K::AddOffsetsToTxn => dec::<kp::AddOffsetsToTxnRequest>(frame, v).map(|_| Decoded::Other)?,
        K::TxnOffsetCommit => dec::<kp::TxnOffsetCommitRequest>(frame, v).map(|_| Decoded::Other)?,
        K::EndTxn => dec::<kp::EndTxnRequest>(frame, v).map(|_| Decoded::Other)?,
        K::ShareGroupHeartbeat => dec::<kp::ShareGroupHeartbeatRequest>(frame, v).map(|_| Decoded::Other)?,
        K::ShareFetch => {
            let r = dec::<kp::ShareFetchRequest>(frame, v)?;
            Decoded::Fetch(r.topics.into_iter().flat_map(|t| t.partitions).map(|p| p.records).collect())
        }
        K::ShareAcknowledge => dec::<kp::ShareAcknowledgeRequest>(frame, v).map(|_| Decoded::Other)?,
        K::AlterPartitionReassignments => {
            dec::<kp::AlterPartitionReassignmentsRequest>(frame, v).map(|_| Decoded::Other)?
        }
        K::ListPartitionReassignments => {
            dec::<kp::ListPartitionReassignmentsRequest>(frame, v).map(|_| Decoded::Other)?
        }
        K::ElectLeaders => dec::<kp::ElectLeadersRequest>(frame, v).map(|_| Decoded::Other)?,
        K::UpdateFeatures => dec::<kp::UpdateFeaturesRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DescribeQuorum => dec::<kp::DescribeQuorumRequest>(frame, v).map(|_| Decoded::Other)?,
        K::ShareGroupDescribe => dec::<kp::ShareGroupDescribeRequest>(frame, v).map(|_| Decoded::Other)?,
        K::DescribeShareGroupOffsets => {
            dec::<kp::DescribeShareGroupOffsetsRequest>(frame, v).map(|_| Decoded::Other)?
        }
        K::AlterShareGroupOffsets => {
            dec::<kp::AlterShareGroupOffsetsRequest>(frame, v).map(|_| Decoded::Other)?
        }
        K::DeleteShareGroupOffsets => {
            dec::<kp::DeleteShareGroupOffsetsRequest>(frame, v).map(|_| Decoded::Other)?
        }
        _ => return Err(DecodeError::Unsupported { api_key: key as i16, version }),
    })
}

// ---------------------------------------------------------------------------
// Record batches.

/// Walks every batch, record and header of `data` the way a consumer does
/// (each batch dropped before the next is decoded), returning the number of
/// records read. Stops at the first error.
pub fn walk_records(data: Bytes, opts: &DecodeOptions) -> Result<usize, RecordsError> {
    let mut n = 0usize;
    let mut iter = batches(data, opts);
    for batch in &mut iter {
        let batch = batch?;
        let h = batch.header;
        let _ = (h.timestamp_type(), h.last_offset(), h.next_offset(), h.last_sequence());
        let _ = (batch.is_control(), batch.is_transactional(), batch.compression());
        let _ = batch.control_record();
        let records = batch.records()?;
        let _ = records.size_hint();
        for rec in records {
            let rec = rec?;
            n += 1;
            for h in rec.headers() {
                let _ = h.key_str();
            }
            let owned = rec.to_record();
            assert_eq!(owned.headers.len(), rec.header_count(), "headers iterated != header count");
            assert_eq!(rec.key_bytes().as_deref(), rec.key);
            assert_eq!(rec.value_bytes().as_deref(), rec.value);
        }
    }
    let _ = iter.incomplete();
    Ok(n)
}
