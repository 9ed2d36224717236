//! Webhook signatures (`fal-protocol.md` §3.3): verifying fal's deliveries and, for the
//! studio, signing its own.
//!
//! message = `request_id \n user_id \n timestamp \n hex(sha256(raw body))`, signed with
//! Ed25519; the signature travels hex-encoded, the public keys as a JWKS.

use crate::pyjson;
use crate::wire::{Jwk, Jwks, WebhookPayload};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Header carrying the request id.
pub const HEADER_REQUEST_ID: &str = "X-Fal-Webhook-Request-Id";
/// Header carrying the fal user id.
pub const HEADER_USER_ID: &str = "X-Fal-Webhook-User-Id";
/// Header carrying the Unix time of signing, in seconds.
pub const HEADER_TIMESTAMP: &str = "X-Fal-Webhook-Timestamp";
/// Header carrying the hex Ed25519 signature.
pub const HEADER_SIGNATURE: &str = "X-Fal-Webhook-Signature";

/// Largest accepted difference between the signing time and now.
pub const MAX_SKEW_SECS: u64 = 300;

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// One of the four headers is missing or empty.
    #[error("webhook header {0} is missing")]
    MissingHeader(&'static str),
    /// The timestamp is not a whole number of seconds.
    #[error("webhook timestamp is not a Unix time in seconds")]
    InvalidTimestamp,
    /// Signed too long ago (or in the future): a replay or a wrong clock.
    #[error("webhook timestamp is {skew_secs}s away from now (limit {MAX_SKEW_SECS}s); check the clock")]
    StaleTimestamp {
        /// Seconds between signing and now.
        skew_secs: u64,
    },
    /// The signature is not 64 hex-encoded bytes.
    #[error("webhook signature is not 128 hex digits")]
    MalformedSignature,
    /// The JWKS holds no Ed25519 key this code can read.
    #[error("the JWKS holds no usable Ed25519 key")]
    NoUsableKey,
    /// No key verifies the signature.
    #[error("webhook signature does not verify under any known key")]
    BadSignature,
    /// Signed correctly, but the body is not a webhook payload.
    #[error("webhook body is not a fal webhook payload: {0}")]
    Payload(String),
    /// The header's request id differs from the body's.
    #[error("webhook header request id differs from the body's")]
    RequestIdMismatch,
}

/// The four `X-Fal-Webhook-*` header values as received (any may be missing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookHeaderValues<'a> {
    /// `X-Fal-Webhook-Request-Id`.
    pub request_id: Option<&'a str>,
    /// `X-Fal-Webhook-User-Id`.
    pub user_id: Option<&'a str>,
    /// `X-Fal-Webhook-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-Fal-Webhook-Signature`.
    pub signature: Option<&'a str>,
}

impl<'a> WebhookHeaderValues<'a> {
    /// Collects the values through `get`, which looks a header up by name (HTTP header names
    /// are case-insensitive; `get` must honour that).
    pub fn from_fn(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            request_id: get(HEADER_REQUEST_ID),
            user_id: get(HEADER_USER_ID),
            timestamp: get(HEADER_TIMESTAMP),
            signature: get(HEADER_SIGNATURE),
        }
    }
}

/// Signed header values produced by [`sign_webhook`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaders {
    /// `X-Fal-Webhook-Request-Id`.
    pub request_id: String,
    /// `X-Fal-Webhook-User-Id`.
    pub user_id: String,
    /// `X-Fal-Webhook-Timestamp`.
    pub timestamp: String,
    /// `X-Fal-Webhook-Signature`.
    pub signature: String,
}

impl WebhookHeaders {
    /// `(name, value)` pairs to set on the delivery.
    pub fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            (HEADER_REQUEST_ID, &self.request_id),
            (HEADER_USER_ID, &self.user_id),
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_SIGNATURE, &self.signature),
        ]
    }

    /// The values borrowed for [`verify_webhook`].
    pub fn as_values(&self) -> WebhookHeaderValues<'_> {
        WebhookHeaderValues {
            request_id: Some(&self.request_id),
            user_id: Some(&self.user_id),
            timestamp: Some(&self.timestamp),
            signature: Some(&self.signature),
        }
    }
}

/// An Ed25519 private key for signing deliveries (the studio's). `Debug` hides it.
#[derive(Clone)]
pub struct WebhookSigningKey(SigningKey);

impl fmt::Debug for WebhookSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSigningKey(***)")
    }
}

