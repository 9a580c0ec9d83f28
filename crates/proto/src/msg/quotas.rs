//! Client quotas (KIP-546): DescribeClientQuotas (48), AlterClientQuotas (49).

use bytes::Bytes;
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::protocol::StrBytes;

pub use kafka_protocol::messages::{AlterClientQuotasRequest, DescribeClientQuotasRequest};

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

/// A quota entity: `(entity type, name)` pairs, e.g. `[("user", Some("alice"))]`;
/// a `None` name is that type's default.
pub type QuotaEntity = Vec<(String, Option<String>)>;

/// Changes to one entity's quotas: `(key, Some(value))` sets, `(key, None)` removes.
pub type QuotaAlteration = (QuotaEntity, Vec<(String, Option<f64>)>);

/// One entity's quotas from DescribeClientQuotas.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuotaEntry {
    /// The entity.
    pub entity: QuotaEntity,
    /// `(key, value)`, e.g. `("producer_byte_rate", 1024.0)`.
    pub values: Vec<(String, f64)>,
}

/// Decoded DescribeClientQuotas response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DescribeClientQuotasResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// Matching entities (none on error).
    pub entries: Vec<QuotaEntry>,
}

fn entity(r: &mut Reader, flex: bool) -> Result<QuotaEntity, DecodeError> {
    r.array(flex, 2, |r| {
        let t = r.string(flex)?;
        let n = r.nullable_string(flex)?;
        r.skip_tagged_fields(flex)?;
        Ok((t, n))
    })
}

impl Response for DescribeClientQuotasResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 1;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(flex)?;
        let mut entries = Vec::new();
        if let Some(n) = r.nullable_array_len(flex, 2)? {
            for _ in 0..n {
                let entity = entity(&mut r, flex)?;
                let values = r.array(flex, 9, |r| {
                    let k = r.string(flex)?;
                    let v = r.f64()?;
                    r.skip_tagged_fields(flex)?;
                    Ok((k, v))
                })?;
                r.skip_tagged_fields(flex)?;
                entries.push(QuotaEntry { entity, values });
            }
        }
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(DescribeClientQuotasResponse { throttle_time_ms, error_code, error_message, entries })
    }
}

/// One entity's outcome from AlterClientQuotas.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlteredQuota {
    /// Outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// The entity.
    pub entity: QuotaEntity,
}

/// Decoded AlterClientQuotas response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlterClientQuotasResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// One per entity.
    pub entries: Vec<AlteredQuota>,
}

impl Response for AlterClientQuotasResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 1;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let entries = r.array(flex, 4, |r| {
            let error_code = ErrorCode(r.i16()?);
            let error_message = r.nullable_string(flex)?;
            let entity = entity(r, flex)?;
            r.skip_tagged_fields(flex)?;
            Ok(AlteredQuota { error_code, error_message, entity })
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(AlterClientQuotasResponse { throttle_time_ms, entries })
    }
}

fn strb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// How a DescribeClientQuotas filter component matches names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaMatch {
    /// Exactly this name (match type 0).
    Exact(String),
    /// The default entity of the type (match type 1).
    Default,
    /// Any name, the default included (match type 2).
    Any,
}

/// A DescribeClientQuotas request: one component per entity type; `strict`
/// returns only entities with exactly these types.
pub fn describe_client_quotas_request(
    components: &[(String, QuotaMatch)],
    strict: bool,
) -> DescribeClientQuotasRequest {
    let mut req = DescribeClientQuotasRequest::default();
    req.strict = strict;
    req.components = components
        .iter()
        .map(|(t, m)| {
            let mut c = ComponentData::default();
            c.entity_type = strb(t);
            match m {
                QuotaMatch::Exact(n) => {
                    c.match_type = 0;
                    c._match = Some(strb(n));
                }
                QuotaMatch::Default => {
                    c.match_type = 1;
                    c._match = None;
                }
                QuotaMatch::Any => {
                    c.match_type = 2;
                    c._match = None;
                }
            }
            c
        })
        .collect();
    req
}

