//! Structure-aware fuzzing of the producer core (`kwire_produce`'s sans-IO
//! engine, idempotent, acks=all) against its simulated cluster (the broker's
//! producer-state rules: duplicates, sequences, epochs, fresh partitions
//! turning batches away): the input's bytes choose the fault rates
//! (disconnects whose requests the broker may still process, leader moves,
//! lost producer state, requests refused for good, delivery timeouts), then
//! every step's choices.
//!
//! Invariants (the simulation's own checks): every acknowledged record is in
//! the log once; per partition the log order is the send order; nothing is
//! written twice; nothing reported as not written is in the log; each record
//! gets exactly one report; with transient faults only, none fails.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kwire_produce::sim_fuzz(data);
});
