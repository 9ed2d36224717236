//! Webhooks: delivered signed, verified with the studio's JWKS, retried, and a tampered
//! delivery is rejected.

use crate::support::{KEY, client, config, studio};
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use episodic_fal::webhook::{
    WebhookHeaderValues, WebhookSigningKey, verify_and_parse_webhook, verify_webhook,
};
use episodic_fal::wire::Jwks;
use episodic_fal::{EndpointId, SubmitOptions};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on loopback that refuses the first `refuse` deliveries with a 500.
async fn receiver(refuse: usize) -> (String, Received) {
    let received: Received = Arc::default();
    let attempts = Arc::new(Mutex::new(0usize));
    let store = Arc::clone(&received);
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let store = Arc::clone(&store);
            let attempts = Arc::clone(&attempts);
            async move {
                let mut count = attempts.lock().expect("lock");
                *count += 1;
                if *count <= refuse {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                store.lock().expect("lock").push((headers, body));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hook"), received)
}

async fn wait_for(received: &Received) -> (HeaderMap, Bytes) {
    for _ in 0..200 {
        if let Some(first) = received.lock().expect("lock").first().cloned() {
            return first;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no webhook arrived");
}

fn values(headers: &HeaderMap) -> WebhookHeaderValues<'_> {
    WebhookHeaderValues::from_fn(|name| headers.get(name).and_then(|value| value.to_str().ok()))
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_is_signed_retried_and_verifiable() {
    let studio = studio(config()).await;
    let client = client(&studio, KEY);
    let (url, received) = receiver(2).await;
    let endpoint = EndpointId::parse("fal-ai/kling-video/o3/standard/text-to-video").expect("endpoint");
    let options = SubmitOptions { webhook_url: Some(url.parse().expect("url")), ..SubmitOptions::default() };
    let submitted = client
        .submit(&endpoint, &json!({"prompt": "A neon skyline", "duration": "3"}), &options)
        .await
        .expect("submit");
    let (headers, body) = wait_for(&received).await;

    let jwks: Jwks = reqwest::get(format!("{}/.well-known/jwks.json", studio.urls().rest_url))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let payload = verify_and_parse_webhook(&body, &values(&headers), &jwks, SystemTime::now())
        .expect("signature verifies");
    assert_eq!(payload.request_id, submitted.request_id);
    let parsed: serde_json::Value = serde_json::from_slice(&body).expect("json body");
    assert_eq!(parsed["status"], "OK");
    assert!(parsed["payload"]["video"]["url"].as_str().is_some_and(|u| u.ends_with(".mp4")));
    assert!(
        std::str::from_utf8(&body).expect("utf-8").starts_with("{\"error\": null, "),
        "Python's sorted-keys form"
    );

    let stats = studio.stats();
    assert_eq!(stats.webhooks.delivered, 1);
    assert_eq!(stats.webhooks.failed_attempts, 2);

    // Tampered body, a stranger's key, a stale timestamp: all refused.
    let mut tampered = body.to_vec();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert!(verify_webhook(&tampered, &values(&headers), &jwks, SystemTime::now()).is_err());
    let stranger = WebhookSigningKey::generate().jwks();
    assert!(verify_webhook(&body, &values(&headers), &stranger, SystemTime::now()).is_err());
    let later = SystemTime::now() + Duration::from_secs(600);
    assert!(verify_webhook(&body, &values(&headers), &jwks, later).is_err());
}
