//! Client quotas (KIP-546): describe and alter the byte-rate, request and
//! controller-mutation quotas of users, client ids and their combinations.

use kwire_proto::api::ApiKey;
pub use kwire_proto::msg::quotas::{QuotaAlteration, QuotaEntity, QuotaEntry, QuotaMatch};
use kwire_proto::msg::quotas::{alter_client_quotas_request, describe_client_quotas_request};

use crate::{Cluster, MetaError};

/// The quota keys brokers accept for users and client ids.
pub const QUOTA_KEYS: &[&str] =
    &["producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate"];

/// Entity type of a user principal.
pub const USER: &str = "user";
/// Entity type of a client id.
pub const CLIENT_ID: &str = "client-id";

impl Cluster {
    /// Quotas of the entities that match `filter` (one component per entity
    /// type); `strict` leaves out entities with other types besides.
    pub async fn describe_client_quotas(
        &self,
        filter: &[(String, QuotaMatch)],
        strict: bool,
    ) -> Result<Vec<QuotaEntry>, MetaError> {
        let conn = self.any_broker().await?;
        conn.version(ApiKey::DescribeClientQuotas)?;
        let resp = conn.send(&describe_client_quotas_request(filter, strict)).await?;
        if resp.error_code.is_err() {
            return Err(MetaError::Broker {
                context: "cannot describe client quotas".to_owned(),
                code: resp.error_code,
                message: resp.error_message,
            });
        }
        Ok(resp.entries)
    }

    /// Sets (`Some(value)`) and removes (`None`) quotas per entity. Every
    /// entity is validated by the broker first with `validate_only`, so a bad
    /// key for one entity leaves the others unchanged too.
    pub async fn alter_client_quotas(
        &self,
        entries: &[QuotaAlteration],
        validate_only: bool,
    ) -> Result<(), MetaError> {
        let conn = self.any_broker().await?;
        conn.version(ApiKey::AlterClientQuotas)?;
        let passes: &[bool] = if validate_only { &[true] } else { &[true, false] };
        for &validate in passes {
            let resp = conn.send(&alter_client_quotas_request(entries, validate)).await?;
            if let Some(e) = resp.entries.into_iter().find(|e| e.error_code.is_err()) {
                return Err(MetaError::Broker {
                    context: format!("cannot alter the quotas of {}", describe_entity(&e.entity)),
                    code: e.error_code,
                    message: e.error_message,
                });
            }
        }
        Ok(())
    }
}

/// `user 'alice', client-id 'c1'` / `the default user`.
pub fn describe_entity(entity: &QuotaEntity) -> String {
    entity
        .iter()
        .map(|(t, n)| match n {
            Some(n) => format!("{t} '{n}'"),
            None => format!("the default {t}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
