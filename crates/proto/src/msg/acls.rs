//! ACL administration (what `kafka-acls.sh` sends): DescribeAcls (29),
//! CreateAcls (30) and DeleteAcls (31), versions 1–3 (v1 added the pattern
//! type; v2 is flexible).
//!
//! Requests are `kafka-protocol` structs built by the functions here from
//! plain numeric codes (kwire-meta owns the typed vocabulary); the responses
//! are decoded by kwire's bounds-checked [`Reader`].

use bytes::Bytes;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::protocol::StrBytes;

pub use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

fn strb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// One ACL as it goes on the wire (Kafka's numeric codes for resource type,
/// pattern type, operation and permission).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WireAcl {
    /// Resource type code (2 topic, 3 group, 4 cluster, …).
    pub resource_type: i8,
    /// Resource name.
    pub resource_name: String,
    /// Pattern type code (3 literal, 4 prefixed).
    pub pattern_type: i8,
    /// `Type:name`.
    pub principal: String,
    /// Host (`*` for any).
    pub host: String,
    /// Operation code.
    pub operation: i8,
    /// Permission code (2 deny, 3 allow).
    pub permission: i8,
}

/// An ACL filter on the wire: `None` strings match anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WireAclFilter {
    /// Resource type code (1 any).
    pub resource_type: i8,
    /// Resource name, `None`: any.
    pub resource_name: Option<String>,
    /// Pattern type code (1 any, 2 match, 3 literal, 4 prefixed).
    pub pattern_type: i8,
    /// Principal, `None`: any.
    pub principal: Option<String>,
    /// Host, `None`: any.
    pub host: Option<String>,
    /// Operation code (1 any).
    pub operation: i8,
    /// Permission code (1 any).
    pub permission: i8,
}

/// A DescribeAcls request for one filter.
pub fn describe_acls_request(f: &WireAclFilter) -> DescribeAclsRequest {
    let mut req = DescribeAclsRequest::default();
    req.resource_type_filter = f.resource_type;
    req.resource_name_filter = f.resource_name.as_deref().map(strb);
    req.pattern_type_filter = f.pattern_type;
    req.principal_filter = f.principal.as_deref().map(strb);
    req.host_filter = f.host.as_deref().map(strb);
    req.operation = f.operation;
    req.permission_type = f.permission;
    req
}

/// A CreateAcls request for `acls`.
pub fn create_acls_request(acls: &[WireAcl]) -> CreateAclsRequest {
    let mut req = CreateAclsRequest::default();
    req.creations = acls
        .iter()
        .map(|a| {
            let mut c = AclCreation::default();
            c.resource_type = a.resource_type;
            c.resource_name = strb(&a.resource_name);
            c.resource_pattern_type = a.pattern_type;
            c.principal = strb(&a.principal);
            c.host = strb(&a.host);
            c.operation = a.operation;
            c.permission_type = a.permission;
            c
        })
        .collect();
    req
}

/// A DeleteAcls request for `filters`.
pub fn delete_acls_request(filters: &[WireAclFilter]) -> DeleteAclsRequest {
    let mut req = DeleteAclsRequest::default();
    req.filters = filters
        .iter()
        .map(|f| {
            let mut d = DeleteAclsFilter::default();
            d.resource_type_filter = f.resource_type;
            d.resource_name_filter = f.resource_name.as_deref().map(strb);
            d.pattern_type_filter = f.pattern_type;
            d.principal_filter = f.principal.as_deref().map(strb);
            d.host_filter = f.host.as_deref().map(strb);
            d.operation = f.operation;
            d.permission_type = f.permission;
            d
        })
        .collect();
    req
}

// ---------------------------------------------------------------------------
// Responses.

/// Decoded DescribeAcls response (v1–v3; flexible from v2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeAclsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Outcome (SECURITY_DISABLED without an authorizer).
    pub error_code: ErrorCode,
    /// Broker's message.
    pub error_message: Option<String>,
    /// Every matching ACL, flattened from the per-resource lists.
    pub acls: Vec<WireAcl>,
}

