//! The behaviour scenarios every framework x store must pass. Each takes a [`Target`]
//! and names it in every failure message.

use std::time::Duration;

use serde_json::json;

use crate::{Browser, Target};

pub use crate::principals::{logging_out_everywhere, logging_out_everywhere_across_instances};

/// The seed's "Try it" flow, over HTTPS with the self-signed certificate.
pub async fn seed_flow_over_https(target: &Target) {
    let server = target.start(true, &[]).await;
    let t = &server.label;
    assert!(server.url.starts_with("https://"), "{t}");
    let mut b = Browser::new(&server.url);

    let r = b.get("/session/counter").await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"message": "Counter incremented", "counter": 1})),
        "{t}"
    );
    let cookies = r.session_cookies();
    assert_eq!(
        cookies.len(),
        1,
        "{t}: one session cookie on first write: {:?}",
        r.set_cookies
    );
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(cookies[0].contains(attr), "{t}: {attr} missing in {}", cookies[0]);
    }
    let r = b.get("/session/counter").await;
    assert_eq!(r.json()["counter"], 2, "{t}");
    assert!(
        r.session_cookies().is_empty(),
        "{t}: cookie re-sent: {:?}",
        r.set_cookies
    );

    let r = b.get("/session/whoami").await;
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"error": "No active session or user not set"})),
        "{t}"
    );
    let r = b.get("/session/login?user=max").await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"message": "Logged in", "user": "max"})),
        "{t}"
    );
    let r = b.get("/session/whoami").await;
    assert_eq!((r.status, r.json()), (200, json!({"user": "max"})), "{t}");

    let r = b.get("/session/set?key=color&value=purple").await;
    assert_eq!(
        (r.status, r.json()),
        (
            200,
            json!({"message": "Stored in session", "key": "color", "value": "purple"})
        ),
        "{t}"
    );
    let r = b.get("/session/get?key=color").await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"key": "color", "value": "purple"})),
        "{t}"
    );

    let r = b.get("/session/logout").await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"message": "Session cleared"})),
        "{t}"
    );
    let r = b.get("/session/whoami").await;
    assert_eq!(r.status, 401, "{t}");
    assert!(
        r.content_type.starts_with("application/json"),
        "{t}: {}",
        r.content_type
    );
    server.stop().await;
}

/// `/hello` works without a session; reads of an empty session set no cookie.
pub async fn reads_of_an_empty_session_set_no_cookie(target: &Target) {
    let server = target.start(false, &[]).await;
    let t = &server.label;
    let mut b = Browser::new(&server.url);
    let r = b.get("/hello").await;
    assert_eq!((r.status, r.text.as_str()), (200, "Hello, Session World!"), "{t}");
    assert!(r.set_cookies.is_empty(), "{t}");
    for path in ["/session/whoami", "/session/get?key=color", "/session/logout"] {
        let r = b.get(path).await;
        assert!(r.status < 500, "{t}: {path} gave {}", r.status);
        assert!(
            r.session_cookies().is_empty(),
            "{t}: {path} set {:?}",
            r.set_cookies
        );
    }
    server.stop().await;
}

/// The first write sets exactly one cookie (no `Secure` over plain HTTP); later writes
/// do not re-send it.
pub async fn first_write_sets_one_cookie(target: &Target) {
    let server = target.start(false, &[]).await;
    let t = &server.label;
    let mut b = Browser::new(&server.url);
    let r = b.get("/session/login?user=ann").await;
    let cookies = r.session_cookies();
    assert_eq!(cookies.len(), 1, "{t}: {:?}", r.set_cookies);
    assert!(
        !cookies[0].contains("Secure"),
        "{t}: plain HTTP with --http: {}",
        cookies[0]
    );
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookies[0].contains(attr), "{t}: {attr} missing in {}", cookies[0]);
    }
    // as ASP.NET Core's session middleware: a response handing out a session is not cached
    assert_eq!(r.no_cache, ["no-cache,no-store", "no-cache", "-1"], "{t}");
    for path in [
        "/session/counter",
        "/session/set?key=a&value=b",
        "/session/logout",
        "/session/counter",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, 200, "{t}: {path}");
        assert!(
            r.session_cookies().is_empty(),
            "{t}: {path} re-sent {:?}",
            r.set_cookies
        );
        assert_eq!(r.no_cache, ["", "", ""], "{t}: {path}");
    }
    server.stop().await;
}

