//! Arbitrary request facts through the adapters' one request path (`SessionEngine::begin`):
//! a URI scheme, `Cookie`, `X-Forwarded-Proto` and `Forwarded` values, with each kind of
//! trusted proxy. Nothing may panic; the stored session opens only with its genuine
//! cookie; forwarding headers make a request secure only when the named proxy's own
//! (right-most) value says `https`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::adapter::{RequestHead, SessionEngine};
use session_core::{SecurePolicy, TrustedProxy};

#[path = "common.rs"]
mod common;

/// The input cut at 0xFF bytes: scheme, then header values by name.
struct Head<'a> {
    scheme: Option<&'a str>,
    cookie: Vec<&'a [u8]>,
    x_forwarded_proto: Vec<&'a [u8]>,
    forwarded: Vec<&'a [u8]>,
}

impl RequestHead for Head<'_> {
    const ADAPTER: &'static str = "FuzzLayer";
    fn scheme(&self) -> Option<&str> {
        self.scheme
    }
    fn header_values(&self, name: &'static str) -> impl Iterator<Item = &[u8]> {
        let values: &[&[u8]] = match name {
            "cookie" => &self.cookie,
            "x-forwarded-proto" => &self.x_forwarded_proto,
            "forwarded" => &self.forwarded,
            _ => &[],
        };
        values.iter().copied()
    }
    fn has_session(&self) -> bool {
        false
    }
}

fn parse(data: &[u8]) -> Head<'_> {
    let mut parts = data.split(|&b| b == 0xFF);
    let scheme = parts.next().and_then(|s| std::str::from_utf8(s).ok());
    let mut head = Head {
        scheme,
        cookie: Vec::new(),
        x_forwarded_proto: Vec::new(),
        forwarded: Vec::new(),
    };
    for (i, part) in parts.enumerate() {
        match i % 3 {
            0 => head.cookie.push(part),
            1 => head.x_forwarded_proto.push(part),
            _ => head.forwarded.push(part),
        }
    }
    head
}

fn engines() -> &'static [SessionEngine; 3] {
    static ENGINES: std::sync::OnceLock<[SessionEngine; 3]> = std::sync::OnceLock::new();
    ENGINES.get_or_init(|| {
        [TrustedProxy::None, TrustedProxy::XForwardedProto, TrustedProxy::Forwarded].map(|proxy| {
            let world = common::world();
            SessionEngine::builder()
                .signing_key(session_core::SigningKey::from_bytes(&[42; 32]).unwrap())
                .secure_policy(SecurePolicy::SameAsRequest)
                .trusted_proxy(proxy)
                .build_shared(world.cache.clone() as std::sync::Arc<dyn session_core::store::DistributedCache>)
                .unwrap()
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let w = common::world();
    let head = parse(data);
    for engine in engines() {
        let secure = engine.request_is_secure(head.scheme, |name| head.header_values(name));
        let scheme_https = head.scheme.is_some_and(|s| s.eq_ignore_ascii_case("https"));
        if !scheme_https && head.x_forwarded_proto.is_empty() && head.forwarded.is_empty() {
            assert!(!secure, "secure without any sign of HTTPS");
        }
        let Ok(scope) = engine.begin(&head) else {
            panic!("begin refused a request without a session");
        };
        w.rt.block_on(async {
            let session = scope.session();
            session.load().await.expect("the memory store never fails");
            if !session.is_new().await.unwrap() {
                let genuine = w.cookie.trim_start_matches("id=");
                assert!(
                    head.cookie.iter().any(|v| v.windows(genuine.len()).any(|win| win == genuine.as_bytes())),
                    "forged cookie accepted"
                );
            }
            let _ = scope.finish().await;
        });
    }
});
