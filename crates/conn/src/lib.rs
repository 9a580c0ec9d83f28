//! kwire-conn.
#![warn(missing_docs)]
