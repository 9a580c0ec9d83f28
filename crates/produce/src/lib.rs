//! kwire-produce.
#![warn(missing_docs)]
