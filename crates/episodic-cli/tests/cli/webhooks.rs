//! Webhook mode: `episodic webhooks serve` verifies and records deliveries; a render started with
//! `--webhook-url` finishes from them instead of polling. Bad deliveries are refused with 401.

use crate::support::{Bench, TestContext, assert_ok, demo_plan};
use episodic_fal::webhook::{WebhookSigningKey, sign_webhook, webhook_body_bytes};
use episodic_fal::wire::{WebhookPayload, WebhookStatus};
use episodic_studio::StudioConfig;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `episodic webhooks serve` on a free port; its URL once it listens.
fn serve(context: &TestContext, keys: &[&str]) -> (Child, String) {
    let ready = context.root().join("webhooks.json");
    let mut child = context
        .command(["webhooks", "serve", "--port", "0", "--state-dir", ".state", "--ready-file"])
        .arg(&ready)
        .args(keys)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn webhooks serve");
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
        {
            return (child, json["url"].as_str().expect("url").to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("webhooks serve did not start");
}

fn stop(mut child: Child) -> String {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    stderr
}

#[test]
fn a_render_finishes_from_webhooks_instead_of_polling() {
    let bench = Bench::new(StudioConfig {
        render_time_per_second: Duration::from_millis(100),
        ..StudioConfig::default()
    });
    let (renders, _, _) = demo_plan(bench.root());
    let jwks = format!("{}/.well-known/jwks.json", bench.studio_url());
    let (server, url) = serve(bench.context(), &["--jwks-url", &jwks]);
    let output = bench.render(&["--webhook-url", &url]);
    let log = stop(server);
    assert_ok(&output);
    let stats = bench.stats();
    assert_eq!(stats.webhooks.delivered, renders, "{log}");
    // Polling would ask many times per render; webhook mode checks status only as a safety net
    // every half minute, so a slow machine may add one or two checks per render, never dozens.
    assert!(
        stats.status_polls < 2 * renders,
        "finished from webhooks, not by polling: {} status calls",
        stats.status_polls
    );
    assert_eq!(log.matches("recorded ").count() as u64, renders, "{log}");
}

#[test]
fn unsigned_badly_signed_stale_and_replayed_deliveries() {
    let context = TestContext::new();
    let key = WebhookSigningKey::generate();
    let jwks = context.root().join("jwks.json");
    std::fs::write(&jwks, serde_json::to_vec(&key.jwks()).expect("jwks")).expect("write");
    let (server, url) = serve(&context, &["--jwks-file", jwks.to_str().expect("path")]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let payload = WebhookPayload {
        request_id: "019f6af7-3088-7f03-b97d-84fec4a3ce12".into(),
        gateway_request_id: None,
        status: WebhookStatus::Ok,
        payload: serde_json::json!({"video": {"url": "http://127.0.0.1:9/files/x/output.mp4"}}),
        error: None,
        payload_error: None,
    };
    let body = webhook_body_bytes(&payload);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    let post = |body: Vec<u8>, signer: Option<(&WebhookSigningKey, i64)>| {
        let client = reqwest::Client::new();
        let mut request = client.post(&url).body(body.clone());
        if let Some((key, at)) = signer {
            for (name, value) in sign_webhook(key, &payload.request_id, "github|1", at, &body).pairs() {
                request = request.header(name, value);
            }
        }
        runtime.block_on(async { request.send().await.expect("post") })
    };
    assert_eq!(post(body.clone(), None).status().as_u16(), 401, "unsigned");
    let stranger = WebhookSigningKey::generate();
    assert_eq!(post(body.clone(), Some((&stranger, now))).status().as_u16(), 401, "signed by another key");
    assert_eq!(post(body.clone(), Some((&key, now - 3600))).status().as_u16(), 401, "stale");
    let good = post(body.clone(), Some((&key, now)));
    assert_eq!(good.status().as_u16(), 200);
    let answer: serde_json::Value = runtime.block_on(good.json()).expect("json");
    assert_eq!(answer["recorded"], true);
    let replay = post(body.clone(), Some((&key, now)));
    assert_eq!(replay.status().as_u16(), 200, "a replay is accepted");
    let answer: serde_json::Value = runtime.block_on(replay.json()).expect("json");
    assert_eq!(answer["recorded"], false, "and changes nothing");
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    let signed_then_tampered = {
        let client = reqwest::Client::new();
        let mut request = client.post(&url).body(tampered);
        for (name, value) in sign_webhook(&key, &payload.request_id, "github|1", now, &body).pairs() {
            request = request.header(name, value);
        }
        runtime.block_on(async { request.send().await.expect("post") })
    };
    assert_eq!(signed_then_tampered.status().as_u16(), 401, "tampered");
    let log = stop(server);
    assert_eq!(log.matches("refused a webhook delivery").count(), 4, "every refusal is logged:\n{log}");
}
