//! What both adapters must do the same way, run once over both frameworks: wiring
//! mistakes are clear 500s, `Error` renders its documented response, `Option<Session>`
//! is `None` outside the layer, forwarding headers count only from a named proxy, an
//! invalid configuration stops the app at start-up, and actix workers that each build
//! their middleware from a clone of one store share its lock table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use distributed_session::{Error, MemoryCache, SessionLayer, SessionMiddleware, SigningKey, TrustedProxy};
use integration_tests::{
    apps::{self, Setup},
    Browser, Framework,
};

const BOTH: [Framework; 2] = [Framework::Axum, Framework::Actix];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extractor_outside_the_layer_names_the_fix_and_option_is_none() {
    for framework in BOTH {
        let app = apps::serve(framework, MemoryCache::default(), Setup::default()).await;
        let mut b = Browser::new(&app.url);
        let r = b.get("/bare/session").await;
        let fix = match framework {
            Framework::Axum => "add `SessionLayer` to the router",
            Framework::Actix => "add `SessionMiddleware` to the app",
        };
        assert_eq!(r.status, 500, "{framework:?}");
        assert!(r.text.contains(fix), "{framework:?}: {}", r.text);
        assert_eq!(r.content_type, "application/json", "{framework:?}");
        assert_eq!(b.get("/bare/optional").await.text, "none", "{framework:?}");
        assert_eq!(b.get("/optional").await.text, "some", "{framework:?}");
        app.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_applied_twice_is_refused() {
    for framework in BOTH {
        let setup = Setup {
            twice: true,
            ..Setup::default()
        };
        let app = apps::serve(framework, MemoryCache::default(), setup).await;
        let r = Browser::new(&app.url).get("/counter").await;
        assert_eq!(r.status, 500, "{framework:?}");
        assert!(r.text.contains("applied twice"), "{framework:?}: {}", r.text);
        app.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_returned_with_question_mark_renders_the_documented_response() {
    for framework in BOTH {
        let app = apps::serve(framework, MemoryCache::default(), Setup::default()).await;
        let mut b = Browser::new(&app.url);
        assert_eq!(b.get("/counter").await.text, "1", "{framework:?}");
        assert_eq!(b.get("/counter").await.text, "2", "{framework:?}");
        let r = b.get("/fail").await;
        assert_eq!(r.status, 503, "{framework:?}");
        assert_eq!(
            r.json(),
            serde_json::json!({"error": "Session is busy with another request; try again later"}),
            "{framework:?}"
        );
        assert_eq!(r.content_type, "application/json", "{framework:?}");
        app.stop();
    }
}

/// The `Set-Cookie` of a first request that carries these `X-Forwarded-Proto` lines.
async fn set_cookie_behind(framework: Framework, proxy: Option<TrustedProxy>, forwarded: &[&str]) -> String {
    let setup = Setup {
        trusted_proxy: proxy,
        ..Setup::default()
    };
    let app = apps::serve(framework, MemoryCache::default(), setup).await;
    let client = reqwest::Client::new();
    let mut request = client.get(format!("{}/counter", app.url));
    for value in forwarded {
        request = request.header("x-forwarded-proto", *value);
    }
    let response = request.send().await.unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    app.stop();
    cookie
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_count_only_from_the_named_proxy() {
    use TrustedProxy::XForwardedProto;
    for framework in BOTH {
        // the client's own header, with no proxy named
        let cookie = set_cookie_behind(framework, None, &["https"]).await;
        assert!(!cookie.contains("Secure"), "{framework:?}: {cookie}");
        // the proxy appended "http" after the client's "https"
        let cookie = set_cookie_behind(framework, Some(XForwardedProto), &["https", "http"]).await;
        assert!(!cookie.contains("Secure"), "{framework:?}: {cookie}");
        let cookie = set_cookie_behind(framework, Some(XForwardedProto), &["http", "https"]).await;
        assert!(cookie.contains("Secure"), "{framework:?}: {cookie}");
    }
}

#[tokio::test]
async fn secure_policy_same_as_request_reads_only_the_trusted_proxys_value() {
    // through the engine both adapters call, with the proxy named and not
    let engine = |proxy| {
        distributed_session::adapter::SessionEngine::builder()
            .secure_policy(distributed_session::SecurePolicy::SameAsRequest)
            .trusted_proxy(proxy)
            .build(MemoryCache::default())
            .unwrap()
    };
    let secure = |proxy, values: &'static [&'static str]| {
        engine(proxy).request_is_secure(None, |_| values.iter().map(|v| v.as_bytes()))
    };
    assert!(!secure(TrustedProxy::None, &["https"]));
    assert!(!secure(TrustedProxy::XForwardedProto, &["https", "http"]));
    assert!(secure(TrustedProxy::XForwardedProto, &["http", "https"]));
    assert!(secure(TrustedProxy::Forwarded, &["for=a;proto=https"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_workers_building_the_middleware_in_the_factory_lose_no_update() {
    let setup = Setup {
        workers: 4,
        ..Setup::default()
    };
    let app = apps::serve(Framework::Actix, MemoryCache::default(), setup).await;
    let mut first = Browser::new(&app.url);
    assert_eq!(first.get("/counter").await.text, "1");
    let cookie = first.cookie("id").unwrap().to_owned();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let mut b = first.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    assert_eq!(b.get("/counter").await.status, 200);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let last = first.get("/counter").await.text;
    assert_eq!(
        last,
        (1 + 32 * 25 + 1).to_string(),
        "every worker on one lock table (cookie {cookie})"
    );
    app.stop();
}

#[test]
fn an_invalid_configuration_is_an_error_at_start_up_not_per_request() {
    let key = || SigningKey::from_bytes(&[7u8; 32]).unwrap();
    // zero timeout, bad cookie name
    let bad = SessionLayer::new(MemoryCache::default()).with_io_timeout(Duration::ZERO);
    assert!(matches!(bad.try_build(), Err(Error::Config(m)) if m.contains("IO timeout")));
    let bad = SessionMiddleware::builder(MemoryCache::default()).cookie_name("bad name;");
    assert!(matches!(bad.try_build(), Err(Error::Config(_))));
    let good = SessionLayer::new(MemoryCache::default()).with_signing_key(key());
    assert!(good.try_build().is_ok());
    // applying an invalid layer panics at once, with the fix in the message
    let panicked = std::panic::catch_unwind(|| {
        let bad = SessionLayer::new(MemoryCache::default()).with_max_payload(1);
        let _ = axum::Router::<()>::new()
            .route("/", axum::routing::get(|| async { "" }))
            .layer(bad);
    });
    assert!(panicked.is_err());
}

#[actix_web::test]
async fn an_invalid_middleware_stops_the_actix_app_from_starting() {
    let bad = SessionMiddleware::builder(MemoryCache::default())
        .io_timeout(Duration::ZERO)
        .build();
    let app = actix_web::App::new()
        .wrap(bad)
        .route("/", actix_web::web::get().to(|| async { "" }));
    // actix-web's test server panics when a middleware refuses to start
    let started = std::panic::AssertUnwindSafe(actix_web::test::init_service(app));
    let result = futures_util::FutureExt::catch_unwind(started).await;
    assert!(result.is_err(), "the app started with an invalid configuration");
}