/// Cleared keys are gone, the session (and its cookie) stays; keys are case-sensitive.
pub async fn cleared_keys_are_gone_and_keys_are_case_sensitive(target: &Target) {
    let server = target.start(false, &[]).await;
    let t = &server.label;
    let mut b = Browser::new(&server.url);
    b.get("/session/set?key=color&value=red").await;
    assert_eq!(
        b.get("/session/get?key=Color").await.status,
        404,
        "{t}: keys are case-sensitive"
    );
    b.get("/session/set?key=Color&value=blue").await;
    assert_eq!(
        b.get("/session/get?key=color").await.json()["value"],
        "red",
        "{t}"
    );
    assert_eq!(
        b.get("/session/get?key=Color").await.json()["value"],
        "blue",
        "{t}"
    );
    let cookie = b.cookie("Kr.Session").map(str::to_owned);

    b.get("/session/logout").await;
    let r = b.get("/session/get?key=color").await;
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"error": "Key 'color' not found in session"})),
        "{t}"
    );
    assert_eq!(b.get("/session/get?key=Color").await.status, 404, "{t}");
    assert_eq!(
        b.cookie("Kr.Session").map(str::to_owned),
        cookie,
        "{t}: logout keeps the id"
    );
    assert_eq!(b.get("/session/counter").await.json()["counter"], 1, "{t}");
    server.stop().await;
}

/// A value of another type under a key reads as the seed's cmdlets read it: a string
/// under `counter` is no counter (it restarts at 1), and the counter reads as text.
pub async fn values_of_another_type_read_as_in_the_seed(target: &Target) {
    let server = target.start(false, &[]).await;
    let t = &server.label;
    let mut b = Browser::new(&server.url);
    b.get("/session/set?key=counter&value=abc").await;
    let r = b.get("/session/counter").await;
    assert_eq!(
        (r.status, r.json()["counter"].clone()),
        (200, json!(1)),
        "{t}: {}",
        r.text
    );
    assert_eq!(b.get("/session/counter").await.json()["counter"], 2, "{t}");
    let r = b.get("/session/get?key=counter").await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"key": "counter", "value": "2"})),
        "{t}"
    );
    // a number stored as a string by /session/set is text, not a counter
    b.get("/session/set?key=counter&value=41").await;
    assert_eq!(b.get("/session/counter").await.json()["counter"], 1, "{t}");
    server.stop().await;
}