impl Response for DescribeAclsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 2;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(flex)?;
        let mut acls = Vec::new();
        let resources = r.array(flex, 5, |r| {
            let resource_type = r.i8()?;
            let resource_name = r.string(flex)?;
            let pattern_type = if v >= 1 { r.i8()? } else { 3 };
            let entries = r.array(flex, 6, |r| {
                let e = (r.string(flex)?, r.string(flex)?, r.i8()?, r.i8()?);
                r.skip_tagged_fields(flex)?;
                Ok(e)
            })?;
            r.skip_tagged_fields(flex)?;
            Ok((resource_type, resource_name, pattern_type, entries))
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        for (resource_type, resource_name, pattern_type, entries) in resources {
            for (principal, host, operation, permission) in entries {
                acls.push(WireAcl {
                    resource_type,
                    resource_name: resource_name.clone(),
                    pattern_type,
                    principal,
                    host,
                    operation,
                    permission,
                });
            }
        }
        Ok(DescribeAclsResponse { throttle_time_ms, error_code, error_message, acls })
    }
}

/// One creation's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AclCreationResult {
    /// Outcome.
    pub error_code: ErrorCode,
    /// Broker's message.
    pub error_message: Option<String>,
}

/// Decoded CreateAcls response (v1–v3; flexible from v2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateAclsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// One per requested creation, in order.
    pub results: Vec<AclCreationResult>,
}

impl Response for CreateAclsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 2;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let results = r.array(flex, 3, |r| {
            let c = AclCreationResult {
                error_code: ErrorCode(r.i16()?),
                error_message: r.nullable_string(flex)?,
            };
            r.skip_tagged_fields(flex)?;
            Ok(c)
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(CreateAclsResponse { throttle_time_ms, results })
    }
}

/// One ACL a DeleteAcls filter matched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeletedAcl {
    /// Outcome for this ACL.
    pub error_code: ErrorCode,
    /// Broker's message.
    pub error_message: Option<String>,
    /// The ACL.
    pub acl: WireAcl,
}

/// One filter's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteAclsFilterResult {
    /// Outcome for the filter.
    pub error_code: ErrorCode,
    /// Broker's message.
    pub error_message: Option<String>,
    /// The ACLs it matched (and deleted unless their own error says otherwise).
    pub matching: Vec<DeletedAcl>,
}

/// Decoded DeleteAcls response (v1–v3; flexible from v2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteAclsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// One per requested filter, in order.
    pub filter_results: Vec<DeleteAclsFilterResult>,
}

impl Response for DeleteAclsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 2;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let filter_results = r.array(flex, 5, |r| {
            let error_code = ErrorCode(r.i16()?);
            let error_message = r.nullable_string(flex)?;
            let matching = r.array(flex, 11, |r| {
                let error_code = ErrorCode(r.i16()?);
                let error_message = r.nullable_string(flex)?;
                let resource_type = r.i8()?;
                let resource_name = r.string(flex)?;
                let pattern_type = if v >= 1 { r.i8()? } else { 3 };
                let acl = WireAcl {
                    resource_type,
                    resource_name,
                    pattern_type,
                    principal: r.string(flex)?,
                    host: r.string(flex)?,
                    operation: r.i8()?,
                    permission: r.i8()?,
                };
                r.skip_tagged_fields(flex)?;
                Ok(DeletedAcl { error_code, error_message, acl })
            })?;
            r.skip_tagged_fields(flex)?;
            Ok(DeleteAclsFilterResult { error_code, error_message, matching })
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(DeleteAclsResponse { throttle_time_ms, filter_results })
    }
}

impl Request for DescribeAclsRequest {
    const KEY: ApiKey = ApiKey::DescribeAcls;
    type Response = DescribeAclsResponse;
}

impl Request for CreateAclsRequest {
    const KEY: ApiKey = ApiKey::CreateAcls;
    type Response = CreateAclsResponse;
}

impl Request for DeleteAclsRequest {
    const KEY: ApiKey = ApiKey::DeleteAcls;
    type Response = DeleteAclsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::{
        create_acls_response as ca, delete_acls_response as da, describe_acls_response as ds,
    };

    fn acl() -> WireAcl {
        WireAcl {
            resource_type: 2,
            resource_name: "t".into(),
            pattern_type: 3,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: 4,
            permission: 3,
        }
    }

