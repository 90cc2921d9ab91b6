//! ACL users on Redis topologies: the store logs in as the user its URLs (or
//! `sentinel_master_auth`) name, and a wrong password is an error that says so.

use std::time::Duration;

use distributed_session::redis::redis;
use distributed_session::store::{DistributedCache, EntryOptions};
use distributed_session::{RedisCache, RedisCacheOptions};

/// The user name and password the ACL tests create.
pub const USER: (&str, &str) = ("sessions", "an ACL password");

/// Creates [`USER`] (all keys, channels and commands) on each server of `urls`. ACLs are
/// per server: a cluster or a Sentinel set-up needs it on every data node.
pub fn add_user(urls: &[String]) {
    for url in urls {
        let mut conn = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let (user, password) = USER;
        let rule = format!(">{password}");
        let () = redis::cmd("ACL")
            .arg(&["SETUSER", user, "on", &rule, "~*", "&*", "+@all"][..])
            .query(&mut conn)
            .unwrap_or_else(|e| panic!("ACL SETUSER on {url}: {e}"));
    }
}

/// `url` with [`USER`] and `password` in it (`redis://user:password@host:port`).
pub fn with_user(url: &str, password: &str) -> String {
    let encoded: String = password
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    url.replacen("redis://", &format!("redis://{}:{encoded}@", USER.0), 1)
}

/// A store built from `right` (the user's password) works; one built from `wrong` (a
/// wrong password) fails its calls with an error naming the refused login.
pub async fn the_user_logs_in_and_a_wrong_password_is_refused(
    right: RedisCacheOptions,
    wrong: RedisCacheOptions,
) {
    let options = EntryOptions::sliding(Duration::from_secs(60));
    let cache = RedisCache::connect_with(right).await.unwrap();
    cache.set("acl-key", b"v".to_vec(), options).await.unwrap();
    assert_eq!(cache.get("acl-key").await.unwrap().as_deref(), Some(&b"v"[..]));

    let refused = RedisCache::connect_with(wrong).await.unwrap();
    let error = refused.get("acl-key").await.unwrap_err();
    let chain = crate::error_chain(&error).to_lowercase();
    assert!(
        chain.contains("wrongpass") || chain.contains("invalid username-password") || chain.contains("auth"),
        "{chain}"
    );
    assert!(
        !chain.contains("an acl password"),
        "the password is not echoed: {chain}"
    );
}
