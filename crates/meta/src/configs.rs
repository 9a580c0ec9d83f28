//! Config descriptions with synonyms, as kafka-configs.sh shows them.

use kwire_proto::msg::admin::describe_configs_with_synonyms_request;
pub use kwire_proto::msg::admin::{ConfigEntry, ConfigSynonym};

use crate::admin::ResourceType;
use crate::{Cluster, MetaError};

/// Whether Kafka types the config `name` as a password (`ConfigDef.Type.PASSWORD`,
/// whose value DescribeConfigs never returns), judged by name since the broker
/// only says so when it describes the config: anything with `password`,
/// `secret` or `passphrase` in it, `sasl.jaas.config`, and the PEM key and
/// certificate configs (`ssl.keystore.key`, `ssl.keystore.certificate.chain`,
/// `ssl.truststore.certificates`), with a `listener.name.*.` prefix or not. It
/// errs on the side of hiding: a tool printing what it set leaves these out.
pub fn is_password_config(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "secret", "passphrase"].iter().any(|w| n.contains(w))
        || [
            "sasl.jaas.config",
            "ssl.keystore.key",
            "ssl.keystore.certificate.chain",
            "ssl.truststore.certificates",
        ]
        .iter()
        .any(|k| n == *k || n.ends_with(&format!(".{k}")))
}

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

#[cfg(test)]
mod tests {
    use super::is_password_config;

    #[test]
    fn password_configs_by_name() {
        for k in [
            "ssl.keystore.password",
            "listener.name.internal.ssl.key.password",
            "sasl.jaas.config",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
            "ssl.keystore.key",
            "ssl.truststore.certificates",
            "delegation.token.secret.key",
            "password.encoder.secret",
            "sasl.oauthbearer.assertion.private.key.passphrase",
        ] {
            assert!(is_password_config(k), "{k}");
        }
        for k in
            ["retention.ms", "ssl.keystore.location", "ssl.keystore.type", "sasl.mechanism", "cleanup.policy"]
        {
            assert!(!is_password_config(k), "{k}");
        }
    }
}
