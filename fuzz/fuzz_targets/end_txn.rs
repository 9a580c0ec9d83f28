//! EndTxn (26) responses, v0-v5 (v3+ flexible, v5 with producer id and epoch): `kwire_proto::msg::txn::EndTxnResponse::decode`
//! on a bare response body (no frame header), as the transactional producer reads it.
//!
//! Input: version selector byte, then the body.
//!
//! Invariants: no panic, heap within `kwire_fuzz::budget` of the input; a
//! body that decodes has every count backed by bytes (checked by the budget).
#![no_main]

use bytes::Bytes;
use kwire_fuzz::check_budget;
use kwire_proto::Response;
use kwire_proto::msg::txn::EndTxnResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let v: i16 = i16::from(sel) % 6;
    let body = Bytes::copy_from_slice(rest);
    let _ = check_budget("end_txn", data.len(), 0, || EndTxnResponse::decode(body, v));
});
