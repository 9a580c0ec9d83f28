//! Config descriptions with synonyms, as kafka-configs.sh shows them.

use kwire_proto::msg::admin::describe_configs_with_synonyms_request;
pub use kwire_proto::msg::admin::{ConfigEntry, ConfigSynonym};

use crate::admin::ResourceType;
use crate::{Cluster, MetaError};

impl Cluster {
    /// All configs of one resource with each value's synonyms (where else it
    /// is set). For a broker, `name` is its id, or `""` for the cluster-wide
    /// defaults; the request goes to that broker.
    pub async fn describe_resource_configs(
        &self,
        resource_type: ResourceType,
        name: &str,
    ) -> Result<Vec<ConfigEntry>, MetaError> {
        let req = describe_configs_with_synonyms_request(resource_type as i8, &[name], None);
        let conn = self.config_broker(resource_type, name).await?;
        let resp = conn.send(&req).await?;
        match resp.resources.into_iter().next() {
            Some(r) if r.error_code.is_err() => Err(MetaError::Broker {
                context: format!("cannot describe configs of '{name}'"),
                code: r.error_code,
                message: r.error_message,
            }),
            Some(r) => Ok(r.configs),
            None => Err(MetaError::Invalid(format!("broker did not answer for '{name}'"))),
        }
    }
}
