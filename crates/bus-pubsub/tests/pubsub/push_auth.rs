//! Push authentication and envelope checks, calling the receiver directly
//! (`oneshot`): the emulator sends no token, so the tests sign their own with
//! RSA keys they generate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use angzarr_bus_pubsub::push::{PushAuthBuilder, PushEnvelope, PushMessage, PushReceiver};
use angzarr_core::{Delivery, MessageAttributes};
use axum::Router;
use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use prost::Message;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, rand_core::OsRng};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::support::fresh_book;

const AUDIENCE: &str = "https://projector.example.run.app/push";
const PUSHER: &str = "pubsub-push@angzarr-test.iam.gserviceaccount.com";
const KID: &str = "test-key-1";
const KEY_BITS: usize = 1024;

/// An RSA key pair with what signs and what verifies.
struct TestKey {
    encoding: EncodingKey,
    jwk: Value,
}

impl TestKey {
    fn generate(kid: &str) -> Self {
        let started = Instant::now();
        // 1024 bits: RS256 verification does not depend on the size, and a
        // 2048-bit key takes ~10 s to generate in an unoptimised test build.
        let private = RsaPrivateKey::new(&mut OsRng, KEY_BITS).unwrap();
        eprintln!(
            "generated a {KEY_BITS}-bit RSA key in {:?}",
            started.elapsed()
        );
        let der = private.to_pkcs1_der().unwrap();
        let public = private.to_public_key();
        let jwk = json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        });
        Self {
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk,
        }
    }
}

/// The trusted key and a forger's key, generated once per test binary.
fn keys() -> &'static (TestKey, TestKey) {
    static KEYS: OnceLock<(TestKey, TestKey)> = OnceLock::new();
    // Both at once: there are two cores.
    KEYS.get_or_init(|| {
        let forger = std::thread::spawn(|| TestKey::generate(KID));
        let trusted = TestKey::generate(KID);
        (trusted, forger.join().unwrap())
    })
}

fn jwks() -> String {
    json!({ "keys": [keys().0.jwk] }).to_string()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Google-shaped push token claims, valid for an hour.
fn claims() -> Value {
    json!({
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": PUSHER,
        "email_verified": true,
        "sub": "1234567890",
        "iat": now() - 10,
        "exp": now() + 3600,
    })
}

fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

/// A receiver with push auth on static keys, counting handler calls.
fn receiver(calls: Arc<AtomicUsize>) -> Router {
    let auth = PushAuthBuilder::new()
        .with_audience(AUDIENCE)
        .with_service_account(PUSHER)
        .with_jwks_json(jwks())
        .build()
        .unwrap();
    counting(calls).with_auth(auth).router("/push")
}

fn counting(calls: Arc<AtomicUsize>) -> PushReceiver {
    PushReceiver::new(move |_delivery: Delivery| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    })
}

/// A well-formed push body carrying a fresh book.
fn envelope() -> Vec<u8> {
    let book = fresh_book("auth", 0);
    let attributes = MessageAttributes::of(&book).unwrap();
    let envelope = PushEnvelope {
        message: PushMessage {
            data: STANDARD.encode(book.encode_to_vec()),
            attributes: attributes
                .pairs()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            message_id: "42".into(),
            publish_time: Some("2026-01-01T00:00:00Z".into()),
            ordering_key: None,
        },
        subscription: "projects/angzarr-test/subscriptions/push".into(),
        delivery_attempt: Some(1),
    };
    serde_json::to_vec(&envelope).unwrap()
}

