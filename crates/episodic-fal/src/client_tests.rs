//! The client on its own: fal's answers (built by hand) read into errors, the headers it sends, where
//! its key may go, and its retries against a port that refuses connections.

use super::*;
use crate::wire::LocSegment;

fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> Answer {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    Answer {
        status,
        headers: map,
        body: Bytes::from(body.to_owned()),
        retries: 2,
        elapsed: Duration::from_millis(300),
    }
}

fn client(key: Option<&str>) -> FalClient {
    FalClient::new(
        FalConfig::single_host("http://127.0.0.1:9").unwrap(),
        key.map(|k| FalKey::new(k).unwrap()),
    )
    .unwrap()
}

fn kind(status: u16, body: &str) -> FalErrorKind {
    client(None).error_from_answer(Operation::Result, &answer(status, &[], body)).kind
}

#[test]
fn errors_carry_retries_and_request_id() {
    let e = client(None)
        .error_from_answer(Operation::Status, &answer(500, &[("x-fal-request-id", "abc")], "oops"));
    assert_eq!(e.retries, 2);
    assert_eq!(e.elapsed, Duration::from_millis(300));
    assert_eq!(e.fal_request_id.as_deref(), Some("abc"));
    assert!(e.to_string().contains("(after 2 retries)"), "{e}");
}

#[test]
fn validation_detail_is_parsed() {
    let k = kind(
        422,
        r#"{"detail":[{"loc":["body","prompt"],"msg":"field required","type":"value_error.missing"}]}"#,
    );
    let FalErrorKind::Validation { status: 422, detail: ValidationDetail::Items(items) } = k else {
        panic!("unexpected {k:?}")
    };
    assert_eq!(items[0].loc[1], LocSegment::Key("prompt".into()));
}

