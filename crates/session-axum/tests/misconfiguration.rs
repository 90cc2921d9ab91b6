//! Wiring mistakes give clear 500s, never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::{body::Body, http::Request, routing::get, Router};
use session_axum::{Session, SessionLayer};
use session_core::SessionEngine;
use session_memory::MemoryCache;
use tower::ServiceExt;

async fn handler(session: Session) -> String {
    session
        .set_i32("n", 1)
        .await
        .map(|()| "ok".to_owned())
        .unwrap_or_default()
}

async fn body_of(router: Router) -> (u16, String) {
    let response = router
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn extractor_without_layer_names_the_layer() {
    let (status, body) = body_of(Router::new().route("/", get(handler))).await;
    assert_eq!(status, 500);
    assert!(body.contains("add `SessionLayer` to the router"), "{body}");
}

#[tokio::test]
async fn a_layer_applied_twice_is_refused() {
    let engine = SessionEngine::builder().build(MemoryCache::default()).unwrap();
    let router = Router::new()
        .route("/", get(handler))
        .layer(SessionLayer::new(engine.clone()))
        .layer(SessionLayer::new(engine));
    let (status, body) = body_of(router).await;
    assert_eq!(status, 500);
    assert!(body.contains("applied twice"), "{body}");
}

/// The `Set-Cookie` of a plain-HTTP request that carries `X-Forwarded-Proto` values.
async fn set_cookie_behind(proxy: session_core::TrustedProxy, forwarded: &[&str]) -> String {
    let options = session_core::CookieOptions::default().trusted_proxy(proxy);
    let engine = SessionEngine::builder()
        .cookie(options)
        .build(MemoryCache::default())
        .unwrap();
    let router = Router::new()
        .route("/", get(handler))
        .layer(SessionLayer::new(engine));
    let mut request = Request::get("/");
    for value in forwarded {
        request = request.header("x-forwarded-proto", *value);
    }
    let response = router
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let cookie = response.headers().get("set-cookie").unwrap();
    cookie.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn forwarding_headers_count_only_from_the_named_proxy() {
    use session_core::TrustedProxy::{None, XForwardedProto};
    assert!(!set_cookie_behind(None, &["https"]).await.contains("Secure"));
    assert!(!set_cookie_behind(XForwardedProto, &["https", "http"])
        .await
        .contains("Secure"));
    assert!(set_cookie_behind(XForwardedProto, &["http", "https"])
        .await
        .contains("Secure"));
}
