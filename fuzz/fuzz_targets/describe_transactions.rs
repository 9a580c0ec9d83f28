//! DescribeTransactions (65) responses, v0: `kwire_proto::msg::txn_admin::DescribeTransactionsResponse::decode` on a bare
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
use kwire_proto::msg::txn_admin::DescribeTransactionsResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&_sel, rest)) = data.split_first() else { return };
    let v: i16 = 0;
    let body = Bytes::copy_from_slice(rest);
    let _ = check_budget("describe_transactions", data.len(), 0, || {
        DescribeTransactionsResponse::decode(body, v)
    });
});
