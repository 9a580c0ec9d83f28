//! Library part of the `kwire` CLI: the parsers for command-line specs
//! (offsets, timestamps, durations), kept here so they can be fuzzed and
//! unit-tested apart from the binary.
#![warn(missing_docs)]
// The argument structs' doc comments are clap's help text, written for a
// terminal (`@<epoch-ms>`, `{"voters":[0,1]}`), not rustdoc markup.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

pub mod dump_log;
pub mod spec;
