//! kwire: facade over the kwire crates.
#![warn(missing_docs)]

pub use kwire_conn as conn;
pub use kwire_fetch as fetch;
pub use kwire_group as group;
pub use kwire_meta as meta;
pub use kwire_produce as produce;
pub use kwire_proto as proto;
pub use kwire_stream as stream;
