//! Java `.properties` parsing (`--command-config` files, `-X key=value`):
//! `kwire_proto::props::Properties::parse` and `parse_kv`, then typed reads
//! of every key found.
//!
//! Input: the file text (UTF-8; other inputs are skipped).
//!
//! Invariants: no panic, heap within budget; every key parsed reads back.
#![no_main]

use kwire_fuzz::check_budget;
use kwire_proto::props::Properties;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = check_budget("parse_kv", data.len(), 0, || Properties::parse_kv(text));
    let Ok(props) = check_budget("properties", data.len(), 0, || Properties::parse(text)) else { return };
    let keys: Vec<String> = props.iter().map(|(k, _)| k.to_owned()).collect();
    for k in &keys {
        assert!(props.contains(k), "parsed key {k:?} not found");
        let _ = props.get(k).expect("value of a parsed key");
        let _ = props.get_i64(k);
        let _ = props.get_uint::<u32>(k);
        let _ = props.get_uint::<i32>(k);
        let _ = props.get_bool(k);
        let _ = props.get_ms(k);
    }
    assert!(props.unused().is_empty() || keys.is_empty() || props.used_keys().len() <= keys.len());
});