async fn post(router: Router, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut request = Request::post("/push").header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test]
async fn a_valid_token_is_accepted() {
    let calls = Arc::new(AtomicUsize::new(0));
    let token = sign(&keys().0, &claims());
    let (status, _) = post(receiver(calls.clone()), Some(&token), envelope()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The issuer without scheme is Google's too.
    let mut bare = claims();
    bare["iss"] = json!("accounts.google.com");
    let (status, _) = post(
        receiver(calls.clone()),
        Some(&sign(&keys().0, &bare)),
        envelope(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401_and_never_reach_the_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let with = |name: &str, value: Value| {
        let mut c = claims();
        c[name] = value;
        c
    };
    let cases = [
        ("forged (another key)", Some(sign(&keys().1, &claims()))),
        (
            "expired",
            Some(sign(&keys().0, &with("exp", json!(now() - 3600)))),
        ),
        (
            "wrong audience",
            Some(sign(
                &keys().0,
                &with("aud", json!("https://other.example")),
            )),
        ),
        (
            "wrong email",
            Some(sign(
                &keys().0,
                &with("email", json!("intruder@evil.example")),
            )),
        ),
        (
            "unverified email",
            Some(sign(&keys().0, &with("email_verified", json!(false)))),
        ),
        (
            "wrong issuer",
            Some(sign(&keys().0, &with("iss", json!("https://evil.example")))),
        ),
        ("garbage", Some("not.a.jwt".to_owned())),
        ("missing header", None),
    ];
    for (case, token) in cases {
        let (status, body) = post(receiver(calls.clone()), token.as_deref(), envelope()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(body["code"], "unauthenticated", "{case}: {body}");
        assert!(body["message"].is_string(), "{case}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn malformed_envelopes_are_400_with_a_json_body() {
    let calls = Arc::new(AtomicUsize::new(0));
    let router = counting(calls.clone()).router("/push");
    let not_a_book = json!({"message": {"data": STANDARD.encode(b"\xff\xff\xff"), "messageId": "7",
        "attributes": {"domain": "d", "root_id": "r"}}, "subscription": "s"});
    let cases = [
        ("not json", b"{nope".to_vec()),
        ("no message", br#"{"subscription":"s"}"#.to_vec()),
        (
            "data not base64",
            br#"{"message":{"data":"!!!","messageId":"5"}}"#.to_vec(),
        ),
        ("data not a book", not_a_book.to_string().into_bytes()),
    ];
    for (case, body) in cases {
        let (status, json) = post(router.clone(), None, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(json["code"], "invalid_argument", "{case}: {json}");
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{case}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let calls = Arc::new(AtomicUsize::new(0));
    let router = counting(calls.clone())
        .with_body_limit(1024)
        .router("/push");
    let mut body = envelope();
    body.resize(2048, b' ');
    let (status, _) = post(router, None, body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_a_jwks_url_are_fetched_once_and_cached() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let jwks = jwks();
    let server = Router::new().route(
        "/certs",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let jwks = jwks.clone();
            async move { ([("content-type", "application/json")], jwks) }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, server).await });

    let auth = PushAuthBuilder::new()
        .with_audience(AUDIENCE)
        .with_service_account(PUSHER)
        .with_jwks_url(format!("http://{addr}/certs"))
        .with_jwks_ttl(Duration::from_secs(600))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let router = counting(calls.clone()).with_auth(auth).router("/push");
    let token = sign(&keys().0, &claims());
    for _ in 0..3 {
        let (status, _) = post(router.clone(), Some(&token), envelope()).await;
        assert_eq!(status, StatusCode::OK);
    }
    let forged = sign(&keys().1, &claims());
    let (status, _) = post(router.clone(), Some(&forged), envelope()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "the key set is cached");
}

#[tokio::test]
async fn unreachable_jwks_is_503_not_401() {
    // A port nothing listens on: the keys cannot be fetched, which is not
    // the caller's fault, so Pub/Sub should retry.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let auth = PushAuthBuilder::new()
        .with_audience(AUDIENCE)
        .with_service_account(PUSHER)
        .with_jwks_url(format!("http://127.0.0.1:{port}/certs"))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let router = counting(calls.clone()).with_auth(auth).router("/push");
    let (status, body) = post(router, Some(&sign(&keys().0, &claims())), envelope()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_configured_issuer_replaces_googles() {
    let auth = PushAuthBuilder::new()
        .with_audience(AUDIENCE)
        .with_service_account(PUSHER)
        .with_issuers(["https://issuer.example"])
        .with_jwks_json(jwks())
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let router = counting(calls.clone()).with_auth(auth).router("/push");
    let mut own = claims();
    own["iss"] = json!("https://issuer.example");
    let (status, _) = post(router.clone(), Some(&sign(&keys().0, &own)), envelope()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(router, Some(&sign(&keys().0, &claims())), envelope()).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "Google's issuer is no longer accepted"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
