//! Wiring mistakes give clear 500s, never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actix_web::{test, web, App, HttpRequest};
use session_actix::{Session, SessionExt, SessionMiddleware};
use session_core::SessionEngine;
use session_memory::MemoryCache;

async fn handler(session: Session) -> String {
    session
        .set_i32("n", 1)
        .await
        .map(|()| "ok".to_owned())
        .unwrap_or_default()
}

async fn via_ext(req: HttpRequest) -> String {
    match req.get_session() {
        Ok(session) => session
            .is_new()
            .await
            .map(|new| new.to_string())
            .unwrap_or_default(),
        Err(missing) => missing.to_string(),
    }
}

#[actix_web::test]
async fn extractor_without_middleware_names_the_middleware() {
    let app = test::init_service(App::new().route("/", web::get().to(handler))).await;
    let response = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(response.status().as_u16(), 500);
    let body = test::read_body(response).await;
    assert!(String::from_utf8_lossy(&body).contains("add `SessionMiddleware` to the app"));
}

#[actix_web::test]
async fn middleware_applied_twice_is_refused() {
    let engine = SessionEngine::builder().build(MemoryCache::default()).unwrap();
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(engine.clone()))
            .wrap(SessionMiddleware::new(engine))
            .route("/", web::get().to(handler)),
    )
    .await;
    let response = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(response.status().as_u16(), 500);
    let body = test::read_body(response).await;
    assert!(String::from_utf8_lossy(&body).contains("applied twice"));
}

#[actix_web::test]
async fn session_ext_reaches_the_session_and_sets_the_cookie() {
    let engine = SessionEngine::builder().build(MemoryCache::default()).unwrap();
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(engine))
            .route("/ext", web::get().to(via_ext))
            .route("/write", web::get().to(handler)),
    )
    .await;
    let response = test::call_service(&app, test::TestRequest::get().uri("/ext").to_request()).await;
    assert!(
        response.headers().get("set-cookie").is_none(),
        "reads set no cookie"
    );
    assert_eq!(test::read_body(response).await, "true");
    let response = test::call_service(&app, test::TestRequest::get().uri("/write").to_request()).await;
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.starts_with("Kr.Session=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

/// The `Set-Cookie` of a plain-HTTP request that carries `X-Forwarded-Proto` values.
async fn set_cookie_behind(proxy: session_core::TrustedProxy, forwarded: &[&str]) -> String {
    let options = session_core::CookieOptions::default().trusted_proxy(proxy);
    let engine = SessionEngine::builder()
        .cookie(options)
        .build(MemoryCache::default())
        .unwrap();
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(engine))
            .route("/", web::get().to(handler)),
    )
    .await;
    let mut request = test::TestRequest::get().uri("/");
    for value in forwarded {
        request = request.append_header(("x-forwarded-proto", *value));
    }
    let response = test::call_service(&app, request.to_request()).await;
    let cookie = response.headers().get("set-cookie").unwrap();
    cookie.to_str().unwrap().to_owned()
}

#[actix_web::test]
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