/// An AlterClientQuotas request: per entity, `(key, Some(value))` sets and
/// `(key, None)` removes.
pub fn alter_client_quotas_request(
    entries: &[QuotaAlteration],
    validate_only: bool,
) -> AlterClientQuotasRequest {
    let mut req = AlterClientQuotasRequest::default();
    req.validate_only = validate_only;
    req.entries = entries
        .iter()
        .map(|(entity, ops)| {
            let mut e = EntryData::default();
            e.entity = entity
                .iter()
                .map(|(t, n)| {
                    let mut d = EntityData::default();
                    d.entity_type = strb(t);
                    d.entity_name = n.as_deref().map(strb);
                    d
                })
                .collect();
            e.ops = ops
                .iter()
                .map(|(k, v)| {
                    let mut o = OpData::default();
                    o.key = strb(k);
                    o.value = v.unwrap_or(0.0);
                    o.remove = v.is_none();
                    o
                })
                .collect();
            e
        })
        .collect();
    req
}

impl Request for DescribeClientQuotasRequest {
    const KEY: ApiKey = ApiKey::DescribeClientQuotas;
    type Response = DescribeClientQuotasResponse;
}

impl Request for AlterClientQuotasRequest {
    const KEY: ApiKey = ApiKey::AlterClientQuotas;
    type Response = AlterClientQuotasResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::{
        alter_client_quotas_response as acq, describe_client_quotas_response as dcq,
    };

    #[test]
    fn describe_client_quotas_all_versions() {
        for v in 0..=1 {
            let mut m = dcq::DescribeClientQuotasResponse::default();
            let mut e = dcq::EntryData::default();
            let mut u = dcq::EntityData::default();
            u.entity_type = sb("user");
            u.entity_name = Some(sb("alice"));
            let mut c = dcq::EntityData::default();
            c.entity_type = sb("client-id");
            c.entity_name = None;
            e.entity = vec![u, c];
            let mut val = dcq::ValueData::default();
            val.key = sb("producer_byte_rate");
            val.value = 1024.5;
            e.values = vec![val];
            m.entries = Some(vec![e]);
            let bytes = encode(&m, v);
            let d = DescribeClientQuotasResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(
                d.entries,
                vec![QuotaEntry {
                    entity: vec![("user".into(), Some("alice".into())), ("client-id".into(), None)],
                    values: vec![("producer_byte_rate".into(), 1024.5)],
                }]
            );
            all_prefixes_fail(&bytes, |b| DescribeClientQuotasResponse::decode(b, v));
            // An error response carries null entries.
            let mut m = dcq::DescribeClientQuotasResponse::default();
            m.error_code = 42;
            m.error_message = Some(sb("bad"));
            m.entries = None;
            let d = DescribeClientQuotasResponse::decode(encode(&m, v), v).unwrap();
            assert_eq!(d.error_code, ErrorCode(42));
            assert!(d.entries.is_empty());
        }
    }

    #[test]
    fn alter_client_quotas_all_versions() {
        for v in 0..=1 {
            let mut m = acq::AlterClientQuotasResponse::default();
            let mut e = acq::EntryData::default();
            e.error_code = 42;
            e.error_message = Some(sb("Invalid quota key"));
            let mut u = acq::EntityData::default();
            u.entity_type = sb("user");
            u.entity_name = None;
            e.entity = vec![u];
            m.entries = vec![e];
            let bytes = encode(&m, v);
            let d = AlterClientQuotasResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.entries[0].error_code, ErrorCode(42));
            assert_eq!(d.entries[0].entity, vec![("user".to_owned(), None)]);
            all_prefixes_fail(&bytes, |b| AlterClientQuotasResponse::decode(b, v));
        }
    }

    #[test]
    fn request_builders() {
        let r = describe_client_quotas_request(
            &[("user".into(), QuotaMatch::Exact("alice".into())), ("client-id".into(), QuotaMatch::Default)],
            true,
        );
        assert!(r.strict);
        assert_eq!(r.components[0].match_type, 0);
        assert_eq!(r.components[1].match_type, 1);
        assert!(r.components[1]._match.is_none());
        let r = alter_client_quotas_request(
            &[(
                vec![("user".into(), None)],
                vec![("producer_byte_rate".into(), Some(10.0)), ("consumer_byte_rate".into(), None)],
            )],
            false,
        );
        assert!(r.entries[0].entity[0].entity_name.is_none());
        assert!(!r.entries[0].ops[0].remove && r.entries[0].ops[1].remove);
    }
}
