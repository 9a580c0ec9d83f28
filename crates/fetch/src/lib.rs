//! kwire-fetch.
#![warn(missing_docs)]
