//! The consumer protocol's embedded bytes (JoinGroup member metadata and
//! SyncGroup assignments): `ConsumerSubscription::decode` and
//! `ConsumerAssignment::decode`, plus decode → encode → decode stability.
//!
//! Input: selector byte (even: subscription, odd: assignment), then the bytes.
#![no_main]

use bytes::Bytes;
use kwire_fuzz::check_budget;
use kwire_proto::msg::group::{ConsumerAssignment, ConsumerSubscription};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let bytes = Bytes::copy_from_slice(rest);
    if sel & 1 == 0 {
        let Ok(s) = check_budget("subscription", data.len(), 0, || ConsumerSubscription::decode(bytes))
        else {
            return;
        };
        // What we decoded re-encodes (at the version we read, clamped) and
        // decodes to the same value.
        if let Ok(enc) = s.encode() {
            let again = ConsumerSubscription::decode(enc).expect("re-encoded subscription decodes");
            if (0..=3).contains(&s.version) {
                assert_eq!(again, s);
            }
        }
    } else {
        let Ok(a) = check_budget("assignment", data.len(), 0, || ConsumerAssignment::decode(bytes)) else {
            return;
        };
        if let Ok(enc) = a.encode() {
            let again = ConsumerAssignment::decode(enc).expect("re-encoded assignment decodes");
            if (0..=3).contains(&a.version) {
                assert_eq!(again, a);
            }
        }
    }
});