impl WebhookSigningKey {
    /// A key from its 32 secret bytes (e.g. derived from a test seed).
    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(secret))
    }

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Self {
        Self::from_bytes(&rand::random::<[u8; 32]>())
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The public key as a JWK, with a key id derived from it.
    pub fn jwk(&self) -> Jwk {
        jwk_from_public_key(&self.public_key())
    }

    /// A JWKS holding only this key, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Jwks {
        Jwks { keys: vec![self.jwk()] }
    }
}

/// The JWK for an Ed25519 public key; `kid` is the base64url of the key's SHA-256, first 16
/// bytes, so it is stable for a key and differs between keys.
pub fn jwk_from_public_key(public_key: &[u8; 32]) -> Jwk {
    let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(public_key)[..16]);
    Jwk {
        kty: "OKP".to_owned(),
        crv: Some("Ed25519".to_owned()),
        kid: Some(kid),
        x: Some(URL_SAFE_NO_PAD.encode(public_key)),
        key_use: Some("sig".to_owned()),
        alg: None,
    }
}

/// The exact bytes fal sends as a webhook body: Python's `json.dumps(obj, sort_keys=True)`.
pub fn webhook_body_bytes(payload: &WebhookPayload) -> Vec<u8> {
    // A WebhookPayload always serialises (string keys, no non-finite floats).
    let value = serde_json::to_value(payload).unwrap_or(serde_json::Value::Null);
    pyjson::dumps_sorted(&value).into_bytes()
}

fn signed_message(request_id: &str, user_id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let digest = hex::encode(Sha256::digest(body));
    format!("{request_id}\n{user_id}\n{timestamp}\n{digest}").into_bytes()
}

/// Signs a delivery of `body` as fal does; `timestamp` is Unix seconds.
pub fn sign_webhook(
    key: &WebhookSigningKey,
    request_id: &str,
    user_id: &str,
    timestamp: i64,
    body: &[u8],
) -> WebhookHeaders {
    let timestamp = timestamp.to_string();
    let signature = key.0.sign(&signed_message(request_id, user_id, &timestamp, body));
    WebhookHeaders {
        request_id: request_id.to_owned(),
        user_id: user_id.to_owned(),
        timestamp,
        signature: hex::encode(signature.to_bytes()),
    }
}

fn present<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, WebhookError> {
    value.map(str::trim).filter(|v| !v.is_empty()).ok_or(WebhookError::MissingHeader(name))
}

fn decode_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if jwk.kty != "OKP" || jwk.crv.as_deref().is_some_and(|c| c != "Ed25519") {
        return None;
    }
    // fal's JWKS sometimes keeps `=` padding on `x`.
    let x = jwk.x.as_deref()?.trim_end_matches('=');
    let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(x).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Checks a delivery: all headers present, timestamp within [`MAX_SKEW_SECS`] of `now`, and
