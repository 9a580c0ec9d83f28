//! kwire-group.
#![warn(missing_docs)]
