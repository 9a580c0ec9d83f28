//! kwire-meta.
#![warn(missing_docs)]
