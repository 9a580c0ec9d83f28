//! kwire-group: Kafka consumer groups.
//!
//! - [`member::Membership`]: group membership as a sans-IO state machine —
//!   the classic protocol (FindCoordinator, JoinGroup with the
//!   MEMBER_ID_REQUIRED round, SyncGroup, Heartbeat, LeaveGroup; static
//!   membership; eager and cooperative rebalancing) and KIP-848
//!   (ConsumerGroupHeartbeat), with every error code handled as Kafka's Java
//!   client does. Unit-tested with a virtual clock.
//! - [`assignor`]: `range`, `roundrobin`, `sticky`, `cooperative-sticky`.
//! - [`offsets`]: OffsetCommit / OffsetFetch builders and verdicts.
//! - [`GroupConsumer`]: membership driven by a background task (heartbeats
//!   on their own schedule) composed with the [`kwire_fetch::Fetcher`]:
//!   committed start offsets, auto-commit of processed records, commit on
//!   revoke, never a commit for lost partitions, rebalance events and callbacks.
//!   [`GroupConsumer::poll`] hands out owned records (rebalances handled
//!   inside) and [`GroupConsumer::commit`] commits what it handed out;
//!   [`GroupConsumer::next`] gives the zero-copy chunks and every event.
//! - [`admin`]: list, describe, delete groups; read, alter, delete offsets.
//! - [`reset`]: plan and apply a reset of a group's committed offsets
//!   (earliest, latest, an offset, a shift, a time), clamped to the logs.
//! - [`lag`]: a group's lag per partition, with the member consuming it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kwire_group::GroupError> {
//! use kwire_group::{GroupConfig, GroupConsumer, GroupEvent, GroupProtocol};
//! use kwire_meta::{Cluster, ClusterConfig};
//!
//! let cluster = Cluster::new(ClusterConfig::default());
//! // KIP-848 on Kafka 4.x; Classic works everywhere.
//! let cfg = GroupConfig::builder("voters-app").protocol(GroupProtocol::Consumer).build()?;
//! let mut consumer = GroupConsumer::subscribe(cluster, cfg, vec!["voters".into()])?;
//! while let Ok(ev) = consumer.next().await {
//!     if let GroupEvent::Records(chunk) = ev {
//!         println!("{}: up to offset {}", chunk.tp, chunk.next_offset);
//!     }
//! }
//! consumer.close().await
//! # }
//! ```
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo, clippy::unimplemented)]

pub mod admin;
pub mod assignor;
mod config;
mod consumer;
mod driver;
mod error;
pub mod lag;
pub mod member;
pub mod offsets;
pub mod reset;
pub mod share;

/// Runs group membership (several [`member::Membership`]s, classic protocol
/// or KIP-848) against a simulated group coordinator on a fault schedule chosen by
/// `data` (the group's shape and fault rates, then every step's choices),
/// panicking on a broken invariant: no partition owned by two members that
/// could both commit; each member's owned set as its events said; eager
/// members rejoin owning nothing, cooperative ones revoke only what moves;
/// nobody owns what the coordinator gave another member; the group settles in
/// the quiet phase; no request storm; no driver spin (a timeout still due
/// right after `handle_timeout`). For the `group_sim` fuzz target.
#[cfg(feature = "sim")]
#[doc(hidden)]
pub fn sim_fuzz(data: &[u8]) {
    member::sim::run_bytes(data)
}

pub use assignor::{
    AssignorKind, CustomAssignor, CustomAssignorRef, GroupAssignment, MemberAssignment, MemberSubscription,
};
pub use config::{GroupConfig, GroupConfigBuilder, GroupProtocol};
pub use consumer::{GroupConsumer, GroupEvent, RebalanceListener};
pub use error::GroupError;
pub use kwire_fetch::TopicPartition;
pub use kwire_proto::msg::txn::TxnGroupMetadata;
pub use lag::{GroupLag, PartitionLag, PartitionOwner, group_lag};
pub use reset::{
    PartitionSelection, PlannedOffset, ResetStrategy, TopicSelection, execute_reset, plan_reset,
    resolve_partitions,
};
