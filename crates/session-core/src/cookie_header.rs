//! Reading the session cookie from a request and writing `Set-Cookie` values.

use std::time::Duration;

use cookie::{Cookie, SameSite as CSameSite};

use crate::{
    cookie_codec::COOKIE_VALUE_LEN,
    options::{CookieOptions, SameSite, SecurePolicy, TrustedProxy},
};

/// Most duplicate session cookies checked against the keys (each check is an HMAC).
const MOST_CANDIDATES: usize = 8;

/// Finds the value of the cookie `name` in raw `Cookie` header values.
///
/// Malformed pairs and values that are not ASCII or of the wrong length are skipped;
/// bytes that are not UTF-8 elsewhere in a header do not hide the cookie. With one plausible value, that one is taken (and verified later, when the
/// session is first used). With several (a stale cookie of another path or domain may
/// come first), the first that `verifies` is taken, else the first.
pub(crate) fn find<'a>(
    headers: impl IntoIterator<Item = &'a [u8]>,
    name: &str,
    verifies: impl Fn(&str) -> bool,
) -> Option<CookieValue> {
    let mut candidates = headers
        .into_iter()
        .flat_map(|header| header.split(|b| *b == b';'))
        .filter_map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let (k, v) = (parts.next()?, parts.next()?);
            (k.trim_ascii() == name.as_bytes()).then(|| trim_quotes(v.trim_ascii()))
        })
        .filter_map(CookieValue::new);
    let first = candidates.next()?;
    let Some(second) = candidates.next() else {
        return Some(first);
    };
    [first, second]
        .into_iter()
        .chain(candidates)
        .take(MOST_CANDIDATES)
        .find(|candidate| verifies(candidate.as_str()))
        .or(Some(first))
}

/// A cookie value of the one plausible length, kept inline (no allocation per request).
#[derive(Clone, Copy)]
pub(crate) struct CookieValue([u8; COOKIE_VALUE_LEN]);

/// `value` without the double quotes around it (`"v"`, as some clients send).
fn trim_quotes(mut value: &[u8]) -> &[u8] {
    while let [b'"', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b'"'] = value {
        value = rest;
    }
    value
}

impl CookieValue {
    /// An ASCII value of the one plausible length.
    fn new(value: &[u8]) -> Option<Self> {
        if !value.is_ascii() {
            return None;
        }
        value.try_into().ok().map(CookieValue)
    }

    /// The value as text (it is ASCII).
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Whether a request counts as HTTPS for [`SecurePolicy::SameAsRequest`]: the URI scheme
/// (or the listener) says `https`, or the trusted proxy's own forwarding value does.
///
/// `forwarded` are the raw values of the header `proxy` names, in the order received.
/// The right-most element is the one the proxy appended; everything before it may come
/// from the client. Elements are split on every comma, quoted or not: a client's
/// unbalanced quote can then never hide the proxy's element.
pub(crate) fn request_is_secure<'a>(
    uri_scheme: Option<&str>,
    proxy: TrustedProxy,
    forwarded: impl IntoIterator<Item = &'a [u8]>,
) -> bool {
    if uri_scheme.is_some_and(|s| s.eq_ignore_ascii_case("https")) {
        return true;
    }
    let last = || {
        forwarded
            .into_iter()
            .flat_map(|header| header.split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|element| !element.is_empty())
            .last()
    };
    let proto = match proxy {
        TrustedProxy::None => None,
        TrustedProxy::XForwardedProto => last(),
        TrustedProxy::Forwarded => last().and_then(|element| {
            element.split(|&b| b == b';').find_map(|pair| {
                let mut parts = pair.splitn(2, |&b| b == b'=');
                let (name, value) = (parts.next()?, parts.next()?);
                name.trim_ascii()
                    .eq_ignore_ascii_case(b"proto")
                    .then(|| trim_quotes(value.trim_ascii()))
            })
        }),
    };
    proto.is_some_and(|p| p.eq_ignore_ascii_case(b"https"))
}

