//! ApiVersions (key 18): what each broker supports. The decoder also reads
//! v4 (same shape as v3), which `describe_features` sends to brokers 3.9+.

use bytes::Bytes;
use kafka_protocol::messages::ApiVersionsRequest;

use crate::api::{ApiKey, Versions};
use crate::wire::{DResult, Reader};
use crate::{DecodeError, ErrorCode, Request, Response};

/// One API's supported range on the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersionRange {
    /// API key (may be one kwire doesn't know).
    pub api_key: i16,
    /// Lowest supported version.
    pub min: i16,
    /// Highest supported version.
    pub max: i16,
}

/// A finalized cluster feature (e.g. `metadata.version`, `group.version`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// Feature name.
    pub name: String,
    /// Lowest level.
    pub min: i16,
    /// Highest level.
    pub max: i16,
}

/// Decoded ApiVersions response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersionsResponse {
    /// Top-level error; `UNSUPPORTED_VERSION` means retry with a version from `apis`.
    pub error_code: ErrorCode,
    /// Supported ranges.
    pub apis: Vec<ApiVersionRange>,
    /// Throttle time (v1+).
    pub throttle_time_ms: i32,
    /// Features the broker supports (v3+, tagged).
    pub supported_features: Vec<Feature>,
    /// Features finalized cluster-wide (v3+, tagged).
    pub finalized_features: Vec<Feature>,
    /// Epoch of the finalized features (v3+, tagged; `None`: not sent).
    pub finalized_features_epoch: Option<i64>,
}

/// An ApiVersions request naming the client software (v3+ sends the names).
pub fn api_versions_request(software_name: &str, software_version: &str) -> ApiVersionsRequest {
    let mut req = ApiVersionsRequest::default();
    req.client_software_name = kafka_protocol::protocol::StrBytes::from_string(software_name.to_owned());
    req.client_software_version =
        kafka_protocol::protocol::StrBytes::from_string(software_version.to_owned());
    req
}

impl ApiVersionsResponse {
    /// The broker's range for `key`.
    pub fn range(&self, key: ApiKey) -> Option<Versions> {
        self.apis.iter().find(|a| a.api_key == key as i16).map(|a| Versions::new(a.min, a.max))
    }
}

fn feature(r: &mut Reader, finalized: bool) -> DResult<Feature> {
    let name = r.string(true)?;
    // SupportedFeatureKey is (min, max); FinalizedFeatureKey is (max, min).
    let (a, b) = (r.i16()?, r.i16()?);
    r.skip_tagged_fields(true)?;
    let (min, max) = if finalized { (b, a) } else { (a, b) };
    Ok(Feature { name, min, max })
}

impl Response for ApiVersionsResponse {
    fn decode(body: Bytes, version: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let error_code = ErrorCode(r.i16()?);
        // A broker that doesn't know the version we sent answers
        // UNSUPPORTED_VERSION with a v0 body listing what it does support.
        let version = if error_code == ErrorCode::UNSUPPORTED_VERSION { 0 } else { version };
        let flex = version >= 3;
        let apis = r.array(flex, 6, |r| {
            let a = ApiVersionRange { api_key: r.i16()?, min: r.i16()?, max: r.i16()? };
            r.skip_tagged_fields(flex)?;
            Ok(a)
        })?;
        let throttle_time_ms = if version >= 1 { r.i32()? } else { 0 };
        let mut out = ApiVersionsResponse { error_code, apis, throttle_time_ms, ..Default::default() };
        r.tagged_fields(flex, |tag, f| {
            match tag {
                0 => out.supported_features = f.array(true, 5, |r| feature(r, false))?,
                1 => out.finalized_features_epoch = Some(f.i64()?),
                2 => out.finalized_features = f.array(true, 5, |r| feature(r, true))?,
                _ => {}
            }
            Ok(())
        })?;
        if error_code != ErrorCode::UNSUPPORTED_VERSION {
            r.finish()?;
        }
        Ok(out)
    }
}

impl Request for ApiVersionsRequest {
    const KEY: ApiKey = ApiKey::ApiVersions;
    type Response = ApiVersionsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::api_versions_response as kp;
    use proptest::prelude::*;

    type Arb = (i16, Vec<(i16, i16, i16)>, i32, Vec<(String, i16, i16)>);

    fn arb() -> impl Strategy<Value = Arb> {
        (
            any::<i16>(),
            proptest::collection::vec(any::<(i16, i16, i16)>(), 0..20),
            any::<i32>(),
            proptest::collection::vec(("[a-z.]{0,12}", any::<i16>(), any::<i16>()), 0..3),
        )
    }

    proptest! {
        #[test]
        fn matches_kafka_protocol((err, apis, throttle, feats) in arb(), version in 0i16..=4) {
            let err = if err == 35 { 0 } else { err };
            let mut m = kp::ApiVersionsResponse::default();
            m.error_code = err;
            m.api_keys = apis.iter().map(|&(k, lo, hi)| {
                let mut a = kp::ApiVersion::default();
                a.api_key = k; a.min_version = lo; a.max_version = hi; a
            }).collect();
            if version >= 1 { m.throttle_time_ms = throttle; }
            if version >= 3 {
                m.supported_features = feats.iter().map(|(n, lo, hi)| {
                    let mut f = kp::SupportedFeatureKey::default();
                    f.name = sb(n); f.min_version = *lo; f.max_version = *hi; f
                }).collect();
                m.finalized_features_epoch = i64::from(throttle);
                m.finalized_features = feats.iter().map(|(n, lo, hi)| {
                    let mut f = kp::FinalizedFeatureKey::default();
                    f.name = sb(n); f.min_version_level = *lo; f.max_version_level = *hi; f
                }).collect();
            }
            let bytes = encode(&m, version);
            let ours = ApiVersionsResponse::decode(bytes.clone(), version).unwrap();
            prop_assert_eq!(ours.error_code.0, err);
            prop_assert_eq!(ours.apis.len(), apis.len());
            for (a, &(k, lo, hi)) in ours.apis.iter().zip(&apis) {
                prop_assert_eq!((a.api_key, a.min, a.max), (k, lo, hi));
            }
            if version >= 1 {
                prop_assert_eq!(ours.throttle_time_ms, throttle);
            }
            if version >= 3 {
                let want: Vec<Feature> = feats.iter().map(|(n, lo, hi)| Feature { name: n.clone(), min: *lo, max: *hi }).collect();
                prop_assert_eq!(&ours.supported_features, &want);
                prop_assert_eq!(&ours.finalized_features, &want);
                let epoch = (throttle != -1).then_some(i64::from(throttle));
                prop_assert_eq!(ours.finalized_features_epoch, epoch);
            }
            all_prefixes_fail(&bytes, |b| ApiVersionsResponse::decode(b, version));
        }
    }

    #[test]
    fn unsupported_version_v0_body_is_read_at_any_version() {
        // error 35, one api (18, 0..2), nothing else: what an old broker sends.
        for v in 0..=3 {
            let body = Bytes::from_static(&[0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 2]);
            let r = ApiVersionsResponse::decode(body, v).unwrap();
            assert_eq!(r.error_code, ErrorCode::UNSUPPORTED_VERSION);
            assert_eq!(r.range(ApiKey::ApiVersions), Some(Versions::new(0, 2)));
        }
    }
}
