//! A minimal browser: one cookie jar, and every `Set-Cookie` recorded for assertions.

use std::collections::HashMap;

use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::Value;

/// One response, as the tests look at it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub set_cookies: Vec<String>,
    pub content_type: String,
    /// `Cache-Control`, `Pragma` and `Expires`, as sent ("" if absent).
    pub no_cache: [String; 3],
    pub text: String,
}

impl Reply {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// `Set-Cookie` values for the session cookie.
    pub fn session_cookies(&self) -> Vec<&str> {
        self.set_cookies
            .iter()
            .filter(|c| c.starts_with("Kr.Session="))
            .map(String::as_str)
            .collect()
    }
}

/// A cookie-keeping HTTP client for one simulated browser.
#[derive(Clone)]
pub struct Browser {
    base: String,
    client: reqwest::Client,
    jar: HashMap<String, String>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("http client");
        Browser {
            base: base.to_owned(),
            client,
            jar: HashMap::new(),
        }
    }

    /// The jar's value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    /// Replaces the jar's value of cookie `name` (to tamper with it).
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.to_owned(), value.to_owned());
    }

    /// GET `path`, sending the jar and applying every `Set-Cookie`.
    pub async fn get(&mut self, path: &str) -> Reply {
        let header = self
            .jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        self.get_with_cookie_header(path, (!header.is_empty()).then_some(header.into_bytes()))
            .await
    }

    /// GET `path` with a raw `Cookie` header (or none), still applying `Set-Cookie`.
    pub async fn get_with_cookie_header(&mut self, path: &str, cookie: Option<Vec<u8>>) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {}{path}: {e}", self.base));
        let status = response.status().as_u16();
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let no_cache = [
            header(reqwest::header::CACHE_CONTROL),
            header(reqwest::header::PRAGMA),
            header(reqwest::header::EXPIRES),
        ];
        for set in &set_cookies {
            self.apply(set);
        }
        let text = response.text().await.unwrap_or_default();
        Reply {
            status,
            set_cookies,
            content_type,
            no_cache,
            text,
        }
    }

    fn apply(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return;
        };
        let removed = parts.any(|attr| {
            let attr = attr.trim().to_ascii_lowercase();
            attr == "max-age=0" || attr.starts_with("max-age=-")
        });
        if removed {
            self.jar.remove(name.trim());
        } else {
            self.jar.insert(name.trim().to_owned(), value.trim().to_owned());
        }
    }
}
