//! Structure-aware fuzzing of group membership (`kwire_group`'s sans-IO
//! `Membership`: the classic protocol with eager and cooperative assignors,
//! and KIP-848) against a simulated group coordinator (Kafka's
//! GroupCoordinator rules: member ids, generations, the join phase,
//! SyncGroup, sessions, LeaveGroup, commit acceptance, coordinator moves that
//! reload the stored generation; for KIP-848, member epochs and a partition
//! given to its new owner only once the old one revoked it): the
//! input's bytes choose the fault rates (delayed answers, lost connections,
//! coordinator moves and loading, failed lookups, applications that stop
//! polling, crashes, members leaving and joining late, partitions added) and
//! the group's shape (2-5 members, assignors, versions, timeouts), then every
//! step's choices. A quiet phase ends every schedule.
//!
//! Invariants (the simulation's own checks): no partition owned by two
//! members the coordinator would accept a commit from; each member's owned
//! set is what its events told the application; eager members rejoin owning
//! nothing, cooperative ones revoke only what moves; no member owns what the
//! coordinator gave another; the group settles (one generation,
//! disjoint assignments covering every partition) within a bound of the quiet
//! phase; at most 30 requests per member per virtual second; no timeout still
//! due right after `handle_timeout` (the driver would spin); every input ends.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kwire_group::sim_fuzz(data);
});
