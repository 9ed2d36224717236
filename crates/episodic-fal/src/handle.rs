//! `RequestHandle`: the URLs of one queued request, from a submit answer or rebuilt after a crash.

use crate::config::FalConfig;
use crate::endpoint::{EndpointError, EndpointId, validate_request_id};
use crate::wire::SubmitResponse;
use url::Url;

/// Everything needed to follow a queued request: status, result and cancel URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHandle {
    /// The endpoint it was submitted to.
    pub endpoint: EndpointId,
    /// fal's request id; journal it the moment it arrives.
    pub request_id: String,
    /// `GET` for the status (`?logs=1` adds logs).
    pub status_url: Url,
    /// `GET` for the result.
    pub response_url: Url,
    /// `PUT` to cancel.
    pub cancel_url: Url,
}

impl RequestHandle {
    /// Takes the URLs from a submit answer, as fal asks clients to do.
    ///
    /// A URL on another origin than the configured queue is replaced by the rebuilt one (as the
    /// JS client always does): the client sends the API key to these URLs and must not send it
    /// to a host the user did not configure.
    pub fn from_submit(
        config: &FalConfig,
        endpoint: &EndpointId,
        submit: &SubmitResponse,
    ) -> Result<Self, EndpointError> {
        let rebuilt = Self::reattach(config, endpoint, &submit.request_id)?;
        let queue_origin = rebuilt.response_url.origin();
        let pick = |given: &str, fallback: &Url| match Url::parse(given) {
            Ok(url) if url.origin() == queue_origin => url,
            _ => fallback.clone(),
        };
        Ok(Self {
            status_url: pick(&submit.status_url, &rebuilt.status_url),
            response_url: pick(&submit.response_url, &rebuilt.response_url),
            cancel_url: pick(&submit.cancel_url, &rebuilt.cancel_url),
            ..rebuilt
        })
    }

    /// Rebuilds the URLs of a request submitted earlier (for resuming after a crash), with the
    /// owner/alias rule: `{queue}/{owner}/{alias}/requests/{id}[/status|/cancel]`.
    pub fn reattach(
        config: &FalConfig,
        endpoint: &EndpointId,
        request_id: &str,
    ) -> Result<Self, EndpointError> {
        validate_request_id(request_id)?;
        let base = endpoint.request_url(&config.queue_url, request_id)?;
        let parse =
            |s: String| Url::parse(&s).map_err(|_| EndpointError::InvalidBaseUrl(config.queue_url.clone()));
        Ok(Self {
            endpoint: endpoint.clone(),
            request_id: request_id.to_owned(),
            status_url: parse(format!("{base}/status"))?,
            cancel_url: parse(format!("{base}/cancel"))?,
            response_url: parse(base)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Metrics, QueueState};

    fn submit(base: &str, id: &str) -> SubmitResponse {
        SubmitResponse {
            status: QueueState::InQueue,
            request_id: id.to_owned(),
            response_url: format!("{base}/requests/{id}"),
            status_url: format!("{base}/requests/{id}/status"),
            cancel_url: format!("{base}/requests/{id}/cancel"),
            logs: None,
            metrics: Metrics::default(),
            queue_position: Some(0),
            gateway_request_id: None,
        }
    }

    #[test]
    fn reattach_uses_owner_and_alias_only() {
        let config = FalConfig::default();
        let e = EndpointId::parse("fal-ai/kling-video/ai-avatar/v2/pro").unwrap();
        let h = RequestHandle::reattach(&config, &e, "abc-123").unwrap();
        assert_eq!(h.response_url.as_str(), "https://queue.fal.run/fal-ai/kling-video/requests/abc-123");
        assert_eq!(h.status_url.as_str(), "https://queue.fal.run/fal-ai/kling-video/requests/abc-123/status");
        assert_eq!(h.cancel_url.as_str(), "https://queue.fal.run/fal-ai/kling-video/requests/abc-123/cancel");
    }

    #[test]
    fn from_submit_keeps_same_origin_urls() {
        let config = FalConfig::single_host("http://127.0.0.1:7000").unwrap();
        let e = EndpointId::parse("veed/fabric-1.0").unwrap();
        // The server may use its own path layout; same origin means we follow it.
        let s = submit("http://127.0.0.1:7000/custom/veed/fabric-1.0", "r1");
        let h = RequestHandle::from_submit(&config, &e, &s).unwrap();
        assert_eq!(h.status_url.as_str(), "http://127.0.0.1:7000/custom/veed/fabric-1.0/requests/r1/status");
    }

    #[test]
    fn from_submit_never_follows_another_origin() {
        let config = FalConfig::single_host("http://127.0.0.1:7000").unwrap();
        let e = EndpointId::parse("veed/fabric-1.0").unwrap();
        let s = submit("http://evil.invalid/veed/fabric-1.0", "r1");
        let h = RequestHandle::from_submit(&config, &e, &s).unwrap();
        assert_eq!(h.status_url.as_str(), "http://127.0.0.1:7000/veed/fabric-1.0/requests/r1/status");
        assert_eq!(h.response_url.as_str(), "http://127.0.0.1:7000/veed/fabric-1.0/requests/r1");
        let mut bad = submit("http://127.0.0.1:7000/veed/fabric-1.0", "r1");
        bad.cancel_url = "not a url".into();
        let h = RequestHandle::from_submit(&config, &e, &bad).unwrap();
        assert_eq!(h.cancel_url.as_str(), "http://127.0.0.1:7000/veed/fabric-1.0/requests/r1/cancel");
    }

    #[test]
    fn bad_request_ids_are_refused() {
        let config = FalConfig::default();
        let e = EndpointId::parse("veed/fabric-1.0").unwrap();
        assert!(RequestHandle::reattach(&config, &e, "../../x").is_err());
        let s = submit("https://queue.fal.run/veed/fabric-1.0", "a?b");
        assert!(RequestHandle::from_submit(&config, &e, &s).is_err());
    }
}
