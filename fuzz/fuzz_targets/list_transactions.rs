//! ListTransactions (66) responses, v0-v2: `kwire_proto::msg::txn_admin::ListTransactionsResponse::decode` on a bare
//! response body (no frame header), as `kwire transactions` reads it.
//!
//! Input: version selector byte, then the body.
//!
//! Invariants: no panic, heap within `kwire_fuzz::budget` of the input; a
//! body that decodes has every count backed by bytes (checked by the budget).
#![no_main]

use bytes::Bytes;
use kwire_fuzz::check_budget;
use kwire_proto::Response;
use kwire_proto::msg::txn_admin::ListTransactionsResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let v: i16 = i16::from(sel) % 3;
    let body = Bytes::copy_from_slice(rest);
    let _ = check_budget("list_transactions", data.len(), 0, || ListTransactionsResponse::decode(body, v));
});