    #[test]
    fn request_builders() {
        let f = WireAclFilter {
            resource_type: 1,
            pattern_type: 1,
            operation: 1,
            permission: 1,
            ..Default::default()
        };
        let d = describe_acls_request(&f);
        assert_eq!((d.resource_type_filter, d.resource_name_filter.is_none()), (1, true));
        let c = create_acls_request(&[acl()]);
        assert_eq!(c.creations[0].principal.as_str(), "User:alice");
        assert_eq!((c.creations[0].operation, c.creations[0].resource_pattern_type), (4, 3));
        let d = delete_acls_request(&[f]);
        assert_eq!(d.filters[0].pattern_type_filter, 1);
    }

    #[test]
    fn describe_acls_all_versions() {
        for v in 1..=3 {
            let mut m = ds::DescribeAclsResponse::default();
            m.throttle_time_ms = 2;
            let mut res = ds::DescribeAclsResource::default();
            res.resource_type = 2;
            res.resource_name = sb("t");
            res.pattern_type = 3;
            let mut a = ds::AclDescription::default();
            a.principal = sb("User:alice");
            a.host = sb("*");
            a.operation = 4;
            a.permission_type = 3;
            let mut b = a.clone();
            b.operation = 8;
            res.acls = vec![a, b];
            m.resources = vec![res];
            let bytes = encode(&m, v);
            let d = DescribeAclsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.acls[0], acl());
            assert_eq!(d.acls[1].operation, 8);
            assert_eq!(d.error_code, ErrorCode::NONE);
            all_prefixes_fail(&bytes, |b| DescribeAclsResponse::decode(b, v));

            let mut e = ds::DescribeAclsResponse::default();
            e.error_code = 54;
            e.error_message = Some(sb("No Authorizer is configured."));
            let bytes = encode(&e, v);
            let d = DescribeAclsResponse::decode(bytes, v).unwrap();
            assert_eq!(d.error_code, ErrorCode(54));
            assert_eq!(d.error_message.as_deref(), Some("No Authorizer is configured."));
        }
    }

    #[test]
    fn create_acls_all_versions() {
        for v in 1..=3 {
            let mut m = ca::CreateAclsResponse::default();
            let ok = ca::AclCreationResult::default();
            let mut bad = ca::AclCreationResult::default();
            bad.error_code = 54;
            bad.error_message = Some(sb("no authorizer"));
            m.results = vec![ok, bad];
            let bytes = encode(&m, v);
            let d = CreateAclsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.results[0].error_code, ErrorCode::NONE);
            assert_eq!(d.results[1].error_code, ErrorCode(54));
            assert_eq!(d.results[1].error_message.as_deref(), Some("no authorizer"));
            all_prefixes_fail(&bytes, |b| CreateAclsResponse::decode(b, v));
        }
    }

    #[test]
    fn delete_acls_all_versions() {
        for v in 1..=3 {
            let mut m = da::DeleteAclsResponse::default();
            let mut fr = da::DeleteAclsFilterResult::default();
            let mut a = da::DeleteAclsMatchingAcl::default();
            a.resource_type = 2;
            a.resource_name = sb("t");
            a.pattern_type = 3;
            a.principal = sb("User:alice");
            a.host = sb("*");
            a.operation = 4;
            a.permission_type = 3;
            fr.matching_acls = vec![a];
            let mut empty = da::DeleteAclsFilterResult::default();
            empty.error_code = 54;
            m.filter_results = vec![fr, empty];
            let bytes = encode(&m, v);
            let d = DeleteAclsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.filter_results[0].matching[0].acl, acl());
            assert_eq!(d.filter_results[1].error_code, ErrorCode(54));
            assert!(d.filter_results[1].matching.is_empty());
            all_prefixes_fail(&bytes, |b| DeleteAclsResponse::decode(b, v));
        }
    }

    #[test]
    fn hostile_counts_are_rejected_before_allocating() {
        let body = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
        assert!(DescribeAclsResponse::decode(body, 1).is_err());
        let body = Bytes::from_static(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(CreateAclsResponse::decode(body.clone(), 1).is_err());
        assert!(DeleteAclsResponse::decode(body, 1).is_err());
    }
}
