//! Every response kwire decodes, at every version it speaks.
//!
//! Input: api key (i16 BE), api version (i16 BE), then a response frame body
//! (correlation id, response header, body) as it comes off the wire after
//! the size prefix. A (key, version) outside `KWIRE_VERSIONS` is folded onto
//! one inside it (`kwire_fuzz::pick_api`), so every input reaches a decoder.
//! Fetch responses' record sets are walked down to headers, JoinGroup and
//! SyncGroup's consumer-protocol bytes decoded: what kwire does with them.
//!
//! Invariants: no panic, heap within `kwire_fuzz::budget` of the input.
#![no_main]

use bytes::Bytes;
use kwire_fuzz::{Decoded, FUZZ_MAX_DECOMPRESSED, check_budget, decode_any, pick_api, walk_records};
use kwire_proto::msg::group::{ConsumerAssignment, ConsumerSubscription};
use kwire_proto::records::DecodeOptions;
use libfuzzer_sys::fuzz_target;

/// Every (key, version) kwire speaks must have a decoder here: checked once
/// per process, so adding an API to `KWIRE_VERSIONS` without fuzzing it fails.
fn check_dispatch_covers_kwire_versions() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (k, v) in kwire_proto::api::KWIRE_VERSIONS {
            for ver in v.min..=v.max {
                let r = decode_any(*k, ver, Bytes::new());
                assert!(
                    !matches!(r, Err(kwire_proto::DecodeError::Unsupported { .. })),
                    "{k:?} v{ver} is in KWIRE_VERSIONS but not in kwire_fuzz::decode_any"
                );
                assert_eq!(pick_api(*k as i16, ver), (*k, ver));
            }
        }
    });
}

fuzz_target!(|data: &[u8]| {
    check_dispatch_covers_kwire_versions();
    if data.len() < 4 {
        return;
    }
    let key = i16::from_be_bytes([data[0], data[1]]);
    let version = i16::from_be_bytes([data[2], data[3]]);
    let (key, version) = pick_api(key, version);
    let frame = Bytes::copy_from_slice(&data[4..]);
    let decoded = check_budget("response", data.len(), 0, || decode_any(key, version, frame));
    match decoded {
        Ok(Decoded::Fetch(sets)) => {
            let opts = DecodeOptions::default().max_decompressed(FUZZ_MAX_DECOMPRESSED);
            for set in sets {
                let extra = kwire_fuzz::decompress_allowance(FUZZ_MAX_DECOMPRESSED);
                let _ = check_budget("fetch records", data.len(), extra, || walk_records(set, &opts));
            }
        }
        Ok(Decoded::Join(metas)) => {
            for m in metas {
                let _ = check_budget("subscription", data.len(), 0, || ConsumerSubscription::decode(m));
            }
        }
        Ok(Decoded::Sync(a)) => {
            let _ = check_budget("assignment", data.len(), 0, || ConsumerAssignment::decode(a));
        }
        Ok(Decoded::Other) | Err(_) => {}
    }
});
