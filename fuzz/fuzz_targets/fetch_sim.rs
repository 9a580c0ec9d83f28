//! Structure-aware fuzzing of the fetch core (`kwire_fetch`'s sans-IO
//! `FetchCore`) in its simulation of a 3-broker cluster: the input's bytes
//! choose the fault rates, the config (sessions on or off, prefetch) and
//! then every step's choices — records appended, leaders moving (stale
//! metadata, unclean elections truncating logs), fetch sessions evicted,
//! retention, requests lost, responses cut short, lookups failing, offset
//! lookups answered late and in any order.
//!
//! Invariants (the simulation's own checks, as in its seeded tests): each
//! partition's records reach the application in offset order, once, with
//! the value the log holds at that offset, no gap but at a reset; nothing
//! fails for good; once the faults stop, every record is delivered.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kwire_fetch::sim_fuzz(data);
});
