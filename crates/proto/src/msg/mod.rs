//! kwire's own, bounds-checked decoders for the responses it reads, and the
//! [`Request`](crate::Request) impls tying `kafka-protocol` request structs to them.
//!
//! Each decoder reads exactly the schema of Kafka's JSON message definitions
//! for the versions in [`KWIRE_VERSIONS`](crate::api::KWIRE_VERSIONS), and is
//! cross-checked in tests against `kafka-protocol`'s encoder for every version.

pub mod acls;
pub mod admin;
pub mod api_versions;
pub mod fetch;
pub mod group;
pub mod metadata;
pub mod produce;
pub mod quotas;
pub mod reassign;
pub mod sasl;
pub mod scram;
pub mod share;
pub mod share_admin;
pub mod txn;
pub mod txn_admin;

#[cfg(test)]
pub(crate) mod testutil;
