//! "Log out everywhere" through the tutorial's routes: one user's sessions in several
//! browsers, listed and ended, on one instance or on two sharing a store.

use serde_json::{json, Value};

use crate::{Browser, Target};

/// A user name no other test run uses (the stores outlive a test).
pub(crate) fn unique_user() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("user-{}-{nanos}", std::process::id())
}

fn not_logged_in() -> Value {
    json!({"error": "No active session or user not set"})
}

/// Logs `user` in with a new browser on `url`.
async fn logged_in(url: &str, user: &str, t: &str) -> Browser {
    let mut b = Browser::new(url);
    let r = b.get(&format!("/session/login?user={user}")).await;
    assert_eq!(r.status, 200, "{t}: login: {:?}", r.json());
    b
}

/// What `whoami` answers `b`.
async fn whoami(b: &mut Browser) -> u16 {
    b.get("/session/whoami").await.status
}

/// The sessions `b`'s user has, as `/session/sessions` lists them (panics unless 200).
async fn sessions(b: &mut Browser, user: &str, t: &str) -> Vec<Value> {
    let r = b.get("/session/sessions").await;
    let body = r.json();
    assert_eq!(r.status, 200, "{t}: {body}");
    assert_eq!(body["user"], user, "{t}: {body}");
    let listed = body["sessions"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        listed.iter().filter(|s| s["current"] == true).count(),
        1,
        "{t}: exactly the caller's session is current: {body}"
    );
    for s in &listed {
        let id = s["id"].as_str().unwrap_or_default();
        assert!(
            id.ends_with('…') && id.chars().count() == 5,
            "{t}: a redacted id: {s}"
        );
        for field in ["created", "last_seen", "expires"] {
            assert!(
                s[field].as_u64().is_some_and(|n| n > 1_700_000_000),
                "{t}: {field}: {s}"
            );
        }
    }
    listed
}

/// Three browsers of one user on one instance: each is listed, `logout-others` ends the
/// other two, `logout-everywhere` the last; the routes answer 401 without a login.
pub async fn logging_out_everywhere(target: &Target) {
    let server = target.start(false, &[]).await;
    let t = server.label.clone();
    let user = unique_user();
    let mut anonymous = Browser::new(&server.url);
    for path in [
        "/session/sessions",
        "/session/logout-others",
        "/session/logout-everywhere",
    ] {
        let r = anonymous.get(path).await;
        assert_eq!((r.status, r.json()), (401, not_logged_in()), "{t}: {path}");
    }
    let mut jars = Vec::new();
    for _ in 0..3 {
        jars.push(logged_in(&server.url, &user, &t).await);
    }
    for jar in &mut jars {
        assert_eq!(sessions(jar, &user, &t).await.len(), 3, "{t}");
    }
    let [one, two, three] = &mut jars[..] else {
        unreachable!()
    };
    let r = one.get("/session/logout-others").await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"message": "Other sessions ended", "revoked": 2})),
        "{t}"
    );
    assert_eq!(whoami(two).await, 401, "{t}");
    assert_eq!(whoami(three).await, 401, "{t}");
    assert_eq!(whoami(one).await, 200, "{t}");
    assert_eq!(sessions(one, &user, &t).await.len(), 1, "{t}");
    let r = one.get("/session/logout-everywhere").await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"message": "Logged out everywhere", "revoked": 1})),
        "{t}"
    );
    assert_eq!(whoami(one).await, 401, "{t}");
    let r = one.get("/session/sessions").await;
    assert_eq!((r.status, r.json()), (401, not_logged_in()), "{t}");
    server.stop().await;
}

/// The check on two instances sharing a store (axum and actix-web): three
/// browsers of one user, logged in on either; both instances list 3; `logout-others`
/// from the first makes the other two 401 on both instances while the first stays logged
/// in; `logout-everywhere` ends the first too.
pub async fn logging_out_everywhere_across_instances(
    label: &str,
    store: sessions_tutorial::StoreKind,
    args: &[String],
) {
    let (axum, actix) = crate::target::two_instances(store, args, &[]).await;
    let t = label;
    let user = unique_user();
    let mut one = logged_in(&axum.url, &user, t).await;
    let mut two = logged_in(&actix.url, &user, t).await;
    let mut three = logged_in(&axum.url, &user, t).await;
    let cookie = |b: &Browser| b.cookie("Kr.Session").unwrap_or_default().to_owned();
    // each browser, seen by the other instance
    let on = |url: &str, b: &Browser| {
        let mut other = Browser::new(url);
        other.set_cookie("Kr.Session", &cookie(b));
        other
    };
    assert_eq!(sessions(&mut one, &user, t).await.len(), 3, "{t}");
    assert_eq!(
        sessions(&mut on(&actix.url, &one), &user, t).await.len(),
        3,
        "{t}"
    );
    let r = one.get("/session/logout-others").await;
    assert_eq!(r.json()["revoked"], 2, "{t}: {}", r.json());
    for url in [&axum.url, &actix.url] {
        assert_eq!(whoami(&mut on(url, &two)).await, 401, "{t}: {url}");
        assert_eq!(whoami(&mut on(url, &three)).await, 401, "{t}: {url}");
        assert_eq!(whoami(&mut on(url, &one)).await, 200, "{t}: {url}");
    }
    let r = on(&actix.url, &one).get("/session/logout-everywhere").await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"message": "Logged out everywhere", "revoked": 1})),
        "{t}"
    );
    for url in [&axum.url, &actix.url] {
        assert_eq!(whoami(&mut on(url, &one)).await, 401, "{t}: {url}");
    }
    drop((two.get("/hello").await, three.get("/hello").await));
    axum.stop().await;
    actix.stop().await;
}
