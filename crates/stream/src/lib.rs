//! kwire-stream.
#![warn(missing_docs)]