/// the signature over the raw `body` valid under any key of `jwks`.
pub fn verify_webhook(
    body: &[u8],
    headers: &WebhookHeaderValues<'_>,
    jwks: &Jwks,
    now: SystemTime,
) -> Result<(), WebhookError> {
    let request_id = present(headers.request_id, HEADER_REQUEST_ID)?;
    let user_id = present(headers.user_id, HEADER_USER_ID)?;
    let timestamp = present(headers.timestamp, HEADER_TIMESTAMP)?;
    let signature = present(headers.signature, HEADER_SIGNATURE)?;

    let signed_at: i64 = timestamp.parse().map_err(|_| WebhookError::InvalidTimestamp)?;
    let now_secs = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let skew_secs = now_secs.abs_diff(signed_at);
    if skew_secs > MAX_SKEW_SECS {
        return Err(WebhookError::StaleTimestamp { skew_secs });
    }

    let signature: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(WebhookError::MalformedSignature)?;
    let signature = Signature::from_bytes(&signature);
    let message = signed_message(request_id, user_id, timestamp, body);
    let keys: Vec<VerifyingKey> = jwks.keys.iter().filter_map(decode_key).collect();
    if keys.is_empty() {
        return Err(WebhookError::NoUsableKey);
    }
    if keys.iter().any(|key| key.verify_strict(&message, &signature).is_ok()) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

/// [`verify_webhook`], then parses the body and checks its `request_id` matches the header's.
pub fn verify_and_parse_webhook(
    body: &[u8],
    headers: &WebhookHeaderValues<'_>,
    jwks: &Jwks,
    now: SystemTime,
) -> Result<WebhookPayload, WebhookError> {
    verify_webhook(body, headers, jwks, now)?;
    let payload: WebhookPayload =
        serde_json::from_slice(body).map_err(|e| WebhookError::Payload(e.to_string()))?;
    if headers.request_id.map(str::trim) != Some(payload.request_id.as_str()) {
        return Err(WebhookError::RequestIdMismatch);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WebhookStatus;
    use serde_json::json;
    use std::time::Duration;

    const T: i64 = 1_784_206_014;

    fn at(secs: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap())
    }

    fn key(seed: u8) -> WebhookSigningKey {
        WebhookSigningKey::from_bytes(&[seed; 32])
    }

    fn payload() -> WebhookPayload {
        WebhookPayload {
            request_id: "019f6af7-3088-7f03-b97d-84fec4a3ce12".into(),
            gateway_request_id: Some("019f6af7-3088-7f03-b97d-84fec4a3ce12".into()),
            status: WebhookStatus::Ok,
            payload: json!({"video": {"url": "https://v3b.fal.media/files/b/x/out.mp4",
                                      "content_type": "video/mp4", "file_name": "out.mp4",
                                      "file_size": 123456},
                            "duration": 5.1}),
            error: None,
            payload_error: None,
        }
    }

    fn signed(k: &WebhookSigningKey) -> (Vec<u8>, WebhookHeaders) {
        let p = payload();
        let body = webhook_body_bytes(&p);
        let headers = sign_webhook(k, &p.request_id, "github|179462", T, &body);
        (body, headers)
    }

    #[test]
    fn body_bytes_match_python_sort_keys_dumps() {
        let body = String::from_utf8(webhook_body_bytes(&payload())).unwrap();
        assert_eq!(
            body,
            "{\"error\": null, \"gateway_request_id\": \"019f6af7-3088-7f03-b97d-84fec4a3ce12\", \
             \"payload\": {\"duration\": 5.1, \"video\": {\"content_type\": \"video/mp4\", \
             \"file_name\": \"out.mp4\", \"file_size\": 123456, \
             \"url\": \"https://v3b.fal.media/files/b/x/out.mp4\"}}, \
             \"request_id\": \"019f6af7-3088-7f03-b97d-84fec4a3ce12\", \"status\": \"OK\"}"
        );
    }

    #[test]
    fn error_body_has_no_payload_error_key_unless_set() {
        let mut p = payload();
        p.status = WebhookStatus::Error;
        p.error = Some("Invalid status code: 422".into());
        p.payload = json!({"detail": [{"loc": ["body", "prompt"], "msg": "field required",
                                       "type": "value_error.missing"}]});
        p.gateway_request_id = Some("g".into());
        p.request_id = "r".into();
        assert_eq!(
            String::from_utf8(webhook_body_bytes(&p)).unwrap(),
            r#"{"error": "Invalid status code: 422", "gateway_request_id": "g", "payload": {"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}]}, "request_id": "r", "status": "ERROR"}"#
        );
    }

    #[test]
    fn sign_then_verify() {
        let k = key(7);
        let (body, headers) = signed(&k);
        assert_eq!(headers.signature.len(), 128);
        assert_eq!(headers.timestamp, T.to_string());
        verify_webhook(&body, &headers.as_values(), &k.jwks(), at(T + 10)).unwrap();
        let parsed = verify_and_parse_webhook(&body, &headers.as_values(), &k.jwks(), at(T)).unwrap();
        assert_eq!(parsed, payload());
    }

    #[test]
    fn any_key_of_the_set_may_verify() {
        let k = key(7);
        let (body, headers) = signed(&k);
        let jwks = Jwks { keys: vec![key(8).jwk(), k.jwk()] };
        verify_webhook(&body, &headers.as_values(), &jwks, at(T)).unwrap();
    }

    #[test]
    fn padded_x_is_tolerated() {
        let k = key(7);
        let (body, headers) = signed(&k);
        let mut jwk = k.jwk();
        jwk.x = jwk.x.map(|x| format!("{x}="));
        verify_webhook(&body, &headers.as_values(), &Jwks { keys: vec![jwk] }, at(T)).unwrap();
    }

    #[test]
    fn tampered_body_is_rejected() {
        let k = key(7);
        let (mut body, headers) = signed(&k);
        let last = body.len() - 2;
        body[last] ^= 1;
        assert_eq!(
            verify_webhook(&body, &headers.as_values(), &k.jwks(), at(T)),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn tampered_headers_are_rejected() {
        let k = key(7);
        let (body, headers) = signed(&k);
        let mut other_user = headers.clone();
        other_user.user_id = "github|1".into();
        assert_eq!(
            verify_webhook(&body, &other_user.as_values(), &k.jwks(), at(T)),
            Err(WebhookError::BadSignature)
        );
        let mut other_time = headers.clone();
        other_time.timestamp = (T + 1).to_string();
        assert_eq!(
            verify_webhook(&body, &other_time.as_values(), &k.jwks(), at(T)),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn wrong_key_is_rejected() {
        let (body, headers) = signed(&key(7));
        assert_eq!(
            verify_webhook(&body, &headers.as_values(), &key(9).jwks(), at(T)),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_rejected() {
        let k = key(7);
        let (body, headers) = signed(&k);
        verify_webhook(&body, &headers.as_values(), &k.jwks(), at(T + 300)).unwrap();
        verify_webhook(&body, &headers.as_values(), &k.jwks(), at(T - 300)).unwrap();
        assert_eq!(
            verify_webhook(&body, &headers.as_values(), &k.jwks(), at(T + 301)),
            Err(WebhookError::StaleTimestamp { skew_secs: 301 })
        );
        assert_eq!(
            verify_webhook(&body, &headers.as_values(), &k.jwks(), at(T - 3600)),
            Err(WebhookError::StaleTimestamp { skew_secs: 3600 })
        );
    }

    #[test]
    fn missing_headers_are_rejected() {
        let k = key(7);
        let (body, headers) = signed(&k);
        let full = headers.as_values();
        for (values, name) in [
            (WebhookHeaderValues { request_id: None, ..full }, HEADER_REQUEST_ID),
            (WebhookHeaderValues { user_id: Some(""), ..full }, HEADER_USER_ID),
            (WebhookHeaderValues { timestamp: None, ..full }, HEADER_TIMESTAMP),
            (WebhookHeaderValues { signature: None, ..full }, HEADER_SIGNATURE),
        ] {
            assert_eq!(
                verify_webhook(&body, &values, &k.jwks(), at(T)),
                Err(WebhookError::MissingHeader(name))
            );
        }
    }

    #[test]
    fn malformed_values_are_rejected() {
        let k = key(7);
        let (body, headers) = signed(&k);
        let full = headers.as_values();
        let short = &headers.signature[..126];
        assert_eq!(
            verify_webhook(&body, &WebhookHeaderValues { signature: Some(short), ..full }, &k.jwks(), at(T)),
            Err(WebhookError::MalformedSignature)
        );
        assert_eq!(
            verify_webhook(
                &body,
                &WebhookHeaderValues { timestamp: Some("17842060.14"), ..full },
                &k.jwks(),
                at(T)
            ),
            Err(WebhookError::InvalidTimestamp)
        );
        let unusable = Jwks { keys: vec![Jwk { kty: "RSA".into(), ..k.jwk() }] };
        assert_eq!(verify_webhook(&body, &full, &unusable, at(T)), Err(WebhookError::NoUsableKey));
    }

    #[test]
    fn header_and_body_request_ids_must_match() {
        let k = key(7);
        let p = payload();
        let body = webhook_body_bytes(&p);
        let headers = sign_webhook(&k, "another-id", "u", T, &body);
        assert_eq!(
            verify_and_parse_webhook(&body, &headers.as_values(), &k.jwks(), at(T)),
            Err(WebhookError::RequestIdMismatch)
        );
    }

    #[test]
    fn header_lookup_and_pairs() {
        let k = key(7);
        let (_, headers) = signed(&k);
        let pairs = headers.pairs();
        let values = WebhookHeaderValues::from_fn(|name| {
            pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
        });
        assert_eq!(values, headers.as_values());
    }

    #[test]
    fn jwk_shape_and_debug() {
        let k = key(7);
        let jwk = k.jwk();
        assert_eq!(jwk.kty, "OKP");
        assert_eq!(jwk.crv.as_deref(), Some("Ed25519"));
        assert_eq!(jwk.x.as_deref().map(str::len), Some(43));
        assert_ne!(jwk.kid, key(8).jwk().kid);
        assert_eq!(format!("{k:?}"), "WebhookSigningKey(***)");
        let g = WebhookSigningKey::generate();
        assert_ne!(g.public_key(), k.public_key());
    }
}