#[test]
fn still_in_progress_is_not_ready() {
    assert_eq!(kind(400, r#"{"detail": "Request is still in progress"}"#), FalErrorKind::NotReady);
    assert!(matches!(
        kind(400, r#"{"detail": "Invalid storage type"}"#),
        FalErrorKind::Validation { status: 400, .. }
    ));
}

#[test]
fn locked_account_is_out_of_credit() {
    let k = kind(
        403,
        r#"{"detail":"User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing"}"#,
    );
    assert!(matches!(k, FalErrorKind::OutOfCredit { .. }), "{k:?}");
    assert!(matches!(kind(403, r#"{"detail":"Access denied"}"#), FalErrorKind::Forbidden { .. }));
}

#[test]
fn infra_error_type_from_body_or_header() {
    let k = kind(504, r#"{"detail": "Request timed out", "error_type": "request_timeout"}"#);
    assert_eq!(
        k,
        FalErrorKind::Server {
            status: 504,
            error_type: Some("request_timeout".into()),
            detail: "Request timed out".into()
        }
    );
    let e = client(None).error_from_answer(
        Operation::Result,
        &answer(503, &[("x-fal-error-type", "runner_disconnected")], "busy"),
    );
    assert_eq!(
        e.kind,
        FalErrorKind::Server {
            status: 503,
            error_type: Some("runner_disconnected".into()),
            detail: "busy".into()
        }
    );
}

#[test]
fn other_statuses() {
    assert!(matches!(kind(401, r#"{"detail":"No key"}"#), FalErrorKind::Unauthorized { .. }));
    assert!(matches!(kind(404, ""), FalErrorKind::NotFound { what: "request", .. }));
    assert!(matches!(kind(429, "slow down"), FalErrorKind::RateLimited { .. }));
    assert_eq!(
        kind(500, ""),
        FalErrorKind::Server { status: 500, error_type: None, detail: "HTTP 500 with an empty body".into() }
    );
}

#[test]
fn echoed_key_is_scrubbed() {
    let c = client(Some("kid:ksecret"));
    let e =
        c.error_from_answer(Operation::Submit, &answer(401, &[], r#"{"detail":"Invalid key kid:ksecret"}"#));
    let text = e.to_string();
    assert!(!text.contains("ksecret"), "{text}");
    assert!(text.contains("check FAL_KEY"), "{text}");
}

#[test]
fn submit_ambiguity() {
    assert!(!submit_may_have_queued(&answer(422, &[], "")));
    assert!(!submit_may_have_queued(&answer(429, &[], "")));
    assert!(!submit_may_have_queued(&answer(403, &[], "")));
    assert!(submit_may_have_queued(&answer(409, &[], "")));
    assert!(submit_may_have_queued(&answer(500, &[], "")));
    assert!(submit_may_have_queued(&answer(504, &[], "nginx")));
    assert!(!submit_may_have_queued(&answer(503, &[], "<center>nginx</center>")));
    assert!(submit_may_have_queued(&answer(503, &[("x-fal-request-id", "r")], "nginx")));
}

#[test]
fn submit_answer_without_urls_is_completed() {
    let e = EndpointId::parse("fal-ai/kling-video/ai-avatar/v2/pro").unwrap();
    let a = answer(200, &[], r#"{"request_id": "r-1", "queue_position": 4}"#);
    let s = parse_submit("https://queue.fal.run", &e, &a).unwrap();
    assert_eq!(s.request_id, "r-1");
    assert_eq!(s.queue_position, Some(4));
    assert_eq!(s.status_url, "https://queue.fal.run/fal-ai/kling-video/requests/r-1/status");
    let a = answer(200, &[], r#"{"status": "IN_QUEUE"}"#);
    assert!(parse_submit("https://queue.fal.run", &e, &a).is_err());
}

#[test]
fn submit_headers_follow_the_protocol() {
    let options = SubmitOptions {
        start_timeout: Some(Duration::from_secs(30)),
        priority: Some(Priority::Low),
        runner_hint: Some("gpu-a".into()),
        store_io: Some(false),
        disable_server_retries: true,
        object_lifecycle: Some(ObjectLifecycle::expire_after_seconds(3600)),
        ..SubmitOptions::default()
    };
    let h = submit_headers(&options).unwrap();
    assert_eq!(h["x-fal-request-timeout"], "30");
    assert_eq!(h["x-fal-queue-priority"], "low");
    assert_eq!(h["x-fal-runner-hint"], "gpu-a");
    assert_eq!(h["x-fal-store-io"], "0");
    assert_eq!(h["x-fal-no-retry"], "1");
    assert_eq!(h["x-fal-object-lifecycle-preference"], r#"{"expiration_duration_seconds":3600}"#);
    assert!(submit_headers(&SubmitOptions::default()).unwrap().is_empty());
    let fractional =
        SubmitOptions { start_timeout: Some(Duration::from_millis(1500)), ..SubmitOptions::default() };
    assert_eq!(submit_headers(&fractional).unwrap()["x-fal-request-timeout"], "1.5");
    let too_short = SubmitOptions { start_timeout: Some(Duration::from_secs(1)), ..SubmitOptions::default() };
    assert!(submit_headers(&too_short).is_err());
    let bad_hint = SubmitOptions { runner_hint: Some("a\nb".into()), ..SubmitOptions::default() };
    assert!(submit_headers(&bad_hint).is_err());
}

#[test]
fn key_only_goes_to_configured_origins() {
    let c = client(Some("kid:ksecret"));
    let to = |url: &str| {
        c.api_request(Method::GET, Url::parse(url).unwrap())
            .build()
            .unwrap()
            .headers()
            .get(AUTHORIZATION)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(to("http://127.0.0.1:9/fal-ai/x/requests/1/status").as_deref(), Some("Key kid:ksecret"));
    assert_eq!(to("http://127.0.0.1:10/fal-ai/x/requests/1"), None);
    assert_eq!(to("https://elsewhere.invalid/x"), None);
    let plain = c.plain_request(Method::GET, Url::parse("http://127.0.0.1:9/f").unwrap()).build().unwrap();
    assert!(plain.headers().get(AUTHORIZATION).is_none());
}

#[test]
fn client_debug_does_not_show_the_key() {
    let c = client(Some("kid:ksecret"));
    let debug = format!("{c:?}");
    assert!(!debug.contains("ksecret"), "{debug}");
}

/// A loopback port with nothing listening: every connect is refused at once, so the
/// retry loop runs without any server.
fn unreachable_config() -> FalConfig {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut config = FalConfig::single_host(&format!("http://127.0.0.1:{port}")).unwrap();
    config.retry = crate::retry::RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        max_retry_after: Duration::from_millis(2),
    };
    config
}

#[tokio::test]
async fn refused_connections_are_retried_and_counted() {
    let client = FalClient::new(unreachable_config(), Some(FalKey::new("k:s").unwrap())).unwrap();
    let endpoint = EndpointId::parse("veed/fabric-1.0").unwrap();
    let options = SubmitOptions {
        webhook_url: Some(Url::parse("https://hooks.invalid/fal?token=hook-secret").unwrap()),
        ..SubmitOptions::default()
    };
    let err = client.submit(&endpoint, &serde_json::json!({"image_url": "u"}), &options).await.unwrap_err();
    assert_eq!(err.operation, Operation::Submit);
    assert_eq!(err.retries, 2);
    assert!(matches!(err.kind, FalErrorKind::Transport { .. }), "{err}");
    // Refused before anything was sent: safe to submit again.
    assert!(!err.maybe_submitted);
    let text = err.to_string();
    assert!(!text.contains("hook-secret"), "{text}");
    assert!(text.contains("(after 2 retries)"), "{text}");

    let handle = RequestHandle::reattach(client.config(), &endpoint, "r-1").unwrap();
    let err = client.status(&handle, true).await.unwrap_err();
    assert_eq!((err.operation, err.retries), (Operation::Status, 2));
    let err = client.cancel(&handle).await.unwrap_err();
    assert_eq!((err.operation, err.retries), (Operation::Cancel, 2));
}

#[tokio::test]
async fn never_policy_makes_one_attempt() {
    let mut config = unreachable_config();
    config.retry = crate::retry::RetryPolicy::never();
    let client = FalClient::new(config, None).unwrap();
    let endpoint = EndpointId::parse("veed/fabric-1.0").unwrap();
    let handle = RequestHandle::reattach(client.config(), &endpoint, "r-1").unwrap();
    let err = client.result(&handle).await.unwrap_err();
    assert_eq!(err.retries, 0);
}

#[test]
fn bad_config_is_refused() {
    let config = FalConfig { queue_url: "nope".into(), ..FalConfig::default() };
    assert!(FalClient::new(config, None).is_err());
}