/// The `Set-Cookie` value that stores `value`, or deletes the cookie when `value` is
/// `None`.
pub(crate) fn set_cookie(options: &CookieOptions, value: Option<&str>, secure_request: bool) -> String {
    let mut c = Cookie::new(options.name.as_str(), value.unwrap_or(""));
    c.set_path(options.path.as_str());
    if let Some(domain) = &options.domain {
        c.set_domain(domain.as_str());
    }
    c.set_http_only(options.http_only);
    c.set_same_site(match options.same_site {
        SameSite::Lax => CSameSite::Lax,
        SameSite::Strict => CSameSite::Strict,
        SameSite::None => CSameSite::None,
    });
    c.set_secure(match options.secure {
        SecurePolicy::Always => true,
        SecurePolicy::SameAsRequest => secure_request,
        SecurePolicy::None => false,
    });
    match value {
        None => c.make_removal(),
        Some(_) => {
            if let Some(age) = options.max_age {
                c.set_max_age(cookie::time::Duration::seconds(secs(age)));
            }
        }
    }
    c.encoded().to_string()
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

    #[test]
    fn finds_the_cookie_among_others() {
        let h1 = b"a=1; Kr.Session=short".as_slice();
        let h2 = format!("x=y;Kr.Session={V}; z=1");
        let found = find([h1, h2.as_bytes()], "Kr.Session", |_| false);
        assert_eq!(found.as_ref().map(CookieValue::as_str), Some(V));
        assert!(find([b"kr.session=1".as_slice()], "Kr.Session", |_| true).is_none());
        assert!(find([b"\xff\xfe".as_slice()], "Kr.Session", |_| true).is_none());
    }

    #[test]
    fn bytes_that_are_not_utf8_in_other_cookies_do_not_hide_it() {
        for header in [
            format!("x=\u{e9}; Kr.Session={V}").into_bytes(),
            [b"x=\xe9; Kr.Session=".as_slice(), V.as_bytes()].concat(),
            [b"Kr.Session=\"", V.as_bytes(), b"\"; y=\xff\xfe".as_slice()].concat(),
        ] {
            let found = find([header.as_slice()], "Kr.Session", |_| true);
            assert_eq!(found.as_ref().map(CookieValue::as_str), Some(V), "{header:?}");
        }
        let mut bad = format!("Kr.Session={V}").into_bytes();
        if let Some(last) = bad.last_mut() {
            *last = 0xe9;
        }
        assert!(find([bad.as_slice()], "Kr.Session", |_| true).is_none());
    }

    #[test]
    fn of_duplicate_cookies_the_first_that_verifies_wins() {
        const W: &str = "WWWWWWWWWWWWWWWWWWWWWW.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
        let header = format!("Kr.Session={V}; Kr.Session={W}");
        let pick = |good: &'static str| {
            find([header.as_bytes()], "Kr.Session", |v| v == good).map(|c| c.as_str().to_owned())
        };
        assert_eq!(pick(W).as_deref(), Some(W));
        assert_eq!(pick(V).as_deref(), Some(V));
        assert_eq!(pick("none").as_deref(), Some(V), "none verifies: the first");
        let many = vec![format!("Kr.Session={V}"); MOST_CANDIDATES].join("; ") + &format!("; Kr.Session={W}");
        assert_eq!(
            find([many.as_bytes()], "Kr.Session", |v| v == W)
                .map(|c| c.as_str().to_owned())
                .as_deref(),
            Some(V),
            "at most MOST_CANDIDATES are checked"
        );
    }

    #[test]
    fn defaults_give_id_httponly_lax_secure_root_path() {
        let opts = CookieOptions::default();
        let set = set_cookie(&opts, Some(V), false);
        assert!(set.starts_with(&format!("id={V}")), "{set}");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
            assert!(set.contains(attr), "{attr} missing: {set}");
        }
        let same_as_request = CookieOptions::default().secure_policy(SecurePolicy::SameAsRequest);
        assert!(!set_cookie(&same_as_request, Some(V), false).contains("Secure"));
        assert!(set_cookie(&same_as_request, Some(V), true).contains("Secure"));
    }

    #[test]
    fn secure_policy_and_removal() {
        let always = CookieOptions::default().secure_policy(SecurePolicy::Always);
        assert!(set_cookie(&always, Some(V), false).contains("Secure"));
        let never = CookieOptions::default().secure_policy(SecurePolicy::None);
        assert!(!set_cookie(&never, Some(V), true).contains("Secure"));
        let removal = set_cookie(&always, None, true);
        assert!(removal.contains("Max-Age=0"), "{removal}");
    }

    fn secure(scheme: Option<&str>, proxy: TrustedProxy, headers: &[&str]) -> bool {
        request_is_secure(scheme, proxy, headers.iter().map(|h| h.as_bytes()))
    }

    #[test]
    fn forwarding_headers_count_only_behind_a_trusted_proxy() {
        use TrustedProxy::{None as NoProxy, XForwardedProto};
        assert!(secure(Some("https"), NoProxy, &[]));
        assert!(secure(Some("HTTPS"), XForwardedProto, &["http"]));
        assert!(!secure(Some("http"), NoProxy, &[]));
        assert!(!secure(None, NoProxy, &[]));
        // a client's own header is ignored unless the app names its proxy's header
        assert!(!secure(None, NoProxy, &["https"]));
        assert!(!secure(None, NoProxy, &["proto=https"]));
    }

    #[test]
    fn the_proxys_value_is_the_right_most_one() {
        use TrustedProxy::{Forwarded, XForwardedProto};
        assert!(secure(None, XForwardedProto, &["https"]));
        assert!(secure(None, XForwardedProto, &[" HTTPS "]));
        // the client sent "https", the proxy appended what it saw
        assert!(!secure(None, XForwardedProto, &["https, http"]));
        assert!(!secure(None, XForwardedProto, &["https", "http"]));
        assert!(secure(None, XForwardedProto, &["http", "https"]));
        assert!(secure(None, XForwardedProto, &["http,https, "]));
        assert!(!secure(None, XForwardedProto, &[]));
        assert!(secure(
            None,
            Forwarded,
            &["for=192.0.2.60;proto=https;by=203.0.113.43"]
        ));
        assert!(secure(None, Forwarded, &["for=x;Proto=\"HTTPS\""]));
        assert!(!secure(
            None,
            Forwarded,
            &["proto=https, for=192.0.2.1;proto=http"]
        ));
        assert!(!secure(None, Forwarded, &["proto=https", "for=192.0.2.1"]));
        assert!(!secure(
            None,
            Forwarded,
            &["for=\"a, proto=https", "for=b;proto=http"]
        ));
        // a proxy named as X-Forwarded-Proto does not read Forwarded values as one
        assert!(!secure(None, Forwarded, &["https"]));
        assert!(!secure(None, Forwarded, &["proto"]));
    }
}
