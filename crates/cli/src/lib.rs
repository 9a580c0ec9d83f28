//! Library part of the `kwire` CLI: the parsers for command-line specs
//! (offsets, timestamps, durations), kept here so they can be fuzzed and
//! unit-tested apart from the binary.
#![warn(missing_docs)]

pub mod spec;