/// HEAD is answered like GET without a body; other methods get 405 with `Allow`.
pub async fn head_is_get_without_body_and_other_methods_are_405(target: &Target) {
    let server = target.start(false, &[]).await;
    let t = &server.label;
    let client = reqwest::Client::new();
    let head = client
        .head(format!("{}/hello", server.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{t}: HEAD: {e}"));
    assert_eq!(head.status().as_u16(), 200, "{t}");
    assert_eq!(head.bytes().await.map(|b| b.len()).ok(), Some(0), "{t}");
    let post = client
        .post(format!("{}/session/counter", server.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{t}: POST: {e}"));
    assert_eq!(post.status().as_u16(), 405, "{t}");
    let allow = post
        .headers()
        .get(reqwest::header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_uppercase();
    assert!(
        allow.contains("GET") && allow.contains("HEAD"),
        "{t}: Allow: {allow:?}"
    );
    server.stop().await;
}

/// Blank parameters are 400s with an example.
pub async fn blank_parameters_are_bad_requests(target: &Target) {
    let server = target.start(false, &[]).await;
    let t = &server.label;
    let mut b = Browser::new(&server.url);
    for path in [
        "/session/login",
        "/session/login?user=",
        "/session/login?user=%20",
        "/session/set?key=a",
        "/session/set?key=&value=b",
        "/session/get",
        "/session/get?key=",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, 400, "{t}: {path}");
        assert!(r.json()["error"].is_string(), "{t}: {path}: {}", r.text);
    }
    let r = b.get("/session/login").await;
    assert_eq!(r.json()["example"], "/session/login?user=max", "{t}");
    server.stop().await;
}

/// Tampered, forged and garbage cookies are never accepted and never give a 5xx.
pub async fn tampered_and_garbage_cookies_are_ignored(target: &Target) {
    let server = target.start(false, &[]).await;
    let t = &server.label;
    let mut victim = Browser::new(&server.url);
    victim.get("/session/login?user=victim").await;
    let good = victim.cookie("Kr.Session").unwrap_or_default().to_owned();
    assert_eq!(good.len(), 66, "{t}: id.tag");

    // flip one character in the id, then in the signature
    for pos in [3, 40] {
        let mut bytes = good.clone().into_bytes();
        bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap_or_default();
        let mut attacker = Browser::new(&server.url);
        attacker.set_cookie("Kr.Session", &tampered);
        let r = attacker.get("/session/whoami").await;
        assert_eq!(r.status, 401, "{t}: tampered cookie at {pos} accepted");
        let r = attacker.get("/session/counter").await;
        assert_eq!(
            r.json()["counter"],
            1,
            "{t}: tampered cookie gives a fresh session"
        );
        let new = attacker.cookie("Kr.Session").unwrap_or_default();
        assert_ne!(new, tampered, "{t}: a client-chosen id is never adopted");
        assert_ne!(&new[..22], &good[..22], "{t}");
    }
    // an invented id with a made-up signature
    let mut forger = Browser::new(&server.url);
    forger.set_cookie("Kr.Session", &format!("{}.{}", "A".repeat(22), "B".repeat(43)));
    assert_eq!(forger.get("/session/whoami").await.status, 401, "{t}");

    let huge = "x".repeat(8000);
    let garbage: Vec<Vec<u8>> = vec![
        b"Kr.Session=".to_vec(),
        b"Kr.Session".to_vec(),
        b"Kr.Session=;;;==;".to_vec(),
        b"Kr.Session=\"quoted\"".to_vec(),
        format!("Kr.Session={huge}").into_bytes(),
        format!("Kr.Session={}", "é".repeat(33)).into_bytes(),
        b"Kr.Session=\xff\xfe\xfd".to_vec(),
        format!("Kr.Session={good}x").into_bytes(),
        format!("a=1; Kr.Session={}; Kr.Session=zzz", &good[..65]).into_bytes(),
        b"=; ; =x; \t".to_vec(),
    ];
    for raw in garbage {
        let mut b = Browser::new(&server.url);
        for path in ["/session/whoami", "/session/counter", "/hello"] {
            let r = b.get_with_cookie_header(path, Some(raw.clone())).await;
            assert!(
                r.status < 500,
                "{t}: {path} with {:?} gave {}",
                String::from_utf8_lossy(&raw),
                r.status
            );
            if path == "/session/whoami" {
                assert_eq!(r.status, 401, "{t}");
            }
        }
    }
    // the victim's session is untouched by all this
    assert_eq!(
        victim.get("/session/whoami").await.json()["user"],
        "victim",
        "{t}"
    );
    server.stop().await;
}

/// Login rotates the id: a cookie an attacker planted in the victim's browser before the
/// login shows the attacker nothing afterwards (session fixation).
pub async fn login_rotates_a_planted_id(target: &Target) {
    let server = target.start(false, &[]).await;
    let t = &server.label;
    let mut attacker = Browser::new(&server.url);
    attacker.get("/session/counter").await;
    let planted = attacker.cookie("Kr.Session").unwrap_or_default().to_owned();
    assert_eq!(planted.len(), 66, "{t}");

    let mut victim = Browser::new(&server.url);
    victim.set_cookie("Kr.Session", &planted);
    let r = victim.get("/session/login?user=alice").await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"message": "Logged in", "user": "alice"})),
        "{t}"
    );
    assert_eq!(
        r.session_cookies().len(),
        1,
        "{t}: login sends the new id: {:?}",
        r.set_cookies
    );
    assert_ne!(
        victim.cookie("Kr.Session"),
        Some(planted.as_str()),
        "{t}: login kept the planted id"
    );
    assert_eq!(
        victim.get("/session/whoami").await.json(),
        json!({"user": "alice"}),
        "{t}"
    );
    assert_eq!(
        victim.get("/session/counter").await.json()["counter"],
        2,
        "{t}: the data moved along"
    );

    let r = attacker.get("/session/whoami").await;
    assert_eq!(
        r.status, 401,
        "{t}: the planted id sees the victim's login: {}",
        r.text
    );
    server.stop().await;
}

