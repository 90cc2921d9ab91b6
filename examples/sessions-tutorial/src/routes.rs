//! What each tutorial route does, independent of the web framework.

use distributed_session::{adapter::ErrorResponse, Error, Session};
use serde::Serialize;
use serde_json::json;

/// A response body.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyBody {
    /// `text/plain; charset=utf-8`.
    Text(&'static str),
    /// `application/json`, already serialized.
    Json(String),
    /// The Prometheus text format (`text/plain; version=0.0.4; charset=utf-8`).
    Prometheus(String),
}

/// A framework-neutral response: the examples turn it into their framework's type.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: ReplyBody,
}

impl Reply {
    fn json(status: u16, body: impl Serialize) -> Self {
        Reply {
            status,
            body: ReplyBody::Json(serde_json::to_string(&body).unwrap_or_default()),
        }
    }

    /// The reply for a session error: its status and public message only.
    pub fn from_error(error: &Error) -> Self {
        let response = ErrorResponse::from_error(error);
        Reply {
            status: response.status,
            body: ReplyBody::Json(response.body),
        }
    }
}

/// A blank or missing query parameter.
fn given(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

fn bad_request(error: &str, example: &str) -> Reply {
    Reply::json(400, json!({ "error": error, "example": example }))
}

/// Body of `/session/counter` (typed: it is the hot route of the benchmarks).
#[derive(Serialize)]
struct Counter {
    message: &'static str,
    counter: i32,
}

/// The tutorial's routes (SPEC section 6).
#[derive(Debug, Clone, Copy)]
pub struct Routes;

impl Routes {
    /// `GET /hello`: no session at all.
    pub fn hello() -> Reply {
        Reply {
            status: 200,
            body: ReplyBody::Text("Hello, Session World!"),
        }
    }

    /// `GET /metrics` (with `--metrics`): the session metrics, Prometheus text format.
    pub fn metrics(handle: &metrics_exporter_prometheus::PrometheusHandle) -> Reply {
        Reply {
            status: 200,
            body: ReplyBody::Prometheus(handle.render()),
        }
    }

    /// `GET /session/counter`: increments the session's counter. As with the seed's
    /// `Get-KrSessionInt32` (ASP.NET's `GetInt32`), a value that is not an integer (say,
    /// a string stored by `/session/set`) counts as no counter: it restarts at 1.
    pub async fn counter(session: &Session) -> Reply {
        Self::run(async {
            let current = match session.get_i32("counter").await {
                Err(Error::TypeMismatch { .. }) => None,
                other => other?,
            };
            let n = current.unwrap_or(0).saturating_add(1);
            session.set_i32("counter", n).await?;
            Ok(Reply::json(
                200,
                Counter {
                    message: "Counter incremented",
                    counter: n,
                },
            ))
        })
        .await
    }

    /// `GET /session/login?user=U`: moves the session to a new id, then stores the user
    /// name.
    pub async fn login(session: &Session, user: Option<&str>) -> Reply {
        let Some(user) = given(user) else {
            return bad_request(
                "Missing or empty 'user' query parameter",
                "/session/login?user=max",
            );
        };
        Self::run(async {
            // A new id at login, so a session id planted in the browser before it (session
            // fixation) never becomes a logged-in session: the response carries the new
            // cookie, and the old id stops working. Do the same wherever privileges change.
            // `login` also records the user as the session's principal, so that
            // `/session/sessions` and the log-out routes find all of the user's sessions.
            session.login(user).await?;
            session.set_string("user", user).await?;
            Ok(Reply::json(200, json!({ "message": "Logged in", "user": user })))
        })
        .await
    }

    /// `GET /session/whoami`: the stored user, or 401.
    pub async fn whoami(session: &Session) -> Reply {
        Self::run(async {
            Ok(match as_text(session, "user").await? {
                Some(user) => Reply::json(200, json!({ "user": user })),
                None => not_logged_in(),
            })
        })
        .await
    }

    /// `GET /session/sessions`: the logged-in user's live sessions (redacted ids, times in
    /// Unix seconds, this browser's marked `current`), or 401.
    pub async fn sessions(session: &Session) -> Reply {
        Self::run(async {
            let Some(user) = session.principal().await? else {
                return Ok(not_logged_in());
            };
            let listed = session.manager().sessions_of(&user, Some(session)).await?;
            let sessions: Vec<_> = listed
                .iter()
                .map(|s| {
                    json!({
                        "id": s.id,
                        "current": s.current,
                        "created": unix(s.created),
                        "last_seen": unix(s.last_seen),
                        "expires": s.expires.map(unix),
                    })
                })
                .collect();
            Ok(Reply::json(200, json!({ "user": user, "sessions": sessions })))
        })
        .await
    }

    /// `GET /session/logout-others`: ends the user's other sessions (after a password
    /// change, say), or 401.
    pub async fn logout_others(session: &Session) -> Reply {
        Self::run(async {
            if session.principal().await?.is_none() {
                return Ok(not_logged_in());
            }
            let revoked = session.manager().revoke_others(session).await?;
            Ok(Reply::json(
                200,
                json!({ "message": "Other sessions ended", "revoked": revoked }),
            ))
        })
        .await
    }

    /// `GET /session/logout-everywhere`: ends every session of the user, this one
    /// included, or 401.
    pub async fn logout_everywhere(session: &Session) -> Reply {
        Self::run(async {
            if session.principal().await?.is_none() {
                return Ok(not_logged_in());
            }
            // the others by revocation; this one by a flush at its own commit (revoking
            // it under this request would fail the request's commit)
            let others = session.manager().revoke_others(session).await?;
            session.flush().await?;
            Ok(Reply::json(
                200,
                json!({ "message": "Logged out everywhere", "revoked": others + 1 }),
            ))
        })
        .await
    }

    /// `GET /session/logout`: clears the session (keeps its id).
    pub async fn logout(session: &Session) -> Reply {
        Self::run(async {
            session.clear().await?;
            Ok(Reply::json(200, json!({ "message": "Session cleared" })))
        })
        .await
    }

    /// `GET /session/set?key=K&value=V`: stores a string.
    pub async fn set(session: &Session, key: Option<&str>, value: Option<&str>) -> Reply {
        let (Some(key), Some(value)) = (given(key), given(value)) else {
            return bad_request(
                "Missing or empty 'key' or 'value' query parameter",
                "/session/set?key=color&value=purple",
            );
        };
        Self::run(async {
            session.set_string(key, value).await?;
            Ok(Reply::json(
                200,
                json!({ "message": "Stored in session", "key": key, "value": value }),
            ))
        })
        .await
    }

    /// `GET /session/get?key=K`: reads a value as text, or 404. Like the seed's
    /// `Get-KrSessionString`, any value reads as text: a string as it is, another value
    /// (the counter, for one) as its JSON text.
    pub async fn get(session: &Session, key: Option<&str>) -> Reply {
        let Some(key) = given(key) else {
            return bad_request("Missing or empty 'key' query parameter", "/session/get?key=color");
        };
        Self::run(async {
            Ok(match as_text(session, key).await? {
                Some(value) => Reply::json(200, json!({ "key": key, "value": value })),
                None => Reply::json(
                    404,
                    json!({ "error": format!("Key '{key}' not found in session") }),
                ),
            })
        })
        .await
    }

    async fn run(body: impl std::future::Future<Output = Result<Reply, Error>>) -> Reply {
        body.await.unwrap_or_else(|error| Reply::from_error(&error))
    }
}

fn not_logged_in() -> Reply {
    Reply::json(401, json!({ "error": "No active session or user not set" }))
}

/// Seconds since the Unix epoch.
fn unix(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The value under `key` as text: a string as it is, any other value (the counter, say)
/// as its JSON text, as the seed's `Get-KrSessionString` reads any value as text.
async fn as_text(session: &Session, key: &str) -> Result<Option<String>, Error> {
    Ok(session
        .get::<serde_json::Value>(key)
        .await?
        .map(|value| match value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        }))
}