/// With `--idle-timeout 2`, a session left alone for 4 s is gone; one read every
/// second keeps it alive.
pub async fn idle_sessions_expire_and_reads_slide(target: &Target) {
    let server = target.start(false, &["--idle-timeout", "2"]).await;
    let t = &server.label;
    let mut idle = Browser::new(&server.url);
    let mut busy = Browser::new(&server.url);
    idle.get("/session/set?key=color&value=red").await;
    busy.get("/session/set?key=color&value=blue").await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let r = busy.get("/session/get?key=color").await;
        assert_eq!(
            r.json()["value"],
            "blue",
            "{t}: a session read every second lives"
        );
    }
    let r = idle.get("/session/get?key=color").await;
    assert_eq!(
        r.status, 404,
        "{t}: a session idle for 4 s with a 2 s timeout is gone"
    );
    let r = idle.get("/session/counter").await;
    assert_eq!(r.json()["counter"], 1, "{t}");
    assert_eq!(
        r.session_cookies().len(),
        1,
        "{t}: the expired session is replaced by a new id"
    );
    server.stop().await;
}

/// While the store is unreachable: three session requests of `probe` answer 503 with a
/// JSON error within IOTimeout + 1 s (the servers under test run with a 1 s IO timeout),
/// and `/hello`, which needs no session, stays 200.
pub async fn session_routes_answer_503_quickly(probe: &mut Browser) {
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let r = probe.get("/session/counter").await;
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(r.json()["error"].is_string(), "{}", r.text);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "503 within IOTimeout + 1 s: {:?}",
            started.elapsed()
        );
        assert_eq!(probe.get("/hello").await.status, 200);
    }
}

/// One session, 32 concurrent tasks, 2,000 increments: nothing is lost.
pub async fn concurrent_increments_lose_nothing(target: &Target) {
    let server = target.start(false, &[]).await;
    increments_lose_nothing(&server.label, &[server.url.as_str()], 32, 2000).await;
    server.stop().await;
}

/// Two instances (axum and actix-web) sharing one store: 32 tasks, 2,000 increments of
/// one session, none lost.
pub async fn two_instances_lose_no_update(label: &str, store: sessions_tutorial::StoreKind, args: &[String]) {
    let (axum, actix) = crate::target::two_instances(store, args, &[]).await;
    increments_lose_nothing(label, &[&axum.url, &actix.url], 32, 2000).await;
    axum.stop().await;
    actix.stop().await;
}

/// Spreads `total` increments of one session over `tasks` tasks and `urls` (instances
/// sharing one store), then checks the final count.
pub async fn increments_lose_nothing(label: &str, urls: &[&str], tasks: usize, total: usize) {
    let mut first = Browser::new(urls[0]);
    let start = first.get("/session/counter").await.json()["counter"]
        .as_i64()
        .unwrap_or(-1);
    assert_eq!(start, 1, "{label}");
    let cookie = first.cookie("Kr.Session").unwrap_or_default().to_owned();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let mut b = Browser::new(urls[task % urls.len()]);
        b.set_cookie("Kr.Session", &cookie);
        let n = total / tasks + usize::from(task < total % tasks);
        handles.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for _ in 0..n {
                let r = b.get("/session/counter").await;
                if r.status != 200 {
                    failures.push(r.status);
                }
            }
            failures
        }));
    }
    let mut failures = Vec::new();
    for handle in handles {
        failures.extend(handle.await.unwrap_or_default());
    }
    assert!(
        failures.is_empty(),
        "{label}: {} requests failed: {failures:?}",
        failures.len()
    );
    let end = first.get("/session/counter").await.json()["counter"]
        .as_i64()
        .unwrap_or(-1);
    assert_eq!(
        end,
        1 + total as i64 + 1,
        "{label}: lost {} updates",
        2 + total as i64 - end
    );
}

/// Instantiates every scenario of [`suite`](mod@crate::suite) as a `#[tokio::test]` in a
/// module named after the target, so a failure names the framework and store.
#[macro_export]
macro_rules! behaviour_suite {
    ($name:ident, $target:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn target() -> Option<$crate::Target> {
                $target
            }

            $crate::behaviour_suite!(@tests
                seed_flow_over_https,
                reads_of_an_empty_session_set_no_cookie,
                first_write_sets_one_cookie,
                cleared_keys_are_gone_and_keys_are_case_sensitive,
                blank_parameters_are_bad_requests,
                values_of_another_type_read_as_in_the_seed,
                head_is_get_without_body_and_other_methods_are_405,
                tampered_and_garbage_cookies_are_ignored,
                login_rotates_a_planted_id,
                idle_sessions_expire_and_reads_slide,
                concurrent_increments_lose_nothing,
                logging_out_everywhere,
            );
        }
    };
    (@tests $($scenario:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(target) = target() {
                    $crate::suite::$scenario(&target).await;
                }
            }
        )*
    };
}
